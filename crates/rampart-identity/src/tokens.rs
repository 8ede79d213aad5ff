//! Access tokens: JWTs signed with HS256 by the server's key. Only HS256 is accepted (so `alg:
//! none` and algorithm swaps fail), expiry is checked with no leeway, and `typ` must say `access`.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SubjectKind {
    User,
    ApiKey,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AccessClaims {
    /// The user, or the API key for a `client_credentials` token.
    pub sub: Uuid,
    pub act: SubjectKind,
    pub org: Uuid,
    pub role: String,
    pub jti: Uuid,
    /// The login session of a user's token; revoking it ends the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
    pub typ: String,
    pub iat: i64,
    pub exp: i64,
}

pub(crate) const ACCESS: &str = "access";

pub(crate) struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl TokenKeys {
    pub(crate) fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.validate_exp = true;
        validation.set_required_spec_claims(&["exp", "iat", "sub"]);
        Self { encoding: EncodingKey::from_secret(secret), decoding: DecodingKey::from_secret(secret), validation }
    }

    pub(crate) fn issue(&self, claims: &AccessClaims) -> String {
        encode(&Header::new(Algorithm::HS256), claims, &self.encoding).expect("HS256 signing cannot fail")
    }

    /// The claims of a valid access token; `None` for anything else.
    pub(crate) fn verify(&self, token: &str) -> Option<AccessClaims> {
        let claims = decode::<AccessClaims>(token, &self.decoding, &self.validation).ok()?.claims;
        (claims.typ == ACCESS).then_some(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn claims(exp_in: i64) -> AccessClaims {
        let now = chrono::Utc::now().timestamp();
        AccessClaims {
            sub: Uuid::now_v7(),
            act: SubjectKind::User,
            org: Uuid::now_v7(),
            role: "viewer".into(),
            jti: Uuid::now_v7(),
            sid: Some(Uuid::now_v7()),
            typ: ACCESS.into(),
            iat: now,
            exp: now + exp_in,
        }
    }

    #[test]
    fn a_token_verifies_with_its_key_only() {
        let keys = TokenKeys::new(b"0123456789abcdef0123456789abcdef");
        let claims = claims(60);
        let token = keys.issue(&claims);

        assert_eq!(keys.verify(&token), Some(claims));
        assert_eq!(TokenKeys::new(b"another key of thirty-two bytes!").verify(&token), None);
    }

    #[test]
    fn forged_expired_and_unsigned_tokens_are_refused() {
        let keys = TokenKeys::new(b"0123456789abcdef0123456789abcdef");
        let token = keys.issue(&claims(60));
        let parts: Vec<&str> = token.split('.').collect();

        let expired = keys.issue(&claims(-1));
        let mut promoted: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("base64")).expect("JSON");
        promoted["role"] = "admin".into();
        let changed = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(promoted.to_string()), parts[2]);
        let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let unsigned = format!("{none_header}.{}.", parts[1]);
        let mut other_type = claims(60);
        other_type.typ = "refresh".into();

        for (what, forged) in [
            ("expired", expired),
            ("changed payload", changed),
            ("alg none", unsigned),
            ("wrong typ", keys.issue(&other_type)),
        ] {
            assert_eq!(keys.verify(&forged), None, "{what}");
        }
    }
}
