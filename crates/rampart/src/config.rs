//! Configuration: an optional TOML file overlaid by `RAMPART_*` environment variables (a nested key
//! `a.b` is `RAMPART_A__B`), then command-line flags. Everything is validated before the server
//! starts, and every error names the key and the reason.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use rampart_core::validation::check_duration;
use rampart_engine::EngineConfig;
use rampart_identity::IdentityConfig;
pub use rampart_identity::RegistrationMode as Registration;
use rampart_scope::parse_net;
use rampart_watch::WatchConfig;
use serde::{Deserialize, Serialize};

/// Keys whose values are secrets: `config check` prints them redacted, whatever their form.
const SECRET_KEYS: &[&str] = &["bootstrap_admin_password", "metrics.token"];

/// Keys whose values are URLs: `config check` hides their user-info and query values.
const URL_KEYS: &[&str] = &["database_url", "watch.model.url"];

/// `RAMPART_*` variables that are not configuration keys.
const NOT_KEYS: &[&str] = &["config", "test_database_url"];

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The address the HTTP server listens on.
    pub listen: SocketAddr,
    /// Where Rampart keeps its files, including the embedded SQLite database.
    pub data_dir: PathBuf,
    /// A `postgres://` URL to use PostgreSQL instead of the embedded SQLite database.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    pub log_format: LogFormat,
    /// Log filter: a level (`info`) or per-target levels (`info,rampart::http=warn`).
    pub log_level: String,
    /// On a first start (no user yet), an admin with this email is created…
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bootstrap_admin_email: Option<String>,
    /// …with this password. Prefer `rampart user create`, which never takes a password in the environment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bootstrap_admin_password: Option<String>,
    pub http: HttpConfig,
    pub database: DatabaseConfig,
    /// The identity crate's settings, declared there with their defaults and checks.
    pub auth: IdentityConfig,
    pub scope: ScopeConfig,
    /// What the server's own outbound calls (the model) may reach besides public addresses.
    pub outbound: rampart_scope::OutboundConfig,
    pub metrics: MetricsConfig,
    /// The engine's settings, declared there.
    pub engine: EngineConfig,
    /// The watch's settings, declared there.
    pub watch: WatchConfig,
    /// The tools' settings (`tools.external`: tools admins declare), declared in the tools crate.
    pub tools: rampart_tools::external::ToolsConfig,
    /// Where the `whois` tool starts its lookups.
    pub whois: WhoisConfig,
    /// The server's own resolvers for the `dns_lookup` tool.
    pub dns: DnsConfig,
    /// Where `secret_scan` may read repositories, and the rules it adds to the shipped ones.
    pub secret_scan: SecretScanConfig,
}

/// The `secret_scan` tool's settings: the directories local repositories may be under, and a
/// rule file in gitleaks' format extending the shipped rules.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecretScanConfig {
    /// Absolute directories; a repository path is resolved (symlinks, `..`) and must be under one.
    /// Empty: no local repository may be scanned.
    pub allowed_paths: Vec<PathBuf>,
    /// A TOML file of rules in gitleaks' format, read at start: its rules are added to the
    /// shipped ones (one with a shipped rule's id replaces it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rules: Option<PathBuf>,
}

impl SecretScanConfig {
    /// The rule set: the shipped rules, extended by the file read now.
    pub fn rules(&self) -> Result<rampart_tools::secret_scan::Rules, String> {
        match &self.rules {
            None => Ok(rampart_tools::secret_scan::Rules::shipped()),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|_| format!("cannot read {}", path.display()))?;
                rampart_tools::secret_scan::Rules::extended(&text)
            }
        }
    }

    /// The tool with these settings.
    pub fn tool(&self) -> Result<rampart_tools::secret_scan::SecretScan, String> {
        Ok(rampart_tools::secret_scan::SecretScan::new(self.rules()?, self.allowed_paths.clone()))
    }
}

/// The resolvers `dns_lookup` asks, through the outbound gate, when a run names none of its own.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DnsConfig {
    /// Addresses, or address:port (port 53 when absent); at most 16.
    pub resolvers: Vec<String>,
}

