//! Rules in gitleaks' TOML format: `[[rules]]` with `id`, `description`, `regex`, `secretGroup`,
//! `entropy`, `keywords`, `path`, `tags` and per-rule allowlists (`[[rules.allowlists]]` or the
//! older `[rules.allowlist]`), global allowlists (`[allowlist]`, `[[allowlists]]` with
//! `targetRules`), and `[extend]` with `useDefault` and `disabledRules`. The set shipped with
//! Rampart (`default.toml`) is written in the same format; an admin's file extends it.
//!
//! Everything read here is bounded before it is compiled: the file's size, the number of rules,
//! keywords and allowlist entries, the length of each pattern, and the size of each compiled
//! regex. Unknown keys are refused by name, so a misspelt key never silently disables a check.

use std::collections::HashSet;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::bytes::{Regex, RegexBuilder};
use serde::Deserialize;

/// The rule set shipped with Rampart.
const SHIPPED: &str = include_str!("default.toml");

/// Largest rule file read, in bytes.
pub const FILE_MAX: usize = 1 << 20;
/// Most rules one set holds, shipped and added together.
pub const RULES_MAX: usize = 1000;
/// Most characters of one pattern (a rule's regex, a path or an allowlist regex).
pub const PATTERN_MAX: usize = 4096;
/// Most entries of one list (keywords, tags, an allowlist's commits, paths, regexes, stopwords).
pub const LIST_MAX: usize = 1000;
/// Most allowlists one rule, or the whole file, holds.
pub const ALLOWLISTS_MAX: usize = 100;
/// Most bytes one compiled regex may take.
const REGEX_SIZE_MAX: usize = 4 << 20;
/// Most characters of a rule id.
const ID_MAX: usize = 100;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct FileSpec {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    extend: Option<ExtendSpec>,
    #[serde(default)]
    rules: Vec<RuleSpec>,
    #[serde(default)]
    allowlist: Option<AllowlistSpec>,
    #[serde(default)]
    allowlists: Vec<AllowlistSpec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ExtendSpec {
    #[serde(default)]
    use_default: Option<bool>,
    #[serde(default)]
    disabled_rules: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RuleSpec {
    id: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    regex: Option<String>,
    #[serde(default)]
    secret_group: Option<usize>,
    #[serde(default)]
    entropy: Option<f64>,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    allowlist: Option<AllowlistSpec>,
    #[serde(default)]
    allowlists: Vec<AllowlistSpec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AllowlistSpec {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    condition: Option<String>,
    #[serde(default)]
    commits: Vec<String>,
    #[serde(default)]
    paths: Vec<String>,
    #[serde(default)]
    regexes: Vec<String>,
    #[serde(default)]
    regex_target: Option<String>,
    #[serde(default)]
    stopwords: Vec<String>,
    /// Global allowlists only: the rules it applies to (all when empty).
    #[serde(default)]
    target_rules: Vec<String>,
}

/// What an allowlist's `regexes` are matched against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegexTarget {
    /// The secret (the rule's secret group), gitleaks' default.
    Secret,
    /// The whole text the rule's regex matched.
    Match,
    /// The line (or lines) holding the match.
    Line,
}

/// How an allowlist's criteria combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Condition {
    /// Any one criterion given allows the finding (gitleaks' default).
    Or,
    /// Every criterion given must hold.
    And,
}

/// A compiled allowlist: a finding it matches is not reported.
#[derive(Clone, Debug)]
pub struct Allowlist {
    pub condition: Condition,
    /// Full or abbreviated commit ids, lowercase.
    pub commits: Vec<String>,
    pub paths: Vec<Regex>,
    pub regexes: Vec<Regex>,
    pub regex_target: RegexTarget,
    /// Lowercase; a secret containing one is allowed.
    pub stopwords: Vec<String>,
    /// The rules it applies to; empty: every rule.
    pub target_rules: Vec<String>,
}

/// What an allowlist is asked about.
pub struct Candidate<'a> {
    pub commit: &'a str,
    pub path: &'a str,
    pub secret: &'a [u8],
    pub matched: &'a [u8],
    pub line: &'a [u8],
}

