//! `dns_lookup`: the lookup as a tool. Its parameters name the names and the resolvers, every one
//! of them for the scope check; its result lists the records of each name, the subdomains found
//! and the zone transfers tried, with findings (`dns_lookup.<check>`) for missing CAA, weak SPF
//! and DMARC, dangling CNAMEs and open zone transfers, and `Domain` and `Host` artifacts; it covers
//! each check that got an answer to judge by, on the name its finding would name.

use std::time::Duration;

use async_trait::async_trait;
use hickory_proto::rr::RecordType;
use rampart_core::ValidationErrors;
use rampart_core::executions::LogStream;
use rampart_core::targets::{Host, parse_host_port};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::dns_lookup::lookup::{Plan, Target, lookup};
use crate::dns_lookup::wire::Resolver;
use crate::tool::{RunTarget, Tool, ToolContext, ToolInfo, ToolOutput, parse_params};

/// Most names one run may look up.
pub const NAMES_MAX: usize = 10_000;
/// Most names a run may enumerate subdomains of (each costs a question per word).
pub const SUBDOMAIN_NAMES_MAX: usize = 100;
/// Most resolvers a run may name.
pub const RESOLVERS_MAX: usize = 16;
const DEFAULT_CONCURRENCY: usize = 256;
const DEFAULT_TIMEOUT_MS: u64 = 2_000;

/// A record type the tool asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum RecordKind {
    A,
    Aaaa,
    Cname,
    Mx,
    Ns,
    Txt,
    Soa,
    Caa,
    Ptr,
    Srv,
}

impl RecordKind {
    pub const ALL: [RecordKind; 10] = [
        RecordKind::A,
        RecordKind::Aaaa,
        RecordKind::Cname,
        RecordKind::Mx,
        RecordKind::Ns,
        RecordKind::Txt,
        RecordKind::Soa,
        RecordKind::Caa,
        RecordKind::Ptr,
        RecordKind::Srv,
    ];

