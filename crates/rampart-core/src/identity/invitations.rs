//! Invitations: how a person joins an organisation. An admin invites an email address with a
//! role; the person with that address sees the invitation and accepts or declines it. Nobody is
//! made a member without their consent (a superuser excepted), and inviting tells the admin
//! nothing about whether an account with that address exists.

use chrono::{DateTime, Duration, Utc};

use crate::identity::{Email, Role};
use crate::validation::ValidationErrors;
use crate::{InvitationId, OrgId, UserId};

/// How long an invitation stays open.
pub const INVITATION_TTL_DAYS: i64 = 7;
/// Open invitations an organisation may have at once.
pub const PENDING_INVITATIONS_MAX: u32 = 1000;

/// An open invitation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invitation {
    pub id: InvitationId,
    pub org_id: OrgId,
    /// The organisation's name, for the invited person to recognise it.
    pub org_name: String,
    pub email: Email,
    pub role: Role,
    pub invited_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A validated invitation to make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewInvitation {
    pub email: Email,
    pub role: Role,
    pub expires_at: DateTime<Utc>,
}

impl NewInvitation {
    /// Every bad field is reported.
    pub fn parse(email: &str, role: &str, now: DateTime<Utc>) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let email = errors.check("email", Email::parse(email));
        let role = errors.check("role", role.parse::<Role>());
        match (email, role) {
            (Some(email), Some(role)) if errors.is_empty() => {
                Ok(Self { email, role, expires_at: now + Duration::days(INVITATION_TTL_DAYS) })
            }
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invitation_names_a_valid_email_and_role_and_expires_in_a_week() {
        let now = crate::time::now();
        let invitation = NewInvitation::parse(" Grace@Example.com ", "analyst", now).expect("valid");
        assert_eq!((invitation.email.as_str(), invitation.role), ("grace@example.com", Role::Analyst));
        assert_eq!(invitation.expires_at - now, Duration::days(7));

        let errors = NewInvitation::parse("grace", "root", now).expect_err("invalid");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["email", "role"]);
    }
}
