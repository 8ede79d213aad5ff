//! Policies: decisions made on their own from alerts. A policy takes the alerts of an attack type
//! (or all) whose score reaches its threshold or whose events reach its count within the alert's
//! window, and bans the source for a time that grows with each repeat within its repeat window
//! (4 hours, then 24, then 7 days by default). In dry run it records what it would have done.

use chrono::{DateTime, Duration, Utc};

use super::alerts::Alert;
use super::decisions::{DecisionKind, parse_duration};
use crate::validation::ValidationErrors;
use crate::words::words;
use crate::{AlertId, DecisionId, OrgId, PolicyId};

pub const NAME_MAX: usize = 100;
/// The most steps of escalation a policy has.
pub const DURATIONS_MAX: usize = 10;
/// How long an earlier decision of a policy counts against a source.
pub const DEFAULT_REPEAT_WINDOW: Duration = Duration::days(30);
/// The longest repeat window.
pub const REPEAT_WINDOW_MAX: Duration = Duration::days(365);
/// The most characters of an attack type a policy names.
pub const ATTACK_TYPE_MAX: usize = 100;

/// A policy as an admin writes it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PolicyInput {
    pub name: String,
    pub attack_type: Option<String>,
    pub min_score: Option<f64>,
    pub min_events: Option<u64>,
    pub kind: Option<String>,
    pub durations: Option<Vec<String>>,
    pub repeat_window: Option<String>,
    pub dry_run: Option<bool>,
    pub enabled: Option<bool>,
}

/// What a policy does, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyRule {
    pub name: String,
    /// Only alerts of this attack type (without regard to case); every alert when absent.
    pub attack_type: Option<String>,
    /// An alert whose highest score reaches this (0 to 10)…
    pub min_score: Option<f64>,
    /// …or whose events reach this count.
    pub min_events: Option<u64>,
    pub kind: DecisionKind,
    /// The first decision lasts the first; each repeat within the window the next; the last repeats.
    pub durations: Vec<Duration>,
    pub repeat_window: Duration,
    /// Records what it would do, and does nothing.
    pub dry_run: bool,
    pub enabled: bool,
}

impl PolicyRule {
    pub fn parse(input: &PolicyInput) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let name = input.name.trim();
        if name.is_empty() || name.chars().count() > NAME_MAX || name.chars().any(char::is_control) {
            errors.add("name", format!("must be 1 to {NAME_MAX} characters, none of them a control character"));
        }
        let attack_type = input.attack_type.as_deref().map(str::trim);
        if let Some(kind) = attack_type
            && (kind.is_empty() || kind.chars().count() > ATTACK_TYPE_MAX || kind.chars().any(char::is_control))
        {
            errors.add(
                "attack_type",
                format!("must be 1 to {ATTACK_TYPE_MAX} characters, none a control character (leave it out for any)"),
            );
        }
        if let Some(score) = input.min_score
            && !(0.0..=10.0).contains(&score)
        {
            errors.add("min_score", "must be between 0 and 10");
        }
        if let Some(events) = input.min_events
            && !(1..=1_000_000).contains(&events)
        {
            errors.add("min_events", "must be between 1 and 1000000");
        }
        if input.min_score.is_none() && input.min_events.is_none() {
            errors.add("min_score", "give min_score, min_events or both: what makes an alert decide");
        }
        let kind = errors.check("kind", input.kind.as_deref().map_or(Ok(DecisionKind::Ban), str::parse));
        let durations = match &input.durations {
            None => vec![Duration::hours(4), Duration::hours(24), Duration::days(7)],
            Some(texts) if texts.is_empty() || texts.len() > DURATIONS_MAX => {
                errors.add("durations", format!("must hold 1 to {DURATIONS_MAX} durations"));
                Vec::new()
            }
            Some(texts) => texts
                .iter()
                .enumerate()
                .filter_map(|(at, text)| errors.check(&format!("durations[{at}]"), parse_duration(text)))
                .collect(),
        };
        let repeat_window = match input.repeat_window.as_deref() {
            None => Some(DEFAULT_REPEAT_WINDOW),
            Some(text) => errors.check(
                "repeat_window",
                parse_duration(text).and_then(|window| {
                    if window > REPEAT_WINDOW_MAX { Err("must be at most 365 days".into()) } else { Ok(window) }
                }),
            ),
        };
        match (kind, repeat_window) {
            (Some(kind), Some(repeat_window)) if errors.is_empty() => Ok(Self {
                name: name.to_owned(),
                attack_type: attack_type.map(str::to_owned),
                min_score: input.min_score,
                min_events: input.min_events,
                kind,
                durations,
                repeat_window,
                dry_run: input.dry_run.unwrap_or(false),
                enabled: input.enabled.unwrap_or(true),
            }),
            _ => Err(errors),
        }
    }

    /// Whether `alert` makes this policy decide: it names a source, is of the attack type, and
    /// reached the score or the count.
    pub fn takes(&self, alert: &Alert) -> bool {
        alert.source_ip.is_some()
            && self.attack_type.as_deref().is_none_or(|kind| kind.eq_ignore_ascii_case(&alert.attack_type))
            && (self.min_score.is_some_and(|score| alert.max_score >= score)
                || self.min_events.is_some_and(|events| alert.events >= events))
    }

    /// How long a decision lasts for a source this policy decided on `prior` times within its
    /// repeat window.
    pub fn duration_for(&self, prior: u64) -> Duration {
        let step = usize::try_from(prior).unwrap_or(usize::MAX).min(self.durations.len().saturating_sub(1));
        self.durations.get(step).copied().unwrap_or(Duration::hours(4))
    }

    /// The scenario of its decisions, as bouncers show it.
    pub fn scenario(&self) -> String {
        format!("rampart/policy/{}", self.name)
    }
}

