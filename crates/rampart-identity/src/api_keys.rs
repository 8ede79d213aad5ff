//! Creating, listing and revoking API keys.

use chrono::{DateTime, Utc};
use rampart_core::ApiKeyId;
use rampart_core::identity::{ApiKey, AuditAction, NewApiKey, NewAuditEvent, Outcome, Role};

use crate::{Identity, IdentityError, Principal, RequestContext, audited, opaque};

impl Identity {
    /// A new key, returned with its secret form, which is never stored or shown again. Only a
    /// user makes keys: a key (or a token obtained with one) cannot, so a leaked key cannot
    /// spread into others that outlive its revocation.
    pub async fn create_api_key(
        &self,
        principal: &Principal,
        name: &str,
        role: &str,
        expires_at: Option<DateTime<Utc>>,
        context: &RequestContext,
    ) -> Result<(ApiKey, String), IdentityError> {
        principal.require(Role::Analyst)?;
        let creator = principal
            .user_id()
            .ok_or_else(|| IdentityError::Forbidden("an API key cannot create API keys; a user must".into()))?;
        let new = NewApiKey::parse(name, role, expires_at, principal.role, rampart_core::time::now())?;
        let (secret, prefix, hash) = opaque::new_api_key();
        let audit = |key: &ApiKey| {
            audited(context, key_event(principal, AuditAction::ApiKeyCreate, key.id, format!("role {}", key.role)))
        };
        let key = self.store.api_keys().insert(principal.org, &new, &prefix, &hash, Some(creator), &audit).await?;
        Ok((key, secret))
    }

    pub async fn list_api_keys(&self, principal: &Principal) -> Result<Vec<ApiKey>, IdentityError> {
        Ok(self.store.api_keys().list(principal.org).await?)
    }

    /// Revokes a key at once. Admins revoke any key of the organisation; others, the keys they made.
    pub async fn delete_api_key(
        &self,
        principal: &Principal,
        id: ApiKeyId,
        context: &RequestContext,
    ) -> Result<(), IdentityError> {
        principal.require(Role::Analyst)?;
        let key = self.store.api_keys().get(principal.org, id).await?;
        if !principal.role.allows(Role::Admin) && key.created_by != principal.user_id() {
            return Err(IdentityError::Forbidden("only an admin may revoke a key made by someone else".into()));
        }
        let audit = audited(context, key_event(principal, AuditAction::ApiKeyDelete, id, key.name));
        Ok(self.store.api_keys().delete(principal.org, id, &audit).await?)
    }
}

fn key_event(principal: &Principal, action: AuditAction, id: ApiKeyId, detail: String) -> NewAuditEvent {
    NewAuditEvent {
        org: Some(principal.org),
        actor: principal.actor,
        action,
        target: Some(format!("api_key:{id}")),
        outcome: Outcome::Success,
        ip: None,
        request_id: None,
        detail: Some(detail),
    }
}
