//! The test harness: a real server on a random 127.0.0.1 port, over a fresh database, with its
//! logs captured so that every test can check nothing secret was written to them.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::extract::Query;
use axum::routing::{get, post};
use rampart::config::{Config, LogFormat};
use rampart::serve::Server;
use rampart_api::{ApiError, ApiJson, AppState};
use rampart_core::ValidationErrors;
use rampart_core::time::ManualClock;
use rampart_store::{ConnectOptions, Effects, SqlStore, Store};
pub use rampart_testkit::{Backend, TestDatabase};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use uuid::Uuid;

/// A password the tests send in bodies and headers; it must never show up in a log line.
pub const TEST_PASSWORD: &str = "correct-horse-battery-staple-7731";

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub store: Arc<dyn Store>,
    pub watch: rampart_watch::Watch,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    database: TestDatabase,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(TestDatabase::create(backend).await, |_| {}).await
    }

    /// A server on `database`, after `configure` has adjusted the test configuration.
    pub async fn spawn_with(database: TestDatabase, configure: impl FnOnce(&mut Config)) -> Self {
        let config = test_config(&database);
        Self::spawn_on(database, config, configure, None).await
    }

    /// A server whose clock stands still until the test moves it.
    pub async fn spawn_with_clock(backend: Backend) -> (Self, Arc<ManualClock>) {
        let database = TestDatabase::create(backend).await;
        let clock = Arc::new(ManualClock::starting_now());
        let config = test_config(&database);
        let app = Self::spawn_on(database, config, |_| {}, Some(clock.clone())).await;
        (app, clock)
    }

    async fn spawn_on(
        database: TestDatabase,
        mut config: Config,
        configure: impl FnOnce(&mut Config),
        clock: Option<Arc<ManualClock>>,
    ) -> Self {
        configure(&mut config);
        capture_logs(&config);
        let server = match clock {
            None => Server::build_with(&config, test_routes()).await,
            Some(clock) => {
                let options = ConnectOptions {
                    location: config.database_location(),
                    max_connections: config.database.max_connections,
                    acquire_timeout: config.database.acquire_timeout,
                    busy_timeout: config.database.busy_timeout,
                };
                let store = SqlStore::connect(&options).await.expect("connect").with_clock(clock);
                store.migrate().await.expect("migrate");
                Server::build_on(&config, Arc::new(store), test_routes()).await
            }
        }
        .expect("the test server builds");
        let addr = server.local_addr().expect("bound");
        let store = server.store();
        let watch = server.watch();
        remember_secret(signing_key(store.as_ref()).await);
        let (shutdown, signal) = oneshot::channel::<()>();
        let server = tokio::spawn(server.run(async move {
            let _ = signal.await;
        }));
        let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
        Self { addr, client, store, watch, shutdown: Some(shutdown), server: Some(server), database }
    }

    pub fn database(&self) -> &TestDatabase {
        &self.database
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("request sent")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client.post(self.url(path)).json(body).send().await.expect("request sent")
    }

    /// Sends a request with an optional bearer token and JSON body.
    pub async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> reqwest::Response {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("request sent")
    }

    /// `user` imports `report`, posted raw with `query` (`format=sarif&source=…`).
    pub async fn import(&self, user: &TestUser, query: &str, report: impl Into<reqwest::Body>) -> reqwest::Response {
        self.client
            .post(self.url(&format!("/api/v1/imports?{query}")))
            .bearer_auth(&user.access)
            .header("content-type", "application/octet-stream")
            .body(report)
            .send()
            .await
            .expect("request sent")
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// A sensor's POST of `body` with its node key.
    pub async fn sensor_call(&self, path: &str, key: &str, body: &Value) -> reqwest::Response {
        self.client.post(self.url(path)).header("X-Node-Key", key).json(body).send().await.expect("request sent")
    }

    /// Registers `name` (with a personal organisation, of which they are admin).
    pub async fn register(&self, name: &str) -> TestUser {
        let password = format!("{name} rides the {TEST_PASSWORD}");
        let body =
            json!({"email": format!("{name}@example.com"), "username": name, "password": password, "full_name": name});
        let response = self.post_json("/api/v1/auth/register", &body).await;
        assert_eq!(response.status(), 201, "register {name}");
        let registered: Value = response.json().await.expect("JSON");
        TestUser::from_tokens(name, password, &registered["tokens"], registered["user"]["id"].as_str().expect("id"))
    }

    /// Registers `name` and makes them a superuser.
    pub async fn superuser(&self, name: &str) -> TestUser {
        let user = self.register(name).await;
        let id = rampart_core::UserId::from_uuid(user.id);
        let patch = rampart_core::identity::UserPatch { is_superuser: Some(true), ..Default::default() };
        self.store.users().update(id, &patch, &Effects::none()).await.expect("promote");
        user
    }

    /// Logs in with the password; `org` picks the organisation.
    pub async fn login(&self, login: &str, password: &str, org: Option<Uuid>) -> reqwest::Response {
        let body = json!({"login": login, "password": password, "org": org.map(|org| org.to_string())});
        self.post_json("/api/v1/auth/login", &body).await
    }

    /// A new user with `role` in `admin`'s organisation (invited and accepting), logged in there.
    pub async fn member_of(&self, admin: &TestUser, name: &str, role: &str) -> TestUser {
        let user = self.register(name).await;
        self.join(admin, &user, role).await;
        let response = self.login(&user.username, &user.password, Some(admin.org)).await;
        assert_eq!(response.status(), 200);
        let tokens: Value = response.json().await.expect("JSON");
        TestUser::from_tokens(name, user.password, &tokens, &user.id.to_string())
    }

    /// `admin` invites `user` to their organisation with `role`, and `user` accepts.
    pub async fn join(&self, admin: &TestUser, user: &TestUser, role: &str) {
        let path = format!("/api/v1/orgs/{}/invitations", admin.org);
        let body = json!({"email": user.email, "role": role});
        let invited = self.call("POST", &path, Some(&admin.access), Some(&body)).await;
        assert_eq!(invited.status(), 201, "invite {} as {role}", user.username);
        let invitation: Value = invited.json().await.expect("JSON");
        let accept = format!("/api/v1/invitations/{}/accept", invitation["id"].as_str().expect("id"));
        assert_eq!(self.call("POST", &accept, Some(&user.access), None).await.status(), 200, "accept");
    }

    /// Starts a graceful shutdown and waits for the server to finish draining.
    pub async fn shutdown(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("the server task ends cleanly");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            assert_logs_hold_no_secret();
        }
    }
}

