//! `secret_scan`: a git repository's whole history scanned for secrets with the server's rule set
//! (the shipped rules extended by the admin's file). The repository is a clone URL whose host is
//! in scope, fetched through the gate (`git_clone`) into a directory that lives as long as the
//! run, or a local path under one of the directories the server allows
//! (`secret_scan.allowed_paths`), resolved with symlinks and `..` before it is compared, at
//! submission and again when the run starts, whose objects are its own and inside those
//! directories (no alternates, no symlink out of them). Each secret is a
//! finding `secret_scan.<rule id>` on the repository, at the file and the secret's hash; the
//! secret itself is never kept: the result, findings and logs hold its first characters only.
//! A history walked whole covers `secret_scan.*` on the repository; one cut short covers nothing.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rampart_core::ValidationErrors;
use rampart_core::executions::LogStream;
use rampart_core::findings::Severity;
use rampart_core::output::{Covered, Finding, KEPT_MAX, Kept};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::git_clone::{self, FetchLimits, fetch_repository};
use crate::secret_scan::history::{Limits, Report, Walked, scan_repository};
use crate::secret_scan::rules::Rules;
use crate::tool::{RunTarget, Tool, ToolContext, ToolInfo, ToolOutput, parse_params};

/// Most characters of a repository's path.
const REPOSITORY_MAX: usize = 4096;
/// Largest blob size a run may ask for.
const BLOB_BYTES_MAX: u64 = 64 << 20;
/// Most commits a run may ask for.
const COMMITS_MAX: usize = 1_000_000;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretScanParams {
    /// The repository: an `http(s)://` clone URL whose host is in scope (fetched through the
    /// gate, every branch and tag), or an absolute path under a directory the server allows
    /// (`secret_scan.allowed_paths`), a work tree or a bare repository.
    pub repository: String,
    /// Files larger than this are skipped and counted, in bytes (1 to 67108864, default 1048576).
    #[serde(default)]
    pub max_blob_bytes: Option<u64>,
    /// Commits walked at most, from the tips back (1 to 1000000, default 100000).
    #[serde(default)]
    pub max_commits: Option<usize>,
    /// Secrets listed at most (1 to 10000, default 10000); the rest are counted.
    #[serde(default)]
    pub max_findings: Option<usize>,
}

