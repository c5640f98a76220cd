//! The consensus block: a header committing to the transactions and to the state after them,
//! and the transactions themselves.
//!
//! The block travels in Commonware's codec (`Write`/`Read`, every list bounded), while each
//! transaction inside keeps Cadenza's canonical encoding, so a transaction's bytes (and hash) are
//! the same in a block, in the mempool and in a wallet. Decoding is canonical: the varint lengths
//! of Commonware's codec and the canonical transaction decoder both reject alternate encodings,
//! so `encode(decode(b)) == b`.

use bytes::BufMut;
use cadenza_types::{AccountId, Decode as _, Encode as _, SignedTransaction};
use commonware_codec::{Buf, EncodeSize, Error as CodecError, RangeCfg, Read, ReadExt as _, Write};
use commonware_consensus::{BoundedBlock, Heightable, types::Height};
use commonware_cryptography::{Digestible, Hasher as _, blake3};

/// The digest of blocks, transaction lists and states.
pub type Digest = blake3::Digest;

/// The most transactions one block may carry.
pub const MAX_BLOCK_TXS: usize = 4096;
/// The longest encoded transaction a block may carry, in bytes.
pub const MAX_TX_BYTES: usize = 64 * 1024;
/// The most bytes of encoded transactions one block may carry.
pub const MAX_BLOCK_TX_BYTES: usize = 8 * 1024 * 1024;

/// Domain separation of the transactions root.
const TXS_ROOT_DOMAIN: &[u8] = b"cadenza/txs-root/v1";

/// A block of the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// Its height: the parent's plus one (the genesis block is height 0).
    pub height: u64,
    /// The digest of the parent block (all zeros for genesis).
    pub parent: Digest,
    /// Its time, ms since the Unix epoch; never before the parent's.
    pub timestamp_ms: u64,
    /// The validator that proposed it (the consensus leader of its view); it earns the fees.
    pub proposer: AccountId,
    /// [`txs_root`] of `txs`.
    pub txs_root: Digest,
    /// The root of the state store after applying this block's changes.
    pub state_root: Digest,
    /// The transactions, in execution order.
    pub txs: Vec<SignedTransaction>,
}

impl Block {
    /// The genesis block: height 0, no parent, no transactions, the genesis state's root.
    pub fn genesis(timestamp_ms: u64, state_root: Digest) -> Block {
        Block {
            height: 0,
            parent: blake3::Digest([0; 32]),
            timestamp_ms,
            proposer: AccountId([0; 32]),
            txs_root: txs_root(&[]),
            state_root,
            txs: Vec::new(),
        }
    }

    /// The block as the ledger executes it.
    pub fn ledger_block(&self) -> cadenza_ledger::Block {
        cadenza_ledger::Block {
            height: self.height,
            time_ms: self.timestamp_ms,
            proposer: self.proposer,
            txs: self.txs.clone(),
        }
    }
}

/// The root committing to a list of transactions: BLAKE3 over the domain, the count and each
/// transaction hash in order. (A list, not a tree: inclusion proofs of transactions come with the
/// block store's API later.)
pub fn txs_root(txs: &[SignedTransaction]) -> Digest {
    let mut parts: Vec<Vec<u8>> = Vec::with_capacity(txs.len() + 2);
    parts.push(TXS_ROOT_DOMAIN.to_vec());
    parts.push((txs.len() as u64).to_le_bytes().to_vec());
    for tx in txs {
        parts.push(tx.hash().as_bytes().to_vec());
    }
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    blake3::Blake3::hash(&refs)
}

/// Calls `f` with each transaction's canonical encoding in turn, all encoded into one reused
/// buffer (a block's list is encoded several times: for its digest, its size, the wire and the
/// archive; one allocation per transaction each time was a measurable share of a node's CPU).
fn each_encoded_tx(txs: &[SignedTransaction], mut f: impl FnMut(&[u8])) {
    let mut scratch = Vec::with_capacity(1024);
    for tx in txs {
        scratch.clear();
        tx.encode_to(&mut scratch);
        f(&scratch);
    }
}

/// Reads a list of encoded transactions as blocks and gossip carry them (a Commonware-codec
/// list of byte strings): at most `max_txs` of at most [`MAX_TX_BYTES`] each, `max_bytes` in
/// all, every one canonical. `what` names the container in errors.
pub(crate) fn read_txs(
    buf: &mut impl Buf,
    count: std::ops::RangeInclusive<usize>,
    max_bytes: usize,
    what: &'static str,
) -> Result<Vec<SignedTransaction>, CodecError> {
    let cfg = (
        RangeCfg::from(count),
        (RangeCfg::from(0..=MAX_TX_BYTES), ()),
    );
    let raw = Vec::<Vec<u8>>::read_cfg(buf, &cfg)?;
    if raw.iter().map(Vec::len).sum::<usize>() > max_bytes {
        return Err(CodecError::Invalid(
            what,
            "transactions above the byte limit",
        ));
    }
    raw.iter()
        .map(|bytes| {
            SignedTransaction::from_bytes(bytes)
                .map_err(|_| CodecError::Invalid(what, "malformed transaction"))
        })
        .collect()
}

