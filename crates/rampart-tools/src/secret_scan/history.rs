//! A repository's whole history, read with gitoxide (no `git` binary): every commit reachable
//! from HEAD and every ref (branches, tags, remotes, notes), ordered parents first (the oldest
//! commit first among those ready), and every distinct file content (blob) they hold, scanned once.
//!
//! A blob is attributed to the first commit in that order whose tree holds it, at the path it has
//! there: for a linear history, the commit that introduced it. Trees already seen are not walked
//! again, so the walk costs what the history's distinct trees cost, not commits × files. The blobs
//! are then read and scanned on every core, each thread with its own handle on the repository.
//! A secret found in several versions of one file (same rule, path and secret) is reported once,
//! at the first commit in that order.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use gix::ObjectId;
use gix::hashtable::{HashMap as IdMap, HashSet as IdSet};
use gix::objs::FindExt;
use schemars::JsonSchema;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::secret_scan::detect::{self, Secret};
use crate::secret_scan::rules::Rules;

/// Most threads reading and scanning blobs.
const THREADS_MAX: usize = 8;
/// Most secrets collected from all files before they are ordered and deduplicated; past it,
/// secrets are counted as dropped and the report is truncated.
const COLLECTED_MAX: usize = 1_000_000;

/// The bounds of one scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Larger blobs are skipped and counted.
    pub max_blob_bytes: u64,
    /// Commits walked at most, from the tips back; older ones are left out and the report says so.
    pub max_commits: usize,
    /// Secrets reported at most; the rest are counted.
    pub max_findings: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_blob_bytes: 1 << 20, max_commits: 100_000, max_findings: rampart_core::output::KEPT_MAX }
    }
}

/// One secret found, redacted.
#[derive(Clone, Debug, PartialEq)]
pub struct Found {
    /// The rule's index in the rule set.
    pub rule: usize,
    pub path: String,
    /// The commit's full id, lowercase hex.
    pub commit: String,
    /// 1-based.
    pub line: usize,
    pub secret: Secret,
}

/// What a scan walked, as the result's summary shows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, JsonSchema)]
pub struct Walked {
    pub commits: u64,
    /// True when the history has more commits than `max_commits`: the oldest were not walked.
    pub commits_truncated: bool,
    /// Distinct file contents read and scanned.
    pub blobs_scanned: u64,
    pub blobs_too_large: u64,
    pub blobs_binary: u64,
    /// Distinct file contents only at paths the rules' global allowlists skip.
    pub blobs_allowlisted: u64,
    /// Objects that could not be read (a shallow or damaged repository).
    pub objects_unreadable: u64,
}

/// What a scan saw and found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    pub walked: Walked,
    /// The secrets found, oldest commit first, at most [`Limits::max_findings`].
    pub found: Vec<Found>,
    /// Every distinct secret found, reported or not (of those collected).
    pub n_found: u64,
    /// Secrets found past the most a scan collects (a hostile repository): not even counted as distinct.
    pub n_dropped: u64,
}

impl Report {
    pub fn truncated(&self) -> bool {
        self.n_found > self.found.len() as u64 || self.n_dropped > 0
    }
}

/// A blob to scan: its first commit (index in the walk order) and path.
struct Job {
    blob: ObjectId,
    commit: usize,
    path: String,
}

/// Scans the repository at `path` (a work tree holding `.git`, or a bare repository or git
/// directory). `progress` is told the percentage done and what is being done; `cancel` is
/// honoured between commits and between blobs.
pub fn scan_repository(
    path: &Path,
    rules: &Rules,
    limits: &Limits,
    progress: &(dyn Fn(u8, String) + Sync),
    cancel: &CancellationToken,
) -> Result<Report, String> {
    let mut repo = gix::open_opts(path, gix::open::Options::isolated())
        .map_err(|error| format!("{} is not a git repository that can be read: {error}", path.display()))?;
    repo.object_cache_size_if_unset(16 << 20);
    let mut report = Report::default();

    progress(0, "reading the history".into());
    let (order, truncated, unreadable) = commits_in_order(&repo, limits.max_commits)?;
    report.walked.commits = order.len() as u64;
    report.walked.commits_truncated = truncated;
    report.walked.objects_unreadable += unreadable;

    let jobs = blobs_to_scan(&repo, &order, rules, progress, cancel, &mut report)?;
    if cancel.is_cancelled() {
        return Err("cancelled".into());
    }
    let commit_ids: Vec<String> = order.iter().map(|commit| commit.id.to_hex().to_string()).collect();
    let mut found = scan_blobs(repo.into_sync(), &jobs, &commit_ids, rules, limits, progress, cancel, &mut report);
    if cancel.is_cancelled() {
        return Err("cancelled".into());
    }

    // Oldest commit first; one report per secret, rule and path.
    found.sort_by(|(a_order, a), (b_order, b)| {
        (a_order, &a.path, a.line, a.rule).cmp(&(b_order, &b.path, b.line, b.rule))
    });
    let mut reported = HashSet::new();
    for (_, one) in found {
        if reported.insert((one.rule, one.path.clone(), one.secret.sha256.clone())) {
            report.n_found += 1;
            if report.found.len() < limits.max_findings {
                report.found.push(one);
            }
        }
    }
    progress(100, format!("{} commits, {} blobs scanned", report.walked.commits, report.walked.blobs_scanned));
    Ok(report)
}

