//! Endpoint secrets at rest. With `CREDITS_SECRET_KEY` set they are sealed
//! with XChaCha20-Poly1305 (a random 24-byte nonce each, so no nonce repeats
//! under one key) and stored as `sealed:v1:<base64(nonce || ciphertext)>`;
//! a database dump then holds no secret that signs. Without a key they are
//! stored as they are (the README says what a dump exposes then).
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use rand::RngCore;

use crate::error::{Error, Result};

const SEALED_PREFIX: &str = "sealed:v1:";
const NONCE_BYTES: usize = 24;

/// The 32-byte key of `CREDITS_SECRET_KEY`.
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

impl SecretKey {
    /// 32 bytes written as 64 hex digits or as base64 (standard or URL-safe,
    /// padded or not); anything else is refused, so a typo cannot become a
    /// weaker key.
    pub fn parse(text: &str) -> Result<SecretKey, String> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).ok()
        } else {
            [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD].iter().find_map(|engine| engine.decode(text).ok())
        };
        bytes.and_then(|bytes| <[u8; 32]>::try_from(bytes).ok()).map(SecretKey).ok_or_else(|| {
            "CREDITS_SECRET_KEY must be 32 bytes written as 64 hex digits or as base64 \
             (e.g. `openssl rand -hex 32`)"
                .to_owned()
        })
    }
}

/// Seals and opens endpoint secrets with the configured key, if any.
#[derive(Clone, Debug, Default)]
pub struct Secrets {
    key: Option<SecretKey>,
}

impl Secrets {
    pub fn new(key: Option<SecretKey>) -> Secrets {
        Secrets { key }
    }

    pub fn sealing(&self) -> bool {
        self.key.is_some()
    }

    /// The secret as it is stored.
    pub fn seal(&self, plain: &str) -> Result<String> {
        let Some(key) = &self.key else { return Ok(plain.to_owned()) };
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = cipher(key)
            .encrypt(&XNonce::from(nonce), plain.as_bytes())
            .map_err(|_| Error::internal("sealing a webhook secret failed"))?;
        let mut bytes = nonce.to_vec();
        bytes.extend(sealed);
        Ok(format!("{SEALED_PREFIX}{}", STANDARD.encode(bytes)))
    }

    /// The secret a stored value holds. A sealed one needs the key it was
    /// sealed with: without a key, or with another, this fails (the
    /// endpoint's deliveries fail and say why) rather than sign with garbage.
    pub fn open(&self, stored: &str) -> Result<String> {
        let Some(encoded) = stored.strip_prefix(SEALED_PREFIX) else { return Ok(stored.to_owned()) };
        let key = self.key.as_ref().ok_or_else(|| {
            Error::internal(
                "a webhook secret is sealed but CREDITS_SECRET_KEY is not set: set the key it was sealed with",
            )
        })?;
        let bytes = STANDARD.decode(encoded).map_err(|_| Error::internal("a sealed webhook secret is not base64"))?;
        if bytes.len() < NONCE_BYTES {
            return Err(Error::internal("a sealed webhook secret is too short"));
        }
        let (nonce, sealed) = bytes.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] =
            nonce.try_into().map_err(|_| Error::internal("a sealed webhook secret's nonce"))?;
        let plain = cipher(key).decrypt(&XNonce::from(nonce), sealed).map_err(|_| {
            Error::internal("a sealed webhook secret does not open with CREDITS_SECRET_KEY: the key is not the one it was sealed with")
        })?;
        String::from_utf8(plain).map_err(|_| Error::internal("a sealed webhook secret is not text"))
    }
}

fn cipher(key: &SecretKey) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(&Key::from(key.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SecretKey {
        SecretKey([byte; 32])
    }

    #[test]
    fn keys_are_32_bytes_in_hex_or_base64() {
        let hex = "00".repeat(31) + "ff";
        assert_eq!(SecretKey::parse(&hex).unwrap().0[31], 0xff);
        assert_eq!(SecretKey::parse(&STANDARD.encode([7u8; 32])).unwrap().0, [7u8; 32]);
        assert_eq!(SecretKey::parse(&URL_SAFE_NO_PAD.encode([0xfbu8; 32])).unwrap().0, [0xfbu8; 32]);
        for bad in ["", "short", &"0".repeat(62), &"zz".repeat(32), &STANDARD.encode([1u8; 16])] {
            let message = SecretKey::parse(bad).unwrap_err();
            assert!(message.contains("64 hex digits"), "{bad}: {message}");
        }
    }

    #[test]
    fn a_sealed_secret_opens_with_its_key_only() {
        let secrets = Secrets::new(Some(key(1)));
        let sealed = secrets.seal("whsec_abc").unwrap();
        assert!(sealed.starts_with(SEALED_PREFIX) && !sealed.contains("whsec_abc"));
        assert_ne!(sealed, secrets.seal("whsec_abc").unwrap(), "a fresh nonce each time");
        assert_eq!(secrets.open(&sealed).unwrap(), "whsec_abc");
        let wrong = Secrets::new(Some(key(2))).open(&sealed).unwrap_err();
        assert!(format!("{wrong:?}").contains("not the one it was sealed with"));
        let none = Secrets::default().open(&sealed).unwrap_err();
        assert!(format!("{none:?}").contains("not set"));
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push('A');
        assert!(secrets.open(&tampered).is_err());
        assert!(secrets.open("sealed:v1:AAAA").is_err());
    }

    #[test]
    fn without_a_key_secrets_are_stored_as_they_are() {
        let plain = Secrets::default();
        assert_eq!(plain.seal("whsec_abc").unwrap(), "whsec_abc");
        assert_eq!(plain.open("whsec_abc").unwrap(), "whsec_abc");
        assert_eq!(Secrets::new(Some(key(1))).open("whsec_abc").unwrap(), "whsec_abc", "stored before the key");
    }
}
