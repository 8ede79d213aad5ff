//! The key that signs access tokens: generated on the first start and kept in the database, so
//! that every server sharing it signs with the same key.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rampart_store::{Store, StoreError};

/// The key that signs access tokens. Its `Debug` output is redacted, and it is never logged or
/// sent: only the token code reads it, through [`SigningKey::expose`].
#[derive(Clone)]
pub struct SigningKey(Arc<[u8]>);

impl SigningKey {
    const NAME: &'static str = "token_signing_key";

    /// Loads the stored key, generating and storing one on the first start.
    pub async fn load_or_create(store: &dyn Store) -> Result<Self, StoreError> {
        let mut candidate = [0u8; 32];
        rand::fill(&mut candidate);
        let stored = store.secrets().get_or_insert(Self::NAME, &URL_SAFE_NO_PAD.encode(candidate)).await?;
        let bytes = URL_SAFE_NO_PAD
            .decode(stored)
            .map_err(|_| StoreError::Internal("the stored signing key is not valid base64".into()))?;
        Ok(Self(bytes.into()))
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}
