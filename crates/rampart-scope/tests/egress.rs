//! The gate for every protocol — HTTP (its resolver and every redirect hop), UDP and TLS — and
//! the outbound policy, against servers on 127.0.0.x and a resolver the test scripts. What is
//! outside the policy listens too, and is shown never to have been reached.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::{Collected, HttpServer, ScriptedResolver, assert_never_reached, gate, listener, response, target};
use rampart_scope::rustls::pki_types::pem::PemObject;
use rampart_scope::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rampart_scope::rustls::{self, RootCertStore};
use rampart_scope::{Certificates, DenyList, Gate, GateError, HttpClient, HttpOptions, OutboundConfig};
use reqwest::{Method, Request, Url};
use rstest::rstest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

const LIMIT: Duration = Duration::from_secs(10);

fn get(url: &str) -> Request {
    Request::new(Method::GET, Url::parse(url).expect("a URL"))
}

fn client(gate: &Gate, redirects: usize) -> HttpClient {
    HttpClient::new(gate.clone(), &HttpOptions { redirects, ..HttpOptions::default() }).expect("an HTTP client")
}

/// Two listeners on the same port: 127.0.0.2 (in the scope of the tests) and 127.0.0.3 (not).
async fn inside_and_outside() -> (TcpListener, TcpListener, u16) {
    let (inside, port) = listener("127.0.0.2").await;
    let outside = TcpListener::bind(("127.0.0.3", port)).await.expect("the same port on 127.0.0.3");
    (inside, outside, port)
}

#[rstest]
#[case::a_name_out_of_scope("http://elsewhere.test:{port}/")]
#[case::an_address_out_of_scope("http://127.0.0.3:{port}/")]
#[case::the_same_address_spelled_as_ipv6("http://[::ffff:7f00:3]:{port}/")]
#[case::a_name_in_scope_resolving_out_of_it("http://rebound.example.test:{port}/")]
#[tokio::test]
async fn the_http_client_refuses_a_redirect_out_of_scope_and_sends_nothing_there(#[case] hop: &str) {
    let (inside, outside, port) = inside_and_outside().await;
    let hop = hop.replace("{port}", &port.to_string());
    let redirect = hop.clone();
    let server = HttpServer::spawn(inside, move |path| match path {
        "/away" => response("302 Found", Some(&redirect), ""),
        "/near" => response("302 Found", Some("/final"), ""),
        _ => response("200 OK", None, "final"),
    })
    .await;
    let resolver = ScriptedResolver::new(&[
        ("app.example.test", &[&["127.0.0.2"]]),
        ("rebound.example.test", &[&["127.0.0.3"]]),
        ("elsewhere.test", &[&["127.0.0.3"]]),
    ]);
    let targets = vec![target("*.example.test", false), target("127.0.0.2", false)];
    let (gate, refusals) = gate(targets, DenyList::default(), resolver.clone());
    let client = client(&gate, 5);

    let followed = client.send(get(&format!("http://app.example.test:{port}/near"))).await.expect("in scope");
    assert_eq!(followed.text().await.expect("a body"), "final", "a redirect in scope is followed");
    let refused = client.send(get(&format!("http://app.example.test:{port}/away"))).await;

    assert!(matches!(&refused, Err(GateError::Refused(_))), "{refused:?}");
    assert_eq!(server.hits(), 3, "the two requests and the hop in scope");
    assert_never_reached(&outside).await;
    let refusals = refusals.all();
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert_eq!(refusals[0].port, Some(port));
    assert!(hop.contains(&refusals[0].host), "the hop is what the audit names: {refusals:?}");
}

#[tokio::test]
async fn when_dns_answers_change_the_client_connects_to_exactly_the_address_it_checked() {
    let (inside, outside, port) = inside_and_outside().await;
    let server = HttpServer::spawn(inside, |_| response("200 OK", None, "checked")).await;
    // The first answer is in scope; the next one (a rebinding) is not.
    let resolver = ScriptedResolver::new(&[("app.example.test", &[&["127.0.0.2"], &["127.0.0.3"]])]);
    let targets = vec![target("app.example.test", false), target("127.0.0.2", false)];
    let (gate, refusals) = gate(targets, DenyList::default(), resolver.clone());
    let url = format!("http://app.example.test:{port}/");

    let answer = client(&gate, 0).send(get(&url)).await.expect("in scope");
    assert_eq!(answer.text().await.expect("a body"), "checked");
    assert_eq!(resolver.lookups(), 1, "one lookup, checked and connected to");
    // A new connection looks the name up again, and gets the other answer: it is checked too.
    let again = client(&gate, 0).send(get(&url)).await;

    assert!(matches!(&again, Err(GateError::Refused(reason)) if reason.contains("resolves to 127.0.0.3")), "{again:?}");
    assert_eq!(resolver.lookups(), 2);
    assert_eq!(server.hits(), 1);
    assert_never_reached(&outside).await;
    assert_eq!(refusals.all().len(), 1);
}

