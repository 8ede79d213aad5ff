//! `tls_inspect` against TLS servers this test starts on 127.0.0.2, with certificates made by
//! rcgen under a test CA no platform trusts: a good one, an expired one, one expiring soon, a
//! self-signed one, one for another host, one with a 1024-bit RSA key (signed by the server
//! with the `rsa` crate, since ring refuses such keys), a server speaking TLS 1.2 only, a raw
//! responder answering every ClientHello with a TLS 1.0 ServerHello, a chain out of order, and
//! a self-signed certificate signed with SHA-1 (made once with openssl, in `tests/data/`, as
//! rcgen no longer signs with SHA-1). Names under `.test` resolve to 127.0.0.2 by the test's own
//! resolver; nothing leaves 127.0.0.0/8.

use std::collections::BTreeSet;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{Datelike, Duration, Utc};
use rampart_core::output::Artifact;
use rampart_core::targets::{Scope, ScopeTarget, TargetValue};
use rampart_scope::{DenyList, Gate, Refusal, RefusalSink, Resolver};
use rampart_tools::tls_inspect::TlsInspect;
use rampart_tools::{Tool, ToolContext, ToolOutput};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, PublicKeyData, date_time_ymd};
use rsa::pkcs1::EncodeRsaPublicKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::crypto::ring::default_provider;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::sign::{CertifiedKey, SigningKey, SingleCertAndKey};
use tokio_rustls::rustls::{self, ServerConfig, SignatureAlgorithm, SignatureScheme, SupportedProtocolVersion};
use tokio_util::sync::CancellationToken;

const HOST: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// Every name under `.test` is 127.0.0.2.
struct TestNames;

#[async_trait]
impl Resolver for TestNames {
    async fn resolve(&self, name: &str) -> io::Result<Vec<IpAddr>> {
        match name.ends_with(".test") {
            true => Ok(vec![HOST]),
            false => Err(io::Error::new(io::ErrorKind::NotFound, "not a test name")),
        }
    }
}

struct NoRefusals;

#[async_trait]
impl RefusalSink for NoRefusals {
    async fn refused(&self, refusal: &Refusal) {
        panic!("every target of this test is in scope: {refusal:?}");
    }
}

fn gate() -> Gate {
    let scope = ["*.test", "127.0.0.2"]
        .iter()
        .map(|value| ScopeTarget { value: TargetValue::parse(value).expect("a target"), ports: None, exclude: false })
        .collect();
    Gate::new(Arc::new(Scope::new(scope)), Arc::new(DenyList::default()), Arc::new(TestNames), Arc::new(NoRefusals))
}

/// The test CA, and a way to issue certificates under it.
struct Ca {
    issuer: Issuer<'static, KeyPair>,
    der: CertificateDer<'static>,
}

impl Ca {
    fn new() -> Self {
        Self::named("Rampart Test CA")
    }

