//! Managing users (superusers), organisations and their members (org admins). Each change is
//! audited in its own transaction; the store keeps every organisation with at least one admin.

use rampart_core::identity::{AuditAction, NewAuditEvent, NewUser, Role, User, UserPatch, check_password};
use rampart_core::orgs::{NewOrganisation, Organisation, Slug};
use rampart_core::{OrgId, UserId, ValidationErrors};
use rampart_store::{Effects, EffectsOf, Member, StoreError};

use crate::{Identity, IdentityError, Principal, RequestContext, audited, succeeded};

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
    succeeded(org, principal.actor, action, target, detail)
}

impl Identity {
    /// Creates an account (a superuser when `new` says so) with its personal organisation, named
    /// `org_name` or after the user; a slug already taken gets a random suffix.
    pub async fn create_account(
        &self,
        new: &NewUser,
        password: &str,
        org_name: Option<&str>,
    ) -> Result<(User, Organisation), IdentityError> {
        self.create_account_with(new, password, org_name, &|_| Effects::none()).await
    }

    /// [`Identity::create_account`], with the effects (the audit event) of the account made.
    pub(crate) async fn create_account_with(
        &self,
        new: &NewUser,
        password: &str,
        org_name: Option<&str>,
        then: EffectsOf<'_, (User, Organisation)>,
    ) -> Result<(User, Organisation), IdentityError> {
        let hash = self.passwords.hash(password).await?;
        let name = org_name.map(str::trim).filter(|name| !name.is_empty()).unwrap_or(new.username.as_str());
        let slug = Slug::from_name(new.username.as_str()).expect("a valid username always makes a slug");
        let mut personal = NewOrganisation::parse(name, Some(slug.as_str()))
            .map_err(|errors| ValidationErrors::single("org_name", errors.to_string()))?;
        for _ in 0..3 {
            match self.store.users().create(new, &hash, &personal, then).await {
                Err(StoreError::Conflict { what: "slug" }) => {
                    let suffix: u16 = rand::random();
                    let base: String = slug.as_str().chars().take(50).collect();
                    personal.slug =
                        Slug::parse(&format!("{base}-{suffix:04x}")).expect("a slug with a hex suffix is a slug");
                }
                Err(StoreError::Conflict { what }) => {
                    return Err(ValidationErrors::single(what, "is already taken").into());
                }
                other => return Ok(other?),
            }
        }
        Err(StoreError::Internal("no free organisation slug".into()).into())
    }

    pub async fn admin_create_user(
        &self,
        principal: &Principal,
        new: NewUser,
        password: &str,
        context: &RequestContext,
    ) -> Result<User, IdentityError> {
        principal.require_superuser()?;
        let audit = |(user, _): &(User, Organisation)| {
            let detail = user.is_superuser.then(|| "superuser".to_owned());
            audited(
                context,
                change(principal, Some(principal.org), AuditAction::UserCreate, format!("user:{}", user.id), detail),
            )
        };
        let (user, _) = self.create_account_with(&new, password, None, &audit).await?;
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
        let mut said = Vec::new();
        if let Some(active) = changes.patch.is_active {
            said.push(if active { "activated" } else { "deactivated" });
        }
        if let Some(superuser) = changes.patch.is_superuser {
            said.push(if superuser { "made superuser" } else { "superuser removed" });
        }
        if changes.password.is_some() {
            said.push("password set, sessions ended");
        }
        let detail = (!said.is_empty()).then(|| said.join(", "));
        let audit = audited(
            context,
            change(principal, Some(principal.org), AuditAction::UserUpdate, format!("user:{id}"), detail),
        );
        Ok(self.store.users().update(id, &changes.patch, &audit).await?)
    }

    pub async fn admin_delete_user(
        &self,
        principal: &Principal,
        id: UserId,
        context: &RequestContext,
    ) -> Result<(), IdentityError> {
        principal.require_superuser()?;
        let audit = audited(
            context,
            change(principal, Some(principal.org), AuditAction::UserDelete, format!("user:{id}"), None),
        );
        Ok(self.store.users().delete(id, &audit).await?)
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
        let audit = |org: &Organisation| {
            audited(context, change(principal, Some(org.id), AuditAction::OrgCreate, format!("org:{}", org.id), None))
        };
        self.store.members().create_org(&new, user, &audit).await.map_err(slug_taken)
    }

    pub async fn update_org(
        &self,
        principal: &Principal,
        changes: NewOrganisation,
        context: &RequestContext,
    ) -> Result<Organisation, IdentityError> {
        principal.require(Role::Admin)?;
        let org = principal.org;
        let audit = audited(context, change(principal, Some(org), AuditAction::OrgUpdate, format!("org:{org}"), None));
        self.store.orgs().update(org, &changes, &audit).await.map_err(slug_taken)
    }

    pub async fn set_member_role(
        &self,
        principal: &Principal,
        user: UserId,
        role: Role,
        context: &RequestContext,
    ) -> Result<Member, IdentityError> {
        principal.require(Role::Admin)?;
        let detail = Some(format!("role {role}"));
        let audit = audited(
            context,
            change(principal, Some(principal.org), AuditAction::MemberUpdate, format!("user:{user}"), detail),
        );
        Ok(self.store.members().set_role(principal.org, user, role, &audit).await?)
    }

    pub async fn remove_member(
        &self,
        principal: &Principal,
        user: UserId,
        context: &RequestContext,
    ) -> Result<(), IdentityError> {
        principal.require(Role::Admin)?;
        let audit = audited(
            context,
            change(principal, Some(principal.org), AuditAction::MemberRemove, format!("user:{user}"), None),
        );
        Ok(self.store.members().remove(principal.org, user, &audit).await?)
    }
}

fn slug_taken(error: StoreError) -> IdentityError {
    match error {
        StoreError::Conflict { what: "slug" } => ValidationErrors::single("slug", "is already taken").into(),
        other => other.into(),
    }
}
