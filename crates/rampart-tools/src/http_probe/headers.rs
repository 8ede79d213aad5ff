//! What a response's headers say: its security headers and how strong each is, the cookies it
//! sets and their flags. Pure: the headers are read as text, bounded in count and length, so a
//! hostile server cannot make this panic or grow what is kept.

use rampart_core::findings::Severity;
use reqwest::header::{HeaderMap, SET_COOKIE};
use schemars::JsonSchema;
use serde::Serialize;

/// Most characters of a header value kept.
pub const VALUE_MAX: usize = 512;
/// Most cookies read from one response.
pub const COOKIES_MAX: usize = 64;
/// Most characters of a cookie's name kept.
const COOKIE_NAME_MAX: usize = 128;
/// HSTS shorter than this (180 days) is weak.
pub const HSTS_MIN_SECONDS: u64 = 15_552_000;

/// The security headers a response carried, each as sent (cut).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct SecurityHeaders {
    pub strict_transport_security: Option<String>,
    pub content_security_policy: Option<String>,
    pub x_frame_options: Option<String>,
    pub x_content_type_options: Option<String>,
    pub referrer_policy: Option<String>,
    pub permissions_policy: Option<String>,
}

/// A cookie a response set, and its flags.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Cookie {
    pub name: String,
    pub secure: bool,
    pub http_only: bool,
    /// `Strict`, `Lax` or `None` as sent; absent when the cookie has no SameSite attribute.
    pub same_site: Option<String>,
}

/// One thing wrong, before it is placed on an asset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    /// The check, without the tool's prefix: `missing_hsts`.
    pub check: &'static str,
    pub severity: Severity,
    pub title: String,
    pub detail: String,
}

impl Issue {
    fn new(check: &'static str, severity: Severity, title: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { check, severity, title: title.into(), detail: detail.into() }
    }
}

/// A header's value as text, cut; `None` when absent. A value that is not text is read lossily.
pub fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    let value = headers.get(name)?;
    Some(String::from_utf8_lossy(value.as_bytes()).trim().chars().filter(|c| !c.is_control()).take(VALUE_MAX).collect())
}

impl SecurityHeaders {
    pub fn of(headers: &HeaderMap) -> Self {
        Self {
            strict_transport_security: header(headers, "strict-transport-security"),
            content_security_policy: header(headers, "content-security-policy"),
            x_frame_options: header(headers, "x-frame-options"),
            x_content_type_options: header(headers, "x-content-type-options"),
            referrer_policy: header(headers, "referrer-policy"),
            permissions_policy: header(headers, "permissions-policy"),
        }
    }

