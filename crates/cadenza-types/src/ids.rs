//! Identifiers: accounts (ed25519 public keys shown as `did:key`), assets, tracks, channels and
//! chains. Derived ids are domain-separated hashes, so each kind of id lives in its own space.

use std::fmt;
use std::str::FromStr;

use crate::encoding::{Decode, DecodeError, Encode, Reader, Writer};
use crate::hash::{Domain, Hash, Hasher, hash};

/// The multicodec prefix of an ed25519 public key (`0xed`, varint-encoded as `0xed 0x01`).
const ED25519_MULTICODEC: [u8; 2] = [0xed, 0x01];
/// What every ed25519 `did:key` starts with: the method and the base58btc multibase prefix.
const DID_KEY_PREFIX: &str = "did:key:z";

/// Why an identifier could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseIdError {
    /// Not a `did:key` at all.
    #[error("`{0}` is not a did:key; accounts look like did:key:z6Mk...")]
    NotDidKey(String),
    /// A `did:key` of another key type, or with a broken encoding.
    #[error("`{0}` is not an ed25519 did:key (expected base58btc of 0xed01 followed by 32 bytes)")]
    BadDidKey(String),
    /// Not 64 hex digits.
    #[error("`{0}` is not a 32-byte id; expected 64 hex digits")]
    BadHex(String),
    /// A chain id with characters or a length outside the rules.
    #[error("`{0}` is not a chain id: use 1 to 32 characters of a-z, 0-9 and -")]
    BadChainId(String),
}

/// An account: the 32-byte ed25519 public key that signs for it, or the id of a module account
/// (treasury, faucet) that no key controls.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId(pub [u8; 32]);

impl AccountId {
    /// The raw key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The id of the module account called `name`. Module ids are hashes: some happen to decode
    /// as curve points, but finding a private key for one is as hard as inverting BLAKE3 and
    /// solving a discrete logarithm, so only the ledger moves their funds.
    pub fn module(name: &str) -> AccountId {
        AccountId(hash(Domain::Module, name.as_bytes()).0)
    }

    /// The `did:key` form, `did:key:z6Mk...`.
    pub fn to_did(&self) -> String {
        let mut raw = [0u8; 34];
        raw[..2].copy_from_slice(&ED25519_MULTICODEC);
        raw[2..].copy_from_slice(&self.0);
        format!("{DID_KEY_PREFIX}{}", bs58::encode(raw).into_string())
    }

    /// Parses the `did:key` form.
    pub fn from_did(text: &str) -> Result<AccountId, ParseIdError> {
        let Some(b58) = text.strip_prefix(DID_KEY_PREFIX) else {
            return Err(ParseIdError::NotDidKey(text.to_owned()));
        };
        let raw = bs58::decode(b58)
            .into_vec()
            .map_err(|_| ParseIdError::BadDidKey(text.to_owned()))?;
        if raw.len() != 34 || raw[..2] != ED25519_MULTICODEC {
            return Err(ParseIdError::BadDidKey(text.to_owned()));
        }
        let mut key = [0u8; 32];
        key.copy_from_slice(&raw[2..]);
        Ok(AccountId(key))
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_did())
    }
}

impl fmt::Debug for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_did())
    }
}

impl FromStr for AccountId {
    type Err = ParseIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AccountId::from_did(s)
    }
}

macro_rules! hash_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub Hash);

        impl $name {
            /// The id's bytes.
            pub fn as_bytes(&self) -> &[u8; 32] {
                &self.0 .0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), &self.0.to_hex()[..16])
            }
        }

        impl FromStr for $name {
            type Err = ParseIdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Hash::from_hex(s).map($name).ok_or_else(|| ParseIdError::BadHex(s.to_owned()))
            }
        }

        impl Encode for $name {
            fn encode_to(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(self.as_bytes());
            }
        }

        impl Decode for $name {
            fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                Ok($name(Hash(r.array()?)))
            }
        }
    };
}