/// Where the `whois` tool starts: IANA's WHOIS server, and the RDAP bootstrap file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WhoisConfig {
    /// IANA's WHOIS server, `host` or `host:port` (port 43 when absent).
    pub iana_server: String,
    /// A file in the format of IANA's RDAP bootstrap `dns.json`, read at start instead of the one
    /// shipped with Rampart (an admin refreshes it by replacing the file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rdap_bootstrap: Option<PathBuf>,
}

impl Default for WhoisConfig {
    fn default() -> Self {
        Self { iana_server: rampart_tools::whois::WhoisServers::default().iana, rdap_bootstrap: None }
    }
}

impl WhoisConfig {
    /// The servers of the `whois` tool: the bootstrap file read now.
    pub fn servers(&self) -> Result<rampart_tools::whois::WhoisServers, String> {
        let bootstrap = match &self.rdap_bootstrap {
            None => rampart_tools::whois::Bootstrap::shipped(),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|_| format!("cannot read {}", path.display()))?;
                rampart_tools::whois::Bootstrap::parse(&text)?
            }
        };
        Ok(rampart_tools::whois::WhoisServers { iana: self.iana_server.clone(), bootstrap })
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// When set, `/metrics` answers only requests bearing `Authorization: Bearer <token>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScopeConfig {
    /// What organisations may authorise and reach: addresses, networks, host names and
    /// `*.domain` wildcards. Empty: everything the deny list does not deny.
    pub allow: Vec<String>,
    /// Addresses and networks no tool may reach, whatever an organisation's targets say. This
    /// network, unspecified, link-local, multicast and broadcast addresses and the server's own
    /// listening socket (on every address of the host when it listens on a wildcard) are always
    /// added.
    pub deny: Vec<String>,
}

impl Default for ScopeConfig {
    fn default() -> Self {
        Self {
            allow: Vec::new(),
            deny: rampart_scope::DenyList::METADATA.iter().map(|net| (*net).to_owned()).collect(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// The largest request body accepted, in bytes.
    pub body_limit: usize,
    /// The largest body the ingestion routes accept (batches of up to 1,000 events), in bytes.
    pub ingest_body_limit: usize,
    /// The largest report `POST /api/v1/imports` accepts (a scanner's whole report), in bytes.
    pub import_body_limit: usize,
    /// The longest a request may take to be answered.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// A client must send its request head within this time.
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// Connections served at once; beyond, new connections wait to be accepted until one closes.
    pub max_connections: usize,
    /// A connection with no request in progress for this long is closed.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// How long in-flight requests may finish after SIGINT or SIGTERM.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// Origins allowed to call the API from a browser, such as `https://soc.example.com`.
    pub cors_origins: Vec<String>,
    /// Addresses of reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// How often an open live stream authenticates its caller again (at most 30 s).
    #[serde(with = "humantime_serde")]
    pub stream_recheck: Duration,
    /// Live streams (server-sent events and WebSockets) open at once on the server.
    pub max_streams: usize,
    /// Live streams open at once per user (all sessions together) or per API key.
    pub max_streams_per_user: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Connections in the pool.
    pub max_connections: u32,
    /// How long a request waits for a free connection before failing with 503.
    #[serde(with = "humantime_serde")]
    pub acquire_timeout: Duration,
    /// SQLite: how long a write waits for another writer to finish.
    #[serde(with = "humantime_serde")]
    pub busy_timeout: Duration,
    /// How long a health check waits for the database.
    #[serde(with = "humantime_serde")]
    pub health_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            log_format: LogFormat::Pretty,
            log_level: "info".into(),
            bootstrap_admin_email: None,
            bootstrap_admin_password: None,
            http: HttpConfig::default(),
            database: DatabaseConfig::default(),
            auth: IdentityConfig::default(),
            scope: ScopeConfig::default(),
            outbound: rampart_scope::OutboundConfig::default(),
            metrics: MetricsConfig::default(),
            engine: EngineConfig::default(),
            watch: WatchConfig::default(),
            tools: rampart_tools::external::ToolsConfig::default(),
            whois: WhoisConfig::default(),
            dns: DnsConfig::default(),
            secret_scan: SecretScanConfig::default(),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            body_limit: 1024 * 1024,
            ingest_body_limit: 16 * 1024 * 1024,
            import_body_limit: 128 * 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            idle_timeout: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(30),
            cors_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            stream_recheck: Duration::from_secs(30),
            max_streams: 1000,
            max_streams_per_user: 10,
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
            busy_timeout: Duration::from_secs(5),
            health_timeout: Duration::from_secs(2),
        }
    }
}

/// Overrides given on the command line; they win over the file and the environment.
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
}

