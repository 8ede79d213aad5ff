//! Decisions: what firewalls are told to do about an address or a network — ban it, challenge it,
//! slow it down — until when, and why; the allowlist, which no decision may cover; and the
//! bouncers, the firewalls that pull them.

use std::fmt;
use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use ipnet::IpNet;

use crate::targets::{canonical, canonical_net};
use crate::validation::ValidationErrors;
use crate::words::words;
use crate::{AlertId, AllowEntryId, BouncerId, DecisionId, OrgId, UserId};

/// The most characters of a scenario: what a decision says caused it (`ssh-bruteforce`).
pub const SCENARIO_MAX: usize = 200;
/// The most characters of a decision's reason or an allowlist entry's note.
pub const NOTE_MAX: usize = 500;
/// The most decisions one import or one change takes.
pub const IMPORT_MAX: usize = 10_000;
/// How long a decision lasts when nothing says: CrowdSec's default.
pub const DEFAULT_DURATION: Duration = Duration::hours(4);
/// The longest a decision lasts: ten years is "forever" to a firewall, and a bound to the rest.
pub const DURATION_MAX: Duration = Duration::days(3650);
/// The widest IPv4 network a decision covers: a `/7` or wider is a typing mistake that cuts off a
/// sixty-fourth of the Internet.
pub const IPV4_PREFIX_MIN: u8 = 8;
/// The widest IPv6 network a decision covers: a `/32` is a whole provider's allocation.
pub const IPV6_PREFIX_MIN: u8 = 32;
/// The most characters of a bouncer's name.
pub const BOUNCER_NAME_MAX: usize = 100;

words!(
    /// What a firewall does with the traffic a decision covers.
    DecisionKind { Ban => "ban", Captcha => "captcha", Throttle => "throttle" }
    else "must be ban, captcha or throttle"
);

words!(
    /// Whether a decision covers one address or a network.
    DecisionScope { Ip => "ip", Range => "range" }
    else "must be ip or range"
);

words!(
    /// Who made a decision: an analyst, a policy on alerts, a threat-intelligence feed, an import.
    DecisionOrigin { Manual => "manual", Policy => "policy", Feed => "feed", Import => "import" }
    else "must be manual, policy, feed or import"
);

impl DecisionScope {
    /// The scope as the CrowdSec bouncer protocol spells it.
    pub fn crowdsec(self) -> &'static str {
        match self {
            DecisionScope::Ip => "Ip",
            DecisionScope::Range => "Range",
        }
    }

    /// Reads the protocol's spelling too: scopes are compared without regard to case there.
    pub fn parse_any_case(text: &str) -> Option<Self> {
        DecisionScope::ALL.into_iter().find(|scope| scope.as_str().eq_ignore_ascii_case(text.trim()))
    }
}

/// What a decision or an allowlist entry covers: one address (a `/32` or `/128`) or a network,
/// with its host bits cleared, IPv4 when written as IPv4 in IPv6.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Addresses(IpNet);

