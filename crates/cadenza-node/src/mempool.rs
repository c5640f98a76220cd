//! A bounded first-in, first-out queue of submitted transactions.
//!
//! Proposers read from it without removing (a proposal may never be finalized); a transaction
//! leaves the queue when a finalized block includes it, whatever its outcome. Fee ordering and
//! per-account nonce ordering come later.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use cadenza_types::{ChainId, Encode as _, Hash, SignedTransaction, crypto};

use crate::block::MAX_TX_BYTES;

/// Why a transaction was not queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MempoolError {
    /// The queue holds its maximum number of transactions; retry after the next block.
    #[error("the mempool is full ({capacity} transactions); retry after the next block")]
    Full {
        /// The queue's capacity.
        capacity: usize,
    },
    /// The transaction's encoding is longer than a block may carry.
    #[error("transaction of {len} bytes is above the limit of {max} bytes; split it")]
    TooLarge {
        /// Its encoded length.
        len: usize,
        /// The limit ([`crate::block::MAX_TX_BYTES`]).
        max: usize,
    },
    /// The transaction names another chain.
    #[error("transaction is for chain `{found}`, this node runs `{expected}`")]
    WrongChain {
        /// This node's chain.
        expected: ChainId,
        /// The transaction's.
        found: ChainId,
    },
    /// The signature is not the signer's (or the signer's key is a small-order point).
    #[error("bad signature: the transaction is not signed by its signer's key")]
    BadSignature,
    /// The same transaction is already queued.
    #[error("transaction {0} is already queued")]
    Duplicate(Hash),
}

#[derive(Debug)]
struct Inner {
    queue: VecDeque<(Hash, SignedTransaction)>,
    hashes: HashSet<Hash>,
    capacity: usize,
    chain_id: ChainId,
}

/// A bounded transaction queue shared by the submitters and the proposer.
#[derive(Clone, Debug)]
pub struct Mempool {
    inner: Arc<Mutex<Inner>>,
}

impl Mempool {
    /// An empty queue for chain `chain_id` holding at most `capacity` transactions.
    pub fn new(capacity: usize, chain_id: ChainId) -> Mempool {
        Mempool {
            inner: Arc::new(Mutex::new(Inner {
                queue: VecDeque::new(),
                hashes: HashSet::new(),
                capacity,
                chain_id,
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("mempool lock is never poisoned")
    }

    /// Queues a transaction and returns its hash, after the checks that need no state: its
    /// length (a transaction too long for a block would make every block its proposer builds
    /// undecodable by peers), its chain and its signature (so garbage costs the submitter, not
    /// the proposer). Nonce and fee are checked against the state when a block is built.
    pub fn submit(&self, tx: SignedTransaction) -> Result<Hash, MempoolError> {
        let len = tx.to_bytes().len();
        if len > MAX_TX_BYTES {
            return Err(MempoolError::TooLarge {
                len,
                max: MAX_TX_BYTES,
            });
        }
        let hash = tx.hash();
        {
            let inner = self.lock();
            if tx.tx.chain_id != inner.chain_id {
                return Err(MempoolError::WrongChain {
                    expected: inner.chain_id.clone(),
                    found: tx.tx.chain_id.clone(),
                });
            }
        }
        if crypto::is_small_order(&tx.tx.signer)
            || crypto::verify(&tx.tx.signer, hash.as_bytes(), &tx.signature).is_err()
        {
            return Err(MempoolError::BadSignature);
        }
        let mut inner = self.lock();
        if inner.hashes.contains(&hash) {
            return Err(MempoolError::Duplicate(hash));
        }
        if inner.queue.len() >= inner.capacity {
            return Err(MempoolError::Full {
                capacity: inner.capacity,
            });
        }
        inner.hashes.insert(hash);
        inner.queue.push_back((hash, tx));
        Ok(hash)
    }

    /// Up to `max` queued transactions, oldest first, skipping those in `exclude` (already in
    /// an unfinalized ancestor of the block being built).
    pub fn select(&self, max: usize, exclude: &HashSet<Hash>) -> Vec<SignedTransaction> {
        self.lock()
            .queue
            .iter()
            .filter(|(hash, _)| !exclude.contains(hash))
            .take(max)
            .map(|(_, tx)| tx.clone())
            .collect()
    }

    /// Drops the transactions with these hashes (they were finalized).
    pub fn remove(&self, hashes: &[Hash]) {
        let mut inner = self.lock();
        let mut any = false;
        for hash in hashes {
            any |= inner.hashes.remove(hash);
        }
        if any {
            let Inner { queue, hashes, .. } = &mut *inner;
            queue.retain(|(hash, _)| hashes.contains(hash));
        }
    }

    /// The number of queued transactions.
    pub fn len(&self) -> usize {
        self.lock().queue.len()
    }

    /// Whether the queue is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cadenza_ledger::testkit::Wallet;
    use cadenza_types::{AccountId, Action, Amount, AssetId, ChainId};

    fn txs(n: u64) -> Vec<SignedTransaction> {
        let mut wallet = Wallet::new([9; 32], ChainId::new("test").unwrap(), Amount::new(1));
        (0..n)
            .map(|i| {
                wallet.sign(Action::Transfer {
                    to: AccountId([1; 32]),
                    asset: AssetId::genesis("CDZ"),
                    amount: Amount::new(u128::from(i) + 1),
                })
            })
            .collect()
    }

    #[test]
    fn mempool_refuses_other_chains_and_bad_signatures() {
        let pool = Mempool::new(8, ChainId::new("test").unwrap());
        let mut other = Wallet::new([9; 32], ChainId::new("other").unwrap(), Amount::new(1));
        let tx = other.sign(Action::Faucet);
        assert!(matches!(
            pool.submit(tx),
            Err(MempoolError::WrongChain { .. })
        ));
        let mut forged = txs(1).remove(0);
        forged.signature.0[0] ^= 1;
        assert_eq!(pool.submit(forged), Err(MempoolError::BadSignature));
        assert!(pool.is_empty());
    }

    #[test]
    fn mempool_is_bounded_fifo_without_duplicates() {
        let pool = Mempool::new(2, ChainId::new("test").unwrap());
        let txs = txs(3);
        let first = pool.submit(txs[0].clone()).unwrap();
        assert_eq!(
            pool.submit(txs[0].clone()),
            Err(MempoolError::Duplicate(first))
        );
        pool.submit(txs[1].clone()).unwrap();
        assert_eq!(
            pool.submit(txs[2].clone()),
            Err(MempoolError::Full { capacity: 2 })
        );
        assert_eq!(pool.select(10, &HashSet::new()), txs[..2].to_vec());
        assert_eq!(pool.select(10, &HashSet::from([first])), txs[1..2].to_vec());
        pool.remove(&[first]);
        assert_eq!(pool.len(), 1);
        pool.submit(txs[2].clone()).unwrap();
        assert_eq!(pool.select(1, &HashSet::new()), txs[1..2].to_vec());
    }
}
