//! Users and their memberships. Creating a user also creates their personal organisation, in one
//! transaction; no change may leave an organisation without an admin.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rampart_core::identity::{Email, Membership, NewUser, Role, User, UserPatch, Username};
use rampart_core::orgs::{NewOrganisation, Organisation, Slug};
use rampart_core::{OrgId, UserId};
use uuid::Uuid;

use crate::db::{BeginWrite, Db, on_pool};
use crate::effects::unit_of_work;
use crate::{Effects, EffectsOf, Seek, SqlStore, StoreError, StoreResult};

/// A member of an organisation, with the user behind it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub user: User,
    pub role: Role,
    pub since: DateTime<Utc>,
}

#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates the user, their personal organisation and their admin membership of it, together.
    /// Conflicts name `email`, `username` or `slug`.
    async fn create(
        &self,
        new: &NewUser,
        password_hash: &str,
        personal_org: &NewOrganisation,
        then: EffectsOf<'_, (User, Organisation)>,
    ) -> StoreResult<(User, Organisation)>;
    async fn get(&self, id: UserId) -> StoreResult<User>;
    /// The user and their password hash, by email or username, for a login.
    async fn find_for_login(&self, login: &str) -> StoreResult<Option<(User, String)>>;
    async fn find_by_email(&self, email: &Email) -> StoreResult<Option<User>>;
    /// Users by id, after `after`; for superusers.
    async fn list(&self, seek: Seek<UserId>) -> StoreResult<Vec<User>>;
    async fn update(&self, id: UserId, patch: &UserPatch, effects: &Effects) -> StoreResult<User>;
    /// Sets the password and ends every session of the user (their refresh tokens and the access
    /// tokens of those sessions stop working), together.
    async fn set_password(&self, id: UserId, password_hash: &str) -> StoreResult<()>;
    /// Refused when the user is the last admin of an organisation that has other members; their
    /// personal organisations (where nobody else is a member) go with them.
    async fn delete(&self, id: UserId, effects: &Effects) -> StoreResult<()>;
    async fn count(&self) -> StoreResult<u64>;
    /// Every organisation the user belongs to, oldest membership first.
    async fn memberships(&self, user: UserId) -> StoreResult<Vec<Membership>>;
    /// The user and their memberships, in one round trip.
    async fn profile(&self, user: UserId) -> StoreResult<(User, Vec<Membership>)>;
}

#[async_trait]
pub trait MemberStore: Send + Sync {
    async fn list(&self, org: OrgId) -> StoreResult<Vec<Member>>;
    async fn role_of(&self, org: OrgId, user: UserId) -> StoreResult<Option<Role>>;
    /// Conflict on `member` when the user already belongs to the organisation.
    async fn add(&self, org: OrgId, user: UserId, role: Role, effects: &Effects) -> StoreResult<Member>;
    /// Refused when it would leave the organisation without an admin.
    async fn set_role(&self, org: OrgId, user: UserId, role: Role, effects: &Effects) -> StoreResult<Member>;
    /// Refused when it would leave the organisation without an admin.
    async fn remove(&self, org: OrgId, user: UserId, effects: &Effects) -> StoreResult<()>;
    /// Creates an organisation with `admin` as its first admin.
    async fn create_org(
        &self,
        new: &NewOrganisation,
        admin: UserId,
        then: EffectsOf<'_, Organisation>,
    ) -> StoreResult<Organisation>;
}

pub(crate) const USER_COLUMNS: &str = "id, email, username, full_name, is_active, is_superuser, created_at, updated_at";

const LAST_ADMIN: &str = "an organisation must keep at least one admin";

pub(crate) const INSERT_MEMBERSHIP: &str =
    "INSERT INTO memberships (org_id, user_id, role, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)";

const INSERT_ORG: &str =
    "INSERT INTO organisations (id, name, slug, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)";