#[tokio::test]
async fn a_url_naming_an_address_is_checked_before_anything_is_sent() {
    let (_inside, outside, port) = inside_and_outside().await;
    let (gate, refusals) = gate(vec![target("127.0.0.2", false)], DenyList::default(), ScriptedResolver::new(&[]));
    let client = client(&gate, 5);

    for url in [format!("http://127.0.0.3:{port}/"), format!("http://[::ffff:7f00:3]:{port}/")] {
        let refused = client.send(get(&url)).await;
        assert!(matches!(&refused, Err(GateError::Refused(_))), "{url}: {refused:?}");
    }
    let ftp = client.send(get(&format!("ftp://127.0.0.2:{port}/"))).await;
    assert!(matches!(&ftp, Err(GateError::Refused(_))), "{ftp:?}");
    assert_never_reached(&outside).await;
    assert_eq!(refusals.all().len(), 3);
}

#[tokio::test]
async fn udp_reaches_only_checked_addresses() {
    let echo = UdpSocket::bind("127.0.0.2:0").await.expect("bind");
    let port = echo.local_addr().expect("addr").port();
    let outside = UdpSocket::bind(("127.0.0.3", port)).await.expect("the same port on 127.0.0.3");
    tokio::spawn(async move {
        let mut buffer = [0; 512];
        while let Ok((read, from)) = echo.recv_from(&mut buffer).await {
            let _ = echo.send_to(&buffer[..read], from).await;
        }
    });
    let resolver =
        ScriptedResolver::new(&[("dns.example.test", &[&["127.0.0.2"]]), ("evil.example.test", &[&["127.0.0.3"]])]);
    let targets = vec![target("*.example.test", false), target("127.0.0.2", false)];
    let (gate, refusals) = gate(targets, DenyList::default(), resolver);

    let (socket, address) = gate.connect_udp("dns.example.test", port).await.expect("in scope");
    socket.send(b"query").await.expect("send");
    let mut buffer = [0; 16];
    let read = tokio::time::timeout(LIMIT, socket.recv(&mut buffer)).await.expect("an answer").expect("recv");
    assert_eq!((&buffer[..read], address), (&b"query"[..], SocketAddr::from(([127, 0, 0, 2], port))));

    for host in ["evil.example.test", "127.0.0.3"] {
        let refused = gate.connect_udp(host, port).await;
        assert!(matches!(&refused, Err(GateError::Refused(_))), "{host}: {refused:?}");
    }
    assert_eq!(refusals.all().len(), 2);
    // The first datagram waiting on 127.0.0.3 must be the test's own.
    let marker = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    marker.send_to(b"marker", ("127.0.0.3", port)).await.expect("send");
    let (read, from) = outside.recv_from(&mut buffer).await.expect("recv");
    assert_eq!((&buffer[..read], from), (&b"marker"[..], marker.local_addr().expect("addr")));
}

/// A self-signed certificate for `app.example.test` and 127.0.0.2, valid for a century (made with
/// `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1`).
fn certificate() -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
    let certificate = CertificateDer::from_pem_slice(include_bytes!("tls/cert.pem")).expect("a certificate");
    let key = PrivateKeyDer::from_pem_slice(include_bytes!("tls/key.pem")).expect("a key");
    (certificate, key)
}

/// A TLS server on `listener` that says hello after the handshake.
fn tls_server(listener: TcpListener) {
    let (certificate, key) = certificate();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![certificate], key)
        .expect("a server certificate");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut stream) = acceptor.accept(stream).await {
                    let _ = stream.write_all(b"hello").await;
                    let _ = stream.shutdown().await;
                }
            });
        }
    });
}

