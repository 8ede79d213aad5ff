//! Forged and misplaced credentials are refused with 401.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::helpers::{Backend, TestApp, problem};

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64")).expect("JSON")
}

/// HS256 over `header.payload` with `key`, written out so the test depends on no JWT library.
fn sign(header: &Value, claims: &Value, key: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let signing_input = format!("{}.{}", b64(header), b64(claims));
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("any key length");
    mac.update(signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

#[tokio::test]
async fn forged_and_misplaced_tokens_are_refused() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let ada = app.register("ada").await;
    let key = URL_SAFE_NO_PAD.decode(crate::helpers::signing_key(app.store.as_ref()).await).expect("stored as base64");
    let claims = payload(&ada.access);
    let header = serde_json::json!({"alg": "HS256", "typ": "JWT"});
    assert_eq!(
        app.call("GET", "/api/v1/auth/me", Some(&sign(&header, &claims, &key)), None).await.status(),
        200,
        "the re-signed original is fine"
    );

    let mut promoted = claims.clone();
    promoted["role"] = "admin".into();
    promoted["sub"] = uuid::Uuid::now_v7().to_string().into();
    let parts: Vec<&str> = ada.access.split('.').collect();
    let changed_payload = format!("{}.{}.{}", parts[0], b64(&promoted), parts[2]);
    let alg_none = format!("{}.{}.", b64(&serde_json::json!({"alg": "none", "typ": "JWT"})), parts[1]);
    let wrong_key = sign(&header, &claims, b"a key the server has never seen!");
    let mut old = claims.clone();
    old["exp"] = (chrono::Utc::now().timestamp() - 10).into();
    let expired = sign(&header, &old, &key);
    let mut no_session = claims.clone();
    no_session.as_object_mut().expect("object").remove("sid");
    let sessionless = sign(&header, &no_session, &key);

    for (what, token) in [
        ("changed payload", changed_payload),
        ("alg none", alg_none),
        ("wrong key", wrong_key),
        ("expired", expired),
        ("no session", sessionless),
        ("refresh token", ada.refresh.clone()),
        ("node key", "nk_AAAAAAAAAAAA_bm90LWEtcmVhbC1rZXk".to_owned()),
        ("garbage", "not.a.token".to_owned()),
    ] {
        let response = app.call("GET", "/api/v1/auth/me", Some(&token), None).await;
        assert_eq!(response.status(), 401, "{what}");
        assert!(response.headers().contains_key("www-authenticate"), "{what}");
        problem(response, 401).await;
    }

    // Tokens in the query string are never read.
    for query in
        [format!("access_token={}", ada.access), format!("token={}", ada.access), format!("api_key={}", ada.access)]
    {
        problem(app.get(&format!("/api/v1/auth/me?{query}")).await, 401).await;
    }
    // Other schemes are not bearer tokens.
    let basic =
        app.client.get(app.url("/api/v1/auth/me")).header("authorization", format!("Basic {}", ada.access)).send();
    problem(basic.await.expect("sent"), 401).await;
}