/// One secret found, redacted.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SecretFound {
    /// The rule's id, as in the rule set (`aws-access-key-id`).
    pub rule: String,
    pub description: String,
    /// The file's path in the repository, where the commit introduced it.
    pub path: String,
    /// The first commit (oldest, parents first) holding this secret in this file.
    pub commit: String,
    /// 1-based.
    pub line: usize,
    /// The secret's first characters and `…`: never the secret.
    pub redacted: String,
    /// SHA-256 of the secret, lowercase hex.
    pub sha256: String,
    /// Shannon entropy of the secret, in bits per byte.
    pub entropy: f64,
    pub tags: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SecretScanSummary {
    #[serde(flatten)]
    pub walked: Walked,
    /// Distinct secrets found (per rule, file and secret), listed or not.
    pub secrets: u64,
    /// True when more secrets were found than `max_findings`: `secrets` lists the first.
    pub truncated: bool,
    /// Rules the scan ran with.
    pub rules: usize,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SecretScanResult {
    /// The repository scanned, its path resolved.
    pub repository: String,
    /// The secrets found, oldest commit first.
    pub secrets: Vec<SecretFound>,
    pub summary: SecretScanSummary,
}

/// The tool, with the server's rule set and the directories local repositories may be under.
#[derive(Clone)]
pub struct SecretScan {
    /// The rules; none for the shipped ones, compiled when first scanned with (every command of
    /// the command line builds the tools, and most never scan for secrets).
    rules: Option<Arc<Rules>>,
    allowed_paths: Arc<Vec<PathBuf>>,
}

impl Default for SecretScan {
    /// The shipped rules, and no local path allowed.
    fn default() -> Self {
        Self { rules: None, allowed_paths: Arc::new(Vec::new()) }
    }
}

impl SecretScan {
    pub fn new(rules: Rules, allowed_paths: Vec<PathBuf>) -> Self {
        Self { rules: Some(Arc::new(rules)), allowed_paths: Arc::new(allowed_paths) }
    }

    fn rules(&self) -> Arc<Rules> {
        self.rules.clone().unwrap_or_else(|| Arc::new(Rules::shipped()))
    }

    fn limits_of(params: &SecretScanParams, errors: &mut ValidationErrors) -> Limits {
        let defaults = Limits::default();
        let max_blob_bytes = params.max_blob_bytes.unwrap_or(defaults.max_blob_bytes);
        if !(1..=BLOB_BYTES_MAX).contains(&max_blob_bytes) {
            errors.add("params.max_blob_bytes", format!("must be between 1 and {BLOB_BYTES_MAX}"));
        }
        let max_commits = params.max_commits.unwrap_or(defaults.max_commits);
        if !(1..=COMMITS_MAX).contains(&max_commits) {
            errors.add("params.max_commits", format!("must be between 1 and {COMMITS_MAX}"));
        }
        let max_findings = params.max_findings.unwrap_or(defaults.max_findings);
        if !(1..=KEPT_MAX).contains(&max_findings) {
            errors.add("params.max_findings", format!("must be between 1 and {KEPT_MAX}"));
        }
        Limits { max_blob_bytes, max_commits, max_findings }
    }

    fn plan_of(&self, params: &SecretScanParams) -> Result<(Source, Limits), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let limits = Self::limits_of(params, &mut errors);
        let source = errors.check("params.repository", self.source_of(&params.repository));
        match source {
            Some(source) if errors.is_empty() => Ok((source, limits)),
            _ => Err(errors),
        }
    }

    /// Where `repository` is: a clone URL (by its scheme) or a local path.
    fn source_of(&self, repository: &str) -> Result<Source, String> {
        if repository.starts_with("https://") || repository.starts_with("http://") {
            let target = git_clone::url_target(repository)?;
            return Ok(Source::Url { url: repository.to_owned(), target });
        }
        resolve_local(repository, &self.allowed_paths).map(Source::Local)
    }
}

/// Where a run's repository is.
enum Source {
    /// A local repository, its path resolved and allowed.
    Local(PathBuf),
    /// A repository fetched through the gate into a temporary directory, from `url` at `target`
    /// (`host:port`).
    Url { url: String, target: String },
}

impl Source {
    /// The targets the scope check must allow: none for a local repository.
    fn targets(&self) -> Vec<RunTarget> {
        match self {
            Source::Local(_) => Vec::new(),
            Source::Url { target, .. } => vec![RunTarget::new("params.repository", target.clone())],
        }
    }
}

/// The local repository `repository` names, resolved (symlinks and `..` followed), when it is
/// under one of `allowed` (each resolved the same way).
pub fn resolve_local(repository: &str, allowed: &[PathBuf]) -> Result<PathBuf, String> {
    if repository.is_empty() || repository.chars().count() > REPOSITORY_MAX || repository.chars().any(char::is_control)
    {
        return Err(format!("must be an absolute path of 1 to {REPOSITORY_MAX} printable characters"));
    }
    let path = Path::new(repository);
    if !path.is_absolute() {
        return Err("must be an absolute path to a local git repository".into());
    }
    if allowed.is_empty() {
        return Err(
            "local repositories are not allowed on this server (configuration secret_scan.allowed_paths)".into()
        );
    }
    let resolved = path.canonicalize().map_err(|_| "does not exist or cannot be read".to_owned())?;
    let allowed: Vec<PathBuf> = allowed.iter().filter_map(|directory| directory.canonicalize().ok()).collect();
    let inside = |path: &Path| allowed.iter().any(|directory| path.starts_with(directory));
    if !inside(&resolved) {
        return Err("is not under a directory this server allows (configuration secret_scan.allowed_paths)".into());
    }
    if !resolved.is_dir() {
        return Err("is not a directory".into());
    }
    // A `.git` file names a git directory anywhere on the machine: not followed out of the
    // allowed directories, and not followed at all.
    if resolved.join(".git").is_file() {
        return Err("holds a .git file (a linked work tree or a submodule): name the repository it points to".into());
    }
    let git_dir = if resolved.join(".git").is_dir() { resolved.join(".git") } else { resolved.clone() };
    own_objects(&git_dir, &inside)?;
    Ok(resolved)
}

