//! DNS on the wire: queries encoded and answers decoded with hickory-proto, sent only through the
//! gate (UDP to a resolver, TCP when an answer is truncated, TCP for a zone transfer). Nothing
//! here opens a socket of its own. An answer is outside input: it is read from a bounded buffer,
//! kept only when its id, question and flags match what was asked, and anything it cannot decode
//! is dropped, never a panic.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use futures_util::future::join_all;
use hickory_proto::op::{Edns, Header, HeaderCounts, Message, MessageType, Metadata, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncodable, BinEncoder};
use rampart_scope::{Gate, GateError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{Semaphore, oneshot};
use tokio::time::Instant;

/// The UDP payload size announced with EDNS (the DNS flag day's value, which avoids IP fragments).
const UDP_PAYLOAD: u16 = 1232;
/// The most a UDP answer is read into; a longer datagram is cut and then fails to decode.
const UDP_BUFFER: usize = 4096;
/// Records one answer may carry before the rest are dropped.
pub const RECORDS_MAX: usize = 512;
/// Messages a zone transfer is read for at most.
const TRANSFER_MESSAGES_MAX: usize = 2_000;
/// Records a zone transfer is counted to at most.
pub const TRANSFER_RECORDS_MAX: u64 = 100_000;

/// One resolver, as configured: a host (an address) and a port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolver {
    pub host: String,
    pub port: u16,
}

impl std::fmt::Display for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// What a resolver said to one question.
#[derive(Clone, Debug)]
pub struct Answer {
    pub code: ResponseCode,
    /// The answer section, at most [`RECORDS_MAX`] records.
    pub records: Vec<Record>,
}

impl Answer {
    /// The records of `record_type` owned by `name`.
    pub fn of<'a>(&'a self, name: &'a Name, record_type: RecordType) -> impl Iterator<Item = &'a RData> + 'a {
        self.records
            .iter()
            .filter(move |record| record.record_type() == record_type && same_name(&record.name, name))
            .map(|record| &record.data)
    }

    /// Where the CNAME chain from `name` in this answer ends.
    pub fn chain_end(&self, name: &Name) -> Name {
        let mut end = name.clone();
        for _ in 0..16 {
            let next = self.of(&end, RecordType::CNAME).find_map(|data| match data {
                RData::CNAME(target) => Some(target.0.clone()),
                _ => None,
            });
            match next {
                Some(next) if !same_name(&next, &end) => end = next,
                _ => break,
            }
        }
        end
    }
}

/// Names compared as DNS compares them: case aside, with or without the root dot.
pub fn same_name(left: &Name, right: &Name) -> bool {
    left.eq_ignore_root(right)
}

/// Why a question got no answer.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The gate refused the resolver: the whole run stops.
    #[error("{0}")]
    Refused(String),
    #[error("no answer in time")]
    Timeout,
    #[error("{0}")]
    Failed(String),
}

/// Times a question is asked at most when no answer comes.
const ATTEMPTS: usize = 2;
/// Questions in flight on one socket at most: their answers, queued at once, stay well within
/// the kernel's default receive buffer (about 200 small datagrams), which drops the rest.
const QUESTIONS_PER_SOCKET: usize = 64;

/// The resolvers of a run, asked in turn, with a bound on the questions in flight.
///
/// Each resolver is asked over a few sockets the gate connected to it, one for every
/// [`QUESTIONS_PER_SOCKET`] questions in flight: the questions on a socket are told apart by
/// their id, and [`Resolvers::receive`] hands each answer to the question it answers. A
/// datagram that answers no question in flight (a late, stray or forged one) is dropped.
pub struct Resolvers {
    gate: Gate,
    list: Vec<Resolver>,
    /// By resolver (its place in `list`), its sockets.
    channels: Vec<Vec<Channel>>,
    timeout: Duration,
    next: AtomicUsize,
    in_flight: Semaphore,
    /// Questions sent (UDP datagrams and TCP exchanges), retries included.
    pub sent: AtomicU64,
}

/// The socket connected to one resolver and the questions in flight on it, by id.
struct Channel {
    socket: Option<UdpSocket>,
    waiting: Mutex<HashMap<u16, Waiting>>,
    /// Why the socket could not be connected, or cannot be read any more: its questions fail at
    /// once (and are asked of the next resolver).
    broken: Mutex<Option<String>>,
}

/// A question in flight: what its answer must repeat, and where the answer goes.
struct Waiting {
    name: Name,
    record_type: RecordType,
    answer: oneshot::Sender<Result<Reply, QueryError>>,
}

