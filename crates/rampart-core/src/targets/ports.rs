//! Port ranges such as `22,80,443,8000-8100`: parsed, sorted and merged.

use std::fmt;
use std::ops::RangeInclusive;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PortRanges(Vec<RangeInclusive<u16>>);

impl PortRanges {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut ranges = Vec::new();
        for part in text.split(',').map(str::trim).filter(|part| !part.is_empty()) {
            let (low, high) = part.split_once('-').unwrap_or((part, part));
            let port = |p: &str| -> Result<u16, String> {
                match p.trim().parse::<u16>() {
                    Ok(0) | Err(_) => Err(format!("{part:?} is not a port or range of ports 1-65535")),
                    Ok(port) => Ok(port),
                }
            };
            let (low, high) = (port(low)?, port(high)?);
            if low > high {
                return Err(format!("{part:?} runs backwards"));
            }
            ranges.push(low..=high);
        }
        if ranges.is_empty() {
            return Err("must name at least one port".into());
        }
        Ok(Self::merged(ranges))
    }

    fn merged(mut ranges: Vec<RangeInclusive<u16>>) -> Self {
        ranges.sort_by_key(|range| *range.start());
        let mut merged: Vec<RangeInclusive<u16>> = Vec::with_capacity(ranges.len());
        for range in ranges {
            match merged.last_mut() {
                Some(last) if u32::from(*range.start()) <= u32::from(*last.end()) + 1 => {
                    *last = *last.start()..=(*last.end()).max(*range.end());
                }
                _ => merged.push(range),
            }
        }
        Self(merged)
    }

    pub fn contains(&self, port: u16) -> bool {
        let index = self.0.partition_point(|range| *range.end() < port);
        self.0.get(index).is_some_and(|range| range.contains(&port))
    }

    pub fn ranges(&self) -> &[RangeInclusive<u16>] {
        &self.0
    }
}

impl fmt::Display for PortRanges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, range) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if range.start() == range.end() {
                write!(f, "{}", range.start())?
            } else {
                write!(f, "{}-{}", range.start(), range.end())?
            }
        }
        Ok(())
    }
}