    fn named(name: &str) -> Self {
        let key = KeyPair::generate().expect("a CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let certificate = params.self_signed(&key).expect("the CA certificate");
        Self { der: certificate.der().clone(), issuer: Issuer::new(params, key) }
    }
}

/// Parameters for `name`, valid from `from` to `until` days from today.
fn params(name: &str, from: i64, until: i64) -> CertificateParams {
    let mut params = CertificateParams::new(vec![name.to_owned()]).expect("parameters");
    params.distinguished_name.push(DnType::CommonName, name);
    let day = |offset: i64| {
        let date = Utc::now() + Duration::days(offset);
        date_time_ymd(date.year(), date.month() as u8, date.day() as u8)
    };
    params.not_before = day(from);
    params.not_after = day(until);
    params
}

fn config(
    versions: &[&'static SupportedProtocolVersion],
) -> rustls::ConfigBuilder<ServerConfig, rustls::server::WantsServerCert> {
    ServerConfig::builder_with_provider(Arc::new(default_provider()))
        .with_protocol_versions(versions)
        .expect("versions")
        .with_no_client_auth()
}

const BOTH: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];
const TLS12: &[&SupportedProtocolVersion] = &[&rustls::version::TLS12];

/// A server whose certificate for `name` (valid `from`..`until` days) the CA signed.
fn issued(ca: &Ca, name: &str, from: i64, until: i64, versions: &[&'static SupportedProtocolVersion]) -> ServerConfig {
    let key = KeyPair::generate().expect("a key");
    let certificate = params(name, from, until).signed_by(&key, &ca.issuer).expect("a certificate");
    config(versions)
        .with_single_cert(
            vec![certificate.der().clone(), ca.der.clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .expect("a server config")
}

/// A server for `name` whose chain sends, after its certificate, a CA that did not issue it.
fn jumbled(ca: &Ca, name: &str) -> ServerConfig {
    let key = KeyPair::generate().expect("a key");
    let certificate = params(name, -1, 365).signed_by(&key, &ca.issuer).expect("a certificate");
    config(BOTH)
        .with_single_cert(
            vec![certificate.der().clone(), Ca::named("Another Test CA").der],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .expect("a server config")
}

fn self_signed(name: &str) -> ServerConfig {
    let key = KeyPair::generate().expect("a key");
    let certificate = params(name, -1, 365).self_signed(&key).expect("a certificate");
    config(BOTH)
        .with_single_cert(
            vec![certificate.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .expect("a server config")
}

/// The server of `tests/data/sha1-cert.pem`.
fn sha1_signed() -> ServerConfig {
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    let certificate =
        CertificateDer::from_pem_slice(include_bytes!("data/sha1-cert.pem")).expect("the SHA-1 certificate");
    let key = PrivateKeyDer::from_pem_slice(include_bytes!("data/sha1-key.pem")).expect("its key");
    config(BOTH).with_single_cert(vec![certificate], key).expect("a server config")
}

/// A 1024-bit RSA key, signing as TLS 1.2 asks (PKCS#1 v1.5 with SHA-256).
#[derive(Debug)]
struct Rsa1024(RsaPrivateKey);

impl SigningKey for Rsa1024 {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn rustls::sign::Signer>> {
        offered.contains(&SignatureScheme::RSA_PKCS1_SHA256).then(|| Box::new(Rsa1024(self.0.clone())) as _)
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::RSA
    }
}

impl rustls::sign::Signer for Rsa1024 {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rustls::Error> {
        // The DigestInfo prefix of SHA-256 (RFC 8017, 9.2).
        const PREFIX: [u8; 19] = [
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04,
            0x20,
        ];
        let digest = [&PREFIX[..], &Sha256::digest(message)].concat();
        self.0.sign(Pkcs1v15Sign::new_unprefixed(), &digest).map_err(|error| rustls::Error::General(error.to_string()))
    }

    fn scheme(&self) -> SignatureScheme {
        SignatureScheme::RSA_PKCS1_SHA256
    }
}

/// An RSA public key as rcgen puts it in a certificate (PKCS#1, under rsaEncryption).
struct RsaPublic(Vec<u8>);

impl PublicKeyData for RsaPublic {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_RSA_SHA256
    }
}

fn weak(ca: &Ca, name: &str) -> ServerConfig {
    let key = RsaPrivateKey::from_pkcs8_pem(include_str!("data/rsa1024.pem")).expect("the 1024-bit test key");
    let public = RsaPublic(key.to_public_key().to_pkcs1_der().expect("its public key").as_bytes().to_vec());
    let certificate = params(name, -1, 365).signed_by(&public, &ca.issuer).expect("a certificate");
    let chain = vec![certificate.der().clone(), ca.der.clone()];
    config(TLS12).with_cert_resolver(Arc::new(SingleCertAndKey::from(CertifiedKey::new(chain, Arc::new(Rsa1024(key))))))
}

/// A TLS server with `config` on 127.0.0.2; returns its port.
async fn serve(config: ServerConfig) -> u16 {
    let listener = TcpListener::bind((HOST, 0)).await.expect("bind");
    let port = listener.local_addr().expect("its address").port();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(stream).await {
                    let mut rest = Vec::new();
                    let _ = tls.read_to_end(&mut rest).await;
                }
            });
        }
    });
    port
}

/// Answers every ClientHello with a TLS 1.0 ServerHello, and closes.
async fn serve_tls10() -> u16 {
    let listener = TcpListener::bind((HOST, 0)).await.expect("bind");
    let port = listener.local_addr().expect("its address").port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut hello = [0u8; 512];
                if stream.read(&mut hello).await.is_ok() {
                    let mut body = vec![0x03, 0x01];
                    body.extend_from_slice(&[0x42; 32]);
                    body.extend_from_slice(&[0x00, 0xc0, 0x13, 0x00]);
                    let mut record = vec![22, 0x03, 0x01, 0, (body.len() + 4) as u8, 2, 0, 0, body.len() as u8];
                    record.extend_from_slice(&body);
                    let _ = stream.write_all(&record).await;
                }
            });
        }
    });
    port
}

