//! The network gate. A name is resolved once; every address it will use is checked against the
//! gate's policy; the connection goes to exactly the address that was checked, so a second,
//! different answer from DNS (rebinding) can never be what is reached. Every refusal is an error
//! to the caller and a call to the refusal sink (the audit log).
//!
//! One gate, two policies: an organisation's work is held to the server's policy, the server's
//! own sockets and the organisation's scope ([`Gate::new`]); the server's own outbound calls
//! (the model URL, and later webhooks and feeds) to the outbound policy ([`Gate::outbound`]).
//! TCP, UDP ([`Gate::connect_udp`]), TLS (`tls.rs`) and HTTP (`http.rs`) all pass here.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rampart_core::targets::{Host, Scope, ServerPolicy, Verdict, canonical, parse_host_port};
use tokio::net::{TcpStream, UdpSocket};

use crate::outbound::OutboundPolicy;

/// Turns a name into addresses.
#[async_trait]
pub trait Resolver: Send + Sync {
    async fn resolve(&self, name: &str) -> io::Result<Vec<IpAddr>>;
}

/// The operating system's resolver.
pub struct SystemResolver;

#[async_trait]
impl Resolver for SystemResolver {
    async fn resolve(&self, name: &str) -> io::Result<Vec<IpAddr>> {
        Ok(tokio::net::lookup_host((name, 0)).await?.map(|socket| socket.ip()).collect())
    }
}

/// What a refusal by the server's policy says, without the rule that refused.
pub const DENIED: &str = "denied by the server's policy";

/// What the server never lets a tool reach, whatever the targets say: whatever its policy does
/// not allow (see [`ServerPolicy`]), and its own listening sockets.
#[derive(Clone, Debug, Default)]
pub struct DenyList {
    policy: ServerPolicy,
    /// The server's own listening sockets: a tool must not be turned against Rampart's API.
    sockets: Vec<SocketAddr>,
}

impl DenyList {
    /// Cloud metadata services: the classic way from a scanner to a cloud account's credentials.
    pub const METADATA: [&'static str; 3] = ["169.254.169.254/32", "fd00:ec2::254/128", "100.100.100.200/32"];

    pub fn new(policy: ServerPolicy, sockets: Vec<SocketAddr>) -> Self {
        Self { policy, sockets }
    }

    /// The policy organisations' targets are held to.
    pub fn policy(&self) -> &ServerPolicy {
        &self.policy
    }

    /// Why `address` is refused, if it is. The reason names the address asked about and never
    /// the rule, so that neither the deny list nor the server's sockets are told to a tenant.
    pub fn denies(&self, address: SocketAddr) -> Option<String> {
        let ip = canonical(address.ip());
        let refused = !self.policy.allows_address(ip) || is_own(&self.sockets, ip, address.port());
        refused.then(|| format!("{ip} is {DENIED}"))
    }
}

/// True when `ip:port` reaches one of the server's own `sockets`: the socket's address itself, or,
/// for a socket on a wildcard address, every address of this host on its port.
pub(crate) fn is_own(sockets: &[SocketAddr], ip: IpAddr, port: u16) -> bool {
    let ip = canonical(ip);
    sockets.iter().any(|socket| {
        socket.port() == port
            && (canonical(socket.ip()) == ip || (socket.ip().is_unspecified() && (ip.is_unspecified() || is_local(ip))))
    })
}

/// True when `ip` is an address of this host: loopback, or one a socket can be bound to (binding
/// sends nothing). A host whose addresses cannot be told apart counts every address as its own.
fn is_local(ip: IpAddr) -> bool {
    ip.is_loopback()
        || match std::net::UdpSocket::bind(SocketAddr::new(ip, 0)) {
            Ok(_) => true,
            Err(error) => error.kind() != io::ErrorKind::AddrNotAvailable,
        }
}

/// A refused attempt, for the audit log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub host: String,
    pub port: Option<u16>,
    pub reason: String,
}

