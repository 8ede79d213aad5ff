//! The identity part of the store contract, on SQLite and PostgreSQL.

use std::time::Duration;

use chrono::Utc;
use rampart_core::identity::{Actor, AuditAction, NewApiKey, NewAuditEvent, NewUser, Outcome, Role, UserPatch};
use rampart_core::orgs::NewOrganisation;
use rampart_core::{OrgId, UserId};
use rampart_store::{AuditFilter, ConnectOptions, Effects, Location, Rotation, Seek, SqlStore, Store, StoreError};
use rampart_testkit::{Backend, TestDatabase};
use rstest::rstest;

struct Fixture {
    store: SqlStore,
    db: TestDatabase,
}

async fn store(backend: Backend) -> Fixture {
    let db = TestDatabase::create(backend).await;
    let location = Location::from_url(&db.url()).expect("valid");
    let options = ConnectOptions {
        location,
        max_connections: 5,
        acquire_timeout: Duration::from_secs(10),
        busy_timeout: Duration::from_secs(5),
    };
    let store = SqlStore::connect(&options).await.expect("connect");
    store.migrate().await.expect("migrate");
    Fixture { store, db }
}

async fn user(store: &SqlStore, name: &str) -> (UserId, OrgId) {
    let new = NewUser::parse(&format!("{name}@example.com"), name, "", "a long passphrase 42").expect("valid");
    let org = NewOrganisation::parse(name, None).expect("valid");
    let (user, org) = store.users().create(&new, "$argon2id$hash", &org, &|_| Effects::none()).await.expect("create");
    (user.id, org.id)
}

#[rstest]
#[tokio::test]
async fn a_new_user_is_admin_of_a_personal_organisation(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let f = store(backend).await;
    let (ada, org) = user(&f.store, "ada").await;

    let memberships = f.store.users().memberships(ada).await.expect("memberships");
    let (found, hash) = f.store.users().find_for_login("ADA@Example.com").await.expect("find").expect("exists");
    let by_name = f.store.users().find_for_login("Ada").await.expect("find").expect("exists");

    assert_eq!(memberships.len(), 1);
    assert_eq!((memberships[0].org_id, memberships[0].role), (org, Role::Admin));
    assert_eq!(found.id, ada);
    assert_eq!(by_name.0.id, ada);
    assert_eq!(hash, "$argon2id$hash");
    assert!(found.is_active && !found.is_superuser);
    assert!(f.store.users().find_for_login("nobody").await.expect("find").is_none());
}

#[rstest]
#[tokio::test]
async fn emails_and_usernames_are_unique(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let f = store(backend).await;
    user(&f.store, "ada").await;
    let org = NewOrganisation::parse("other", None).expect("valid");

    let same_email = NewUser::parse("ADA@example.com", "ada2", "", "a long passphrase 42").expect("valid");
    let same_name = NewUser::parse("ada2@example.com", "ADA", "", "a long passphrase 42").expect("valid");

    let email = f.store.users().create(&same_email, "h", &org, &|_| Effects::none()).await;
    let name = f.store.users().create(&same_name, "h", &org, &|_| Effects::none()).await;
    assert!(matches!(email, Err(StoreError::Conflict { what: "email" })), "{email:?}");
    assert!(matches!(name, Err(StoreError::Conflict { what: "username" })), "{name:?}");
    assert_eq!(f.store.users().count().await.expect("count"), 1, "nothing half-created");
}

#[rstest]
#[tokio::test]
async fn an_organisation_always_keeps_an_admin(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let f = store(backend).await;
    let (ada, org) = user(&f.store, "ada").await;
    let (bob, _) = user(&f.store, "bob").await;
    let members = f.store.members();

    members.add(org, bob, Role::Viewer, &Effects::none()).await.expect("add");
    assert!(matches!(
        members.add(org, bob, Role::Viewer, &Effects::none()).await,
        Err(StoreError::Conflict { what: "member" })
    ));
    assert!(matches!(members.set_role(org, ada, Role::Analyst, &Effects::none()).await, Err(StoreError::Refused(_))));
    assert!(matches!(members.remove(org, ada, &Effects::none()).await, Err(StoreError::Refused(_))));
    assert!(matches!(f.store.users().delete(ada, &Effects::none()).await, Err(StoreError::Refused(_))));

    members.set_role(org, bob, Role::Admin, &Effects::none()).await.expect("promote");
    members.set_role(org, ada, Role::Viewer, &Effects::none()).await.expect("now ada may step down");
    assert_eq!(members.role_of(org, ada).await.expect("role"), Some(Role::Viewer));
    members.remove(org, ada, &Effects::none()).await.expect("remove");
    assert_eq!(members.role_of(org, ada).await.expect("role"), None);
    assert!(matches!(members.remove(org, ada, &Effects::none()).await, Err(StoreError::NotFound)));
    assert_eq!(members.list(org).await.expect("list").len(), 1);
}

