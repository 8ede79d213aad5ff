//! The lookup: each name's records, many names at once (the resolvers bound the questions in
//! flight), then the checks of a zone's apex (CAA, SPF, DMARC, zone transfer), dangling CNAMEs,
//! and subdomains from a word list shipped in the binary, with wildcard answers detected by a
//! random label and left out. Subdomains are looked for only under names the gate let through.
//! Each check that got an answer to judge by is noted as looked at, where its finding would sit;
//! one whose question went unanswered (a timeout, a failure, a server out of scope) is not.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::future::{join_all, try_join_all};
use futures_util::{StreamExt, TryStreamExt};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use rampart_core::findings::Severity;
use rampart_core::output::{Artifact, Covered, Finding, Kept};
use rampart_core::targets::Host;
use rampart_scope::Gate;

use crate::ToolContext;
use crate::coverage::Looked;
use crate::dns_lookup::checks::{Dmarc, Spf, dmarc, spf};
use crate::dns_lookup::tool::{
    DnsLookupResult, LookupSummary, NameResult, RecordView, SubdomainResult, ZoneTransferResult,
};
use crate::dns_lookup::wire::{Answer, QueryError, Resolver, Resolvers, Transfer, same_name, transfer};

/// The words subdomains are looked for with: one a line, shipped in the binary.
const WORDLIST: &str = include_str!("subdomains.txt");
/// Words of the list used at most, whatever its length.
const WORDS_MAX: usize = 500;
/// Name servers of a zone asked for a transfer at most, and addresses of each.
const NAME_SERVERS_MAX: usize = 8;
const NS_ADDRESSES_MAX: usize = 4;
/// Links of a CNAME chain followed at most.
const CHAIN_MAX: usize = 8;
/// Characters of a record's value kept.
const VALUE_MAX: usize = 4096;

/// A name to look up: a host name (its records) or an address (its PTR name).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    Name(String),
    Address(IpAddr),
}

impl Target {
    pub fn of(host: Host) -> Result<Self, String> {
        match host {
            Host::Ip(address) => Ok(Target::Address(address)),
            Host::Name(name) => {
                fqdn(&name).map_err(|_| "is not a valid DNS name".to_owned())?;
                Ok(Target::Name(name))
            }
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Name(name) => f.write_str(name),
            Target::Address(address) => address.fmt(f),
        }
    }
}

fn fqdn(name: &str) -> Result<Name, String> {
    let mut name = Name::from_ascii(name).map_err(|error| error.to_string())?;
    name.set_fqdn(true);
    Ok(name)
}

/// A name as people write it: lowercase, no root dot.
fn text(name: &Name) -> String {
    let mut ascii = name.to_ascii();
    ascii.make_ascii_lowercase();
    if ascii.len() > 1 && ascii.ends_with('.') {
        ascii.pop();
    }
    ascii
}

pub struct Plan {
    /// The organisation's gate: name servers are asked for a zone transfer only through it.
    pub gate: Gate,
    /// The gate the resolvers are asked through: the organisation's for resolvers the run
    /// names, the server's outbound one for its own.
    pub resolver_gate: Gate,
    pub resolvers: Vec<Resolver>,
    pub targets: Vec<Target>,
    pub types: Vec<RecordType>,
    pub subdomains: bool,
    pub zone_transfer: bool,
    pub name_server_port: u16,
    pub timeout: Duration,
    /// Questions in flight at most, over every thread of the run.
    pub concurrency: usize,
}

/// Threads the lookups of one run use at most.
const THREADS_MAX: usize = 8;
/// Names a thread is given at least: fewer are not worth a thread of their own.
const NAMES_PER_THREAD_MIN: usize = 128;

/// How many threads look up `names` with `concurrency` questions in flight: one a core, each
/// with names and questions enough to keep it busy.
fn threads(names: usize, concurrency: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    cores.min(THREADS_MAX).min(names.div_ceil(NAMES_PER_THREAD_MIN)).min(concurrency).max(1)
}

