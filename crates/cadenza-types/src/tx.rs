//! Transactions: `{chain_id, signer, nonce, fee, action}` signed by the signer.
//!
//! The signer signs the transaction hash `H_tx(encoding)`; the same hash is the transaction's id
//! and its idempotency key. The nonce is strictly sequential per account, which is what makes a
//! replayed transaction fail.

use crate::amount::Amount;
use crate::crypto::{SecretKey, Signature};
use crate::encoding::{Decode, DecodeError, Encode, Reader, Writer};
use crate::hash::{Domain, Hash, hash};
use crate::ids::{AccountId, AssetId, ChainId, ChannelId, TrackId};
use crate::licence::Licence;
use crate::stream::{RECEIPT_LEN, Receipt, SignedVoucher};

/// The longest asset symbol, in bytes.
pub const SYMBOL_MAX_LEN: usize = 12;
/// The longest track title or artist name, in bytes.
pub const TEXT_MAX_LEN: usize = 256;
/// The longest ISRC, in bytes (an ISRC is exactly 12 characters once hyphens are removed).
pub const ISRC_MAX_LEN: usize = 12;

/// Whether `isrc` has the ISRC shape: country (2 letters), registrant (3 alphanumerics), year (2
/// digits), designation (5 digits), without hyphens.
pub fn valid_isrc(isrc: &str) -> bool {
    let b = isrc.as_bytes();
    b.len() == ISRC_MAX_LEN
        && b[..2].iter().all(u8::is_ascii_uppercase)
        && b[2..5]
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        && b[5..].iter().all(u8::is_ascii_digit)
}
/// The most holders a track may be registered with.
pub const HOLDERS_MAX: usize = 64;
/// The most channels one settlement transaction may carry.
pub const UPDATES_MAX: usize = 4_096;
/// The most receipts one channel update may carry.
pub const RECEIPTS_PER_UPDATE_MAX: usize = 100_000;

/// One holder of a track's royalty shares at registration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Holder {
    /// Who holds them.
    pub account: AccountId,
    /// How many of the track's 1,000,000 shares.
    pub shares: u32,
}

/// Descriptive data of a track.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackMetadata {
    /// The title.
    pub title: String,
    /// The performing artist, as credited.
    pub artist: String,
    /// The International Standard Recording Code, 12 characters without hyphens.
    pub isrc: Option<String>,
}

/// The receipts of one channel since its last settlement, and the voucher that covers them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelUpdate {
    /// The newest voucher.
    pub voucher: SignedVoucher,
    /// Every receipt after the last settled one, in order.
    pub receipts: Vec<Receipt>,
}

/// The layout inside `SettleChannels`: the signed voucher, then the counted receipts. Also how a
/// listener sends an update to a provider.
impl Encode for ChannelUpdate {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.voucher.encode_to(out);
        out.put_len(self.receipts.len());
        for r in &self.receipts {
            r.encode_to(out);
        }
    }
}

impl Decode for ChannelUpdate {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ChannelUpdate {
            voucher: SignedVoucher::decode_from(r)?,
            receipts: r.list(
                "receipts",
                RECEIPTS_PER_UPDATE_MAX,
                RECEIPT_LEN,
                Receipt::decode_from,
            )?,
        })
    }
}

/// What a transaction does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Moves `amount` of `asset` to `to`.
    Transfer {
        /// The recipient.
        to: AccountId,
        /// The asset.
        asset: AssetId,
        /// How much.
        amount: Amount,
    },
    /// Creates an asset issued by the signer.
    CreateAsset {
        /// Its ticker, 1 to 12 characters of A-Z, 0-9.
        symbol: String,
        /// How many decimal places a whole unit has.
        decimals: u8,
    },
    /// Mints an asset the signer issued.
    Mint {
        /// The asset.
        asset: AssetId,
        /// The recipient.
        to: AccountId,
        /// How much.
        amount: Amount,
    },
    /// Burns some of the signer's balance of an asset.
    Burn {
        /// The asset.
        asset: AssetId,
        /// How much.
        amount: Amount,
    },
    /// Asks the devnet faucet for its drip (refused where no faucet is configured).
    Faucet,
    /// Registers a track; the signer becomes its controller.
    RegisterTrack {
        /// BLAKE3 of the compressed audio packets; the track id derives from it.
        essence_id: Hash,
        /// BLAKE3 of the distributed file.
        blob_id: Hash,
        /// Title, artist, ISRC.
        metadata: TrackMetadata,
        /// The licence terms.
        licence: Licence,
        /// Who receives the 1,000,000 royalty shares.
        holders: Vec<Holder>,
    },
    /// Replaces a track's licence (controller only).
    UpdateLicence {
        /// The track.
        track: TrackId,
        /// The new terms.
        licence: Licence,
    },
    /// Opens a payment channel from the signer to `provider`, escrowing `deposit`.
    OpenChannel {
        /// Who serves the streams and may settle them.
        provider: AccountId,
        /// The asset paid.
        asset: AssetId,
        /// The amount escrowed.
        deposit: Amount,
        /// Block time at which the channel closes by itself.
        expiry_ms: u64,
    },
    /// Adds to a channel's escrow (owner only, while open).
    TopUp {
        /// The channel.
        channel: ChannelId,
        /// How much.
        amount: Amount,
    },
    /// Starts a channel's challenge window (owner or provider).
    CloseChannel {
        /// The channel.
        channel: ChannelId,
    },
    /// Returns what is left in a channel to its owner once the challenge window is over.
    Withdraw {
        /// The channel.
        channel: ChannelId,
    },
    /// Settles the newest vouchers of one or more channels (anyone may submit).
    SettleChannels {
        /// One update per channel.
        updates: Vec<ChannelUpdate>,
    },
    /// Pays the signer its share of a track's revenue in `asset`.
    Claim {
        /// The track.
        track: TrackId,
        /// The revenue asset.
        asset: AssetId,
    },
}

