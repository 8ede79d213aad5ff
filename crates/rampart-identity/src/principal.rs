//! Authentication of a request: from a credential to the principal it stands for, checked against
//! the database on every request.

use rampart_core::identity::{Actor, Role};
use rampart_core::{ApiKeyId, OrgId, SessionId, UserId};

use crate::tokens::SubjectKind;
use crate::{Identity, IdentityError, opaque};

/// A credential as presented.
#[derive(Clone, Copy, Debug)]
pub enum Credential<'a> {
    /// `Authorization: Bearer …`: an access token, or an API key.
    Bearer(&'a str),
    /// `X-API-Key: rk_…`.
    ApiKey(&'a str),
}

/// Who is calling, in which organisation, with which role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Principal {
    pub actor: Actor,
    pub org: OrgId,
    pub role: Role,
    pub is_superuser: bool,
    /// The login session, for a user's access token.
    pub session: Option<SessionId>,
}

impl Principal {
    pub fn user_id(&self) -> Option<UserId> {
        match self.actor {
            Actor::User(id) => Some(id),
            _ => None,
        }
    }

    /// Refuses (403) unless the caller's role allows `needed`.
    pub fn require(&self, needed: Role) -> Result<(), IdentityError> {
        if self.role.allows(needed) {
            Ok(())
        } else {
            Err(IdentityError::Forbidden(format!("this needs the {needed} role; you are {}", self.role)))
        }
    }

    /// Refuses (403) unless the caller is a superuser.
    pub fn require_superuser(&self) -> Result<(), IdentityError> {
        if self.is_superuser { Ok(()) } else { Err(IdentityError::Forbidden("this needs a superuser".into())) }
    }
}

const BAD_TOKEN: &str = "the access token is invalid or expired";
const ENDED: &str = "the session has ended; log in again";
/// A key whose creator was deleted, deactivated or removed from the organisation.
const ORPHANED: &str = "the API key's creator no longer has access to this organisation";

impl Identity {
    pub async fn authenticate(&self, credential: Credential<'_>) -> Result<Principal, IdentityError> {
        match credential {
            Credential::ApiKey(key) => self.authenticate_api_key(key).await,
            Credential::Bearer(token) if token.starts_with(opaque::API_KEY_PREFIX) => {
                self.authenticate_api_key(token).await
            }
            Credential::Bearer(token) => self.authenticate_access_token(token).await,
        }
    }

    async fn authenticate_access_token(&self, token: &str) -> Result<Principal, IdentityError> {
        let claims = self.tokens.verify(token).ok_or(IdentityError::Unauthenticated(BAD_TOKEN))?;
        let org = OrgId::from_uuid(claims.org);
        match claims.act {
            SubjectKind::User => {
                let user = UserId::from_uuid(claims.sub);
                let session = SessionId::from_uuid(claims.sid.ok_or(IdentityError::Unauthenticated(BAD_TOKEN))?);
                let state = self.store.sessions().access_state(user, org, session).await?;
                let state = state.ok_or(IdentityError::Unauthenticated(ENDED))?;
                if !state.is_active || !state.session_live {
                    return Err(IdentityError::Unauthenticated(ENDED));
                }
                // The role is read now, not taken from the token: a change applies at once.
                let role = state
                    .role
                    .ok_or(IdentityError::Unauthenticated("you are no longer a member of this organisation"))?;
                Ok(Principal {
                    actor: Actor::User(user),
                    org,
                    role,
                    is_superuser: state.is_superuser,
                    session: Some(session),
                })
            }
            SubjectKind::ApiKey => {
                let id = ApiKeyId::from_uuid(claims.sub);
                let found = self.store.api_keys().get_for_auth(org, id).await?;
                let found = found.ok_or(IdentityError::Unauthenticated("the API key was revoked"))?;
                if found.key.is_expired(rampart_core::time::now()) {
                    return Err(IdentityError::Unauthenticated("the API key has expired"));
                }
                let role = found.key.acting_role(found.creator_role).ok_or(IdentityError::Unauthenticated(ORPHANED))?;
                Ok(Principal { actor: Actor::ApiKey(id), org, role, is_superuser: false, session: None })
            }
        }
    }

    pub(crate) async fn authenticate_api_key(&self, key: &str) -> Result<Principal, IdentityError> {
        const BAD_KEY: &str = "the API key is invalid, revoked or expired";
        let lookup = opaque::api_key_lookup(key).ok_or(IdentityError::Unauthenticated(BAD_KEY))?;
        let found =
            self.store.api_keys().find_for_auth(lookup).await?.ok_or(IdentityError::Unauthenticated(BAD_KEY))?;
        let now = rampart_core::time::now();
        if !opaque::matches(key, &found.key_hash) || found.key.is_expired(now) {
            return Err(IdentityError::Unauthenticated(BAD_KEY));
        }
        let role = found.key.acting_role(found.creator_role).ok_or(IdentityError::Unauthenticated(ORPHANED))?;
        let stored = found.key;
        if stored.last_used_at.is_none_or(|used| now - used > chrono::Duration::minutes(1)) {
            self.store.api_keys().touch(stored.id, now).await?;
        }
        Ok(Principal { actor: Actor::ApiKey(stored.id), org: stored.org_id, role, is_superuser: false, session: None })
    }
}