/// Thread `index`'s share of `total` over `threads`: even, the rest to the first ones.
fn share(total: usize, threads: usize, index: usize) -> usize {
    total / threads + usize::from(index < total % threads)
}

/// What one name gave.
#[derive(Default)]
struct Outcome {
    name: Option<NameResult>,
    subdomains: Vec<SubdomainResult>,
    transfers: Vec<ZoneTransferResult>,
    findings: Vec<Finding>,
    domains: Vec<String>,
    addresses: Vec<IpAddr>,
    wildcard_filtered: usize,
    /// Checks that got an answer to judge by: check, asset and location, as their findings say.
    looked: Vec<(&'static str, String, String)>,
}

/// What a dangling-CNAME check concluded.
enum Dangling {
    /// The alias points at a name that does not exist.
    Found(Finding),
    /// Not an alias, or an alias that leads to a name that exists.
    No,
    /// Unknown: a question went unanswered, or the chain was longer than is followed.
    Unknown,
}

impl Outcome {
    /// Notes the check's verdict: its finding when there is one, and the check as looked at when
    /// the verdict is known.
    fn dangling(&mut self, verdict: Dangling, name: &Name) {
        match verdict {
            Dangling::Found(finding) => {
                self.findings.push(finding);
                self.looked.push(("dns_lookup.dangling_cname", text(name), "CNAME".into()));
            }
            Dangling::No => self.looked.push(("dns_lookup.dangling_cname", text(name), "CNAME".into())),
            Dangling::Unknown => {}
        }
    }
}

/// Looks every target of `plan` up; a refusal by the gate stops the whole lookup.
///
/// The targets are dealt out to threads of their own, one a core, each with a single-threaded
/// runtime, its own sockets and its share of the questions in flight: a question and its answer
/// are a datagram each, and handing every readiness event between the worker threads of a shared
/// runtime costs more than the lookups themselves. Every thread stops when the run is cancelled,
/// when another one fails, or when this future is dropped (the run's time limit).
pub async fn lookup(plan: Plan, context: &ToolContext) -> Result<Assembled, String> {
    let total = plan.targets.len();
    let threads = threads(total, plan.concurrency);
    let plan = Arc::new(plan);
    let done = Arc::new(AtomicUsize::new(0));
    let cancel = context.cancel.child_token();
    let _stop_when_dropped = cancel.clone().drop_guard();
    let shards = (0..threads).map(|index| {
        let (plan, done, context, cancel) = (Arc::clone(&plan), Arc::clone(&done), context.clone(), cancel.clone());
        let in_flight = share(plan.concurrency, threads, index);
        let shard = tokio::task::spawn_blocking(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|_| "cannot start the lookups".to_owned())?;
            runtime.block_on(async {
                let resolvers =
                    Resolvers::connect(plan.resolver_gate.clone(), plan.resolvers.clone(), plan.timeout, in_flight)
                        .await?;
                let targets = plan.targets.iter().skip(index).step_by(threads).cloned();
                let outcomes = futures_util::stream::iter(targets)
                    .map(|target| counted(&plan, &resolvers, target, &done, &context))
                    .buffer_unordered(in_flight.min(1024))
                    .try_collect::<Vec<Outcome>>();
                tokio::select! {
                    outcomes = outcomes => Ok((outcomes?, resolvers.sent.load(Ordering::Relaxed))),
                    never = resolvers.receive() => match never {},
                    () = cancel.cancelled() => Err("cancelled".to_owned()),
                }
            })
        });
        async move { shard.await.map_err(|_| "the lookups stopped unexpectedly".to_owned())? }
    });
    let shards: Vec<(Vec<Outcome>, u64)> = try_join_all(shards).await?;
    Ok(assemble(shards, total))
}

/// A run's result, findings, artifacts and coverage.
pub type Assembled = (DnsLookupResult, Kept<Finding>, Kept<Artifact>, Kept<Covered>);

