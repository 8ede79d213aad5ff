//! The Tool trait and the registry. A tool declares its parameters and result as Rust types, from
//! which their JSON Schemas are derived (so the schema and the validation cannot disagree), names
//! the targets it will touch so that scope is checked before anything is queued, and runs with a
//! gate, a progress reporter, a log sink and a cancellation token.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rampart_core::ValidationErrors;
use rampart_core::executions::LogStream;
pub use rampart_core::output::ToolOutput;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use rampart_scope::Gate;

/// A target a run will touch (`host` or `host:port`) and the parameter that names it
/// (`params.urls[2]`), where a refusal of the scope check is reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunTarget {
    pub field: String,
    pub target: String,
}

impl RunTarget {
    pub fn new(field: impl Into<String>, target: impl Into<String>) -> Self {
        Self { field: field.into(), target: target.into() }
    }

    /// Each of `targets`, named `params.<list>[<index>]`.
    pub fn list(list: &str, targets: impl IntoIterator<Item = String>) -> Vec<Self> {
        targets
            .into_iter()
            .enumerate()
            .map(|(index, target)| Self::new(format!("params.{list}[{index}]"), target))
            .collect()
    }
}

/// What a tool is, for the catalogue.
#[derive(Clone, Debug)]
pub struct ToolInfo {
    pub name: &'static str,
    pub category: &'static str,
    pub description: &'static str,
    pub params_schema: Value,
    pub result_schema: Value,
    pub default_timeout: Duration,
}

impl ToolInfo {
    /// A tool's entry, its schemas derived from its parameter type `P` and result type `R`.
    pub fn of<P: JsonSchema, R: JsonSchema>(
        name: &'static str,
        category: &'static str,
        description: &'static str,
        default_timeout: Duration,
    ) -> Self {
        Self {
            name,
            category,
            description,
            params_schema: schema_of::<P>(),
            result_schema: schema_of::<R>(),
            default_timeout,
        }
    }
}

/// A report from a running tool.
#[derive(Clone, Debug, PartialEq)]
pub enum Update {
    Progress { percent: u8, message: String },
    Log { stream: LogStream, line: String },
}

/// What a tool runs with.
#[derive(Clone)]
pub struct ToolContext {
    /// The organisation's gate: its scope within the server's policy, for the targets.
    pub gate: Gate,
    /// The server's outbound gate, for services a tool consults that are not targets (WHOIS and
    /// RDAP servers); absent where the server gives none, and then such a tool cannot run.
    pub outbound: Option<Gate>,
    pub cancel: CancellationToken,
    updates: mpsc::UnboundedSender<Update>,
}

impl ToolContext {
    pub fn new(gate: Gate, cancel: CancellationToken, updates: mpsc::UnboundedSender<Update>) -> Self {
        Self { gate, outbound: None, cancel, updates }
    }

    /// The same context with the server's outbound gate.
    pub fn with_outbound(mut self, outbound: Gate) -> Self {
        self.outbound = Some(outbound);
        self
    }

    pub fn progress(&self, percent: u8, message: impl Into<String>) {
        let _ = self.updates.send(Update::Progress { percent: percent.min(100), message: message.into() });
    }

    pub fn log(&self, stream: LogStream, line: impl Into<String>) {
        let _ = self.updates.send(Update::Log { stream, line: line.into() });
    }
}

#[async_trait]
pub trait Tool: Send + Sync {
    fn info(&self) -> ToolInfo;

    /// Validates the parameters (field errors under `params.`) and names every target the run
    /// will touch, as `host` or `host:port` strings with their parameters, for the scope check.
    fn check(&self, params: &Value) -> Result<Vec<RunTarget>, ValidationErrors>;

    /// Whether the tool can run on this server: `Err` says why not, for the catalogue (an
    /// external tool whose binary is not installed). Such a tool is refused at submission.
    fn availability(&self) -> Result<(), String> {
        Ok(())
    }

    /// Runs; the output is the JSON described by the result schema with the run's findings and
    /// artifacts, or a failure said for people.
    async fn run(&self, params: Value, context: ToolContext) -> Result<ToolOutput, String>;
}

/// Reads parameters into their type, naming each bad field as `params.<path>`.
pub fn parse_params<T: DeserializeOwned>(params: &Value) -> Result<T, ValidationErrors> {
    serde_path_to_error::deserialize::<_, T>(params).map_err(|error| {
        let path = error.path().to_string();
        let message = error.inner().to_string();
        let field = match (path.as_str(), message.strip_prefix("missing field `").and_then(|m| m.split('`').next())) {
            (".", Some(name)) => format!("params.{name}"),
            (".", None) => "params".to_owned(),
            (path, Some(name)) => format!("params.{path}.{name}"),
            (path, None) => format!("params.{path}"),
        };
        ValidationErrors::single(field, message)
    })
}

/// The JSON Schema of a Rust type.
pub fn schema_of<T: JsonSchema>() -> Value {
    schemars::schema_for!(T).to_value()
}

/// Every tool this server has, by name.
#[derive(Clone, Default)]
pub struct Registry {
    tools: BTreeMap<&'static str, Arc<dyn Tool>>,
}

impl Registry {
    /// The tools that ship with Rampart.
    pub fn builtin() -> Self {
        let mut registry = Self::default();
        registry.add(Arc::new(crate::noop::Noop));
        registry.add(Arc::new(crate::tcp_scan::TcpScan));
        registry.add(Arc::new(crate::http_probe::HttpProbe));
        registry.add(Arc::new(crate::tls_inspect::TlsInspect));
        registry.add(Arc::new(crate::nmap::Nmap::default()));
        registry.add(Arc::new(crate::dns_lookup::DnsLookup::default()));
        registry.add(Arc::new(crate::whois::Whois::default()));
        registry.add(Arc::new(crate::secret_scan::SecretScan::default()));
        registry
    }

    /// The built-in tools and those the configuration declares (validated), each external tool
    /// run in the sandbox found on this machine.
    pub fn with_declared(tools: &crate::external::declared::ToolsConfig) -> Self {
        let mut registry = Self::builtin();
        let sandbox = crate::external::Sandbox::detect();
        for config in &tools.external {
            registry.add(Arc::new(crate::external::DeclaredTool::new(config.clone(), sandbox.clone())));
        }
        registry
    }

    pub fn add(&mut self, tool: Arc<dyn Tool>) {
        self.tools.insert(tool.info().name, tool);
    }

    pub fn get(&self, name: &str) -> Option<Arc<dyn Tool>> {
        self.tools.get(name).cloned()
    }

    pub fn all(&self) -> impl Iterator<Item = &Arc<dyn Tool>> {
        self.tools.values()
    }
}