    /// Every check [`Self::issues`] asks of a response, found or not: what a response read
    /// covers.
    pub fn checks(https: bool) -> &'static [&'static str] {
        const CHECKS: &[&str] = &[
            "missing_hsts",
            "weak_hsts",
            "missing_csp",
            "weak_csp",
            "missing_x_frame_options",
            "weak_x_frame_options",
            "missing_x_content_type_options",
            "weak_x_content_type_options",
            "missing_referrer_policy",
            "weak_referrer_policy",
            "missing_permissions_policy",
        ];
        // HSTS, the first two, is asked over HTTPS only.
        if https { CHECKS } else { &CHECKS[2..] }
    }

    /// What is missing or weak. HSTS is asked of HTTPS only (browsers ignore it over HTTP).
    pub fn issues(&self, https: bool) -> Vec<Issue> {
        let mut issues = Vec::new();
        if https {
            match &self.strict_transport_security {
                None => issues.push(Issue::new(
                    "missing_hsts",
                    Severity::Low,
                    "Strict-Transport-Security header missing",
                    "The HTTPS response has no Strict-Transport-Security header, so a browser may be downgraded to HTTP.",
                )),
                Some(value) => match hsts_max_age(value) {
                    Some(age) if age >= HSTS_MIN_SECONDS => {}
                    age => issues.push(Issue::new(
                        "weak_hsts",
                        Severity::Low,
                        "Strict-Transport-Security max-age too short",
                        format!(
                            "Strict-Transport-Security: {value}\nmax-age is {}; at least {HSTS_MIN_SECONDS} seconds (180 days) is expected.",
                            age.map_or_else(|| "missing or unreadable".to_owned(), |age| age.to_string())
                        ),
                    )),
                },
            }
        }
        let csp = self.content_security_policy.as_deref();
        match csp {
            None => issues.push(Issue::new(
                "missing_csp",
                Severity::Low,
                "Content-Security-Policy header missing",
                "The response has no Content-Security-Policy header restricting where scripts may come from.",
            )),
            Some(value) => {
                if let Some(why) = csp_weakness(value) {
                    issues.push(Issue::new(
                        "weak_csp",
                        Severity::Low,
                        "Content-Security-Policy is weak",
                        format!("Content-Security-Policy: {value}\n{why}"),
                    ));
                }
            }
        }
        let framing_in_csp = csp.is_some_and(|value| directive(value, "frame-ancestors").is_some());
        match self.x_frame_options.as_deref().map(str::to_ascii_lowercase) {
            None if !framing_in_csp => issues.push(Issue::new(
                "missing_x_frame_options",
                Severity::Low,
                "X-Frame-Options header missing",
                "Neither X-Frame-Options nor a Content-Security-Policy frame-ancestors directive stops other sites from framing the page (clickjacking).",
            )),
            Some(value) if value != "deny" && value != "sameorigin" && !framing_in_csp => issues.push(Issue::new(
                "weak_x_frame_options",
                Severity::Low,
                "X-Frame-Options is not DENY or SAMEORIGIN",
                format!("X-Frame-Options: {value}\nBrowsers honour only DENY and SAMEORIGIN."),
            )),
            _ => {}
        }
        match self.x_content_type_options.as_deref() {
            None => issues.push(Issue::new(
                "missing_x_content_type_options",
                Severity::Low,
                "X-Content-Type-Options header missing",
                "Without X-Content-Type-Options: nosniff a browser may guess a response's type and run it as script.",
            )),
            Some(value) if !value.eq_ignore_ascii_case("nosniff") => issues.push(Issue::new(
                "weak_x_content_type_options",
                Severity::Low,
                "X-Content-Type-Options is not nosniff",
                format!("X-Content-Type-Options: {value}"),
            )),
            Some(_) => {}
        }
        match self.referrer_policy.as_deref().map(str::to_ascii_lowercase) {
            None => issues.push(Issue::new(
                "missing_referrer_policy",
                Severity::Info,
                "Referrer-Policy header missing",
                "The response has no Referrer-Policy header; the browser's default decides what other sites learn of its URLs.",
            )),
            Some(value) if value.split(',').any(|policy| matches!(policy.trim(), "unsafe-url" | "no-referrer-when-downgrade")) => {
                issues.push(Issue::new(
                    "weak_referrer_policy",
                    Severity::Low,
                    "Referrer-Policy leaks full URLs",
                    format!("Referrer-Policy: {value}\nFull URLs, their paths and queries included, are sent to other sites."),
                ))
            }
            Some(_) => {}
        }
        if self.permissions_policy.is_none() {
            issues.push(Issue::new(
                "missing_permissions_policy",
                Severity::Info,
                "Permissions-Policy header missing",
                "The response has no Permissions-Policy header limiting which browser features (camera, geolocation, …) the page may use.",
            ));
        }
        issues
    }
}

/// `max-age` of an HSTS value.
fn hsts_max_age(value: &str) -> Option<u64> {
    value.split(';').find_map(|part| {
        let (name, age) = part.split_once('=')?;
        name.trim().eq_ignore_ascii_case("max-age").then(|| age.trim().trim_matches('"').parse().ok())?
    })
}

/// The sources of a CSP directive, lowercase.
fn directive(policy: &str, name: &str) -> Option<String> {
    policy.split(';').find_map(|part| {
        let part = part.trim().to_ascii_lowercase();
        let (directive, sources) = part.split_once(char::is_whitespace).unwrap_or((&part, ""));
        (directive == name).then(|| sources.trim().to_owned())
    })
}

/// Why a CSP does not restrict scripts, if it does not.
fn csp_weakness(policy: &str) -> Option<String> {
    let Some((name, sources)) = directive(policy, "script-src")
        .map(|s| ("script-src", s))
        .or_else(|| directive(policy, "default-src").map(|s| ("default-src", s)))
    else {
        return Some("It has neither script-src nor default-src, so scripts may come from anywhere.".into());
    };
    let loose: Vec<&str> = sources
        .split_whitespace()
        .filter(|source| matches!(*source, "'unsafe-inline'" | "'unsafe-eval'" | "*" | "http:" | "https:" | "data:"))
        .collect();
    (!loose.is_empty()).then(|| format!("{name} allows {}.", loose.join(" ")))
}