impl Addresses {
    /// Reads an address or a network (`203.0.113.7`, `198.51.100.0/24`, `2001:db8::/48`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("must not be empty".into());
        }
        let net = match text.split_once('/') {
            Some((address, prefix)) => {
                let address: IpAddr =
                    address.parse().map_err(|_| "must be an IP address or a network such as 198.51.100.0/24")?;
                let prefix: u8 = prefix.parse().map_err(|_| "the prefix length must be a number")?;
                let net = IpNet::new(address, prefix).map_err(|_| {
                    format!("the prefix length must be at most {}", if address.is_ipv4() { 32 } else { 128 })
                })?;
                canonical_net(net.trunc())
            }
            None => {
                let address: IpAddr =
                    text.parse().map_err(|_| "must be an IP address or a network such as 198.51.100.0/24")?;
                IpNet::from(canonical(address))
            }
        };
        Ok(Self(net))
    }

    /// Reads what a decision may cover: an address or a network no wider than a `/8` (IPv4) or a
    /// `/32` (IPv6), and nothing of the host's own (loopback, unspecified).
    pub fn parse_decision(text: &str) -> Result<Self, String> {
        let value = Self::parse(text)?;
        let net = value.0;
        let widest = if net.addr().is_ipv4() { IPV4_PREFIX_MIN } else { IPV6_PREFIX_MIN };
        if net.prefix_len() < widest {
            return Err(format!("a network wider than /{widest} cannot be blocked at once"));
        }
        let own = |address: IpAddr| address.is_loopback() || address.is_unspecified();
        if own(net.network()) || own(net.broadcast()) {
            return Err("covers the host's own addresses (loopback or unspecified)".into());
        }
        Ok(value)
    }

    pub fn net(&self) -> IpNet {
        self.0
    }

    pub fn scope(&self) -> DecisionScope {
        if self.0.prefix_len() == self.0.max_prefix_len() { DecisionScope::Ip } else { DecisionScope::Range }
    }

    /// Whether `address` is one of these.
    pub fn contains(&self, address: IpAddr) -> bool {
        self.0.contains(&canonical(address))
    }

    /// Whether the two share an address. Networks either nest or are apart.
    pub fn overlaps(&self, other: &Addresses) -> bool {
        self.0.contains(&other.0.network()) || other.0.contains(&self.0.network())
    }

    /// Whether every address of `other` is one of these.
    pub fn covers(&self, other: &Addresses) -> bool {
        self.0.contains(&other.0)
    }
}

impl fmt::Display for Addresses {
    /// An address alone, a network with its prefix length: the values bouncers expect.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.scope() {
            DecisionScope::Ip => self.0.addr().fmt(f),
            DecisionScope::Range => self.0.fmt(f),
        }
    }
}

/// Reads a duration as Go writes them (`4h`, `1h30m`, `90s`), and days (`7d`), which Go lacks:
/// positive whole seconds at most, up to [`DURATION_MAX`].
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    const HOW: &str = "must be a duration such as 4h, 1h30m, 90s or 7d";
    let text = text.trim();
    if text.is_empty() || text.len() > 40 {
        return Err(HOW.into());
    }
    let mut total: i64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or(HOW)?;
        if digits == 0 {
            return Err(HOW.into());
        }
        let number: i64 = rest[..digits].parse().map_err(|_| HOW)?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "d" => 86_400,
            "h" => 3_600,
            "m" => 60,
            "s" => 1,
            _ => return Err(HOW.into()),
        };
        rest = &rest[unit_len..];
        total = number.checked_mul(seconds).and_then(|part| total.checked_add(part)).ok_or(HOW)?;
        if total > DURATION_MAX.num_seconds() {
            return Err(format!("must be at most {} days", DURATION_MAX.num_days()));
        }
    }
    if total == 0 {
        return Err("must be longer than zero".into());
    }
    Ok(Duration::seconds(total))
}

/// A duration as Go's `time.Duration` prints it, in whole seconds rounded up and never less than
/// one (`3h59m58s`, `5m0s`, `1s`): what bouncers parse. A bouncer bans forever on a negative one
/// and fails on a missing one, so every decision sent carries a positive one.
pub fn go_duration(left: Duration) -> String {
    let micros = left.num_microseconds().unwrap_or(i64::MAX).max(0);
    let seconds = (micros.saturating_add(999_999) / 1_000_000).max(1);
    let (hours, minutes, seconds) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if hours > 0 {
        format!("{hours}h{minutes}m{seconds}s")
    } else if minutes > 0 {
        format!("{minutes}m{seconds}s")
    } else {
        format!("{seconds}s")
    }
}

/// Reads free text that is stored and shown: no control characters, at most `max` characters.
fn parse_text(text: &str, max: usize) -> Result<String, String> {
    let text = text.trim();
    if text.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    if text.chars().any(char::is_control) {
        return Err("must not hold control characters".into());
    }
    Ok(text.to_owned())
}