#[rstest]
#[tokio::test]
async fn refresh_tokens_rotate_once_and_reuse_revokes_the_session(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let f = store(backend).await;
    let (ada, org) = user(&f.store, "ada").await;
    let sessions = f.store.sessions();
    let later = Utc::now() + chrono::Duration::days(1);

    let session = sessions.start(org, ada, "hash-1", later, &Effects::none()).await.expect("start");
    let live = sessions.access_state(ada, org, session).await.expect("state").expect("exists");
    assert!(live.session_live && live.is_active && live.role == Some(Role::Admin));

    assert_eq!(
        sessions.rotate("hash-1", "hash-2", later).await.expect("rotate"),
        Rotation::Rotated { session, user: ada, org }
    );
    assert_eq!(
        sessions.rotate("hash-1", "hash-3", later).await.expect("reuse"),
        Rotation::Reused { session, user: ada, org }
    );
    assert_eq!(sessions.rotate("hash-2", "hash-4", later).await.expect("revoked"), Rotation::Invalid);
    assert_eq!(sessions.rotate("unknown", "hash-5", later).await.expect("unknown"), Rotation::Invalid);
    let revoked = sessions.access_state(ada, org, session).await.expect("state").expect("exists");
    assert!(!revoked.session_live);
}

#[rstest]
#[tokio::test]
async fn sessions_end_when_revoked_or_expired_and_follow_the_user(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let f = store(backend).await;
    let (ada, org) = user(&f.store, "ada").await;
    let (_, other_org) = user(&f.store, "bob").await;
    let sessions = f.store.sessions();
    let past = Utc::now() - chrono::Duration::seconds(1);
    let later = Utc::now() + chrono::Duration::days(1);

    let expired = sessions.start(org, ada, "old", past, &Effects::none()).await.expect("start");
    assert_eq!(sessions.rotate("old", "new", later).await.expect("rotate"), Rotation::Invalid);
    assert!(sessions.access_state(ada, other_org, expired).await.expect("state").is_none(), "not that org's session");

    let session = sessions.start(org, ada, "current", later, &Effects::none()).await.expect("start");
    f.store
        .users()
        .update(ada, &UserPatch { is_active: Some(false), ..UserPatch::default() }, &Effects::none())
        .await
        .expect("deactivate");
    sessions.revoke(session, &Effects::none()).await.expect("revoke");
    let state = sessions.access_state(ada, org, session).await.expect("state").expect("exists");
    assert!(!state.is_active && !state.session_live);
}

#[rstest]
#[tokio::test]
async fn api_keys_are_scoped_and_found_by_prefix(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let f = store(backend).await;
    let (ada, org) = user(&f.store, "ada").await;
    let (_, other) = user(&f.store, "bob").await;
    let keys = f.store.api_keys();
    let new = NewApiKey::parse("ci", "analyst", None, Role::Admin, Utc::now()).expect("valid");

    let key =
        keys.insert(org, &new, "abcd1234", "sha256-of-secret", Some(ada), &|_| Effects::none()).await.expect("insert");

    assert_eq!(key.role, Role::Analyst);
    let found = keys.find_for_auth("abcd1234").await.expect("find").expect("exists");
    assert_eq!((found.key.id, found.key_hash.as_str()), (key.id, "sha256-of-secret"));
    assert_eq!(found.creator_role, Some(Role::Admin));
    assert_eq!(keys.get_for_auth(org, key.id).await.expect("get").map(|found| found.key.id), Some(key.id));
    assert_eq!(keys.get_for_auth(other, key.id).await.expect("get"), None);
    assert_eq!(keys.list(org).await.expect("list").len(), 1);
    assert!(keys.list(other).await.expect("list").is_empty());
    assert!(matches!(keys.get(other, key.id).await, Err(StoreError::NotFound)));
    assert!(matches!(keys.delete(other, key.id, &Effects::none()).await, Err(StoreError::NotFound)));
    keys.touch(key.id, Utc::now()).await.expect("touch");
    assert!(keys.get(org, key.id).await.expect("get").last_used_at.is_some());
    keys.delete(org, key.id, &Effects::none()).await.expect("delete");
    assert!(keys.find_for_auth("abcd1234").await.expect("find").is_none());
}

