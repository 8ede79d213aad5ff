//! The secret scanner over repositories this test writes with gitoxide: a secret added in an old
//! commit and removed later is found at that commit, path, line and rule, redacted; allowlists,
//! the entropy threshold and an admin's rule file behave as configured; paths outside the allowed
//! directories, symlinks escaping them included, are refused; blobs past the size limit, binary
//! blobs and hostile content are skipped or scanned without a panic.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use rampart_core::output::ToolOutput;
use rampart_core::targets::Scope;
use rampart_scope::{DenyList, Gate, Refusal, RefusalSink, SystemResolver};
use rampart_testkit::git::GitRepo;
use rampart_tools::secret_scan::{Limits, Rules, SecretScan, scan_repository};
use rampart_tools::{Tool, ToolContext, Update};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const AWS_KEY: &str = "AKIAQ3EGRZ4KZNXLMW7B";
const GITHUB_TOKEN: &str = "ghp_4fT9xQ2mLr8ZkW1pVn6YbC3sJd7HgE5uAo0i";

struct Ignore;

#[async_trait]
impl RefusalSink for Ignore {
    async fn refused(&self, _: &Refusal) {}
}

fn context() -> (ToolContext, tokio::sync::mpsc::UnboundedReceiver<Update>) {
    let gate = Gate::new(
        Arc::new(Scope::new(Vec::new())),
        Arc::new(DenyList::default()),
        Arc::new(SystemResolver),
        Arc::new(Ignore),
    );
    let (sender, updates) = tokio::sync::mpsc::unbounded_channel();
    (ToolContext::new(gate, CancellationToken::new(), sender), updates)
}

async fn run(tool: &SecretScan, params: Value) -> (Result<ToolOutput, String>, Vec<Update>) {
    let (context, mut updates) = context();
    let output = tool.run(params, context).await;
    let mut seen = Vec::new();
    while let Ok(update) = updates.try_recv() {
        seen.push(update);
    }
    (output, seen)
}

fn refused_fields(tool: &SecretScan, params: Value) -> Vec<(String, String)> {
    match tool.check(&params) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.iter().map(|error| (error.field.clone(), error.message.clone())).collect(),
    }
}

/// A history: a config with an AWS key and a GitHub token added in the second commit, removed in
/// the fourth; a later commit on another branch; the tip holds no secret at all.
fn history(dir: &Path) -> (GitRepo, Vec<String>) {
    let repo = GitRepo::init(dir);
    let readme: &[u8] = b"# project\n";
    let first = repo.commit("main", &[("README.md", readme)], 1_600_000_000);
    let config =
        format!("# settings\nregion = \"eu-west-1\"\naws_access_key_id = \"{AWS_KEY}\"\nGITHUB = \"{GITHUB_TOKEN}\"\n");
    let second = repo.commit("main", &[("README.md", readme), ("app/config.py", config.as_bytes())], 1_600_000_100);
    let edited = format!(
        "# settings, edited\nregion = \"eu-west-1\"\naws_access_key_id = \"{AWS_KEY}\"\nGITHUB = \"{GITHUB_TOKEN}\"\n"
    );
    let third = repo.commit("main", &[("README.md", readme), ("app/config.py", edited.as_bytes())], 1_600_000_200);
    let clean: &[u8] = b"# settings\nregion = \"eu-west-1\"\n";
    let fourth = repo.commit("main", &[("README.md", readme), ("app/config.py", clean)], 1_600_000_300);
    let branch = repo.commit_with_parents(
        "feature",
        &[
            ("README.md", readme),
            ("app/config.py", clean),
            (
                "deploy/slack.txt",
                b"hook: https://hooks.slack.com/services/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\n",
            ),
        ],
        &[&fourth],
        1_600_000_400,
    );
    (repo, vec![first, second, third, fourth, branch])
}

fn allowing(dir: &Path) -> SecretScan {
    SecretScan::new(Rules::shipped(), vec![dir.to_owned()])
}

fn path_of(dir: &Path) -> String {
    dir.to_str().expect("a UTF-8 path").to_owned()
}

