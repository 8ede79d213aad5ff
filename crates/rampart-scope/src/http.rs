//! An HTTP client whose resolver is the gate. A request's URL is checked before it is sent, and
//! so is every redirect hop (a bounded number of them); a name is resolved once per connection,
//! by the gate, and every address it gives is checked before the client may connect to it, so
//! the connection goes to exactly the address that was checked. A URL whose host is an address
//! is never resolved: the check before sending (or before following the hop) is its check.
//!
//! The resolver is asked a name without a port; the ports the client was asked to reach at that
//! name (each checked with it) are remembered, and an address is used only if the policy lets it
//! be reached on every one of them.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rampart_core::targets::Host;
use reqwest::{Request, Response, Url};

use crate::gate::{Gate, GateError, Refusal};

/// The most redirects a client may be allowed to follow.
pub const REDIRECTS_MAX: usize = 10;

/// How a client behaves.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// Redirects followed, each checked (at most [`REDIRECTS_MAX`]); 0: a redirect is answered
    /// as it is, never followed.
    pub redirects: usize,
    /// How long a connection may take to open.
    pub connect_timeout: Duration,
    pub user_agent: String,
    /// How a server's certificate is taken.
    pub certificates: HttpCertificates,
}

/// How an HTTP client takes a server's certificate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HttpCertificates {
    /// Verified against the host's trust store, for the name asked for.
    #[default]
    Verify,
    /// Any certificate is accepted: for tools that probe whatever answers, and report on
    /// certificates elsewhere. Which address is reached is still the gate's decision.
    AcceptAny,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            redirects: 0,
            connect_timeout: Duration::from_secs(10),
            user_agent: concat!("rampart/", env!("CARGO_PKG_VERSION")).to_owned(),
            certificates: HttpCertificates::Verify,
        }
    }
}

/// An HTTP client that reaches only what its gate allows. Clones share one connection pool.
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    checker: Arc<Checker>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient").finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A client of `gate`. It never uses a proxy from the environment: a proxy would be what is
    /// connected to, not the checked address.
    pub fn new(gate: Gate, options: &HttpOptions) -> Result<Self, reqwest::Error> {
        let checker = Arc::new(Checker { gate, ports: Mutex::new(HashMap::new()) });
        let redirect = match options.redirects.min(REDIRECTS_MAX) {
            0 => reqwest::redirect::Policy::none(),
            most => {
                let checker = checker.clone();
                reqwest::redirect::Policy::custom(move |attempt| {
                    // `previous` holds the URL first asked for, and every hop followed since.
                    if attempt.previous().len() > most {
                        return attempt.error(TooManyRedirects(most));
                    }
                    match checker.check(attempt.url()) {
                        Ok(()) => attempt.follow(),
                        Err(refusal) => attempt.error(RedirectRefused(refusal)),
                    }
                })
            }
        };
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(redirect)
            .connect_timeout(options.connect_timeout)
            .user_agent(options.user_agent.clone())
            .danger_accept_invalid_certs(options.certificates == HttpCertificates::AcceptAny)
            .dns_resolver(Arc::new(GateResolver(checker.clone())))
            .build()?;
        Ok(Self { client, checker })
    }

    /// Sends `request` once its URL is checked; a refusal (of the URL, of an address its name
    /// resolves to, or of a redirect hop) is audited and nothing is sent to what was refused.
    pub async fn send(&self, request: Request) -> Result<Response, GateError> {
        if let Err(refusal) = self.checker.check(request.url()) {
            return Err(self.checker.gate.refuse(&refusal.host, refusal.port, refusal.reason).await);
        }
        match self.client.execute(request).await {
            Ok(response) => Ok(response),
            Err(error) => Err(self.explain(error).await),
        }
    }

    /// A refusal inside the client said as the gate's, or the client's own error.
    async fn explain(&self, error: reqwest::Error) -> GateError {
        let mut cause = std::error::Error::source(&error);
        while let Some(error) = cause {
            if let Some(RedirectRefused(refusal)) = error.downcast_ref::<RedirectRefused>() {
                // Decided in the (synchronous) redirect policy: audited here.
                let refusal = refusal.clone();
                return self.checker.gate.refuse(&refusal.host, refusal.port, refusal.reason).await;
            }
            // Decided (and audited) by the resolver.
            match error.downcast_ref::<GateError>() {
                Some(GateError::Refused(reason)) => return GateError::Refused(reason.clone()),
                Some(GateError::Unresolved(name)) => return GateError::Unresolved(name.clone()),
                _ => {}
            }
            cause = error.source();
        }
        GateError::Http(error)
    }
}

