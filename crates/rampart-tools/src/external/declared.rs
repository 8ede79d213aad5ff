//! Tools an admin declares in the configuration (`tools.external`): a binary, an argv template
//! with typed placeholders (`{targets}`, `{ports}`, an integer, a word), the parser of its output
//! (`nmap_xml` or `lines`), whether it needs the network, its time limit and its output cap.
//! Parameters are read as their declared types only, targets checked strictly and against the
//! scope, and the argv built from the template: no placeholder is ever read by a shell. A tool
//! with a `ports` parameter reaches only those ports, each checked on every address its targets
//! cover; one without is held to its targets' addresses, whatever port it opens.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use rampart_core::ValidationErrors;
use rampart_core::executions::LogStream;
use rampart_core::findings::Severity;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::external::lines::{LineKind, parse_lines};
use crate::external::{
    Ending, HostsAs, Invocation, Limits, Network, Sandbox, confinement_word, ending_word, executable, target_arguments,
    targets,
};
use crate::tcp_scan::parse_ports;
use crate::tool::{RunTarget, Tool, ToolContext, ToolInfo, ToolOutput, schema_of};

/// Most tools an admin declares.
pub const DECLARED_MAX: usize = 64;
/// Most arguments of a template.
const ARGS_MAX: usize = 64;
/// Most characters of one argument of a template.
const ARG_MAX: usize = 1024;
/// The time limits a declared tool may have.
const TIME_LIMITS: std::ops::RangeInclusive<Duration> = Duration::from_secs(1)..=Duration::from_secs(86_400);
/// The output caps a declared tool may have: 1 KiB to 256 MiB.
const OUTPUT_CAPS: std::ops::RangeInclusive<u64> = 1024..=(256 << 20);

/// The type of a declared parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamType {
    /// Addresses, networks or host names in scope; the placeholder is a whole argument and
    /// becomes one argument per host (networks expanded to their addresses).
    Targets,
    /// A port list (`22,80,8000-8100`, `top-100`), passed as `22,80,8000-8100`.
    Ports,
    /// An integer from 0 to 65535.
    Integer,
    /// Letters, digits, `_`, `.` and `:`, at most 64, not starting with `-`.
    Word,
}

/// How a declared tool's output is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Parser {
    /// nmap's XML report on standard output.
    NmapXml,
    /// One line, one artifact or finding ([`LineKind`]).
    Lines,
}

fn default_time_limit() -> Duration {
    Duration::from_secs(600)
}

fn default_output_cap() -> u64 {
    16 << 20
}

fn default_severity() -> String {
    "info".into()
}

/// One tool of `tools.external`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalToolConfig {
    /// The tool's name in the catalogue: lowercase letters, digits and `_`, 2 to 40.
    pub name: String,
    /// The absolute path of the binary.
    pub binary: PathBuf,
    /// The arguments, each one argument, with `{param}` placeholders.
    #[serde(default)]
    pub args: Vec<String>,
    /// The parameters by name, each with its type.
    #[serde(default)]
    pub params: BTreeMap<String, ParamType>,
    pub parser: Parser,
    /// For the `lines` parser: what each line is.
    #[serde(default)]
    pub lines: LineKind,
    /// For the `lines` parser's findings: their severity.
    #[serde(default = "default_severity")]
    pub severity: String,
    /// Whether the tool reaches the network (else it runs without one, under bubblewrap).
    #[serde(default)]
    pub network: bool,
    #[serde(default = "default_time_limit", with = "humantime_serde")]
    pub time_limit: Duration,
    /// Most bytes of output read before the tool is stopped.
    #[serde(default = "default_output_cap")]
    pub output_cap: u64,
    #[serde(default)]
    pub description: String,
}

/// The `tools` section of the configuration.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ToolsConfig {
    /// Tools admins declare, run as external tools.
    pub external: Vec<ExternalToolConfig>,
}