#[tokio::test]
async fn tls_reaches_only_checked_addresses_and_verifies_certificates_unless_told_to_inspect() {
    let (inside, outside, port) = inside_and_outside().await;
    tls_server(inside);
    let resolver =
        ScriptedResolver::new(&[("app.example.test", &[&["127.0.0.2"]]), ("evil.example.test", &[&["127.0.0.3"]])]);
    let targets = vec![target("*.example.test", false), target("127.0.0.2", false)];
    let (gate, refusals) = gate(targets, DenyList::default(), resolver);
    let mut roots = RootCertStore::empty();
    roots.add(certificate().0).expect("a root");
    let trusted = Certificates::VerifyWith(Arc::new(roots));

    let mut verified = gate.connect_tls("app.example.test", port, LIMIT, &trusted).await.expect("verified");
    let mut hello = String::new();
    verified.stream.read_to_string(&mut hello).await.expect("read");
    assert_eq!((hello.as_str(), verified.certificate_error.clone()), ("hello", None));
    assert_eq!(verified.address, SocketAddr::from(([127, 0, 0, 2], port)));

    let untrusted = gate.connect_tls("app.example.test", port, LIMIT, &Certificates::Verify).await;
    assert!(matches!(&untrusted, Err(GateError::Tls { .. })), "a self-signed certificate is refused: {untrusted:?}");

    let inspected = gate.connect_tls("app.example.test", port, LIMIT, &Certificates::AcceptAny).await.expect("any");
    assert!(inspected.certificate_error.is_some(), "what verification says is reported");
    assert_eq!(inspected.certificates().first(), Some(&certificate().0));

    for host in ["evil.example.test", "127.0.0.3"] {
        let refused = gate.connect_tls(host, port, LIMIT, &Certificates::AcceptAny).await;
        assert!(matches!(&refused, Err(GateError::Refused(_))), "{host}: {refused:?}");
    }
    assert_never_reached(&outside).await;
    assert_eq!(refusals.all().len(), 2);
}

/// The outbound gate with `outbound.allow` = `allow`; the server's own socket is `own`.
fn outbound(allow: &[&str], own: SocketAddr) -> (Gate, Arc<Collected>) {
    let config = OutboundConfig { allow: allow.iter().map(|net| (*net).to_owned()).collect() };
    config.validate().expect("a valid outbound.allow");
    let refusals = Arc::new(Collected::default());
    let resolver =
        ScriptedResolver::new(&[("model.internal", &[&["127.0.0.1"]]), ("other.internal", &[&["127.0.0.2"]])]);
    (Gate::outbound(Arc::new(config.policy(vec![own])), resolver, refusals.clone()), refusals)
}

#[tokio::test]
async fn the_outbound_policy_refuses_loopback_and_metadata_unless_allowed() {
    let (model, port) = listener("127.0.0.1").await;
    let model = HttpServer::spawn(model, |_| response("200 OK", None, "scored")).await;
    let (unnamed, other_port) = listener("127.0.0.2").await;
    let own = SocketAddr::from(([127, 0, 0, 1], 8080));

    // Nothing allowed: loopback, by address or by name, is refused.
    let (closed, refusals) = outbound(&[], own);
    for url in [format!("http://127.0.0.1:{port}/score"), format!("http://model.internal:{port}/score")] {
        let refused = client(&closed, 0).send(get(&url)).await;
        assert!(matches!(&refused, Err(GateError::Refused(_))), "{url}: {refused:?}");
    }
    assert!(matches!(closed.resolve("169.254.169.254", 80).await, Err(GateError::Refused(_))));
    assert_eq!(model.hits(), 0);
    assert_eq!(refusals.all().len(), 3);

    // Allowed: exactly what outbound.allow names, and never the server's own socket.
    let (open, refusals) = outbound(&["127.0.0.1/32"], own);
    let scored = client(&open, 0).send(get(&format!("http://model.internal:{port}/score"))).await.expect("allowed");
    assert_eq!(scored.text().await.expect("a body"), "scored");
    assert_eq!(model.hits(), 1);
    let other = client(&open, 0).send(get(&format!("http://other.internal:{other_port}/"))).await;
    assert!(matches!(&other, Err(GateError::Refused(_))), "127.0.0.2 is not allowed: {other:?}");
    assert!(matches!(open.resolve("169.254.169.254", 80).await, Err(GateError::Refused(_))), "metadata, always");
    assert!(matches!(open.resolve("127.0.0.1", 8080).await, Err(GateError::Refused(_))), "the server's own socket");
    assert_eq!(refusals.all().len(), 3);
    assert_never_reached(&unnamed).await;

    // Metadata only when named; public addresses always (checked, not connected to).
    let (metadata, _) = outbound(&["169.254.169.254/32"], own);
    assert!(metadata.resolve("169.254.169.254", 80).await.is_ok());
    assert!(metadata.resolve("192.0.2.1", 80).await.is_err(), "documentation addresses are refused");
    assert!(metadata.resolve("93.184.215.14", 443).await.is_ok());
}
