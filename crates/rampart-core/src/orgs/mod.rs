//! Organisations: the tenants. Every tenant row in Rampart carries the id of one.

use chrono::{DateTime, Utc};

use crate::ids::OrgId;
use crate::validation::ValidationErrors;

pub const NAME_MAX: usize = 100;
pub const SLUG_MAX: usize = 63;

/// A stored organisation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Organisation {
    pub id: OrgId,
    pub name: String,
    pub slug: Slug,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A validated request to create an organisation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewOrganisation {
    pub name: String,
    pub slug: Slug,
}

impl NewOrganisation {
    /// Validates both fields and reports every problem; the slug defaults to one derived from the name.
    pub fn parse(name: &str, slug: Option<&str>) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let name = errors.check("name", parse_name(name));
        let slug = match slug {
            Some(slug) => errors.check("slug", Slug::parse(slug)),
            None => name.as_deref().and_then(|name| errors.check("name", Slug::from_name(name))),
        };
        match (name, slug) {
            (Some(name), Some(slug)) => errors.into_result(|| Self { name, slug }),
            _ => Err(errors),
        }
    }
}

fn parse_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("must not be empty".into());
    }
    if name.chars().count() > NAME_MAX {
        return Err(format!("must be at most {NAME_MAX} characters"));
    }
    if name.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(name.to_owned())
}

/// A URL-safe organisation handle: lowercase ASCII letters, digits and single hyphens.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Slug(String);

impl Slug {
    pub fn parse(value: &str) -> Result<Self, String> {
        let valid_chars = value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if value.is_empty() || value.len() > SLUG_MAX {
            Err(format!("must be 1 to {SLUG_MAX} characters"))
        } else if !valid_chars {
            Err("may contain only lowercase letters, digits and hyphens".into())
        } else if value.starts_with('-') || value.ends_with('-') || value.contains("--") {
            Err("must not start or end with a hyphen or contain two in a row".into())
        } else {
            Ok(Self(value.to_owned()))
        }
    }

    /// The slug a name suggests: `"Acme Security, Inc."` becomes `acme-security-inc`.
    pub fn from_name(name: &str) -> Result<Self, String> {
        let mut slug = String::new();
        for c in name.chars().flat_map(char::to_lowercase) {
            if c.is_ascii_alphanumeric() {
                slug.push(c);
            } else if !slug.is_empty() && !slug.ends_with('-') {
                slug.push('-');
            }
        }
        let slug: String = slug.trim_end_matches('-').chars().take(SLUG_MAX).collect();
        Self::parse(slug.trim_end_matches('-')).map_err(|_| "must contain at least one ASCII letter or digit".into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_is_derived_from_the_name() {
        let org = NewOrganisation::parse("  Acme Security, Inc. ", None).expect("valid name");
        assert_eq!(org.name, "Acme Security, Inc.");
        assert_eq!(org.slug.as_str(), "acme-security-inc");
    }

    #[test]
    fn every_bad_field_is_reported() {
        let errors = NewOrganisation::parse("", Some("Bad Slug")).expect_err("both fields are bad");
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "slug"]);
    }

    #[test]
    fn slugs_reject_what_a_url_would_mangle() {
        for bad in ["", "UPPER", "-lead", "trail-", "dou--ble", "sp ace", "ünï", &"a".repeat(64)] {
            assert!(Slug::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(Slug::parse("acme-2").is_ok());
    }

    #[test]
    fn a_name_without_ascii_letters_needs_an_explicit_slug() {
        let errors = NewOrganisation::parse("日本", None).expect_err("no slug derivable");
        assert_eq!(errors.iter().next().map(|e| e.field.as_str()), Some("name"));
        assert!(NewOrganisation::parse("日本", Some("nihon")).is_ok());
    }
}