    pub fn record_type(self) -> RecordType {
        match self {
            RecordKind::A => RecordType::A,
            RecordKind::Aaaa => RecordType::AAAA,
            RecordKind::Cname => RecordType::CNAME,
            RecordKind::Mx => RecordType::MX,
            RecordKind::Ns => RecordType::NS,
            RecordKind::Txt => RecordType::TXT,
            RecordKind::Soa => RecordType::SOA,
            RecordKind::Caa => RecordType::CAA,
            RecordKind::Ptr => RecordType::PTR,
            RecordKind::Srv => RecordType::SRV,
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DnsLookupParams {
    /// Host names to look up, or addresses to look up the PTR name of; at most 10,000, all in scope.
    pub names: Vec<String>,
    /// Record types to ask for (`A`, `AAAA`, `CNAME`, `MX`, `NS`, `TXT`, `SOA`, `CAA`, `PTR`, `SRV`); all of them when absent.
    /// Addresses are asked for PTR only, names for every other type.
    #[serde(default)]
    pub types: Option<Vec<RecordKind>>,
    /// Resolvers as `address` or `address:port` (port 53 when absent), asked in turn; 1 to 16, all in scope.
    #[serde(default)]
    pub resolvers: Vec<String>,
    /// Look for subdomains of each name from a built-in word list (at most 100 names); wildcard answers are left out.
    #[serde(default)]
    pub subdomains: bool,
    /// Questions in flight at once (1 to 4096, default 256).
    #[serde(default)]
    pub concurrency: Option<usize>,
    /// The longest wait for an answer, in milliseconds (50 to 30000, default 2000).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Ask each name server of a zone in scope for a zone transfer (AXFR); on by default.
    #[serde(default = "yes")]
    pub zone_transfer: bool,
    /// The port name servers are asked on for a zone transfer (default 53).
    #[serde(default)]
    pub name_server_port: Option<u16>,
}

fn yes() -> bool {
    true
}

/// One record, as text.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
pub struct RecordView {
    pub name: String,
    #[serde(rename = "type")]
    pub record_type: String,
    pub ttl: u32,
    /// The record's data in zone-file form, printable ASCII, at most 4096 characters.
    pub value: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct NameResult {
    pub name: String,
    /// `NOERROR`, `NXDOMAIN`, `SERVFAIL`, `REFUSED`, … as the resolver answered, or `timeout` / `error`.
    pub status: String,
    pub records: Vec<RecordView>,
    /// True when the name is the apex of a zone (its SOA is at the name).
    pub zone_apex: bool,
    /// True when names below it that do not exist still answer (wildcard DNS); set only when subdomains were looked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wildcard: Option<bool>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SubdomainResult {
    pub name: String,
    pub parent: String,
    pub records: Vec<RecordView>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ZoneTransferResult {
    pub zone: String,
    pub name_server: String,
    /// The address and port asked.
    pub address: String,
    /// `allowed`, `refused`, `out_of_scope` (not asked: the gate does not let it be reached) or `failed`.
    pub outcome: String,
    /// Records transferred, when allowed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records: Option<u64>,
}

#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct LookupSummary {
    pub names: usize,
    /// Names the resolvers answered NOERROR for.
    pub resolved: usize,
    pub nxdomain: usize,
    /// Names with no answer at all (timeouts and failures).
    pub failed: usize,
    /// Questions sent, retries and TCP included.
    pub queries: u64,
    pub subdomains: usize,
    /// Subdomain candidates left out because their answer was the zone's wildcard answer.
    pub wildcard_filtered: usize,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DnsLookupResult {
    pub names: Vec<NameResult>,
    pub subdomains: Vec<SubdomainResult>,
    pub zone_transfers: Vec<ZoneTransferResult>,
    pub summary: LookupSummary,
}

/// The tool, with the resolvers of the server's configuration, if any: asked through the
/// server's outbound gate when a run names no resolver of its own.
#[derive(Clone, Debug, Default)]
pub struct DnsLookup {
    configured: Vec<Resolver>,
}

/// Reads `address` or `address:port` (port 53 when absent).
fn resolver_of(text: &str) -> Result<Resolver, String> {
    match parse_host_port(text) {
        Ok((Host::Ip(address), port)) => Ok(Resolver { host: address.to_string(), port: port.unwrap_or(53) }),
        Ok((Host::Name(_), _)) => Err("a resolver is an address, not a name".into()),
        Err(message) => Err(message),
    }
}

/// What validation makes of the parameters.
struct Checked {
    targets: Vec<Target>,
    resolvers: Vec<Resolver>,
    types: Vec<RecordType>,
    concurrency: usize,
    timeout: Duration,
}

impl DnsLookup {
    /// The tool with the server's own resolvers (`address` or `address:port`, at most 16).
    pub fn with_resolvers(resolvers: &[String]) -> Result<Self, String> {
        if resolvers.len() > RESOLVERS_MAX {
            return Err(format!("name at most {RESOLVERS_MAX} resolvers"));
        }
        let configured = resolvers
            .iter()
            .map(|text| resolver_of(text).map_err(|reason| format!("{text:?}: {reason}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { configured })
    }

    fn validate(&self, params: &DnsLookupParams) -> Result<Checked, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if params.names.is_empty() {
            errors.add("params.names", "name at least one name");
        }
        if params.names.len() > NAMES_MAX {
            errors.add("params.names", format!("a run looks up at most {NAMES_MAX} names"));
        }
        if params.subdomains && params.names.len() > SUBDOMAIN_NAMES_MAX {
            errors.add(
                "params.subdomains",
                format!("subdomains are looked for under at most {SUBDOMAIN_NAMES_MAX} names"),
            );
        }
        let mut targets = Vec::new();
        if params.names.len() <= NAMES_MAX {
            for (index, name) in params.names.iter().enumerate() {
                match parse_host_port(name) {
                    Ok((_, Some(_))) => errors.add(format!("params.names[{index}]"), "a name has no port"),
                    Ok((host, None)) => match Target::of(host) {
                        Ok(target) => targets.push(target),
                        Err(message) => errors.add(format!("params.names[{index}]"), message),
                    },
                    Err(message) => errors.add(format!("params.names[{index}]"), message),
                }
            }
        }
        targets.sort();
        targets.dedup();
        let mut resolvers = Vec::new();
        if params.resolvers.is_empty() && self.configured.is_empty() {
            errors.add(
                "params.resolvers",
                "name at least one resolver (an address or address:port in scope): this server has none configured",
            );
        }
        if params.resolvers.len() > RESOLVERS_MAX {
            errors.add("params.resolvers", format!("name at most {RESOLVERS_MAX} resolvers"));
        }
        for (index, resolver) in params.resolvers.iter().take(RESOLVERS_MAX).enumerate() {
            match resolver_of(resolver) {
                Ok(resolver) => resolvers.push(resolver),
                Err(message) => errors.add(format!("params.resolvers[{index}]"), message),
            }
        }
        let mut types: Vec<RecordType> = match &params.types {
            Some(kinds) if kinds.is_empty() => {
                errors.add("params.types", "name at least one record type, or leave it out for all");
                Vec::new()
            }
            Some(kinds) => kinds.iter().map(|kind| kind.record_type()).collect(),
            None => RecordKind::ALL.iter().map(|kind| kind.record_type()).collect(),
        };
        types.sort_by_key(|record_type| u16::from(*record_type));
        types.dedup();
        let concurrency = params.concurrency.unwrap_or(DEFAULT_CONCURRENCY);
        if !(1..=4096).contains(&concurrency) {
            errors.add("params.concurrency", "must be between 1 and 4096");
        }
        let timeout = params.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS);
        if !(50..=30_000).contains(&timeout) {
            errors.add("params.timeout_ms", "must be between 50 and 30000");
        }
        if params.name_server_port == Some(0) {
            errors.add("params.name_server_port", "must be a port 1-65535");
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Checked { targets, resolvers, types, concurrency, timeout: Duration::from_millis(timeout) })
    }
}

#[async_trait]
impl Tool for DnsLookup {
    fn info(&self) -> ToolInfo {
        ToolInfo::of::<DnsLookupParams, DnsLookupResult>(
            "dns_lookup",
            "dns",
            "DNS records of many names through resolvers in scope, subdomains from a word list, and checks for missing CAA, weak SPF and DMARC, dangling CNAMEs and open zone transfers.",
            Duration::from_secs(3600),
        )
    }

    fn check(&self, params: &Value) -> Result<Vec<RunTarget>, ValidationErrors> {
        let params: DnsLookupParams = parse_params(params)?;
        let checked = self.validate(&params)?;
        // Each name as given (valid, so a host without a port), for the refusal to name it.
        let mut targets = RunTarget::list("names", params.names);
        targets.extend(RunTarget::list("resolvers", checked.resolvers.iter().map(Resolver::to_string)));
        Ok(targets)
    }

    async fn run(&self, params: Value, context: ToolContext) -> Result<ToolOutput, String> {
        let params: DnsLookupParams = parse_params(&params).map_err(|errors| errors.to_string())?;
        let checked = self.validate(&params).map_err(|errors| errors.to_string())?;
        // The gate has the last word on every name and resolver, whatever was checked when the
        // run was queued: a refusal stops the run and is recorded.
        for target in &checked.targets {
            context.gate.check_host(&target.to_string()).await.map_err(|error| error.to_string())?;
        }
        // Resolvers the run names are targets, held to its scope; the server's own are its
        // outbound calls, held to the outbound policy.
        let (resolver_gate, resolver_list) = if checked.resolvers.is_empty() {
            let outbound = context.outbound.clone().ok_or("no resolver named, and this run has no outbound gate")?;
            (outbound, self.configured.clone())
        } else {
            (context.gate.clone(), checked.resolvers)
        };
        for resolver in &resolver_list {
            resolver_gate.resolve(&resolver.host, resolver.port).await.map_err(|error| error.to_string())?;
        }
        context.log(
            LogStream::Stdout,
            format!("looking up {} names through {} resolvers", checked.targets.len(), resolver_list.len()),
        );
        let plan = Plan {
            gate: context.gate.clone(),
            resolver_gate,
            resolvers: resolver_list,
            targets: checked.targets,
            types: checked.types,
            subdomains: params.subdomains,
            zone_transfer: params.zone_transfer,
            name_server_port: params.name_server_port.unwrap_or(53),
            timeout: checked.timeout,
            concurrency: checked.concurrency,
        };
        let (result, findings, artifacts, coverage) = lookup(plan, &context).await?;
        context.log(
            LogStream::Stdout,
            format!(
                "{} of {} names resolved, {} subdomains found, {} queries",
                result.summary.resolved, result.summary.names, result.summary.subdomains, result.summary.queries
            ),
        );
        let result = serde_json::to_value(result).map_err(|_| "cannot encode the result".to_owned())?;
        Ok(ToolOutput { result, findings, artifacts, coverage })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(params: Value) -> Vec<String> {
        match DnsLookup::default().check(&params) {
            Ok(_) => Vec::new(),
            Err(errors) => errors.iter().map(|error| error.field.clone()).collect(),
        }
    }

    #[test]
    fn every_name_and_resolver_is_named_for_the_scope_check() {
        let targets = DnsLookup::default()
            .check(&json!({"names": ["Example.TEST.", "127.0.0.9", "example.test"], "resolvers": ["127.0.0.2:5353", "::1"]}))
            .expect("valid");
        let named: Vec<(&str, &str)> =
            targets.iter().map(|target| (target.field.as_str(), target.target.as_str())).collect();
        assert_eq!(
            named,
            [
                ("params.names[0]", "Example.TEST."),
                ("params.names[1]", "127.0.0.9"),
                ("params.names[2]", "example.test"),
                ("params.resolvers[0]", "127.0.0.2:5353"),
                ("params.resolvers[1]", "[::1]:53"),
            ]
        );
    }

    #[test]
    fn bad_names_resolvers_and_bounds_are_named_by_field() {
        assert_eq!(fields(json!({"names": [], "resolvers": ["127.0.0.2"]})), ["params.names"]);
        assert_eq!(
            fields(json!({"names": ["ok.test", "bad name", "-x.test", "a.test:53"], "resolvers": ["127.0.0.2"]})),
            ["params.names[1]", "params.names[2]", "params.names[3]"]
        );
        assert_eq!(fields(json!({"names": ["ok.test"]})), ["params.resolvers"]);
        assert_eq!(fields(json!({"names": ["ok.test"], "resolvers": ["dns.test:53"]})), ["params.resolvers[0]"]);
        assert_eq!(fields(json!({"names": ["ok.test"], "resolvers": ["127.0.0.2"], "types": []})), ["params.types"]);
        assert_eq!(
            fields(json!({"names": ["ok.test"], "resolvers": ["127.0.0.2"], "types": ["A", "HINFO"]})),
            ["params.types[1]"]
        );
        assert_eq!(
            fields(json!({"names": ["ok.test"], "resolvers": ["127.0.0.2"], "concurrency": 0, "timeout_ms": 1})),
            ["params.concurrency", "params.timeout_ms"]
        );
        let many: Vec<String> = (0..=NAMES_MAX).map(|index| format!("n{index}.test")).collect();
        assert_eq!(fields(json!({"names": many, "resolvers": ["127.0.0.2"]})), ["params.names"]);
        let some: Vec<String> = (0..=SUBDOMAIN_NAMES_MAX).map(|index| format!("n{index}.test")).collect();
        assert_eq!(
            fields(json!({"names": some, "resolvers": ["127.0.0.2"], "subdomains": true})),
            ["params.subdomains"]
        );
    }
}
