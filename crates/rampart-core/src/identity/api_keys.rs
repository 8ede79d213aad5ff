//! API keys: long-lived credentials of an organisation, each with a role no higher than its creator's.

use chrono::{DateTime, Utc};

use crate::identity::Role;
use crate::validation::ValidationErrors;
use crate::{ApiKeyId, OrgId, UserId};

pub const KEY_NAME_MAX: usize = 100;

/// A stored key. The key itself is shown once at creation and kept only as a hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub org_id: OrgId,
    pub name: String,
    /// The public part of the key (`rk_<prefix>_…`), used to find it.
    pub prefix: String,
    pub role: Role,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl ApiKey {
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|expires| expires <= now)
    }

    /// What the key may do now: its own role, bounded by its creator's current role in the
    /// organisation (`creator_role`, `None` when the creator is gone, inactive or no longer a
    /// member, and then the key does nothing). A key never outlives or outranks its creator.
    pub fn acting_role(&self, creator_role: Option<Role>) -> Option<Role> {
        creator_role.map(|creator| self.role.min(creator))
    }
}

/// The longest a key may be made to last: ten years.
pub const KEY_LIFETIME_MAX_DAYS: i64 = 3653;

/// A validated request for a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewApiKey {
    pub name: String,
    pub role: Role,
    pub expires_at: Option<DateTime<Utc>>,
}

impl NewApiKey {
    /// `creator_role` bounds the key's role: nobody hands out more power than they hold.
    pub fn parse(
        name: &str,
        role: &str,
        expires_at: Option<DateTime<Utc>>,
        creator_role: Role,
        now: DateTime<Utc>,
    ) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let name = name.trim();
        if name.is_empty() || name.chars().count() > KEY_NAME_MAX || name.chars().any(char::is_control) {
            errors.add("name", format!("must be 1 to {KEY_NAME_MAX} printable characters"));
        }
        let role = errors.check("role", role.parse::<Role>());
        if let Some(role) = role.filter(|role| !creator_role.allows(*role)) {
            errors.add("role", format!("cannot exceed your own role ({creator_role}); asked for {role}"));
        }
        // Bounded so that every stored time compares the same on both databases (SQLite
        // compares text, which a year past 9999 would break).
        if expires_at.is_some_and(|expires| expires <= now) {
            errors.add("expires_at", "must be in the future");
        } else if expires_at.is_some_and(|expires| expires > now + chrono::Duration::days(KEY_LIFETIME_MAX_DAYS)) {
            errors.add("expires_at", format!("must be within {KEY_LIFETIME_MAX_DAYS} days"));
        }
        match role {
            Some(role) if errors.is_empty() => Ok(Self { name: name.to_owned(), role, expires_at }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_expires_in_the_future_and_within_ten_years() {
        let now = crate::time::now();
        let parse = |expires| NewApiKey::parse("ci", "viewer", Some(expires), Role::Admin, now);
        assert!(parse(now + chrono::Duration::days(365)).is_ok());
        for bad in [now, now + chrono::Duration::days(KEY_LIFETIME_MAX_DAYS + 1)] {
            let errors = parse(bad).expect_err("refused");
            assert_eq!(errors.iter().next().map(|error| error.field.as_str()), Some("expires_at"), "{bad}");
        }
    }

    #[test]
    fn a_key_cannot_outrank_its_creator() {
        let now = crate::time::now();
        let errors = NewApiKey::parse("ci", "admin", None, Role::Analyst, now).expect_err("escalation");
        assert_eq!(errors.iter().next().map(|e| e.field.as_str()), Some("role"));
        assert!(NewApiKey::parse("ci", "analyst", None, Role::Analyst, now).is_ok());
        assert!(NewApiKey::parse("ci", "viewer", None, Role::Admin, now).is_ok());
    }

    #[test]
    fn a_key_acts_with_at_most_its_creators_current_role() {
        let now = crate::time::now();
        let key = ApiKey {
            id: crate::ApiKeyId::new(),
            org_id: OrgId::new(),
            name: "ci".into(),
            prefix: "abcdefghijkl".into(),
            role: Role::Admin,
            created_by: Some(UserId::new()),
            created_at: now,
            last_used_at: None,
            expires_at: None,
        };
        assert_eq!(key.acting_role(Some(Role::Admin)), Some(Role::Admin));
        assert_eq!(key.acting_role(Some(Role::Viewer)), Some(Role::Viewer), "creator demoted");
        assert_eq!(key.acting_role(None), None, "creator gone");
        let viewer_key = ApiKey { role: Role::Viewer, ..key };
        assert_eq!(viewer_key.acting_role(Some(Role::Admin)), Some(Role::Viewer));
    }

    #[test]
    fn names_and_expiry_are_checked() {
        let now = crate::time::now();
        let past = now - chrono::Duration::minutes(1);
        let errors = NewApiKey::parse(" ", "viewer", Some(past), Role::Admin, now).expect_err("two bad fields");
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "expires_at"]);
    }
}