impl Allowlist {
    /// Whether this allowlist allows the candidate.
    pub fn allows(&self, candidate: &Candidate<'_>) -> bool {
        let commit = || self.commits.iter().any(|commit| candidate.commit.starts_with(commit.as_str()));
        let path = || self.paths.iter().any(|regex| regex.is_match(candidate.path.as_bytes()));
        let regex = || {
            let target = match self.regex_target {
                RegexTarget::Secret => candidate.secret,
                RegexTarget::Match => candidate.matched,
                RegexTarget::Line => candidate.line,
            };
            self.regexes.iter().any(|regex| regex.is_match(target))
        };
        let stopword = || {
            let secret = candidate.secret.to_ascii_lowercase();
            self.stopwords.iter().any(|word| contains(&secret, word.as_bytes()))
        };
        let criteria: [(bool, &dyn Fn() -> bool); 4] = [
            (!self.commits.is_empty(), &commit),
            (!self.paths.is_empty(), &path),
            (!self.regexes.is_empty(), &regex),
            (!self.stopwords.is_empty(), &stopword),
        ];
        let mut given = criteria.iter().filter(|(present, _)| *present).map(|(_, test)| test);
        match self.condition {
            Condition::Or => given.any(|test| test()),
            Condition::And => {
                let mut any = false;
                for test in given {
                    if !test() {
                        return false;
                    }
                    any = true;
                }
                any
            }
        }
    }

    /// Whether the allowlist names only paths (a file it matches need not be read at all).
    pub fn is_paths_only(&self) -> bool {
        !self.paths.is_empty() && self.commits.is_empty() && self.regexes.is_empty() && self.stopwords.is_empty()
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|window| window == needle)
}

/// A compiled rule.
#[derive(Clone, Debug)]
pub struct Rule {
    pub id: String,
    pub description: String,
    pub regex: Regex,
    /// The capture group holding the secret; 0: the first group that matched, else the match.
    pub secret_group: usize,
    /// The least Shannon entropy (bits per byte) a secret must have to be reported.
    pub entropy: Option<f64>,
    /// Lowercase; the rule runs only on text holding one of them (always when empty).
    pub keywords: Vec<String>,
    /// The rule runs only on files whose path this matches.
    pub path: Option<Regex>,
    pub tags: Vec<String>,
    pub allowlists: Vec<Allowlist>,
}

/// A rule set, compiled, with the keyword prefilter over all its rules.
#[derive(Clone, Debug)]
pub struct Rules {
    rules: Vec<Rule>,
    global: Vec<Allowlist>,
    /// Every keyword of every rule, ASCII case-insensitive.
    prefilter: AhoCorasick,
    /// For each prefilter pattern, the rules it unlocks.
    unlocks: Vec<Vec<usize>>,
    /// Rules without keywords: they always run.
    always: Vec<usize>,
}

/// A rule file read but not yet merged: its rules, allowlists and `[extend]`.
#[derive(Debug, Default)]
pub struct RuleFile {
    rules: Vec<Rule>,
    global: Vec<Allowlist>,
    use_default: bool,
    disabled: Vec<String>,
}

impl RuleFile {
    /// Reads a rule file in gitleaks' format; every error names where it is.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.len() > FILE_MAX {
            return Err(format!("is larger than {FILE_MAX} bytes"));
        }
        let spec: FileSpec = toml::from_str(text).map_err(|error| describe_toml(text, &error))?;
        let _ = spec.title;
        if spec.rules.len() > RULES_MAX {
            return Err(format!("has {} rules; at most {RULES_MAX} are read", spec.rules.len()));
        }
        let mut rules = Vec::with_capacity(spec.rules.len());
        let mut ids = HashSet::new();
        for (index, rule) in spec.rules.into_iter().enumerate() {
            let id = rule.id.clone();
            let compiled = compile_rule(rule).map_err(|error| format!("rules[{index}] ({id:?}): {error}"))?;
            if !ids.insert(compiled.id.clone()) {
                return Err(format!("rules[{index}]: the id {id:?} is used twice"));
            }
            rules.push(compiled);
        }
        let mut global = Vec::new();
        let n_global = spec.allowlists.len() + usize::from(spec.allowlist.is_some());
        if n_global > ALLOWLISTS_MAX {
            return Err(format!("has {n_global} global allowlists; at most {ALLOWLISTS_MAX} are read"));
        }
        if let Some(allowlist) = spec.allowlist {
            global.push(compile_allowlist(allowlist, true).map_err(|error| format!("allowlist: {error}"))?);
        }
        for (index, allowlist) in spec.allowlists.into_iter().enumerate() {
            global.push(compile_allowlist(allowlist, true).map_err(|error| format!("allowlists[{index}]: {error}"))?);
        }
        let extend = spec.extend.unwrap_or_default();
        check_list("extend.disabledRules", &extend.disabled_rules)?;
        Ok(Self { rules, global, use_default: extend.use_default.unwrap_or(true), disabled: extend.disabled_rules })
    }
}