#[tokio::test]
async fn a_secret_removed_long_ago_is_found_at_the_commit_that_added_it_redacted() {
    let root = tempfile::tempdir().expect("a temp dir");
    let dir = root.path().join("repo");
    std::fs::create_dir(&dir).expect("a dir");
    let (_repo, commits) = history(&dir);

    let (output, updates) = run(&allowing(root.path()), json!({"repository": path_of(&dir)})).await;
    let output = output.expect("the scan runs");
    let result = &output.result;
    assert_eq!(result["summary"]["commits"], 5);
    assert_eq!(result["summary"]["blobs_scanned"], 5, "README, three configs and the slack file: {result}");
    let secrets = result["secrets"].as_array().expect("secrets");
    let by_rule = |rule: &str| {
        secrets.iter().find(|secret| secret["rule"] == rule).unwrap_or_else(|| panic!("{rule} missing: {result}"))
    };
    let aws = by_rule("aws-access-key-id");
    assert_eq!(aws["commit"], commits[1].as_str(), "the commit that added it, not the one that edited the file");
    assert_eq!((aws["path"].as_str(), aws["line"].as_u64()), (Some("app/config.py"), Some(3)));
    assert_eq!(aws["redacted"], "AKIA…");
    let github = by_rule("github-pat");
    assert_eq!((github["commit"].as_str(), github["line"].as_u64()), (Some(commits[1].as_str()), Some(4)));
    let slack = by_rule("slack-webhook-url");
    assert_eq!(
        (slack["commit"].as_str(), slack["path"].as_str()),
        (Some(commits[4].as_str()), Some("deploy/slack.txt"))
    );
    assert_eq!(
        secrets.iter().filter(|secret| secret["rule"] == "aws-access-key-id").count(),
        1,
        "the edited file holds the same secret: one report"
    );

    let checks: Vec<&str> = output.findings.items().iter().map(|finding| finding.check_id.as_str()).collect();
    assert!(
        checks.contains(&"secret_scan.aws-access-key-id") && checks.contains(&"secret_scan.github-pat"),
        "{checks:?}"
    );
    let finding = output.findings.items().iter().find(|f| f.check_id == "secret_scan.github-pat").expect("found");
    assert_eq!(finding.asset, format!("file://{}", dir.canonicalize().expect("resolves").display()));
    assert!(finding.location.starts_with("app/config.py#sha256:"), "{}", finding.location);
    assert!(finding.detail.contains(&commits[1]) && finding.detail.contains("line 4"), "{}", finding.detail);

    // The secrets appear nowhere in clear: result, findings, logs, progress.
    let everything = format!("{result} {:?} {updates:?}", output.findings);
    for secret in [AWS_KEY, GITHUB_TOKEN, &AWS_KEY[4..], &GITHUB_TOKEN[4..], "q8Wm3Zr7Tk2Lp9Xv4Ns6Yb1C"] {
        assert!(!everything.contains(secret), "{secret} leaked");
    }
    assert!(updates.iter().any(|update| matches!(update, Update::Progress { percent: 100, .. })), "{updates:?}");

    // The same repository scanned again: the same findings, the same identities.
    let (again, _) = run(&allowing(root.path()), json!({"repository": path_of(&dir)})).await;
    assert_eq!(again.expect("runs").findings, output.findings);
}

#[tokio::test]
async fn a_history_walked_whole_covers_the_repository_and_one_cut_short_covers_nothing() {
    let root = tempfile::tempdir().expect("a temp dir");
    let dir = root.path().join("repo");
    std::fs::create_dir(&dir).expect("a dir");
    let _history = history(&dir);
    let asset = format!("file://{}", dir.canonicalize().expect("resolves").display());

    let (whole, _) = run(&allowing(root.path()), json!({"repository": path_of(&dir)})).await;

    let whole = whole.expect("the scan runs");
    let coverage = whole.coverage.items();
    assert_eq!(coverage.len(), 1, "{coverage:?}");
    assert_eq!((coverage[0].check.as_str(), coverage[0].asset.as_str()), ("secret_scan.*", asset.as_str()));
    assert!(coverage[0].locations.is_empty(), "the whole repository");
    assert!(coverage[0].covers("secret_scan.aws-access-key-id", &asset, "app/old.py#sha256:0123456789abcdef"));
    assert!(!coverage[0].covers("secret_scan.aws-access-key-id", "file:///elsewhere", "app/old.py"));
    for finding in whole.findings.items() {
        assert!(coverage[0].covers(&finding.check_id, &finding.asset, &finding.location), "{finding:?}");
    }

    for cut in [json!({"max_commits": 2}), json!({"max_findings": 1}), json!({"max_blob_bytes": 40})] {
        let mut params = cut.clone();
        params["repository"] = json!(path_of(&dir));
        let (output, _) = run(&allowing(root.path()), params).await;
        let output = output.expect("the scan runs");
        assert!(output.coverage.is_empty(), "{cut}: {:?}", output.coverage);
    }
}

