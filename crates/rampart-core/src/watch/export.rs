//! Decisions written for firewalls that pull nothing: an nftables ruleset, `iptables-restore`
//! and `ip6tables-restore` input, `ipset restore` input, or plain lines of values. Each value once,
//! with the time left of its longest decision where the format can say it.

use std::fmt::Write;

use chrono::{DateTime, Utc};

use super::decisions::Decision;
use crate::words::words;

words!(
    /// How decisions are written for a firewall.
    ExportFormat { Nftables => "nftables", Iptables => "iptables", Ip6tables => "ip6tables", Ipset => "ipset", Plain => "plain" }
    else "must be nftables, iptables, ip6tables, ipset or plain"
);

/// The name of what the exports create: a table, a chain, sets.
const NAME: &str = "rampart";

/// Writes `decisions` (values taken once each) as `format` wants them at `now`.
pub fn export(format: ExportFormat, decisions: &[&Decision], now: DateTime<Utc>) -> String {
    let (v4, v6): (Vec<&&Decision>, Vec<&&Decision>) = decisions.iter().partition(|d| d.value.net().addr().is_ipv4());
    let seconds = |decision: &Decision| (decision.until - now).num_seconds().max(1);
    let mut out = String::new();
    match format {
        ExportFormat::Plain => {
            for decision in decisions {
                let _ = writeln!(out, "{}", decision.value);
            }
        }
        ExportFormat::Nftables => {
            let _ = writeln!(out, "table inet {NAME} {{");
            for (set, kind, family) in [("blocked_v4", "ipv4_addr", &v4), ("blocked_v6", "ipv6_addr", &v6)] {
                let _ = writeln!(out, "    set {set} {{\n        type {kind}\n        flags interval, timeout");
                if !family.is_empty() {
                    let elements: Vec<String> = family
                        .iter()
                        .map(|decision| format!("{} timeout {}", decision.value, compact(seconds(decision))))
                        .collect();
                    let _ = writeln!(out, "        elements = {{ {} }}", elements.join(", "));
                }
                let _ = writeln!(out, "    }}");
            }
            let _ = writeln!(
                out,
                "    chain input {{\n        type filter hook input priority -10; policy accept;\n        \
                 ip saddr @blocked_v4 drop\n        ip6 saddr @blocked_v6 drop\n    }}\n}}"
            );
        }
        ExportFormat::Iptables | ExportFormat::Ip6tables => {
            let family = if format == ExportFormat::Iptables { &v4 } else { &v6 };
            let chain = NAME.to_uppercase();
            let _ = writeln!(out, "*filter\n:{chain} - [0:0]");
            for decision in family {
                let _ = writeln!(out, "-A {chain} -s {} -j DROP", decision.value.net());
            }
            let _ = writeln!(out, "COMMIT");
        }
        ExportFormat::Ipset => {
            let _ = writeln!(out, "create {NAME}-v4 hash:net family inet timeout 0 -exist");
            let _ = writeln!(out, "create {NAME}-v6 hash:net family inet6 timeout 0 -exist");
            for (set, family) in [("v4", &v4), ("v6", &v6)] {
                for decision in family.iter() {
                    let _ = writeln!(out, "add {NAME}-{set} {} timeout {} -exist", decision.value, seconds(decision));
                }
            }
        }
    }
    out
}

/// A duration as nftables reads it, its zero parts left out: `4h`, `1h30m`, `30s`.
fn compact(seconds: i64) -> String {
    let mut text = String::new();
    for (part, unit) in [(seconds / 3600, 'h'), (seconds / 60 % 60, 'm'), (seconds % 60, 's')] {
        if part > 0 {
            let _ = write!(text, "{part}{unit}");
        }
    }
    text
}

impl ExportFormat {
    pub fn content_type(self) -> &'static str {
        "text/plain; charset=utf-8"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watch::decisions::{Addresses, DecisionKind, DecisionOrigin};
    use crate::{DecisionId, OrgId};
    use chrono::Duration;

    fn decision(value: &str, left: Duration, now: DateTime<Utc>) -> Decision {
        Decision {
            id: DecisionId::new(),
            seq: 1,
            org_id: OrgId::new(),
            kind: DecisionKind::Ban,
            value: Addresses::parse(value).expect("valid"),
            origin: DecisionOrigin::Manual,
            scenario: "test".into(),
            reason: None,
            alert_id: None,
            created_by: None,
            created_at: now,
            until: now + left,
            deleted_at: None,
        }
    }

    #[test]
    fn every_format_names_each_value_for_its_family() {
        let now = Utc::now();
        let all = [
            decision("203.0.113.7", Duration::hours(4), now),
            decision("198.51.100.0/24", Duration::minutes(90), now),
            decision("2001:db8::/48", Duration::seconds(30), now),
        ];
        let decisions: Vec<&Decision> = all.iter().collect();
        assert_eq!(export(ExportFormat::Plain, &decisions, now), "203.0.113.7\n198.51.100.0/24\n2001:db8::/48\n");
        let nft = export(ExportFormat::Nftables, &decisions, now);
        assert!(nft.contains("elements = { 203.0.113.7 timeout 4h, 198.51.100.0/24 timeout 1h30m }"), "{nft}");
        assert!(nft.contains("elements = { 2001:db8::/48 timeout 30s }"), "{nft}");
        assert_eq!((compact(600), compact(3601), compact(90_061)), ("10m".into(), "1h1s".into(), "25h1m1s".into()));
        assert!(nft.contains("ip saddr @blocked_v4 drop"));
        let v4 = export(ExportFormat::Iptables, &decisions, now);
        assert_eq!(
            v4,
            "*filter\n:RAMPART - [0:0]\n-A RAMPART -s 203.0.113.7/32 -j DROP\n-A RAMPART -s 198.51.100.0/24 -j DROP\nCOMMIT\n"
        );
        let v6 = export(ExportFormat::Ip6tables, &decisions, now);
        assert!(v6.contains("-A RAMPART -s 2001:db8::/48 -j DROP") && !v6.contains("203.0.113.7"));
        let ipset = export(ExportFormat::Ipset, &decisions, now);
        assert!(ipset.contains("add rampart-v4 203.0.113.7 timeout 14400 -exist"), "{ipset}");
        assert!(ipset.contains("add rampart-v6 2001:db8::/48 timeout 30 -exist"), "{ipset}");
    }

    #[test]
    fn an_empty_export_is_still_a_valid_ruleset() {
        let now = Utc::now();
        let nft = export(ExportFormat::Nftables, &[], now);
        assert!(!nft.contains("elements"), "nft refuses an empty element list: {nft}");
        assert_eq!(export(ExportFormat::Plain, &[], now), "");
        assert_eq!(export(ExportFormat::Iptables, &[], now), "*filter\n:RAMPART - [0:0]\nCOMMIT\n");
    }
}