impl Rules {
    /// The rule set shipped with Rampart, compiled once (a copy shares the compiled regexes).
    pub fn shipped() -> Self {
        static COMPILED: OnceLock<Rules> = OnceLock::new();
        COMPILED
            .get_or_init(|| {
                let file = RuleFile::parse(SHIPPED).expect("the shipped rules are valid");
                Self::build(file.rules, file.global).expect("the shipped rules are within bounds")
            })
            .clone()
    }

    /// The shipped rules extended by an admin's file: its rules are added (one with the id of a
    /// shipped rule replaces it), its global allowlists apply to every rule, `disabledRules`
    /// drops shipped rules, and `useDefault = false` drops them all.
    pub fn extended(text: &str) -> Result<Self, String> {
        let added = RuleFile::parse(text)?;
        let shipped = if added.use_default {
            RuleFile::parse(SHIPPED).expect("the shipped rules are valid")
        } else {
            RuleFile::default()
        };
        let replaced: HashSet<&str> =
            added.rules.iter().map(|rule| rule.id.as_str()).chain(added.disabled.iter().map(String::as_str)).collect();
        let mut rules: Vec<Rule> =
            shipped.rules.into_iter().filter(|rule| !replaced.contains(rule.id.as_str())).collect();
        rules.extend(added.rules);
        let mut global = shipped.global;
        global.extend(added.global);
        if rules.is_empty() {
            return Err("leaves no rule to scan with".into());
        }
        Self::build(rules, global)
    }

    fn build(rules: Vec<Rule>, global: Vec<Allowlist>) -> Result<Self, String> {
        if rules.len() > RULES_MAX {
            return Err(format!("has {} rules with the shipped ones; at most {RULES_MAX}", rules.len()));
        }
        let mut patterns: Vec<String> = Vec::new();
        let mut unlocks: Vec<Vec<usize>> = Vec::new();
        let mut always = Vec::new();
        for (index, rule) in rules.iter().enumerate() {
            if rule.keywords.is_empty() {
                always.push(index);
            }
            for keyword in &rule.keywords {
                match patterns.iter().position(|pattern| pattern == keyword) {
                    Some(at) => unlocks[at].push(index),
                    None => {
                        patterns.push(keyword.clone());
                        unlocks.push(vec![index]);
                    }
                }
            }
        }
        let prefilter = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&patterns)
            .map_err(|error| format!("the keywords cannot be searched for: {error}"))?;
        Ok(Self { rules, global, prefilter, unlocks, always })
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn global(&self) -> &[Allowlist] {
        &self.global
    }

    /// The rules to run on `text`: those without keywords, and those with a keyword in it.
    pub fn candidates(&self, text: &[u8]) -> Vec<usize> {
        let mut chosen = vec![false; self.rules.len()];
        for index in &self.always {
            chosen[*index] = true;
        }
        if !self.unlocks.is_empty() {
            let mut seen = vec![false; self.unlocks.len()];
            for found in self.prefilter.find_overlapping_iter(text) {
                let pattern = found.pattern().as_usize();
                if !seen[pattern] {
                    seen[pattern] = true;
                    for rule in &self.unlocks[pattern] {
                        chosen[*rule] = true;
                    }
                }
            }
        }
        chosen.iter().enumerate().filter(|(_, on)| **on).map(|(index, _)| index).collect()
    }

    /// Whether a global allowlist naming only paths skips the file at `path` altogether.
    pub fn skips_path(&self, path: &str) -> bool {
        self.global.iter().any(|allowlist| {
            allowlist.target_rules.is_empty()
                && allowlist.is_paths_only()
                && allowlist.paths.iter().any(|regex| regex.is_match(path.as_bytes()))
        })
    }
}

