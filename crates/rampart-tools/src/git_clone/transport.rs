//! gix's smart-HTTP transport driven by the gate's HTTP client. gix runs on a blocking thread;
//! each GET and POST it asks for is sent by the gate's (async) client on the runtime, and the
//! answer's body is handed back chunk by chunk as it arrives, never buffered whole. Every wait
//! ends on cancellation or at the deadline, and every byte received counts against the limit.
//!
//! A POST is sent when gix first reads its answer: gix writes the request (the wants and haves of
//! a fetch, a bounded list) and only then reads, so the body is complete by then.

use std::future::Future;
use std::io::{self, BufRead, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use gix_transport::client::blocking_io::http::{GetResponse, Http, PostBodyDataKind, PostResponse};
use rampart_scope::{GateError, HttpClient};
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{Method, Request, Response, StatusCode, Url};
use tokio::runtime::Handle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::FetchError;

/// The most a fetch's request body (its wants and haves) may hold.
const UPLOAD_MAX: usize = 64 << 20;

/// What every exchange of one fetch shares: the client, the bounds, and why the fetch stopped.
pub(crate) struct Shared {
    client: HttpClient,
    runtime: Handle,
    cancel: CancellationToken,
    deadline: Instant,
    max_bytes: u64,
    received: AtomicU64,
    /// The first reason the fetch stopped, said to the caller instead of gix's account of it.
    stop: Mutex<Option<FetchError>>,
}

impl Shared {
    pub(crate) fn new(
        client: HttpClient,
        runtime: Handle,
        cancel: CancellationToken,
        deadline: Instant,
        max_bytes: u64,
    ) -> Self {
        Self { client, runtime, cancel, deadline, max_bytes, received: AtomicU64::new(0), stop: Mutex::new(None) }
    }

    /// Bytes of answers received so far.
    pub(crate) fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// Records why the fetch stops (the first reason wins), as an I/O error for gix.
    pub(crate) fn fail(&self, error: FetchError) -> io::Error {
        let message = error.to_string();
        self.stop.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert(error);
        io::Error::other(message)
    }

    /// The reason recorded by [`Shared::fail`], if any.
    pub(crate) fn stopped(&self) -> Option<FetchError> {
        self.stop.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// `future` run on the runtime from gix's thread, unless the fetch is cancelled or out of time first.
    fn wait<F: Future>(&self, future: F) -> io::Result<F::Output> {
        self.runtime.block_on(async {
            tokio::select! {
                biased;
                () = self.cancel.cancelled() => Err(self.fail(FetchError::Cancelled)),
                () = tokio::time::sleep_until(self.deadline) => Err(self.fail(FetchError::TimedOut)),
                output = future => Ok(output),
            }
        })
    }

    /// Sends `request` through the gate; only a 2xx answer is an answer.
    fn send(&self, request: Request) -> io::Result<Response> {
        let response = self.wait(self.client.send(request))?.map_err(|error| self.fail(unreachable(error)))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        Err(self.fail(match status {
            StatusCode::UNAUTHORIZED | StatusCode::PROXY_AUTHENTICATION_REQUIRED => FetchError::NeedsCredentials,
            StatusCode::NOT_FOUND => FetchError::NotFound,
            status if status.is_redirection() => FetchError::Redirected(status.as_u16()),
            status => FetchError::Status(status.as_u16()),
        }))
    }

    /// Counts `n` bytes received against the limit.
    fn count(&self, n: usize) -> io::Result<()> {
        let n = u64::try_from(n).unwrap_or(u64::MAX);
        let total = self.received.fetch_add(n, Ordering::Relaxed).saturating_add(n);
        if total > self.max_bytes {
            return Err(self.fail(FetchError::TooLarge(self.max_bytes)));
        }
        Ok(())
    }
}

/// A refusal or failure of the gate's client, said without the client's own wording (which
/// would name the URL) and without anything the server sent.
fn unreachable(error: GateError) -> FetchError {
    match error {
        GateError::Refused(reason) => FetchError::Refused(reason),
        GateError::Unresolved(name) => FetchError::Unreachable(format!("cannot resolve {name}")),
        GateError::Connect { address, source } => {
            FetchError::Unreachable(format!("cannot connect to {address}: {source}"))
        }
        GateError::Timeout(address) => FetchError::Unreachable(format!("no answer from {address} in time")),
        GateError::Tls { address, reason } => FetchError::Unreachable(format!("TLS with {address}: {reason}")),
        GateError::Http(error) if error.is_timeout() => FetchError::Unreachable("no answer in time".into()),
        GateError::Http(error) if error.is_connect() => FetchError::Unreachable("cannot connect to the server".into()),
        GateError::Http(_) => FetchError::Unreachable("the HTTP exchange with the server failed".into()),
    }
}

/// gix's HTTP backend: the gate's client, for URLs under one base URL.
pub(crate) struct GateHttp {
    shared: Arc<Shared>,
    /// The repository's URL; gix asks only for URLs under it.
    base: Url,
}

impl GateHttp {
    pub(crate) fn new(shared: Arc<Shared>, base: Url) -> Self {
        Self { shared, base }
    }

    /// The request gix asks for: a URL under the repository's, and its headers (`Name: value`).
    fn request(
        &self,
        method: Method,
        url: &str,
        headers: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> io::Result<Request> {
        let parsed = Url::parse(url).map_err(|_| io::Error::other("gix asked for a URL that does not parse"))?;
        let base_path = self.base.path().trim_end_matches('/');
        let under_base = parsed.origin() == self.base.origin()
            && parsed.path().strip_prefix(base_path).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            && parsed.username().is_empty()
            && parsed.password().is_none();
        if !under_base {
            return Err(io::Error::other("gix asked for a URL outside the repository's"));
        }
        let mut request = Request::new(method, parsed);
        for line in headers {
            let Some((name, value)) = line.as_ref().split_once(':') else { continue };
            if let (Ok(name), Ok(value)) = (HeaderName::try_from(name.trim()), HeaderValue::try_from(value.trim())) {
                request.headers_mut().append(name, value);
            }
        }
        Ok(request)
    }
}

fn gix_error(error: io::Error) -> gix::Error {
    gix::Error::from_error(error)
}

impl Http for GateHttp {
    type Headers = Headers;
    type ResponseBody = Body;
    type PostBody = Upload;

    fn get(
        &mut self,
        url: &str,
        _base_url: &str,
        headers: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> gix::Result<GetResponse<Headers, Body>> {
        let request = self.request(Method::GET, url, headers).map_err(gix_error)?;
        let exchange = Exchange::pending(self.shared.clone(), request);
        // Sent now, so that a refusal, a redirect or a 401 is the GET's own error.
        exchange.lock().unwrap_or_else(PoisonError::into_inner).send().map_err(gix_error)?;
        Ok(GetResponse { headers: Headers::of(&exchange), body: Body::of(&exchange) })
    }

    fn post(
        &mut self,
        url: &str,
        _base_url: &str,
        headers: impl IntoIterator<Item = impl AsRef<str>>,
        _body: PostBodyDataKind,
    ) -> gix::Result<PostResponse<Headers, Body, Upload>> {
        let request = self.request(Method::POST, url, headers).map_err(gix_error)?;
        let exchange = Exchange::pending(self.shared.clone(), request);
        Ok(PostResponse {
            post_body: Upload(exchange.clone()),
            headers: Headers::of(&exchange),
            body: Body::of(&exchange),
        })
    }

    /// gix's HTTP options (proxies, redirects, TLS settings from git configuration) are not
    /// taken: the gate's client decides all of that.
    fn configure(&mut self, _config: &dyn std::any::Any) -> gix::Result {
        Ok(())
    }
}

/// One request and its answer, shared by the writer of its body and the readers of its answer.
struct Exchange {
    shared: Arc<Shared>,
    /// The request, until it is sent.
    request: Option<Request>,
    upload: Vec<u8>,
    /// `name:value` lines of the answer's headers, once it is received.
    headers: Option<Vec<u8>>,
    /// The answer, until its body's reader takes it.
    response: Option<Response>,
    /// Why sending failed, said again to every later reader.
    failed: Option<String>,
}

type Shareable = Arc<Mutex<Exchange>>;

impl Exchange {
    fn pending(shared: Arc<Shared>, request: Request) -> Shareable {
        Arc::new(Mutex::new(Self {
            shared,
            request: Some(request),
            upload: Vec::new(),
            headers: None,
            response: None,
            failed: None,
        }))
    }

    /// Sends the request with the body written so far, once.
    fn send(&mut self) -> io::Result<()> {
        if let Some(reason) = &self.failed {
            return Err(io::Error::other(reason.clone()));
        }
        let Some(mut request) = self.request.take() else { return Ok(()) };
        if request.method() == Method::POST {
            *request.body_mut() = Some(std::mem::take(&mut self.upload).into());
        }
        match self.shared.send(request) {
            Ok(response) => {
                let mut lines = Vec::new();
                for (name, value) in response.headers() {
                    if let Ok(value) = value.to_str() {
                        lines.extend_from_slice(format!("{name}:{value}\n").as_bytes());
                    }
                }
                self.headers = Some(lines);
                self.response = Some(response);
                Ok(())
            }
            Err(error) => {
                self.failed = Some(error.to_string());
                Err(error)
            }
        }
    }
}

/// The body of a POST, written by gix before it reads the answer.
pub(crate) struct Upload(Shareable);

impl Write for Upload {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let mut exchange = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if exchange.request.is_none() {
            return Err(io::Error::other("the request was already sent"));
        }
        if exchange.upload.len().saturating_add(bytes.len()) > UPLOAD_MAX {
            return Err(io::Error::other("the request to the server grew past its bound"));
        }
        exchange.upload.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The answer's headers, one `name:value` line each.
pub(crate) struct Headers {
    exchange: Shareable,
    lines: Option<io::Cursor<Vec<u8>>>,
}

impl Headers {
    fn of(exchange: &Shareable) -> Self {
        Self { exchange: exchange.clone(), lines: None }
    }

    fn lines(&mut self) -> io::Result<&mut io::Cursor<Vec<u8>>> {
        if self.lines.is_none() {
            let mut exchange = self.exchange.lock().unwrap_or_else(PoisonError::into_inner);
            exchange.send()?;
            self.lines = Some(io::Cursor::new(exchange.headers.take().unwrap_or_default()));
        }
        Ok(self.lines.get_or_insert_with(|| io::Cursor::new(Vec::new())))
    }
}

impl Read for Headers {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.lines()?.read(buf)
    }
}

impl BufRead for Headers {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.lines()?.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        if let Some(lines) = &mut self.lines {
            lines.consume(amount);
        }
    }
}

/// The answer's body, pulled from the connection a chunk at a time as gix reads it.
pub(crate) struct Body {
    exchange: Shareable,
    shared: Arc<Shared>,
    /// Taken from the exchange on the first read; `None` again once the body has ended.
    response: Option<Response>,
    started: bool,
    chunk: Vec<u8>,
    at: usize,
}

impl Body {
    fn of(exchange: &Shareable) -> Self {
        let shared = exchange.lock().unwrap_or_else(PoisonError::into_inner).shared.clone();
        Self { exchange: exchange.clone(), shared, response: None, started: false, chunk: Vec::new(), at: 0 }
    }
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Body {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if !self.started {
            let mut exchange = self.exchange.lock().unwrap_or_else(PoisonError::into_inner);
            exchange.send()?;
            self.response = exchange.response.take();
            self.started = true;
        }
        while self.at >= self.chunk.len() {
            let Some(response) = self.response.as_mut() else { return Ok(&[]) };
            match self.shared.wait(response.chunk())? {
                Ok(Some(chunk)) => {
                    self.shared.count(chunk.len())?;
                    self.chunk = Vec::from(chunk);
                    self.at = 0;
                }
                Ok(None) => self.response = None,
                Err(_) => {
                    self.response = None;
                    return Err(self
                        .shared
                        .fail(FetchError::Unreachable("the connection broke during the answer".into())));
                }
            }
        }
        Ok(&self.chunk[self.at..])
    }

    fn consume(&mut self, amount: usize) {
        self.at = self.at.saturating_add(amount).min(self.chunk.len());
    }
}
