//! Argon2id with OWASP's parameters (19 MiB, 2 passes, 1 lane), on the blocking pool so that a
//! burst of logins does not stall the async runtime. An unknown account is checked against a
//! dummy hash, so it costs the same time as a wrong password.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::OnceCell;

use crate::IdentityError;

#[derive(Clone)]
pub(crate) struct Passwords {
    dummy: Arc<OnceCell<String>>,
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("OWASP's Argon2id parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn internal(_: impl std::fmt::Display) -> IdentityError {
    IdentityError::Store(rampart_store::StoreError::Internal("password hashing failed".into()))
}

impl Passwords {
    pub(crate) fn new() -> Self {
        Self { dummy: Arc::new(OnceCell::new()) }
    }

    pub(crate) async fn hash(&self, password: &str) -> Result<String, IdentityError> {
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || {
            let mut salt = [0u8; 16];
            rand::fill(&mut salt);
            let salt = SaltString::encode_b64(&salt).map_err(internal)?;
            argon2().hash_password(password.as_bytes(), &salt).map(|hash| hash.to_string()).map_err(internal)
        })
        .await
        .map_err(internal)?
    }

    /// True when `password` matches `hash`; `None` as the hash spends the same time and is false.
    pub(crate) async fn verify(&self, password: &str, hash: Option<&str>) -> Result<bool, IdentityError> {
        let (hash, real) = match hash {
            Some(hash) => (hash.to_owned(), true),
            None => (self.dummy().await?.to_owned(), false),
        };
        let password = password.to_owned();
        let matches = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&hash).is_ok_and(|parsed| argon2().verify_password(password.as_bytes(), &parsed).is_ok())
        })
        .await
        .map_err(internal)?;
        Ok(matches && real)
    }

    async fn dummy(&self) -> Result<&str, IdentityError> {
        let hash = self.dummy.get_or_try_init(|| self.hash("a password nobody has, to spend the time of one")).await?;
        Ok(hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let passwords = Passwords::new();
        let hash = passwords.hash("correct horse battery").await.expect("hash");

        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(!hash.contains("correct horse"));
        assert!(passwords.verify("correct horse battery", Some(&hash)).await.expect("verify"));
        assert!(!passwords.verify("wrong horse battery", Some(&hash)).await.expect("verify"));
        assert!(!passwords.verify("correct horse battery", None).await.expect("dummy"));
        assert!(!passwords.verify("x", Some("not a hash")).await.expect("garbage"));
    }
}
