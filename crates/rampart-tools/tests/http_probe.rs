//! `http_probe` against axum servers this test starts on 127.0.0.2 (in scope) and 127.0.0.3 (out
//! of it): a redirect chain that stays in scope, one that leaves it (refused, the refusal
//! reported, nothing sent there), a page with no security headers and bad cookies, a directory
//! listing, a redirect loop, and the per-host limit. Nothing leaves 127.0.0.0/8.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use rampart_core::findings::Severity;
use rampart_core::output::{Artifact, Proto};
use rampart_core::targets::{Scope, ScopeTarget, TargetValue};
use rampart_scope::{DenyList, Gate, Refusal, RefusalSink, SystemResolver};
use rampart_tools::http_probe::HttpProbe;
use rampart_tools::http_probe::favicon::{sha256_hex, shodan_hash};
use rampart_tools::{Tool, ToolContext, ToolOutput};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

const ICON: &[u8] = b"\x00\x00\x01\x00 a small icon";

#[derive(Default)]
struct Refusals(Mutex<Vec<Refusal>>);

#[async_trait]
impl RefusalSink for Refusals {
    async fn refused(&self, refusal: &Refusal) {
        self.0.lock().expect("refusals").push(refusal.clone());
    }
}

fn gate_for(address: &str, refusals: Arc<Refusals>) -> Gate {
    let scope =
        vec![ScopeTarget { value: TargetValue::parse(address).expect("an address"), ports: None, exclude: false }];
    Gate::new(Arc::new(Scope::new(scope)), Arc::new(DenyList::default()), Arc::new(SystemResolver), refusals)
}

async fn run(gate: Gate, params: Value) -> ToolOutput {
    HttpProbe.check(&params).expect("valid parameters");
    let (sender, _updates) = tokio::sync::mpsc::unbounded_channel();
    HttpProbe.run(params, ToolContext::new(gate, CancellationToken::new(), sender)).await.expect("the probe runs")
}

/// What the test's servers saw.
#[derive(Clone, Default)]
struct Seen {
    hits: Arc<AtomicUsize>,
    in_flight: Arc<AtomicUsize>,
    most_in_flight: Arc<AtomicUsize>,
}

#[derive(Clone)]
struct App {
    outside: SocketAddr,
    seen: Seen,
}

fn strong_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("content-security-policy", "default-src 'self'; frame-ancestors 'none'"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("permissions-policy", "camera=()"),
    ] {
        headers.insert(HeaderName::from_static(name), HeaderValue::from_static(value));
    }
    headers
}

fn redirect(status: StatusCode, to: &str) -> impl IntoResponse + use<> {
    (status, [(header::LOCATION, HeaderValue::from_str(to).expect("a location"))])
}

async fn serve(listener: TcpListener, router: Router) {
    tokio::spawn(async move { axum::serve(listener, router).await.expect("the test server runs") });
}

async fn bind(last: u8) -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind((IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)), 0)).await.expect("bind");
    let address = listener.local_addr().expect("its address");
    (listener, address)
}

/// The site in scope, and a server out of scope that counts what reaches it.
async fn sites() -> (SocketAddr, SocketAddr, Seen, Seen) {
    let (outside_listener, outside) = bind(3).await;
    let outside_seen = Seen::default();
    let counted = outside_seen.clone();
    serve(
        outside_listener,
        Router::new().fallback(move || {
            let counted = counted.clone();
            async move {
                counted.hits.fetch_add(1, Ordering::SeqCst);
                "out of scope"
            }
        }),
    )
    .await;
    let (listener, inside) = bind(2).await;
    let seen = Seen::default();
    let router = Router::new()
        .route("/start", get(|| async { redirect(StatusCode::FOUND, "/middle") }))
        .route("/middle", get(|| async { redirect(StatusCode::MOVED_PERMANENTLY, "final") }))
        .route("/final", get(|| async { (strong_headers(), "<html><head><title>The  end</title></head></html>") }))
        .route(
            "/away",
            get(|State(app): State<App>| async move {
                redirect(StatusCode::FOUND, &format!("http://{}/stolen", app.outside))
            }),
        )
        .route(
            "/bare",
            get(|| async {
                let mut headers = HeaderMap::new();
                headers.insert(header::SERVER, HeaderValue::from_static("nginx/1.25.3"));
                headers.append(header::SET_COOKIE, HeaderValue::from_static("session=1; Path=/"));
                headers.append(header::SET_COOKIE, HeaderValue::from_static("prefs=2; HttpOnly; SameSite=Lax"));
                (headers, "<title>Bare</title>")
            }),
        )
        .route(
            "/files/",
            get(|| async {
                (
                    strong_headers(),
                    "<html><title>Index of /files</title><h1>Index of /files</h1><a href=a.txt>a.txt</a>",
                )
            }),
        )
        .route("/loop", get(|| async { redirect(StatusCode::FOUND, "/loop") }))
        .route("/long", get(|| async { redirect(StatusCode::FOUND, &format!("/{}", "a".repeat(3000))) }))
        .route(
            "/slow",
            get(|State(app): State<App>| async move {
                let seen = &app.seen;
                let now = seen.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                seen.most_in_flight.fetch_max(now, Ordering::SeqCst);
                for _ in 0..20 {
                    tokio::task::yield_now().await;
                }
                seen.hits.fetch_add(1, Ordering::SeqCst);
                seen.in_flight.fetch_sub(1, Ordering::SeqCst);
                (strong_headers(), "<title>slow</title>")
            }),
        )
        .route("/favicon.ico", get(|| async { ICON }))
        .fallback(|State(app): State<App>| async move {
            app.seen.hits.fetch_add(1, Ordering::SeqCst);
            StatusCode::NOT_FOUND
        })
        .with_state(App { outside, seen: seen.clone() });
    serve(listener, router).await;
    (inside, outside, seen, outside_seen)
}