/// Every problem found, each naming its key.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n  {}", .0.join("\n  "))]
pub struct ConfigError(pub Vec<String>);

impl Config {
    /// Reads the file (when given, it must exist; otherwise `./rampart.toml` if present), the
    /// environment and the overrides, and validates the result.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) if !path.is_file() => {
                return Err(ConfigError(vec![format!("config file {}: no such file", path.display())]));
            }
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None if Path::new("rampart.toml").is_file() => figment = figment.merge(Toml::file_exact("rampart.toml")),
            None => {}
        }
        let env = Env::prefixed("RAMPART_").split("__").ignore(NOT_KEYS);
        Self::from_figment(figment.merge(env).merge(Serialized::defaults(overrides)))
    }

    fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let config: Config =
            figment.extract().map_err(|error| ConfigError(error.into_iter().map(describe).collect()))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let builtin = rampart_tools::Registry::builtin();
        let builtin_tools: Vec<&str> = builtin.all().map(|tool| tool.info().name).collect();
        let mut errors = Vec::new();
        let mut check = |key: &str, ok: bool, reason: &str| {
            if !ok {
                errors.push(format!("{key} ({}): {reason}", env_name(key)));
            }
        };
        check("http.body_limit", (1..=1 << 30).contains(&self.http.body_limit), "must be between 1 byte and 1 GiB");
        check(
            "http.ingest_body_limit",
            (1..=1 << 30).contains(&self.http.ingest_body_limit),
            "must be between 1 byte and 1 GiB",
        );
        check(
            "http.import_body_limit",
            (1..=1 << 30).contains(&self.http.import_body_limit),
            "must be between 1 byte and 1 GiB",
        );
        check(
            "http.stream_recheck",
            !self.http.stream_recheck.is_zero() && self.http.stream_recheck <= Duration::from_secs(30),
            "must be longer than zero and at most 30s",
        );
        check(
            "http.max_connections",
            (1..=1_000_000).contains(&self.http.max_connections),
            "must be between 1 and 1000000",
        );
        check("http.max_streams", (1..=1_000_000).contains(&self.http.max_streams), "must be between 1 and 1000000");
        check(
            "http.max_streams_per_user",
            (1..=self.http.max_streams.max(1)).contains(&self.http.max_streams_per_user),
            "must be at least 1 and at most http.max_streams",
        );
        // The domain crates' sections check themselves; their errors name the key in the section.
        for (section, valid) in
            [("watch", self.watch.validate()), ("auth", self.auth.validate()), ("engine", self.engine.validate())]
                .into_iter()
                .chain([("tools", self.tools.validate(&builtin_tools))])
        {
            for error in valid.err().into_iter().flatten() {
                check(&format!("{section}.{}", error.field), false, &error.message);
            }
        }
        for (key, value) in [
            ("http.request_timeout", self.http.request_timeout),
            ("http.header_read_timeout", self.http.header_read_timeout),
            ("http.idle_timeout", self.http.idle_timeout),
            ("database.acquire_timeout", self.database.acquire_timeout),
            ("database.health_timeout", self.database.health_timeout),
            ("http.shutdown_grace", self.http.shutdown_grace),
            ("database.busy_timeout", self.database.busy_timeout),
        ] {
            // Bounded above too: a time added to now (an expiry, a lease) must stay a time the
            // clock and both databases can hold.
            let valid = check_duration(value);
            check(key, valid.is_ok(), valid.err().as_deref().unwrap_or_default());
        }
        check(
            "database.max_connections",
            (1..=1000).contains(&self.database.max_connections),
            "must be between 1 and 1000",
        );
        check(
            "log_level",
            self.log_level.parse::<tracing_subscriber::filter::Targets>().is_ok(),
            "is not a log filter such as `info` or `info,rampart::http=warn`",
        );
        if let Some(url) = &self.database_url {
            let location = rampart_store::Location::from_url(url);
            check("database_url", location.is_ok(), location.err().as_deref().unwrap_or_default());
        }
        for net in &self.scope.deny {
            check(
                "scope.deny",
                parse_net(net).is_some(),
                &format!("{net:?} is not an address or a network such as 169.254.169.254/32"),
            );
        }
        for entry in &self.scope.allow {
            check(
                "scope.allow",
                rampart_core::targets::TargetValue::parse(entry).is_ok(),
                &format!("{entry:?} is not an address, a network, a host name or a *.domain wildcard"),
            );
        }
        if let Err(reason) = self.outbound.validate() {
            check("outbound.allow", false, &reason);
        }
        check(
            "whois.iana_server",
            rampart_core::targets::parse_host_port(&self.whois.iana_server).is_ok(),
            "is not a host or host:port such as whois.iana.org:43",
        );
        if let Err(reason) = rampart_tools::dns_lookup::DnsLookup::with_resolvers(&self.dns.resolvers) {
            check("dns.resolvers", false, &reason);
        }
        if self.whois.rdap_bootstrap.is_some()
            && let Err(reason) = self.whois.servers()
        {
            check("whois.rdap_bootstrap", false, &reason);
        }
        for path in &self.secret_scan.allowed_paths {
            check(
                "secret_scan.allowed_paths",
                path.is_absolute(),
                &format!("{} is not an absolute directory", path.display()),
            );
        }
        if self.secret_scan.rules.is_some()
            && let Err(reason) = self.secret_scan.rules()
        {
            check("secret_scan.rules", false, &reason);
        }
        if let Some(token) = &self.metrics.token {
            check(
                "metrics.token",
                token.len() >= 16 && token.bytes().all(|b| b.is_ascii_graphic()),
                "must be at least 16 printable characters, without spaces",
            );
        }
        for origin in &self.http.cors_origins {
            check(
                "http.cors_origins",
                is_origin(origin),
                &format!("{origin:?} is not an origin such as https://soc.example.com"),
            );
        }
        if errors.is_empty() { Ok(()) } else { Err(ConfigError(errors)) }
    }

    /// Where the database is: the PostgreSQL URL, or the SQLite file in the data directory.
    pub fn database_location(&self) -> rampart_store::Location {
        match &self.database_url {
            Some(url) => rampart_store::Location::from_url(url).expect("validated when loaded"),
            None => rampart_store::Location::Sqlite(self.data_dir.join("rampart.db")),
        }
    }

    /// The server's policy (`scope.allow` less `scope.deny` and the networks always denied) and
    /// its own listening socket.
    pub fn deny_list(&self, listening: std::net::SocketAddr) -> rampart_scope::DenyList {
        let networks = self.scope.deny.iter().filter_map(|net| parse_net(net)).collect();
        let allow =
            self.scope.allow.iter().filter_map(|entry| rampart_core::targets::TargetValue::parse(entry).ok()).collect();
        rampart_scope::DenyList::new(rampart_core::targets::ServerPolicy::new(allow, networks), vec![listening])
    }

    /// The effective configuration as TOML, with every secret redacted.
    pub fn to_redacted_toml(&self) -> String {
        let mut value = toml::Value::try_from(self).expect("the configuration serialises");
        let keys = SECRET_KEYS.iter().map(|key| (key, false)).chain(URL_KEYS.iter().map(|key| (key, true)));
        for (key, is_url) in keys {
            let found = key.split('.').try_fold(&mut value, |value, part| value.as_table_mut()?.get_mut(part));
            if let Some(toml::Value::String(secret)) = found {
                *secret = if is_url { redact_url(secret) } else { REDACTED.to_owned() };
            }
        }
        toml::to_string_pretty(&value).expect("TOML values serialise")
    }
}

