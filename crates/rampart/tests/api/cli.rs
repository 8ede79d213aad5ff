//! The `rampart` binary as a user runs it: configuration errors, redaction, migrate, openapi, and
//! a real `serve` that answers and stops cleanly on SIGTERM.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use rstest::rstest;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestDatabase};

/// The binary with a clean environment, run in `dir` (so no stray rampart.toml or data is used).
fn rampart(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rampart"));
    command.env_clear().current_dir(dir);
    command
}

fn run(command: &mut Command) -> (Output, String, String) {
    let output = command.output().expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output, stdout, stderr)
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

#[test]
fn version_and_help_speak_to_a_newcomer() {
    let dir = temp_dir();
    let (output, stdout, _) = run(rampart(dir.path()).arg("--version"));
    assert!(output.status.success());
    assert_eq!(stdout.trim(), format!("rampart {}", env!("CARGO_PKG_VERSION")));

    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["migrate", "--help"],
        &["config", "check", "--help"],
        &["openapi", "--help"],
    ] {
        let (output, stdout, _) = run(rampart(dir.path()).args(args));
        assert!(output.status.success(), "{args:?}");
        assert!(stdout.contains("Usage:"), "{args:?}: {stdout}");
    }
    let (_, help, _) = run(rampart(dir.path()).args(["serve", "--help"]));
    assert!(help.contains("--listen") && help.contains("SIGTERM"), "{help}");
}

#[test]
fn config_check_redacts_secrets() {
    let dir = temp_dir();
    let (output, stdout, stderr) = run(rampart(dir.path())
        .args(["config", "check"])
        .env("RAMPART_DATABASE_URL", "postgres://rampart:s3cret-pw@db.example:5432/rampart?password=other-pw"));

    assert!(output.status.success(), "{stderr}");
    assert!(stdout.contains("db.example:5432/rampart"), "{stdout}");
    assert!(!stdout.contains("s3cret-pw") && !stdout.contains("other-pw"), "{stdout}");
    assert!(stdout.contains("body_limit = 1048576"), "{stdout}");
    assert!(stdout.contains("listen = \"127.0.0.1:8080\""), "{stdout}");
}

#[test]
fn config_check_redacts_secrets_whatever_their_form() {
    let dir = temp_dir();
    let (output, stdout, stderr) = run(rampart(dir.path())
        .args(["config", "check"])
        .env("RAMPART_BOOTSTRAP_ADMIN_EMAIL", "admin@example.com")
        // A password that reads as a URL (`scheme:path`) is a password all the same.
        .env("RAMPART_BOOTSTRAP_ADMIN_PASSWORD", "swordfish:tuna-42-abc")
        .env(
            "RAMPART_DATABASE_URL",
            "postgres://db.example:5432/rampart?sslmode=require&token=db-tok-77&api_key=db-key-78",
        )
        .env("RAMPART_WATCH__MODEL__URL", "https://scorer:model-pw-79@model.example/score?api_key=model-key-80")
        .env("RAMPART_METRICS__TOKEN", "metrics-token-value-81"));

    assert!(output.status.success(), "{stderr}");
    for secret in [
        "swordfish",
        "tuna-42-abc",
        "db-tok-77",
        "db-key-78",
        "model-pw-79",
        "scorer",
        "model-key-80",
        "metrics-token-value-81",
    ] {
        assert!(!stdout.contains(secret), "{secret}: {stdout}");
    }
    assert!(stdout.contains("db.example:5432/rampart") && stdout.contains("model.example/score"), "{stdout}");
    assert!(stdout.contains("registration = \"closed\""), "closed unless opened: {stdout}");
}