/// The run's result from what each thread's names gave and the questions it sent: names,
/// subdomains and transfers in order, counts summed, artifacts once each.
fn assemble(shards: Vec<(Vec<Outcome>, u64)>, total: usize) -> Assembled {
    let mut summary = LookupSummary { names: total, ..LookupSummary::default() };
    let (mut names, mut subdomains, mut transfers) = (Vec::new(), Vec::new(), Vec::new());
    let mut findings = Kept::default();
    let mut looked = Looked::default();
    let (mut domains, mut addresses) = (BTreeSet::new(), BTreeSet::new());
    for (outcomes, queries) in shards {
        summary.queries += queries;
        for outcome in outcomes {
            if let Some(name) = outcome.name {
                match name.status.as_str() {
                    "NOERROR" => summary.resolved += 1,
                    "NXDOMAIN" => summary.nxdomain += 1,
                    "timeout" | "error" => summary.failed += 1,
                    _ => {}
                }
                names.push(name);
            }
            subdomains.extend(outcome.subdomains);
            transfers.extend(outcome.transfers);
            findings.extend(outcome.findings);
            domains.extend(outcome.domains);
            addresses.extend(outcome.addresses);
            summary.wildcard_filtered += outcome.wildcard_filtered;
            for (check, asset, location) in outcome.looked {
                looked.at(check, asset, location);
            }
        }
    }
    names.sort_by(|left: &NameResult, right| left.name.cmp(&right.name));
    subdomains.sort_by(|left: &SubdomainResult, right| left.name.cmp(&right.name));
    transfers
        .sort_by(|left: &ZoneTransferResult, right| (&left.zone, &left.address).cmp(&(&right.zone, &right.address)));
    summary.subdomains = subdomains.len();
    let mut artifacts = Kept::default();
    artifacts.extend(domains.into_iter().map(|name| Artifact::Domain { name }));
    artifacts.extend(addresses.into_iter().map(|address| Artifact::Host { address }));
    let result = DnsLookupResult { names, subdomains, zone_transfers: transfers, summary };
    (result, findings, artifacts, looked.into_coverage())
}

/// Looks one target up and reports the progress of the run, at each percent.
async fn counted(
    plan: &Plan,
    resolvers: &Resolvers,
    target: Target,
    done: &AtomicUsize,
    context: &ToolContext,
) -> Result<Outcome, String> {
    let outcome = look_up(plan, resolvers, &target).await;
    let total = plan.targets.len();
    let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
    // Said once per percent: every update wakes whoever shows it.
    let percent = finished * 100 / total.max(1);
    if percent != (finished - 1) * 100 / total.max(1) {
        context.progress(u8::try_from(percent).unwrap_or(100), format!("{finished} of {total} names"));
    }
    outcome
}

/// The answers of one name, each question asked once.
struct Asked<'a> {
    resolvers: &'a Resolvers,
    name: Name,
    /// By type, in the order of the type's number, so that what is read from them is the same on every run.
    answers: BTreeMap<u16, Result<Answer, QueryError>>,
}

impl<'a> Asked<'a> {
    fn new(resolvers: &'a Resolvers, name: Name) -> Self {
        Self { resolvers, name, answers: BTreeMap::new() }
    }

    /// Asks every type of `types` not yet asked, at once.
    async fn ask_all(&mut self, types: &[RecordType]) -> Result<(), String> {
        let missing: Vec<RecordType> =
            types.iter().copied().filter(|record_type| !self.answers.contains_key(&u16::from(*record_type))).collect();
        let asked = join_all(missing.iter().map(|record_type| self.resolvers.query(&self.name, *record_type))).await;
        for (record_type, answer) in missing.into_iter().zip(asked) {
            if let Err(QueryError::Refused(reason)) = answer {
                return Err(reason);
            }
            self.answers.insert(u16::from(record_type), answer);
        }
        Ok(())
    }

    async fn get(&mut self, record_type: RecordType) -> Result<Option<&Answer>, String> {
        self.ask_all(&[record_type]).await?;
        Ok(self.answers.get(&u16::from(record_type)).and_then(|answer| answer.as_ref().ok()))
    }

