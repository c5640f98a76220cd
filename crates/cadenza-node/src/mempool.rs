//! The node's transaction pool: the checks that need no state (length, chain, signature) in
//! front of `cadenza-mempool`'s bounded pool, which orders transactions by nonce per account and
//! by fee across accounts.
//!
//! Proposers read from it without removing (a proposal may never be finalized), asking for each
//! account's run from its nonce in the parent state; finalized blocks prune every account they
//! touched to its committed nonce.

use std::sync::{Arc, Mutex};

use cadenza_mempool::Limits;
use cadenza_types::{AccountId, Amount, ChainId, Encode as _, Hash, SignedTransaction, crypto};

use crate::block::MAX_TX_BYTES;

/// Why a transaction was not queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MempoolError {
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
    /// The pool's own rules (nonce, fee, duplicates, bounds).
    #[error(transparent)]
    Pool(#[from] cadenza_mempool::MempoolError),
}

impl MempoolError {
    /// A stable code for APIs and scripts.
    pub fn code(&self) -> &'static str {
        match self {
            MempoolError::TooLarge { .. } => "tx_too_large",
            MempoolError::WrongChain { .. } => "wrong_chain",
            MempoolError::BadSignature => "bad_signature",
            MempoolError::Pool(error) => error.code(),
        }
    }
}

#[derive(Debug)]
struct Inner {
    pool: cadenza_mempool::Mempool,
    chain_id: ChainId,
}

/// A bounded transaction pool shared by the submitters and the proposer.
#[derive(Clone, Debug)]
pub struct Mempool {
    inner: Arc<Mutex<Inner>>,
    /// Signers' keys already decompressed: accounts submit again and again.
    keys: Arc<crypto::KeyCache>,
}

/// Signer keys the pool remembers decompressed (about 200 bytes each).
pub const REMEMBERED_KEYS: usize = 65_536;