/// Entries of `objects` or `objects/pack` looked at most: a repository has 256 fan-out
/// directories and a few packs; one with more is refused rather than listed at length.
const OBJECT_ENTRIES_MAX: usize = 10_000;

/// Refuses a repository whose objects could be read from outside the allowed directories: a git
/// directory or object store reached through a symlink out of them, a symlink among the fan-out
/// directories and pack files, or objects borrowed from another repository (alternates, the
/// common directory of a linked work tree), none of which the reader would otherwise refuse.
fn own_objects(git_dir: &Path, inside: &dyn Fn(&Path) -> bool) -> Result<(), String> {
    for borrowed in ["commondir", "objects/info/alternates", "objects/info/http-alternates"] {
        if git_dir.join(borrowed).symlink_metadata().is_ok() {
            return Err(format!("reads the objects of another repository ({borrowed}): name that repository"));
        }
    }
    let escapes = |path: &Path| path.canonicalize().is_ok_and(|real| !inside(&real));
    let objects = git_dir.join("objects");
    if escapes(git_dir) || escapes(&objects) {
        return Err("keeps its objects outside the allowed directories (through a symlink)".into());
    }
    for directory in [objects.clone(), objects.join("pack")] {
        let Ok(entries) = std::fs::read_dir(&directory) else { continue };
        for (index, entry) in entries.enumerate() {
            if index >= OBJECT_ENTRIES_MAX {
                return Err(format!("has more than {OBJECT_ENTRIES_MAX} entries in {}", directory.display()));
            }
            let entry = entry.map_err(|_| "cannot be read".to_owned())?;
            if entry.file_type().is_ok_and(|kind| kind.is_symlink()) {
                return Err(format!(
                    "has a symlink among its objects ({}): not followed",
                    entry.path().strip_prefix(git_dir).unwrap_or(&entry.path()).display()
                ));
            }
        }
    }
    Ok(())
}

#[async_trait]
impl Tool for SecretScan {
    fn info(&self) -> ToolInfo {
        ToolInfo::of::<SecretScanParams, SecretScanResult>(
            "secret_scan",
            "code",
            "Secrets in a git repository's whole history, with gitleaks-format rules, entropy checks and allowlists; each secret redacted.",
            Duration::from_secs(3600),
        )
    }

    fn check(&self, params: &Value) -> Result<Vec<RunTarget>, ValidationErrors> {
        let params: SecretScanParams = parse_params(params)?;
        let (source, _) = self.plan_of(&params)?;
        Ok(source.targets())
    }

    async fn run(&self, params: Value, context: ToolContext) -> Result<ToolOutput, String> {
        let params: SecretScanParams = parse_params(&params).map_err(|errors| errors.to_string())?;
        let (source, limits) = self.plan_of(&params).map_err(|errors| errors.to_string())?;
        // A fetched repository lives as long as the run.
        let fetched;
        let (path, label) = match source {
            Source::Local(path) => {
                let label = path.display().to_string();
                (path, label)
            }
            Source::Url { url, .. } => {
                fetched = tempfile::tempdir().map_err(|_| "cannot create a directory for the repository".to_owned())?;
                context.progress(0, format!("fetching {url}"));
                let fetch =
                    fetch_repository(&context.gate, &url, fetched.path(), &FetchLimits::default(), &context.cancel)
                        .await
                        .map_err(|error| format!("cannot fetch {url}: {error}"))?;
                context.log(
                    LogStream::Stdout,
                    format!("fetched {} references, {} bytes, from {url}", fetch.refs.len(), fetch.bytes_received),
                );
                (fetch.path, url)
            }
        };
        context.log(LogStream::Stdout, format!("scanning the history of {label}"));
        let rules = self.rules();
        let report = scan_path(&path, rules.clone(), limits, &context).await?;
        context.log(
            LogStream::Stdout,
            format!(
                "{} commits, {} files scanned, {} secrets found",
                report.walked.commits, report.walked.blobs_scanned, report.n_found
            ),
        );
        output_of(&label, &report, &rules)
    }
}