#[tokio::test]
async fn a_bare_repository_and_tags_are_walked_too() {
    let root = tempfile::tempdir().expect("a temp dir");
    let repo = GitRepo::init_bare(root.path());
    let tagged = repo.commit("old", &[("key.txt", format!("token {GITHUB_TOKEN}\n").as_bytes())], 1_600_000_000);
    repo.tag("v1", &tagged);
    repo.delete_branch("old");
    // Main never had the secret: only the tag holds the commit that has it.
    let _ = repo.commit("main", &[("README", b"clean\n")], 1_600_000_100);
    let report =
        scan_repository(root.path(), &Rules::shipped(), &Limits::default(), &|_, _| {}, &CancellationToken::new())
            .expect("scans");
    assert_eq!(report.walked.commits, 2);
    assert_eq!(report.found.len(), 1);
    assert_eq!((report.found[0].commit.as_str(), report.found[0].path.as_str()), (tagged.as_str(), "key.txt"));
}

#[tokio::test]
async fn allowlisted_paths_regexes_and_stopwords_are_silent_and_placeholders_have_too_little_entropy() {
    let root = tempfile::tempdir().expect("a temp dir");
    let repo = GitRepo::init(root.path());
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("vendor/lib/package-lock.json", format!("\"{GITHUB_TOKEN}\"\n").into_bytes()),
        ("src/example.py", b"AWS_KEY = \"AKIAIOSFODNN7EXAMPLE\"\n".to_vec()),
        ("src/settings.py", b"api_key = \"your_api_key_here\"\npassword = \"aaaaaaaaaaaaaaaa\"\n".to_vec()),
        ("src/real.py", b"api_key = \"q7Zr2Lx9Vm4Tb8Np3Kw6\"\n".to_vec()),
        ("src/inline.py", format!("token = \"{GITHUB_TOKEN}\"  # gitleaks:allow\n").into_bytes()),
        ("src/url.py", b"DB = \"postgres://app:changeme@db.internal/app\"\n".to_vec()),
    ];
    let files: Vec<(&str, &[u8])> = files.iter().map(|(path, content)| (*path, content.as_slice())).collect();
    repo.commit("main", &files, 1_600_000_000);

    let report =
        scan_repository(root.path(), &Rules::shipped(), &Limits::default(), &|_, _| {}, &CancellationToken::new())
            .expect("scans");
    let rules = Rules::shipped();
    let found: Vec<(&str, &str)> =
        report.found.iter().map(|found| (rules.rules()[found.rule].id.as_str(), found.path.as_str())).collect();
    assert_eq!(found, [("generic-secret", "src/real.py")], "only the random token is a secret");
    assert_eq!(report.walked.blobs_allowlisted, 1, "the lock file is never read");
}

#[tokio::test]
async fn an_admin_rule_from_a_file_finds_its_pattern() {
    let root = tempfile::tempdir().expect("a temp dir");
    let repo = GitRepo::init(root.path());
    repo.commit("main", &[("notes.txt", b"first\ninternal ticket key: ACME-7f3k9q2m8x4z\n")], 1_600_000_000);
    let rule_file = r#"
[[rules]]
id = "acme-internal-key"
description = "ACME internal key"
regex = '''ACME-[0-9a-z]{12}'''
keywords = ["acme-"]
"#;
    let shipped_only =
        scan_repository(root.path(), &Rules::shipped(), &Limits::default(), &|_, _| {}, &CancellationToken::new())
            .expect("scans");
    assert!(shipped_only.found.is_empty(), "the shipped rules do not know it");
    let rules = Rules::extended(rule_file).expect("a valid file");
    let tool = SecretScan::new(rules, vec![root.path().to_owned()]);
    let (output, _) = run(&tool, json!({"repository": path_of(root.path())})).await;
    let result = output.expect("runs").result;
    assert_eq!(result["secrets"][0]["rule"], "acme-internal-key", "{result}");
    assert_eq!(result["secrets"][0]["line"], 2);
    assert_eq!(result["secrets"][0]["redacted"], "ACME…");
}