    /// The texts of the TXT records at the name, each record's strings joined.
    async fn texts(&mut self) -> Result<Vec<String>, String> {
        let name = self.name.clone();
        Ok(self.get(RecordType::TXT).await?.map(|answer| txt_texts(answer, &name)).unwrap_or_default())
    }

    /// The status of the name over every answer: NOERROR if any, else the first other code.
    fn status(&self) -> String {
        let answers: Vec<&Result<Answer, QueryError>> = self.answers.values().collect();
        if answers.iter().any(|answer| matches!(answer, Ok(answer) if answer.code == ResponseCode::NoError)) {
            return "NOERROR".into();
        }
        if let Some(Ok(answer)) = answers.iter().find(|answer| answer.is_ok()) {
            return code_text(answer.code);
        }
        if answers.iter().any(|answer| matches!(answer, Err(QueryError::Timeout))) {
            "timeout".into()
        } else {
            "error".into()
        }
    }

    /// The records of `types` in every answer, sorted.
    fn records(&self, types: &[RecordType]) -> Vec<RecordView> {
        let mut views: BTreeSet<RecordView> = BTreeSet::new();
        for answer in self.answers.values().filter_map(|answer| answer.as_ref().ok()) {
            for record in answer.records.iter().filter(|record| types.contains(&record.record_type())) {
                views.insert(view(record));
            }
        }
        views.into_iter().collect()
    }

    fn addresses(&self) -> Vec<IpAddr> {
        self.answers
            .values()
            .filter_map(|answer| answer.as_ref().ok())
            .flat_map(|answer| answer.records.iter())
            .filter_map(|record| match &record.data {
                RData::A(address) => Some(IpAddr::V4(address.0)),
                RData::AAAA(address) => Some(IpAddr::V6(address.0)),
                _ => None,
            })
            .collect()
    }
}

fn code_text(code: ResponseCode) -> String {
    match code {
        ResponseCode::NoError => "NOERROR".into(),
        ResponseCode::FormErr => "FORMERR".into(),
        ResponseCode::ServFail => "SERVFAIL".into(),
        ResponseCode::NXDomain => "NXDOMAIN".into(),
        ResponseCode::NotImp => "NOTIMP".into(),
        ResponseCode::Refused => "REFUSED".into(),
        other => format!("RCODE{}", u16::from(other)),
    }
}

fn txt_texts(answer: &Answer, name: &Name) -> Vec<String> {
    answer
        .of(name, RecordType::TXT)
        .filter_map(|data| match data {
            RData::TXT(txt) => Some(txt.txt_data.iter().map(|part| String::from_utf8_lossy(part)).collect::<String>()),
            _ => None,
        })
        .collect()
}

/// A record as text: its data in zone-file form, printable ASCII only, bounded.
fn view(record: &Record) -> RecordView {
    let value = match &record.data {
        RData::A(address) => address.0.to_string(),
        RData::AAAA(address) => address.0.to_string(),
        RData::CNAME(target) => text(&target.0),
        RData::NS(target) => text(&target.0),
        RData::PTR(target) => text(&target.0),
        RData::MX(mx) => format!("{} {}", mx.preference, text(&mx.exchange)),
        RData::SRV(srv) => format!("{} {} {} {}", srv.priority, srv.weight, srv.port, text(&srv.target)),
        RData::SOA(soa) => format!(
            "{} {} {} {} {} {} {}",
            text(&soa.mname),
            text(&soa.rname),
            soa.serial,
            soa.refresh,
            soa.retry,
            soa.expire,
            soa.minimum
        ),
        RData::TXT(txt) => txt
            .txt_data
            .iter()
            .map(|part| format!("\"{}\"", String::from_utf8_lossy(part)))
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    };
    RecordView {
        name: text(&record.name),
        record_type: record.record_type().to_string(),
        ttl: record.ttl,
        value: printable(&value),
    }
}

