//! Joining by invitation: an admin invites an address, its owner accepts or declines. Inviting
//! tells nothing about which accounts exist, nobody is made a member without consent (but by a
//! superuser), a member may leave, and no answer tells a non-superuser who is a superuser.

use rstest::rstest;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, TestUser, json_of, problem, remember_secret};

async fn invite(app: &TestApp, admin: &TestUser, email: &str, role: &str) -> reqwest::Response {
    let path = format!("/api/v1/orgs/{}/invitations", admin.org);
    app.call("POST", &path, Some(&admin.access), Some(&json!({"email": email, "role": role}))).await
}

/// The field names of a JSON object, sorted.
fn shape(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().expect("an object").keys().cloned().collect();
    keys.sort();
    keys
}

async fn member_count(app: &TestApp, admin: &TestUser) -> usize {
    let members = app.call("GET", &format!("/api/v1/orgs/{}/members", admin.org), Some(&admin.access), None).await;
    json_of(members).await.as_array().map_or(0, Vec::len)
}

#[rstest]
#[tokio::test]
async fn inviting_answers_alike_whether_or_not_an_account_has_the_address(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    app.register("bob").await;

    let existing = invite(&app, &ada, "bob@example.com", "analyst").await;
    let unknown = invite(&app, &ada, "nobody@example.com", "analyst").await;

    assert_eq!((existing.status().as_u16(), unknown.status().as_u16()), (201, 201));
    let (existing, unknown) = (json_of(existing).await, json_of(unknown).await);
    assert_eq!(shape(&existing), shape(&unknown));
    for field in ["org_id", "org_name", "role", "invited_by"] {
        assert_eq!(existing[field], unknown[field], "{field}");
    }
    assert_eq!(member_count(&app, &ada).await, 1, "nobody joined without accepting");

    // Adding directly is a superuser's: refused alike to an admin, account or not.
    let members = format!("/api/v1/orgs/{}/members", ada.org);
    for email in ["bob@example.com", "nobody@example.com"] {
        let direct =
            app.call("POST", &members, Some(&ada.access), Some(&json!({"email": email, "role": "viewer"}))).await;
        problem(direct, 403).await;
    }
}