impl Write for Block {
    fn write(&self, buf: &mut impl BufMut) {
        self.height.write(buf);
        self.parent.write(buf);
        self.timestamp_ms.write(buf);
        self.proposer.0.write(buf);
        self.txs_root.write(buf);
        self.state_root.write(buf);
        // As a `Vec<Vec<u8>>` is written (what `read_txs` reads): the count, then each
        // transaction as a length-prefixed byte string.
        self.txs.len().write(buf);
        each_encoded_tx(&self.txs, |tx| tx.write(buf));
    }
}

impl EncodeSize for Block {
    fn encode_size(&self) -> usize {
        self.height.encode_size()
            + self.parent.encode_size()
            + self.timestamp_ms.encode_size()
            + self.proposer.0.encode_size()
            + self.txs_root.encode_size()
            + self.state_root.encode_size()
            + self.txs.len().encode_size()
            + {
                let mut size = 0;
                each_encoded_tx(&self.txs, |tx| size += tx.encode_size());
                size
            }
    }
}

impl Read for Block {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        let height = u64::read(buf)?;
        let parent = Digest::read(buf)?;
        let timestamp_ms = u64::read(buf)?;
        let proposer = AccountId(<[u8; 32]>::read(buf)?);
        let txs_root = Digest::read(buf)?;
        let state_root = Digest::read(buf)?;
        let txs = read_txs(buf, 0..=MAX_BLOCK_TXS, MAX_BLOCK_TX_BYTES, "cadenza block")?;
        Ok(Block {
            height,
            parent,
            timestamp_ms,
            proposer,
            txs_root,
            state_root,
            txs,
        })
    }
}

impl Digestible for Block {
    type Digest = Digest;

    fn digest(&self) -> Digest {
        let mut bytes = Vec::with_capacity(self.encode_size());
        self.write(&mut bytes);
        blake3::Blake3::hash(&[b"cadenza/block/v1", &bytes])
    }
}

impl Heightable for Block {
    fn height(&self) -> Height {
        Height::new(self.height)
    }
}

impl commonware_consensus::Block for Block {
    fn parent(&self) -> Digest {
        self.parent
    }
}

impl BoundedBlock for Block {
    fn max_encode_size(_: &()) -> usize {
        // Fixed fields, then the list: its varint count and each item's varint length and bytes.
        8 + 32 + 8 + 32 + 32 + 32 + 5 + MAX_BLOCK_TXS * 5 + MAX_BLOCK_TX_BYTES
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cadenza_ledger::testkit::Wallet;
    use cadenza_types::{Action, Amount, AssetId, ChainId};
    use commonware_codec::{Decode as _, Encode as _};

    fn sample() -> Block {
        let mut wallet = Wallet::new([7; 32], ChainId::new("test").unwrap(), Amount::new(10));
        let txs: Vec<_> = (0..3)
            .map(|i| {
                wallet.sign(Action::Transfer {
                    to: AccountId([i; 32]),
                    asset: AssetId::genesis("CDZ"),
                    amount: Amount::new(u128::from(i) + 1),
                })
            })
            .collect();
        Block {
            height: 5,
            parent: blake3::Digest([1; 32]),
            timestamp_ms: 1_000,
            proposer: AccountId([2; 32]),
            txs_root: txs_root(&txs),
            state_root: blake3::Digest([3; 32]),
            txs,
        }
    }

    #[test]
    fn block_round_trips_and_rejects_trailing_bytes() {
        let block = sample();
        let bytes = block.encode();
        assert_eq!(bytes.len(), block.encode_size());
        // The list is exactly a Commonware `Vec<Vec<u8>>` of the canonical encodings: what
        // `read_txs` reads, and what the digest of every block already stored covers.
        let list: Vec<Vec<u8>> = block
            .txs
            .iter()
            .map(cadenza_types::Encode::to_bytes)
            .collect();
        assert_eq!(&bytes[8 + 32 + 8 + 32 + 32 + 32..], &list.encode()[..]);
        let decoded = Block::decode_cfg(bytes.clone(), &()).unwrap();
        assert_eq!(decoded, block);
        assert_eq!(decoded.digest(), block.digest());
        let mut longer = bytes.to_vec();
        longer.push(0);
        assert!(Block::decode_cfg(bytes::Bytes::from(longer), &()).is_err());
    }

    #[test]
    fn block_with_a_corrupt_transaction_is_rejected() {
        let block = sample();
        let mut bytes = block.encode().to_vec();
        // The last byte belongs to the last transaction's signature region or action; flipping
        // the list count instead makes the decoder run out of bytes.
        let count_at = 8 + 32 + 8 + 32 + 32 + 32;
        bytes[count_at] = 4;
        assert!(Block::decode_cfg(bytes::Bytes::from(bytes), &()).is_err());
    }

    #[test]
    fn txs_root_depends_on_order() {
        let block = sample();
        let mut reversed = block.txs.clone();
        reversed.reverse();
        assert_ne!(txs_root(&block.txs), txs_root(&reversed));
    }
}
