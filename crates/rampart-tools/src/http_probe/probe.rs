//! One URL probed: its redirects followed one hop at a time, each hop sent through the gate's
//! HTTP client (so each is checked, and a hop out of scope is refused, audited, and ends the chain
//! there); the final response's body read up to a bound; the favicon fetched and hashed. At most
//! `per_host` requests are in flight to one host and port at a time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rampart_scope::{GateError, HttpClient};
use reqwest::header::{CONTENT_TYPE, LOCATION};
use reqwest::{Method, Request, Response, Url};
use schemars::JsonSchema;
use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::http_probe::favicon::{sha256_hex, shodan_hash};
use crate::http_probe::fingerprints::{Technology, technologies};
use crate::http_probe::headers::{Cookie, SecurityHeaders, cookies, header};
use crate::http_probe::page::Page;

/// Most bytes of a body read.
pub const BODY_MAX: usize = 1 << 20;
/// Most characters of a redirect's location followed (as of a URL asked for).
const LOCATION_MAX: usize = 2048;
/// Most bytes of a favicon read; a larger one is not hashed.
pub const FAVICON_MAX: usize = 256 << 10;

/// How each URL is probed.
#[derive(Clone, Debug)]
pub struct Settings {
    pub timeout: Duration,
    pub max_redirects: usize,
    pub favicon: bool,
}

/// At most `per_host` requests at once to one host and port.
pub struct HostLimits {
    per_host: usize,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl HostLimits {
    pub fn new(per_host: usize) -> Self {
        Self { per_host, hosts: Mutex::new(HashMap::new()) }
    }

    async fn enter(&self, url: &Url) -> OwnedSemaphorePermit {
        let key = format!("{}:{}", url.host_str().unwrap_or_default(), url.port_or_known_default().unwrap_or(0));
        let semaphore = {
            let mut hosts = self.hosts.lock().unwrap_or_else(PoisonError::into_inner);
            hosts.entry(key).or_insert_with(|| Arc::new(Semaphore::new(self.per_host))).clone()
        };
        semaphore.acquire_owned().await.expect("a host's semaphore is never closed")
    }
}

/// A response that sent the client elsewhere.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Hop {
    pub url: String,
    pub status: u16,
    /// Where it pointed, resolved against `url`.
    pub location: String,
}

/// A hop the gate would not let the probe follow.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Refused {
    pub url: String,
    pub reason: String,
}

/// The favicon's hashes.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Favicon {
    pub url: String,
    /// MurmurHash3 of its base64, as Shodan's `http.favicon.hash`.
    pub mmh3: i32,
    pub sha256: String,
}

/// What one URL gave.
#[derive(Clone, Debug, Default, Serialize, JsonSchema)]
pub struct Probed {
    /// The URL as asked.
    pub url: String,
    /// The URL of the last response; absent when none came.
    pub final_url: Option<String>,
    /// The status of the last response.
    pub status: Option<u16>,
    pub title: Option<String>,
    /// Each response that redirected, in order.
    pub redirects: Vec<Hop>,
    /// The URL (asked, or a redirect's) the gate refused; the chain stops there.
    pub refused: Option<Refused>,
    /// True when the chain was longer than `max_redirects`: the last response is a redirect.
    pub too_many_redirects: bool,
    /// Why no response came, when none did.
    pub error: Option<String>,
    /// The address answered from.
    pub address: Option<String>,
    pub server: Option<String>,
    pub content_type: Option<String>,
    /// Bytes of the body read (at most 1 MiB).
    pub size: usize,
    /// True when the body was longer than what was read.
    pub truncated: bool,
    /// From the first request sent to the last body byte read.
    pub time_ms: u64,
    pub technologies: Vec<Technology>,
    pub security_headers: Option<SecurityHeaders>,
    /// Cookies set along the way, redirects included.
    pub cookies: Vec<Cookie>,
    pub directory_listing: bool,
    /// The server whose default page the final response is.
    pub default_page: Option<&'static str>,
    pub favicon: Option<Favicon>,
    /// Whether each cookie above was set over HTTPS, in the same order (not shown).
    #[serde(skip)]
    pub cookies_over_https: Vec<bool>,
    /// How reading the final response's body ended (not shown): the page checks read it.
    #[serde(skip)]
    pub body: BodyEnd,
}