/// A decision as a client writes it; every field is checked by [`NewDecision::parse`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DecisionInput {
    pub value: String,
    pub kind: Option<String>,
    /// How long from now (`4h`); or `until`; neither is [`DEFAULT_DURATION`].
    pub duration: Option<String>,
    pub until: Option<DateTime<Utc>>,
    pub scenario: Option<String>,
    pub reason: Option<String>,
}

/// A validated decision, ready to store.
#[derive(Clone, Debug, PartialEq)]
pub struct NewDecision {
    pub kind: DecisionKind,
    pub value: Addresses,
    pub origin: DecisionOrigin,
    pub scenario: String,
    pub reason: Option<String>,
    pub until: DateTime<Utc>,
    /// The alert that caused it, when a policy decided.
    pub alert: Option<AlertId>,
}

impl NewDecision {
    /// Checks `input` as of `now`; errors are named under `path` (`decisions[3]`, or empty for
    /// the body itself).
    pub fn parse(
        input: &DecisionInput,
        origin: DecisionOrigin,
        now: DateTime<Utc>,
        path: &str,
        errors: &mut ValidationErrors,
    ) -> Option<Self> {
        let field = |name: &str| if path.is_empty() { name.to_owned() } else { format!("{path}.{name}") };
        let value = errors.check(&field("value"), Addresses::parse_decision(&input.value));
        let kind = errors.check(&field("kind"), input.kind.as_deref().map_or(Ok(DecisionKind::Ban), str::parse));
        let until = match (&input.duration, input.until) {
            (Some(_), Some(_)) => {
                errors.add(field("until"), "give a duration or an end, not both");
                None
            }
            (Some(duration), None) => errors.check(&field("duration"), parse_duration(duration)).map(|left| now + left),
            (None, Some(until)) if until <= now => {
                errors.add(field("until"), "must be in the future");
                None
            }
            (None, Some(until)) if until > now + DURATION_MAX => {
                errors.add(field("until"), format!("must be within {} days", DURATION_MAX.num_days()));
                None
            }
            (None, Some(until)) => Some(until),
            (None, None) => Some(now + DEFAULT_DURATION),
        };
        let scenario = errors.check(
            &field("scenario"),
            match input.scenario.as_deref() {
                None => Ok(format!("rampart/{origin}")),
                Some(scenario) => parse_text(scenario, SCENARIO_MAX).and_then(|scenario| {
                    if scenario.is_empty() { Err("must not be empty".into()) } else { Ok(scenario) }
                }),
            },
        );
        let reason = match input.reason.as_deref() {
            None => Some(None),
            Some(reason) => {
                errors.check(&field("reason"), parse_text(reason, NOTE_MAX)).map(|r| Some(r).filter(|r| !r.is_empty()))
            }
        };
        Some(Self {
            kind: kind?,
            value: value?,
            origin,
            scenario: scenario?,
            reason: reason?,
            until: until?,
            alert: None,
        })
    }
}

/// A stored decision.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub id: DecisionId,
    /// The number the bouncer protocol knows it by; grows with each decision.
    pub seq: i64,
    pub org_id: OrgId,
    pub kind: DecisionKind,
    pub value: Addresses,
    pub origin: DecisionOrigin,
    pub scenario: String,
    pub reason: Option<String>,
    pub alert_id: Option<AlertId>,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// When it was deleted before its end.
    pub deleted_at: Option<DateTime<Utc>>,
}

impl Decision {
    /// Whether firewalls apply it at `now`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.deleted_at.is_none() && self.until > now
    }

    /// When it stopped applying: deleted, or its end.
    pub fn ended_at(&self) -> DateTime<Utc> {
        self.deleted_at.map_or(self.until, |deleted| deleted.min(self.until))
    }
}

/// An address or a network no decision may cover.
#[derive(Clone, Debug, PartialEq)]
pub struct AllowEntry {
    pub id: AllowEntryId,
    pub org_id: OrgId,
    pub value: Addresses,
    pub note: String,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
}

/// A validated allowlist entry.
#[derive(Clone, Debug, PartialEq)]
pub struct NewAllowEntry {
    pub value: Addresses,
    pub note: String,
}