#[tokio::test]
async fn large_and_binary_blobs_are_skipped_and_counted_and_hostile_ones_do_not_panic() {
    let root = tempfile::tempdir().expect("a temp dir");
    let repo = GitRepo::init(root.path());
    let large = format!("{}\n{GITHUB_TOKEN}\n", "x".repeat(5000));
    let binary = [b"\x00\x01".as_slice(), GITHUB_TOKEN.as_bytes()].concat();
    let hostile: Vec<u8> = (0..=255u8).cycle().take(3000).filter(|b| *b != 0).collect();
    let keywords = "api_key= token= -----BEGIN PRIVATE KEY----- aws secret ".repeat(60);
    repo.commit(
        "main",
        &[
            ("large.txt", large.as_bytes()),
            ("binary.bin", &binary),
            ("hostile.dat", &hostile),
            ("keywords.txt", keywords.as_bytes()),
            ("weird name \u{7}\u{1b}[31m.txt", b"fine\n"),
        ],
        1_600_000_000,
    );
    let limits = Limits { max_blob_bytes: 4096, ..Limits::default() };
    let report =
        scan_repository(root.path(), &Rules::shipped(), &limits, &|_, _| {}, &CancellationToken::new()).expect("scans");
    assert_eq!((report.walked.blobs_too_large, report.walked.blobs_binary), (1, 1));
    assert!(report.found.is_empty(), "{:?}", report.found);

    let everything =
        scan_repository(root.path(), &Rules::shipped(), &Limits::default(), &|_, _| {}, &CancellationToken::new())
            .expect("scans");
    assert_eq!(everything.walked.blobs_too_large, 0);
    assert!(everything.found.iter().any(|found| found.path == "large.txt"), "{:?}", everything.found);
}

#[tokio::test]
async fn findings_past_the_cap_are_counted_and_commits_past_the_cap_are_not_walked() {
    let root = tempfile::tempdir().expect("a temp dir");
    let repo = GitRepo::init(root.path());
    let many: String =
        (0..30).map(|n| format!("token_{n} = \"ghp_{n:02}fT9xQ2mLr8ZkW1pVn6YbC3sJd7HgE5uAo0\"\n")).collect();
    repo.commit("main", &[("a.txt", b"nothing\n")], 1_600_000_000);
    repo.commit("main", &[("a.txt", many.as_bytes())], 1_600_000_100);
    let limits = Limits { max_findings: 5, ..Limits::default() };
    let report =
        scan_repository(root.path(), &Rules::shipped(), &limits, &|_, _| {}, &CancellationToken::new()).expect("scans");
    assert_eq!(report.found.len(), 5);
    assert!(report.n_found >= 30 && report.truncated(), "{}", report.n_found);
    let lines: Vec<usize> = report.found.iter().map(|found| found.line).collect();
    assert_eq!(lines, [1, 2, 3, 4, 5], "in order of line, each token once: {:?}", report.found);

    let one = Limits { max_commits: 1, ..Limits::default() };
    let report =
        scan_repository(root.path(), &Rules::shipped(), &one, &|_, _| {}, &CancellationToken::new()).expect("scans");
    assert_eq!((report.walked.commits, report.walked.commits_truncated), (1, true));
    assert!(!report.found.is_empty(), "the newest commit is the one walked");

    let cancelled = CancellationToken::new();
    cancelled.cancel();
    let error = scan_repository(root.path(), &Rules::shipped(), &Limits::default(), &|_, _| {}, &cancelled)
        .expect_err("cancelled");
    assert_eq!(error, "cancelled");
}

