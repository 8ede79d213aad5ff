//! The probe for TLS 1.0 and 1.1, which rustls will not speak: a ClientHello offering at most the
//! old version, written by hand and sent over a TCP connection the gate made, and the first
//! record of the answer read back (a ServerHello and its version, or an alert). The parser reads
//! whatever the server sent: it never panics, never reads past what it was given and never
//! allocates from a length the server chose.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rampart_scope::Gate;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// TLS 1.0 on the wire.
pub const TLS1_0: u16 = 0x0301;
/// TLS 1.1 on the wire.
pub const TLS1_1: u16 = 0x0302;

/// The longest record TLS allows (2^14 plus the most expansion a cipher may add).
const RECORD_MAX: usize = 18_432;
/// Most bytes of the answer read: a record header, a handshake header and a version.
const ANSWER_MAX: usize = 64;

/// What a server answered a ClientHello with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// A ServerHello choosing this version.
    ServerHello { version: u16 },
    /// An alert (`70` is protocol_version).
    Alert { description: u8 },
    /// Something else: not TLS, or not a ServerHello.
    Other,
    /// Not enough bytes yet to tell.
    Incomplete,
}

/// Reads the first record of an answer.
pub fn parse_answer(bytes: &[u8]) -> Answer {
    let Some(header) = bytes.get(..5) else { return Answer::Incomplete };
    let length = usize::from(u16::from_be_bytes([header[3], header[4]]));
    if header[1] != 0x03 || length == 0 || length > RECORD_MAX {
        return Answer::Other;
    }
    match header[0] {
        // An alert: level, description.
        21 => match bytes.get(6) {
            Some(description) if length >= 2 => Answer::Alert { description: *description },
            Some(_) => Answer::Other,
            None => Answer::Incomplete,
        },
        // A handshake record: type (2 is ServerHello), a 24-bit length, then the version.
        22 => match bytes.get(5..11) {
            Some(handshake) if length >= 6 && handshake[0] == 2 => {
                Answer::ServerHello { version: u16::from_be_bytes([handshake[4], handshake[5]]) }
            }
            Some(_) => Answer::Other,
            None if bytes.get(5).is_some_and(|kind| *kind != 2) => Answer::Other,
            None => Answer::Incomplete,
        },
        _ => Answer::Other,
    }
}

/// A ClientHello offering at most `version` (TLS 1.0 or 1.1 suites only), naming `server_name`
/// when the target is a name.
pub fn client_hello(version: u16, server_name: Option<&str>) -> Vec<u8> {
    const SUITES: [u16; 13] =
        [0xc00a, 0xc009, 0xc014, 0xc013, 0x0039, 0x0033, 0x0035, 0x002f, 0xc012, 0x0016, 0x000a, 0x0005, 0x0004];
    let mut extensions = Vec::new();
    if let Some(name) = server_name.filter(|name| !name.is_empty() && name.len() <= 255) {
        let name = name.as_bytes();
        let mut list = u16_of(name.len() + 3).to_vec();
        list.push(0); // a host name
        list.extend_from_slice(&u16_of(name.len()));
        list.extend_from_slice(name);
        extension(&mut extensions, 0x0000, &list);
    }
    // Supported groups: secp256r1, secp384r1, secp521r1, x25519; point formats: uncompressed.
    extension(&mut extensions, 0x000a, &[0x00, 0x08, 0x00, 0x17, 0x00, 0x18, 0x00, 0x19, 0x00, 0x1d]);
    extension(&mut extensions, 0x000b, &[0x01, 0x00]);
    extension(&mut extensions, 0xff01, &[0x00]);

    let mut body = version.to_be_bytes().to_vec();
    body.extend_from_slice(&random());
    body.push(0); // no session id
    body.extend_from_slice(&u16_of(SUITES.len() * 2));
    for suite in SUITES {
        body.extend_from_slice(&suite.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]); // no compression
    body.extend_from_slice(&u16_of(extensions.len()));
    body.extend_from_slice(&extensions);

    let length = u32::try_from(body.len()).expect("a hello is a few hundred bytes").to_be_bytes();
    let mut handshake = vec![1, length[1], length[2], length[3]];
    handshake.extend_from_slice(&body);
    let mut record = vec![22, 0x03, 0x01];
    record.extend_from_slice(&u16_of(handshake.len()));
    record.extend_from_slice(&handshake);
    record
}

fn extension(into: &mut Vec<u8>, kind: u16, data: &[u8]) {
    into.extend_from_slice(&kind.to_be_bytes());
    into.extend_from_slice(&u16_of(data.len()));
    into.extend_from_slice(data);
}

fn u16_of(length: usize) -> [u8; 2] {
    u16::try_from(length).expect("a hello's parts are short").to_be_bytes()
}

/// The hello's random: it needs to be fresh, not secret (no key is ever made from it).
fn random() -> [u8; 32] {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|since| since.as_nanos()).unwrap_or_default();
    let mut random = [0u8; 32];
    for (index, byte) in random.iter_mut().enumerate() {
        *byte = (nanos >> ((index % 16) * 8)) as u8 ^ (index as u8).wrapping_mul(0x9d);
    }
    random
}