/// Whether the run covered `check` (without the tool's prefix) on `asset` at `location`.
fn covered(output: &ToolOutput, asset: &str, location: &str, check: &str) -> bool {
    output.coverage.items().iter().any(|covered| covered.covers(&format!("http_probe.{check}"), asset, location))
}

fn findings_of(output: &ToolOutput) -> BTreeSet<(String, String, String)> {
    output
        .findings
        .items()
        .iter()
        .map(|finding| (finding.asset.clone(), finding.location.clone(), finding.check_id.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_url_is_probed_with_its_chain_headers_cookies_and_findings() {
    let (inside, outside, _seen, outside_seen) = sites().await;
    let refusals = Arc::new(Refusals::default());
    let gate = gate_for("127.0.0.2", refusals.clone());
    let base = format!("http://{inside}");
    let urls: Vec<String> =
        ["/start", "/away", "/bare", "/files/", "/loop"].iter().map(|path| format!("{base}{path}")).collect();

    let output = run(gate, json!({ "urls": urls, "max_redirects": 3 })).await;
    let results = output.result["results"].as_array().expect("results");

    // A chain inside the scope is followed hop by hop and reported.
    let start = &results[0];
    assert_eq!(start["url"], format!("{base}/start"));
    assert_eq!(
        start["redirects"],
        json!([
            {"url": format!("{base}/start"), "status": 302, "location": format!("{base}/middle")},
            {"url": format!("{base}/middle"), "status": 301, "location": format!("{base}/final")},
        ])
    );
    assert_eq!(start["final_url"], format!("{base}/final"));
    assert_eq!((start["status"].clone(), start["title"].clone()), (json!(200), json!("The end")));
    assert_eq!(start["address"], "127.0.0.2");
    assert_eq!(start["refused"], Value::Null);
    assert_eq!(start["favicon"]["mmh3"], shodan_hash(ICON));
    assert_eq!(start["favicon"]["sha256"], sha256_hex(ICON));
    assert_eq!(start["security_headers"]["x_content_type_options"], "nosniff");
    assert_eq!(start["size"], "<html><head><title>The  end</title></head></html>".len());

    // A hop out of scope is refused, reported to the refusal sink, and never sent.
    let away = &results[1];
    assert_eq!(away["redirects"][0]["location"], format!("http://{outside}/stolen"));
    assert_eq!(away["refused"]["url"], away["redirects"][0]["location"]);
    assert_eq!((away["status"].clone(), away["final_url"].clone()), (Value::Null, Value::Null));
    let refused = refusals.0.lock().expect("refusals").clone();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!((refused[0].host.as_str(), refused[0].port), ("127.0.0.3", Some(outside.port())));
    assert_eq!(outside_seen.hits.load(Ordering::SeqCst), 0, "nothing reached the server out of scope");

    let bare = &results[2];
    assert_eq!(bare["server"], "nginx/1.25.3");
    assert_eq!(bare["technologies"], json!([{"name": "nginx", "version": "1.25.3", "from": "header:server"}]));
    assert_eq!(
        bare["cookies"],
        json!([
            {"name": "session", "secure": false, "http_only": false, "same_site": null},
            {"name": "prefs", "secure": false, "http_only": true, "same_site": "Lax"},
        ])
    );
    assert_eq!(results[3]["directory_listing"], true);
    assert_eq!(results[2]["directory_listing"], false);
    let looped = &results[4];
    assert_eq!((looped["too_many_redirects"].clone(), looped["status"].clone()), (json!(true), json!(302)));
    assert_eq!(looped["redirects"].as_array().map(Vec::len), Some(3));
    assert_eq!(output.result["summary"], json!({"urls": 5, "answered": 4, "refused": 1, "failed": 0}));

    let finding = |location: &str, check: &str| (base.clone(), location.to_owned(), format!("http_probe.{check}"));
    let expected: BTreeSet<_> = [
        finding("/final", "no_https_redirect"),
        finding("/bare", "no_https_redirect"),
        finding("/bare", "missing_csp"),
        finding("/bare", "missing_x_frame_options"),
        finding("/bare", "missing_x_content_type_options"),
        finding("/bare", "missing_referrer_policy"),
        finding("/bare", "missing_permissions_policy"),
        finding("cookie:session", "cookie_no_httponly"),
        finding("cookie:session", "cookie_no_samesite"),
        finding("/files/", "no_https_redirect"),
        finding("/files/", "directory_listing"),
    ]
    .into_iter()
    .collect();
    assert_eq!(findings_of(&output), expected);
    let listing =
        output.findings.items().iter().find(|f| f.check_id == "http_probe.directory_listing").expect("listed");
    assert_eq!(listing.severity, Severity::Medium);

    // Every finding raised was looked for; so was what the answers did not have.
    for (asset, location, check) in findings_of(&output) {
        assert!(covered(&output, &asset, &location, &check["http_probe.".len()..]), "{asset} {location} {check}");
    }
    let covers = |location: &str, check: &str| covered(&output, &base, location, check);
    assert!(covers("/final", "missing_csp") && covers("/final", "weak_x_frame_options"), "the final answer's headers");
    assert!(covers("/final", "directory_listing") && covers("/final", "default_page"));
    assert!(!covers("/final", "missing_hsts"), "HSTS is not asked over HTTP");
    assert!(covers("/start", "no_https_redirect") && covers("/middle", "no_https_redirect"), "the chain's hops");
    assert!(!covers("/start", "missing_csp") && !covers("/middle", "missing_csp"), "a redirect's headers are not read");
    assert!(covers("cookie:prefs", "cookie_no_httponly") && covers("cookie:prefs", "cookie_no_samesite"));
    assert!(!covers("cookie:prefs", "cookie_no_secure"), "Secure is not asked over HTTP");
    assert!(!covers("cookie:other", "cookie_no_httponly"), "a cookie not set was not looked at");
    // A chain the gate refused, and one cut short by the redirects allowed, cover nothing.
    for path in ["/away", "/loop"] {
        for check in ["no_https_redirect", "missing_csp", "directory_listing"] {
            assert!(!covers(path, check), "{path} {check}");
        }
    }
    assert!(!output.coverage.items().iter().any(|covered| covered.asset.contains("127.0.0.3")));

    let mut artifacts = output.artifacts.items().to_vec();
    artifacts.sort_by_key(|artifact| format!("{artifact:?}"));
    // Each URL with what answered there, as recognised (`/bare` says `Server: nginx/1.25.3`).
    let mut expected: Vec<Artifact> =
        [("/files/", vec![]), ("/final", vec![]), ("/loop", vec![]), ("/bare", vec!["nginx 1.25.3"])]
            .into_iter()
            .map(|(path, technologies): (&str, Vec<&str>)| Artifact::Url {
                url: format!("{base}{path}"),
                technologies: technologies.into_iter().map(str::to_owned).collect(),
            })
            .chain([Artifact::Service {
                host: inside.ip(),
                port: inside.port(),
                proto: Proto::Tcp,
                name: Some("http".into()),
            }])
            .collect();
    expected.sort_by_key(|artifact| format!("{artifact:?}"));
    assert_eq!(artifacts, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_more_than_per_host_requests_reach_one_host_at_once() {
    let (inside, _, seen, _) = sites().await;
    let gate = gate_for("127.0.0.2", Arc::new(Refusals::default()));
    let urls: Vec<String> = (0..120).map(|n| format!("http://{inside}/slow?n={n}")).collect();

    let output = run(gate, json!({ "urls": urls, "concurrency": 64, "per_host": 2, "favicon": false })).await;

    assert_eq!(output.result["summary"]["answered"], 120);
    assert_eq!(seen.hits.load(Ordering::SeqCst), 120);
    let most = seen.most_in_flight.load(Ordering::SeqCst);
    assert!((1..=2).contains(&most), "at most two at once, saw {most}");
    assert!(output.result["results"].as_array().expect("results").iter().all(|probed| probed["favicon"].is_null()));
}

/// An HTTPS server on 127.0.0.2 with a self-signed certificate, answering every request with a
/// page that has every security header but HSTS and a cookie without Secure; returns its port.
async fn https_site() -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

    let key = rcgen::KeyPair::generate().expect("a key");
    let certificate = rcgen::CertificateParams::new(vec!["127.0.0.2".to_owned()])
        .expect("parameters")
        .self_signed(&key)
        .expect("a certificate");
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(
        vec![certificate.der().clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    )
    .expect("a server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let (listener, address) = bind(2).await;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else { return };
                let mut request = Vec::new();
                let mut buffer = [0u8; 1024];
                while !request.windows(4).any(|window| window == b"\r\n\r\n") {
                    match tls.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let body = "<title>Secure</title>";
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Security-Policy: default-src 'self'\r\nX-Frame-Options: DENY\r\n\
                     X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\nPermissions-Policy: camera=()\r\n\
                     Set-Cookie: sid=1; HttpOnly; SameSite=Strict\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    address.port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_is_probed_whatever_its_certificate_and_a_redirect_to_it_is_credited() {
    let tls_port = https_site().await;
    let (listener, inside) = bind(2).await;
    let to_https = format!("https://127.0.0.2:{tls_port}/");
    let target = to_https.clone();
    serve(
        listener,
        Router::new().route("/", get(move || async move { redirect(StatusCode::MOVED_PERMANENTLY, &target) })),
    )
    .await;
    let gate = gate_for("127.0.0.2", Arc::new(Refusals::default()));

    let output = run(gate, json!({ "urls": [format!("http://{inside}/"), to_https.clone()], "favicon": false })).await;

    let results = output.result["results"].as_array().expect("results");
    assert_eq!(results[0]["final_url"], to_https);
    assert_eq!((results[1]["status"].clone(), results[1]["title"].clone()), (json!(200), json!("Secure")));
    let origin = format!("https://127.0.0.2:{tls_port}");
    let expected: BTreeSet<(String, String, String)> = [
        (origin.clone(), "/".to_owned(), "http_probe.missing_hsts".to_owned()),
        (origin.clone(), "cookie:sid".to_owned(), "http_probe.cookie_no_secure".to_owned()),
    ]
    .into_iter()
    .collect();
    assert_eq!(findings_of(&output), expected, "the redirect to HTTPS raises no finding of its own");
    assert!(covered(&output, &origin, "/", "missing_hsts") && covered(&output, &origin, "/", "weak_hsts"));
    assert!(covered(&output, &origin, "cookie:sid", "cookie_no_secure"), "set over HTTPS, Secure was asked");
    assert!(
        covered(&output, &format!("http://{inside}"), "/", "no_https_redirect"),
        "an HTTP URL that now leads to HTTPS resolves its finding"
    );
    assert!(!covered(&output, &origin, "/", "no_https_redirect"), "an HTTPS URL asked is not asked to redirect");
    assert!(output.artifacts.items().contains(&Artifact::Service {
        host: inside.ip(),
        port: tls_port,
        proto: Proto::Tcp,
        name: Some("https".into())
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_a_url_longer_than_any_asked_for_is_not_followed() {
    let (inside, _, seen, _) = sites().await;
    let gate = gate_for("127.0.0.2", Arc::new(Refusals::default()));

    let output = run(gate, json!({ "urls": [format!("http://{inside}/long")], "favicon": false })).await;

    let long = &output.result["results"][0];
    assert_eq!((long["status"].clone(), long["redirects"].clone()), (json!(302), json!([])));
    assert_eq!(long["final_url"], format!("http://{inside}/long"));
    assert_eq!(seen.hits.load(Ordering::SeqCst), 0, "nothing past the redirect was asked for (any other path counts)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_url_that_gave_no_answer_is_not_covered() {
    let (inside, _, _, _) = sites().await;
    // A port that was listening a moment ago: the connection is refused.
    let (listener, closed) = bind(2).await;
    drop(listener);
    let gate = gate_for("127.0.0.2", Arc::new(Refusals::default()));
    let urls = [format!("http://{closed}/bare"), format!("http://{inside}/bare")];

    let output = run(gate, json!({ "urls": urls, "favicon": false, "timeout_ms": 2000 })).await;

    assert_eq!(output.result["summary"]["failed"], 1, "{}", output.result);
    let assets: BTreeSet<&str> = output.coverage.items().iter().map(|covered| covered.asset.as_str()).collect();
    assert_eq!(assets, BTreeSet::from([format!("http://{inside}").as_str()]), "only the origin that answered");
    for check in ["missing_csp", "no_https_redirect", "directory_listing"] {
        assert!(!covered(&output, &format!("http://{closed}"), "/bare", check), "{check}");
        assert!(covered(&output, &format!("http://{inside}"), "/bare", check), "{check}");
    }
}