impl Action {
    /// A short stable name of the action, for logs, metrics and error messages.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Transfer { .. } => "transfer",
            Action::CreateAsset { .. } => "create_asset",
            Action::Mint { .. } => "mint",
            Action::Burn { .. } => "burn",
            Action::Faucet => "faucet",
            Action::RegisterTrack { .. } => "register_track",
            Action::UpdateLicence { .. } => "update_licence",
            Action::OpenChannel { .. } => "open_channel",
            Action::TopUp { .. } => "top_up",
            Action::CloseChannel { .. } => "close_channel",
            Action::Withdraw { .. } => "withdraw",
            Action::SettleChannels { .. } => "settle_channels",
            Action::Claim { .. } => "claim",
        }
    }
}

fn put_amount(out: &mut Vec<u8>, a: Amount) {
    a.get().encode_to(out);
}

impl Encode for Action {
    fn encode_to(&self, out: &mut Vec<u8>) {
        match self {
            Action::Transfer { to, asset, amount } => {
                out.push(0);
                to.encode_to(out);
                asset.encode_to(out);
                put_amount(out, *amount);
            }
            Action::CreateAsset { symbol, decimals } => {
                out.push(1);
                out.put_bytes(symbol.as_bytes());
                out.push(*decimals);
            }
            Action::Mint { asset, to, amount } => {
                out.push(2);
                asset.encode_to(out);
                to.encode_to(out);
                put_amount(out, *amount);
            }
            Action::Burn { asset, amount } => {
                out.push(3);
                asset.encode_to(out);
                put_amount(out, *amount);
            }
            Action::Faucet => out.push(4),
            Action::RegisterTrack {
                essence_id,
                blob_id,
                metadata,
                licence,
                holders,
            } => {
                out.push(5);
                essence_id.encode_to(out);
                blob_id.encode_to(out);
                out.put_bytes(metadata.title.as_bytes());
                out.put_bytes(metadata.artist.as_bytes());
                out.put_option(&metadata.isrc, |o, s| o.put_bytes(s.as_bytes()));
                licence.encode_to(out);
                out.put_len(holders.len());
                for h in holders {
                    h.account.encode_to(out);
                    h.shares.encode_to(out);
                }
            }
            Action::UpdateLicence { track, licence } => {
                out.push(6);
                track.encode_to(out);
                licence.encode_to(out);
            }
            Action::OpenChannel {
                provider,
                asset,
                deposit,
                expiry_ms,
            } => {
                out.push(7);
                provider.encode_to(out);
                asset.encode_to(out);
                put_amount(out, *deposit);
                expiry_ms.encode_to(out);
            }
            Action::TopUp { channel, amount } => {
                out.push(8);
                channel.encode_to(out);
                put_amount(out, *amount);
            }
            Action::CloseChannel { channel } => {
                out.push(9);
                channel.encode_to(out);
            }
            Action::Withdraw { channel } => {
                out.push(10);
                channel.encode_to(out);
            }
            Action::SettleChannels { updates } => {
                out.push(11);
                out.put_len(updates.len());
                for u in updates {
                    u.encode_to(out);
                }
            }
            Action::Claim { track, asset } => {
                out.push(12);
                track.encode_to(out);
                asset.encode_to(out);
            }
        }
    }
}

fn amount(r: &mut Reader<'_>) -> Result<Amount, DecodeError> {
    Ok(Amount::new(r.u128()?))
}

/// The smallest encoded voucher with its signature: a 1-byte chain id and fixed fields.
const SIGNED_VOUCHER_MIN_LEN: usize = 4 + 1 + 32 + 8 + 16 + 32 + 64;