#[rstest]
#[tokio::test]
async fn a_key_is_read_with_its_creators_current_standing(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let f = store(backend).await;
    let (_, org) = user(&f.store, "ada").await;
    let (bob, _) = user(&f.store, "bob").await;
    f.store.members().add(org, bob, Role::Admin, &Effects::none()).await.expect("add");
    let new = NewApiKey::parse("ci", "admin", None, Role::Admin, Utc::now()).expect("valid");
    f.store
        .api_keys()
        .insert(org, &new, "bobskey12345", "hash", Some(bob), &|_| Effects::none())
        .await
        .expect("insert");
    let creator_role = || async {
        f.store.api_keys().find_for_auth("bobskey12345").await.expect("find").expect("exists").creator_role
    };

    assert_eq!(creator_role().await, Some(Role::Admin));
    f.store.members().set_role(org, bob, Role::Viewer, &Effects::none()).await.expect("demote");
    assert_eq!(creator_role().await, Some(Role::Viewer), "demoted");
    f.store
        .users()
        .update(bob, &UserPatch { is_active: Some(false), ..UserPatch::default() }, &Effects::none())
        .await
        .expect("off");
    assert_eq!(creator_role().await, None, "deactivated");
    f.store
        .users()
        .update(bob, &UserPatch { is_active: Some(true), ..UserPatch::default() }, &Effects::none())
        .await
        .expect("on");
    f.store.members().remove(org, bob, &Effects::none()).await.expect("remove");
    assert_eq!(creator_role().await, None, "removed");
    f.store.members().add(org, bob, Role::Analyst, &Effects::none()).await.expect("add again");
    assert_eq!(creator_role().await, Some(Role::Analyst));
    f.store.users().delete(bob, &Effects::none()).await.expect("delete");
    assert_eq!(creator_role().await, None, "deleted");
}

#[rstest]
#[tokio::test]
async fn a_new_password_ends_every_session_of_the_user(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let f = store(backend).await;
    let (ada, org) = user(&f.store, "ada").await;
    let sessions = f.store.sessions();
    let expires = Utc::now() + chrono::Duration::days(1);
    let first = sessions.start(org, ada, "rt-one", expires, &Effects::none()).await.expect("start");
    let second = sessions.start(org, ada, "rt-two", expires, &Effects::none()).await.expect("start");

    f.store.users().set_password(ada, "$argon2id$new").await.expect("set");

    for session in [first, second] {
        let state = sessions.access_state(ada, org, session).await.expect("state").expect("exists");
        assert!(!state.session_live);
    }
    let rotated = sessions.rotate("rt-one", "rt-three", expires).await.expect("rotate");
    assert_eq!(rotated, Rotation::Invalid);
}

