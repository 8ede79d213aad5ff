//! Who may do what. Passwords (Argon2id, hashed off the async runtime), access tokens (short-lived
//! JWTs naming their session), refresh tokens (opaque, stored hashed, rotated on every use, reuse
//! revoking the session), API keys, login rate limits, and an audit event for each of these.
//!
//! Every request's credential goes through [`Identity::authenticate`], which checks the database
//! each time, so a deactivated user, a removed membership, a revoked session or a deleted key
//! stops working at once rather than when a token expires. An API key acts with at most its
//! creator's current role in its organisation, and stops when its creator loses access.
#![forbid(unsafe_code)]

mod admin;
mod api_keys;
mod client_key;
mod error;
mod invitations;
pub mod opaque;
mod passwords;
mod principal;
mod rate;
mod sessions;
mod signing_key;
mod tokens;

use std::sync::Arc;
use std::time::Duration;

use rampart_core::OrgId;
use rampart_core::ValidationErrors;
use rampart_core::identity::{Actor, AuditAction, NewAuditEvent, Outcome};
use rampart_core::validation::check_duration;
use rampart_store::{Effects, Store};
use serde::{Deserialize, Serialize};

pub use admin::AccountChanges;
pub use error::IdentityError;
pub use passwords::PasswordWork;
pub use principal::{Credential, Principal};
pub use rampart_core::identity::RequestContext;
pub use rate::RateLimits;
pub use sessions::{LoginRequest, Registration, TokenPair};
pub use signing_key::SigningKey;

/// Policies of identity: the `auth` section of the configuration, declared here once with its
/// defaults and checks.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdentityConfig {
    /// `closed` (the default): only superusers create accounts; `open`: anyone may register and
    /// gets a personal organisation.
    pub registration: RegistrationMode,
    #[serde(with = "humantime_serde")]
    pub access_token_ttl: Duration,
    #[serde(with = "humantime_serde")]
    pub refresh_token_ttl: Duration,
    /// Login, token and register attempts allowed per minute, per client address and per account.
    pub attempts_per_minute: u32,
}

/// Who may create an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegistrationMode {
    /// Anyone may register, and gets a personal organisation.
    Open,
    /// Only superusers create accounts.
    Closed,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        Self {
            registration: RegistrationMode::Closed,
            access_token_ttl: Duration::from_secs(15 * 60),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            attempts_per_minute: 10,
        }
    }
}

impl IdentityConfig {
    /// Every bad setting, named by its key in the section.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        errors.check("access_token_ttl", check_duration(self.access_token_ttl));
        errors.check("refresh_token_ttl", check_duration(self.refresh_token_ttl));
        errors.into_result(|| ())
    }

    pub fn registration_open(&self) -> bool {
        self.registration == RegistrationMode::Open
    }
}

/// The identity service. Cheap to clone.
#[derive(Clone)]
pub struct Identity {
    store: Arc<dyn Store>,
    tokens: Arc<tokens::TokenKeys>,
    passwords: passwords::Passwords,
    rate: Arc<RateLimits>,
    config: IdentityConfig,
}

impl Identity {
    pub fn new(store: Arc<dyn Store>, signing_key: &[u8], config: IdentityConfig) -> Self {
        Self {
            store,
            tokens: Arc::new(tokens::TokenKeys::new(signing_key)),
            passwords: passwords::Passwords::new(),
            rate: Arc::new(RateLimits::new(config.attempts_per_minute)),
            config,
        }
    }

    pub fn config(&self) -> &IdentityConfig {
        &self.config
    }

    /// How busy password hashing is, and has been.
    pub fn password_work(&self) -> PasswordWork {
        self.passwords.work()
    }

    /// Hashes a password for storage (for the command line's `user create`).
    pub async fn hash_password(&self, password: &str) -> Result<String, IdentityError> {
        self.passwords.hash(password).await
    }

    /// Records the audit event of a refusal, which changes nothing. A failure to record is an
    /// error of the request, never hidden: the audit log is the record of security events.
    async fn audit(&self, context: &RequestContext, event: NewAuditEvent) -> Result<(), IdentityError> {
        self.store.audit().append(&in_context(context, event)).await?;
        Ok(())
    }
}

/// The audit event of a change, from the request `context`, to be written in the change's
/// transaction: the change and its event are recorded together or not at all.
fn audited(context: &RequestContext, event: NewAuditEvent) -> Effects {
    Effects::audit(in_context(context, event))
}

/// The event of a change that succeeded: `actor` did `action` to `target` in `org`.
fn succeeded(
    org: Option<OrgId>,
    actor: Actor,
    action: AuditAction,
    target: String,
    detail: Option<String>,
) -> NewAuditEvent {
    NewAuditEvent {
        org,
        actor,
        action,
        target: Some(target),
        outcome: Outcome::Success,
        ip: None,
        request_id: None,
        detail,
    }
}

fn in_context(context: &RequestContext, event: NewAuditEvent) -> NewAuditEvent {
    NewAuditEvent { ip: context.ip.map(|ip| ip.to_string()), request_id: context.request_id.clone(), ..event }
}