/// Printable ASCII, everything else escaped, at most [`VALUE_MAX`] characters.
fn printable(value: &str) -> String {
    let mut kept = String::with_capacity(value.len().min(VALUE_MAX));
    for character in value.chars() {
        if kept.len() >= VALUE_MAX {
            break;
        }
        if character.is_ascii_graphic() || character == ' ' {
            kept.push(character);
        } else {
            kept.extend(character.escape_default());
        }
    }
    // Nothing but ASCII was kept: any length is a character boundary.
    kept.truncate(VALUE_MAX);
    kept
}

async fn look_up(plan: &Plan, resolvers: &Resolvers, target: &Target) -> Result<Outcome, String> {
    match target {
        Target::Address(address) => {
            let mut asked = Asked::new(resolvers, Name::from(*address));
            asked.ask_all(&[RecordType::PTR]).await?;
            let name = NameResult {
                name: address.to_string(),
                status: asked.status(),
                records: asked.records(&[RecordType::PTR]),
                zone_apex: false,
                wildcard: None,
            };
            Ok(Outcome { name: Some(name), ..Outcome::default() })
        }
        Target::Name(written) => look_up_name(plan, resolvers, written).await,
    }
}

async fn look_up_name(plan: &Plan, resolvers: &Resolvers, written: &str) -> Result<Outcome, String> {
    let name = fqdn(written)?;
    let mut outcome = Outcome::default();
    let shown: Vec<RecordType> =
        plan.types.iter().copied().filter(|record_type| *record_type != RecordType::PTR).collect();
    // SOA tells a zone's apex and CNAME a dangling alias, whichever types were asked for.
    let mut asking = shown.clone();
    asking.extend([RecordType::SOA, RecordType::CNAME]);
    let mut asked = Asked::new(resolvers, name.clone());
    asked.ask_all(&asking).await?;
    let status = asked.status();
    let zone_apex =
        asked.get(RecordType::SOA).await?.is_some_and(|answer| answer.of(&name, RecordType::SOA).next().is_some());
    if status == "NOERROR" {
        outcome.domains.push(written.to_owned());
        outcome.addresses.extend(asked.addresses());
    }
    let verdict = dangling(resolvers, &name, asked.get(RecordType::CNAME).await?).await?;
    outcome.dangling(verdict, &name);
    if zone_apex {
        apex_checks(plan, resolvers, &name, &mut asked, &mut outcome).await?;
    }
    let mut wildcard = None;
    if plan.subdomains && status == "NOERROR" {
        wildcard = Some(enumerate(resolvers, &name, &mut outcome).await?);
    }
    outcome.name =
        Some(NameResult { name: written.to_owned(), status, records: asked.records(&shown), zone_apex, wildcard });
    Ok(outcome)
}

