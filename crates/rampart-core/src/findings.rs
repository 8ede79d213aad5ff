//! The vocabulary of findings: how severe an observation is. Pure types; no I/O.

use crate::words::words;

words!(
    /// How much a finding matters, least to most; the order is the ranking.
    #[derive(PartialOrd, Ord)]
    Severity { Info => "info", Low => "low", Medium => "medium", High => "high", Critical => "critical" }
    else "must be info, low, medium, high or critical"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_severity_round_trips_through_its_name() {
        for severity in Severity::ALL {
            assert_eq!(severity.as_str().parse::<Severity>(), Ok(severity));
            assert_eq!(severity.to_string(), severity.as_str());
        }
    }

    #[test]
    fn unknown_or_uppercase_names_are_rejected() {
        assert!("HIGH".parse::<Severity>().is_err());
        assert!("severe".parse::<Severity>().is_err());
        assert!("".parse::<Severity>().is_err());
    }

    #[test]
    fn severities_rank_from_info_to_critical() {
        assert!(Severity::Info < Severity::Low);
        assert!(Severity::Low < Severity::Medium);
        assert!(Severity::Medium < Severity::High);
        assert!(Severity::High < Severity::Critical);
    }
}
