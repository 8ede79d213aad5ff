//! Finding secrets in one file's content: the keyword prefilter picks the rules worth running,
//! each rule's regex finds candidates, and a candidate is reported unless its entropy is too low,
//! an allowlist (the rule's or a global one) allows it, or its line says `gitleaks:allow`.
//! A secret leaves this module only as a [`Secret`]: redacted, with its SHA-256 for identity.

use std::collections::HashSet;

use sha2::{Digest, Sha256};

use crate::secret_scan::rules::{Candidate, Rules, entropy};

/// How much of a file is looked at for a NUL byte to call it binary (as git does).
const BINARY_PROBE: usize = 8000;
/// An inline marker that silences a finding on its line (gitleaks' own).
const ALLOW_MARKER: &[u8] = b"gitleaks:allow";
/// Most secrets reported for one file: a file of nothing but tokens stays bounded.
pub const HITS_PER_FILE_MAX: usize = 1000;

/// A secret as it may be kept and shown: never the secret itself.
#[derive(Clone, Debug, PartialEq)]
pub struct Secret {
    /// Its first characters (at most 4, fewer for a short secret) followed by `…`.
    pub redacted: String,
    /// SHA-256 of the secret, lowercase hex: the same secret reads the same in every run.
    pub sha256: String,
    /// Its Shannon entropy, in bits per byte, rounded to two decimals.
    pub entropy: f64,
}

impl Secret {
    pub fn of(secret: &[u8]) -> Self {
        let shown = (secret.len() / 4).min(4);
        let mut redacted: String =
            String::from_utf8_lossy(&secret[..shown]).chars().filter(|c| !c.is_control()).collect();
        redacted.push('…');
        let sha256 = Sha256::digest(secret).iter().map(|byte| format!("{byte:02x}")).collect();
        Self { redacted, sha256, entropy: (entropy(secret) * 100.0).round() / 100.0 }
    }
}

/// One secret found in a file.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    /// The rule's index in its set.
    pub rule: usize,
    /// 1-based.
    pub line: usize,
    pub secret: Secret,
}

/// Whether content looks binary: a NUL byte near its start.
pub fn is_binary(data: &[u8]) -> bool {
    data[..data.len().min(BINARY_PROBE)].contains(&0)
}

/// The secrets `rules` find in `data`, the content of the file at `path` as of `commit`: at most
/// [`HITS_PER_FILE_MAX`], rule by rule; a secret a specific rule found is not reported again on
/// its line by a generic one (a rule tagged `generic`).
pub fn scan(rules: &Rules, commit: &str, path: &str, data: &[u8]) -> Vec<Hit> {
    let mut hits = matches(rules, commit, path, data);
    let generic = |hit: &Hit| rules.rules()[hit.rule].tags.iter().any(|tag| tag == "generic");
    let specific: HashSet<(usize, String)> =
        hits.iter().filter(|hit| !generic(hit)).map(|hit| (hit.line, hit.secret.sha256.clone())).collect();
    hits.retain(|hit| !generic(hit) || !specific.contains(&(hit.line, hit.secret.sha256.clone())));
    hits
}