async fn run(params: Value) -> ToolOutput {
    TlsInspect.check(&params).expect("valid parameters");
    let (sender, _updates) = tokio::sync::mpsc::unbounded_channel();
    TlsInspect.run(params, ToolContext::new(gate(), CancellationToken::new(), sender)).await.expect("the run")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_certificate_and_version_problem_is_found_and_nothing_more() {
    let ca = Ca::new();
    let servers = [
        ("good.test", serve(issued(&ca, "good.test", -1, 365, BOTH)).await),
        ("expired.test", serve(issued(&ca, "expired.test", -30, -2, BOTH)).await),
        ("expiring.test", serve(issued(&ca, "expiring.test", -30, 10, BOTH)).await),
        ("self.test", serve(self_signed("self.test")).await),
        ("wrong.test", serve(issued(&ca, "other.test", -1, 365, BOTH)).await),
        ("weak.test", serve(weak(&ca, "weak.test")).await),
        ("old.test", serve(issued(&ca, "old.test", -1, 365, TLS12)).await),
        ("legacy.test", serve_tls10().await),
        ("sha1.test", serve(sha1_signed()).await),
        ("jumbled.test", serve(jumbled(&ca, "jumbled.test")).await),
    ];
    let targets: Vec<String> = servers.iter().map(|(name, port)| format!("{name}:{port}")).collect();

    let output = run(json!({ "targets": targets, "expiry_days": 30, "timeout_ms": 10000 })).await;

    let results = output.result["results"].as_array().expect("results");
    let by_name = |name: &str| &results[servers.iter().position(|(server, _)| *server == name).expect("a server")];
    let versions = |name: &str| by_name(name)["versions"].clone();
    let good = by_name("good.test");
    assert_eq!(versions("good.test"), json!({"tls1_0": false, "tls1_1": false, "tls1_2": true, "tls1_3": true}));
    assert_eq!(good["protocol"], "TLSv1_3");
    assert_eq!(good["address"], "127.0.0.2");
    assert_eq!((good["hostname_matches"].clone(), good["trusted"].clone()), (json!(true), json!(false)));
    assert_eq!((good["chain_in_order"].clone(), good["ocsp_stapled"].clone()), (json!(true), json!(false)));
    assert_eq!(good["handshake_error"], Value::Null);
    let leaf = &good["certificates"][0];
    assert_eq!(leaf["subject"], "CN=good.test");
    assert_eq!(leaf["issuer"], "CN=Rampart Test CA");
    assert_eq!(leaf["sans"], json!(["good.test"]));
    assert_eq!(
        (leaf["key_type"].clone(), leaf["key_bits"].clone(), leaf["curve"].clone()),
        (json!("ec"), json!(256), json!("P-256"))
    );
    assert_eq!(leaf["signature_algorithm"], "ecdsa-with-SHA256");
    assert_eq!(good["certificates"][1]["self_signed"], true, "the CA came with the chain");
    assert_eq!(versions("old.test"), json!({"tls1_0": false, "tls1_1": false, "tls1_2": true, "tls1_3": false}));
    assert_eq!(by_name("old.test")["protocol"], "TLSv1_2");
    let weak = by_name("weak.test");
    assert_eq!(
        (weak["certificates"][0]["key_type"].clone(), weak["certificates"][0]["key_bits"].clone()),
        (json!("rsa"), json!(1024))
    );
    assert!(weak["signature_error"].is_string(), "this client refuses a 1024-bit signature, and says so: {weak}");
    assert_eq!(by_name("wrong.test")["hostname_matches"], false);
    assert_eq!(by_name("sha1.test")["certificates"][0]["signature_algorithm"], "ecdsa-with-SHA1");
    assert_eq!(by_name("jumbled.test")["chain_in_order"], false);
    let legacy = by_name("legacy.test");
    assert_eq!(versions("legacy.test"), json!({"tls1_0": true, "tls1_1": false, "tls1_2": false, "tls1_3": false}));
    assert!(legacy["handshake_error"].is_string());
    assert_eq!(legacy["certificates"], json!([]));

    let findings: BTreeSet<(String, String, String)> = output
        .findings
        .items()
        .iter()
        .map(|finding| (finding.asset.clone(), finding.location.clone(), finding.check_id.clone()))
        .collect();
    let finding = |name: &str, check: &str| {
        let port = servers.iter().find(|(server, _)| *server == name).expect("a server").1;
        (name.to_owned(), format!("tcp/{port}"), format!("tls_inspect.{check}"))
    };
    let expected: BTreeSet<_> = [
        finding("good.test", "untrusted"),
        finding("expired.test", "expired"),
        finding("expired.test", "untrusted"),
        finding("expiring.test", "expiring"),
        finding("expiring.test", "untrusted"),
        finding("self.test", "self_signed"),
        finding("wrong.test", "hostname_mismatch"),
        finding("wrong.test", "untrusted"),
        finding("weak.test", "weak_key"),
        finding("weak.test", "untrusted"),
        finding("old.test", "untrusted"),
        finding("legacy.test", "tls10_enabled"),
        finding("sha1.test", "self_signed"),
        finding("sha1.test", "sha1_signature"),
        finding("jumbled.test", "untrusted"),
    ]
    .into_iter()
    .collect();
    assert_eq!(findings, expected);

    // Every finding was looked for; so was every certificate check on each certificate read, but
    // an endpoint that gave no certificate is covered only for the old versions it was asked.
    let covered = |name: &str, check: &str| {
        let (asset, location, check) = finding(name, check);
        output.coverage.items().iter().any(|covered| covered.covers(&check, &asset, &location))
    };
    for (asset, location, check) in &findings {
        assert!(output.coverage.items().iter().any(|covered| covered.covers(check, asset, location)), "{check}");
    }
    let certificate_checks = [
        "expired",
        "expiring",
        "not_yet_valid",
        "self_signed",
        "untrusted",
        "hostname_mismatch",
        "weak_key",
        "sha1_signature",
    ];
    for check in certificate_checks.iter().chain(&["tls10_enabled", "tls11_enabled"]) {
        assert!(covered("good.test", check), "{check}");
        assert!(!covered("legacy.test", check) || check.starts_with("tls1"), "no certificate, no {check}");
    }
    assert!(covered("legacy.test", "tls10_enabled") && covered("legacy.test", "tls11_enabled"));
    assert!(!output.coverage.items().iter().any(|covered| covered.covers("tls_inspect.expired", "good.test", "tcp/1")));

    let subjects: BTreeSet<String> = output
        .artifacts
        .items()
        .iter()
        .map(|artifact| match artifact {
            Artifact::Certificate(certificate) => certificate.subject.clone(),
            other => panic!("only certificates: {other:?}"),
        })
        .collect();
    let expected: BTreeSet<String> = ["good", "expired", "expiring", "self", "other", "weak", "old", "sha1", "jumbled"]
        .iter()
        .map(|name| format!("CN={name}.test"))
        .collect();
    assert_eq!(subjects, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn how_soon_is_expiring_is_the_runs_choice() {
    let ca = Ca::new();
    let port = serve(issued(&ca, "soon.test", -1, 10, BOTH)).await;
    let checks = |output: &ToolOutput| -> Vec<String> {
        output
            .findings
            .items()
            .iter()
            .map(|finding| finding.check_id.clone())
            .filter(|check| check.contains("expir"))
            .collect()
    };

    let within_30 = run(json!({ "targets": [format!("soon.test:{port}")] })).await;
    let within_5 = run(json!({ "targets": [format!("soon.test:{port}")], "expiry_days": 5 })).await;

    assert_eq!(checks(&within_30), ["tls_inspect.expiring"], "30 days by default");
    assert_eq!(checks(&within_5), Vec::<String>::new());
    let covers_expiring = |output: &ToolOutput| {
        output
            .coverage
            .items()
            .iter()
            .any(|covered| covered.covers("tls_inspect.expiring", "soon.test", &format!("tcp/{port}")))
    };
    assert!(covers_expiring(&within_30));
    assert!(!covers_expiring(&within_5), "a run looking 5 days ahead does not resolve what 30 days found");
    assert!(within_5.coverage.items().iter().any(|covered| covered.covers(
        "tls_inspect.expired",
        "soon.test",
        &format!("tcp/{port}")
    )));
}

#[tokio::test]
async fn a_target_out_of_scope_is_refused_by_the_gate_before_any_connection() {
    let listener = TcpListener::bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)), 0)).await.expect("bind");
    let address = listener.local_addr().expect("its address");
    let refusals = Arc::new(std::sync::Mutex::new(Vec::new()));
    struct Recorded(Arc<std::sync::Mutex<Vec<Refusal>>>);
    #[async_trait]
    impl RefusalSink for Recorded {
        async fn refused(&self, refusal: &Refusal) {
            self.0.lock().expect("refusals").push(refusal.clone());
        }
    }
    let scope =
        vec![ScopeTarget { value: TargetValue::parse("127.0.0.2").expect("a target"), ports: None, exclude: false }];
    let gate = Gate::new(
        Arc::new(Scope::new(scope)),
        Arc::new(DenyList::default()),
        Arc::new(TestNames),
        Arc::new(Recorded(refusals.clone())),
    );
    let (sender, _updates) = tokio::sync::mpsc::unbounded_channel();

    let output = TlsInspect
        .run(json!({ "targets": [address.to_string()] }), ToolContext::new(gate, CancellationToken::new(), sender))
        .await
        .expect("the run");

    assert!(
        output.result["results"][0]["error"].as_str().is_some_and(|error| error.starts_with("refused")),
        "{}",
        output.result
    );
    assert_eq!(refusals.lock().expect("refusals").len(), 1);
    assert!(output.findings.is_empty());
    assert!(output.coverage.is_empty(), "an endpoint refused was not looked at: {:?}", output.coverage);
    // The run is over: a connection it had made would be waiting in the backlog by now.
    tokio::select! {
        biased;
        _ = listener.accept() => panic!("something connected to the address out of scope"),
        () = std::future::ready(()) => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_that_refuses_the_connection_is_not_covered() {
    let ca = Ca::new();
    let good = serve(issued(&ca, "good.test", -1, 365, BOTH)).await;
    let listener = TcpListener::bind((HOST, 0)).await.expect("bind");
    let closed = listener.local_addr().expect("its address").port();
    drop(listener);

    let output = run(json!({ "targets": [format!("good.test:{good}"), format!("gone.test:{closed}")] })).await;

    assert!(output.result["results"][1]["error"].is_string(), "{}", output.result);
    let assets: BTreeSet<(&str, &str)> =
        output.coverage.items().iter().map(|covered| (covered.asset.as_str(), covered.locations[0].as_str())).collect();
    assert_eq!(assets, BTreeSet::from([("good.test", format!("tcp/{good}").as_str())]));
}
