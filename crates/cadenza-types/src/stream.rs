//! Receipts and vouchers: how a listener pays for streams off-chain.
//!
//! Each stream gets a [`Receipt`]. A channel's receipts form a hash chain
//! (`h0 = H_receipts(channel_id)`, `hn = H_receipts(hn-1 ‖ receipt_n)`), and a [`Voucher`] signed by
//! the channel's owner commits to the chain's head, the number of receipts and their total. One
//! signature therefore covers every receipt before it: settlement checks one signature per channel
//! and then only hashes.

use crate::amount::Amount;
use crate::crypto::{SecretKey, Signature};
use crate::encoding::{Decode, DecodeError, Encode, Reader};
use crate::hash::{Domain, Hash, hash};
use crate::ids::{ChainId, ChannelId, TrackId};

/// The encoded size of a receipt.
pub const RECEIPT_LEN: usize = 64;

/// One stream of one track, as the listener attests it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// The track streamed.
    pub track: TrackId,
    /// What the listener pays for this stream, in the channel's asset.
    pub amount: Amount,
    /// How long the listener played it.
    pub played_ms: u64,
    /// When the stream started, by the listener's clock (ms since the Unix epoch).
    pub at_ms: u64,
}

impl Receipt {
    /// The fixed 64-byte encoding: track ‖ amount (u128 LE) ‖ played_ms (u64 LE) ‖ at_ms (u64 LE).
    pub fn to_array(&self) -> [u8; RECEIPT_LEN] {
        let mut out = [0u8; RECEIPT_LEN];
        out[..32].copy_from_slice(self.track.as_bytes());
        out[32..48].copy_from_slice(&self.amount.get().to_le_bytes());
        out[48..56].copy_from_slice(&self.played_ms.to_le_bytes());
        out[56..64].copy_from_slice(&self.at_ms.to_le_bytes());
        out
    }
}

impl Encode for Receipt {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_array());
    }
}

impl Decode for Receipt {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Receipt {
            track: TrackId::decode_from(r)?,
            amount: Amount::new(r.u128()?),
            played_ms: r.u64()?,
            at_ms: r.u64()?,
        })
    }
}

/// The receipt hash chain of one channel.
pub struct ReceiptChain;

impl ReceiptChain {
    /// The head of a channel's chain before any receipt: `H_receipts(channel_id)`.
    pub fn start(channel: &ChannelId) -> Hash {
        hash(Domain::Receipts, channel.as_bytes())
    }

    /// The head after appending `receipt` to a chain whose head is `prev`:
    /// `H_receipts(prev ‖ receipt)`, a 96-byte message.
    pub fn next(prev: &Hash, receipt: &Receipt) -> Hash {
        let mut msg = [0u8; 32 + RECEIPT_LEN];
        msg[..32].copy_from_slice(prev.as_bytes());
        msg[32..].copy_from_slice(&receipt.to_array());
        hash(Domain::Receipts, &msg)
    }

    /// The head after appending all of `receipts` to `prev`.
    pub fn extend(prev: &Hash, receipts: &[Receipt]) -> Hash {
        receipts.iter().fold(*prev, |h, r| Self::next(&h, r))
    }
}

/// A channel owner's signed promise: "I owe `cumulative` in total for the `seq` receipts whose
/// chain ends at `head`".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Voucher {
    /// The chain this voucher is valid on.
    pub chain_id: ChainId,
    /// The channel it draws on.
    pub channel: ChannelId,
    /// The number of receipts so far.
    pub seq: u64,
    /// The total of those receipts.
    pub cumulative: Amount,
    /// The head of the receipt chain after them.
    pub head: Hash,
}

impl Voucher {
    /// What the owner signs: `H_voucher(encoding)`.
    pub fn signing_hash(&self) -> Hash {
        hash(Domain::Voucher, &self.to_bytes())
    }

    /// Signs the voucher.
    pub fn sign(self, key: &SecretKey) -> SignedVoucher {
        let signature = key.sign(self.signing_hash().as_bytes());
        SignedVoucher {
            voucher: self,
            signature,
        }
    }
}

impl Encode for Voucher {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.chain_id.encode_to(out);
        self.channel.encode_to(out);
        self.seq.encode_to(out);
        self.cumulative.get().encode_to(out);
        self.head.encode_to(out);
    }
}

impl Decode for Voucher {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Voucher {
            chain_id: ChainId::decode_from(r)?,
            channel: ChannelId::decode_from(r)?,
            seq: r.u64()?,
            cumulative: Amount::new(r.u128()?),
            head: Hash::decode_from(r)?,
        })
    }
}

/// A voucher with its owner's signature over [`Voucher::signing_hash`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedVoucher {
    /// The voucher.
    pub voucher: Voucher,
    /// The channel owner's signature.
    pub signature: Signature,
}

impl Encode for SignedVoucher {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.voucher.encode_to(out);
        self.signature.encode_to(out);
    }
}

impl Decode for SignedVoucher {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(SignedVoucher {
            voucher: Voucher::decode_from(r)?,
            signature: Signature::decode_from(r)?,
        })
    }
}