/// CAA, SPF, DMARC and zone transfers, at the apex of a zone.
async fn apex_checks(
    plan: &Plan,
    resolvers: &Resolvers,
    name: &Name,
    asked: &mut Asked<'_>,
    outcome: &mut Outcome,
) -> Result<(), String> {
    let zone = text(name);
    if asked.get(RecordType::CAA).await?.is_some_and(|answer| answer.code == ResponseCode::NoError) {
        outcome.looked.push(("dns_lookup.caa_missing", zone.clone(), "CAA".into()));
    }
    if asked.get(RecordType::CAA).await?.is_some_and(|answer| answer.of(name, RecordType::CAA).next().is_none()) {
        outcome.findings.push(
            Finding::new(Severity::Low, "dns_lookup.caa_missing", "No CAA record: any certificate authority may issue for the domain", &zone, "CAA")
                .detail(format!("{zone} publishes no CAA record (RFC 8659), so every public certificate authority may issue certificates for it.")),
        );
    }
    let answered_txt = asked.get(RecordType::TXT).await?.is_some();
    // A failed answer reads as no SPF record: it says nothing of the record's other verdicts.
    if asked.get(RecordType::TXT).await?.is_some_and(|answer| answer.code == ResponseCode::NoError) {
        for check in ["dns_lookup.spf_missing", "dns_lookup.spf_pass_all", "dns_lookup.spf_neutral_all"] {
            outcome.looked.push((check, zone.clone(), "SPF".into()));
        }
    }
    if answered_txt {
        let texts = asked.texts().await?;
        let spf_record = texts.iter().find(|text| text.to_ascii_lowercase().starts_with("v=spf1")).cloned();
        let found = match spf(&texts) {
            Spf::Missing => {
                Some((Severity::Medium, "dns_lookup.spf_missing", "No SPF record: anyone may send mail as the domain"))
            }
            Spf::PassAll => Some((Severity::High, "dns_lookup.spf_pass_all", "SPF lets every sender pass (+all)")),
            Spf::NeutralAll => {
                Some((Severity::Medium, "dns_lookup.spf_neutral_all", "SPF is neutral on every other sender (?all)"))
            }
            Spf::Restricted => None,
        };
        if let Some((severity, check, title)) = found {
            let detail = match &spf_record {
                Some(record) => format!("{zone} publishes: {}", printable(record)),
                None => format!("{zone} publishes no TXT record starting with v=spf1 (RFC 7208)."),
            };
            outcome.findings.push(Finding::new(severity, check, title, &zone, "SPF").detail(detail));
        }
    }
    let dmarc_name = name.prepend_label("_dmarc").map_err(|error| error.to_string())?;
    let mut dmarc_asked = Asked::new(resolvers, dmarc_name.clone());
    let dmarc_answer = dmarc_asked.get(RecordType::TXT).await?;
    if let Some(answer) = dmarc_answer {
        let texts = if answer.code == ResponseCode::NoError || answer.code == ResponseCode::NXDomain {
            Some(txt_texts(answer, &dmarc_name))
        } else {
            None
        };
        if texts.is_some() {
            for check in ["dns_lookup.dmarc_missing", "dns_lookup.dmarc_not_enforced"] {
                outcome.looked.push((check, zone.clone(), "DMARC".into()));
            }
        }
        match texts.as_deref().map(dmarc) {
            Some(Dmarc::Missing) => outcome.findings.push(
                Finding::new(
                    Severity::Medium,
                    "dns_lookup.dmarc_missing",
                    "No DMARC policy: spoofed mail is not rejected",
                    &zone,
                    "DMARC",
                )
                .detail(format!("_dmarc.{zone} publishes no v=DMARC1 record (RFC 7489).")),
            ),
            Some(Dmarc::NotEnforced) => outcome.findings.push(
                Finding::new(
                    Severity::Low,
                    "dns_lookup.dmarc_not_enforced",
                    "DMARC policy is p=none: spoofed mail is only reported",
                    &zone,
                    "DMARC",
                )
                .detail(format!("_dmarc.{zone} asks receivers to take no action on mail failing DMARC.")),
            ),
            Some(Dmarc::Enforced) | None => {}
        }
    }
    if plan.zone_transfer {
        let name_servers: Vec<Name> = match asked.get(RecordType::NS).await? {
            Some(answer) => answer
                .of(name, RecordType::NS)
                .filter_map(|data| match data {
                    RData::NS(server) => Some(server.0.clone()),
                    _ => None,
                })
                .take(NAME_SERVERS_MAX)
                .collect(),
            None => Vec::new(),
        };
        for server in name_servers {
            zone_transfers(plan, resolvers, name, &server, outcome).await?;
        }
    }
    Ok(())
}

