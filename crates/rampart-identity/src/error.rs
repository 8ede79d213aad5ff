//! What can go wrong in identity, in terms the API turns into statuses.

use std::time::Duration;

use rampart_core::ValidationErrors;
use rampart_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// Wrong login or password, or an inactive account: one answer for all, so that nobody can
    /// learn which accounts exist.
    #[error("invalid login or password")]
    InvalidCredentials,
    /// A missing, malformed, expired or revoked credential on a request.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// Authenticated, but the role or rule does not allow it.
    #[error("{0}")]
    Forbidden(String),
    #[error("too many attempts; retry in {} s", retry_after.as_secs())]
    RateLimited { retry_after: Duration },
    /// Every password-hashing slot stayed taken for too long: the server is busy, not the caller wrong.
    #[error("the server is busy; retry in {} s", retry_after.as_secs())]
    Busy { retry_after: Duration },
    /// The request clashes with the present state, such as joining an organisation twice.
    #[error("{0}")]
    Conflict(String),
    #[error("invalid fields: {0}")]
    Invalid(ValidationErrors),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ValidationErrors> for IdentityError {
    fn from(errors: ValidationErrors) -> Self {
        IdentityError::Invalid(errors)
    }
}