/// A logged-in user of the test server.
#[derive(Clone, Debug)]
pub struct TestUser {
    pub id: Uuid,
    pub org: Uuid,
    pub email: String,
    pub username: String,
    pub password: String,
    pub access: String,
    pub refresh: String,
}

impl TestUser {
    fn from_tokens(name: &str, password: String, tokens: &Value, id: &str) -> Self {
        let access = tokens["access_token"].as_str().expect("access token").to_owned();
        let refresh = tokens["refresh_token"].as_str().expect("refresh token").to_owned();
        for secret in [&password, &access, &refresh] {
            remember_secret(secret.clone());
        }
        Self {
            id: id.parse().expect("uuid"),
            org: tokens["org_id"].as_str().expect("org").parse().expect("uuid"),
            email: format!("{name}@example.com"),
            username: name.to_owned(),
            password,
            access,
            refresh,
        }
    }
}

pub fn test_config(database: &TestDatabase) -> Config {
    let mut config = Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        log_format: LogFormat::Json,
        // As verbose as anyone would run it, so a leak at debug level is caught too.
        log_level: "debug".into(),
        ..Config::default()
    };
    // Tests log in far more often than a person; the limit has a test of its own.
    config.auth.attempts_per_minute = 10_000;
    // Users come from registration here; that registration is closed by default has its own test.
    config.auth.registration = rampart::config::Registration::Open;
    match database {
        TestDatabase::Sqlite { .. } => config.data_dir = database.data_dir().expect("SQLite has a directory"),
        TestDatabase::Postgres { .. } => config.database_url = Some(database.url()),
    }
    config
}

/// The signing key as the store keeps it.
pub async fn signing_key(store: &dyn Store) -> String {
    store.secrets().get_or_insert("token_signing_key", "unused").await.expect("the key exists")
}

/// A problem document, checked for the fields every problem has.
pub async fn problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status);
    let content_type = response.headers()["content-type"].to_str().expect("ASCII").to_owned();
    assert_eq!(content_type, "application/problem+json");
    let request_id = response.headers()["x-request-id"].to_str().expect("ASCII").to_owned();
    let body: Value = response.json().await.expect("a JSON problem");
    assert_eq!(body["status"], status);
    assert_eq!(body["request_id"], request_id.as_str(), "the body names the request of the header");
    assert!(body["type"].is_string() && body["title"].is_string() && body["detail"].is_string(), "{body}");
    assert_no_secret(&body.to_string());
    body
}

// ---- routes that only tests have, behind the real middleware ----

#[derive(Deserialize)]
struct EchoBody {
    name: String,
    count: u8,
    #[serde(default)]
    #[allow(dead_code)]
    password: Option<String>,
}

#[derive(Deserialize)]
struct SlowQuery {
    ms: u64,
}

