//! TLS over a TCP stream the gate checked. The certificate is verified by default (against the
//! host's trust store, or roots the caller gives); an inspection tool may instead accept any
//! certificate and be told what verification would have said.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::client::WebPkiServerVerifier;
use tokio_rustls::rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use tokio_rustls::rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{self, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::gate::{Gate, GateError};

/// How the server's certificate is taken.
#[derive(Clone, Debug, Default)]
pub enum Certificates {
    /// Verified against the host's trust store, for the name connected to.
    #[default]
    Verify,
    /// Verified against these roots only.
    VerifyWith(Arc<RootCertStore>),
    /// Any certificate is accepted, and what verification against the host's trust store says
    /// is reported ([`TlsConnection::certificate_error`]): for tools that inspect certificates.
    AcceptAny,
}

/// A TLS connection to an address the gate checked.
#[derive(Debug)]
pub struct TlsConnection {
    pub stream: TlsStream<TcpStream>,
    pub address: std::net::SocketAddr,
    /// Why the certificate would have been refused; `None` when it verifies. Always `None` unless
    /// the certificates were [`Certificates::AcceptAny`] (otherwise a refusal is an error).
    pub certificate_error: Option<String>,
}

impl TlsConnection {
    /// The certificates the server presented, its own first.
    pub fn certificates(&self) -> &[CertificateDer<'static>] {
        self.stream.get_ref().1.peer_certificates().unwrap_or_default()
    }
}

impl Gate {
    /// A TLS connection to `host`:`port` over a TCP connection the gate made to a checked
    /// address; the handshake has `timeout` too.
    pub async fn connect_tls(
        &self,
        host: &str,
        port: u16,
        timeout: Duration,
        certificates: &Certificates,
    ) -> Result<TlsConnection, GateError> {
        let (tcp, address) = self.connect_tcp(host, port, timeout).await?;
        let tls_error = |reason: String| GateError::Tls { address, reason };
        let server_name = ServerName::try_from(host.trim().to_owned())
            .map_err(|_| tls_error("the host is not a name a certificate can hold".into()))?;
        let outcome = Arc::new(Mutex::new(None));
        let config = client_config(certificates, &outcome).map_err(|error| tls_error(error.to_string()))?;
        let handshake = TlsConnector::from(Arc::new(config)).connect(server_name, tcp);
        let stream = tokio::time::timeout(timeout, handshake)
            .await
            .map_err(|_| GateError::Timeout(address))?
            .map_err(|error| tls_error(error.to_string()))?;
        let certificate_error = outcome.lock().unwrap_or_else(PoisonError::into_inner).take();
        Ok(TlsConnection { stream, address, certificate_error })
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The host's trust store, read once. A store that cannot be read leaves no roots: every
/// certificate is then refused (or, accepting any, reported unverified).
pub fn native_roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            let mut roots = RootCertStore::empty();
            roots.add_parsable_certificates(found.certs);
            Arc::new(roots)
        })
        .clone()
}

fn client_config(
    certificates: &Certificates,
    outcome: &Arc<Mutex<Option<String>>>,
) -> Result<ClientConfig, rustls::Error> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions()?;
    Ok(match certificates {
        Certificates::Verify => builder.with_root_certificates(native_roots()).with_no_client_auth(),
        Certificates::VerifyWith(roots) => builder.with_root_certificates(roots.clone()).with_no_client_auth(),
        Certificates::AcceptAny => {
            let verifier = WebPkiServerVerifier::builder_with_provider(native_roots(), provider.clone()).build().ok();
            let inspecting = Inspecting { verifier, provider, outcome: outcome.clone() };
            builder.dangerous().with_custom_certificate_verifier(Arc::new(inspecting)).with_no_client_auth()
        }
    })
}

/// Accepts any certificate and notes what verification says of it. The handshake's signatures
/// are still checked: the peer holds the key of the certificate it showed.
#[derive(Debug)]
struct Inspecting {
    /// `None` when the host has no trust anchors.
    verifier: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
    outcome: Arc<Mutex<Option<String>>>,
}

impl ServerCertVerifier for Inspecting {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let refused = match &self.verifier {
            Some(verifier) => verifier
                .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
                .err()
                .map(|error| error.to_string()),
            None => Some("the host has no trust anchors to verify against".to_owned()),
        };
        *self.outcome.lock().unwrap_or_else(PoisonError::into_inner) = refused;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}
