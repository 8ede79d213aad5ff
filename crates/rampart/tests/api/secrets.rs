//! Passwords, refresh tokens and keys appear nowhere in the database in clear.

use rstest::rstest;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, TestDatabase};

/// Every byte the database holds, as text: the SQLite files, or every row of every table.
async fn database_text(database: &TestDatabase) -> String {
    match (database.data_dir(), database.postgres_url()) {
        (Some(dir), _) => {
            let mut text = String::new();
            for name in ["rampart.db", "rampart.db-wal"] {
                if let Ok(bytes) = std::fs::read(dir.join(name)) {
                    text.push_str(&String::from_utf8_lossy(&bytes));
                }
            }
            text
        }
        (None, Some(url)) => {
            use sqlx::{ConnectOptions, Row};
            let options: sqlx::postgres::PgConnectOptions = url.parse().expect("a PostgreSQL URL");
            let mut conn = options.log_statements(tracing::log::LevelFilter::Off).connect().await.expect("connect");
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
            )
            .fetch_all(&mut conn)
            .await
            .expect("tables");
            let mut text = String::new();
            for table in tables {
                let rows = sqlx::query(&format!("SELECT row_to_json(t)::text FROM \"{table}\" t"))
                    .fetch_all(&mut conn)
                    .await
                    .expect("rows");
                for row in rows {
                    text.push_str(&row.get::<String, _>(0));
                }
            }
            text
        }
        _ => unreachable!("a test database is one or the other"),
    }
}

#[rstest]
#[tokio::test]
async fn no_secret_is_stored_in_clear(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let app = TestApp::spawn_with(database, |_| {}).await;
    let ada = app.register("ada").await;
    let refreshed: Value =
        app.post_json("/api/v1/auth/refresh", &json!({"refresh_token": ada.refresh})).await.json().await.expect("JSON");
    let (key, _) = crate::helpers::create_api_key(&app, &ada, "ci").await;
    // `rk_<lookup>_<secret>`; the secret is URL-safe base64, which may itself hold `_`.
    let secret_part = key.splitn(3, '_').nth(2).expect("secret part").to_owned();

    let text = database_text(app.database()).await;

    assert!(text.contains("ada@example.com"), "the scan reads the data at all");
    assert!(text.contains("$argon2id$"), "passwords are stored as Argon2id hashes");
    for (what, secret) in [
        ("password", ada.password.as_str()),
        ("first refresh token", ada.refresh.as_str()),
        ("rotated refresh token", refreshed["refresh_token"].as_str().expect("token")),
        ("API key", key.as_str()),
        ("API key secret", secret_part.as_str()),
    ] {
        assert!(!text.contains(secret), "the {what} is stored in clear");
    }
}