impl NewAllowEntry {
    pub fn parse(value: &str, note: Option<&str>) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let value = errors.check("value", Addresses::parse(value));
        let note = errors.check("note", parse_text(note.unwrap_or(""), NOTE_MAX));
        match (value, note) {
            (Some(value), Some(note)) if errors.is_empty() => Ok(Self { value, note }),
            _ => Err(errors),
        }
    }
}

/// The allowlist as an index: which entry, if any, shares an address with a value, in
/// logarithmic time, so that an import of 10,000 decisions against 10,000 entries is quick.
#[derive(Clone, Debug, Default)]
pub struct AllowIndex {
    entries: Vec<AllowEntry>,
    /// Per family (IPv4 first), entries' spans sorted by their first address, each with the
    /// greatest last address of the spans up to it and the entry holding that one.
    spans: [Vec<Span>; 2],
}

#[derive(Clone, Copy, Debug)]
struct Span {
    first: u128,
    reach: u128,
    reaching: usize,
}

/// A network's family (0 for IPv4) and its first and last addresses.
fn bounds(net: IpNet) -> (usize, u128, u128) {
    match net {
        IpNet::V4(v4) => (0, u128::from(u32::from(v4.network())), u128::from(u32::from(v4.broadcast()))),
        IpNet::V6(v6) => (1, u128::from(v6.network()), u128::from(v6.broadcast())),
    }
}

impl AllowIndex {
    pub fn new(entries: Vec<AllowEntry>) -> Self {
        let mut spans: [Vec<(u128, u128, usize)>; 2] = [Vec::new(), Vec::new()];
        for (index, entry) in entries.iter().enumerate() {
            let (family, first, last) = bounds(entry.value.net());
            spans[family].push((first, last, index));
        }
        let spans = spans.map(|mut family| {
            family.sort_unstable();
            let mut best: Option<(u128, usize)> = None;
            family
                .into_iter()
                .map(|(first, last, index)| {
                    let (reach, reaching) = match best {
                        Some((reach, reaching)) if reach >= last => (reach, reaching),
                        _ => (last, index),
                    };
                    best = Some((reach, reaching));
                    Span { first, reach, reaching }
                })
                .collect()
        });
        Self { entries, spans }
    }

    /// The entry that shares an address with `value`: a decision covering it is refused.
    pub fn covering(&self, value: &Addresses) -> Option<&AllowEntry> {
        let (family, first, last) = bounds(value.net());
        let spans = &self.spans[family];
        // The spans that start at or before `value` ends; one of them reaches into it, if any.
        let starting = spans.partition_point(|span| span.first <= last);
        let span = spans[..starting].last()?;
        (span.reach >= first).then(|| &self.entries[span.reaching])
    }

    pub fn entries(&self) -> &[AllowEntry] {
        &self.entries
    }
}

/// A firewall (or anything else speaking the CrowdSec bouncer protocol) that pulls decisions.
#[derive(Clone, Debug, PartialEq)]
pub struct Bouncer {
    pub id: BouncerId,
    pub org_id: OrgId,
    pub name: String,
    /// The first characters of its key, to tell keys apart in a list.
    pub key_prefix: String,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    /// Its last pull, the address and the client it came from.
    pub last_pull_at: Option<DateTime<Utc>>,
    pub last_ip: Option<String>,
    pub user_agent: Option<String>,
}

impl Bouncer {
    /// The version of the bouncer, from its user agent (`crowdsec-firewall-bouncer/v0.0.28`).
    pub fn version(&self) -> Option<&str> {
        self.user_agent.as_deref()?.split_once('/').map(|(_, version)| version.split(' ').next().unwrap_or(version))
    }
}