fn test_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/test/echo",
            post(|ApiJson(body): ApiJson<EchoBody>| async move {
                if body.name.trim().is_empty() {
                    return Err(ApiError::Validation(ValidationErrors::single("name", "must not be empty")));
                }
                Ok(axum::Json(json!({ "name": body.name, "count": body.count })))
            }),
        )
        .route(
            "/api/v1/test/panic",
            get(|| async {
                // The message carries a secret: neither the response nor the log may repeat it.
                let message = format!("cannot go on with {TEST_PASSWORD}");
                if !message.is_empty() {
                    panic!("{message}");
                }
                "unreachable"
            }),
        )
        .route(
            "/api/v1/test/slow",
            get(|Query(query): Query<SlowQuery>| async move {
                SLOW_STARTED.notify_one();
                tokio::time::sleep(Duration::from_millis(query.ms)).await;
                "done"
            }),
        )
        .route(
            "/api/v1/test/held",
            get(|| async {
                SLOW_STARTED.notify_one();
                HELD.notified().await;
                "done"
            }),
        )
}

/// The pages anyone may read with no credential.
pub const PUBLIC_PAGES: &[&str] = &[
    "/api/v1/health",
    "/api/v1/health/live",
    "/api/v1/health/ready",
    "/api/v1/openapi.json",
    "/docs",
    "/docs/{file}",
    "/metrics",
];

/// Releases a request held at `/api/v1/test/held`.
pub static HELD: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Signalled when a slow request has reached its handler.
pub static SLOW_STARTED: tokio::sync::Notify = tokio::sync::Notify::const_new();

// ---- log capture ----

static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());
static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[derive(Clone, Copy)]
struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs(config: &Config) {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        remember_secret(TEST_PASSWORD.to_owned());
        rampart::logging::init_with_writer(config, || Capture, false);
        // The server's hook logs only where a panic happened; a failing test must still say why.
        let server_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            server_hook(info);
            eprintln!("{info}");
        }));
    });
}

pub fn remember_secret(secret: String) {
    SECRETS.lock().expect("secrets").push(secret);
}

/// Everything logged by this test process so far.
pub fn captured_logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().expect("log buffer")).into_owned()
}

/// No secret, SQL statement or backtrace in `text`.
pub fn assert_no_secret(text: &str) {
    for secret in SECRETS.lock().expect("secrets").iter() {
        assert!(!text.contains(secret.as_str()), "a secret leaked into: {text}");
    }
    for marker in ["SELECT ", "INSERT INTO", "stack backtrace", "RUST_BACKTRACE", "panicked at"] {
        assert!(!text.contains(marker), "{marker:?} leaked into: {text}");
    }
}

fn assert_logs_hold_no_secret() {
    assert_no_secret(&captured_logs());
}

// ---- what many test files read or send ----

/// The JSON body of a response, whatever its status.
pub async fn json_of(response: reqwest::Response) -> Value {
    response.json().await.expect("JSON")
}

/// The JSON body of a response that must have succeeded.
pub async fn ok_json_of(response: reqwest::Response) -> Value {
    assert!(response.status().is_success(), "status {}", response.status());
    json_of(response).await
}

/// The value of a metric series (`name` or `name{labels}`) the server exposes now.
pub async fn gauge(app: &TestApp, series: &str) -> i64 {
    let text = app.get("/metrics").await.text().await.expect("metrics");
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {series} in {text}"))
}

/// A node of `kind` in the admin's organisation: its id and its key, shown once.
pub async fn create_node(app: &TestApp, admin: &TestUser, name: &str, kind: &str) -> (String, String) {
    let response =
        app.call("POST", "/api/v1/nodes", Some(&admin.access), Some(&json!({"name": name, "kind": kind}))).await;
    assert_eq!(response.status(), 201);
    let node = json_of(response).await;
    let key = node["key"].as_str().expect("the key, shown once").to_owned();
    remember_secret(key.clone());
    (node["id"].as_str().expect("id").to_owned(), key)
}

/// Sends events with a node's key; they must be taken.
pub async fn ingest(app: &TestApp, key: &str, events: &Value) -> Value {
    let response = app.sensor_call("/api/v1/ingest/events", key, events).await;
    assert_eq!(response.status(), 200, "ingested");
    json_of(response).await
}

/// A decoy file touched, seen from `ip`.
pub fn decoy(ip: &str) -> Value {
    json!({"kind": "decoy", "decoy_name": "aws-keys.txt", "source_ip": ip})
}

/// A viewer API key of the user's organisation, named `name`: the key, shown once, and its id.
pub async fn create_api_key(app: &TestApp, user: &TestUser, name: &str) -> (String, String) {
    let body = json!({"name": name, "role": "viewer"});
    let response = app.call("POST", "/api/v1/api-keys", Some(&user.access), Some(&body)).await;
    assert_eq!(response.status(), 201);
    let created = json_of(response).await;
    let key = created["key"].as_str().expect("the key").to_owned();
    remember_secret(key.clone());
    (key, created["api_key"]["id"].as_str().expect("id").to_owned())
}

/// Sends raw bytes and reads until the server closes the connection.
pub async fn raw_exchange(app: &TestApp, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(app.addr).await.expect("connect");
    stream.write_all(request).await.expect("write");
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut response))
        .await
        .expect("the server answers")
        .expect("read");
    String::from_utf8_lossy(&response).into_owned()
}