/// Whether the server at `host`:`port` accepts `version`: `Some(true)` when it answers with a
/// ServerHello of that version, `Some(false)` when it answers anything else (an alert, another
/// version, a closed connection), `None` when it cannot be reached or does not answer in time.
pub async fn accepts(
    gate: &Gate,
    host: &str,
    server_name: Option<&str>,
    port: u16,
    version: u16,
    timeout: Duration,
) -> Option<bool> {
    let (mut stream, _) = gate.connect_tcp(host, port, timeout).await.ok()?;
    let exchange = async {
        stream.write_all(&client_hello(version, server_name)).await.ok()?;
        let mut answer = Vec::with_capacity(ANSWER_MAX);
        let mut buffer = [0u8; ANSWER_MAX];
        loop {
            let n = match stream.read(&mut buffer[..ANSWER_MAX - answer.len()]).await {
                Ok(0) | Err(_) => return Some(false),
                Ok(n) => n,
            };
            answer.extend_from_slice(&buffer[..n]);
            match parse_answer(&answer) {
                Answer::Incomplete if answer.len() < ANSWER_MAX => continue,
                Answer::ServerHello { version: chosen } => return Some(chosen == version),
                _ => return Some(false),
            }
        }
    };
    tokio::time::timeout(timeout, exchange).await.ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ServerHello record choosing `version`.
    fn server_hello(version: u16) -> Vec<u8> {
        let mut body = version.to_be_bytes().to_vec();
        body.extend_from_slice(&[7; 32]);
        body.extend_from_slice(&[0, 0xc0, 0x13, 0]);
        let mut record = vec![22, 3, 1, 0, (body.len() + 4) as u8, 2, 0, 0, body.len() as u8];
        record.extend_from_slice(&body);
        record
    }

    #[test]
    fn a_server_hello_and_an_alert_are_read() {
        assert_eq!(parse_answer(&server_hello(TLS1_0)), Answer::ServerHello { version: TLS1_0 });
        assert_eq!(parse_answer(&server_hello(0x0303)), Answer::ServerHello { version: 0x0303 });
        assert_eq!(parse_answer(&[21, 3, 3, 0, 2, 2, 70]), Answer::Alert { description: 70 });
        assert_eq!(parse_answer(&server_hello(TLS1_1)[..11]), Answer::ServerHello { version: TLS1_1 });
    }

    #[test]
    fn hostile_or_short_answers_never_panic() {
        let hello = server_hello(TLS1_0);
        for cut in 0..11 {
            assert_eq!(parse_answer(&hello[..cut]), Answer::Incomplete, "{cut} bytes");
        }
        assert_eq!(parse_answer(b"HTTP/1.1 400 Bad Request\r\n"), Answer::Other);
        assert_eq!(
            parse_answer(&[22, 3, 1, 0xff, 0xff, 2, 0, 0, 0, 3, 1]),
            Answer::Other,
            "a record longer than TLS allows"
        );
        assert_eq!(parse_answer(&[22, 3, 1, 0, 0]), Answer::Other, "an empty record");
        assert_eq!(
            parse_answer(&[22, 3, 1, 0, 3, 2, 0, 0, 0, 3, 1]),
            Answer::Other,
            "a record too short for its hello"
        );
        assert_eq!(parse_answer(&[22, 3, 1, 0, 40, 11, 0]), Answer::Other, "a certificate first");
        assert_eq!(parse_answer(&[21, 3, 1, 0, 1, 2, 70]), Answer::Other, "an alert of one byte");
        assert_eq!(parse_answer(&[21, 3, 1, 0, 2, 2]), Answer::Incomplete);
        assert_eq!(parse_answer(&[0x80, 0x2e, 0x04, 0x00, 0x01]), Answer::Other, "SSL 2");
        let mut state = 0x1234_5678u32;
        for length in 0..2_000 {
            let bytes: Vec<u8> = (0..length % 80)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 17;
                    state ^= state << 5;
                    state as u8
                })
                .collect();
            let _ = parse_answer(&bytes);
        }
    }

    #[test]
    fn the_hello_is_well_formed_and_names_the_server() {
        let hello = client_hello(TLS1_1, Some("a.example"));
        assert_eq!(&hello[..3], &[22, 3, 1]);
        assert_eq!(usize::from(u16::from_be_bytes([hello[3], hello[4]])), hello.len() - 5);
        assert_eq!(hello[5], 1, "a ClientHello");
        let length = usize::from(hello[7]) << 8 | usize::from(hello[8]);
        assert_eq!(length, hello.len() - 9);
        assert_eq!(&hello[9..11], &TLS1_1.to_be_bytes());
        assert!(hello.windows(9).any(|window| window == b"a.example"));
        assert!(client_hello(TLS1_0, None).len() < hello.len(), "no server name for an address");
    }
}
