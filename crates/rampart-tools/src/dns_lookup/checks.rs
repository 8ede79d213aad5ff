//! The rules of a domain's published policy, read from TXT records: SPF (RFC 7208) and DMARC
//! (RFC 7489). Pure functions over the texts a lookup found; no I/O.

/// What a domain's SPF policy says of mail from anyone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spf {
    /// No `v=spf1` record.
    Missing,
    /// `+all` (or a bare `all`): every sender passes.
    PassAll,
    /// `?all`: every other sender is neutral, which receivers treat as no policy.
    NeutralAll,
    /// Anything stricter (`~all`, `-all`, or a redirect).
    Restricted,
}

/// What a domain's DMARC policy says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dmarc {
    Missing,
    /// `p=none`: reports only, nothing is rejected or quarantined.
    NotEnforced,
    Enforced,
}

/// The SPF verdict of a domain's TXT texts.
pub fn spf(texts: &[String]) -> Spf {
    let Some(record) = texts.iter().find(|text| {
        let lower = text.trim().to_ascii_lowercase();
        lower == "v=spf1" || lower.starts_with("v=spf1 ")
    }) else {
        return Spf::Missing;
    };
    for term in record.split_ascii_whitespace().skip(1) {
        match term.to_ascii_lowercase().as_str() {
            "all" | "+all" => return Spf::PassAll,
            "?all" => return Spf::NeutralAll,
            "~all" | "-all" => return Spf::Restricted,
            _ => {}
        }
    }
    Spf::Restricted
}

/// The DMARC verdict of the TXT texts at `_dmarc.<domain>`.
pub fn dmarc(texts: &[String]) -> Dmarc {
    let Some(record) = texts.iter().find(|text| text.trim().to_ascii_lowercase().starts_with("v=dmarc1")) else {
        return Dmarc::Missing;
    };
    let policy = record
        .split(';')
        .filter_map(|tag| tag.split_once('='))
        .find(|(key, _)| key.trim().eq_ignore_ascii_case("p"))
        .map(|(_, value)| value.trim().to_ascii_lowercase());
    match policy.as_deref() {
        Some("quarantine" | "reject") => Dmarc::Enforced,
        // A record without a valid policy is read as none (RFC 7489 §6.6.3).
        _ => Dmarc::NotEnforced,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(items: &[&str]) -> Vec<String> {
        items.iter().map(|item| (*item).to_owned()).collect()
    }

    #[test]
    fn spf_verdicts() {
        assert_eq!(spf(&texts(&[])), Spf::Missing);
        assert_eq!(spf(&texts(&["google-site-verification=x", "v=spf10 -all"])), Spf::Missing);
        assert_eq!(spf(&texts(&["v=spf1 ip4:192.0.2.0/24 +all"])), Spf::PassAll);
        assert_eq!(spf(&texts(&["V=SPF1 a mx ALL"])), Spf::PassAll, "a bare all passes");
        assert_eq!(spf(&texts(&["v=spf1 ?all"])), Spf::NeutralAll);
        assert_eq!(spf(&texts(&["v=spf1 mx ~all"])), Spf::Restricted);
        assert_eq!(spf(&texts(&["v=spf1 -all"])), Spf::Restricted);
        assert_eq!(spf(&texts(&["v=spf1 redirect=_spf.example.test"])), Spf::Restricted);
    }

    #[test]
    fn dmarc_verdicts() {
        assert_eq!(dmarc(&texts(&["v=spf1 -all"])), Dmarc::Missing);
        assert_eq!(dmarc(&texts(&["v=DMARC1; p=none; rua=mailto:a@example.test"])), Dmarc::NotEnforced);
        assert_eq!(dmarc(&texts(&["v=DMARC1; rua=mailto:a@example.test"])), Dmarc::NotEnforced);
        assert_eq!(dmarc(&texts(&["v=DMARC1;p=reject"])), Dmarc::Enforced);
        assert_eq!(dmarc(&texts(&["v=DMARC1; p = Quarantine"])), Dmarc::Enforced);
    }
}