hash_id!(
    /// An asset in the bank: the native `CDZ`, an issued asset, or an asset the ledger creates
    /// (a track's royalty shares).
    AssetId
);
hash_id!(
    /// A track, derived from its essence id, so one recording is registered once.
    TrackId
);
hash_id!(
    /// A payment channel, derived from its opener and the nonce of the opening transaction.
    ChannelId
);

impl AssetId {
    /// An asset created at genesis without an issuer, such as the native `CDZ`.
    pub fn genesis(symbol: &str) -> AssetId {
        let mut h = Hasher::new(Domain::Asset);
        h.update(&[0]).update(symbol.as_bytes());
        AssetId(h.finalize())
    }

    /// An asset issued by `issuer` under `symbol`.
    pub fn issued(issuer: &AccountId, symbol: &str) -> AssetId {
        let mut h = Hasher::new(Domain::Asset);
        h.update(&[1])
            .update(issuer.as_bytes())
            .update(symbol.as_bytes());
        AssetId(h.finalize())
    }

    /// The royalty shares of `track`.
    pub fn shares(track: &TrackId) -> AssetId {
        let mut h = Hasher::new(Domain::Asset);
        h.update(&[2]).update(track.as_bytes());
        AssetId(h.finalize())
    }
}

impl TrackId {
    /// The id of the track whose audio has `essence_id`.
    pub fn from_essence(essence_id: &Hash) -> TrackId {
        TrackId(hash(Domain::Track, essence_id.as_bytes()))
    }
}

impl ChannelId {
    /// The id of the channel opened by `owner` in its transaction with `nonce`.
    pub fn derive(owner: &AccountId, nonce: u64) -> ChannelId {
        let mut h = Hasher::new(Domain::Channel);
        h.update(owner.as_bytes()).update(&nonce.to_le_bytes());
        ChannelId(h.finalize())
    }
}

impl Encode for AccountId {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
}

impl Decode for AccountId {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(AccountId(r.array()?))
    }
}

impl Encode for Hash {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
}

impl Decode for Hash {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Hash(r.array()?))
    }
}

/// The longest chain id.
pub const CHAIN_ID_MAX_LEN: usize = 32;

/// The name of a chain (`cadenza-devnet`), part of every signed payload so that a signature for
/// one chain is worthless on another.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct ChainId(String);

impl ChainId {
    /// Checks and wraps a chain id: 1 to 32 characters of `a-z`, `0-9` and `-`.
    pub fn new(name: &str) -> Result<ChainId, ParseIdError> {
        let ok = !name.is_empty()
            && name.len() <= CHAIN_ID_MAX_LEN
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(ChainId(name.to_owned()))
        } else {
            Err(ParseIdError::BadChainId(name.to_owned()))
        }
    }

    /// The chain id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Encode for ChainId {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.put_bytes(self.0.as_bytes());
    }
}

impl Decode for ChainId {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let name = r.string("chain id", CHAIN_ID_MAX_LEN)?;
        ChainId::new(&name).map_err(|_| DecodeError::Invalid {
            what: "chain id",
            why: "only a-z, 0-9 and - are allowed, 1 to 32 characters",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn did_key_round_trip() {
        // The W3C did:key test vector for an ed25519 key.
        let did = "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp";
        let id = AccountId::from_did(did).unwrap();
        assert_eq!(id.to_did(), did);
        assert!(id.to_did().starts_with("did:key:z6Mk"));
    }

    #[test]
    fn did_key_errors_say_what_is_expected() {
        assert!(matches!(
            AccountId::from_did("z6Mk"),
            Err(ParseIdError::NotDidKey(_))
        ));
        assert!(matches!(
            AccountId::from_did("did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooW"),
            Err(ParseIdError::BadDidKey(_))
        ));
        // A secp256k1 did:key (multicodec 0xe7) is refused.
        assert!(matches!(
            AccountId::from_did("did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme"),
            Err(ParseIdError::BadDidKey(_))
        ));
    }

    #[test]
    fn chain_ids_are_checked() {
        assert!(ChainId::new("cadenza-devnet").is_ok());
        assert!(ChainId::new("").is_err());
        assert!(ChainId::new("Cadenza").is_err());
        assert!(ChainId::new(&"a".repeat(33)).is_err());
    }
}
