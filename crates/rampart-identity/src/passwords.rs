//! Argon2id with OWASP's parameters (19 MiB, 2 passes, 1 lane), on the blocking pool so that a
//! burst of logins does not stall the async runtime. An unknown account is checked against a
//! dummy hash, so it costs the same time as a wrong password.
//!
//! Each hash holds 19 MiB for its whole run, so at most one per core runs at once: a burst of
//! logins waits its turn for a few seconds, and past that is told the server is busy, rather than
//! filling the blocking pool (hundreds of threads, gigabytes of memory).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::{OnceCell, Semaphore};

use crate::IdentityError;

/// How long a hash waits for a free slot before the request is refused as busy.
const SLOT_WAIT: Duration = Duration::from_secs(5);
/// What a refused request is told to wait.
const BUSY_RETRY: Duration = Duration::from_secs(1);

/// Password hashing load, for metrics and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasswordWork {
    /// Hashes allowed to run at once.
    pub slots: usize,
    /// Hashes running now.
    pub in_flight: usize,
    /// The most that ever ran at once.
    pub max_in_flight: usize,
}

#[derive(Default)]
struct Gauge {
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

/// Counts a running hash from creation until dropped.
struct Running<'a>(&'a Gauge);

impl<'a> Running<'a> {
    fn start(gauge: &'a Gauge) -> Self {
        let now = gauge.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        gauge.max_in_flight.fetch_max(now, Ordering::SeqCst);
        Self(gauge)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

#[derive(Clone)]
pub(crate) struct Passwords {
    dummy: Arc<OnceCell<String>>,
    slots: Arc<Semaphore>,
    n_slots: usize,
    gauge: Arc<Gauge>,
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("OWASP's Argon2id parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn internal(_: impl std::fmt::Display) -> IdentityError {
    IdentityError::Store(rampart_store::StoreError::Internal("password hashing failed".into()))
}

impl Passwords {
    /// One slot per core the process may use.
    pub(crate) fn new() -> Self {
        Self::with_slots(std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get))
    }

    fn with_slots(n_slots: usize) -> Self {
        let n_slots = n_slots.max(1);
        Self {
            dummy: Arc::new(OnceCell::new()),
            slots: Arc::new(Semaphore::new(n_slots)),
            n_slots,
            gauge: Arc::new(Gauge::default()),
        }
    }

    pub(crate) fn work(&self) -> PasswordWork {
        PasswordWork {
            slots: self.n_slots,
            in_flight: self.gauge.in_flight.load(Ordering::SeqCst),
            max_in_flight: self.gauge.max_in_flight.load(Ordering::SeqCst),
        }
    }

    /// Runs `hashing` on the blocking pool once a slot is free. The slot is held by the blocking
    /// task itself, so a request that gives up does not free it while its hash still runs.
    async fn run<T: Send + 'static>(&self, hashing: impl FnOnce() -> T + Send + 'static) -> Result<T, IdentityError> {
        let permit = tokio::time::timeout(SLOT_WAIT, Arc::clone(&self.slots).acquire_owned())
            .await
            .map_err(|_| IdentityError::Busy { retry_after: BUSY_RETRY })?
            .map_err(internal)?;
        let gauge = Arc::clone(&self.gauge);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let _running = Running::start(&gauge);
            hashing()
        })
        .await
        .map_err(internal)
    }

    pub(crate) async fn hash(&self, password: &str) -> Result<String, IdentityError> {
        let password = password.to_owned();
        self.run(move || {
            let mut salt = [0u8; 16];
            rand::fill(&mut salt);
            let salt = SaltString::encode_b64(&salt).map_err(internal)?;
            argon2().hash_password(password.as_bytes(), &salt).map(|hash| hash.to_string()).map_err(internal)
        })
        .await?
    }

    /// True when `password` matches `hash`; `None` as the hash spends the same time and is false.
    pub(crate) async fn verify(&self, password: &str, hash: Option<&str>) -> Result<bool, IdentityError> {
        let (hash, real) = match hash {
            Some(hash) => (hash.to_owned(), true),
            None => (self.dummy().await?.to_owned(), false),
        };
        let password = password.to_owned();
        let matches = self
            .run(move || {
                PasswordHash::new(&hash)
                    .is_ok_and(|parsed| argon2().verify_password(password.as_bytes(), &parsed).is_ok())
            })
            .await?;
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn no_more_hashes_run_at_once_than_there_are_slots() {
        let passwords = Passwords::with_slots(2);
        let hash = passwords.hash("correct horse battery").await.expect("hash");

        let verifications: Vec<_> = (0..16)
            .map(|_| {
                let (passwords, hash) = (passwords.clone(), hash.clone());
                tokio::spawn(async move { passwords.verify("correct horse battery", Some(&hash)).await })
            })
            .collect();
        for verification in verifications {
            assert!(verification.await.expect("joined").expect("verified"));
        }

        let work = passwords.work();
        assert_eq!((work.slots, work.in_flight), (2, 0));
        assert!((1..=2).contains(&work.max_in_flight), "{work:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_hash_that_cannot_get_a_slot_in_time_is_refused_as_busy() {
        let passwords = Passwords::with_slots(1);
        let _held = Arc::clone(&passwords.slots).acquire_owned().await.expect("the only slot");

        let refused = passwords.hash("correct horse battery").await;

        assert!(matches!(refused, Err(IdentityError::Busy { retry_after }) if retry_after >= Duration::from_secs(1)));
    }
}