/// Where a question's answer comes (or why none will).
type Answered = oneshot::Receiver<Result<Reply, QueryError>>;

impl Resolvers {
    /// Has the gate connect the sockets to each resolver of `list` for `concurrency` questions
    /// in flight; a refusal is the run's end.
    pub async fn connect(
        gate: Gate,
        list: Vec<Resolver>,
        timeout: Duration,
        concurrency: usize,
    ) -> Result<Self, String> {
        let sockets = concurrency.div_ceil(QUESTIONS_PER_SOCKET).max(1);
        let mut channels = Vec::with_capacity(list.len());
        for resolver in &list {
            let mut sockets_of = Vec::with_capacity(sockets);
            for _ in 0..sockets {
                let (socket, broken) = match gate.connect_udp(&resolver.host, resolver.port).await {
                    Ok((socket, _)) => (Some(socket), None),
                    Err(GateError::Refused(reason)) => return Err(reason),
                    Err(error) => (None, Some(error.to_string())),
                };
                sockets_of.push(Channel { socket, waiting: Mutex::default(), broken: Mutex::new(broken) });
            }
            channels.push(sockets_of);
        }
        Ok(Self {
            gate,
            list,
            channels,
            timeout,
            next: AtomicUsize::new(0),
            in_flight: Semaphore::new(concurrency.max(1)),
            sent: AtomicU64::new(0),
        })
    }

    /// Reads the answers of every resolver and hands each to its question; runs until dropped.
    pub async fn receive(&self) -> std::convert::Infallible {
        join_all(self.channels.iter().flatten().map(Channel::receive)).await;
        std::future::pending().await
    }

    /// Asks `name`/`record_type`, once more when no answer comes: of the next resolver in turn,
    /// or of the same one when it is the only one (a datagram lost on the way is not a name
    /// without an answer).
    pub async fn query(&self, name: &Name, record_type: RecordType) -> Result<Answer, QueryError> {
        let _permit = self.in_flight.acquire().await.map_err(|_| QueryError::Failed("stopped".into()))?;
        let first = self.next.fetch_add(1, Ordering::Relaxed);
        let mut last = QueryError::Timeout;
        for attempt in 0..ATTEMPTS {
            match self.ask((first + attempt) % self.list.len(), name, record_type).await {
                Ok(answer) => return Ok(answer),
                Err(QueryError::Refused(reason)) => return Err(QueryError::Refused(reason)),
                Err(error) => last = error,
            }
        }
        Err(last)
    }

    /// Asks the resolver at `index` of the list.
    async fn ask(&self, index: usize, name: &Name, record_type: RecordType) -> Result<Answer, QueryError> {
        // The resolver's socket with the fewest questions in flight.
        let channel = self.channels[index]
            .iter()
            .min_by_key(|channel| channel.in_flight())
            .ok_or_else(|| QueryError::Failed("no socket to the resolver".into()))?;
        let (socket, id, answer) = channel.wait_for(name, record_type)?;
        let _give_back = GiveBack { channel, id };
        let question = encode(id, name, record_type)?;
        self.sent.fetch_add(1, Ordering::Relaxed);
        socket.send(&question).await.map_err(|error| QueryError::Failed(error.to_string()))?;
        let deadline = Instant::now() + self.timeout;
        let reply = match tokio::time::timeout_at(deadline, answer).await {
            Err(_) => return Err(QueryError::Timeout),
            Ok(Err(_)) => return Err(QueryError::Failed("stopped".into())),
            Ok(Ok(reply)) => reply?,
        };
        if !reply.truncated {
            return Ok(reply.answer);
        }
        // Truncated: the same question again over TCP.
        let resolver = &self.list[index];
        let (mut stream, _) =
            self.gate.connect_tcp(&resolver.host, resolver.port, self.timeout).await.map_err(gate_error)?;
        self.sent.fetch_add(1, Ordering::Relaxed);
        let exchange = async {
            write_framed(&mut stream, &question).await?;
            let bytes = read_framed(&mut stream).await?;
            decode_answer(&bytes, id, name, record_type).ok_or_else(|| QueryError::Failed("a malformed answer".into()))
        };
        match tokio::time::timeout_at(deadline + self.timeout, exchange).await {
            Ok(result) => result.map(|reply| reply.answer),
            Err(_) => Err(QueryError::Timeout),
        }
    }
}