/// A figment error, said with the key and the environment variable that sets it.
fn describe(error: figment::Error) -> String {
    let key = error.path.join(".");
    let from = error.metadata.as_ref().map(|m| m.name.to_string()).unwrap_or_default();
    let kind = error.kind.to_string();
    if key.is_empty() {
        format!("{kind} (in {from})")
    } else {
        format!("{key} ({}, from {from}): {kind}", env_name(&key))
    }
}

fn env_name(key: &str) -> String {
    format!("RAMPART_{}", key.to_ascii_uppercase().replace('.', "__"))
}

fn is_origin(origin: &str) -> bool {
    url::Url::parse(origin).is_ok_and(|url| {
        matches!(url.scheme(), "http" | "https") && url.host().is_some() && url.path() == "/" && !origin.ends_with('/')
    })
}

const REDACTED: &str = "<redacted>";

/// Keeps the scheme, host, port and path of a URL and hides its user-info and every query value
/// (any of them may be a credential: `?token=`, `?api_key=`, `?sslpassword=`); a value that is not
/// a URL with a host is hidden whole.
fn redact_url(value: &str) -> String {
    let Ok(mut url) = url::Url::parse(value) else { return REDACTED.into() };
    if !url.has_host() {
        return REDACTED.into();
    }
    if !url.username().is_empty() && url.set_username(REDACTED).is_err() {
        return REDACTED.into();
    }
    if url.password().is_some() && url.set_password(Some(REDACTED)).is_err() {
        return REDACTED.into();
    }
    let keys: Vec<String> = url.query_pairs().map(|(key, _)| key.into_owned()).collect();
    if url.query().is_some() {
        let mut query = url.query_pairs_mut();
        query.clear();
        for key in &keys {
            query.append_pair(key, REDACTED);
        }
    }
    url.set_fragment(None);
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_toml(text: &str) -> Result<Config, ConfigError> {
        Config::from_figment(Figment::from(Serialized::defaults(Config::default())).merge(Toml::string(text)))
    }

    #[test]
    fn file_values_are_read_with_human_durations() {
        let config = from_toml("listen = \"0.0.0.0:9000\"\n[http]\nrequest_timeout = \"1m 30s\"\nbody_limit = 2048\n")
            .expect("valid");
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.http.request_timeout, Duration::from_secs(90));
        assert_eq!(config.http.body_limit, 2048);
    }

    #[test]
    fn every_bad_key_is_named_with_its_variable() {
        let error = from_toml("[http]\nbody_limit = 0\n[database]\nmax_connections = 0\n").expect_err("two bad values");
        let text = error.to_string();
        assert!(text.contains("http.body_limit (RAMPART_HTTP__BODY_LIMIT)"), "{text}");
        assert!(text.contains("database.max_connections"), "{text}");

        let error = from_toml("[http]\nbody_limt = 5\n").expect_err("unknown key");
        assert!(error.to_string().contains("body_limt"), "{error}");

        let error = from_toml("log_format = \"xml\"\n").expect_err("unknown variant");
        assert!(error.to_string().contains("log_format"), "{error}");
    }

    #[test]
    fn limits_of_streams_and_connections_are_validated() {
        let text = "[http]\nstream_recheck = \"31s\"\nmax_streams = 5\nmax_streams_per_user = 6\nmax_connections = 0\n\
                    idle_timeout = \"0s\"\n";
        let error = from_toml(text).expect_err("bad limits").to_string();
        for key in ["http.stream_recheck", "http.max_streams_per_user", "http.max_connections", "http.idle_timeout"] {
            assert!(error.contains(key), "{key}: {error}");
        }
        let config = from_toml("[http]\nstream_recheck = \"200ms\"\nmax_connections = 2\n").expect("valid");
        assert_eq!(config.http.stream_recheck, Duration::from_millis(200));
        assert_eq!(config.http.max_connections, 2);
    }

    #[test]
    fn durations_are_longer_than_zero_and_at_most_a_year() {
        let text = "[auth]\nrefresh_token_ttl = \"1000years\"\n[engine]\nlease = \"0s\"\n";
        let error = from_toml(text).expect_err("bad durations").to_string();
        for key in ["auth.refresh_token_ttl", "engine.lease"] {
            assert!(error.contains(key), "{key}: {error}");
        }
        assert_eq!(error.matches("at most 366 days").count(), 2, "{error}");
        assert!(from_toml("[auth]\nrefresh_token_ttl = \"366days\"\n").is_ok());
    }

    #[test]
    fn the_domain_sections_are_read_and_checked_by_their_crates() {
        let config = from_toml(
            "[engine]\nworkers = 2\nlease = \"2s\"\n[watch]\ngroup_max = 7\n[auth]\nregistration = \"open\"\n",
        )
        .expect("valid");
        assert_eq!((config.engine.workers, config.engine.lease), (2, Duration::from_secs(2)));
        assert_eq!(config.watch.group_max, 7);
        assert_eq!(config.watch.sources_tracked, WatchConfig::default().sources_tracked, "not a key: kept");
        let text = "[watch]\nqueue_events = 999\n[watch.model]\nurl = \"ftp://model.internal/\"\n";
        let error = from_toml(text).expect_err("bad watch").to_string();
        assert!(error.contains("watch.queue_events (RAMPART_WATCH__QUEUE_EVENTS): must be at least 1000"), "{error}");
        assert!(error.contains("watch.model (RAMPART_WATCH__MODEL): url: must use http or https"), "{error}");
        let error = from_toml("[watch]\nsources_tracked = 5\n").expect_err("not a key").to_string();
        assert!(error.contains("sources_tracked"), "{error}");
    }

    #[test]
    fn defaults_serve_a_laptop() {
        let config = Config::default();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.http.body_limit, 1 << 20);
        assert!(config.http.cors_origins.is_empty());
        assert_eq!(config.database_location(), rampart_store::Location::Sqlite("./data/rampart.db".into()));
    }

    #[test]
    fn user_info_and_every_query_value_in_urls_are_redacted() {
        let redacted = redact_url("postgres://rampart:hunter2@db.internal:5432/rampart?sslmode=require&password=x2y");
        assert!(!redacted.contains("hunter2") && !redacted.contains("x2y"), "{redacted}");
        assert!(!redacted.contains("rampart:"), "the user name is user-info too: {redacted}");
        assert!(redacted.contains("db.internal:5432/rampart") && redacted.contains("sslmode="), "{redacted}");
        for url in [
            "https://model.internal/score?token=tok3n-value",
            "https://model.internal/score?api_key=tok3n-value&x=1",
            "https://model.internal/score?secret=tok3n-value",
            "https://model.internal/score?anything=tok3n-value",
            "https://tok3n-value@model.internal/score",
            "https://user:tok3n-value@model.internal/score#tok3n-value",
        ] {
            let redacted = redact_url(url);
            assert!(!redacted.contains("tok3n-value"), "{url}: {redacted}");
            assert!(redacted.starts_with("https://") && redacted.contains("model.internal/score"), "{redacted}");
        }
        assert_eq!(redact_url("word:rest-of-a-secret"), REDACTED, "not a URL with a host: hidden whole");
    }

    #[test]
    fn secrets_are_redacted_whatever_their_form() {
        let mut config = Config {
            bootstrap_admin_password: Some("correct:horse-battery".into()),
            database_url: Some("postgres://u:pw-9911@db.internal/rampart?sslpassword=pw-9912".into()),
            ..Config::default()
        };
        config.metrics.token = Some("m3trics-token-value-1234".into());
        let text = config.to_redacted_toml();
        for secret in ["horse-battery", "m3trics-token-value-1234", "pw-9911", "pw-9912"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }

    #[test]
    fn registration_is_closed_unless_opened() {
        assert_eq!(Config::default().auth.registration, Registration::Closed);
        let config = from_toml("[auth]\nregistration = \"open\"\n").expect("valid");
        assert!(config.auth.registration_open());
        assert!(!Config::default().auth.registration_open());
    }

    #[test]
    fn a_wildcard_listener_denies_its_port_on_every_address_of_the_host() {
        // The host's own address toward TEST-NET-2: a UDP socket's `connect` sends nothing.
        let socket = std::net::UdpSocket::bind("0.0.0.0:0").expect("a UDP socket");
        socket.connect("198.51.100.1:9").expect("the host has a route (nothing is sent)");
        let host = socket.local_addr().expect("a local address").ip();
        let config = from_toml("listen = \"0.0.0.0:8080\"\n[scope]\nallow = [\"0.0.0.0/0\"]\n").expect("valid");
        let deny = config.deny_list(config.listen);
        let at = |ip: &str, port: u16| SocketAddr::new(ip.parse().expect("ip"), port);

        for own in [
            SocketAddr::new(host, 8080),
            at("127.0.0.1", 8080),
            at("127.9.9.9", 8080),
            at("0.0.0.0", 8080),
            at("64:ff9b::7f00:1", 8080),
        ] {
            assert!(deny.denies(own).is_some(), "{own}");
        }
        assert!(deny.denies(SocketAddr::new(host, 8081)).is_none(), "another port of the host");
        assert!(deny.denies(at("198.51.100.1", 8080)).is_none(), "the same port elsewhere");
        assert!(deny.denies(at("2001:db8::1", 80)).is_some(), "outside scope.allow");
    }

    #[test]
    fn scope_allow_and_metrics_token_are_validated() {
        let config = from_toml("[scope]\nallow = [\"192.0.2.0/24\", \"*.example.com\"]\n").expect("valid");
        assert_eq!(config.scope.allow.len(), 2);
        let error = from_toml("[scope]\nallow = [\"10.0.0.0/33\"]\n[metrics]\ntoken = \"short\"\n").expect_err("bad");
        let text = error.to_string();
        assert!(text.contains("scope.allow (RAMPART_SCOPE__ALLOW)") && text.contains("metrics.token"), "{text}");
        assert!(!text.contains("short"), "the token is not repeated: {text}");
    }

    #[test]
    fn whois_servers_are_validated_and_a_bootstrap_file_is_read() {
        let error = from_toml("[whois]\niana_server = \"bad host\"\n").expect_err("not a host").to_string();
        assert!(error.contains("whois.iana_server (RAMPART_WHOIS__IANA_SERVER)"), "{error}");
        let error =
            from_toml("[whois]\nrdap_bootstrap = \"/nonexistent/dns.json\"\n").expect_err("no file").to_string();
        assert!(error.contains("whois.rdap_bootstrap") && error.contains("cannot read"), "{error}");
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("dns.json");
        std::fs::write(&path, r#"{"services": [[["test"], ["https://rdap.example.test/"]]]}"#).expect("written");
        let config =
            from_toml(&format!("[whois]\nrdap_bootstrap = {:?}\n", path.display().to_string())).expect("valid");
        let servers = config.whois.servers().expect("read");
        assert_eq!(servers.bootstrap.base_for("a.test"), Some("https://rdap.example.test/"));
        assert_eq!(servers.bootstrap.base_for("example.com"), None, "the file replaces the shipped one");
        assert_eq!(Config::default().whois.servers().expect("shipped").iana, "whois.iana.org:43");
    }

    #[test]
    fn secret_scan_paths_are_absolute_and_a_rule_file_is_read_and_checked() {
        let error = from_toml("[secret_scan]\nallowed_paths = [\"repos\"]\n").expect_err("relative").to_string();
        assert!(error.contains("secret_scan.allowed_paths (RAMPART_SECRET_SCAN__ALLOWED_PATHS)"), "{error}");
        let error = from_toml("[secret_scan]\nrules = \"/nonexistent/rules.toml\"\n").expect_err("no file").to_string();
        assert!(error.contains("secret_scan.rules") && error.contains("cannot read"), "{error}");
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("rules.toml");
        std::fs::write(&path, "[[rules]]\nid = \"mine\"\nregex = 'mine_[0-9]{8}'\nseverity = \"high\"\n")
            .expect("written");
        let toml = format!("[secret_scan]\nrules = {:?}\n", path.display().to_string());
        let error = from_toml(&toml).expect_err("an unknown key").to_string();
        assert!(error.contains("secret_scan.rules") && error.contains("severity"), "{error}");
        std::fs::write(&path, "[[rules]]\nid = \"mine\"\nregex = 'mine_[0-9]{8}'\n").expect("written");
        let config = from_toml(&format!("{toml}allowed_paths = [\"/srv/repos\"]\n")).expect("valid");
        let rules = config.secret_scan.rules().expect("read");
        assert!(rules.rules().iter().any(|rule| rule.id == "mine"));
        assert!(rules.rules().len() > 1, "the shipped rules are kept");
        assert_eq!(config.secret_scan.allowed_paths, [PathBuf::from("/srv/repos")]);
        assert!(Config::default().secret_scan.allowed_paths.is_empty(), "no local path by default");
    }

    #[test]
    fn dns_resolvers_are_addresses() {
        assert!(from_toml("[dns]\nresolvers = [\"192.0.2.53\", \"[2001:db8::53]:5353\"]\n").is_ok());
        let error = from_toml("[dns]\nresolvers = [\"dns.example.com\"]\n").expect_err("a name").to_string();
        assert!(
            error.contains("dns.resolvers (RAMPART_DNS__RESOLVERS)") && error.contains("dns.example.com"),
            "{error}"
        );
    }

    #[test]
    fn outbound_allow_names_networks_and_is_validated() {
        assert!(Config::default().outbound.allow.is_empty(), "nothing special is reached by default");
        let config = from_toml("[outbound]\nallow = [\"127.0.0.1/32\", \"10.0.0.5\"]\n").expect("valid");
        let policy = config.outbound.policy(vec![config.listen]);
        assert!(policy.denies("127.0.0.1:9000".parse().expect("addr")).is_none());
        assert!(policy.denies(config.listen).is_some(), "the server's own socket");
        let error = from_toml("[outbound]\nallow = [\"model.internal\"]\n").expect_err("a name").to_string();
        assert!(
            error.contains("outbound.allow (RAMPART_OUTBOUND__ALLOW)") && error.contains("model.internal"),
            "{error}"
        );
    }

    #[test]
    fn origins_are_scheme_host_and_port_only() {
        assert!(is_origin("https://soc.example.com"));
        assert!(is_origin("http://localhost:3000"));
        for bad in ["soc.example.com", "https://soc.example.com/", "https://soc.example.com/app", "ftp://x.example"] {
            assert!(!is_origin(bad), "{bad}");
        }
    }

    #[test]
    fn declared_external_tools_are_read_and_validated() {
        let text = "[[tools.external]]\nname = \"subfinder\"\nbinary = \"/usr/bin/subfinder\"\n\
                    args = [\"-d\", \"{domains}\", \"-silent\"]\nparams = { domains = \"targets\" }\n\
                    parser = \"lines\"\nlines = \"domain\"\nnetwork = true\ntime_limit = \"5m\"\n";
        let config = from_toml(text).expect("valid");
        let tool = &config.tools.external[0];
        assert_eq!(
            (tool.name.as_str(), tool.time_limit, tool.output_cap),
            ("subfinder", Duration::from_secs(300), 16 << 20)
        );

        let bad = "[[tools.external]]\nname = \"nmap\"\nbinary = \"nmap\"\nargs = [\"--x={what}\", \"x{targets}\"]\n\
                   params = { targets = \"targets\" }\nparser = \"lines\"\ntime_limit = \"0s\"\noutput_cap = 1\n";
        let error = from_toml(bad).expect_err("invalid").to_string();
        for key in [
            "tools.external[0].name",
            "tools.external[0].binary",
            "tools.external[0].args[0]",
            "tools.external[0].args",
            "tools.external[0].time_limit",
            "tools.external[0].output_cap",
        ] {
            assert!(error.contains(key), "{key} in {error}");
        }
    }
}
