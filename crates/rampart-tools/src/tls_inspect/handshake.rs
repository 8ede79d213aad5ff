//! A TLS handshake for inspection, with the versions asked for, over a TCP connection the gate
//! made (`Gate::connect_tcp`), driven by hand so that what the server showed is kept even when
//! the handshake fails. The certificate chain, the stapled OCSP response and whether the
//! handshake's signature verified are noted, and any certificate is accepted: an inspection
//! reports what it found rather than refuse it. The handshake's signature is still checked, and
//! when it does not verify (a key this client refuses, such as RSA below 2048 bits) that is
//! noted too; nothing is ever sent over the connection, which is closed right after.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rampart_scope::rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rampart_scope::rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rampart_scope::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rampart_scope::rustls::{
    self, ClientConfig, ClientConnection, DigitallySignedStruct, ProtocolVersion, SignatureScheme,
    SupportedProtocolVersion,
};
use rampart_scope::{Gate, GateError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Most certificates of a chain kept.
pub const CHAIN_MAX: usize = 10;

/// What a handshake showed.
#[derive(Debug, Default)]
pub struct Shown {
    /// The certificates the server presented, its own first.
    pub chain: Vec<CertificateDer<'static>>,
    pub ocsp_stapled: bool,
    /// Why the handshake's signature did not verify, when it did not.
    pub signature_error: Option<String>,
}

/// The outcome of one handshake.
#[derive(Debug)]
pub struct Handshake {
    pub address: std::net::SocketAddr,
    /// The version agreed on; `None` when the server chose none this client speaks.
    pub version: Option<ProtocolVersion>,
    pub cipher_suite: Option<String>,
    pub shown: Shown,
    /// Why the handshake failed, when it did.
    pub error: Option<String>,
    /// The server said nothing in time: which versions it takes is unknown.
    pub timed_out: bool,
}

pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A handshake with `host`:`port` offering `versions`, naming `server_name`.
pub async fn handshake(
    gate: &Gate,
    host: &str,
    port: u16,
    server_name: ServerName<'static>,
    versions: &[&'static SupportedProtocolVersion],
    timeout: Duration,
) -> Result<Handshake, GateError> {
    let (mut stream, address) = gate.connect_tcp(host, port, timeout).await?;
    let provider = provider();
    let noting = Arc::new(Noting { provider: provider.clone(), shown: Mutex::new(Shown::default()) });
    let config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(|error| GateError::Tls { address, reason: error.to_string() })?
        .dangerous()
        .with_custom_certificate_verifier(noting.clone())
        .with_no_client_auth();
    let mut connection = ClientConnection::new(Arc::new(config), server_name)
        .map_err(|error| GateError::Tls { address, reason: error.to_string() })?;
    let mut timed_out = false;
    let error = match tokio::time::timeout(timeout, drive(&mut stream, &mut connection)).await {
        Ok(Ok(())) => {
            connection.send_close_notify();
            let _ = flush(&mut stream, &mut connection).await;
            None
        }
        Ok(Err(reason)) => Some(reason),
        Err(_) => {
            timed_out = true;
            Some("no answer in time".to_owned())
        }
    };
    let shown = std::mem::take(&mut *noting.shown.lock().unwrap_or_else(PoisonError::into_inner));
    Ok(Handshake {
        address,
        version: connection.protocol_version(),
        cipher_suite: connection.negotiated_cipher_suite().map(|suite| format!("{:?}", suite.suite())),
        shown,
        error,
        timed_out,
    })
}

/// Runs the handshake to its end, or to the first error.
async fn drive(stream: &mut TcpStream, connection: &mut ClientConnection) -> Result<(), String> {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        flush(stream, connection).await?;
        if !connection.is_handshaking() {
            return Ok(());
        }
        let n = stream.read(&mut buffer).await.map_err(|error| error.to_string())?;
        if n == 0 {
            return Err("the server closed the connection during the handshake".into());
        }
        let mut received = &buffer[..n];
        while !received.is_empty() {
            let taken = connection.read_tls(&mut received).map_err(|error| error.to_string())?;
            if let Err(error) = connection.process_new_packets() {
                // Tell the server why, as TLS does; the error is what matters here.
                let _ = flush(stream, connection).await;
                return Err(error.to_string());
            }
            if taken == 0 {
                break;
            }
        }
    }
}

async fn flush(stream: &mut TcpStream, connection: &mut ClientConnection) -> Result<(), String> {
    while connection.wants_write() {
        let mut out = Vec::new();
        connection.write_tls(&mut out).map_err(|error| error.to_string())?;
        stream.write_all(&out).await.map_err(|error| error.to_string())?;
    }
    Ok(())
}

/// Accepts any certificate and notes what the server showed; checks the handshake's signature
/// and notes, without failing, when it does not verify.
#[derive(Debug)]
struct Noting {
    provider: Arc<CryptoProvider>,
    shown: Mutex<Shown>,
}

impl Noting {
    fn signature(&self, verified: Result<HandshakeSignatureValid, rustls::Error>) -> HandshakeSignatureValid {
        if let Err(error) = verified {
            self.shown.lock().unwrap_or_else(PoisonError::into_inner).signature_error = Some(error.to_string());
        }
        HandshakeSignatureValid::assertion()
    }
}

impl ServerCertVerifier for Noting {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut shown = self.shown.lock().unwrap_or_else(PoisonError::into_inner);
        shown.chain = std::iter::once(end_entity)
            .chain(intermediates)
            .take(CHAIN_MAX)
            .map(|certificate| certificate.clone().into_owned())
            .collect();
        shown.ocsp_stapled = !ocsp_response.is_empty();
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(self.signature(verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(self.signature(verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)))
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}
