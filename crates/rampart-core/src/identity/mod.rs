//! Identity: users, roles, passwords and the audit vocabulary. The rules only; hashing, tokens and
//! storage live in `rampart-identity` and `rampart-store`.

mod api_keys;
mod audit;
mod invitations;
mod passwords;
mod roles;
mod users;

pub use api_keys::{ApiKey, KEY_NAME_MAX, NewApiKey};
pub use audit::{
    Acting, Actor, ActorKind, AuditAction, AuditEvent, DETAIL_MAX, NewAuditEvent, Outcome, RequestContext,
};
pub use invitations::{INVITATION_TTL_DAYS, Invitation, NewInvitation, PENDING_INVITATIONS_MAX};
pub use passwords::{PASSWORD_MAX, PASSWORD_MIN, check_password};
pub use roles::Role;
pub use users::{Email, Membership, NewUser, User, UserPatch, Username, parse_full_name};
