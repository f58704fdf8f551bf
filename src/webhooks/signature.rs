//! Standard Webhooks signing: secrets are `whsec_` and the base64 of random
//! bytes; a signature is `v1,` and the base64 of HMAC-SHA256, keyed with the
//! secret's bytes, of `{webhook-id}.{webhook-timestamp}.{body}`.
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::error::{Error, Result};

const PREFIX: &str = "whsec_";
/// 24 bytes is the specification's least; 32 is HMAC-SHA256's block of key.
const SECRET_BYTES: usize = 32;

/// A new random secret, `whsec_...`.
pub fn generate_secret() -> String {
    let mut bytes = [0u8; SECRET_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    format!("{PREFIX}{}", STANDARD.encode(bytes))
}

/// The value of `webhook-signature` for one attempt.
pub fn sign(secret: &str, webhook_id: &str, timestamp_seconds: i64, body: &[u8]) -> Result<String> {
    let key = secret
        .strip_prefix(PREFIX)
        .and_then(|encoded| STANDARD.decode(encoded).ok())
        .ok_or_else(|| Error::internal("a webhook secret is not whsec_ and base64"))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|_| Error::internal("HMAC key"))?;
    mac.update(webhook_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp_seconds.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_as_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification's reference libraries.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        let signature = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).unwrap();
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn secrets_are_random_and_decode_to_32_bytes() {
        let (a, b) = (generate_secret(), generate_secret());
        assert_ne!(a, b);
        assert_eq!(STANDARD.decode(a.strip_prefix(PREFIX).unwrap()).unwrap().len(), 32);
        assert!(sign("not-a-secret", "id", 1, b"{}").is_err());
    }
}