impl ToolsConfig {
    /// Every bad setting, named by its key in the section (`external[0].binary`). A binary that
    /// is not installed is no error: its tool shows as unavailable.
    pub fn validate(&self, taken: &[&str]) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if self.external.len() > DECLARED_MAX {
            errors.add("external", format!("declare at most {DECLARED_MAX} tools"));
        }
        let mut names: Vec<&str> = taken.to_vec();
        for (index, tool) in self.external.iter().enumerate().take(DECLARED_MAX) {
            let key = |field: &str| format!("external[{index}].{field}");
            let name_ok = (2..=40).contains(&tool.name.len())
                && tool.name.starts_with(|c: char| c.is_ascii_lowercase())
                && tool.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !name_ok {
                errors.add(key("name"), "must be 2 to 40 lowercase letters, digits and '_', starting with a letter");
            } else if names.contains(&tool.name.as_str()) {
                errors.add(key("name"), format!("{:?} is already a tool's name", tool.name));
            }
            names.push(&tool.name);
            if !tool.binary.is_absolute() {
                errors.add(key("binary"), "must be an absolute path");
            }
            if tool.args.len() > ARGS_MAX {
                errors.add(key("args"), format!("at most {ARGS_MAX} arguments"));
            }
            for (position, arg) in tool.args.iter().enumerate() {
                if let Err(reason) = check_template(arg, &tool.params) {
                    errors.add(format!("external[{index}].args[{position}]"), reason);
                }
            }
            for (param, kind) in &tool.params {
                let placeholder = format!("{{{param}}}");
                if !param.chars().all(|c| c.is_ascii_lowercase() || c == '_') || param.is_empty() || param.len() > 40 {
                    errors.add(key("params"), format!("{param:?} must be lowercase letters and '_'"));
                } else if !tool.args.iter().any(|arg| arg.contains(&placeholder)) {
                    errors.add(key("params"), format!("{param:?} is used by no argument"));
                }
                if *kind == ParamType::Targets
                    && !tool.args.iter().all(|arg| arg == &placeholder || !arg.contains(&placeholder))
                {
                    errors.add(key("args"), format!("{placeholder} must be an argument of its own"));
                }
            }
            if tool.severity.parse::<Severity>().is_err() {
                errors.add(key("severity"), "must be info, low, medium, high or critical");
            }
            if !TIME_LIMITS.contains(&tool.time_limit) {
                errors.add(key("time_limit"), "must be between 1s and 1day");
            }
            if !OUTPUT_CAPS.contains(&tool.output_cap) {
                errors.add(key("output_cap"), "must be between 1024 and 268435456 bytes");
            }
            if tool.description.chars().count() > 500 {
                errors.add(key("description"), "at most 500 characters");
            }
        }
        errors.into_result(|| ())
    }
}

/// An argument of a template: at most [`ARG_MAX`] characters, every `{…}` a declared parameter.
fn check_template(arg: &str, params: &BTreeMap<String, ParamType>) -> Result<(), String> {
    if arg.chars().count() > ARG_MAX {
        return Err(format!("at most {ARG_MAX} characters"));
    }
    let mut rest = arg;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or("has a '{' without its '}'")?;
        let name = &after[..close];
        if !params.contains_key(name) {
            return Err(format!("{{{name}}} is not a declared parameter"));
        }
        rest = &after[close + 1..];
    }
    if rest.contains('}') { Err("has a '}' without its '{'".into()) } else { Ok(()) }
}

/// What a declared tool's run says.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DeclaredResult {
    /// `exited`, `timed_out` (stopped past its time limit) or `output_capped` (stopped past its
    /// output cap; what it wrote before is read).
    pub ending: String,
    /// The exit code, when it exited by itself.
    pub exit_code: Option<i32>,
    /// `bubblewrap`, or `limits_only` where bubblewrap is not installed.
    pub sandbox: String,
    /// For the `lines` parser: the first 1000 lines.
    pub lines: Vec<String>,
    /// For the `lines` parser: lines read, and lines not of the declared kind.
    pub n_lines: u64,
    pub n_skipped: u64,
    /// For the `nmap_xml` parser: the hosts, as the `nmap` tool gives them.
    pub hosts: Vec<crate::nmap::tool::NmapHostView>,
}

/// A tool declared in the configuration.
pub struct DeclaredTool {
    config: ExternalToolConfig,
    name: &'static str,
    description: &'static str,
    sandbox: Sandbox,
}

impl DeclaredTool {
    /// The tool `config` declares (validated by [`ToolsConfig::validate`]). Its name and
    /// description live as long as the process: a catalogue entry is `'static`, and tools are
    /// declared once, at start.
    pub fn new(config: ExternalToolConfig, sandbox: Sandbox) -> Self {
        let name: &'static str = Box::leak(config.name.clone().into_boxed_str());
        let description = if config.description.is_empty() {
            let program = config.binary.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
            format!("{program}, declared by the server's admin")
        } else {
            config.description.clone()
        };
        Self { description: Box::leak(description.into_boxed_str()), name, config, sandbox }
    }

