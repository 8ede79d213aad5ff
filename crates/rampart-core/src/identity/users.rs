//! User accounts and memberships: what makes an email, a username and a name acceptable.

use chrono::{DateTime, Utc};

use crate::identity::{Role, check_password};
use crate::orgs::Slug;
use crate::validation::ValidationErrors;
use crate::{OrgId, UserId};

pub const EMAIL_MAX: usize = 254;
pub const FULL_NAME_MAX: usize = 200;

/// An email address, lowercased so that uniqueness is case-insensitive.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(value: &str) -> Result<Self, String> {
        let value = value.trim().to_lowercase();
        let Some((local, domain)) = value.split_once('@') else { return Err("must be an email address".into()) };
        let domain_ok = domain.contains('.')
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        if value.len() > EMAIL_MAX {
            Err(format!("must be at most {EMAIL_MAX} characters"))
        } else if local.is_empty()
            || local.len() > 64
            || !domain_ok
            || value.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            Err("must be an email address".into())
        } else {
            Ok(Self(value))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A login name: 3 to 32 lowercase letters, digits, `.`, `_` or `-`, starting with a letter or digit.
/// It can never contain `@`, so a login string is unambiguously an email or a username.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    pub fn parse(value: &str) -> Result<Self, String> {
        let value = value.trim().to_lowercase();
        let chars_ok =
            value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'));
        if !(3..=32).contains(&value.len()) {
            Err("must be 3 to 32 characters".into())
        } else if !chars_ok || !value.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            Err("may contain only letters, digits, '.', '_' and '-', and must start with a letter or digit".into())
        } else {
            Ok(Self(value))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub fn parse_full_name(value: &str) -> Result<String, String> {
    let value = value.trim();
    if value.chars().count() > FULL_NAME_MAX {
        Err(format!("must be at most {FULL_NAME_MAX} characters"))
    } else if value.chars().any(char::is_control) {
        Err("must not contain control characters".into())
    } else {
        Ok(value.to_owned())
    }
}

/// A stored user. The password hash is not part of it: only the store and the login code see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: Email,
    pub username: Username,
    pub full_name: String,
    pub is_active: bool,
    pub is_superuser: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A validated new account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewUser {
    pub email: Email,
    pub username: Username,
    pub full_name: String,
    pub is_superuser: bool,
}

impl NewUser {
    /// Validates every field, the password included, and reports every problem at once.
    pub fn parse(email: &str, username: &str, full_name: &str, password: &str) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let email = errors.check("email", Email::parse(email));
        let username = errors.check("username", Username::parse(username));
        let full_name = errors.check("full_name", parse_full_name(full_name));
        errors.check("password", check_password(password));
        match (email, username, full_name) {
            (Some(email), Some(username), Some(full_name)) if errors.is_empty() => {
                Ok(Self { email, username, full_name, is_superuser: false })
            }
            _ => Err(errors),
        }
    }
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserPatch {
    pub full_name: Option<String>,
    pub is_active: Option<bool>,
    pub is_superuser: Option<bool>,
}

/// A user's place in an organisation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    pub org_id: OrgId,
    pub org_name: String,
    pub org_slug: Slug,
    pub user_id: UserId,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_lowercased_and_checked() {
        assert_eq!(Email::parse(" Ada@Example.COM ").map(|e| e.0), Ok("ada@example.com".into()));
        for bad in
            ["", "ada", "ada@", "@example.com", "ada@example", "a da@example.com", "ada@exa..mple.com", "ada@-x.com"]
        {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn usernames_never_contain_an_at_sign() {
        assert_eq!(Username::parse("Ada.Lovelace").map(|u| u.0), Ok("ada.lovelace".into()));
        for bad in ["ab", "ada@home", "-ada", "ada lovelace", &"a".repeat(33)] {
            assert!(Username::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_new_user_reports_every_bad_field() {
        let errors = NewUser::parse("nope", "x", "ok", "password").expect_err("three bad fields");
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["email", "username", "password"]);
        assert!(NewUser::parse("ada@example.com", "ada", "Ada Lovelace", "analytical engine 1843").is_ok());
    }
}