struct Commit {
    id: ObjectId,
    tree: ObjectId,
}

/// Every commit reachable from HEAD and the refs, at most `max` (from the tips back), parents
/// before children and, among the commits ready, the oldest by committer time first.
fn commits_in_order(repo: &gix::Repository, max: usize) -> Result<(Vec<Commit>, bool, u64), String> {
    let mut tips: Vec<ObjectId> = Vec::new();
    if let Ok(head) = repo.head_id() {
        tips.push(head.detach());
    }
    let references = repo.references().map_err(|error| format!("cannot read the refs: {error}"))?;
    for reference in references.all().map_err(|error| format!("cannot read the refs: {error}"))?.flatten() {
        let mut reference = reference;
        if let Ok(id) = reference.peel_to_id() {
            tips.push(id.detach());
        }
    }
    tips.sort();
    tips.dedup();

    struct Node {
        tree: ObjectId,
        parents: Vec<ObjectId>,
        time: i64,
    }
    let mut nodes: IdMap<ObjectId, Node> = IdMap::default();
    let mut stack = tips;
    let mut buf = Vec::new();
    let mut truncated = false;
    let mut unreadable = 0u64;
    while let Some(id) = stack.pop() {
        if nodes.contains_key(&id) {
            continue;
        }
        if nodes.len() >= max {
            truncated = true;
            break;
        }
        // A tag may point at a tree or a blob: only commits are walked.
        let commit = match repo.objects.find(&id, &mut buf) {
            Ok(data) if data.kind == gix::objs::Kind::Commit => {
                match data.decode().ok().and_then(|o| o.into_commit()) {
                    Some(commit) => commit,
                    None => {
                        unreadable += 1;
                        continue;
                    }
                }
            }
            Ok(_) => continue,
            Err(_) => {
                // A shallow clone's boundary, or a damaged repository.
                unreadable += 1;
                continue;
            }
        };
        let parents: Vec<ObjectId> = commit.parents().collect();
        let time = commit.committer().map(|signature| signature.seconds()).unwrap_or(0);
        stack.extend(parents.iter().copied());
        nodes.insert(id, Node { tree: commit.tree(), parents, time });
    }

    // Parents first (Kahn), the oldest ready commit next, ties broken by id.
    let mut waiting: IdMap<ObjectId, usize> = IdMap::default();
    let mut children: IdMap<ObjectId, Vec<ObjectId>> = IdMap::default();
    for (id, node) in &nodes {
        let known: Vec<&ObjectId> = node.parents.iter().filter(|parent| nodes.contains_key(*parent)).collect();
        waiting.insert(*id, known.len());
        for parent in known {
            children.entry(*parent).or_default().push(*id);
        }
    }
    let mut ready: BinaryHeap<Reverse<(i64, ObjectId)>> =
        waiting.iter().filter(|(_, n)| **n == 0).map(|(id, _)| Reverse((nodes[id].time, *id))).collect();
    let mut order = Vec::with_capacity(nodes.len());
    while let Some(Reverse((_, id))) = ready.pop() {
        order.push(Commit { id, tree: nodes[&id].tree });
        for child in children.get(&id).into_iter().flatten() {
            if let Some(n) = waiting.get_mut(child) {
                *n -= 1;
                if *n == 0 {
                    ready.push(Reverse((nodes[child].time, *child)));
                }
            }
        }
    }
    Ok((order, truncated, unreadable))
}

