//! Joining and leaving organisations. An admin invites an email address; the person with that
//! address accepts or declines. Inviting answers the same whether or not an account has the
//! address, so that it cannot be used to learn who has an account. A member may leave (unless
//! they are the last admin); a superuser may add a member directly.

use rampart_core::identity::{AuditAction, Email, Invitation, Membership, NewInvitation, Role};
use rampart_core::{InvitationId, OrgId, UserId, ValidationErrors};
use rampart_store::{Effects, Member, StoreError};

use crate::{Identity, IdentityError, Principal, RequestContext, audited, succeeded};

/// The calling user; an API key has no address to be invited at and belongs to nobody.
fn person(principal: &Principal, what: &str) -> Result<UserId, IdentityError> {
    principal.user_id().ok_or_else(|| IdentityError::Forbidden(format!("only a user can {what}")))
}

impl Identity {
    /// Invites `email` to the caller's organisation with `role`, or renews the open invitation.
    pub async fn invite(
        &self,
        principal: &Principal,
        email: &str,
        role: &str,
        context: &RequestContext,
    ) -> Result<Invitation, IdentityError> {
        principal.require(Role::Admin)?;
        let inviter = person(principal, "invite")?;
        let new = NewInvitation::parse(email, role, rampart_core::time::now())?;
        let audit = |invitation: &Invitation| {
            let detail = Some(format!("{} as {}", invitation.email.as_str(), invitation.role));
            let target = format!("invitation:{}", invitation.id);
            audited(
                context,
                succeeded(Some(principal.org), principal.actor, AuditAction::InvitationCreate, target, detail),
            )
        };
        let invitation = match self.store.invitations().invite(principal.org, &new, Some(inviter), &audit).await {
            // Only someone already in this organisation, whom the admin can list anyway.
            Err(StoreError::Conflict { .. }) => {
                return Err(ValidationErrors::single("email", "is already a member of this organisation").into());
            }
            other => other?,
        };
        Ok(invitation)
    }

    /// The organisation's open invitations.
    pub async fn org_invitations(&self, principal: &Principal) -> Result<Vec<Invitation>, IdentityError> {
        principal.require(Role::Admin)?;
        Ok(self.store.invitations().list(principal.org, rampart_core::time::now()).await?)
    }

    pub async fn revoke_invitation(
        &self,
        principal: &Principal,
        id: InvitationId,
        context: &RequestContext,
    ) -> Result<(), IdentityError> {
        principal.require(Role::Admin)?;
        let audit = |invitation: &Invitation| {
            let detail = Some(invitation.email.as_str().to_owned());
            let target = format!("invitation:{id}");
            audited(
                context,
                succeeded(Some(principal.org), principal.actor, AuditAction::InvitationRevoke, target, detail),
            )
        };
        self.store.invitations().revoke(principal.org, id, &audit).await?;
        Ok(())
    }

    /// The open invitations addressed to the calling user.
    pub async fn my_invitations(&self, principal: &Principal) -> Result<Vec<Invitation>, IdentityError> {
        let email = self.email_of(person(principal, "have invitations")?).await?;
        Ok(self.store.invitations().list_for(&email, rampart_core::time::now()).await?)
    }

    /// Accepts an invitation addressed to the calling user: they become a member.
    pub async fn accept_invitation(
        &self,
        principal: &Principal,
        id: InvitationId,
        context: &RequestContext,
    ) -> Result<Membership, IdentityError> {
        let user = person(principal, "accept an invitation")?;
        let email = self.email_of(user).await?;
        let audit = |invitation: &Invitation| {
            let detail = Some(format!("role {}", invitation.role));
            let target = format!("invitation:{id}");
            audited(
                context,
                succeeded(Some(invitation.org_id), principal.actor, AuditAction::InvitationAccept, target, detail),
            )
        };
        let now = rampart_core::time::now();
        let invitation = match self.store.invitations().accept(id, user, &email, now, &audit).await {
            Err(StoreError::Conflict { .. }) => {
                return Err(IdentityError::Conflict("you are already a member of this organisation".into()));
            }
            other => other?,
        };
        let memberships = self.store.users().memberships(user).await?;
        memberships
            .into_iter()
            .find(|membership| membership.org_id == invitation.org_id)
            .ok_or(IdentityError::Store(StoreError::NotFound))
    }

    pub async fn decline_invitation(
        &self,
        principal: &Principal,
        id: InvitationId,
        context: &RequestContext,
    ) -> Result<(), IdentityError> {
        let email = self.email_of(person(principal, "decline an invitation")?).await?;
        let audit = |invitation: &Invitation| {
            let target = format!("invitation:{id}");
            audited(
                context,
                succeeded(Some(invitation.org_id), principal.actor, AuditAction::InvitationDecline, target, None),
            )
        };
        self.store.invitations().decline(id, &email, &audit).await?;
        Ok(())
    }

    /// The calling user leaves the organisation of their credential; refused for its last admin.
    pub async fn leave_org(&self, principal: &Principal, context: &RequestContext) -> Result<(), IdentityError> {
        let user = person(principal, "leave an organisation")?;
        let audit = audited(
            context,
            succeeded(Some(principal.org), principal.actor, AuditAction::MemberLeave, format!("user:{user}"), None),
        );
        self.store.members().remove(principal.org, user, &audit).await?;
        if let Some(session) = principal.session {
            self.store.sessions().revoke(session, &Effects::none()).await?;
        }
        Ok(())
    }

    /// A superuser adds an existing user, found by email, to any organisation.
    pub async fn add_member(
        &self,
        principal: &Principal,
        org: OrgId,
        email: &str,
        role: Role,
        context: &RequestContext,
    ) -> Result<Member, IdentityError> {
        principal.require_superuser()?;
        let email = Email::parse(email).map_err(|message| ValidationErrors::single("email", message))?;
        self.store.orgs().get(org).await?;
        let user = self
            .store
            .users()
            .find_by_email(&email)
            .await?
            .ok_or_else(|| ValidationErrors::single("email", "no user has this email"))?;
        let detail = Some(format!("role {role}, by a superuser"));
        let audit = audited(
            context,
            succeeded(Some(org), principal.actor, AuditAction::MemberAdd, format!("user:{}", user.id), detail),
        );
        let member = match self.store.members().add(org, user.id, role, &audit).await {
            Err(StoreError::Conflict { .. }) => {
                return Err(ValidationErrors::single("email", "is already a member").into());
            }
            other => other?,
        };
        Ok(member)
    }

    async fn email_of(&self, user: UserId) -> Result<Email, IdentityError> {
        Ok(self.store.users().get(user).await?.email)
    }
}
