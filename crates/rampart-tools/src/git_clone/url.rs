//! The clone URLs a fetch accepts: `https://` or `http://` with a host, nothing that git (or a
//! program git would start) could read as an option, another transport or a credential.

use reqwest::Url;

/// The longest clone URL accepted, in bytes.
pub const URL_MAX: usize = 2_048;

/// Checks a clone URL and names what it reaches, `host:port`, for the scope check. Only `https://`
/// and `http://` URLs are taken, with a host, without credentials, a query or a fragment, in
/// printable ASCII (an international name is given in its `xn--` form), at most [`URL_MAX`] bytes.
pub fn url_target(url: &str) -> Result<String, String> {
    parse_clone_url(url).map(|url| host_port(&url))
}

/// The URL of [`url_target`], parsed.
pub(crate) fn parse_clone_url(text: &str) -> Result<Url, String> {
    if text.is_empty() {
        return Err("is empty".into());
    }
    if text.len() > URL_MAX {
        return Err(format!("is longer than {URL_MAX} bytes"));
    }
    if let Some(bad) = text.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(match bad {
            ' ' => "must not contain spaces".into(),
            c if c.is_control() => "must not contain control characters".into(),
            _ => "must be printable ASCII (write an international name in its xn-- form)".into(),
        });
    }
    if text.starts_with('-') {
        return Err("must not start with '-'".into());
    }
    let lower = text.to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://")) {
        return Err("must be an https:// or http:// URL (no file, ssh, git or ext transports)".into());
    }
    if text.contains('\\') {
        return Err("must not contain backslashes".into());
    }
    // The URL parser forgives `https:///host` and `https:/host`: the host is required where it is written.
    let after_scheme = &text[text.find("://").map_or(0, |at| at + 3)..];
    let authority = &after_scheme[..after_scheme.find(['/', '?', '#']).unwrap_or(after_scheme.len())];
    if authority.is_empty() {
        return Err("must name a host".into());
    }
    let url = Url::parse(text).map_err(|error| format!("is not a URL: {error}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be an https:// or http:// URL".into());
    }
    let host = url.host_str().unwrap_or_default();
    if host.is_empty() {
        return Err("must name a host".into());
    }
    if host.starts_with('-') {
        return Err("must not name a host starting with '-'".into());
    }
    // `https://@host/` parses with an empty user name: any `@` in the authority is refused.
    if !url.username().is_empty() || url.password().is_some() || authority.contains('@') {
        return Err("must not carry credentials".into());
    }
    if url.query().is_some() {
        return Err("must not have a query".into());
    }
    if url.fragment().is_some() {
        return Err("must not have a fragment".into());
    }
    Ok(url)
}

/// `host:port` of a URL, as the scope check reads it.
fn host_port(url: &Url) -> String {
    format!("{}:{}", url.host_str().unwrap_or_default(), url.port_or_known_default().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_clone_url_names_its_host_and_port() {
        assert_eq!(url_target("https://git.example.com/team/app.git").as_deref(), Ok("git.example.com:443"));
        assert_eq!(url_target("http://127.0.0.2:8080/repo").as_deref(), Ok("127.0.0.2:8080"));
        assert_eq!(url_target("HTTPS://Git.Example.com/x").as_deref(), Ok("git.example.com:443"));
        assert_eq!(url_target("https://[::1]:8443/x").as_deref(), Ok("[::1]:8443"));
    }

    #[test]
    fn hostile_clone_urls_are_refused() {
        let long = format!("https://example.com/{}", "a".repeat(URL_MAX));
        for url in [
            "",
            long.as_str(),
            "file:///etc/passwd",
            "/srv/repo.git",
            "ssh://git@example.com/repo.git",
            "git@example.com:repo.git",
            "git://example.com/repo.git",
            "ext::sh -c touch% /tmp/pwned",
            "ext::sh",
            "fd::17",
            "-uhttps://example.com/",
            "--upload-pack=touch /tmp/x",
            "https://user:secret@example.com/repo.git",
            "https://token@example.com/repo.git",
            "https://@example.com/repo.git",
            "https://:pw@example.com/repo.git",
            "https://example.com/repo.git?service=git-receive-pack",
            "https://example.com/repo.git#main",
            "https://example.com/repo .git",
            "https://example.com/repo\n.git",
            "https://example.com/repo\0.git",
            "https://example.com/\r\nHost: evil",
            "https://exämple.com/repo.git",
            "https://",
            "https:///repo.git",
            "https:\\\\example.com\\repo",
            "https://example.com\\@evil.com/repo",
            "http:/example.com/repo",
            "https://-oProxyCommand=x/repo",
            "javascript:alert(1)",
            "ftp://example.com/repo.git",
            "http://[::1/repo",
            "https://example.com:99999/repo",
        ] {
            let refused = url_target(url);
            assert!(refused.is_err(), "{url:?} is refused, not {refused:?}");
            let reason = refused.expect_err("refused");
            assert!(!reason.contains("secret"), "the reason never echoes a credential: {reason}");
        }
    }

    #[test]
    fn the_reason_of_a_refusal_says_what_to_fix() {
        assert_eq!(url_target("https://u:p@example.com/r").expect_err("credentials"), "must not carry credentials");
        assert!(url_target("ssh://example.com/r").expect_err("ssh").contains("https://"));
        assert!(url_target("https://example.com/a\u{7}b").expect_err("a bell").contains("control characters"));
    }
}