#[test]
fn a_path_outside_the_allowed_directories_is_refused_symlinks_and_dots_included() {
    let root = tempfile::tempdir().expect("a temp dir");
    let allowed = root.path().join("allowed");
    let outside = root.path().join("outside");
    std::fs::create_dir_all(allowed.join("repo")).expect("dirs");
    std::fs::create_dir_all(&outside).expect("dirs");
    let _ = GitRepo::init(&allowed.join("repo"));
    let _ = GitRepo::init(&outside);
    std::os::unix::fs::symlink(&outside, allowed.join("escape")).expect("a symlink");
    std::fs::create_dir_all(root.path().join("allowed-too")).expect("dirs");

    let tool = SecretScan::new(Rules::shipped(), vec![allowed.clone()]);
    assert!(refused_fields(&tool, json!({"repository": path_of(&allowed.join("repo"))})).is_empty());
    for repository in [
        path_of(&outside),
        path_of(&allowed.join("escape")),
        format!("{}/../outside", path_of(&allowed)),
        path_of(&root.path().join("allowed-too")),
    ] {
        let refused = refused_fields(&tool, json!({"repository": repository}));
        assert_eq!(refused.len(), 1, "{repository}: {refused:?}");
        assert_eq!(refused[0].0, "params.repository");
        assert!(refused[0].1.contains("not under a directory"), "{repository}: {refused:?}");
    }
    std::fs::create_dir_all(allowed.join("linked")).expect("dirs");
    std::fs::write(allowed.join("linked/.git"), format!("gitdir: {}/.git\n", outside.display())).expect("a .git file");
    for (repository, reason) in [
        (path_of(&allowed.join("linked")), ".git file"),
        ("relative/repo".to_owned(), "absolute path"),
        ("ssh://git.example/repo.git".to_owned(), "absolute path"),
        ("https://ada:secret@git.example/repo.git".to_owned(), "must not carry credentials"),
        (path_of(&allowed.join("missing")), "does not exist"),
        (String::new(), "absolute path"),
    ] {
        let refused = refused_fields(&tool, json!({"repository": repository}));
        assert_eq!(refused.len(), 1, "{repository}: {refused:?}");
        assert!(refused[0].1.contains(reason), "{repository}: {refused:?}");
    }

    // A repository whose objects can be read from outside the allowed directories.
    let borrowing = allowed.join("borrowing");
    let _ = GitRepo::init(&borrowing);
    std::fs::write(borrowing.join(".git/objects/info/alternates"), format!("{}/.git/objects\n", outside.display()))
        .expect("alternates");
    let linked_worktree = allowed.join("worktree-gitdir");
    let _ = GitRepo::init_bare(&linked_worktree);
    std::fs::write(linked_worktree.join("commondir"), format!("{}/.git\n", outside.display())).expect("commondir");
    let dot_git_link = allowed.join("dot-git-link");
    std::fs::create_dir_all(&dot_git_link).expect("dirs");
    std::os::unix::fs::symlink(outside.join(".git"), dot_git_link.join(".git")).expect("a symlink");
    let objects_link = allowed.join("objects-link");
    let _ = GitRepo::init_bare(&objects_link);
    std::fs::remove_dir_all(objects_link.join("objects")).expect("remove objects");
    std::os::unix::fs::symlink(outside.join(".git/objects"), objects_link.join("objects")).expect("a symlink");
    let pack_link = allowed.join("pack-link");
    let _ = GitRepo::init(&pack_link);
    std::fs::create_dir_all(pack_link.join(".git/objects/pack")).expect("dirs");
    std::os::unix::fs::symlink(outside.join(".git/HEAD"), pack_link.join(".git/objects/pack/pack-0.pack"))
        .expect("a symlink");
    for (repository, reason) in [
        (&borrowing, "objects of another repository (objects/info/alternates)"),
        (&linked_worktree, "objects of another repository (commondir)"),
        (&dot_git_link, "outside the allowed directories"),
        (&objects_link, "outside the allowed directories"),
        (&pack_link, "symlink among its objects (objects/pack/pack-0.pack)"),
    ] {
        let refused = refused_fields(&tool, json!({"repository": path_of(repository)}));
        assert_eq!(refused.len(), 1, "{repository:?}: {refused:?}");
        assert!(refused[0].1.contains(reason), "{repository:?}: {refused:?}");
    }

    // The default: no local path at all.
    let refused = refused_fields(&SecretScan::default(), json!({"repository": path_of(&allowed.join("repo"))}));
    assert!(refused[0].1.contains("secret_scan.allowed_paths"), "{refused:?}");

    let bad = refused_fields(
        &tool,
        json!({"repository": path_of(&allowed.join("repo")), "max_blob_bytes": 0, "max_commits": 0, "max_findings": 10_001}),
    );
    let fields: Vec<&str> = bad.iter().map(|(field, _)| field.as_str()).collect();
    assert_eq!(fields, ["params.max_blob_bytes", "params.max_commits", "params.max_findings"]);
}

#[tokio::test]
async fn a_directory_that_is_not_a_repository_fails_the_run_with_a_reason() {
    let root = tempfile::tempdir().expect("a temp dir");
    let tool = allowing(root.path());
    let (output, _) = run(&tool, json!({"repository": path_of(root.path())})).await;
    let error = output.expect_err("not a repository");
    assert!(error.contains("not a git repository"), "{error}");
}