impl Channel {
    /// The socket, a random id no question in flight on it has, and where the answer will come.
    fn wait_for(&self, name: &Name, record_type: RecordType) -> Result<(&UdpSocket, u16, Answered), QueryError> {
        let broken = self.broken.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let socket = match (&self.socket, broken) {
            (Some(socket), None) => socket,
            (_, reason) => return Err(QueryError::Failed(reason.unwrap_or_default())),
        };
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        // At most as many ids are taken as questions are in flight (1,024): a free one is found.
        let id = std::iter::repeat_with(rand::random::<u16>).find(|id| !waiting.contains_key(id)).unwrap_or(0);
        let (sender, receiver) = oneshot::channel();
        waiting.insert(id, Waiting { name: name.clone(), record_type, answer: sender });
        Ok((socket, id, receiver))
    }

    fn in_flight(&self) -> usize {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    fn forget(&self, id: u16) {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner).remove(&id);
    }

    /// Reads answers until the socket cannot be read; each one that answers a question in
    /// flight goes to it.
    async fn receive(&self) {
        let Some(socket) = &self.socket else { return };
        let mut buffer = Vec::with_capacity(UDP_BUFFER);
        loop {
            buffer.clear();
            match socket.recv_buf(&mut buffer).await {
                Ok(_) => self.deliver(&buffer),
                // The resolver's host said no one listens (an ICMP error on the connected
                // socket): the questions waiting fail now rather than at their deadline.
                Err(error) if error.kind() == std::io::ErrorKind::ConnectionRefused => {
                    self.fail_all(&error.to_string())
                }
                Err(error) => {
                    *self.broken.lock().unwrap_or_else(PoisonError::into_inner) = Some(error.to_string());
                    self.fail_all(&error.to_string());
                    return;
                }
            }
        }
    }

    fn deliver(&self, bytes: &[u8]) {
        let Some(id) = bytes.get(..2).map(|id| u16::from_be_bytes([id[0], id[1]])) else { return };
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(question) = waiting.get(&id) else { return };
        let Some(reply) = decode_answer(bytes, id, &question.name, question.record_type) else { return };
        if let Some(question) = waiting.remove(&id) {
            let _ = question.answer.send(Ok(reply));
        }
    }

    fn fail_all(&self, reason: &str) {
        let waiting = std::mem::take(&mut *self.waiting.lock().unwrap_or_else(PoisonError::into_inner));
        for (_, question) in waiting {
            let _ = question.answer.send(Err(QueryError::Failed(reason.to_owned())));
        }
    }
}

/// Gives a question's id back when its wait ends, however it ends (an answer, the deadline,
/// the run stopped).
struct GiveBack<'a> {
    channel: &'a Channel,
    id: u16,
}

impl Drop for GiveBack<'_> {
    fn drop(&mut self) {
        self.channel.forget(self.id);
    }
}

fn gate_error(error: GateError) -> QueryError {
    match error {
        GateError::Refused(reason) => QueryError::Refused(reason),
        other => QueryError::Failed(other.to_string()),
    }
}

/// An answer as read from the wire.
pub struct Reply {
    pub answer: Answer,
    /// The answer did not fit in a datagram: the question is asked again over TCP.
    pub truncated: bool,
}

/// A standard query for `name`/`record_type`, with recursion desired and EDNS but for a zone
/// transfer: the header, the question and the OPT record written straight to the wire.
pub fn encode(id: u16, name: &Name, record_type: RecordType) -> Result<Vec<u8>, QueryError> {
    let transfer = record_type == RecordType::AXFR;
    let mut metadata = Metadata::new(id, MessageType::Query, OpCode::Query);
    metadata.recursion_desired = !transfer;
    let counts = HeaderCounts { queries: 1, additionals: u16::from(!transfer), ..HeaderCounts::default() };
    let mut bytes = Vec::with_capacity(64);
    let mut encoder = BinEncoder::new(&mut bytes);
    let written = Header { metadata, counts }.emit(&mut encoder).and_then(|()| {
        Query::query(name.clone(), record_type).emit(&mut encoder)?;
        if transfer {
            return Ok(());
        }
        let mut edns = Edns::new();
        edns.set_max_payload(UDP_PAYLOAD);
        edns.emit(&mut encoder)
    });
    written.map_err(|_| QueryError::Failed(format!("cannot encode a question for {name}")))?;
    Ok(bytes)
}