impl Refusal {
    /// What was refused, as the audit log names it: `host:port`, or the host alone.
    pub fn target(&self) -> String {
        match self.port {
            Some(port) => format!("{}:{port}", self.host),
            None => self.host.clone(),
        }
    }
}

#[async_trait]
pub trait RefusalSink: Send + Sync {
    async fn refused(&self, refusal: &Refusal);
}

#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("refused: {0}")]
    Refused(String),
    #[error("cannot resolve {0}")]
    Unresolved(String),
    #[error("cannot connect to {address}: {source}")]
    Connect { address: SocketAddr, source: io::Error },
    #[error("no answer from {0} in time")]
    Timeout(SocketAddr),
    /// The TLS handshake failed, or the certificate was refused.
    #[error("TLS with {address}: {reason}")]
    Tls { address: SocketAddr, reason: String },
    /// An HTTP exchange failed after the gate let it through.
    #[error("HTTP: {0}")]
    Http(#[source] reqwest::Error),
}

/// What the gate holds an address to.
#[derive(Clone)]
enum Policy {
    /// An organisation's work: the server's policy, its own sockets and the organisation's scope.
    Tenant { scope: Arc<Scope>, deny: Arc<DenyList> },
    /// The server's own outbound calls: no scope, special-purpose addresses refused unless
    /// the configuration allows them.
    Outbound(Arc<OutboundPolicy>),
}

/// The gate of one organisation's work, or of the server's outbound calls.
#[derive(Clone)]
pub struct Gate {
    policy: Policy,
    resolver: Arc<dyn Resolver>,
    refusals: Arc<dyn RefusalSink>,
}

impl Gate {
    /// The gate of an organisation's work: `scope` within the server's `deny` list.
    pub fn new(
        scope: Arc<Scope>,
        deny: Arc<DenyList>,
        resolver: Arc<dyn Resolver>,
        refusals: Arc<dyn RefusalSink>,
    ) -> Self {
        Self { policy: Policy::Tenant { scope, deny }, resolver, refusals }
    }

    /// The gate of the server's own outbound calls, held to `policy`.
    pub fn outbound(policy: Arc<OutboundPolicy>, resolver: Arc<dyn Resolver>, refusals: Arc<dyn RefusalSink>) -> Self {
        Self { policy: Policy::Outbound(policy), resolver, refusals }
    }

    /// `host` as written, checked before any lookup: a name the policy lets be named (for an
    /// organisation, in its scope on `port`), or an address it lets be reached. The reason of a
    /// refusal is not yet recorded.
    pub(crate) fn check_written(&self, host: &str, port: Option<u16>) -> Result<Host, String> {
        let parsed = match parse_host_port(host) {
            Ok((parsed, None)) => parsed,
            Ok((_, Some(_))) => return Err("give the port separately".into()),
            Err(reason) => return Err(reason),
        };
        match (&parsed, &self.policy) {
            (Host::Ip(ip), _) => {
                self.check_address(&parsed, *ip, port)?;
            }
            (Host::Name(name), Policy::Tenant { deny, .. }) if !deny.policy().allows_name(name) => {
                return Err(format!("{name} is {DENIED}"));
            }
            (Host::Name(_), Policy::Tenant { scope, .. }) => {
                let verdict = scope.check(&parsed, port);
                if !verdict.is_in() {
                    return Err(verdict.reason());
                }
            }
            // Any name: what it resolves to decides.
            (Host::Name(_), Policy::Outbound(_)) => {}
        }
        Ok(parsed)
    }

    /// `ip` (written as `host`, or what `host` resolves to) checked for `port`; `None` checks
    /// the address on every port (for a network or a name a tool will probe).
    pub(crate) fn check_address(&self, host: &Host, ip: IpAddr, port: Option<u16>) -> Result<SocketAddr, String> {
        let address = SocketAddr::new(canonical(ip), port.unwrap_or(0));
        let because = |reason: String| match host {
            Host::Name(name) => format!("{name} resolves to {}, which is {reason}", address.ip()),
            Host::Ip(_) => reason,
        };
        match &self.policy {
            Policy::Tenant { scope, deny } => {
                if let Some(reason) = deny.denies(address) {
                    return Err(reason);
                }
                let verdict = scope.check(&Host::Ip(address.ip()), port);
                if !verdict.is_in() {
                    return Err(because(verdict.reason()));
                }
            }
            Policy::Outbound(policy) => {
                if let Some(reason) = policy.denies(address) {
                    return Err(reason);
                }
            }
        }
        Ok(address)
    }