/// True when someone other than the member `$2` is an admin of the organisation `$1`.
const OTHER_ADMIN_EXISTS: &str =
    "EXISTS (SELECT 1 FROM memberships o WHERE o.org_id = $1 AND o.user_id <> $2 AND o.role = 'admin')";

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    id: Uuid,
    email: String,
    username: String,
    full_name: String,
    is_active: bool,
    is_superuser: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl UserRow {
    pub(crate) fn into_user(self) -> StoreResult<User> {
        let invalid = |_| StoreError::Internal("a stored user is invalid".into());
        Ok(User {
            id: UserId::from_uuid(self.id),
            email: Email::parse(&self.email).map_err(invalid)?,
            username: Username::parse(&self.username).map_err(invalid)?,
            full_name: self.full_name,
            is_active: self.is_active,
            is_superuser: self.is_superuser,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct LoginRow {
    #[sqlx(flatten)]
    user: UserRow,
    password_hash: String,
}

#[derive(sqlx::FromRow)]
struct MembershipRow {
    org_id: Uuid,
    org_name: String,
    org_slug: String,
    user_id: Uuid,
    role: String,
    created_at: DateTime<Utc>,
}

impl MembershipRow {
    fn into_membership(self) -> StoreResult<Membership> {
        Ok(Membership {
            org_id: OrgId::from_uuid(self.org_id),
            org_name: self.org_name,
            org_slug: Slug::parse(&self.org_slug)
                .map_err(|_| StoreError::Internal("a stored slug is invalid".into()))?,
            user_id: UserId::from_uuid(self.user_id),
            role: parse_role(&self.role)?,
            created_at: self.created_at,
        })
    }
}

/// A user joined with one of their memberships, if any.
#[derive(sqlx::FromRow)]
struct ProfileRow {
    #[sqlx(flatten)]
    user: UserRow,
    org_id: Option<Uuid>,
    org_name: Option<String>,
    org_slug: Option<String>,
    role: Option<String>,
    member_since: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct MemberRow {
    #[sqlx(flatten)]
    user: UserRow,
    role: String,
    since: DateTime<Utc>,
}

impl MemberRow {
    fn into_member(self) -> StoreResult<Member> {
        Ok(Member { user: self.user.into_user()?, role: parse_role(&self.role)?, since: self.since })
    }
}

pub(crate) fn parse_role(role: &str) -> StoreResult<Role> {
    role.parse().map_err(|_| StoreError::Internal("a stored role is invalid".into()))
}

/// Which unique column a violation is about, from the constraint or message of either backend.
fn user_conflict(error: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &error
        && db.is_unique_violation()
    {
        let text = format!("{} {}", db.constraint().unwrap_or_default(), db.message());
        let what = ["email", "username", "slug"].into_iter().find(|what| text.contains(what)).unwrap_or("value");
        return StoreError::Conflict { what };
    }
    StoreError::from(error)
}

fn member_query() -> String {
    let columns = USER_COLUMNS.split(", ").map(|c| format!("u.{c}")).collect::<Vec<_>>().join(", ");
    format!("SELECT {columns}, m.role, m.created_at AS since FROM memberships m JOIN users u ON u.id = m.user_id")
}

#[async_trait]
impl UserStore for SqlStore {
    async fn create(
        &self,
        new: &NewUser,
        password_hash: &str,
        personal_org: &NewOrganisation,
        then: EffectsOf<'_, (User, Organisation)>,
    ) -> StoreResult<(User, Organisation)> {
        let now = self.now();
        let user_id = UserId::new().as_uuid();
        let org_id = OrgId::new().as_uuid();
        let insert_user = format!(
            "INSERT INTO users (id, email, username, full_name, password_hash, is_active, is_superuser, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING {USER_COLUMNS}"
        );
        let org = Organisation {
            id: OrgId::from_uuid(org_id),
            name: personal_org.name.clone(),
            slug: personal_org.slug.clone(),
            created_at: now,
            updated_at: now,
        };
        Ok(unit_of_work!(
            self,
            |tx| {
                let user = sqlx::query_as::<_, UserRow>(&insert_user)
                    .bind(user_id)
                    .bind(new.email.as_str())
                    .bind(new.username.as_str())
                    .bind(&new.full_name)
                    .bind(password_hash)
                    .bind(true)
                    .bind(new.is_superuser)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(user_conflict)?;
                sqlx::query(INSERT_ORG)
                    .bind(org_id)
                    .bind(&personal_org.name)
                    .bind(personal_org.slug.as_str())
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(user_conflict)?;
                sqlx::query(INSERT_MEMBERSHIP)
                    .bind(org_id)
                    .bind(user_id)
                    .bind(Role::Admin.as_str())
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(user_conflict)?;
                (user.into_user()?, org)
            },
            then
        ))
    }

    async fn get(&self, id: UserId) -> StoreResult<User> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        let row =
            on_pool!(&self.db, |pool| sqlx::query_as::<_, UserRow>(&sql).bind(id.as_uuid()).fetch_one(pool).await)?;
        row.into_user()
    }

    async fn find_for_login(&self, login: &str) -> StoreResult<Option<(User, String)>> {
        let login = login.trim().to_lowercase();
        // No email or username holds a control character, and PostgreSQL refuses a NUL in text:
        // such a login names nobody, as an unknown one does.
        if login.chars().any(char::is_control) {
            return Ok(None);
        }
        let column = if login.contains('@') { "email" } else { "username" };
        let sql = format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE {column} = $1");
        let row =
            on_pool!(&self.db, |pool| sqlx::query_as::<_, LoginRow>(&sql).bind(&login).fetch_optional(pool).await)?;
        row.map(|row| Ok((row.user.into_user()?, row.password_hash))).transpose()
    }

    async fn find_by_email(&self, email: &Email) -> StoreResult<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1");
        let row = on_pool!(&self.db, |pool| sqlx::query_as::<_, UserRow>(&sql)
            .bind(email.as_str())
            .fetch_optional(pool)
            .await)?;
        row.map(UserRow::into_user).transpose()
    }

    async fn list(&self, seek: Seek<UserId>) -> StoreResult<Vec<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id > $1 ORDER BY id LIMIT $2");
        let after = seek.from.map(|id| id.as_uuid()).unwrap_or(Uuid::nil());
        let rows = on_pool!(&self.db, |pool| {
            sqlx::query_as::<_, UserRow>(&sql).bind(after).bind(i64::from(seek.limit)).fetch_all(pool).await
        })?;
        rows.into_iter().map(UserRow::into_user).collect()
    }

    async fn update(&self, id: UserId, patch: &UserPatch, effects: &Effects) -> StoreResult<User> {
        let sql = format!(
            "UPDATE users SET full_name = COALESCE($2, full_name), is_active = COALESCE($3, is_active), \
             is_superuser = COALESCE($4, is_superuser), updated_at = $5 WHERE id = $1 RETURNING {USER_COLUMNS}"
        );
        let now = self.now();
        let value = unit_of_work!(
            self,
            |tx| sqlx::query_as::<_, UserRow>(&sql)
                .bind(id.as_uuid())
                .bind(patch.full_name.as_deref())
                .bind(patch.is_active)
                .bind(patch.is_superuser)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?
                .into_user()?,
            |_: &User| effects.clone()
        );

        Ok(value)
    }

    async fn set_password(&self, id: UserId, password_hash: &str) -> StoreResult<()> {
        let now = self.now();
        let done = on_pool!(&self.db, |pool| {
            let mut tx = pool.begin_write().await?;
            let done = sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
                .bind(id.as_uuid())
                .bind(password_hash)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL")
                .bind(id.as_uuid())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(done)
        })?;
        if done == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    async fn delete(&self, id: UserId, effects: &Effects) -> StoreResult<()> {
        // An organisation where this user is the only admin but not the only member would be orphaned.
        let orphaning = "SELECT COUNT(*) FROM memberships m WHERE m.user_id = $1 AND m.role = 'admin' \
             AND NOT EXISTS (SELECT 1 FROM memberships o WHERE o.org_id = m.org_id AND o.user_id <> $1 AND o.role = 'admin') \
             AND EXISTS (SELECT 1 FROM memberships o WHERE o.org_id = m.org_id AND o.user_id <> $1)";
        unit_of_work!(
            self,
            |tx| {
                let (orphans,): (i64,) = sqlx::query_as(orphaning).bind(id.as_uuid()).fetch_one(&mut *tx).await?;
                if orphans > 0 {
                    return Err(StoreError::Refused(LAST_ADMIN));
                }
                sqlx::query(
                    "DELETE FROM organisations WHERE id IN (SELECT org_id FROM memberships WHERE user_id = $1) \
                 AND NOT EXISTS (SELECT 1 FROM memberships o WHERE o.org_id = organisations.id AND o.user_id <> $1)",
                )
                .bind(id.as_uuid())
                .execute(&mut *tx)
                .await?;
                let done = sqlx::query("DELETE FROM users WHERE id = $1").bind(id.as_uuid()).execute(&mut *tx).await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
            },
            |_: &()| effects.clone()
        );
        Ok(())
    }

    async fn count(&self) -> StoreResult<u64> {
        let (count,): (i64,) =
            on_pool!(&self.db, |pool| sqlx::query_as("SELECT COUNT(*) FROM users").fetch_one(pool).await)?;
        Ok(u64::try_from(count).unwrap_or_default())
    }

    async fn memberships(&self, user: UserId) -> StoreResult<Vec<Membership>> {
        let sql = "SELECT m.org_id, o.name AS org_name, o.slug AS org_slug, m.user_id, m.role, m.created_at \
                   FROM memberships m JOIN organisations o ON o.id = m.org_id WHERE m.user_id = $1 ORDER BY m.created_at, m.org_id";
        let rows = on_pool!(&self.db, |pool| sqlx::query_as::<_, MembershipRow>(sql)
            .bind(user.as_uuid())
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(MembershipRow::into_membership).collect()
    }

    async fn profile(&self, user: UserId) -> StoreResult<(User, Vec<Membership>)> {
        let columns = USER_COLUMNS.split(", ").map(|c| format!("u.{c}")).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "SELECT {columns}, m.org_id, o.name AS org_name, o.slug AS org_slug, m.role, m.created_at AS member_since \
             FROM users u LEFT JOIN memberships m ON m.user_id = u.id LEFT JOIN organisations o ON o.id = m.org_id \
             WHERE u.id = $1 ORDER BY m.created_at, m.org_id"
        );
        let rows = on_pool!(&self.db, |pool| sqlx::query_as::<_, ProfileRow>(&sql)
            .bind(user.as_uuid())
            .fetch_all(pool)
            .await)?;
        let mut memberships = Vec::with_capacity(rows.len());
        let mut found = None;
        for row in rows {
            if let (Some(org_id), Some(org_name), Some(org_slug), Some(role), Some(created_at)) =
                (row.org_id, row.org_name, row.org_slug, row.role, row.member_since)
            {
                let membership =
                    MembershipRow { org_id, org_name, org_slug, user_id: user.as_uuid(), role, created_at };
                memberships.push(membership.into_membership()?);
            }
            found.get_or_insert(row.user);
        }
        let user = found.ok_or(StoreError::NotFound)?.into_user()?;
        Ok((user, memberships))
    }
}

enum MembershipChange {
    SetRole(Role),
    Remove,
}

impl SqlStore {
    /// Applies a change unless it would leave no admin, with its effects when it changed a row;
    /// returns the rows changed. In PostgreSQL two concurrent demotions could each see the other
    /// admin still in place, so the organisation row is locked first; SQLite has one writer at a
    /// time, so the statement alone is safe.
    async fn change_membership(
        &self,
        org: OrgId,
        user: UserId,
        change: MembershipChange,
        effects: &Effects,
    ) -> StoreResult<u64> {
        let (sql, role) = match change {
            MembershipChange::SetRole(role) => (
                format!(
                    "UPDATE memberships SET role = $3, updated_at = $4 WHERE org_id = $1 AND user_id = $2 \
                     AND ($3 = 'admin' OR role <> 'admin' OR {OTHER_ADMIN_EXISTS})"
                ),
                Some(role),
            ),
            MembershipChange::Remove => (
                format!(
                    "DELETE FROM memberships WHERE org_id = $1 AND user_id = $2 AND (role <> 'admin' OR {OTHER_ADMIN_EXISTS})"
                ),
                None,
            ),
        };
        let now = self.now();
        macro_rules! run {
            ($executor:expr) => {{
                let query = sqlx::query(&sql).bind(org.as_uuid()).bind(user.as_uuid());
                let query = match role {
                    Some(role) => query.bind(role.as_str()).bind(now),
                    None => query,
                };
                query.execute($executor).await?.rows_affected()
            }};
        }
        let lock = matches!(self.db, Db::Postgres(_));
        let nothing = Effects::none();
        Ok(unit_of_work!(
            self,
            |tx| {
                if lock {
                    sqlx::query("SELECT id FROM organisations WHERE id = $1 FOR UPDATE")
                        .bind(org.as_uuid())
                        .execute(&mut *tx)
                        .await?;
                }
                run!(&mut *tx)
            },
            |changed: &u64| if *changed > 0 { effects.clone() } else { nothing.clone() }
        ))
    }

    async fn member(&self, org: OrgId, user: UserId) -> StoreResult<Member> {
        let sql = format!("{} WHERE m.org_id = $1 AND m.user_id = $2", member_query());
        let row = on_pool!(&self.db, |pool| {
            sqlx::query_as::<_, MemberRow>(&sql).bind(org.as_uuid()).bind(user.as_uuid()).fetch_one(pool).await
        })?;
        row.into_member()
    }
}

#[async_trait]
impl MemberStore for SqlStore {
    async fn list(&self, org: OrgId) -> StoreResult<Vec<Member>> {
        let sql = format!("{} WHERE m.org_id = $1 ORDER BY m.created_at, u.id", member_query());
        let rows =
            on_pool!(&self.db, |pool| sqlx::query_as::<_, MemberRow>(&sql).bind(org.as_uuid()).fetch_all(pool).await)?;
        rows.into_iter().map(MemberRow::into_member).collect()
    }

    async fn role_of(&self, org: OrgId, user: UserId) -> StoreResult<Option<Role>> {
        let row: Option<(String,)> = on_pool!(&self.db, |pool| {
            sqlx::query_as("SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2")
                .bind(org.as_uuid())
                .bind(user.as_uuid())
                .fetch_optional(pool)
                .await
        })?;
        row.map(|(role,)| parse_role(&role)).transpose()
    }

    async fn add(&self, org: OrgId, user: UserId, role: Role, effects: &Effects) -> StoreResult<Member> {
        let now = self.now();
        unit_of_work!(
            self,
            |tx| {
                sqlx::query(INSERT_MEMBERSHIP)
                    .bind(org.as_uuid())
                    .bind(user.as_uuid())
                    .bind(role.as_str())
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(|error| match &error {
                        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
                        _ => StoreError::conflict_on("member")(error),
                    })?;
            },
            |_: &()| effects.clone()
        );
        self.member(org, user).await
    }

    async fn set_role(&self, org: OrgId, user: UserId, role: Role, effects: &Effects) -> StoreResult<Member> {
        if self.change_membership(org, user, MembershipChange::SetRole(role), effects).await? == 0 {
            self.member(org, user).await?; // NotFound when there is no such member
            return Err(StoreError::Refused(LAST_ADMIN));
        }
        self.member(org, user).await
    }

    async fn remove(&self, org: OrgId, user: UserId, effects: &Effects) -> StoreResult<()> {
        if self.change_membership(org, user, MembershipChange::Remove, effects).await? == 0 {
            self.member(org, user).await?;
            return Err(StoreError::Refused(LAST_ADMIN));
        }
        Ok(())
    }

    async fn create_org(
        &self,
        new: &NewOrganisation,
        admin: UserId,
        then: EffectsOf<'_, Organisation>,
    ) -> StoreResult<Organisation> {
        let now = self.now();
        let org_id = OrgId::new();
        Ok(unit_of_work!(
            self,
            |tx| {
                sqlx::query(INSERT_ORG)
                    .bind(org_id.as_uuid())
                    .bind(&new.name)
                    .bind(new.slug.as_str())
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::conflict_on("slug"))?;
                sqlx::query(INSERT_MEMBERSHIP)
                    .bind(org_id.as_uuid())
                    .bind(admin.as_uuid())
                    .bind(Role::Admin.as_str())
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::conflict_on("slug"))?;
                Organisation {
                    id: org_id,
                    name: new.name.clone(),
                    slug: new.slug.clone(),
                    created_at: now,
                    updated_at: now,
                }
            },
            then
        ))
    }
}