/// The answer to question `id` for `name`/`record_type` in `bytes`, or nothing when `bytes` is
/// not a response to exactly that question (or not a DNS message at all).
///
/// Only what an answer needs is read: the header, the question and at most [`RECORDS_MAX`]
/// records of the answer section; the authority and additional sections are left unread (the
/// response code is the header's four bits: the extended codes of EDNS only tell of EDNS errors).
pub fn decode_answer(bytes: &[u8], id: u16, name: &Name, record_type: RecordType) -> Option<Reply> {
    let mut decoder = BinDecoder::new(bytes);
    let Header { metadata, counts } = Header::read(&mut decoder).ok()?;
    if metadata.id != id || metadata.message_type != MessageType::Response || counts.queries != 1 {
        return None;
    }
    let query = Query::read(&mut decoder).ok()?;
    if query.query_type() != record_type || !same_name(query.name(), name) {
        return None;
    }
    let count = usize::from(counts.answers).min(RECORDS_MAX);
    let mut records = Vec::with_capacity(count);
    for _ in 0..count {
        let record = Record::read(&mut decoder).ok()?;
        // Records of the additional section, or of an update, have no place in an answer.
        if matches!(record.record_type(), RecordType::OPT | RecordType::SIG | RecordType::TSIG)
            || matches!(record.data, RData::Update0(_))
        {
            return None;
        }
        records.push(record);
    }
    let answer = Answer { code: metadata.response_code, records };
    Some(Reply { answer, truncated: metadata.truncation })
}

async fn write_framed(stream: &mut TcpStream, bytes: &[u8]) -> Result<(), QueryError> {
    let length = u16::try_from(bytes.len()).map_err(|_| QueryError::Failed("a question too long".into()))?;
    let mut framed = Vec::with_capacity(bytes.len() + 2);
    framed.extend_from_slice(&length.to_be_bytes());
    framed.extend_from_slice(bytes);
    stream.write_all(&framed).await.map_err(|error| QueryError::Failed(error.to_string()))
}

/// One length-prefixed message: at most 65,535 bytes, as the prefix allows.
async fn read_framed(stream: &mut TcpStream) -> Result<Vec<u8>, QueryError> {
    let mut prefix = [0_u8; 2];
    stream.read_exact(&mut prefix).await.map_err(|error| QueryError::Failed(error.to_string()))?;
    let mut bytes = vec![0_u8; usize::from(u16::from_be_bytes(prefix))];
    stream.read_exact(&mut bytes).await.map_err(|error| QueryError::Failed(error.to_string()))?;
    Ok(bytes)
}

/// What a name server said to a request for a zone transfer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transfer {
    /// The zone was sent: this many records (counted to [`TRANSFER_RECORDS_MAX`]).
    Allowed { records: u64 },
    /// The server refused, or closed the connection without sending the zone.
    Refused,
}