impl Decode for Action {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let tag = r.u8()?;
        Ok(match tag {
            0 => Action::Transfer {
                to: AccountId::decode_from(r)?,
                asset: AssetId::decode_from(r)?,
                amount: amount(r)?,
            },
            1 => Action::CreateAsset {
                symbol: r.string("asset symbol", SYMBOL_MAX_LEN)?,
                decimals: r.u8()?,
            },
            2 => Action::Mint {
                asset: AssetId::decode_from(r)?,
                to: AccountId::decode_from(r)?,
                amount: amount(r)?,
            },
            3 => Action::Burn {
                asset: AssetId::decode_from(r)?,
                amount: amount(r)?,
            },
            4 => Action::Faucet,
            5 => Action::RegisterTrack {
                essence_id: Hash::decode_from(r)?,
                blob_id: Hash::decode_from(r)?,
                metadata: TrackMetadata {
                    title: r.string("title", TEXT_MAX_LEN)?,
                    artist: r.string("artist", TEXT_MAX_LEN)?,
                    isrc: r.option("isrc", |r| r.string("isrc", ISRC_MAX_LEN))?,
                },
                licence: Licence::decode_from(r)?,
                holders: r.list("holders", HOLDERS_MAX, 36, |r| {
                    Ok(Holder {
                        account: AccountId::decode_from(r)?,
                        shares: r.u32()?,
                    })
                })?,
            },
            6 => Action::UpdateLicence {
                track: TrackId::decode_from(r)?,
                licence: Licence::decode_from(r)?,
            },
            7 => Action::OpenChannel {
                provider: AccountId::decode_from(r)?,
                asset: AssetId::decode_from(r)?,
                deposit: amount(r)?,
                expiry_ms: r.u64()?,
            },
            8 => Action::TopUp {
                channel: ChannelId::decode_from(r)?,
                amount: amount(r)?,
            },
            9 => Action::CloseChannel {
                channel: ChannelId::decode_from(r)?,
            },
            10 => Action::Withdraw {
                channel: ChannelId::decode_from(r)?,
            },
            11 => Action::SettleChannels {
                updates: r.list(
                    "channel updates",
                    UPDATES_MAX,
                    SIGNED_VOUCHER_MIN_LEN + 4,
                    ChannelUpdate::decode_from,
                )?,
            },
            12 => Action::Claim {
                track: TrackId::decode_from(r)?,
                asset: AssetId::decode_from(r)?,
            },
            tag => {
                return Err(DecodeError::BadTag {
                    what: "action",
                    tag,
                });
            }
        })
    }
}

/// An unsigned transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transaction {
    /// The chain it is valid on.
    pub chain_id: ChainId,
    /// Who signs it and pays its fee.
    pub signer: AccountId,
    /// The signer's next nonce (0 for its first transaction).
    pub nonce: u64,
    /// The fee, in base units of the native asset.
    pub fee: Amount,
    /// What it does.
    pub action: Action,
}

impl Transaction {
    /// The transaction hash `H_tx(encoding)`: what is signed and the transaction's id.
    pub fn hash(&self) -> Hash {
        hash(Domain::Tx, &self.to_bytes())
    }

    /// Signs the transaction with `key`, which should be the signer's.
    pub fn sign(self, key: &SecretKey) -> SignedTransaction {
        let signature = key.sign(self.hash().as_bytes());
        SignedTransaction {
            tx: self,
            signature,
        }
    }
}

/// Room for a common transaction's encoding (to hash it, to send it): see [`Encode::size_hint`].
const TYPICAL_TX_BYTES: usize = 256;

impl Encode for Transaction {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.chain_id.encode_to(out);
        self.signer.encode_to(out);
        self.nonce.encode_to(out);
        put_amount(out, self.fee);
        self.action.encode_to(out);
    }

    fn size_hint(&self) -> usize {
        TYPICAL_TX_BYTES
    }
}

impl Decode for Transaction {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Transaction {
            chain_id: ChainId::decode_from(r)?,
            signer: AccountId::decode_from(r)?,
            nonce: r.u64()?,
            fee: amount(r)?,
            action: Action::decode_from(r)?,
        })
    }
}

/// A transaction and its signer's signature over [`Transaction::hash`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedTransaction {
    /// The transaction.
    pub tx: Transaction,
    /// The signature.
    pub signature: Signature,
}

impl SignedTransaction {
    /// The transaction's id (the hash of the unsigned transaction).
    pub fn hash(&self) -> Hash {
        self.tx.hash()
    }
}

impl Encode for SignedTransaction {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.tx.encode_to(out);
        self.signature.encode_to(out);
    }

    fn size_hint(&self) -> usize {
        // The transaction, then its 64-byte Ed25519 signature.
        TYPICAL_TX_BYTES + 64
    }
}

impl Decode for SignedTransaction {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(SignedTransaction {
            tx: Transaction::decode_from(r)?,
            signature: Signature::decode_from(r)?,
        })
    }
}