/// Every match of every rule, allowlists applied.
fn matches(rules: &Rules, commit: &str, path: &str, data: &[u8]) -> Vec<Hit> {
    let mut hits = Vec::new();
    let mut lines: Option<Vec<usize>> = None;
    for index in rules.candidates(data) {
        let rule = &rules.rules()[index];
        if let Some(only) = &rule.path
            && !only.is_match(path.as_bytes())
        {
            continue;
        }
        for captures in rule.regex.captures_iter(data) {
            let Some(whole) = captures.get(0) else { continue };
            let secret = if rule.secret_group > 0 {
                captures.get(rule.secret_group)
            } else {
                captures.iter().skip(1).flatten().find(|group| !group.is_empty()).or(Some(whole))
            };
            let Some(secret) = secret.filter(|secret| !secret.is_empty()) else { continue };
            let secret_bytes = secret.as_bytes();
            if let Some(least) = rule.entropy
                && entropy(secret_bytes) < least
            {
                continue;
            }
            let line_start = data[..whole.start()].iter().rposition(|b| *b == b'\n').map_or(0, |at| at + 1);
            let line_end =
                data[whole.end()..].iter().position(|b| *b == b'\n').map_or(data.len(), |at| whole.end() + at);
            let line = &data[line_start..line_end];
            if contains(line, ALLOW_MARKER) {
                continue;
            }
            let candidate = Candidate { commit, path, secret: secret_bytes, matched: whole.as_bytes(), line };
            let allowed = rule.allowlists.iter().any(|allowlist| allowlist.allows(&candidate))
                || rules.global().iter().any(|allowlist| {
                    (allowlist.target_rules.is_empty() || allowlist.target_rules.contains(&rule.id))
                        && allowlist.allows(&candidate)
                });
            if allowed {
                continue;
            }
            let newlines = lines.get_or_insert_with(|| {
                data.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(at, _)| at).collect()
            });
            let line = newlines.partition_point(|at| *at < secret.start()) + 1;
            hits.push(Hit { rule: index, line, secret: Secret::of(secret_bytes) });
            if hits.len() >= HITS_PER_FILE_MAX {
                return hits;
            }
        }
    }
    hits
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(rules: &Rules, path: &str, text: &str) -> Vec<(String, usize, String)> {
        scan(rules, "0123abcd", path, text.as_bytes())
            .into_iter()
            .map(|hit| (rules.rules()[hit.rule].id.clone(), hit.line, hit.secret.redacted))
            .collect()
    }

    #[test]
    fn shipped_rules_find_their_secrets_on_their_line_redacted() {
        let rules = Rules::shipped();
        let text = "first line\n\
            aws_key = \"AKIAQ3EGRZ4KZNXLMW7B\"\n\
            token: ghp_4fT9xQ2mLr8ZkW1pVn6YbC3sJd7HgE5uAo0i\n\
            url = \"https://hooks.slack.com/services/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\"\n\
            stripe = sk_live_9fK2mQ7xLw4ZpR8tVb3N\n\
            -----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0\n-----END RSA PRIVATE KEY-----\n";
        let hits = found(&rules, "src/config.py", text);
        let ids: Vec<&str> = hits.iter().map(|(id, _, _)| id.as_str()).collect();
        for id in ["aws-access-key-id", "github-pat", "slack-webhook-url", "stripe-secret-key", "private-key"] {
            assert!(ids.contains(&id), "{id} not in {hits:?}");
        }
        let aws = hits.iter().find(|(id, _, _)| id == "aws-access-key-id").expect("found");
        assert_eq!((aws.1, aws.2.as_str()), (2, "AKIA…"));
        let key = hits.iter().find(|(id, _, _)| id == "private-key").expect("found");
        assert_eq!(key.1, 6);
        for (_, _, redacted) in &hits {
            assert!(redacted.chars().count() <= 5 && redacted.ends_with('…'), "{redacted}");
        }
    }

    #[test]
    fn a_secret_a_specific_rule_found_is_not_reported_again_by_the_generic_rule() {
        let rules = Rules::shipped();
        let both = found(&rules, "deploy.env", "AWS_ACCESS_KEY_ID=AKIAQ3EGRZ4KZNXLMW7B\n");
        assert_eq!(both.iter().map(|(rule, _, _)| rule.as_str()).collect::<Vec<_>>(), ["aws-access-key-id"]);
        let generic = found(&rules, "deploy.env", "API_TOKEN=Zx9Qv2Lm8Rt4Wp6Yk3Hn7Bc5\n");
        assert_eq!(generic.iter().map(|(rule, _, _)| rule.as_str()).collect::<Vec<_>>(), ["generic-secret"]);
    }

    #[test]
    fn entropy_separates_a_random_token_from_a_placeholder() {
        let rules = Rules::shipped();
        let random = found(&rules, "app.env", "api_key = \"q7Zr2Lx9Vm4Tb8Np3Kw6\"\n");
        assert_eq!(random.len(), 1, "{random:?}");
        assert_eq!(random[0].0, "generic-secret");
        assert!(found(&rules, "app.env", "api_key = \"aaaaaaaaaaaabbbbbbbb\"\n").is_empty(), "too regular");
        assert!(found(&rules, "app.env", "password = \"passwordpassword\"\n").is_empty(), "a word repeated");
        assert!(found(&rules, "app.env", "api_key = \"your_api_key_here\"\n").is_empty(), "a placeholder");
        assert!(found(&rules, "app.env", "api_key = \"${API_KEY_FROM_ENV}\"\n").is_empty(), "an interpolation");
    }

    #[test]
    fn allowlists_and_the_inline_marker_silence_a_finding() {
        let rules = Rules::extended(
            r#"
[[rules]]
id = "internal"
regex = '''itk_[0-9a-z]{12}'''
keywords = ["itk_"]
[[rules.allowlists]]
paths = ['''^fixtures/''']
[[rules.allowlists]]
stopwords = ["fake"]
[[rules.allowlists]]
regexTarget = "line"
regexes = ['''#\s*test value''']
[[rules.allowlists]]
commits = ["0123"]
condition = "AND"
paths = ['''\.md$''']
[allowlist]
regexes = ['''^itk_000''']
"#,
        )
        .expect("valid");
        assert_eq!(found(&rules, "src/a.txt", "itk_abcdef123456\n").len(), 1);
        assert!(found(&rules, "fixtures/a.txt", "itk_abcdef123456\n").is_empty(), "path");
        assert!(found(&rules, "src/a.txt", "itk_fake12345678\n").is_empty(), "stopword");
        assert!(found(&rules, "src/a.txt", "x = itk_abcdef123456 # test value\n").is_empty(), "line regex");
        assert!(found(&rules, "src/a.md", "itk_abcdef123456\n").is_empty(), "commit and path");
        assert_eq!(found(&rules, "src/a.txt", "itk_abcdef123456 // other commit\n").len(), 1);
        assert!(found(&rules, "src/a.txt", "itk_000def123456\n").is_empty(), "global regex");
        assert!(found(&rules, "src/a.txt", "itk_abcdef123456 // gitleaks:allow\n").is_empty(), "marker");
        let other_commit = scan(&rules, "9999", "src/a.md", b"itk_abcdef123456\n");
        assert_eq!(other_commit.len(), 1, "AND needs the commit too");
    }

    #[test]
    fn a_secret_is_kept_redacted_with_its_hash_only() {
        let secret = Secret::of(b"ghp_4fT9xQ2mLr8ZkW1pVn6YbC3sJd7HgE5uAo0i");
        assert_eq!(secret.redacted, "ghp_…");
        assert_eq!(secret.sha256.len(), 64);
        assert_eq!(Secret::of(b"short").redacted, "s…");
        assert_eq!(Secret::of(b"abc").redacted, "…");
        assert_eq!(Secret::of(b"ghp_4fT9xQ2mLr8ZkW1pVn6YbC3sJd7HgE5uAo0i").sha256, secret.sha256);
    }

    #[test]
    fn a_file_of_nothing_but_secrets_reports_a_bounded_number() {
        let text = "ghp_4fT9xQ2mLr8ZkW1pVn6YbC3sJd7HgE5uAo0i\n".repeat(HITS_PER_FILE_MAX * 2);
        assert_eq!(scan(&Rules::shipped(), "", "tokens.txt", text.as_bytes()).len(), HITS_PER_FILE_MAX);
    }

    #[test]
    fn hostile_content_never_panics() {
        let rules = Rules::shipped();
        let mut inputs: Vec<Vec<u8>> = vec![
            Vec::new(),
            b"\n\n\n".to_vec(),
            vec![0xff; 10_000],
            "é".repeat(5000).into_bytes(),
            b"-----BEGIN PRIVATE KEY-----".repeat(2000),
            b"api_key=".repeat(5000),
            b"aws aws aws secret = ".repeat(3000),
        ];
        inputs.push((0..=255u8).cycle().take(70_000).collect());
        for input in &inputs {
            let _ = scan(&rules, "", "", input);
            let _ = is_binary(input);
        }
        assert!(is_binary(&[b'a', 0, b'b']));
        assert!(!is_binary(b"text"));
    }
}
