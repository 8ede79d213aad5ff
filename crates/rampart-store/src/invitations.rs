//! Invitations to join an organisation. Accepting one makes the membership and closes the
//! invitation in one transaction; only the addressee (by email) may accept or decline it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rampart_core::identity::{Email, Invitation, NewInvitation, PENDING_INVITATIONS_MAX};
use rampart_core::{InvitationId, OrgId, UserId};
use uuid::Uuid;

use crate::db::on_pool;
use crate::effects::unit_of_work;
use crate::users::{INSERT_MEMBERSHIP, parse_role};
use crate::{EffectsOf, SqlStore, StoreError, StoreResult};

#[async_trait]
pub trait InvitationStore: Send + Sync {
    /// Opens an invitation, or renews the open one for the same address (role, inviter, expiry).
    /// A conflict on `member` when someone with this address already belongs to the organisation;
    /// refused beyond [`PENDING_INVITATIONS_MAX`] open invitations.
    async fn invite(
        &self,
        org: OrgId,
        new: &NewInvitation,
        invited_by: Option<UserId>,
        then: EffectsOf<'_, Invitation>,
    ) -> StoreResult<Invitation>;
    /// The organisation's open invitations, oldest first.
    async fn list(&self, org: OrgId, now: DateTime<Utc>) -> StoreResult<Vec<Invitation>>;
    /// Withdraws an invitation of the organisation, open or expired.
    async fn revoke(&self, org: OrgId, id: InvitationId, then: EffectsOf<'_, Invitation>) -> StoreResult<Invitation>;
    /// The open invitations addressed to `email`, from every organisation.
    async fn list_for(&self, email: &Email, now: DateTime<Utc>) -> StoreResult<Vec<Invitation>>;
    /// Makes `user` (whose address is `email`) a member with the invitation's role and closes
    /// the invitation, together. Not found unless the invitation is open and addressed to
    /// `email`; a conflict on `member` when the user already belongs to the organisation.
    async fn accept(
        &self,
        id: InvitationId,
        user: UserId,
        email: &Email,
        now: DateTime<Utc>,
        then: EffectsOf<'_, Invitation>,
    ) -> StoreResult<Invitation>;
    /// Closes an invitation addressed to `email`, open or expired.
    async fn decline(
        &self,
        id: InvitationId,
        email: &Email,
        then: EffectsOf<'_, Invitation>,
    ) -> StoreResult<Invitation>;
}

const SELECT: &str = "SELECT i.id, i.org_id, o.name AS org_name, i.email, i.role, i.invited_by, i.created_at, \
                      i.expires_at FROM invitations i JOIN organisations o ON o.id = i.org_id";

#[derive(sqlx::FromRow)]
struct InvitationRow {
    id: Uuid,
    org_id: Uuid,
    org_name: String,
    email: String,
    role: String,
    invited_by: Option<Uuid>,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

impl InvitationRow {
    fn into_invitation(self) -> StoreResult<Invitation> {
        Ok(Invitation {
            id: InvitationId::from_uuid(self.id),
            org_id: OrgId::from_uuid(self.org_id),
            org_name: self.org_name,
            email: Email::parse(&self.email).map_err(|_| StoreError::Internal("a stored email is invalid".into()))?,
            role: parse_role(&self.role)?,
            invited_by: self.invited_by.map(UserId::from_uuid),
            created_at: self.created_at,
            expires_at: self.expires_at,
        })
    }
}

#[async_trait]
impl InvitationStore for SqlStore {
    async fn invite(
        &self,
        org: OrgId,
        new: &NewInvitation,
        invited_by: Option<UserId>,
        then: EffectsOf<'_, Invitation>,
    ) -> StoreResult<Invitation> {
        let now = self.now();
        let select = format!("{SELECT} WHERE i.org_id = $1 AND i.email = $2");
        Ok(unit_of_work!(
            self,
            |tx| {
                let (members,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.org_id = $1 AND u.email = $2",
            )
            .bind(org.as_uuid())
            .bind(new.email.as_str())
            .fetch_one(&mut *tx)
            .await?;
                if members > 0 {
                    return Err(StoreError::Conflict { what: "member" });
                }
                let (open,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM invitations WHERE org_id = $1 AND expires_at > $2 AND email <> $3",
                )
                .bind(org.as_uuid())
                .bind(now)
                .bind(new.email.as_str())
                .fetch_one(&mut *tx)
                .await?;
                if open >= i64::from(PENDING_INVITATIONS_MAX) {
                    return Err(StoreError::Refused("the organisation has too many open invitations"));
                }
                sqlx::query(
                    "INSERT INTO invitations (id, org_id, email, role, invited_by, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (org_id, email) DO UPDATE SET \
                 role = excluded.role, invited_by = excluded.invited_by, created_at = excluded.created_at, \
                 expires_at = excluded.expires_at",
                )
                .bind(InvitationId::new().as_uuid())
                .bind(org.as_uuid())
                .bind(new.email.as_str())
                .bind(new.role.as_str())
                .bind(invited_by.map(|id| id.as_uuid()))
                .bind(now)
                .bind(new.expires_at)
                .execute(&mut *tx)
                .await
                .map_err(|error| match &error {
                    sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
                    _ => StoreError::from(error),
                })?;
                let row = sqlx::query_as::<_, InvitationRow>(&select)
                    .bind(org.as_uuid())
                    .bind(new.email.as_str())
                    .fetch_one(&mut *tx)
                    .await?;
                row.into_invitation()?
            },
            then
        ))
    }

