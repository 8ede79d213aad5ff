//! External tools: programs the server runs, never through a shell, in a sandbox
//! (`sandbox.rs`: bubblewrap when installed, resource limits always, `limits.rs`), with every
//! target checked strictly (`targets.rs`) and against the scope before it becomes an argument.
//! Admins declare their own in the configuration (`declared.rs`, `tools.external`), read with the
//! generic `lines` parser (`lines.rs`) or nmap's XML; `nmap` ships built in (`crate::nmap`).

pub mod declared;
mod limits;
pub mod lines;
pub mod sandbox;
pub mod targets;

use std::net::IpAddr;

use rampart_core::targets::TargetValue;
use rampart_scope::Gate;

pub use declared::{DeclaredTool, ExternalToolConfig, ParamType, Parser, ToolsConfig};
pub use limits::Limits;
pub use lines::LineKind;
pub use sandbox::{Confinement, Ending, Invocation, Network, Outcome, Sandbox, SandboxError, executable};

/// What the arguments of a run name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostsAs {
    /// Every target as the addresses it covers: networks expanded, names resolved (by the gate).
    Addresses,
    /// Addresses and networks' addresses as addresses, names as names (checked in scope with
    /// every address they resolve to).
    Names,
}

/// Targets made arguments.
#[derive(Debug, Default)]
pub struct TargetArguments {
    /// One argument per host, sorted, without repeats.
    pub arguments: Vec<String>,
    /// Every address the targets cover (what names resolved to, once, by the gate).
    pub addresses: Vec<IpAddr>,
}

/// The arguments naming `targets`, each checked strictly and by the gate (in scope, on the deny
/// list, a network's size and a name's addresses within [`targets::ADDRESSES_MAX`]); an error
/// said for people when any is refused. Nothing is spawned before this answers.
pub async fn target_arguments(gate: &Gate, targets: &[String], hosts_as: HostsAs) -> Result<TargetArguments, String> {
    if targets.len() > targets::TARGETS_MAX {
        return Err(format!("at most {} targets", targets::TARGETS_MAX));
    }
    let mut arguments = Vec::new();
    let mut covered = Vec::new();
    let mut left = targets::ADDRESSES_MAX;
    for target in targets {
        let value = targets::parse_target(target).map_err(|reason| format!("target {target:?} {reason}"))?;
        let addresses: Vec<IpAddr> = gate.expand(&value.to_string(), left).await.map_err(|error| error.to_string())?;
        left = left.saturating_sub(u64::try_from(addresses.len()).unwrap_or(u64::MAX));
        match (&value, hosts_as) {
            (TargetValue::Host(name), HostsAs::Names) => arguments.push(targets::host_argument(name)?),
            _ => arguments.extend(addresses.iter().copied().map(targets::address_argument)),
        }
        covered.extend(addresses);
    }
    arguments.sort();
    arguments.dedup();
    covered.sort();
    covered.dedup();
    for argument in &arguments {
        targets::host_argument(argument)?;
    }
    Ok(TargetArguments { arguments, addresses: covered })
}

/// How an ending reads in a result: `exited`, `timed_out`, `output_capped`, `cancelled`.
pub fn ending_word(ending: Ending) -> &'static str {
    match ending {
        Ending::Exited(_) => "exited",
        Ending::TimedOut => "timed_out",
        Ending::OutputCapped => "output_capped",
        Ending::Cancelled => "cancelled",
    }
}

/// How a confinement reads in a result: `bubblewrap` or `limits_only`.
pub fn confinement_word(confinement: Confinement) -> &'static str {
    match confinement {
        Confinement::Bubblewrap => "bubblewrap",
        Confinement::LimitsOnly => "limits_only",
    }
}