#[test]
fn config_check_shows_what_outbound_calls_may_reach() {
    let dir = temp_dir();
    let (output, stdout, stderr) =
        run(rampart(dir.path()).args(["config", "check"]).env("RAMPART_OUTBOUND__ALLOW", r#"["127.0.0.1/32"]"#));

    assert!(output.status.success(), "{stderr}");
    assert!(stdout.contains("[outbound]") && stdout.contains("\"127.0.0.1/32\""), "{stdout}");
}

#[rstest]
#[case::bad_outbound("RAMPART_OUTBOUND__ALLOW", r#"["model.internal"]"#, "outbound.allow")]
#[case::bad_number("RAMPART_HTTP__BODY_LIMIT", "lots", "http.body_limit")]
#[case::zero("RAMPART_HTTP__BODY_LIMIT", "0", "http.body_limit")]
#[case::bad_duration("RAMPART_HTTP__REQUEST_TIMEOUT", "soon", "http.request_timeout")]
#[case::bad_address("RAMPART_LISTEN", "not-an-address", "listen")]
#[case::bad_format("RAMPART_LOG_FORMAT", "xml", "log_format")]
#[case::bad_url("RAMPART_DATABASE_URL", "mysql://db", "database_url")]
#[case::unknown_key("RAMPART_HTTP__BODY_LIMT", "5", "body_limt")]
fn a_bad_value_is_refused_naming_its_key(#[case] variable: &str, #[case] value: &str, #[case] key: &str) {
    let dir = temp_dir();
    for args in [&["config", "check"][..], &["serve"]] {
        let (output, _, stderr) = run(rampart(dir.path()).args(args).env(variable, value));

        assert!(!output.status.success(), "{args:?} must refuse {variable}={value}");
        assert!(stderr.contains(key), "{args:?}: the error names {key}: {stderr}");
    }
    assert!(!dir.path().join("data").exists(), "nothing was created");
}

#[test]
fn a_bad_key_in_the_file_is_named() {
    let dir = temp_dir();
    std::fs::write(dir.path().join("rampart.toml"), "[http]\nrequest_timeout = \"30s\"\nbody_limt = 10\n")
        .expect("write");

    let (output, _, stderr) = run(rampart(dir.path()).args(["config", "check"]));

    assert!(!output.status.success());
    assert!(stderr.contains("body_limt"), "{stderr}");
}

#[test]
fn a_named_config_file_must_exist_and_is_read() {
    let dir = temp_dir();
    let (output, _, stderr) = run(rampart(dir.path()).args(["--config", "missing.toml", "config", "check"]));
    assert!(!output.status.success());
    assert!(stderr.contains("missing.toml"), "{stderr}");

    std::fs::write(dir.path().join("custom.toml"), "listen = \"127.0.0.1:9911\"\n").expect("write");
    let (output, stdout, _) =
        run(rampart(dir.path()).args(["--config", "custom.toml", "config", "check"]).env("RAMPART_LOG_FORMAT", "json"));
    assert!(output.status.success());
    assert!(stdout.contains("127.0.0.1:9911") && stdout.contains("log_format = \"json\""), "{stdout}");
}

#[test]
fn openapi_prints_the_document() {
    let dir = temp_dir();
    let (output, stdout, _) = run(rampart(dir.path()).arg("openapi"));

    assert!(output.status.success());
    let spec: Value = serde_json::from_str(&stdout).expect("JSON");
    assert!(spec["openapi"].as_str().is_some_and(|v| v.starts_with("3.1.")));
    assert!(spec["paths"]["/api/v1/health"].is_object());
}

#[rstest]
#[tokio::test]
async fn migrate_prepares_the_database(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let dir = temp_dir();
    let mut command = rampart(dir.path());
    command.arg("migrate");
    if let Some(url) = database.postgres_url() {
        command.env("RAMPART_DATABASE_URL", url);
    }

    let (output, stdout, stderr) = run(&mut command);

    assert!(output.status.success(), "{stderr}");
    assert!(stdout.contains("up to date"), "{stdout}");
    assert_eq!(dir.path().join("data/rampart.db").exists(), backend == Backend::Sqlite);
    let (again, _, _) = run(&mut command);
    assert!(again.status.success(), "migrating twice is harmless");
}

#[rstest]
#[tokio::test]
async fn serve_answers_and_stops_cleanly_on_sigterm(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let dir = temp_dir();
    let mut command = rampart(dir.path());
    command.arg("serve").env("RAMPART_LISTEN", "127.0.0.1:0").env("RAMPART_LOG_FORMAT", "json");
    if let Some(url) = database.postgres_url() {
        command.env("RAMPART_DATABASE_URL", url);
    }
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("serve starts");
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();

    // Without any user, one line says how to create the first admin; then the address is logged.
    let mut before = Vec::new();
    let addr = loop {
        let line: Value =
            serde_json::from_str(&lines.next().expect("a line").expect("UTF-8")).expect("a JSON log line");
        if let Some(addr) = line["addr"].as_str() {
            break addr.to_owned();
        }
        before.push(line.to_string());
    };
    assert!(before.iter().any(|line| line.contains("rampart user create")), "{before:?}");
    let health: Value =
        reqwest::get(format!("http://{addr}/api/v1/health")).await.expect("answers").json().await.expect("JSON");
    assert_eq!(health["status"], "ok");

    let kill = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill runs");
    assert!(kill.success());
    let status = child.wait().expect("serve exits");

    assert!(status.success(), "a clean exit after SIGTERM: {status:?}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|line| line.contains("SIGTERM received")), "{rest:?}");
    assert_eq!(dir.path().join("data/rampart.db").exists(), backend == Backend::Sqlite);
}

/// A config pointing at `dir`'s SQLite database, as the binary run there would use.
fn sqlite_config(dir: &Path) -> rampart::config::Config {
    rampart::config::Config { data_dir: dir.join("data"), ..rampart::config::Config::default() }
}

#[tokio::test]
async fn user_create_reads_the_password_from_stdin_only() {
    let dir = temp_dir();
    let create = |args: &[&str], stdin: &str| {
        let mut child = rampart(dir.path())
            .args(["user", "create"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("runs");
        use std::io::Write;
        child.stdin.take().expect("piped").write_all(stdin.as_bytes()).expect("write");
        child.wait_with_output().expect("exits")
    };

    let on_argv = create(&["--email", "root@example.com", "--password", "in the process list"], "");
    let empty = create(&["--email", "root@example.com"], "");
    let weak = create(&["--email", "root@example.com"], "password\n");
    let made = create(&["--email", "Root@Example.com", "--superuser"], "a sturdy root passphrase\n");

    assert!(!on_argv.status.success(), "there is no --password");
    assert!(!empty.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("password"), "the policy applies");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let store = rampart::serve::open_store(&sqlite_config(dir.path())).await.expect("store");
    let (user, hash) = store.users().find_for_login("root@example.com").await.expect("find").expect("created");
    assert!(user.is_superuser && user.username.as_str() == "root");
    assert!(hash.starts_with("$argon2id$") && !hash.contains("sturdy"));
    assert_eq!(store.users().count().await.expect("count"), 1, "the failed attempts created nobody");
}

#[tokio::test]
async fn the_first_admin_can_come_from_the_environment() {
    let dir = temp_dir();
    let mut child = rampart(dir.path())
        .arg("serve")
        .env("RAMPART_LISTEN", "127.0.0.1:0")
        .env("RAMPART_LOG_FORMAT", "json")
        .env("RAMPART_BOOTSTRAP_ADMIN_EMAIL", "boss@example.com")
        .env("RAMPART_BOOTSTRAP_ADMIN_PASSWORD", "bootstrap me gently")
        .stdout(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let addr = loop {
        let line: Value = serde_json::from_str(&lines.next().expect("a line").expect("UTF-8")).expect("JSON");
        if let Some(addr) = line["addr"].as_str() {
            break addr.to_owned();
        }
    };

    let client = reqwest::Client::new();
    let login = client
        .post(format!("http://{addr}/api/v1/auth/login"))
        .json(&serde_json::json!({"login": "boss", "password": "bootstrap me gently"}))
        .send()
        .await
        .expect("answers");
    let status = login.status();
    let tokens: Value = login.json().await.expect("JSON");
    let me: Value = client
        .get(format!("http://{addr}/api/v1/auth/me"))
        .bearer_auth(tokens["access_token"].as_str().unwrap_or_default())
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON");
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill runs");
    child.wait().expect("exits");

    assert_eq!(status, 200);
    assert_eq!(me["user"]["is_superuser"], true);
    let (output, stdout, _) = run(rampart(dir.path())
        .args(["config", "check"])
        .env("RAMPART_BOOTSTRAP_ADMIN_EMAIL", "boss@example.com")
        .env("RAMPART_BOOTSTRAP_ADMIN_PASSWORD", "bootstrap me gently"));
    assert!(output.status.success());
    assert!(!stdout.contains("bootstrap me gently"), "the password is redacted: {stdout}");
}

/// Answers every HTTP request on 127.0.0.4: `/away` redirects to 127.0.0.5 (not a host the
/// command was given), anything else is a small page; a TLS hello is answered by closing the
/// connection. Returns its port.
async fn http_responder() -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.4:0").await.expect("bind 127.0.0.4");
    let port = listener.local_addr().expect("its address").port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 1024];
                while !request.windows(4).any(|window| window == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        // A TLS record: not HTTP, the connection is closed.
                        Ok(_) if buffer[0] == 22 && request.is_empty() => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let response = if request.starts_with(b"GET /away ") {
                    format!(
                        "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.5:{port}/\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    )
                } else {
                    let body = "<title>Hello</title>";
                    format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
                };
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_http_and_scan_tls_print_their_results_and_refuse_what_was_not_given() {
    let port = http_responder().await;
    let dir = temp_dir();
    let path = dir.path().to_owned();
    let (http, tls) = tokio::task::spawn_blocking(move || {
        let page = format!("http://127.0.0.4:{port}/");
        let away = format!("http://127.0.0.4:{port}/away");
        let http = run(rampart(&path).args(["scan", "http", "--json", "--no-favicon", &page, &away]));
        let tls = run(rampart(&path).args(["scan", "tls", "--json", &format!("127.0.0.4:{port}")]));
        (http, tls)
    })
    .await
    .expect("the commands ran");

    let (output, stdout, stderr) = http;
    assert!(output.status.success(), "{stderr}");
    let result: Value = serde_json::from_str(&stdout).expect("JSON on stdout");
    assert_eq!(
        (result["results"][0]["status"].clone(), result["results"][0]["title"].clone()),
        (200.into(), "Hello".into())
    );
    assert_eq!(result["results"][1]["refused"]["url"], format!("http://127.0.0.5:{port}/"));
    assert_eq!(result["summary"]["refused"], 1);
    assert!(stderr.contains("refused: 127.0.0.5"), "the refusal is printed: {stderr}");

    let (output, stdout, stderr) = tls;
    assert!(output.status.success(), "{stderr}");
    let result: Value = serde_json::from_str(&stdout).expect("JSON on stdout");
    let inspected = &result["results"][0];
    assert_eq!(inspected["target"], format!("127.0.0.4:{port}"));
    assert_eq!(inspected["handshake_error"], "the server closed the connection during the handshake", "{inspected}");
    let none = serde_json::json!({"tls1_0": false, "tls1_1": false, "tls1_2": false, "tls1_3": false});
    assert_eq!(inspected["versions"], none);
    assert_eq!(inspected["certificates"], serde_json::json!([]));
}

/// Answers every DNS question on `socket` as a resolver would: `127.0.0.9` for an A question,
/// no records for any other, until the test process ends.
fn answer_dns(socket: std::net::UdpSocket) {
    let mut buffer = [0_u8; 512];
    while let Ok((length, from)) = socket.recv_from(&mut buffer) {
        // The header (12 bytes) and one question: its name, type and class.
        let Some(name_end) = buffer[12..length].iter().position(|&byte| byte == 0).map(|at| 12 + at + 1) else {
            continue;
        };
        let question_end = name_end + 4;
        if question_end > length {
            continue;
        }
        let is_a = buffer[name_end..name_end + 2] == [0, 1];
        let mut answer = Vec::from(&buffer[..question_end]);
        answer[2] = 0x81; // a response, recursion desired
        answer[3] = 0x80; // recursion available, NOERROR
        answer[6..12].copy_from_slice(&[0, u8::from(is_a), 0, 0, 0, 0]);
        if is_a {
            answer.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 9]);
        }
        let _ = socket.send_to(&answer, from);
    }
}

#[test]
fn scan_dns_prints_what_the_resolver_given_answers_as_json() {
    let dir = temp_dir();
    let socket = std::net::UdpSocket::bind("127.0.0.2:0").expect("bind a resolver on 127.0.0.2");
    let resolver = socket.local_addr().expect("its address").to_string();
    std::thread::spawn(move || answer_dns(socket));

    let (output, stdout, stderr) =
        run(rampart(dir.path()).args(["scan", "dns", "host.test", "--resolver", &resolver, "--type", "a", "--json"]));

    assert!(output.status.success(), "{stderr}");
    let result: Value = serde_json::from_str(&stdout).expect("JSON on stdout");
    assert_eq!(
        result["names"],
        serde_json::json!([{"name": "host.test", "status": "NOERROR", "zone_apex": false,
                            "records": [{"name": "host.test", "type": "A", "ttl": 60, "value": "127.0.0.9"}]}])
    );
    assert_eq!(result["findings"], serde_json::json!([]));
}

#[test]
fn scan_dns_refuses_a_bad_record_type_naming_it() {
    let dir = temp_dir();
    let (output, _, stderr) =
        run(rampart(dir.path()).args(["scan", "dns", "host.test", "--resolver", "127.0.0.2", "--type", "HINFO"]));

    assert!(!output.status.success());
    assert!(stderr.contains("params.types[0]"), "{stderr}");
}

/// A WHOIS server on 127.0.0.5 answering every question with `answer`, until the test process ends.
fn whois_server(answer: String) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.5:0").expect("bind a WHOIS server on 127.0.0.5");
    let port = listener.local_addr().expect("its address").port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut line = String::new();
            if BufReader::new(&stream).read_line(&mut line).is_ok() {
                let _ = std::io::Write::write_all(&mut stream, answer.as_bytes());
            }
        }
    });
    port
}

#[test]
fn scan_whois_follows_the_configured_servers_referral_and_prints_json() {
    let dir = temp_dir();
    let registry = whois_server(
        "Domain Name: CLI.WHOIS\r\nRegistrar: CLI Registrar\r\nRegistry Expiry Date: 2001-01-01T00:00:00Z\r\n\
         Domain Status: clientTransferProhibited\r\n"
            .into(),
    );
    let iana = whois_server(format!("refer: 127.0.0.5:{registry}\r\n"));

    let (output, stdout, stderr) = run(rampart(dir.path())
        .args(["scan", "whois", "cli.whois", "--json"])
        .env("RAMPART_WHOIS__IANA_SERVER", format!("127.0.0.5:{iana}"))
        .env("RAMPART_OUTBOUND__ALLOW", r#"["127.0.0.5/32"]"#));

    assert!(output.status.success(), "{stderr}");
    let result: Value = serde_json::from_str(&stdout).expect("JSON on stdout");
    let domain = &result["domains"][0];
    assert_eq!((domain["source"].as_str(), domain["registrar"].as_str()), (Some("whois"), Some("CLI Registrar")));
    let checks: Vec<&str> =
        result["findings"].as_array().expect("findings").iter().filter_map(|f| f["check_id"].as_str()).collect();
    assert_eq!(checks, ["whois.expiring"], "long expired, and locked against transfer");
}

#[test]
fn scan_secrets_prints_each_secret_with_rule_path_commit_and_line_as_json_redacted() {
    let dir = temp_dir();
    let repository = dir.path().join("repo");
    std::fs::create_dir(&repository).expect("a dir");
    let repo = rampart_testkit::git::GitRepo::init(&repository);
    let token = "ghp_Zq8Lm2Xv7Tr4Nb9Kc3Wp6Yd1Hs5Jf0GaE2uQ";
    let added = repo.commit("main", &[("ci/token.txt", format!("first\nGH={token}\n").as_bytes())], 1_600_000_000);
    repo.commit("main", &[("ci/token.txt", b"first\n")], 1_600_000_100);

    let (output, stdout, stderr) = run(rampart(dir.path()).args(["scan", "secrets", "repo", "--json"]));

    assert!(output.status.success(), "{stderr}");
    assert!(!stdout.contains(token) && !stdout.contains(&token[4..]), "the secret is never printed: {stdout}");
    let result: Value = serde_json::from_str(&stdout).expect("JSON on stdout");
    let secret = &result["secrets"][0];
    assert_eq!(
        (&secret["rule"], &secret["path"], &secret["commit"], &secret["line"], &secret["redacted"]),
        (&json!("github-pat"), &json!("ci/token.txt"), &json!(added), &json!(2), &json!("ghp_…")),
        "{result}"
    );
    assert_eq!(result["summary"]["commits"], 2);
    assert_eq!(result["findings"][0]["check_id"], "secret_scan.github-pat");

    let (output, table, stderr) = run(rampart(dir.path()).args(["scan", "secrets", "repo"]));
    assert!(output.status.success(), "{stderr}");
    assert!(table.contains("github-pat") && table.contains("ci/token.txt:2") && !table.contains(token), "{table}");
}