/// Scans the repository at `path` on a blocking thread, with the context's progress and
/// cancellation; the scan stops too when the returned future is dropped (a run's time limit).
pub async fn scan_path(
    path: &Path,
    rules: Arc<Rules>,
    limits: Limits,
    context: &ToolContext,
) -> Result<Report, String> {
    let cancel = context.cancel.child_token();
    let _stop_when_dropped = cancel.clone().drop_guard();
    let progress_context = context.clone();
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        let progress = move |percent: u8, message: String| progress_context.progress(percent, message);
        scan_repository(&path, &rules, &limits, &progress, &cancel)
    })
    .await
    .map_err(|_| "the scan stopped unexpectedly".to_owned())?
}

/// The result, findings included, of a scan of `repository`.
pub fn output_of(repository: &str, report: &Report, rules: &Rules) -> Result<ToolOutput, String> {
    let asset = if repository.contains("://") { repository.to_owned() } else { format!("file://{repository}") };
    let mut findings = Kept::default();
    let mut secrets = Vec::with_capacity(report.found.len());
    for found in &report.found {
        let rule = &rules.rules()[found.rule];
        let what = if rule.description.is_empty() { rule.id.clone() } else { rule.description.clone() };
        findings.push(
            Finding::new(
                Severity::High,
                format!("secret_scan.{}", rule.id),
                format!("{what} committed in {}", found.path),
                asset.clone(),
                format!("{}#sha256:{}", found.path, &found.secret.sha256[..16]),
            )
            .detail(format!(
                "Rule {} found a secret in {} at line {}, committed in {}: {} (SHA-256 {}, entropy {:.2}). \
                 It stays in the repository's history until the history is rewritten: revoke it.",
                rule.id,
                found.path,
                found.line,
                found.commit,
                found.secret.redacted,
                found.secret.sha256,
                found.secret.entropy
            )),
        );
        secrets.push(SecretFound {
            rule: rule.id.clone(),
            description: rule.description.clone(),
            path: found.path.clone(),
            commit: found.commit.clone(),
            line: found.line,
            redacted: found.secret.redacted.clone(),
            sha256: found.secret.sha256.clone(),
            entropy: found.secret.entropy,
            tags: rule.tags.clone(),
        });
    }
    findings.count_unkept(report.n_found.saturating_sub(findings.total()));
    // Every commit walked, every object read, every file scanned and every secret listed: what
    // the history holds was all seen, so a secret no longer in it is gone. A walk cut short by
    // `max_commits`, a file skipped past `max_blob_bytes`, an unreadable object or secrets past
    // `max_findings` may hide one still there: nothing is covered.
    let walked = &report.walked;
    let whole = !walked.commits_truncated
        && walked.objects_unreadable == 0
        && walked.blobs_too_large == 0
        && !report.truncated()
        && findings.n_dropped() == 0;
    let mut coverage = Kept::default();
    if whole {
        coverage.push(Covered::new("secret_scan.*", &asset));
    }
    let result = SecretScanResult {
        repository: repository.to_owned(),
        secrets,
        summary: SecretScanSummary {
            walked: report.walked.clone(),
            secrets: report.n_found,
            truncated: report.truncated(),
            rules: rules.rules().len(),
        },
    };
    let result = serde_json::to_value(result).map_err(|_| "cannot encode the result".to_owned())?;
    Ok(ToolOutput { result, findings, artifacts: Kept::default(), coverage })
}
