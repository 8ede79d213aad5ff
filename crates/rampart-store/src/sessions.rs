//! Login sessions and their refresh tokens. Each refresh token is used once: using it marks it
//! and issues the next; presenting a used one again means it was stolen or replayed, and the whole
//! session is revoked. Access tokens name their session, so revoking it ends them too.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rampart_core::identity::Role;
use rampart_core::{OrgId, SessionId, UserId};
use uuid::Uuid;

use crate::db::{BeginWrite, on_pool};
use crate::effects::unit_of_work;
use crate::users::parse_role;
use crate::{Effects, SqlStore, StoreError, StoreResult};

/// The result of presenting a refresh token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rotation {
    /// The token was current; the next one is stored.
    Rotated { session: SessionId, user: UserId, org: OrgId },
    /// The token had been used before: its session is now revoked.
    Reused { session: SessionId, user: UserId, org: OrgId },
    /// Unknown, expired, or of a revoked session.
    Invalid,
}

/// What a request authenticated by an access token needs to know, read in one query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccessState {
    pub is_active: bool,
    pub is_superuser: bool,
    /// The user's current role in the token's organisation, if still a member.
    pub role: Option<Role>,
    pub session_live: bool,
}

#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Opens a session with its first refresh token (stored as its hash).
    async fn start(
        &self,
        org: OrgId,
        user: UserId,
        refresh_hash: &str,
        refresh_expires: DateTime<Utc>,
        effects: &Effects,
    ) -> StoreResult<SessionId>;
    /// Uses `old_hash` and stores `new_hash` as its successor, atomically.
    async fn rotate(&self, old_hash: &str, new_hash: &str, new_expires: DateTime<Utc>) -> StoreResult<Rotation>;
    /// Ends the session: its refresh tokens and access tokens stop working.
    async fn revoke(&self, session: SessionId, effects: &Effects) -> StoreResult<()>;
    /// The state of `user` in `org` within `session`; `None` when the session is not theirs or gone.
    async fn access_state(&self, user: UserId, org: OrgId, session: SessionId) -> StoreResult<Option<AccessState>>;
}

#[derive(sqlx::FromRow)]
struct PresentedRow {
    session_id: Uuid,
    user_id: Uuid,
    org_id: Uuid,
    used_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct AccessRow {
    is_active: bool,
    is_superuser: bool,
    role: Option<String>,
    session_live: bool,
}

const INSERT_TOKEN: &str = "INSERT INTO refresh_tokens (token_hash, session_id, used_at, expires_at, created_at) VALUES ($1, $2, NULL, $3, $4)";

#[async_trait]
impl SessionStore for SqlStore {
    async fn start(
        &self,
        org: OrgId,
        user: UserId,
        refresh_hash: &str,
        refresh_expires: DateTime<Utc>,
        effects: &Effects,
    ) -> StoreResult<SessionId> {
        let session = SessionId::new();
        let now = self.now();
        unit_of_work!(
            self,
            |tx| {
                sqlx::query(
                    "INSERT INTO sessions (id, org_id, user_id, created_at, revoked_at) VALUES ($1, $2, $3, $4, NULL)",
                )
                .bind(session.as_uuid())
                .bind(org.as_uuid())
                .bind(user.as_uuid())
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query(INSERT_TOKEN)
                    .bind(refresh_hash)
                    .bind(session.as_uuid())
                    .bind(refresh_expires)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            },
            |_: &()| effects.clone()
        );
        Ok(session)
    }

    async fn rotate(&self, old_hash: &str, new_hash: &str, new_expires: DateTime<Utc>) -> StoreResult<Rotation> {
        let now = self.now();
        on_pool!(&self.db, |pool| {
            let mut tx = pool.begin_write().await?;
            // Claiming the token is the first statement, so the transaction writes (and locks) at once.
            let claimed: Option<(Uuid,)> = sqlx::query_as(
                "UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 \
                 AND session_id IN (SELECT id FROM sessions WHERE revoked_at IS NULL) RETURNING session_id",
            )
            .bind(old_hash)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            let presented: Option<PresentedRow> = sqlx::query_as(
                "SELECT t.session_id, s.user_id, s.org_id, t.used_at FROM refresh_tokens t \
                 JOIN sessions s ON s.id = t.session_id WHERE t.token_hash = $1",
            )
            .bind(old_hash)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = presented else { return Ok(Rotation::Invalid) };
            let (session, user, org) =
                (SessionId::from_uuid(row.session_id), UserId::from_uuid(row.user_id), OrgId::from_uuid(row.org_id));
            let rotation = if claimed.is_some() {
                sqlx::query(INSERT_TOKEN)
                    .bind(new_hash)
                    .bind(session.as_uuid())
                    .bind(new_expires)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                Rotation::Rotated { session, user, org }
            } else if row.used_at.is_some() {
                sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                    .bind(session.as_uuid())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                Rotation::Reused { session, user, org }
            } else {
                Rotation::Invalid
            };
            tx.commit().await?;
            Ok::<_, StoreError>(rotation)
        })
    }

    async fn revoke(&self, session: SessionId, effects: &Effects) -> StoreResult<()> {
        let now = self.now();
        unit_of_work!(
            self,
            |tx| {
                sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                    .bind(session.as_uuid())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            },
            |_: &()| effects.clone()
        );
        Ok(())
    }

    async fn access_state(&self, user: UserId, org: OrgId, session: SessionId) -> StoreResult<Option<AccessState>> {
        let sql = "SELECT u.is_active, u.is_superuser, m.role, (s.revoked_at IS NULL) AS session_live FROM users u \
                   JOIN sessions s ON s.id = $3 AND s.user_id = u.id AND s.org_id = $2 \
                   LEFT JOIN memberships m ON m.user_id = u.id AND m.org_id = $2 WHERE u.id = $1";
        let row = on_pool!(&self.db, |pool| {
            sqlx::query_as::<_, AccessRow>(sql)
                .bind(user.as_uuid())
                .bind(org.as_uuid())
                .bind(session.as_uuid())
                .fetch_optional(pool)
                .await
        })?;
        row.map(|row| {
            Ok(AccessState {
                is_active: row.is_active,
                is_superuser: row.is_superuser,
                role: row.role.as_deref().map(parse_role).transpose()?,
                session_live: row.session_live,
            })
        })
        .transpose()
    }
}