#[rstest]
#[tokio::test]
async fn the_audit_log_is_filtered_paged_and_append_only(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let f = store(backend).await;
    let (ada, org) = user(&f.store, "ada").await;
    let (_, other) = user(&f.store, "bob").await;
    let audit = f.store.audit();
    let event = |org: OrgId, action: AuditAction| NewAuditEvent {
        org: Some(org),
        actor: Actor::User(ada),
        action,
        target: Some("user:x".into()),
        outcome: Outcome::Success,
        ip: Some("127.0.0.1".into()),
        request_id: Some("req-1".into()),
        detail: None,
    };
    for action in [AuditAction::Login, AuditAction::ApiKeyCreate, AuditAction::Login] {
        audit.append(&event(org, action)).await.expect("append");
    }
    audit.append(&event(other, AuditAction::Login)).await.expect("append");

    let all = audit.list(org, &AuditFilter::default(), Seek::first(10)).await.expect("list");
    let logins = AuditFilter { action: Some(AuditAction::Login), ..AuditFilter::default() };
    let page_one = audit.list(org, &logins, Seek::first(1)).await.expect("list");
    let page_two = audit.list(org, &logins, Seek { from: Some(page_one[0].id), limit: 10 }).await.expect("list");

    assert_eq!(all.len(), 3, "another organisation's events stay out");
    assert!(all.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    assert_eq!((page_one.len(), page_two.len()), (1, 1));
    assert_eq!(page_two[0].event.actor, Actor::User(ada));

    // Even with SQL in hand, history cannot be rewritten.
    use sqlx::Connection;
    let attempts = ["UPDATE audit_events SET outcome = 'failure'", "DELETE FROM audit_events"];
    match f.db.postgres_url() {
        Some(url) => {
            let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
            for sql in attempts {
                assert!(sqlx::query(sql).execute(&mut conn).await.is_err(), "{sql}");
            }
        }
        None => {
            let mut conn = sqlx::SqliteConnection::connect(&f.db.url()).await.expect("connect");
            for sql in attempts {
                assert!(sqlx::query(sql).execute(&mut conn).await.is_err(), "{sql}");
            }
        }
    }
    assert_eq!(audit.list(org, &AuditFilter::default(), Seek::first(10)).await.expect("list").len(), 3);
}

#[rstest]
#[tokio::test]
async fn invitations_are_accepted_once_by_their_addressee_and_expire(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    use rampart_core::identity::{Email, NewInvitation};

    let f = store(backend).await;
    let (ada, org) = user(&f.store, "ada").await;
    let (bob, other) = user(&f.store, "bob").await;
    let invitations = f.store.invitations();
    let now = Utc::now();
    let bob_email = Email::parse("bob@example.com").expect("email");
    let new = NewInvitation::parse("bob@example.com", "viewer", now).expect("valid");

    let first = invitations.invite(org, &new, Some(ada), &|_| Effects::none()).await.expect("invite");
    let renewed = NewInvitation { role: Role::Analyst, ..new.clone() };
    let second = invitations.invite(org, &renewed, Some(ada), &|_| Effects::none()).await.expect("renew");
    assert_eq!((second.id, second.role), (first.id, Role::Analyst), "one open invitation per address");
    assert_eq!(invitations.list(org, now).await.expect("list").len(), 1);
    assert!(invitations.list(other, now).await.expect("list").is_empty());
    assert_eq!(invitations.list_for(&bob_email, now).await.expect("mine").len(), 1);
    assert!(
        matches!(invitations.revoke(other, first.id, &|_| Effects::none()).await, Err(StoreError::NotFound)),
        "scoped"
    );
    let ada_email = Email::parse("ada@example.com").expect("email");
    assert!(matches!(
        invitations.accept(first.id, ada, &ada_email, now, &|_| Effects::none()).await,
        Err(StoreError::NotFound)
    ));

    let accepted = invitations.accept(first.id, bob, &bob_email, now, &|_| Effects::none()).await.expect("accept");
    assert_eq!(accepted.org_id, org);
    assert_eq!(f.store.members().role_of(org, bob).await.expect("role"), Some(Role::Analyst));
    assert!(matches!(
        invitations.accept(first.id, bob, &bob_email, now, &|_| Effects::none()).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        invitations.invite(org, &new, Some(ada), &|_| Effects::none()).await,
        Err(StoreError::Conflict { what: "member" })
    ));

    let lapsed = NewInvitation {
        email: Email::parse("carol@example.com").expect("email"),
        role: Role::Viewer,
        expires_at: now - chrono::Duration::seconds(1),
    };
    let expired = invitations.invite(org, &lapsed, Some(ada), &|_| Effects::none()).await.expect("invite");
    assert!(invitations.list(org, now).await.expect("list").is_empty());
    assert!(invitations.list_for(&lapsed.email, now).await.expect("mine").is_empty());
    assert!(matches!(
        invitations.accept(expired.id, bob, &lapsed.email, now, &|_| Effects::none()).await,
        Err(StoreError::NotFound)
    ));
    invitations.decline(expired.id, &lapsed.email, &|_| Effects::none()).await.expect("decline");
    assert!(matches!(
        invitations.decline(expired.id, &lapsed.email, &|_| Effects::none()).await,
        Err(StoreError::NotFound)
    ));
}