/// How reading a body ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BodyEnd {
    /// Nothing read (no response), or not yet.
    #[default]
    Unread,
    /// To its end.
    Whole,
    /// At the bound, with more left unread.
    Cut,
    /// An error midway: what came before it is all there is.
    Broken,
}

/// Probes `url`.
pub async fn probe(client: &HttpClient, limits: &HostLimits, settings: &Settings, url: Url) -> Probed {
    let mut probed = Probed { url: url.to_string(), ..Probed::default() };
    let started = Instant::now();
    let mut current = url;
    let (final_url, response) = loop {
        let permit = limits.enter(&current).await;
        let response = match get(client, &current, settings.timeout).await {
            Ok(response) => response,
            Err(GateError::Refused(reason)) => {
                probed.refused = Some(Refused { url: current.to_string(), reason });
                return finished(probed, started);
            }
            Err(error) => {
                probed.error = Some(error.to_string());
                return finished(probed, started);
            }
        };
        for cookie in cookies(response.headers()) {
            probed.cookies_over_https.push(current.scheme() == "https");
            probed.cookies.push(cookie);
        }
        // The location as sent (not cut, as headers shown are): a redirect to a longer URL than
        // any asked for is not followed.
        let location = response
            .status()
            .is_redirection()
            .then(|| response.headers().get(LOCATION).and_then(|value| value.to_str().ok()))
            .flatten()
            .filter(|location| location.len() <= LOCATION_MAX)
            .map(str::to_owned);
        match location.and_then(|location| current.join(&location).ok()) {
            Some(next) if probed.redirects.len() < settings.max_redirects => {
                probed.redirects.push(Hop {
                    url: current.to_string(),
                    status: response.status().as_u16(),
                    location: next.to_string(),
                });
                drop(permit);
                current = next;
            }
            Some(_) => {
                probed.too_many_redirects = true;
                break (current, (response, permit));
            }
            None => break (current, (response, permit)),
        }
    };
    let (mut response, permit) = response;
    probed.final_url = Some(final_url.to_string());
    probed.status = Some(response.status().as_u16());
    probed.address = response.remote_addr().map(|address| address.ip().to_canonical().to_string());
    probed.server = header(response.headers(), "server");
    probed.content_type = header(response.headers(), CONTENT_TYPE.as_str());
    probed.security_headers = Some(SecurityHeaders::of(response.headers()));
    let headers = response.headers().clone();
    let (body, ending) = read_bounded(&mut response, BODY_MAX).await;
    drop(permit);
    probed.size = body.len();
    probed.truncated = ending == BodyEnd::Cut;
    probed.body = ending;
    probed.time_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let text = String::from_utf8_lossy(&body);
    let page = Page::new(&text);
    probed.title = page.title();
    probed.directory_listing = page.is_directory_listing();
    probed.default_page = page.default_page();
    probed.technologies = technologies(&headers, &probed.cookies, &page);
    if settings.favicon {
        probed.favicon = favicon(client, limits, settings, &final_url).await;
    }
    probed
}

fn finished(mut probed: Probed, started: Instant) -> Probed {
    probed.time_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    probed
}

async fn get(client: &HttpClient, url: &Url, timeout: Duration) -> Result<Response, GateError> {
    let mut request = Request::new(Method::GET, url.clone());
    *request.timeout_mut() = Some(timeout);
    client.send(request).await
}

/// At most `max` bytes of the body, and how reading it ended. A body that fails midway is what
/// was read of it.
async fn read_bounded(response: &mut Response, max: usize) -> (Vec<u8>, BodyEnd) {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = max - body.len();
                if chunk.len() > room {
                    body.extend_from_slice(&chunk[..room]);
                    return (body, BodyEnd::Cut);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return (body, BodyEnd::Whole),
            Err(_) => return (body, BodyEnd::Broken),
        }
    }
}

/// `/favicon.ico` of the final URL's origin, hashed when it is there, small and not a redirect.
async fn favicon(client: &HttpClient, limits: &HostLimits, settings: &Settings, final_url: &Url) -> Option<Favicon> {
    let url = final_url.join("/favicon.ico").ok()?;
    let _permit = limits.enter(&url).await;
    let mut response = get(client, &url, settings.timeout).await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    let (icon, ending) = read_bounded(&mut response, FAVICON_MAX).await;
    (ending != BodyEnd::Cut && !icon.is_empty()).then(|| Favicon {
        url: url.to_string(),
        mmh3: shodan_hash(&icon),
        sha256: sha256_hex(&icon),
    })
}
