//! The signing key: Ed25519, its 32-byte secret seed read from [`ENV_SIGNING_KEY`] (hex or
//! base64) — never from a file in the repository or the config directory. Signing is optional:
//! without the variable, the chain still seals every row, it is just not signed.
//!
//! A [`PublicKey`] prints as hex (what the ledger and the API carry) and as a PEM
//! SubjectPublicKeyInfo, so `openssl pkeyutl -verify -rawin` can check a signature without
//! riverwatch.

use super::{hex, unhex};
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use std::fmt;

/// Environment variable holding the signing key's 32-byte seed, as 64 hex digits or base64.
pub const ENV_SIGNING_KEY: &str = "RIVERWATCH_SIGNING_KEY";

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): SEQUENCE, algorithm 1.3.101.112,
/// BIT STRING of 32 bytes.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// A key that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KeyError {
    /// The secret seed is not 32 bytes of hex or base64.
    #[error("{ENV_SIGNING_KEY}: expected a 32-byte seed as 64 hex digits or base64 ({0})")]
    BadSeed(String),
    /// A public key is not 32 bytes of hex (or PEM), or not a valid curve point.
    #[error("public key `{0}`: expected 64 hex digits or an Ed25519 PEM public key")]
    BadPublicKey(String),
}

/// The secret signing key. Debug prints only the public half.
#[derive(Clone)]
pub struct Signer {
    key: SigningKey,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signer({})", self.public_key())
    }
}

impl Signer {
    /// The key in [`ENV_SIGNING_KEY`]; `None` when the variable is unset or empty.
    pub fn from_env() -> Result<Option<Self>, KeyError> {
        match std::env::var(ENV_SIGNING_KEY) {
            Ok(v) if !v.trim().is_empty() => Self::from_seed_text(&v).map(Some),
            _ => Ok(None),
        }
    }

    /// A key from its seed written as 64 hex digits or as base64 of 32 bytes.
    pub fn from_seed_text(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        let bytes = unhex(text)
            .filter(|b| b.len() == 32)
            .or_else(|| base64::engine::general_purpose::STANDARD.decode(text).ok())
            .ok_or_else(|| KeyError::BadSeed("neither hex nor base64".into()))?;
        let seed: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| KeyError::BadSeed(format!("{} bytes", b.len())))?;
        Ok(Self::from_seed(seed))
    }

    /// A key from its 32-byte seed.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self {
            key: SigningKey::from_bytes(&seed),
        }
    }

    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.key.verifying_key())
    }

    /// The Ed25519 signature of `message`, as hex.
    pub fn sign(&self, message: &[u8]) -> String {
        hex(&self.key.sign(message).to_bytes())
    }
}

/// An Ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl fmt::Display for PublicKey {
    /// Lower-case hex of the 32 key bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(self.0.as_bytes()))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

impl PublicKey {
    /// Parses 64 hex digits or a PEM `PUBLIC KEY` block.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let bad = || KeyError::BadPublicKey(text.trim().chars().take(80).collect());
        let bytes = if text.contains("-----BEGIN PUBLIC KEY-----") {
            let body: String = text
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<Vec<_>>()
                .concat();
            let der = base64::engine::general_purpose::STANDARD
                .decode(body.trim())
                .map_err(|_| bad())?;
            der.strip_prefix(&SPKI_PREFIX[..]).ok_or_else(bad)?.to_vec()
        } else {
            unhex(text).ok_or_else(bad)?
        };
        let arr: [u8; 32] = bytes.try_into().map_err(|_| bad())?;
        VerifyingKey::from_bytes(&arr).map(Self).map_err(|_| bad())
    }

    /// The key as a PEM SubjectPublicKeyInfo (what `openssl pkey -pubin` reads).
    pub fn pem(&self) -> String {
        let mut der = SPKI_PREFIX.to_vec();
        der.extend_from_slice(self.0.as_bytes());
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(der)
        )
    }

    /// Whether `signature` (hex) is this key's signature of `message`.
    pub fn verifies(&self, message: &[u8], signature: &str) -> bool {
        let Some(Ok(bytes)) = unhex(signature).map(<[u8; 64]>::try_from) else {
            return false;
        };
        self.0
            .verify(message, &Signature::from_bytes(&bytes))
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_verifies_only_with_its_own_key() {
        let a = Signer::from_seed([7; 32]);
        let b = Signer::from_seed([8; 32]);
        let sig = a.sign(b"sealed");
        assert!(a.public_key().verifies(b"sealed", &sig));
        assert!(!a.public_key().verifies(b"sealeD", &sig));
        assert!(!b.public_key().verifies(b"sealed", &sig));
        assert!(!a.public_key().verifies(b"sealed", "00ff"));
    }

    #[test]
    fn seed_and_public_key_formats_round_trip() {
        let hex_seed = "07".repeat(32);
        let b64_seed = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        let a = Signer::from_seed_text(&hex_seed).unwrap();
        let b = Signer::from_seed_text(&b64_seed).unwrap();
        assert_eq!(a.public_key(), b.public_key());
        assert!(matches!(
            Signer::from_seed_text("0707"),
            Err(KeyError::BadSeed(_))
        ));
        let pk = a.public_key();
        assert_eq!(PublicKey::parse(&pk.to_string()).unwrap(), pk);
        assert_eq!(PublicKey::parse(&pk.pem()).unwrap(), pk);
        assert!(PublicKey::parse("nothex").is_err());
        assert!(!format!("{a:?}").contains(&hex_seed));
    }
}