/// Asks `address` for a transfer of `zone` over TCP through the gate, within `timeout` overall.
pub async fn transfer(
    gate: &Gate,
    address: SocketAddr,
    zone: &Name,
    timeout: Duration,
) -> Result<Transfer, QueryError> {
    let (mut stream, _) =
        gate.connect_tcp(&address.ip().to_string(), address.port(), timeout).await.map_err(gate_error)?;
    let id: u16 = rand::random();
    let question = encode(id, zone, RecordType::AXFR)?;
    let exchange = async {
        write_framed(&mut stream, &question).await?;
        let mut records: u64 = 0;
        let mut soas = 0;
        for _ in 0..TRANSFER_MESSAGES_MAX {
            let bytes = match read_framed(&mut stream).await {
                Ok(bytes) => bytes,
                // A server that hangs up before the zone is whole did not transfer it.
                Err(_) => return Ok(Transfer::Refused),
            };
            let Ok(message) = Message::from_vec(&bytes) else {
                return Err(QueryError::Failed("a malformed transfer message".into()));
            };
            if message.metadata.id != id || message.metadata.message_type != MessageType::Response {
                return Err(QueryError::Failed("a transfer message that answers another question".into()));
            }
            if message.metadata.response_code != ResponseCode::NoError {
                return Ok(Transfer::Refused);
            }
            if records == 0 && message.answers.first().is_none_or(|record| record.record_type() != RecordType::SOA) {
                return Ok(Transfer::Refused);
            }
            for record in &message.answers {
                records = (records + 1).min(TRANSFER_RECORDS_MAX);
                if record.record_type() == RecordType::SOA {
                    soas += 1;
                }
            }
            // A transfer opens and closes with the zone's SOA.
            if soas >= 2 || records >= TRANSFER_RECORDS_MAX {
                return Ok(Transfer::Allowed { records });
            }
        }
        Ok(Transfer::Allowed { records })
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(result) => result,
        Err(_) => Err(QueryError::Timeout),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::rdata::{A, CNAME};

    fn name(text: &str) -> Name {
        Name::from_ascii(text).expect("a name")
    }

    fn response(id: u16, asked: &Name, record_type: RecordType, records: Vec<Record>) -> Vec<u8> {
        let mut message = Message::response(id, OpCode::Query);
        message.add_query(Query::query(asked.clone(), record_type));
        message.add_answers(records);
        message.to_vec().expect("encodes")
    }

    #[test]
    fn an_answer_to_the_question_asked_is_read() {
        let asked = name("www.example.test.");
        let bytes = response(
            7,
            &asked,
            RecordType::A,
            vec![Record::from_rdata(asked.clone(), 60, RData::A(A::new(127, 0, 0, 9)))],
        );
        let answer = decode_answer(&bytes, 7, &asked, RecordType::A).expect("the answer").answer;
        assert_eq!(answer.code, ResponseCode::NoError);
        assert_eq!(answer.of(&asked, RecordType::A).count(), 1);
    }

    #[test]
    fn a_question_is_a_query_with_edns_and_a_transfer_one_without() {
        let asked = name("www.example.test.");
        let message = Message::from_vec(&encode(7, &asked, RecordType::MX).expect("encodes")).expect("decodes");
        assert_eq!((message.metadata.id, message.metadata.message_type), (7, MessageType::Query));
        assert!(message.metadata.recursion_desired);
        assert_eq!(message.queries, vec![Query::query(asked.clone(), RecordType::MX)]);
        assert_eq!(message.edns.as_ref().map(Edns::max_payload), Some(UDP_PAYLOAD));
        assert!(message.answers.is_empty() && message.authorities.is_empty() && message.additionals.is_empty());

        let message = Message::from_vec(&encode(8, &asked, RecordType::AXFR).expect("encodes")).expect("decodes");
        assert!(!message.metadata.recursion_desired && message.edns.is_none());
        assert_eq!(message.queries, vec![Query::query(asked, RecordType::AXFR)]);
    }

    #[test]
    fn an_answer_to_another_question_or_id_is_not_taken() {
        let asked = name("www.example.test.");
        let bytes = response(7, &asked, RecordType::A, Vec::new());
        assert!(decode_answer(&bytes, 8, &asked, RecordType::A).is_none(), "another id");
        assert!(decode_answer(&bytes, 7, &name("other.test."), RecordType::A).is_none(), "another name");
        assert!(decode_answer(&bytes, 7, &asked, RecordType::AAAA).is_none(), "another type");
        let question = encode(7, &asked, RecordType::A).expect("encodes");
        assert!(decode_answer(&question, 7, &asked, RecordType::A).is_none(), "a question is not an answer");
    }

    #[test]
    fn hostile_bytes_never_panic() {
        let asked = name("www.example.test.");
        let good = response(
            7,
            &asked,
            RecordType::A,
            vec![Record::from_rdata(asked.clone(), 60, RData::A(A::new(127, 0, 0, 9)))],
        );
        // Every truncation of a good answer.
        for cut in 0..good.len() {
            let _ = decode_answer(&good[..cut], 7, &asked, RecordType::A);
        }
        // Garbage, and a header that claims 65,535 records of each section.
        let mut claims = vec![0, 7, 0x81, 0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        claims.extend_from_slice(&[0xc0, 0x0c, 0xc0, 0x0c]);
        for bytes in [vec![], vec![0xff; 3], vec![0xff; 4096], claims] {
            assert!(decode_answer(&bytes, 7, &asked, RecordType::A).is_none());
        }
        // A compression pointer that points at itself.
        let mut looped = good.clone();
        let at = looped.len() - 16;
        looped[at] = 0xc0;
        looped[at + 1] = u8::try_from(at).unwrap_or(12);
        let _ = decode_answer(&looped, 7, &asked, RecordType::A);
        // Bytes flipped one at a time.
        for index in 0..good.len() {
            let mut flipped = good.clone();
            flipped[index] ^= 0xff;
            let _ = decode_answer(&flipped, 7, &asked, RecordType::A);
        }
    }

    #[test]
    fn a_cname_loop_ends_the_chain_without_spinning() {
        let first = name("a.example.test.");
        let second = name("b.example.test.");
        let answer = Answer {
            code: ResponseCode::NoError,
            records: vec![
                Record::from_rdata(first.clone(), 60, RData::CNAME(CNAME(second.clone()))),
                Record::from_rdata(second.clone(), 60, RData::CNAME(CNAME(first.clone()))),
            ],
        };
        let end = answer.chain_end(&first);
        assert!(same_name(&end, &first) || same_name(&end, &second));
    }
}