/// Reads a bouncer's name: ASCII letters, digits, inner spaces and `.-_@:`, at most
/// [`BOUNCER_NAME_MAX`].
pub fn parse_bouncer_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("must not be empty".into());
    }
    if name.chars().count() > BOUNCER_NAME_MAX {
        return Err(format!("must be at most {BOUNCER_NAME_MAX} characters"));
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || " .-_@:".contains(c)) {
        return Err("may hold ASCII letters, digits, spaces and . - _ @ : only".into());
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_read_as_one_form() {
        let ip = Addresses::parse(" 203.0.113.7 ").expect("an address");
        assert_eq!((ip.to_string(), ip.scope()), ("203.0.113.7".into(), DecisionScope::Ip));
        let net = Addresses::parse("198.51.100.77/24").expect("a network");
        assert_eq!((net.to_string(), net.scope()), ("198.51.100.0/24".into(), DecisionScope::Range));
        assert_eq!(Addresses::parse("198.51.100.7/32").expect("one").to_string(), "198.51.100.7");
        assert_eq!(Addresses::parse("::ffff:203.0.113.7").expect("mapped").to_string(), "203.0.113.7");
        assert_eq!(Addresses::parse("2001:db8::1/48").expect("v6").to_string(), "2001:db8::/48");
        for bad in ["", "host.example", "1.2.3.4/33", "1.2.3.4/x", "1.2.3", "::1/129"] {
            assert!(Addresses::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_decision_covers_neither_the_whole_internet_nor_the_host() {
        assert!(Addresses::parse_decision("10.0.0.0/8").is_ok());
        assert!(Addresses::parse_decision("0.0.0.0/0").is_err());
        assert!(Addresses::parse_decision("12.0.0.0/7").is_err());
        assert!(Addresses::parse_decision("2001:db8::/31").is_err());
        assert!(Addresses::parse_decision("127.0.0.1").is_err());
        assert!(Addresses::parse_decision("127.0.0.0/8").is_err());
        assert!(Addresses::parse_decision("::1").is_err());
        assert!(Addresses::parse_decision("0.0.0.0").is_err());
    }

    #[test]
    fn networks_overlap_when_one_holds_the_other() {
        let net = Addresses::parse("198.51.100.0/24").expect("net");
        let inside = Addresses::parse("198.51.100.9").expect("ip");
        let outside = Addresses::parse("198.51.101.9").expect("ip");
        assert!(net.overlaps(&inside) && inside.overlaps(&net));
        assert!(!net.overlaps(&outside));
        assert!(net.covers(&inside) && !inside.covers(&net));
        assert!(net.contains("::ffff:198.51.100.200".parse().expect("ip")));
        assert!(!Addresses::parse("2001:db8::/32").expect("v6").overlaps(&net));
    }

    #[test]
    fn durations_read_as_go_writes_them_and_days() {
        assert_eq!(parse_duration("4h"), Ok(Duration::hours(4)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::minutes(90)));
        assert_eq!(parse_duration("7d"), Ok(Duration::days(7)));
        assert_eq!(parse_duration("90s"), Ok(Duration::seconds(90)));
        for bad in ["", "0s", "4", "h", "-4h", "4x", "1.5h", "3651d", "99999999999999999999h", "4 h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_print_as_go_prints_them_and_are_never_zero() {
        assert_eq!(go_duration(Duration::hours(4) - Duration::seconds(2)), "3h59m58s");
        assert_eq!(go_duration(Duration::hours(72)), "72h0m0s");
        assert_eq!(go_duration(Duration::minutes(5)), "5m0s");
        assert_eq!(go_duration(Duration::milliseconds(1500)), "2s");
        assert_eq!(go_duration(Duration::zero()), "1s");
        assert_eq!(go_duration(Duration::seconds(-30)), "1s");
        for text in ["3h59m58s", "72h0m0s", "5m0s", "2s"] {
            assert!(parse_duration(text).is_ok(), "{text} reads back");
        }
    }

    #[test]
    fn a_decision_defaults_to_a_four_hour_ban() {
        let now = Utc::now();
        let input = DecisionInput { value: "203.0.113.7".into(), ..DecisionInput::default() };
        let mut errors = ValidationErrors::new();
        let decision = NewDecision::parse(&input, DecisionOrigin::Manual, now, "", &mut errors).expect("valid");
        assert!(errors.is_empty());
        assert_eq!(decision.kind, DecisionKind::Ban);
        assert_eq!(decision.until, now + DEFAULT_DURATION);
        assert_eq!(decision.scenario, "rampart/manual");
    }

    #[test]
    fn every_bad_field_of_a_decision_is_named_under_its_path() {
        let now = Utc::now();
        let input = DecisionInput {
            value: "0.0.0.0/0".into(),
            kind: Some("drop".into()),
            duration: Some("4h".into()),
            until: Some(now + Duration::hours(1)),
            scenario: Some("bad\u{7}".into()),
            reason: Some("x".repeat(NOTE_MAX + 1)),
        };
        let mut errors = ValidationErrors::new();
        assert!(NewDecision::parse(&input, DecisionOrigin::Import, now, "decisions[3]", &mut errors).is_none());
        let fields: Vec<String> = errors.iter().map(|error| error.field.clone()).collect();
        for field in ["value", "kind", "until", "scenario", "reason"] {
            assert!(fields.contains(&format!("decisions[3].{field}")), "{field} in {fields:?}");
        }
        let past = DecisionInput { value: "203.0.113.7".into(), until: Some(now), ..DecisionInput::default() };
        let mut errors = ValidationErrors::new();
        assert!(NewDecision::parse(&past, DecisionOrigin::Manual, now, "", &mut errors).is_none());
        assert_eq!(errors.iter().next().map(|error| error.field.as_str()), Some("until"));
    }

    #[test]
    fn the_allowlist_names_the_entry_a_decision_would_cover() {
        let entry = |value: &str| AllowEntry {
            id: AllowEntryId::new(),
            org_id: OrgId::new(),
            value: Addresses::parse(value).expect("valid"),
            note: String::new(),
            created_by: None,
            created_at: Utc::now(),
        };
        let index = AllowIndex::new(vec![
            entry("192.0.2.10"),
            entry("198.51.100.0/25"),
            entry("10.0.0.0/8"),
            entry("10.1.2.3"),
            entry("2001:db8::/64"),
        ]);
        let found = |value: &str| index.covering(&Addresses::parse(value).expect("valid")).map(|e| e.value.to_string());
        assert_eq!(found("192.0.2.0/24").as_deref(), Some("192.0.2.10"));
        assert_eq!(found("192.0.2.10").as_deref(), Some("192.0.2.10"));
        assert_eq!(found("192.0.2.11"), None);
        assert_eq!(found("198.51.100.3").as_deref(), Some("198.51.100.0/25"));
        assert_eq!(found("198.51.100.200"), None);
        assert_eq!(found("198.51.0.0/16").as_deref(), Some("198.51.100.0/25"));
        // A wide entry earlier in order still reaches past a narrow one inside it.
        assert_eq!(found("10.200.0.1").as_deref(), Some("10.0.0.0/8"));
        assert_eq!(found("11.0.0.1"), None);
        assert_eq!(found("2001:db8::7").as_deref(), Some("2001:db8::/64"));
        assert_eq!(found("2001:db8:1::7"), None);
        assert_eq!(AllowIndex::default().covering(&Addresses::parse("192.0.2.10").expect("valid")), None);
    }

    #[test]
    fn a_bouncer_version_is_read_from_its_user_agent() {
        let mut bouncer = Bouncer {
            id: BouncerId::new(),
            org_id: OrgId::new(),
            name: "edge".into(),
            key_prefix: "bk_abc".into(),
            created_by: None,
            created_at: Utc::now(),
            last_pull_at: None,
            last_ip: None,
            user_agent: Some("crowdsec-firewall-bouncer/v0.0.28-debian-pragmatic-amd64 go1.19".into()),
        };
        assert_eq!(bouncer.version(), Some("v0.0.28-debian-pragmatic-amd64"));
        bouncer.user_agent = Some("curl".into());
        assert_eq!(bouncer.version(), None);
        assert!(parse_bouncer_name("edge fw-1").is_ok());
        assert!(parse_bouncer_name("").is_err() && parse_bouncer_name("a;b").is_err());
    }
}