    fn params_schema(&self) -> Value {
        let mut properties = serde_json::Map::new();
        for (name, kind) in &self.config.params {
            let schema = match kind {
                ParamType::Targets => {
                    json!({"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": targets::TARGETS_MAX})
                }
                ParamType::Ports => json!({"type": "string", "description": "22,80,8000-8100, top-100 or top-1000"}),
                ParamType::Integer => json!({"type": "integer", "minimum": 0, "maximum": 65535}),
                ParamType::Word => json!({"type": "string", "pattern": "^[A-Za-z0-9_.:][A-Za-z0-9_.:-]{0,63}$"}),
            };
            properties.insert(name.clone(), schema);
        }
        let required: Vec<&String> = self.config.params.keys().collect();
        json!({"type": "object", "properties": properties, "required": required, "additionalProperties": false})
    }

    /// Each parameter read as its type.
    fn read(&self, params: &Value) -> Result<ReadParams, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let Some(object) = params.as_object() else {
            return Err(ValidationErrors::single("params", "must be an object"));
        };
        for key in object.keys() {
            if !self.config.params.contains_key(key) {
                errors.add(format!("params.{key}"), "is not a parameter of this tool");
            }
        }
        let mut scalars = BTreeMap::new();
        let mut target_lists = Vec::new();
        let mut port_lists = Vec::new();
        for (name, kind) in &self.config.params {
            let field = format!("params.{name}");
            let Some(value) = object.get(name) else {
                errors.add(field, "is required");
                continue;
            };
            match kind {
                ParamType::Targets => {
                    let list: Option<Vec<String>> = value
                        .as_array()
                        .and_then(|items| items.iter().map(|item| item.as_str().map(str::to_owned)).collect());
                    match list {
                        Some(list) if !list.is_empty() && list.len() <= targets::TARGETS_MAX => {
                            for (index, target) in list.iter().enumerate() {
                                if let Err(reason) = targets::parse_target(target) {
                                    errors.add(format!("{field}[{index}]"), reason);
                                }
                            }
                            target_lists.push((name.clone(), list));
                        }
                        _ => errors.add(field, format!("must be a list of 1 to {} targets", targets::TARGETS_MAX)),
                    }
                }
                ParamType::Ports => match value.as_str().map(parse_ports) {
                    Some(Ok(ports)) => {
                        scalars.insert(name.clone(), crate::nmap::tool::port_list(&ports));
                        port_lists.push(ports);
                    }
                    Some(Err(reason)) => errors.add(field, reason),
                    None => errors.add(field, "must be a port list"),
                },
                ParamType::Integer => match value.as_u64().filter(|n| *n <= 65_535) {
                    Some(number) => {
                        scalars.insert(name.clone(), number.to_string());
                    }
                    None => errors.add(field, "must be an integer from 0 to 65535"),
                },
                ParamType::Word => match value.as_str().filter(|word| is_word(word)) {
                    Some(word) => {
                        scalars.insert(name.clone(), word.to_owned());
                    }
                    None => errors
                        .add(field, "must be 1 to 64 letters, digits, '_', '.', ':' or '-', not starting with '-'"),
                },
            }
        }
        errors.into_result(|| ReadParams { scalars, target_lists, port_lists })
    }
}

/// A run's parameters, read as their declared types.
struct ReadParams {
    /// Every parameter but the targets, rendered as its argument text, by name.
    scalars: BTreeMap<String, String>,
    /// Each targets parameter by name, with its targets as given.
    target_lists: Vec<(String, Vec<String>)>,
    /// The ports of each ports parameter.
    port_lists: Vec<Vec<u16>>,
}

fn is_word(word: &str) -> bool {
    (1..=64).contains(&word.len())
        && !word.starts_with('-')
        && word.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-'))
}

#[async_trait]
impl Tool for DeclaredTool {
    fn info(&self) -> ToolInfo {
        ToolInfo {
            name: self.name,
            category: "external",
            description: self.description,
            params_schema: self.params_schema(),
            result_schema: schema_of::<DeclaredResult>(),
            // Past the tool's own time limit, so the sandbox stops it first and marks the run.
            default_timeout: self.config.time_limit.saturating_add(Duration::from_secs(30)),
        }
    }

    fn availability(&self) -> Result<(), String> {
        executable(&self.config.binary)
    }

