//! What the model is told about an event, and how its answer is read: lenient on names, strict
//! on values. Passwords are counted, never sent.

use std::net::IpAddr;

use rampart_core::watch::{EventDetail, NewEvent, Reason, Score};
use serde::{Deserialize, Serialize};

/// The most bytes of an event's payload sent to the model.
pub const PAYLOAD_SENT_MAX: usize = 2 * 1024;
/// The largest answer read from the model; a longer one is garbage.
pub const ANSWER_MAX: usize = 64 * 1024;
/// The longest attack type the model may name, in characters.
pub const ATTACK_TYPE_MAX: usize = 50;
/// The most reasons the model may give, and the longest each may be, in characters.
pub const REASONS_MAX: usize = 20;
pub const REASON_MAX: usize = 200;

/// What the model is told about an event. Passwords are counted, never sent.
#[derive(Debug, Default, Serialize)]
pub(super) struct Features<'a> {
    kind: &'static str,
    service: &'a str,
    source_ip: Option<IpAddr>,
    destination_port: Option<u16>,
    activity: Option<&'a str>,
    /// The first [`PAYLOAD_SENT_MAX`] bytes, cut at a character boundary.
    payload: Option<&'a str>,
    payload_truncated: bool,
    usernames_tried: usize,
    passwords_tried: usize,
    hostname: Option<&'a str>,
    username: Option<&'a str>,
    process: Option<&'a str>,
    file_path: Option<&'a str>,
    action: Option<&'a str>,
    decoy_name: Option<&'a str>,
    decoy_type: Option<&'a str>,
    builtin_score: f64,
    builtin_attack_type: &'a str,
}

impl<'a> Features<'a> {
    pub(super) fn of(event: &'a NewEvent, builtin: &'a Score) -> Self {
        let mut features = Features {
            kind: event.kind().as_str(),
            service: event.service(),
            source_ip: event.source_ip,
            builtin_score: builtin.score,
            builtin_attack_type: &builtin.attack_type,
            ..Features::default()
        };
        match &event.detail {
            EventDetail::Honeypot { destination_port, activity, payload, usernames, passwords, .. } => {
                let sent = truncate(payload, PAYLOAD_SENT_MAX);
                features.destination_port = *destination_port;
                features.activity = Some(activity);
                features.payload = Some(sent);
                features.payload_truncated = sent.len() < payload.len();
                features.usernames_tried = usernames.len();
                features.passwords_tried = passwords.len();
            }
            EventDetail::Agent { hostname, username, process, file_path, action } => {
                features.hostname = Some(hostname);
                features.username = username.as_deref();
                features.process = process.as_deref();
                features.file_path = file_path.as_deref();
                features.action = Some(action);
            }
            EventDetail::Decoy { name, decoy_type, hostname, username, file_path, action } => {
                features.decoy_name = Some(name);
                features.decoy_type = Some(decoy_type);
                features.hostname = hostname.as_deref();
                features.username = username.as_deref();
                features.file_path = file_path.as_deref();
                features.action = action.as_deref();
            }
        }
        features
    }
}

/// At most `max` bytes of `text`, cut at a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The model's answer: lenient on names, strict on values. Other fields are ignored.
#[derive(Debug, Deserialize)]
pub(super) struct Answer {
    #[serde(default, alias = "score", alias = "riskScore")]
    risk_score: Option<f64>,
    #[serde(default, alias = "attackType")]
    attack_type: Option<String>,
    #[serde(default)]
    reasons: Option<Vec<String>>,
}

/// Text fit to show an analyst: not blank, short enough, no control characters.
fn showable(text: &str, max: usize) -> bool {
    !text.trim().is_empty() && text.chars().count() <= max && !text.chars().any(char::is_control)
}

impl Answer {
    pub(super) fn into_score(self, builtin: &Score, host: &str) -> Option<Score> {
        // The range check also refuses NaN.
        let score = self.risk_score.filter(|score| (0.0..=rampart_core::watch::scoring::MAX_SCORE).contains(score))?;
        let attack_type = match self.attack_type {
            None => builtin.attack_type.clone(),
            Some(attack_type) if showable(&attack_type, ATTACK_TYPE_MAX) => attack_type.trim().to_owned(),
            Some(_) => return None,
        };
        let given = self.reasons.unwrap_or_default();
        if given.len() > REASONS_MAX || !given.iter().all(|reason| showable(reason, REASON_MAX)) {
            return None;
        }
        let mut reasons = Vec::with_capacity(given.len() + 1);
        reasons.push(Reason { rule: "model".to_owned(), points: score, detail: format!("scored by {host}") });
        reasons.extend(given.into_iter().map(|detail| Reason { rule: "model".to_owned(), points: 0.0, detail }));
        let mut scored = Score::new(score, attack_type, reasons);
        // The model's points are the score, rounded as the score is.
        scored.reasons[0].points = scored.score;
        Some(scored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_cut_at_a_character_boundary() {
        assert_eq!(truncate("abc", 2), "ab");
        assert_eq!(truncate("aé", 2), "a");
        assert_eq!(truncate("abc", 5), "abc");
    }
}
