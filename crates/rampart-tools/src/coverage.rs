//! What a run looked at, gathered as its checks run: each check on each asset with the locations
//! it was asked at, made into the run's coverages (at most `COVERED_LOCATIONS_MAX` locations
//! each). It only gathers; which checks a tool may say it ran is each tool's rule.

use std::collections::{BTreeMap, BTreeSet};

use rampart_core::output::{COVERED_LOCATIONS_MAX, Covered, Kept};

/// Checks by asset, each with the locations it was asked at.
#[derive(Debug, Default)]
pub(crate) struct Looked {
    /// By asset first, so that a run past the cap of coverages loses whole assets last.
    checks: BTreeMap<(String, String), BTreeSet<String>>,
}

impl Looked {
    /// `check` was run on `asset` at `location` (empty: the asset as a whole, as its findings
    /// say it) and its answer read.
    pub(crate) fn at(&mut self, check: impl Into<String>, asset: impl Into<String>, location: impl Into<String>) {
        self.checks.entry((asset.into(), check.into())).or_default().insert(location.into());
    }

    pub(crate) fn into_coverage(self) -> Kept<Covered> {
        let mut coverage = Kept::default();
        for ((asset, check), locations) in self.checks {
            let locations: Vec<String> = locations.into_iter().collect();
            for chunk in locations.chunks(COVERED_LOCATIONS_MAX) {
                coverage
                    .push(chunk.iter().fold(Covered::new(&check, &asset), |covered, location| covered.at(location)));
            }
        }
        coverage
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_gathered_by_check_and_asset_and_split_at_the_cap() {
        let mut looked = Looked::default();
        for n in 0..=COVERED_LOCATIONS_MAX {
            looked.at("t.a", "h.example", format!("/{n}"));
        }
        looked.at("t.b", "h.example", "");
        let coverage = looked.into_coverage();
        let items = coverage.items();
        assert_eq!(items.len(), 3);
        assert_eq!((items[0].locations.len(), items[1].locations.len()), (COVERED_LOCATIONS_MAX, 1));
        assert!((0..=COVERED_LOCATIONS_MAX).all(|n| items.iter().any(|c| c.covers(
            "t.a",
            "h.example",
            &format!("/{n}")
        ))));
        assert!(items[2].covers("t.b", "h.example", ""), "an empty location is the asset as a whole");
        assert!(!items[2].covers("t.b", "h.example", "tcp/1"), "and only that");
        assert!(!items.iter().any(|covered| covered.covers("t.a", "h.example", "/x")));
    }
}
