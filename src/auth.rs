//! Bearer tokens (DESIGN.md, section 2): HS256 JWTs whose `sub` is the
//! account id and whose `role` says what the caller may do.
use std::collections::HashSet;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};

use crate::error::Error;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Service,
    Admin,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
}

/// Who is asking, as far as the request says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    Anonymous,
    Authenticated {
        account_id: String,
        role: Role,
    },
    /// Credentials were sent but are not valid; the reason is for the client.
    Invalid(String),
}

impl Caller {
    pub fn role(&self) -> Option<Role> {
        match self {
            Caller::Authenticated { role, .. } => Some(*role),
            _ => None,
        }
    }
}

#[derive(Clone)]
pub struct Auth {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl Auth {
    pub fn new(secret: &str) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        // `exp` is optional (DESIGN.md); when present it is checked.
        validation.required_spec_claims = HashSet::new();
        validation.validate_exp = true;
        validation.leeway = 0;
        Auth {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
        }
    }

    pub fn issue(&self, role: Role, sub: &str, ttl_seconds: Option<u64>) -> Result<String, Error> {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims { sub: sub.to_owned(), role, exp: ttl_seconds.map(|ttl| now + ttl), iat: Some(now) };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| Error::internal(format!("signing a token: {e}")))
    }

    pub fn verify(&self, token: &str) -> Caller {
        match decode::<Claims>(token, &self.decoding, &self.validation) {
            Ok(data) if data.claims.sub.is_empty() => Caller::Invalid("the token has an empty sub".into()),
            Ok(data) => Caller::Authenticated { account_id: data.claims.sub, role: data.claims.role },
            Err(error) => Caller::Invalid(format!("invalid token: {error}")),
        }
    }

    /// The caller of an `Authorization` header value (or a WebSocket
    /// `connection_init` payload field holding the same).
    pub fn caller(&self, authorization: Option<&str>) -> Caller {
        let Some(value) = authorization.map(str::trim).filter(|v| !v.is_empty()) else {
            return Caller::Anonymous;
        };
        match value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")) {
            Some(token) => self.verify(token.trim()),
            None => Caller::Invalid("the Authorization header must be `Bearer <token>`".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_bad_ones_are_invalid() {
        let auth = Auth::new("secret");
        let token = auth.issue(Role::Service, "backend", Some(60)).unwrap();
        assert_eq!(
            auth.caller(Some(&format!("Bearer {token}"))),
            Caller::Authenticated { account_id: "backend".into(), role: Role::Service }
        );
        assert!(matches!(Auth::new("other").caller(Some(&format!("Bearer {token}"))), Caller::Invalid(_)));
        assert!(matches!(auth.caller(Some("Basic abc")), Caller::Invalid(_)));
        assert_eq!(auth.caller(None), Caller::Anonymous);
    }

    #[test]
    fn expired_tokens_are_invalid() {
        let auth = Auth::new("secret");
        let claims = Claims { sub: "u".into(), role: Role::User, exp: Some(1), iat: None };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(b"secret")).unwrap();
        assert!(matches!(auth.verify(&token), Caller::Invalid(_)));
    }
}