/// The cookies `headers` set, at most [`COOKIES_MAX`].
pub fn cookies(headers: &HeaderMap) -> Vec<Cookie> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .take(COOKIES_MAX)
        .filter_map(|value| parse_cookie(&String::from_utf8_lossy(value.as_bytes())))
        .collect()
}

/// One `Set-Cookie` value; `None` without a name.
pub fn parse_cookie(value: &str) -> Option<Cookie> {
    let mut parts = value.split(';');
    let name: String =
        parts.next()?.split('=').next()?.trim().chars().filter(|c| !c.is_control()).take(COOKIE_NAME_MAX).collect();
    if name.is_empty() {
        return None;
    }
    let mut cookie = Cookie { name, secure: false, http_only: false, same_site: None };
    for attribute in parts.take(32) {
        let (key, value) = attribute.split_once('=').unwrap_or((attribute, ""));
        match key.trim().to_ascii_lowercase().as_str() {
            "secure" => cookie.secure = true,
            "httponly" => cookie.http_only = true,
            "samesite" => cookie.same_site = Some(value.trim().chars().take(16).collect()),
            _ => {}
        }
    }
    Some(cookie)
}

impl Cookie {
    /// Every check [`Self::issues`] asks of a cookie, found or not.
    pub fn checks(https: bool) -> &'static [&'static str] {
        const CHECKS: &[&str] = &["cookie_no_secure", "cookie_no_httponly", "cookie_no_samesite"];
        // Secure, the first, is asked over HTTPS only.
        if https { CHECKS } else { &CHECKS[1..] }
    }

    /// The flags this cookie lacks. `Secure` is asked of cookies set over HTTPS only: over HTTP
    /// the missing redirect to HTTPS is the finding.
    pub fn issues(&self, https: bool) -> Vec<Issue> {
        let mut issues = Vec::new();
        let name = &self.name;
        if https && !self.secure {
            issues.push(Issue::new(
                "cookie_no_secure",
                Severity::Low,
                format!("Cookie {name} without the Secure flag"),
                format!("Cookie {name} is set over HTTPS without Secure, so a browser also sends it over plain HTTP."),
            ));
        }
        if !self.http_only {
            issues.push(Issue::new(
                "cookie_no_httponly",
                Severity::Low,
                format!("Cookie {name} without the HttpOnly flag"),
                format!(
                    "Cookie {name} has no HttpOnly flag, so scripts on the page (an injected one too) can read it."
                ),
            ));
        }
        let same_site = self.same_site.as_deref().map(str::to_ascii_lowercase);
        // SameSite=None is a choice only with Secure; browsers refuse it without.
        let restricted = match same_site.as_deref() {
            Some("strict" | "lax") => true,
            Some("none") => self.secure,
            _ => false,
        };
        if !restricted {
            issues.push(Issue::new(
                "cookie_no_samesite",
                Severity::Low,
                format!("Cookie {name} without a SameSite policy"),
                format!(
                    "Cookie {name} has SameSite {}; Strict or Lax keeps it off requests other sites start.",
                    self.same_site.as_deref().unwrap_or("unset")
                ),
            ));
        }
        issues
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn checks(issues: &[Issue]) -> Vec<&'static str> {
        issues.iter().map(|issue| issue.check).collect()
    }

    #[test]
    fn every_missing_header_is_named_and_hsts_only_over_https() {
        let none = SecurityHeaders::default();
        let all = [
            "missing_hsts",
            "missing_csp",
            "missing_x_frame_options",
            "missing_x_content_type_options",
            "missing_referrer_policy",
            "missing_permissions_policy",
        ];
        assert_eq!(checks(&none.issues(true)), all);
        assert_eq!(checks(&none.issues(false)), all[1..]);
    }

    #[test]
    fn strong_headers_raise_nothing_and_weak_ones_are_named() {
        let strong = SecurityHeaders {
            strict_transport_security: Some("max-age=31536000; includeSubDomains".into()),
            content_security_policy: Some("default-src 'self'; frame-ancestors 'none'".into()),
            x_frame_options: None,
            x_content_type_options: Some("NoSniff".into()),
            referrer_policy: Some("strict-origin-when-cross-origin".into()),
            permissions_policy: Some("camera=()".into()),
        };
        assert_eq!(checks(&strong.issues(true)), Vec::<&str>::new());
        let weak = SecurityHeaders {
            strict_transport_security: Some("max-age=600".into()),
            content_security_policy: Some("script-src 'self' 'unsafe-inline'".into()),
            x_frame_options: Some("ALLOW-FROM https://a.example".into()),
            x_content_type_options: Some("sniff".into()),
            referrer_policy: Some("no-referrer, unsafe-url".into()),
            permissions_policy: Some(String::new()),
        };
        assert_eq!(
            checks(&weak.issues(true)),
            ["weak_hsts", "weak_csp", "weak_x_frame_options", "weak_x_content_type_options", "weak_referrer_policy"]
        );
        assert_eq!(hsts_max_age("max-age=\"100\""), Some(100));
        assert_eq!(hsts_max_age("includeSubDomains"), None);
        assert!(csp_weakness("img-src *").is_some(), "a policy that says nothing of scripts is weak");
    }

    #[test]
    fn every_issue_raised_is_among_the_checks_said_to_be_asked() {
        let weak = SecurityHeaders {
            strict_transport_security: Some("max-age=600".into()),
            content_security_policy: Some("script-src *".into()),
            x_frame_options: Some("ALLOW-FROM https://a.example".into()),
            x_content_type_options: Some("sniff".into()),
            referrer_policy: Some("unsafe-url".into()),
            permissions_policy: None,
        };
        for https in [true, false] {
            for headers in [&SecurityHeaders::default(), &weak] {
                for issue in headers.issues(https) {
                    assert!(SecurityHeaders::checks(https).contains(&issue.check), "{} ({https})", issue.check);
                }
            }
            let bare = parse_cookie("track=1").expect("a cookie");
            assert_eq!(checks(&bare.issues(https)), Cookie::checks(https));
        }
        assert!(!SecurityHeaders::checks(false).iter().any(|check| check.ends_with("hsts")));
    }

    #[test]
    fn cookie_flags_are_read_whatever_their_case() {
        let cookie = parse_cookie("sid=abc; Path=/; secure; HTTPONLY; SameSite=Lax").expect("a cookie");
        assert_eq!(cookie, Cookie { name: "sid".into(), secure: true, http_only: true, same_site: Some("Lax".into()) });
        assert!(cookie.issues(true).is_empty());
        let bare = parse_cookie("track=1").expect("a cookie");
        assert_eq!(checks(&bare.issues(true)), ["cookie_no_secure", "cookie_no_httponly", "cookie_no_samesite"]);
        assert_eq!(checks(&bare.issues(false)), ["cookie_no_httponly", "cookie_no_samesite"]);
        let none_insecure = parse_cookie("x=1; HttpOnly; SameSite=None").expect("a cookie");
        assert_eq!(checks(&none_insecure.issues(false)), ["cookie_no_samesite"]);
    }

    #[test]
    fn hostile_headers_never_panic_and_are_bounded() {
        for value in ["", "=", ";;;", "=x; secure", " ; HttpOnly", "a=b; SameSite", "é=\u{0}; samesite=é"] {
            let _ = parse_cookie(value).map(|cookie| cookie.issues(true));
        }
        assert_eq!(parse_cookie("=x; secure"), None, "a cookie needs a name");
        let mut headers = HeaderMap::new();
        let long = "a".repeat(100_000);
        headers.insert("content-security-policy", HeaderValue::from_str(&long).expect("a value"));
        for _ in 0..1_000 {
            headers.append(SET_COOKIE, HeaderValue::from_str(&format!("{long}=1")).expect("a value"));
        }
        headers.insert("x-frame-options", HeaderValue::from_bytes(b"\xff\xfe").expect("opaque bytes"));
        let security = SecurityHeaders::of(&headers);
        assert_eq!(security.content_security_policy.map(|value| value.len()), Some(VALUE_MAX));
        let cookies = cookies(&headers);
        assert_eq!(cookies.len(), COOKIES_MAX);
        assert!(cookies.iter().all(|cookie| cookie.name.len() == COOKIE_NAME_MAX));
        let _ = SecurityHeaders::of(&headers).issues(true);
    }
}