fn compile_rule(spec: RuleSpec) -> Result<Rule, String> {
    if spec.id.is_empty() || spec.id.chars().count() > ID_MAX || spec.id.chars().any(char::is_control) {
        return Err(format!("id must be 1 to {ID_MAX} printable characters"));
    }
    let Some(pattern) = spec.regex else {
        return Err("a rule needs a regex (rules matching a path alone are not supported)".into());
    };
    let regex = compile_regex("regex", &pattern)?;
    let secret_group = spec.secret_group.unwrap_or(0);
    if secret_group >= regex.captures_len() {
        return Err(format!("secretGroup {secret_group} is not a group of the regex"));
    }
    if let Some(entropy) = spec.entropy
        && !(0.0..=8.0).contains(&entropy)
    {
        return Err("entropy must be between 0 and 8 (bits per byte)".into());
    }
    check_list("keywords", &spec.keywords)?;
    check_list("tags", &spec.tags)?;
    if spec.keywords.iter().any(String::is_empty) {
        return Err("keywords: a keyword cannot be empty".into());
    }
    let path = spec.path.as_deref().map(|pattern| compile_regex("path", pattern)).transpose()?;
    let n_allowlists = spec.allowlists.len() + usize::from(spec.allowlist.is_some());
    if n_allowlists > ALLOWLISTS_MAX {
        return Err(format!("has {n_allowlists} allowlists; at most {ALLOWLISTS_MAX}"));
    }
    let mut allowlists = Vec::new();
    if let Some(allowlist) = spec.allowlist {
        allowlists.push(compile_allowlist(allowlist, false).map_err(|error| format!("allowlist: {error}"))?);
    }
    for (index, allowlist) in spec.allowlists.into_iter().enumerate() {
        allowlists.push(compile_allowlist(allowlist, false).map_err(|error| format!("allowlists[{index}]: {error}"))?);
    }
    Ok(Rule {
        id: spec.id,
        description: spec.description.unwrap_or_default(),
        regex,
        secret_group,
        entropy: spec.entropy,
        keywords: spec.keywords.iter().map(|keyword| keyword.to_ascii_lowercase()).collect(),
        path,
        tags: spec.tags,
        allowlists,
    })
}

fn compile_allowlist(spec: AllowlistSpec, global: bool) -> Result<Allowlist, String> {
    let _ = spec.description;
    for (name, list) in [
        ("commits", &spec.commits),
        ("paths", &spec.paths),
        ("regexes", &spec.regexes),
        ("stopwords", &spec.stopwords),
        ("targetRules", &spec.target_rules),
    ] {
        check_list(name, list)?;
    }
    if !global && !spec.target_rules.is_empty() {
        return Err("targetRules belongs to global allowlists only".into());
    }
    let condition = match spec.condition.as_deref().map(str::to_ascii_uppercase).as_deref() {
        None | Some("OR") => Condition::Or,
        Some("AND") => Condition::And,
        Some(_) => return Err("condition must be \"OR\" or \"AND\"".into()),
    };
    let regex_target = match spec.regex_target.as_deref() {
        None | Some("secret") | Some("") => RegexTarget::Secret,
        Some("match") => RegexTarget::Match,
        Some("line") => RegexTarget::Line,
        Some(_) => return Err("regexTarget must be \"secret\", \"match\" or \"line\"".into()),
    };
    if spec.commits.is_empty() && spec.paths.is_empty() && spec.regexes.is_empty() && spec.stopwords.is_empty() {
        return Err("an allowlist needs commits, paths, regexes or stopwords".into());
    }
    if spec.commits.iter().any(|commit| commit.is_empty() || !commit.bytes().all(|b| b.is_ascii_hexdigit())) {
        return Err("commits must be commit ids in hexadecimal".into());
    }
    if spec.stopwords.iter().any(String::is_empty) {
        return Err("stopwords: a stopword cannot be empty".into());
    }
    let paths = spec.paths.iter().map(|pattern| compile_regex("paths", pattern)).collect::<Result<_, _>>()?;
    let regexes = spec.regexes.iter().map(|pattern| compile_regex("regexes", pattern)).collect::<Result<_, _>>()?;
    Ok(Allowlist {
        condition,
        commits: spec.commits.iter().map(|commit| commit.to_ascii_lowercase()).collect(),
        paths,
        regexes,
        regex_target,
        stopwords: spec.stopwords.iter().map(|word| word.to_ascii_lowercase()).collect(),
        target_rules: spec.target_rules,
    })
}

fn check_list(name: &str, list: &[String]) -> Result<(), String> {
    if list.len() > LIST_MAX {
        return Err(format!("{name} has {} entries; at most {LIST_MAX}", list.len()));
    }
    if list.iter().any(|entry| entry.chars().count() > PATTERN_MAX) {
        return Err(format!("{name}: an entry is longer than {PATTERN_MAX} characters"));
    }
    Ok(())
}

