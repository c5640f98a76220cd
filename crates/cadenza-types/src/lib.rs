//! Cadenza's shared vocabulary: identifiers, amounts, the canonical byte encoding, domain-separated
//! hashing, ed25519 signatures and the formats of everything that is signed (transactions,
//! receipts, vouchers).
//!
//! Architecture invariant: this crate does no IO, reads no clock and draws no randomness. Every
//! byte layout that is signed or hashed is defined here, documented in `docs/encoding.md`, and
//! pinned by the test vectors in `testdata/vectors.json`, which the JavaScript client is tested
//! against as well.

pub mod amount;
pub mod crypto;
pub mod encoding;
pub mod hash;
pub mod ids;
pub mod licence;
pub mod stream;
pub mod tx;

pub use amount::{Amount, I256, U256};
pub use crypto::{SecretKey, Signature, SignatureError};
pub use encoding::{Decode, DecodeError, Encode, Reader};
pub use hash::{Domain, Hash};
pub use ids::{AccountId, AssetId, ChainId, ChannelId, ParseIdError, TrackId};
pub use licence::{Licence, Price, Territory, Uses};
pub use stream::{Receipt, ReceiptChain, SignedVoucher, Voucher};
pub use tx::{Action, ChannelUpdate, Holder, SignedTransaction, TrackMetadata, Transaction};