    fn check(&self, params: &Value) -> Result<Vec<RunTarget>, ValidationErrors> {
        let read = self.read(params)?;
        Ok(read.target_lists.into_iter().flat_map(|(name, list)| RunTarget::list(&name, list)).collect())
    }

    async fn run(&self, params: Value, context: ToolContext) -> Result<ToolOutput, String> {
        self.availability().map_err(|reason| format!("{} is unavailable: {reason}", self.name))?;
        let ReadParams { scalars, target_lists, port_lists } =
            self.read(&params).map_err(|errors| errors.to_string())?;
        let mut hosts_of = BTreeMap::new();
        let mut addresses = Vec::new();
        for (name, list) in &target_lists {
            let checked = target_arguments(&context.gate, list, HostsAs::Names).await?;
            addresses.extend(checked.addresses);
            hosts_of.insert(name.clone(), checked.arguments);
        }
        // A tool told its ports reaches only those: each must be allowed on every address.
        for ports in &port_lists {
            for address in &addresses {
                if let Some(port) = ports.iter().find(|port| !context.gate.permits(SocketAddr::new(*address, **port))) {
                    let reason = format!("port {port} of {address} is outside the scope or on the deny list");
                    context.gate.report_refusal(&address.to_string(), reason.clone()).await;
                    return Err(reason);
                }
            }
        }
        let mut args = Vec::new();
        for template in &self.config.args {
            if let Some(hosts) =
                template.strip_prefix('{').and_then(|t| t.strip_suffix('}')).and_then(|name| hosts_of.get(name))
            {
                args.extend(hosts.iter().cloned());
                continue;
            }
            let mut arg = template.clone();
            for (name, value) in &scalars {
                arg = arg.replace(&format!("{{{name}}}"), value);
            }
            args.push(arg);
        }
        let invocation = Invocation {
            binary: self.config.binary.clone(),
            args,
            network: if self.config.network { Network::Shared } else { Network::None },
            time_limit: self.config.time_limit,
            output_cap: usize::try_from(self.config.output_cap).unwrap_or(usize::MAX),
            limits: Limits { cpu_seconds: self.config.time_limit.as_secs().saturating_add(1), ..Limits::default() },
        };
        let outcome = self.sandbox.run(&invocation, &context.cancel).await.map_err(|error| error.to_string())?;
        for line in String::from_utf8_lossy(&outcome.stderr).lines().filter(|line| !line.trim().is_empty()).take(20) {
            context.log(LogStream::Stderr, line);
        }
        if outcome.ending == Ending::Cancelled {
            return Err("cancelled".into());
        }
        if outcome.ending != Ending::Exited(Some(0)) {
            context.log(LogStream::Stdout, format!("{} ended: {}", self.name, ending_word(outcome.ending)));
        }
        let mut result = DeclaredResult {
            ending: ending_word(outcome.ending).to_owned(),
            exit_code: match outcome.ending {
                Ending::Exited(code) => code,
                _ => None,
            },
            sandbox: confinement_word(outcome.confinement).to_owned(),
            lines: Vec::new(),
            n_lines: 0,
            n_skipped: 0,
            hosts: Vec::new(),
        };
        let (findings, artifacts) = match self.config.parser {
            Parser::Lines => {
                let severity = self.config.severity.parse::<Severity>().unwrap_or(Severity::Info);
                let lines = parse_lines(&outcome.stdout, self.config.lines, self.name, severity);
                result.lines = lines.listed;
                result.n_lines = lines.n_lines;
                result.n_skipped = lines.n_skipped;
                (lines.findings, lines.artifacts)
            }
            Parser::NmapXml => {
                if !matches!(outcome.ending, Ending::Exited(_)) {
                    return Err(format!("{} was stopped ({}); its report is incomplete", self.name, result.ending));
                }
                let report =
                    crate::nmap::parse(&outcome.stdout).map_err(|error| format!("{}'s report: {error}", self.name))?;
                result.hosts = crate::nmap::tool::host_views(&report);
                crate::nmap::output_of(&report)
            }
        };
        let result = serde_json::to_value(result).map_err(|_| "cannot encode the result".to_owned())?;
        // A declared tool is a program the server knows only by its argv and output: nothing says
        // which checks it ran or whether it checked every target, so it covers nothing.
        Ok(ToolOutput { result, findings, artifacts, coverage: Default::default() })
    }
}
