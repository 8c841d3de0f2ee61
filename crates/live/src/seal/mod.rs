//! Evidence integrity (issue 7): what makes a lead worth something to a prosecutor — proof that
//! the readings behind it were not altered since, and that the same engine and settings, run
//! again, give the same lead.
//!
//! The pieces, each in its own file:
//! - [`evidence`]: the canonical serialisation of a lead's evidence readings (the long CSV of the
//!   offline contract, in store order) and where exactly that set ends, so that a later re-read
//!   of the store gives the same bytes, hence the same SHA-256 (the service seals the readings
//!   it made durable, from memory; the re-read checks that the store still has them);
//! - [`keys`]: the optional Ed25519 signing key (secret from [`ENV_SIGNING_KEY`], never a file)
//!   and public-key formats that common tools read;
//! - [`ingest`]: per-station hash chains over the raw payloads accepted, checkpointed into the
//!   ledger's chain;
//! - [`verify`]: re-checking one lead — chain, signature, evidence, config, replay;
//! - [`bundle`]: the evidence bundle of a verified lead, written as a directory by
//!   `riverwatch verify export` and served as a zip archive by the API.
//!
//! The ledger side — the one hash chain over every sealed row — is `ledger::chain`.

pub mod bundle;
pub mod config_diff;
pub mod evidence;
mod evidence_chart;
pub mod ingest;
pub mod keys;
pub mod records;
pub mod verify;

pub use keys::{PublicKey, Signer, ENV_SIGNING_KEY};

use sha2::{Digest, Sha256};

/// The digest before the first chain entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Bytes of a hex string (either case); `None` when it is not hex of whole bytes.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim().as_bytes();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let nibble = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    s.chunks(2)
        .map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?))
        .collect()
}

/// SHA-256 of `bytes` as lower-case hex (what `sha256sum` prints).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// One link of a payload chain: SHA-256(previous head ‖ time as 8 bytes big-endian ‖ parts).
/// Ingest chains link `[payload]`; the dead-letter chain links `[topic, 0x00, payload]`.
pub fn link(prev: &[u8; 32], time: riverwatch_engine::time::Millis, parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(time.to_be_bytes());
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// A 32-byte digest from its hex; `None` when malformed.
pub fn digest_bytes(hex_digest: &str) -> Option<[u8; 32]> {
    unhex(hex_digest)?.try_into().ok()
}

/// The riverwatch version that sealed a record.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_refuses_non_hex() {
        assert_eq!(hex(&[0, 0xab, 0xff]), "00abff");
        assert_eq!(unhex("00ABff"), Some(vec![0, 0xab, 0xff]));
        assert_eq!(unhex("0g"), None);
        assert_eq!(unhex("abc"), None);
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