/// The most host names one client is asked to reach.
const NAMES_MAX: usize = 1_024;

/// The check of URLs, and the ports each name was checked with.
struct Checker {
    gate: Gate,
    ports: Mutex<HashMap<String, BTreeSet<u16>>>,
}

impl Checker {
    /// `url` as written: http or https, a host the policy lets be named or reached on its port.
    /// A name's port is remembered for the resolver.
    fn check(&self, url: &Url) -> Result<(), Refusal> {
        let written = url.host_str().unwrap_or_default();
        let host = written.trim_start_matches('[').trim_end_matches(']');
        let port = url.port_or_known_default();
        let refusal = |reason: String| Refusal { host: host.to_owned(), port, reason };
        let port = match (url.scheme(), port) {
            ("http" | "https", Some(port)) if !host.is_empty() => port,
            _ => return Err(refusal("only http and https URLs with a host are sent".into())),
        };
        match self.gate.check_written(host, Some(port)).map_err(refusal)? {
            Host::Name(_) => {
                let mut ports = self.ports.lock().unwrap_or_else(PoisonError::into_inner);
                // Redirects name hosts of somebody else's choosing: one client remembers a bounded number.
                if ports.len() >= NAMES_MAX && !ports.contains_key(written) {
                    return Err(refusal(format!("one client reaches at most {NAMES_MAX} host names")));
                }
                ports.entry(written.to_owned()).or_default().insert(port);
            }
            Host::Ip(_) => {}
        }
        Ok(())
    }

    fn ports(&self, name: &str) -> BTreeSet<u16> {
        self.ports.lock().unwrap_or_else(PoisonError::into_inner).get(name).cloned().unwrap_or_default()
    }
}

/// The client's resolver: the gate's, once per connection, every address checked.
struct GateResolver(Arc<Checker>);

impl reqwest::dns::Resolve for GateResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let checker = self.0.clone();
        Box::pin(async move {
            let name = name.as_str();
            let ports = checker.ports(name);
            let addresses = checker.gate.resolve_for(name, &ports).await?;
            Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

impl Gate {
    /// The addresses of `name`, looked up once, each checked on every one of `ports`; their port
    /// is 0, for the client to fill in. A name no URL asked for is refused.
    async fn resolve_for(&self, name: &str, ports: &BTreeSet<u16>) -> Result<Vec<SocketAddr>, GateError> {
        if ports.is_empty() {
            return Err(self.refuse(name, None, "not checked before the request".into()).await);
        }
        let host = Host::Name(name.to_owned());
        let mut addresses = Vec::new();
        for ip in self.lookup(name).await? {
            for port in ports {
                match self.check_address(&host, ip, Some(*port)) {
                    Ok(address) => addresses.push(SocketAddr::new(address.ip(), 0)),
                    Err(reason) => return Err(self.refuse(name, Some(*port), reason).await),
                }
            }
        }
        addresses.dedup();
        Ok(addresses)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("refused: {}", .0.reason)]
struct RedirectRefused(Refusal);

#[derive(Debug, thiserror::Error)]
#[error("more than {0} redirects")]
struct TooManyRedirects(usize);

#[cfg(test)]
mod tests {
    use async_trait::async_trait;

    use super::*;
    use crate::gate::{RefusalSink, SystemResolver};
    use crate::outbound::OutboundPolicy;

    struct Ignore;

    #[async_trait]
    impl RefusalSink for Ignore {
        async fn refused(&self, _: &Refusal) {}
    }

    #[test]
    fn one_client_remembers_a_bounded_number_of_host_names() {
        let gate = Gate::outbound(Arc::new(OutboundPolicy::default()), Arc::new(SystemResolver), Arc::new(Ignore));
        let checker = Checker { gate, ports: Mutex::new(HashMap::new()) };
        let url = |name: &str| Url::parse(&format!("https://{name}.example.com/")).expect("a URL");
        for n in 0..NAMES_MAX {
            checker.check(&url(&format!("h{n}"))).expect("within the bound");
        }
        assert!(checker.check(&url("one-more")).is_err(), "a new name past the bound is refused");
        checker.check(&url("h0")).expect("a name already checked still is");
        assert_eq!(checker.ports.lock().expect("ports").len(), NAMES_MAX);
    }
}
