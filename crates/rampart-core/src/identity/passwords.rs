//! The password policy: 8 to 128 characters, and not one of the common passwords that every
//! guessing attack tries first (a list shipped with the binary).

use std::collections::HashSet;
use std::sync::OnceLock;

pub const PASSWORD_MIN: usize = 8;
pub const PASSWORD_MAX: usize = 128;

/// Django's list of 20,000 common passwords, keeping those long enough to pass the length rule.
const COMMON: &str = include_str!("../../data/common-passwords.txt");

fn common() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| COMMON.lines().map(str::trim).filter(|line| !line.is_empty()).collect())
}

/// Checks a new password against the policy.
pub fn check_password(password: &str) -> Result<(), String> {
    let length = password.chars().count();
    if length < PASSWORD_MIN {
        return Err(format!("must be at least {PASSWORD_MIN} characters"));
    }
    if length > PASSWORD_MAX {
        return Err(format!("must be at most {PASSWORD_MAX} characters"));
    }
    if common().contains(password.to_lowercase().as_str()) {
        return Err("is too common: it is on the list of passwords attackers try first".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_is_bounded_on_both_sides() {
        assert!(check_password("Sh0rt!").is_err());
        assert!(check_password(&"x1".repeat(65)).is_err());
        assert!(check_password("a sturdy passphrase 42").is_ok());
        // Characters, not bytes: eight accented letters are long enough.
        assert!(check_password("éèêëēėęě").is_ok());
    }

    #[test]
    fn common_passwords_are_refused_in_any_case() {
        for common in ["password", "12345678", "PASSWORD1", "iloveyou", "qwertyuiop"] {
            assert!(check_password(common).is_err(), "{common}");
        }
        assert!(common().len() > 8000);
    }
}