/// A stored policy.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    pub id: PolicyId,
    pub org_id: OrgId,
    pub rule: PolicyRule,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

words!(
    /// What a policy did with an alert.
    HitOutcome {
        /// A decision was made.
        Decided => "decided",
        /// In dry run: what it would have made.
        DryRun => "dry_run",
        /// The source is on the allowlist: nothing was made.
        Allowlisted => "allowlisted",
    }
);

/// A policy's decision on one alert (each policy decides once per alert).
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyHit {
    pub policy_id: PolicyId,
    pub org_id: OrgId,
    pub alert_id: AlertId,
    /// The source, as a decision's value.
    pub value: String,
    pub outcome: HitOutcome,
    /// How long the decision lasts, or would have.
    pub duration: Duration,
    pub decision_id: Option<DecisionId>,
    pub at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watch::alerts::AlertStatus;

    fn alert(attack_type: &str, max_score: f64, events: u64) -> Alert {
        let now = Utc::now();
        Alert {
            id: AlertId::new(),
            org_id: OrgId::new(),
            source_ip: Some("203.0.113.9".parse().expect("ip")),
            attack_type: attack_type.into(),
            status: AlertStatus::Open,
            events,
            max_score,
            node_id: None,
            first_seen: now,
            last_seen: now,
            created_at: now,
            updated_at: now,
            status_by: None,
            status_note: String::new(),
        }
    }

    #[test]
    fn a_policy_takes_alerts_of_its_type_past_its_score_or_count() {
        let input = PolicyInput {
            name: "ssh".into(),
            attack_type: Some("SSH_Bruteforce".into()),
            min_score: Some(8.0),
            min_events: Some(10),
            ..PolicyInput::default()
        };
        let rule = PolicyRule::parse(&input).expect("valid");
        assert!(rule.takes(&alert("ssh_bruteforce", 8.0, 1)));
        assert!(rule.takes(&alert("ssh_bruteforce", 2.0, 10)));
        assert!(!rule.takes(&alert("ssh_bruteforce", 7.9, 9)));
        assert!(!rule.takes(&alert("port_scan", 9.0, 50)));
        let mut sourceless = alert("ssh_bruteforce", 9.0, 1);
        sourceless.source_ip = None;
        assert!(!rule.takes(&sourceless), "nothing to block");
        assert_eq!(rule.scenario(), "rampart/policy/ssh");
    }

    #[test]
    fn repeat_offenders_get_longer_decisions_up_to_the_last() {
        let rule =
            PolicyRule::parse(&PolicyInput { name: "any".into(), min_score: Some(7.0), ..PolicyInput::default() });
        let rule = rule.expect("valid");
        let steps: Vec<Duration> = (0..5).map(|prior| rule.duration_for(prior)).collect();
        assert_eq!(steps, [4, 24, 168, 168, 168].map(Duration::hours));
        assert_eq!(rule.repeat_window, DEFAULT_REPEAT_WINDOW);
        assert!(rule.enabled && !rule.dry_run);
    }

    #[test]
    fn every_bad_field_is_named() {
        let input = PolicyInput {
            name: " ".into(),
            min_score: Some(11.0),
            min_events: Some(0),
            kind: Some("drop".into()),
            durations: Some(vec!["4h".into(), "soon".into()]),
            repeat_window: Some("400d".into()),
            ..PolicyInput::default()
        };
        let errors = PolicyRule::parse(&input).expect_err("invalid");
        let fields: Vec<&str> = errors.iter().map(|error| error.field.as_str()).collect();
        for field in ["name", "min_score", "min_events", "kind", "durations[1]", "repeat_window"] {
            assert!(fields.contains(&field), "{field} in {fields:?}");
        }
        let blank = PolicyInput {
            name: "x".into(),
            min_score: Some(1.0),
            attack_type: Some(" ".into()),
            ..PolicyInput::default()
        };
        let refused = PolicyRule::parse(&blank).expect_err("blank");
        assert_eq!(refused.iter().next().map(|e| e.field.as_str()), Some("attack_type"));
        let neither = PolicyRule::parse(&PolicyInput { name: "x".into(), ..PolicyInput::default() });
        assert_eq!(neither.expect_err("no trigger").iter().next().map(|e| e.field.as_str()), Some("min_score"));
        let empty =
            PolicyInput { name: "x".into(), min_score: Some(1.0), durations: Some(vec![]), ..PolicyInput::default() };
        assert!(PolicyRule::parse(&empty).is_err());
    }
}
