//! A bounded first-in, first-out queue of submitted transactions.
//!
//! Proposers read from it without removing (a proposal may never be finalized); a transaction
//! leaves the queue when a finalized block includes it, whatever its outcome. Fee ordering and
//! per-account nonce ordering come later.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use cadenza_types::{Hash, SignedTransaction};

/// Why a transaction was not queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MempoolError {
    /// The queue holds its maximum number of transactions; retry after the next block.
    #[error("the mempool is full ({capacity} transactions); retry after the next block")]
    Full {
        /// The queue's capacity.
        capacity: usize,
    },
    /// The same transaction is already queued.
    #[error("transaction {0} is already queued")]
    Duplicate(Hash),
}

#[derive(Debug)]
struct Inner {
    queue: VecDeque<(Hash, SignedTransaction)>,
    hashes: HashSet<Hash>,
    capacity: usize,
}

/// A bounded transaction queue shared by the submitters and the proposer.
#[derive(Clone, Debug)]
pub struct Mempool {
    inner: Arc<Mutex<Inner>>,
}

impl Mempool {
    /// An empty queue holding at most `capacity` transactions.
    pub fn new(capacity: usize) -> Mempool {
        Mempool {
            inner: Arc::new(Mutex::new(Inner {
                queue: VecDeque::new(),
                hashes: HashSet::new(),
                capacity,
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("mempool lock is never poisoned")
    }

    /// Queues a transaction and returns its hash.
    pub fn submit(&self, tx: SignedTransaction) -> Result<Hash, MempoolError> {
        let hash = tx.hash();
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