/// The blobs of the history, each with the first commit (in `order`) and path it appears at.
fn blobs_to_scan(
    repo: &gix::Repository,
    order: &[Commit],
    rules: &Rules,
    progress: &(dyn Fn(u8, String) + Sync),
    cancel: &CancellationToken,
    report: &mut Report,
) -> Result<Vec<Job>, String> {
    let mut seen_trees: IdSet<ObjectId> = IdSet::default();
    let mut seen_blobs: IdSet<ObjectId> = IdSet::default();
    let mut allowlisted: IdSet<ObjectId> = IdSet::default();
    let mut jobs = Vec::new();
    let mut buf = Vec::new();
    let mut stack: Vec<(ObjectId, String)> = Vec::new();
    let step = (order.len() / 100).max(1);
    for (index, commit) in order.iter().enumerate() {
        if cancel.is_cancelled() {
            return Ok(jobs);
        }
        if index.is_multiple_of(step) {
            let percent = u8::try_from(index * 20 / order.len().max(1)).unwrap_or(20);
            progress(percent, format!("walking commit {} of {}", index + 1, order.len()));
        }
        if !seen_trees.insert(commit.tree) {
            continue;
        }
        stack.push((commit.tree, String::new()));
        while let Some((tree, prefix)) = stack.pop() {
            let Ok(entries) = repo.objects.find_tree_iter(&tree, &mut buf) else {
                report.walked.objects_unreadable += 1;
                continue;
            };
            for entry in entries {
                let Ok(entry) = entry else {
                    report.walked.objects_unreadable += 1;
                    break;
                };
                let id = entry.oid.to_owned();
                // The path is made only for what is new: most entries of most trees are not.
                let path_of = || {
                    let name = String::from_utf8_lossy(entry.filename);
                    if prefix.is_empty() { name.into_owned() } else { format!("{prefix}/{name}") }
                };
                if entry.mode.is_tree() {
                    if seen_trees.insert(id) {
                        stack.push((id, path_of()));
                    }
                } else if entry.mode.is_blob() && !seen_blobs.contains(&id) {
                    let path = path_of();
                    // A blob seen only at skipped paths stays unseen: it is scanned if it appears
                    // later at a path that is not skipped.
                    if rules.skips_path(&path) {
                        allowlisted.insert(id);
                    } else {
                        seen_blobs.insert(id);
                        jobs.push(Job { blob: id, commit: index, path });
                    }
                }
            }
        }
    }
    report.walked.blobs_allowlisted = allowlisted.difference(&seen_blobs).count() as u64;
    Ok(jobs)
}

/// Reads and scans every blob on up to [`THREADS_MAX`] threads; each secret comes back with its
/// commit's place in the walk order.
#[allow(clippy::too_many_arguments)]
fn scan_blobs(
    repo: gix::ThreadSafeRepository,
    jobs: &[Job],
    commit_ids: &[String],
    rules: &Rules,
    limits: &Limits,
    progress: &(dyn Fn(u8, String) + Sync),
    cancel: &CancellationToken,
    report: &mut Report,
) -> Vec<(usize, Found)> {
    let threads =
        std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, THREADS_MAX).min(jobs.len().max(1));
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let too_large = AtomicU64::new(0);
    let binary = AtomicU64::new(0);
    let unreadable = AtomicU64::new(0);
    let scanned = AtomicU64::new(0);
    let collected = AtomicUsize::new(0);
    let dropped = AtomicU64::new(0);
    let step = (jobs.len() / 100).max(1);
    let found = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let repo = repo.to_thread_local();
                    let mut buf = Vec::new();
                    let mut found = Vec::new();
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        if index >= jobs.len() || cancel.is_cancelled() {
                            break;
                        }
                        let job = &jobs[index];
                        let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                        if finished.is_multiple_of(step) {
                            let percent = u8::try_from(20 + finished * 80 / jobs.len()).unwrap_or(100);
                            progress(percent, format!("scanned {finished} of {} files", jobs.len()));
                        }
                        match repo.find_header(job.blob) {
                            Ok(header) if header.size() > limits.max_blob_bytes => {
                                too_large.fetch_add(1, Ordering::Relaxed);
                                continue;
                            }
                            Ok(_) => {}
                            Err(_) => {
                                unreadable.fetch_add(1, Ordering::Relaxed);
                                continue;
                            }
                        }
                        let Ok(blob) = repo.objects.find_blob(&job.blob, &mut buf) else {
                            unreadable.fetch_add(1, Ordering::Relaxed);
                            continue;
                        };
                        if detect::is_binary(blob.data) {
                            binary.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                        scanned.fetch_add(1, Ordering::Relaxed);
                        let commit = &commit_ids[job.commit];
                        let hits = detect::scan(rules, commit, &job.path, blob.data);
                        if collected.fetch_add(hits.len(), Ordering::Relaxed) + hits.len() > COLLECTED_MAX {
                            dropped.fetch_add(hits.len() as u64, Ordering::Relaxed);
                            continue;
                        }
                        for hit in hits {
                            found.push((
                                job.commit,
                                Found {
                                    rule: hit.rule,
                                    path: job.path.clone(),
                                    commit: commit.clone(),
                                    line: hit.line,
                                    secret: hit.secret,
                                },
                            ));
                        }
                    }
                    found
                })
            })
            .collect();
        workers.into_iter().flat_map(|worker| worker.join().unwrap_or_default()).collect::<Vec<_>>()
    });
    report.walked.blobs_too_large += too_large.into_inner();
    report.walked.blobs_binary += binary.into_inner();
    report.walked.objects_unreadable += unreadable.into_inner();
    report.walked.blobs_scanned += scanned.into_inner();
    report.n_dropped += dropped.into_inner();
    found
}
