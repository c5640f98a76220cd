//! Domain-separated BLAKE3.
//!
//! Every hash in Cadenza belongs to exactly one [`Domain`]. A domain's key is
//! `BLAKE3-derive_key(context, "")` with the context string `cadenza/<purpose>/v1`, and a hash in
//! that domain is `BLAKE3-keyed_hash(domain key, message)`. Deriving the key once per domain keeps
//! the per-message cost at that of plain BLAKE3, which matters for receipt chains, while two
//! domains can never produce the same hash for the same bytes.

use std::fmt;
use std::sync::LazyLock;

/// A 32-byte BLAKE3 digest.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The all-zero value, used where "no hash yet" must be encoded.
    pub const ZERO: Hash = Hash([0; 32]);

    /// The digest's bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lower-case hex of the digest.
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
            s.push(char::from_digit(u32::from(b & 0xf), 16).unwrap_or('0'));
        }
        s
    }

    /// Parses 64 hex digits (either case).
    pub fn from_hex(text: &str) -> Option<Hash> {
        let text = text.strip_prefix("0x").unwrap_or(text);
        if text.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, pair) in text.as_bytes().chunks_exact(2).enumerate() {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            out[i] = (hi * 16 + lo) as u8;
        }
        Some(Hash(out))
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_hex())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The purposes a Cadenza hash may serve. Adding a domain is a protocol change; the context
/// strings never change once released.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Domain {
    /// Transaction hash: what a transaction's signer signs, and its idempotency key.
    Tx,
    /// Voucher hash: what a channel owner signs.
    Voucher,
    /// The per-channel receipt hash chain.
    Receipts,
    /// Track ids, derived from essence ids.
    Track,
    /// Channel ids, derived from the opener and their nonce.
    Channel,
    /// Asset ids.
    Asset,
    /// Module accounts (treasury, faucet) that no key controls.
    Module,
    /// Leaves and nodes of the state commitment.
    State,
    /// Seeds of the coefficients of batch signature verification.
    BatchSeed,
}

impl Domain {
    /// Every domain, in the order `docs/encoding.md` lists them.
    pub const ALL: [Domain; 9] = [
        Domain::Tx,
        Domain::Voucher,
        Domain::Receipts,
        Domain::Track,
        Domain::Channel,
        Domain::Asset,
        Domain::Module,
        Domain::State,
        Domain::BatchSeed,
    ];

    /// The BLAKE3 derive-key context string of this domain.
    pub const fn context(self) -> &'static str {
        match self {
            Domain::Tx => "cadenza/tx/v1",
            Domain::Voucher => "cadenza/voucher/v1",
            Domain::Receipts => "cadenza/receipts/v1",
            Domain::Track => "cadenza/track/v1",
            Domain::Channel => "cadenza/channel/v1",
            Domain::Asset => "cadenza/asset/v1",
            Domain::Module => "cadenza/module/v1",
            Domain::State => "cadenza/state/v1",
            Domain::BatchSeed => "cadenza/batch-seed/v1",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// The 32-byte key of this domain: `BLAKE3-derive_key(context, "")`.
    pub fn key(self) -> &'static [u8; 32] {
        static KEYS: LazyLock<[[u8; 32]; 9]> =
            LazyLock::new(|| Domain::ALL.map(|d| blake3::derive_key(d.context(), b"")));
        &KEYS[self.index()]
    }
}

/// Hashes `message` in `domain`.
pub fn hash(domain: Domain, message: &[u8]) -> Hash {
    Hash(*blake3::keyed_hash(domain.key(), message).as_bytes())
}

/// An incremental hasher in one domain, for messages made of several parts.
pub struct Hasher(blake3::Hasher);

impl Hasher {
    /// A hasher for `domain`.
    pub fn new(domain: Domain) -> Self {
        Hasher(blake3::Hasher::new_keyed(domain.key()))
    }

    /// Appends bytes to the message.
    pub fn update(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.update(bytes);
        self
    }

    /// The hash of everything appended.
    pub fn finalize(&self) -> Hash {
        Hash(*self.0.finalize().as_bytes())
    }

    /// An extendable output reader over everything appended (used to seed deterministic
    /// coefficient streams).
    pub fn finalize_xof(&self) -> blake3::OutputReader {
        self.0.finalize_xof()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_separate() {
        let a = hash(Domain::Tx, b"same bytes");
        let b = hash(Domain::Voucher, b"same bytes");
        assert_ne!(a, b);
        let mut h = Hasher::new(Domain::Tx);
        h.update(b"same ").update(b"bytes");
        assert_eq!(h.finalize(), a);
    }

    #[test]
    fn hex_round_trip() {
        let h = hash(Domain::State, b"x");
        assert_eq!(Hash::from_hex(&h.to_hex()), Some(h));
        assert_eq!(Hash::from_hex("zz"), None);
    }
}