    /// The addresses of `name`, looked up once (an error when there are none).
    pub(crate) async fn lookup(&self, name: &str) -> Result<Vec<IpAddr>, GateError> {
        let found = self.resolver.resolve(name).await.map_err(|_| GateError::Unresolved(name.to_owned()))?;
        if found.is_empty() {
            return Err(GateError::Unresolved(name.to_owned()));
        }
        Ok(found)
    }

    /// The addresses a tool may use for `host` and `port`, each checked; an error when any is not.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, GateError> {
        let parsed = match self.check_written(host, Some(port)) {
            Ok(parsed) => parsed,
            Err(reason) => return Err(self.refuse(host, Some(port), reason).await),
        };
        let addresses = match &parsed {
            Host::Ip(ip) => vec![*ip],
            // Resolved once: these exact addresses are checked and used.
            Host::Name(name) => self.lookup(name).await?,
        };
        let mut checked = Vec::with_capacity(addresses.len());
        for ip in addresses {
            match self.check_address(&parsed, ip, Some(port)) {
                Ok(address) => checked.push(address),
                Err(reason) => return Err(self.refuse(host, Some(port), reason).await),
            }
        }
        Ok(checked)
    }

    /// Checks a host as written, without resolving it: for a tool that asks about a name (a DNS
    /// lookup through a resolver) rather than connecting to it. A refusal is recorded.
    pub async fn check_host(&self, host: &str) -> Result<Host, GateError> {
        match self.check_written(host, None) {
            Ok(parsed) => Ok(parsed),
            Err(reason) => Err(self.refuse(host, None, reason).await),
        }
    }

    /// The fast check for tools that open many connections themselves (the port scanner): the
    /// policy for exactly this address and port. Refusals here are counted by the tool and
    /// reported once, not one audit event per probe.
    pub fn permits(&self, address: SocketAddr) -> bool {
        match &self.policy {
            Policy::Tenant { scope, deny } => {
                deny.denies(address).is_none() && scope.allows(address.ip(), Some(address.port()))
            }
            Policy::Outbound(policy) => policy.denies(address).is_none(),
        }
    }

    /// The addresses of a target for a tool that probes many ports: an address, every address of
    /// a network, or the addresses a name resolves to (once). The target must be in scope as a
    /// whole; which ports of each address may be probed is for [`Gate::permits`].
    ///
    /// `max_addresses` is what is left of the run's address budget: a network or a name with more
    /// addresses is refused before any list of them is built.
    pub async fn expand(&self, target: &str, max_addresses: u64) -> Result<Vec<IpAddr>, GateError> {
        let target = target.trim();
        let Policy::Tenant { scope, deny } = &self.policy else {
            return Err(self.refuse(target, None, "only an organisation's work probes targets".into()).await);
        };
        if let Ok(rampart_core::targets::TargetValue::Cidr(net)) = rampart_core::targets::TargetValue::parse(target) {
            let verdict = scope.check_network(net);
            if !verdict.is_in() {
                return Err(self.refuse(target, None, verdict.reason()).await);
            }
            if rampart_core::targets::address_count(net) > u128::from(max_addresses) {
                let reason = format!("{net} has more addresses than the {max_addresses} left to this run");
                return Err(self.refuse(target, None, reason).await);
            }
            return Ok(net
                .hosts()
                .chain([net.network(), net.broadcast()])
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect());
        }
        let parsed = match parse_host_port(target) {
            Ok((parsed, None)) => parsed,
            Ok((_, Some(_))) => return Err(self.refuse(target, None, "give ports separately".into()).await),
            Err(reason) => return Err(self.refuse(target, None, reason).await),
        };
        let addresses = match &parsed {
            Host::Ip(ip) => vec![canonical(*ip)],
            Host::Name(name) if !deny.policy().allows_name(name) => {
                return Err(self.refuse(target, None, format!("{name} is {DENIED}")).await);
            }
            Host::Name(name) => {
                if !scope.covers_name(name) {
                    return Err(self.refuse(target, None, scope.check(&parsed, None).reason()).await);
                }
                self.lookup(name).await?.into_iter().map(canonical).collect()
            }
        };
        // What a name resolves to counts against the same budget as a network.
        if u64::try_from(addresses.len()).unwrap_or(u64::MAX) > max_addresses {
            let reason =
                format!("{parsed} names {} addresses, more than the {max_addresses} left to this run", addresses.len());
            return Err(self.refuse(target, None, reason).await);
        }
        for ip in &addresses {
            if !scope.covers_address(*ip) {
                let reason = match &parsed {
                    Host::Name(name) => format!("{name} resolves to {ip}, which no target covers"),
                    Host::Ip(_) => Verdict::NotCovered.reason(),
                };
                return Err(self.refuse(target, None, reason).await);
            }
        }
        Ok(addresses)
    }

    /// Records a refusal the tool decided on (such as a summary of refused probes).
    pub async fn report_refusal(&self, host: &str, reason: String) {
        self.refusals.refused(&Refusal { host: host.to_owned(), port: None, reason }).await;
    }

    /// A TCP connection to `host`:`port`, made to an address the gate checked; returns which one.
    pub async fn connect_tcp(
        &self,
        host: &str,
        port: u16,
        timeout: Duration,
    ) -> Result<(TcpStream, SocketAddr), GateError> {
        let addresses = self.resolve(host, port).await?;
        let mut last = None;
        for address in addresses {
            match tokio::time::timeout(timeout, TcpStream::connect(address)).await {
                Ok(Ok(stream)) => return Ok((stream, address)),
                Ok(Err(source)) => last = Some(GateError::Connect { address, source }),
                Err(_) => last = Some(GateError::Timeout(address)),
            }
        }
        Err(last.expect("resolve never returns an empty list"))
    }

    /// A UDP socket connected to `host`:`port` (for DNS): it sends to, and hears from, only the
    /// first address the gate checked, which it returns.
    pub async fn connect_udp(&self, host: &str, port: u16) -> Result<(UdpSocket, SocketAddr), GateError> {
        let address = self.resolve(host, port).await?[0];
        let local = match address {
            SocketAddr::V4(_) => SocketAddr::from(([0, 0, 0, 0], 0)),
            SocketAddr::V6(_) => SocketAddr::from(([0u16; 8], 0)),
        };
        let connect = async {
            let socket = UdpSocket::bind(local).await?;
            socket.connect(address).await?;
            Ok(socket)
        };
        connect.await.map(|socket| (socket, address)).map_err(|source| GateError::Connect { address, source })
    }

    pub(crate) async fn refuse(&self, host: &str, port: Option<u16>, reason: String) -> GateError {
        let refusal = Refusal { host: host.to_owned(), port, reason };
        self.refusals.refused(&refusal).await;
        GateError::Refused(refusal.reason)
    }
}

/// The verdict of the scope and the deny list together, for a host as written (names are not
/// resolved here; the gate checks their addresses when a tool connects).
pub fn check_host(scope: &Scope, deny: &DenyList, host: &Host, port: Option<u16>) -> (bool, String) {
    let refused = match host {
        Host::Ip(ip) => deny.denies(SocketAddr::new(*ip, port.unwrap_or(0))).is_some(),
        Host::Name(name) => !deny.policy().allows_name(name),
    };
    if refused {
        return (false, format!("out of scope: {DENIED}"));
    }
    let verdict: Verdict = scope.check(host, port);
    (verdict.is_in(), verdict.reason())
}
