//! Managing users (superusers), organisations and their members (org admins). Each change is
//! audited; the store keeps every organisation with at least one admin.

use rampart_core::identity::{
    AuditAction, Email, NewAuditEvent, NewUser, Outcome, Role, User, UserPatch, check_password,
};
use rampart_core::orgs::{NewOrganisation, Organisation};
use rampart_core::{OrgId, UserId, ValidationErrors};
use rampart_store::Member;

use crate::{Identity, IdentityError, Principal, RequestContext};

/// A superuser's changes to an account; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct AccountChanges {
    pub patch: UserPatch,
    pub password: Option<String>,
}

fn change(
    principal: &Principal,
    org: Option<OrgId>,
    action: AuditAction,
    target: String,
    detail: Option<String>,
) -> NewAuditEvent {
    NewAuditEvent {
        org,
        actor: principal.actor,
        action,
        target: Some(target),
        outcome: Outcome::Success,
        ip: None,
        request_id: None,
        detail,
    }
}

impl Identity {
    pub async fn admin_create_user(
        &self,
        principal: &Principal,
        new: NewUser,
        password: &str,
        context: &RequestContext,
    ) -> Result<User, IdentityError> {
        principal.require_superuser()?;
        let (mut user, _) = self.create_user(&new, password, None).await?;
        if new.is_superuser {
            user = self
                .store
                .users()
                .update(user.id, &UserPatch { is_superuser: Some(true), ..UserPatch::default() })
                .await?;
        }
        let detail = user.is_superuser.then(|| "superuser".to_owned());
        self.audit(
            context,
            change(principal, Some(principal.org), AuditAction::UserCreate, format!("user:{}", user.id), detail),
        )
        .await?;
        Ok(user)
    }

    pub async fn admin_update_user(
        &self,
        principal: &Principal,
        id: UserId,
        changes: AccountChanges,
        context: &RequestContext,
    ) -> Result<User, IdentityError> {
        principal.require_superuser()?;
        let mut errors = ValidationErrors::new();
        if let Some(password) = &changes.password {
            errors.check("password", check_password(password));
        }
        if let Some(name) = &changes.patch.full_name {
            errors.check("full_name", rampart_core::identity::parse_full_name(name));
        }
        if !errors.is_empty() {
            return Err(errors.into());
        }
        self.store.users().get(id).await?;
        if let Some(password) = &changes.password {
            let hash = self.passwords.hash(password).await?;
            self.store.users().set_password(id, &hash).await?;
        }
        let user = self.store.users().update(id, &changes.patch).await?;
        let mut said = Vec::new();
        if let Some(active) = changes.patch.is_active {
            said.push(if active { "activated" } else { "deactivated" });
        }
        if let Some(superuser) = changes.patch.is_superuser {
            said.push(if superuser { "made superuser" } else { "superuser removed" });
        }
        if changes.password.is_some() {
            said.push("password set");
        }
        let detail = (!said.is_empty()).then(|| said.join(", "));
        self.audit(
            context,
            change(principal, Some(principal.org), AuditAction::UserUpdate, format!("user:{id}"), detail),
        )
        .await?;
        Ok(user)
    }

    pub async fn admin_delete_user(
        &self,
        principal: &Principal,
        id: UserId,
        context: &RequestContext,
    ) -> Result<(), IdentityError> {
        principal.require_superuser()?;
        self.store.users().delete(id).await?;
        self.audit(context, change(principal, Some(principal.org), AuditAction::UserDelete, format!("user:{id}"), None))
            .await
    }

    /// A new organisation with the calling user as its admin.
    pub async fn create_org(
        &self,
        principal: &Principal,
        new: NewOrganisation,
        context: &RequestContext,
    ) -> Result<Organisation, IdentityError> {
        let user = principal
            .user_id()
            .ok_or_else(|| IdentityError::Forbidden("only a user can create an organisation".into()))?;
        let org = self.store.members().create_org(&new, user).await.map_err(slug_taken)?;
        self.audit(context, change(principal, Some(org.id), AuditAction::OrgCreate, format!("org:{}", org.id), None))
            .await?;
        Ok(org)
    }

    pub async fn update_org(
        &self,
        principal: &Principal,
        changes: NewOrganisation,
        context: &RequestContext,
    ) -> Result<Organisation, IdentityError> {
        principal.require(Role::Admin)?;
        let org = self.store.orgs().update(principal.org, &changes).await.map_err(slug_taken)?;
        self.audit(context, change(principal, Some(org.id), AuditAction::OrgUpdate, format!("org:{}", org.id), None))
            .await?;
        Ok(org)
    }

    /// Adds an existing user, found by email, to the caller's organisation.
    pub async fn add_member(
        &self,
        principal: &Principal,
        email: &str,
        role: Role,
        context: &RequestContext,
    ) -> Result<Member, IdentityError> {
        principal.require(Role::Admin)?;
        let email = Email::parse(email).map_err(|message| ValidationErrors::single("email", message))?;
        let user = self.store.users().find_by_email(&email).await?.ok_or_else(|| {
            ValidationErrors::single("email", "no user has this email; they must have an account first")
        })?;
        let member = match self.store.members().add(principal.org, user.id, role).await {
            Err(rampart_store::StoreError::Conflict { .. }) => {
                return Err(ValidationErrors::single("email", "is already a member").into());
            }
            other => other?,
        };
        let detail = Some(format!("role {role}"));
        self.audit(
            context,
            change(principal, Some(principal.org), AuditAction::MemberAdd, format!("user:{}", user.id), detail),
        )
        .await?;
        Ok(member)
    }

    pub async fn set_member_role(
        &self,
        principal: &Principal,
        user: UserId,
        role: Role,
        context: &RequestContext,
    ) -> Result<Member, IdentityError> {
        principal.require(Role::Admin)?;
        let member = self.store.members().set_role(principal.org, user, role).await?;
        let detail = Some(format!("role {role}"));
        self.audit(
            context,
            change(principal, Some(principal.org), AuditAction::MemberUpdate, format!("user:{user}"), detail),
        )
        .await?;
        Ok(member)
    }

    pub async fn remove_member(
        &self,
        principal: &Principal,
        user: UserId,
        context: &RequestContext,
    ) -> Result<(), IdentityError> {
        principal.require(Role::Admin)?;
        self.store.members().remove(principal.org, user).await?;
        self.audit(
            context,
            change(principal, Some(principal.org), AuditAction::MemberRemove, format!("user:{user}"), None),
        )
        .await
    }
}

fn slug_taken(error: rampart_store::StoreError) -> IdentityError {
    match error {
        rampart_store::StoreError::Conflict { what: "slug" } => {
            ValidationErrors::single("slug", "is already taken").into()
        }
        other => other.into(),
    }
}
