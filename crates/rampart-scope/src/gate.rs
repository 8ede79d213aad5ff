//! The network gate. A name is resolved once; every address it will use is checked against the
//! scope and the deny list; the connection goes to exactly the address that was checked, so a
//! second, different answer from DNS (rebinding) can never be what is reached. Every refusal is
//! an error to the caller and a call to the refusal sink (the audit log).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rampart_core::targets::{Host, Scope, ServerPolicy, Verdict, canonical, parse_host_port};
use tokio::net::TcpStream;

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
        let refused = !self.policy.allows_address(ip) || self.is_own(ip, address.port());
        refused.then(|| format!("{ip} is {DENIED}"))
    }

    /// True when `ip:port` reaches one of the server's own sockets: the socket's address itself,
    /// or, for a socket on a wildcard address, every address of this host on its port.
    fn is_own(&self, ip: IpAddr, port: u16) -> bool {
        self.sockets.iter().any(|socket| {
            socket.port() == port
                && (canonical(socket.ip()) == ip
                    || (socket.ip().is_unspecified() && (ip.is_unspecified() || is_local(ip))))
        })
    }
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
}

/// The gate of one organisation's work.
#[derive(Clone)]
pub struct Gate {
    scope: Arc<Scope>,
    deny: Arc<DenyList>,
    resolver: Arc<dyn Resolver>,
    refusals: Arc<dyn RefusalSink>,
}

impl Gate {
    pub fn new(
        scope: Arc<Scope>,
        deny: Arc<DenyList>,
        resolver: Arc<dyn Resolver>,
        refusals: Arc<dyn RefusalSink>,
    ) -> Self {
        Self { scope, deny, resolver, refusals }
    }

    /// The addresses a tool may use for `host` and `port`, each checked; an error when any is not.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, GateError> {
        let parsed = match parse_host_port(host) {
            Ok((parsed, None)) => parsed,
            Ok((_, Some(_))) => return Err(self.refuse(host, Some(port), "give the port separately".into()).await),
            Err(reason) => return Err(self.refuse(host, Some(port), reason).await),
        };
        let addresses = match &parsed {
            Host::Ip(ip) => vec![*ip],
            Host::Name(name) if !self.deny.policy().allows_name(name) => {
                return Err(self.refuse(host, Some(port), format!("{name} is {DENIED}")).await);
            }
            Host::Name(name) => {
                let verdict = self.scope.check(&parsed, Some(port));
                if !verdict.is_in() {
                    return Err(self.refuse(host, Some(port), verdict.reason()).await);
                }
                // Resolved once: these exact addresses are checked and used.
                let found = self.resolver.resolve(name).await.map_err(|_| GateError::Unresolved(name.clone()))?;
                if found.is_empty() {
                    return Err(GateError::Unresolved(name.clone()));
                }
                found
            }
        };
        let mut checked = Vec::with_capacity(addresses.len());
        for ip in addresses {
            let address = SocketAddr::new(canonical(ip), port);
            if let Some(reason) = self.deny.denies(address) {
                return Err(self.refuse(host, Some(port), reason).await);
            }
            let verdict = self.scope.check(&Host::Ip(address.ip()), Some(port));
            if !verdict.is_in() {
                let reason = match &parsed {
                    Host::Name(name) => format!("{name} resolves to {}, which is {}", address.ip(), verdict.reason()),
                    Host::Ip(_) => verdict.reason(),
                };
                return Err(self.refuse(host, Some(port), reason).await);
            }
            checked.push(address);
        }
        Ok(checked)
    }

    /// The fast check for tools that open many connections themselves (the port scanner): the
    /// deny list and the scope for exactly this address and port. Refusals here are counted by
    /// the tool and reported once, not one audit event per probe.
    pub fn permits(&self, address: SocketAddr) -> bool {
        self.deny.denies(address).is_none() && self.scope.allows(address.ip(), Some(address.port()))
    }

    /// The addresses of a target for a tool that probes many ports: an address, every address of
    /// a network, or the addresses a name resolves to (once). The target must be in scope as a
    /// whole; which ports of each address may be probed is for [`Gate::permits`].
    ///
    /// `max_addresses` is what is left of the run's address budget: a network or a name with more
    /// addresses is refused before any list of them is built.
    pub async fn expand(&self, target: &str, max_addresses: u64) -> Result<Vec<IpAddr>, GateError> {
        let target = target.trim();
        if let Ok(rampart_core::targets::TargetValue::Cidr(net)) = rampart_core::targets::TargetValue::parse(target) {
            let verdict = self.scope.check_network(net);
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
            Host::Name(name) if !self.deny.policy().allows_name(name) => {
                return Err(self.refuse(target, None, format!("{name} is {DENIED}")).await);
            }
            Host::Name(name) => {
                if !self.scope.covers_name(name) {
                    return Err(self.refuse(target, None, self.scope.check(&parsed, None).reason()).await);
                }
                let found = self.resolver.resolve(name).await.map_err(|_| GateError::Unresolved(name.clone()))?;
                if found.is_empty() {
                    return Err(GateError::Unresolved(name.clone()));
                }
                found.into_iter().map(canonical).collect()
            }
        };
        // What a name resolves to counts against the same budget as a network.
        if u64::try_from(addresses.len()).unwrap_or(u64::MAX) > max_addresses {
            let reason =
                format!("{parsed} names {} addresses, more than the {max_addresses} left to this run", addresses.len());
            return Err(self.refuse(target, None, reason).await);
        }
        for ip in &addresses {
            if !self.scope.covers_address(*ip) {
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

    async fn refuse(&self, host: &str, port: Option<u16>, reason: String) -> GateError {
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