#[rstest]
#[tokio::test]
async fn the_invited_user_accepts_or_declines_and_nobody_else_can(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let eve = app.register("eve").await;
    let for_bob = json_of(invite(&app, &ada, "BOB@example.com", "analyst").await).await;
    let for_carol = json_of(invite(&app, &ada, "carol@example.com", "viewer").await).await;
    let (bob_invitation, carol_invitation) =
        (for_bob["id"].as_str().expect("id").to_owned(), for_carol["id"].as_str().expect("id").to_owned());

    let seen_by_bob = json_of(app.call("GET", "/api/v1/invitations", Some(&bob.access), None).await).await;
    let seen_by_eve = json_of(app.call("GET", "/api/v1/invitations", Some(&eve.access), None).await).await;
    assert_eq!(seen_by_bob.as_array().map(Vec::len), Some(1));
    assert_eq!(
        (seen_by_bob[0]["id"].as_str(), seen_by_bob[0]["role"].as_str()),
        (Some(&*bob_invitation), Some("analyst"))
    );
    assert_eq!(seen_by_bob[0]["org_name"], "ada");
    assert_eq!(seen_by_eve, json!([]));

    let accept = |id: &str| format!("/api/v1/invitations/{id}/accept");
    let decline = |id: &str| format!("/api/v1/invitations/{id}/decline");
    problem(app.call("POST", &accept(&bob_invitation), Some(&eve.access), None).await, 404).await;
    problem(app.call("POST", &decline(&bob_invitation), Some(&eve.access), None).await, 404).await;

    let accepted = app.call("POST", &accept(&bob_invitation), Some(&bob.access), None).await;
    assert_eq!(accepted.status(), 200);
    let membership = json_of(accepted).await;
    assert_eq!(
        (membership["org_id"].as_str(), membership["role"].as_str()),
        (Some(&*ada.org.to_string()), Some("analyst"))
    );
    problem(app.call("POST", &accept(&bob_invitation), Some(&bob.access), None).await, 404).await;
    let in_ada = app.login("bob", &bob.password, Some(ada.org)).await;
    assert_eq!(json_of(in_ada).await["role"], "analyst");

    assert_eq!(app.call("POST", &decline(&carol_invitation), Some(&carol.access), None).await.status(), 204);
    problem(app.call("POST", &accept(&carol_invitation), Some(&carol.access), None).await, 404).await;
    problem(app.login("carol", &carol.password, Some(ada.org)).await, 403).await;

    assert_eq!(member_count(&app, &ada).await, 2);
    let open = app.call("GET", &format!("/api/v1/orgs/{}/invitations", ada.org), Some(&ada.access), None).await;
    assert_eq!(json_of(open).await, json!([]));
    let audit = json_of(app.call("GET", "/api/v1/audit", Some(&ada.access), None).await).await;
    let actions: Vec<&str> =
        audit["items"].as_array().expect("items").iter().filter_map(|e| e["action"].as_str()).collect();
    for action in ["invitation.create", "invitation.accept", "invitation.decline"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
}

#[rstest]
#[tokio::test]
async fn an_admin_withdraws_an_invitation_and_a_key_cannot_invite(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let bob = app.register("bob").await;
    let invitation = json_of(invite(&app, &ada, "bob@example.com", "admin").await).await;
    let id = invitation["id"].as_str().expect("id");

    let withdrawn =
        app.call("DELETE", &format!("/api/v1/orgs/{}/invitations/{id}", ada.org), Some(&ada.access), None).await;
    assert_eq!(withdrawn.status(), 204);
    problem(app.call("POST", &format!("/api/v1/invitations/{id}/accept"), Some(&bob.access), None).await, 404).await;
    assert_eq!(json_of(app.call("GET", "/api/v1/invitations", Some(&bob.access), None).await).await, json!([]));

    let key =
        app.call("POST", "/api/v1/api-keys", Some(&ada.access), Some(&json!({"name": "k", "role": "admin"}))).await;
    let key = json_of(key).await["key"].as_str().expect("key").to_owned();
    remember_secret(key.clone());
    let by_key = app
        .call(
            "POST",
            &format!("/api/v1/orgs/{}/invitations", ada.org),
            Some(&key),
            Some(&json!({"email": "mallory@example.com", "role": "admin"})),
        )
        .await;
    problem(by_key, 403).await;
}

#[rstest]
#[tokio::test]
async fn a_member_may_leave_but_not_the_last_admin(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let root = app.superuser("root").await;
    let ada = app.register("ada").await;
    let bob = app.member_of(&ada, "bob", "viewer").await;
    let leave = format!("/api/v1/orgs/{}/leave", ada.org);

    assert_eq!(app.call("POST", &leave, Some(&bob.access), None).await.status(), 204);

    problem(app.call("GET", "/api/v1/targets", Some(&bob.access), None).await, 401).await;
    assert_eq!(member_count(&app, &ada).await, 1);
    problem(app.call("POST", &leave, Some(&ada.access), None).await, 409).await;
    // Once the member has gone, the admin's account can be deleted again.
    assert_eq!(app.call("DELETE", &format!("/api/v1/users/{}", ada.id), Some(&root.access), None).await.status(), 204);
}

#[rstest]
#[tokio::test]
async fn a_superuser_adds_a_member_directly_and_nobody_else_learns_they_are_one(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let root = app.superuser("root").await;
    let ada = app.register("ada").await;
    let bob = app.register("bob").await;
    let members = format!("/api/v1/orgs/{}/members", ada.org);

    let added = app
        .call("POST", &members, Some(&root.access), Some(&json!({"email": "bob@example.com", "role": "viewer"})))
        .await;
    assert_eq!(added.status(), 201);
    app.join(&ada, &root, "viewer").await;

    let listed = json_of(app.call("GET", &members, Some(&ada.access), None).await).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(3));
    assert!(!listed.to_string().contains("is_superuser"), "{listed}");
    let ids: Vec<&str> = listed.as_array().expect("members").iter().filter_map(|m| m["user"]["id"].as_str()).collect();
    assert!(ids.contains(&bob.id.to_string().as_str()) && ids.contains(&root.id.to_string().as_str()));
}