    async fn list(&self, org: OrgId, now: DateTime<Utc>) -> StoreResult<Vec<Invitation>> {
        let sql = format!("{SELECT} WHERE i.org_id = $1 AND i.expires_at > $2 ORDER BY i.created_at, i.id");
        let rows = on_pool!(&self.db, |pool| {
            sqlx::query_as::<_, InvitationRow>(&sql).bind(org.as_uuid()).bind(now).fetch_all(pool).await
        })?;
        rows.into_iter().map(InvitationRow::into_invitation).collect()
    }

    async fn revoke(&self, org: OrgId, id: InvitationId, then: EffectsOf<'_, Invitation>) -> StoreResult<Invitation> {
        self.take(id, Some(org), None, then).await
    }

    async fn list_for(&self, email: &Email, now: DateTime<Utc>) -> StoreResult<Vec<Invitation>> {
        let sql = format!("{SELECT} WHERE i.email = $1 AND i.expires_at > $2 ORDER BY i.created_at, i.id");
        let rows = on_pool!(&self.db, |pool| {
            sqlx::query_as::<_, InvitationRow>(&sql).bind(email.as_str()).bind(now).fetch_all(pool).await
        })?;
        rows.into_iter().map(InvitationRow::into_invitation).collect()
    }

    async fn accept(
        &self,
        id: InvitationId,
        user: UserId,
        email: &Email,
        now: DateTime<Utc>,
        then: EffectsOf<'_, Invitation>,
    ) -> StoreResult<Invitation> {
        let select = format!("{SELECT} WHERE i.id = $1 AND i.email = $2 AND i.expires_at > $3");
        Ok(unit_of_work!(
            self,
            |tx| {
                let row = sqlx::query_as::<_, InvitationRow>(&select)
                    .bind(id.as_uuid())
                    .bind(email.as_str())
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                let invitation = row.into_invitation()?;
                sqlx::query(INSERT_MEMBERSHIP)
                    .bind(invitation.org_id.as_uuid())
                    .bind(user.as_uuid())
                    .bind(invitation.role.as_str())
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::conflict_on("member"))?;
                sqlx::query("DELETE FROM invitations WHERE id = $1").bind(id.as_uuid()).execute(&mut *tx).await?;
                invitation
            },
            then
        ))
    }

    async fn decline(
        &self,
        id: InvitationId,
        email: &Email,
        then: EffectsOf<'_, Invitation>,
    ) -> StoreResult<Invitation> {
        self.take(id, None, Some(email), then).await
    }
}

impl SqlStore {
    /// Deletes and returns the invitation `id` of organisation `org`, or the one sent to `email`.
    async fn take(
        &self,
        id: InvitationId,
        org: Option<OrgId>,
        email: Option<&Email>,
        then: EffectsOf<'_, Invitation>,
    ) -> StoreResult<Invitation> {
        let select = format!("{SELECT} WHERE i.id = $1 AND (i.org_id = $2 OR i.email = $3)");
        Ok(unit_of_work!(
            self,
            |tx| {
                let row = sqlx::query_as::<_, InvitationRow>(&select)
                    .bind(id.as_uuid())
                    .bind(org.map(|org| org.as_uuid()))
                    .bind(email.map(Email::as_str))
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                sqlx::query("DELETE FROM invitations WHERE id = $1").bind(id.as_uuid()).execute(&mut *tx).await?;
                row.into_invitation()?
            },
            then
        ))
    }
}