fn compile_regex(name: &str, pattern: &str) -> Result<Regex, String> {
    if pattern.chars().count() > PATTERN_MAX {
        return Err(format!("{name} is longer than {PATTERN_MAX} characters"));
    }
    RegexBuilder::new(pattern).size_limit(REGEX_SIZE_MAX).dfa_size_limit(REGEX_SIZE_MAX).nest_limit(64).build().map_err(
        |error| match error {
            regex::Error::CompiledTooBig(_) => format!("{name} compiles larger than {REGEX_SIZE_MAX} bytes"),
            // The syntax error names the position and the problem, and quotes only the pattern.
            error => format!("{name} is not a valid regex: {}", first_lines(&error.to_string(), 6)),
        },
    )
}

fn first_lines(text: &str, n: usize) -> String {
    text.lines().take(n).collect::<Vec<_>>().join(" ")
}

/// A TOML error said in one line: where, and what (unknown keys are named by the parser).
fn describe_toml(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim().replace('\n', " ");
    match error.span() {
        Some(span) => {
            let line = text.get(..span.start.min(text.len())).map_or(0, |before| before.matches('\n').count()) + 1;
            format!("line {line}: {message}")
        }
        None => message,
    }
}

/// Shannon entropy of `data`, in bits per byte (0 to 8).
pub fn entropy(data: &[u8]) -> f64 {
    if data.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for byte in data {
        counts[usize::from(*byte)] += 1;
    }
    let total = data.len() as f64;
    counts
        .iter()
        .filter(|count| **count > 0)
        .map(|count| {
            let p = f64::from(*count) / total;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_rules_compile_with_their_keywords() {
        let rules = Rules::shipped();
        assert!(rules.rules().len() >= 15, "{}", rules.rules().len());
        let ids: Vec<&str> = rules.rules().iter().map(|rule| rule.id.as_str()).collect();
        for id in ["aws-access-key-id", "github-pat", "slack-webhook-url", "private-key", "generic-secret"] {
            assert!(ids.contains(&id), "{id} missing from {ids:?}");
        }
        assert!(rules.rules().iter().all(|rule| !rule.keywords.is_empty()), "every shipped rule has keywords");
    }

    #[test]
    fn a_full_gitleaks_rule_is_read() {
        let text = r#"
title = "mine"
[extend]
useDefault = false
[[rules]]
id = "internal-token"
description = "Internal token"
regex = '''itk_([a-z0-9]{16})'''
secretGroup = 1
entropy = 2.0
keywords = ["ITK_"]
path = '''\.env$'''
tags = ["internal"]
[[rules.allowlists]]
condition = "AND"
regexTarget = "line"
regexes = ['''fixture''']
paths = ['''^test/''']
[rules.allowlist]
stopwords = ["aaaa"]
commits = ["ABCDEF"]
[allowlist]
paths = ['''^vendor/''']
[[allowlists]]
targetRules = ["internal-token"]
regexes = ['''^itk_0''']
"#;
        let rules = Rules::extended(text).expect("valid");
        assert_eq!(rules.rules().len(), 1, "useDefault = false drops the shipped rules");
        let rule = &rules.rules()[0];
        assert_eq!(
            (rule.secret_group, rule.entropy, rule.keywords.as_slice()),
            (1, Some(2.0), &["itk_".to_owned()][..])
        );
        assert_eq!(rule.allowlists.len(), 2);
        assert_eq!(rule.allowlists[0].condition, Condition::Or, "the older [rules.allowlist] comes first");
        assert_eq!(rule.allowlists[0].commits, ["abcdef"]);
        assert_eq!(
            (rule.allowlists[1].condition, rule.allowlists[1].regex_target),
            (Condition::And, RegexTarget::Line)
        );
        assert_eq!(rules.global().len(), 2);
        assert!(rules.skips_path("vendor/lib.js") && !rules.skips_path("src/lib.js"));
        assert_eq!(rules.candidates(b"no keyword here"), Vec::<usize>::new());
        assert_eq!(rules.candidates(b"x = ItK_abc"), vec![0]);
    }

    #[test]
    fn an_added_rule_extends_replaces_or_disables_the_shipped_ones() {
        let shipped = Rules::shipped().rules().len();
        let added = Rules::extended("[[rules]]\nid = \"mine\"\nregex = 'mine_[0-9]{8}'\n").expect("valid");
        assert_eq!(added.rules().len(), shipped + 1);
        let replaced = Rules::extended("[[rules]]\nid = \"github-pat\"\nregex = 'x'\n").expect("valid");
        assert_eq!(replaced.rules().len(), shipped);
        let disabled = Rules::extended("[extend]\ndisabledRules = [\"github-pat\", \"jwt\"]\n").expect("valid");
        assert_eq!(disabled.rules().len(), shipped - 2);
        let none = Rules::extended("[extend]\nuseDefault = false\n").expect_err("no rule left");
        assert!(none.contains("no rule"), "{none}");
    }

    #[test]
    fn unknown_keys_are_refused_by_name_with_their_line() {
        let error = Rules::extended("[[rules]]\nid = \"a\"\nregex = 'a'\nseverity = \"high\"\n").expect_err("unknown");
        assert!(error.contains("severity") && error.contains("line 4"), "{error}");
        let error = Rules::extended("[[rules]]\nid = \"a\"\nregex = 'a'\n[[rules.allowlists]]\nregexs = ['a']\n")
            .expect_err("misspelt");
        assert!(error.contains("regexs"), "{error}");
        let error = Rules::extended("[allowlist]\npath = ['a']\n").expect_err("misspelt");
        assert!(error.contains("`path`"), "{error}");
    }

    #[test]
    fn bad_rules_are_refused_with_the_reason() {
        for (text, expected) in [
            ("[[rules]]\nid = \"a\"\n", "needs a regex"),
            ("[[rules]]\nid = \"a\"\nregex = '('\n", "not a valid regex"),
            ("[[rules]]\nid = \"a\"\nregex = 'a'\nsecretGroup = 2\n", "secretGroup 2"),
            ("[[rules]]\nid = \"a\"\nregex = 'a'\nentropy = 9.5\n", "entropy"),
            ("[[rules]]\nid = \"\"\nregex = 'a'\n", "id must be"),
            ("[[rules]]\nid = \"a\"\nregex = 'a'\n[[rules]]\nid = \"a\"\nregex = 'b'\n", "used twice"),
            ("[[rules]]\nid = \"a\"\nregex = 'a'\n[[rules.allowlists]]\ndescription = \"empty\"\n", "needs commits"),
            (
                "[[rules]]\nid = \"a\"\nregex = 'a'\n[[rules.allowlists]]\ncondition = \"XOR\"\nstopwords=['a']\n",
                "condition",
            ),
            (
                "[[rules]]\nid = \"a\"\nregex = 'a'\n[[rules.allowlists]]\nregexTarget = \"file\"\nregexes=['a']\n",
                "regexTarget",
            ),
            ("[[rules]]\nid = \"a\"\nregex = 'a'\n[[rules.allowlists]]\ncommits = [\"not hex\"]\n", "hexadecimal"),
            ("[[rules]]\nid = \"a\"\nregex = 'a'\nkeywords = [\"\"]\n", "keyword cannot be empty"),
            ("[[rules]]\nid = \"a\"\nregex = 'a{1000}{1000}'\n", "larger than"),
            ("not toml at all [", "line 1"),
        ] {
            let error = Rules::extended(text).expect_err(text);
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn hostile_rule_files_are_bounded_and_never_panic() {
        let huge = "#".repeat(FILE_MAX + 1);
        assert!(Rules::extended(&huge).expect_err("too large").contains("larger than"));
        let many: String = (0..RULES_MAX + 1).map(|n| format!("[[rules]]\nid = \"r{n}\"\nregex = 'a'\n")).collect();
        assert!(Rules::extended(&many).expect_err("too many").contains("at most"));
        let long = format!("[[rules]]\nid = \"a\"\nregex = '{}'\n", "a".repeat(PATTERN_MAX + 1));
        assert!(Rules::extended(&long).expect_err("too long").contains("longer than"));
        let deep = format!("[[rules]]\nid = \"a\"\nregex = '{}a{}'\n", "(".repeat(500), ")".repeat(500));
        assert!(Rules::extended(&deep).is_err());
        for text in
            ["[[rules]]\nid = 5\n", "rules = 3", "[[rules]]\nid=\"a\"\nregex='a'\nsecretGroup=-1\n", "\u{0}\u{ffff}"]
        {
            assert!(Rules::extended(text).is_err(), "{text}");
        }
    }

    #[test]
    fn entropy_is_in_bits_per_byte() {
        assert_eq!(entropy(b""), 0.0);
        assert_eq!(entropy(b"aaaa"), 0.0);
        assert!((entropy(b"abab") - 1.0).abs() < 1e-9);
        assert!((entropy(b"0123456789abcdef") - 4.0).abs() < 1e-9);
    }
}