/// Asks each address of `server` (in scope) for a transfer of `zone`.
async fn zone_transfers(
    plan: &Plan,
    resolvers: &Resolvers,
    zone: &Name,
    server: &Name,
    outcome: &mut Outcome,
) -> Result<(), String> {
    let mut asked = Asked::new(resolvers, server.clone());
    asked.ask_all(&[RecordType::A, RecordType::AAAA]).await?;
    let mut addresses = asked.addresses();
    addresses.sort();
    addresses.dedup();
    for address in addresses.into_iter().take(NS_ADDRESSES_MAX) {
        let socket = SocketAddr::new(address, plan.name_server_port);
        let mut result = ZoneTransferResult {
            zone: text(zone),
            name_server: text(server),
            address: socket.to_string(),
            outcome: String::new(),
            records: None,
        };
        // A name server outside the scope is not a target: it is left alone, and said so.
        if !plan.gate.permits(socket) {
            result.outcome = "out_of_scope".into();
            outcome.transfers.push(result);
            continue;
        }
        let answer = transfer(&plan.gate, socket, zone, plan.timeout.saturating_mul(5)).await;
        // Allowed or refused, the server answered: a failed transfer says nothing.
        if matches!(answer, Ok(Transfer::Allowed { .. } | Transfer::Refused)) {
            outcome.looked.push(("dns_lookup.zone_transfer", text(zone), format!("axfr/{socket}")));
        }
        match answer {
            Ok(Transfer::Allowed { records }) => {
                result.outcome = "allowed".into();
                result.records = Some(records);
                outcome.findings.push(
                    Finding::new(
                        Severity::High,
                        "dns_lookup.zone_transfer",
                        "A name server allows a zone transfer (AXFR) to anyone",
                        text(zone),
                        format!("axfr/{socket}"),
                    )
                    .detail(format!(
                        "{} ({socket}) sent {records} records of the zone {} to an unauthenticated AXFR request.",
                        text(server),
                        text(zone)
                    )),
                );
            }
            Ok(Transfer::Refused) => result.outcome = "refused".into(),
            Err(QueryError::Refused(reason)) => return Err(reason),
            Err(_) => result.outcome = "failed".into(),
        }
        outcome.transfers.push(result);
    }
    Ok(())
}

/// A finding when `name` is an alias whose target does not exist, following the chain; known not
/// to dangle when the name is no alias (as its answer says with authority) or its chain ends at a
/// name that exists.
async fn dangling(resolvers: &Resolvers, name: &Name, cname: Option<&Answer>) -> Result<Dangling, String> {
    let Some(answer) = cname else { return Ok(Dangling::Unknown) };
    let mut target = answer.chain_end(name);
    if same_name(&target, name) {
        let known = matches!(answer.code, ResponseCode::NoError | ResponseCode::NXDomain);
        return Ok(if known { Dangling::No } else { Dangling::Unknown });
    }
    for _ in 0..CHAIN_MAX {
        let answer = match resolvers.query(&target, RecordType::A).await {
            Ok(answer) => answer,
            Err(QueryError::Refused(reason)) => return Err(reason),
            Err(_) => return Ok(Dangling::Unknown),
        };
        if answer.code == ResponseCode::NXDomain {
            let finding = Finding::new(
                Severity::High,
                "dns_lookup.dangling_cname",
                "Dangling CNAME: the alias points at a name that does not exist",
                text(name),
                "CNAME",
            )
            .detail(format!(
                "{} is an alias of {}, which does not exist (NXDOMAIN); whoever registers that name controls {}.",
                text(name),
                text(&target),
                text(name)
            ));
            return Ok(Dangling::Found(finding));
        }
        if answer.code != ResponseCode::NoError {
            return Ok(Dangling::Unknown);
        }
        let end = answer.chain_end(&target);
        // The resolver did not follow the rest of the chain: follow it here.
        if !same_name(&end, &target) && answer.of(&end, RecordType::A).next().is_none() {
            target = end;
            continue;
        }
        return Ok(Dangling::No);
    }
    Ok(Dangling::Unknown)
}

/// The answer values of `answer` for `name`: addresses and alias targets, to compare with a wildcard's.
fn values_of(answer: &Answer) -> BTreeSet<String> {
    answer
        .records
        .iter()
        .filter_map(|record| match &record.data {
            RData::A(address) => Some(address.0.to_string()),
            RData::AAAA(address) => Some(address.0.to_string()),
            RData::CNAME(target) => Some(text(&target.0)),
            _ => None,
        })
        .collect()
}