impl Mempool {
    /// An empty pool for chain `chain_id` holding at most `capacity` transactions.
    pub fn new(capacity: usize, chain_id: ChainId) -> Mempool {
        let limits = Limits {
            max_txs: capacity,
            max_tx_bytes: MAX_TX_BYTES,
            ..Limits::default()
        };
        Mempool {
            inner: Arc::new(Mutex::new(Inner {
                pool: cadenza_mempool::Mempool::new(limits),
                chain_id,
            })),
            keys: Arc::new(crypto::KeyCache::new(REMEMBERED_KEYS)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("mempool lock is never poisoned")
    }

    /// Queues a transaction whose signer's committed next nonce is `next_nonce` and whose least
    /// fee is `min_fee`, after the checks that need no state: its length (a transaction too long
    /// for a block would make every block its proposer builds undecodable by peers), its chain
    /// and its signature (so garbage costs the submitter, not the proposer).
    pub fn submit(
        &self,
        tx: SignedTransaction,
        next_nonce: u64,
        min_fee: Amount,
    ) -> Result<Hash, MempoolError> {
        self.submit_many(vec![(tx, next_nonce, min_fee)])
            .pop()
            .expect("one result per transaction")
    }

    /// Queues many transactions, each with its signer's committed next nonce and its least fee,
    /// with the checks of [`Mempool::submit`]; the signatures are verified in one batch. One
    /// result per transaction, in order.
    pub fn submit_many(
        &self,
        txs: Vec<(SignedTransaction, u64, Amount)>,
    ) -> Vec<Result<Hash, MempoolError>> {
        let chain_id = self.lock().chain_id.clone();
        let hashes: Vec<Hash> = txs.iter().map(|(tx, _, _)| tx.hash()).collect();
        let mut results: Vec<Result<Hash, MempoolError>> = txs
            .iter()
            .zip(&hashes)
            .map(|((tx, _, _), hash)| {
                let len = tx.to_bytes().len();
                if len > MAX_TX_BYTES {
                    Err(MempoolError::TooLarge {
                        len,
                        max: MAX_TX_BYTES,
                    })
                } else if tx.tx.chain_id != chain_id {
                    Err(MempoolError::WrongChain {
                        expected: chain_id.clone(),
                        found: tx.tx.chain_id.clone(),
                    })
                } else if crypto::is_small_order(&tx.tx.signer) {
                    Err(MempoolError::BadSignature)
                } else {
                    Ok(*hash)
                }
            })
            .collect();
        let checked: Vec<usize> = (0..txs.len()).filter(|i| results[*i].is_ok()).collect();
        let items: Vec<crypto::SigItem<'_>> = checked
            .iter()
            .map(|i| crypto::SigItem {
                signer: &txs[*i].0.tx.signer,
                message: hashes[*i].as_bytes(),
                signature: &txs[*i].0.signature,
            })
            .collect();
        let verdicts = crypto::verify_many_with(&items, &self.keys);
        for (i, ok) in checked.iter().zip(verdicts) {
            if !ok {
                results[*i] = Err(MempoolError::BadSignature);
            }
        }
        let mut inner = self.lock();
        for ((tx, next_nonce, min_fee), result) in txs.into_iter().zip(&mut results) {
            if result.is_ok()
                && let Err(error) = inner.pool.insert(tx, next_nonce, min_fee)
            {
                *result = Err(error.into());
            }
        }
        results
    }

    /// Up to `max` transactions to propose on a parent whose state gives each account's next
    /// nonce through `next_nonce`: per account a contiguous run from that nonce, highest fee
    /// first across accounts. Transactions already in the parent's ancestry sit below those
    /// nonces, so they are never proposed twice.
    pub fn select(
        &self,
        max: usize,
        max_bytes: usize,
        next_nonce: impl Fn(&AccountId) -> u64,
    ) -> Vec<SignedTransaction> {
        self.lock().pool.select(max, max_bytes, next_nonce)
    }

    /// The nonce `account`'s next transaction should carry, past its pending run from its
    /// committed next nonce `committed`.
    pub fn next_nonce(&self, account: &AccountId, committed: u64) -> u64 {
        self.lock().pool.next_nonce(account, committed)
    }

    /// Drops the transactions with these hashes (refused for good, or finalized).
    pub fn remove(&self, hashes: &[Hash]) {
        let mut inner = self.lock();
        for hash in hashes {
            inner.pool.remove(hash);
        }
    }

    /// Drops every transaction of `account` below its committed `next_nonce`.
    pub fn prune(&self, account: &AccountId, next_nonce: u64) {
        self.lock().pool.prune(account, next_nonce);
    }

    /// Whether the transaction with signing hash `hash` is pending here with exactly `tx`'s
    /// signature: admission verified that signature, so block execution need not (see
    /// [`cadenza_ledger::execute_block_checked`]).
    pub fn admitted(&self, hash: &Hash, tx: &SignedTransaction) -> bool {
        self.lock().pool.get(hash).is_some_and(|pending| {
            pending.signature == tx.signature && pending.tx.signer == tx.tx.signer
        })
    }

    /// Whether a transaction is queued.
    pub fn contains(&self, hash: &Hash) -> bool {
        self.lock().pool.contains(hash)
    }

    /// The number of queued transactions.
    pub fn len(&self) -> usize {
        self.lock().pool.len()
    }

    /// Whether the pool is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What block execution may take from the pool ([`crate::store::StateStore::execute`]): the
/// signatures admission verified ([`Mempool::admitted`]), and the signers' keys admission
/// decompressed, also used for the signatures of transactions admitted elsewhere.
impl cadenza_ledger::Checked for Mempool {
    fn vouched(&self, hash: &Hash, tx: &SignedTransaction) -> bool {
        self.admitted(hash, tx)
    }

    fn keys(&self) -> Option<&crypto::KeyCache> {
        Some(&self.keys)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use cadenza_ledger::testkit::Wallet;
    use cadenza_types::{AccountId, Action, Amount, AssetId, ChainId};

    /// `n` transfers signed by one wallet, nonces 0 to n − 1.
    pub(crate) fn txs(n: u64) -> Vec<SignedTransaction> {
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
            pool.submit(tx, 0, Amount::ZERO),
            Err(MempoolError::WrongChain { .. })
        ));
        let mut forged = txs(1).remove(0);
        forged.signature.0[0] ^= 1;
        assert_eq!(
            pool.submit(forged, 0, Amount::ZERO),
            Err(MempoolError::BadSignature)
        );
        assert!(pool.is_empty());
    }

    #[test]
    fn only_the_admitted_signature_is_vouched_for() {
        let pool = Mempool::new(8, ChainId::new("test").unwrap());
        let tx = txs(1).remove(0);
        let hash = tx.hash();
        assert!(!pool.admitted(&hash, &tx), "nothing admitted yet");
        pool.submit(tx.clone(), 0, Amount::ZERO).unwrap();
        assert!(pool.admitted(&hash, &tx));
        // Same transaction (same signing hash), other signature bytes: not vouched for, so a
        // block carrying it has its signature verified.
        let mut forged = tx.clone();
        forged.signature.0[63] ^= 1;
        assert!(!pool.admitted(&hash, &forged));
        pool.remove(&[hash]);
        assert!(
            !pool.admitted(&hash, &tx),
            "gone from the pool, no longer vouched for"
        );
    }

    #[test]
    fn mempool_is_bounded_and_proposes_runs_from_the_parents_nonce() {
        let pool = Mempool::new(2, ChainId::new("test").unwrap());
        let txs = txs(3);
        let first = pool.submit(txs[0].clone(), 0, Amount::ZERO).unwrap();
        assert!(matches!(
            pool.submit(txs[0].clone(), 0, Amount::ZERO),
            Err(MempoolError::Pool(
                cadenza_mempool::MempoolError::AlreadyPending(_)
            ))
        ));
        pool.submit(txs[1].clone(), 0, Amount::ZERO).unwrap();
        assert!(matches!(
            pool.submit(txs[2].clone(), 0, Amount::ZERO),
            Err(MempoolError::Pool(
                cadenza_mempool::MempoolError::PoolFull { .. }
            ))
        ));
        assert_eq!(pool.select(10, usize::MAX, |_| 0), txs[..2].to_vec());
        // On a parent that already includes the first, only the second is proposed.
        assert_eq!(pool.select(10, usize::MAX, |_| 1), txs[1..2].to_vec());
        pool.prune(&txs[0].tx.signer, 1);
        assert!(!pool.contains(&first));
        assert_eq!(pool.len(), 1);
        pool.submit(txs[2].clone(), 1, Amount::ZERO).unwrap();
        assert_eq!(pool.select(1, usize::MAX, |_| 1), txs[1..2].to_vec());
    }
}