/// Looks for subdomains of `parent` from the word list; returns whether the parent has wildcard DNS.
async fn enumerate(resolvers: &Resolvers, parent: &Name, outcome: &mut Outcome) -> Result<bool, String> {
    let probe_label = format!("rampart-{:016x}", rand::random::<u64>());
    let probe = parent.prepend_label(probe_label.as_str()).map_err(|error| error.to_string())?;
    let wildcard_values = match resolvers.query(&probe, RecordType::A).await {
        Ok(answer) if answer.code == ResponseCode::NoError => values_of(&answer),
        Ok(_) | Err(QueryError::Timeout) | Err(QueryError::Failed(_)) => BTreeSet::new(),
        Err(QueryError::Refused(reason)) => return Err(reason),
    };
    let wildcard = !wildcard_values.is_empty();
    let candidates: Vec<Name> = WORDLIST
        .lines()
        .map(str::trim)
        .filter(|word| !word.is_empty() && !word.starts_with('#'))
        .take(WORDS_MAX)
        .filter_map(|word| parent.prepend_label(word).ok())
        .collect();
    let answers = join_all(candidates.iter().map(|candidate| resolvers.query(candidate, RecordType::A))).await;
    for (candidate, answer) in candidates.iter().zip(answers) {
        let answer = match answer {
            Ok(answer) if answer.code == ResponseCode::NoError => answer,
            // An alias to a name that does not exist: the subdomain exists, its target does not.
            Ok(answer)
                if answer.code == ResponseCode::NXDomain
                    && answer.of(candidate, RecordType::CNAME).next().is_some() =>
            {
                answer
            }
            Ok(_) | Err(QueryError::Timeout) | Err(QueryError::Failed(_)) => continue,
            Err(QueryError::Refused(reason)) => return Err(reason),
        };
        let values = values_of(&answer);
        if values.is_empty() {
            continue;
        }
        if wildcard && values.is_subset(&wildcard_values) {
            outcome.wildcard_filtered += 1;
            continue;
        }
        let records: BTreeSet<RecordView> = answer.records.iter().map(view).collect();
        outcome.domains.push(text(candidate));
        outcome.addresses.extend(answer.records.iter().filter_map(|record| match &record.data {
            RData::A(address) => Some(IpAddr::V4(address.0)),
            RData::AAAA(address) => Some(IpAddr::V6(address.0)),
            _ => None,
        }));
        // An alias found this way may dangle like any other.
        if answer.of(candidate, RecordType::CNAME).next().is_some() {
            let verdict = dangling(resolvers, candidate, Some(&answer)).await?;
            outcome.dangling(verdict, candidate);
        }
        outcome.subdomains.push(SubdomainResult {
            name: text(candidate),
            parent: text(parent),
            records: records.into_iter().collect(),
        });
    }
    Ok(wildcard)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_questions_in_flight_are_shared_out_whole() {
        for (total, threads) in [(1, 1), (128, 2), (129, 2), (7, 3), (256, 8), (1024, 7)] {
            let shares: Vec<usize> = (0..threads).map(|index| share(total, threads, index)).collect();
            assert_eq!(shares.iter().sum::<usize>(), total, "{total} over {threads}");
            assert!(shares.iter().all(|share| *share >= total / threads && *share <= total.div_ceil(threads)));
        }
    }

    #[test]
    fn a_thread_has_names_and_questions_enough() {
        assert_eq!(threads(1, 256), 1);
        assert_eq!(threads(NAMES_PER_THREAD_MIN, 256), 1);
        assert_eq!(threads(10_000, 1), 1, "one question in flight, one thread");
        for (names, concurrency) in [(0, 1), (300, 2), (10_000, 256), (10_000, 3)] {
            let threads = threads(names, concurrency);
            assert!((1..=THREADS_MAX).contains(&threads));
            assert!(threads <= concurrency && threads <= names.div_ceil(NAMES_PER_THREAD_MIN).max(1));
        }
    }
}
