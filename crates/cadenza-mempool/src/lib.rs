//! The pool of transactions waiting to be proposed.
//!
//! A pool is bounded three ways: total transactions, total encoded bytes and transactions per
//! account; a transaction above the size limit is refused outright. Per account, transactions
//! are kept by nonce and proposed only as a contiguous run starting at the account's next nonce,
//! because the ledger executes nonces strictly in order. Across accounts, the proposer takes the
//! highest fee first. A transaction with the same signer and nonce as a pending one replaces it
//! only if it pays at least 10% more. When the pool is full, a newcomer that pays more than the
//! cheapest transaction at the end of some account's run evicts it; otherwise it is refused with
//! the fee it would need.
//!
//! Architecture invariant: no IO, no clock, no randomness. The node checks signatures and chain
//! ids before admission (with the ledger's rules) and tells the pool each account's next nonce
//! from its committed state.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

use cadenza_types::{AccountId, Amount, Encode, Hash, SignedTransaction};

/// The pool's bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The most transactions the pool holds.
    pub max_txs: usize,
    /// The most encoded bytes the pool holds.
    pub max_bytes: usize,
    /// The largest transaction admitted, in encoded bytes.
    pub max_tx_bytes: usize,
    /// The most pending transactions of one account.
    pub max_per_account: usize,
    /// How far ahead of the account's next nonce a transaction may be.
    pub max_nonce_ahead: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_txs: 50_000,
            max_bytes: 64 << 20,
            max_tx_bytes: 2 << 20,
            max_per_account: 256,
            max_nonce_ahead: 256,
        }
    }
}

/// Why the pool refused a transaction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MempoolError {
    /// The same transaction is already pending.
    #[error("transaction {0} is already pending")]
    AlreadyPending(Hash),
    /// The nonce was used by a committed transaction.
    #[error("stale nonce {found}: the account's next nonce is {expected}")]
    StaleNonce {
        /// The account's next nonce.
        expected: u64,
        /// The transaction's.
        found: u64,
    },
    /// The nonce is too far ahead of the account's next one.
    #[error(
        "nonce {found} is more than {max_ahead} ahead of the account's next nonce {expected}; send the earlier transactions first"
    )]
    NonceTooFarAhead {
        /// The account's next nonce.
        expected: u64,
        /// The transaction's.
        found: u64,
        /// The limit.
        max_ahead: u64,
    },
    /// The fee is below the minimum.
    #[error("fee {offered} is below the minimum {min}; raise the fee")]
    FeeTooLow {
        /// The minimum.
        min: Amount,
        /// The transaction's fee.
        offered: Amount,
    },
    /// A replacement that does not pay enough more.
    #[error("a transaction with this nonce is pending; a replacement must pay at least {needed}")]
    ReplacementUnderpriced {
        /// The least fee that replaces it.
        needed: Amount,
    },
    /// The account has too many pending transactions.
    #[error("this account already has {max} pending transactions; wait for some to commit")]
    AccountFull {
        /// The limit.
        max: usize,
    },
    /// The transaction is too large.
    #[error("transaction of {bytes} bytes exceeds the limit of {max} bytes; split it")]
    TooLarge {
        /// Its size.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// The pool is full of transactions paying at least as much.
    #[error("the pool is full; a fee above {needed_above} would get in")]
    PoolFull {
        /// The fee to beat.
        needed_above: Amount,
    },
}

impl MempoolError {
    /// A stable code for APIs and scripts.
    pub fn code(&self) -> &'static str {
        match self {
            MempoolError::AlreadyPending(_) => "already_pending",
            MempoolError::StaleNonce { .. } => "stale_nonce",
            MempoolError::NonceTooFarAhead { .. } => "nonce_too_far_ahead",
            MempoolError::FeeTooLow { .. } => "fee_too_low",
            MempoolError::ReplacementUnderpriced { .. } => "replacement_underpriced",
            MempoolError::AccountFull { .. } => "account_full",
            MempoolError::TooLarge { .. } => "too_large",
            MempoolError::PoolFull { .. } => "pool_full",
        }
    }
}

/// What admission did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admitted {
    /// The transaction was added.
    Added,
    /// It replaced a pending transaction with the same signer and nonce.
    Replaced {
        /// The replaced transaction's hash.
        old: Hash,
    },
    /// It was added after evicting cheaper transactions.
    Evicted {
        /// The evicted transactions' hashes.
        old: Vec<Hash>,
    },
}

#[derive(Clone, Debug)]
struct Pending {
    stx: SignedTransaction,
    hash: Hash,
    bytes: usize,
}

impl Pending {
    fn fee(&self) -> Amount {
        self.stx.tx.fee
    }
}

/// A bounded pool of pending transactions.
#[derive(Debug, Default)]
pub struct Mempool {
    limits: Limits,
    accounts: HashMap<AccountId, BTreeMap<u64, Pending>>,
    by_hash: HashMap<Hash, (AccountId, u64)>,
    bytes: usize,
}

impl Mempool {
    /// An empty pool with `limits`.
    pub fn new(limits: Limits) -> Mempool {
        Mempool {
            limits,
            ..Mempool::default()
        }
    }

    /// How many transactions are pending.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// The encoded bytes of everything pending.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The nonce `account`'s next transaction should carry: its committed next nonce
    /// `committed`, past the contiguous run of its pending transactions from there.
    pub fn next_nonce(&self, account: &AccountId, committed: u64) -> u64 {
        let mut next = committed;
        if let Some(queue) = self.accounts.get(account) {
            while queue.contains_key(&next) {
                next += 1;
            }
        }
        next
    }

    /// Whether a transaction is pending.
    pub fn contains(&self, hash: &Hash) -> bool {
        self.by_hash.contains_key(hash)
    }

    /// A pending transaction.
    pub fn get(&self, hash: &Hash) -> Option<&SignedTransaction> {
        let (account, nonce) = self.by_hash.get(hash)?;
        self.accounts.get(account)?.get(nonce).map(|p| &p.stx)
    }

    /// Admits `stx`, whose signer's next nonce in the committed state is `next_nonce` and whose
    /// least acceptable fee is `min_fee` (from the ledger's parameters).
    pub fn insert(
        &mut self,
        stx: SignedTransaction,
        next_nonce: u64,
        min_fee: Amount,
    ) -> Result<Admitted, MempoolError> {
        let hash = stx.hash();
        if self.by_hash.contains_key(&hash) {
            return Err(MempoolError::AlreadyPending(hash));
        }
        let bytes = stx.to_bytes().len();
        if bytes > self.limits.max_tx_bytes {
            return Err(MempoolError::TooLarge {
                bytes,
                max: self.limits.max_tx_bytes,
            });
        }
        let (signer, nonce, fee) = (stx.tx.signer, stx.tx.nonce, stx.tx.fee);
        if nonce < next_nonce {
            return Err(MempoolError::StaleNonce {
                expected: next_nonce,
                found: nonce,
            });
        }
        if nonce - next_nonce > self.limits.max_nonce_ahead {
            return Err(MempoolError::NonceTooFarAhead {
                expected: next_nonce,
                found: nonce,
                max_ahead: self.limits.max_nonce_ahead,
            });
        }
        if fee < min_fee {
            return Err(MempoolError::FeeTooLow {
                min: min_fee,
                offered: fee,
            });
        }
        let pending = Pending { stx, hash, bytes };

        // Replacement of the same (signer, nonce).
        if let Some(old) = self.accounts.get(&signer).and_then(|q| q.get(&nonce)) {
            let needed = replacement_fee(old.fee());
            if fee < needed {
                return Err(MempoolError::ReplacementUnderpriced { needed });
            }
            let old_hash = old.hash;
            let freed = old.bytes;
            if self.bytes - freed + bytes > self.limits.max_bytes {
                return Err(MempoolError::PoolFull {
                    needed_above: self.cheapest_tail().map_or(Amount::ZERO, |(_, _, f)| f),
                });
            }
            self.remove_entry(&signer, nonce);
            self.add(signer, nonce, pending);
            return Ok(Admitted::Replaced { old: old_hash });
        }

        let queue_len = self.accounts.get(&signer).map_or(0, BTreeMap::len);
        if queue_len >= self.limits.max_per_account {
            return Err(MempoolError::AccountFull {
                max: self.limits.max_per_account,
            });
        }
        let evicted: Vec<Hash> = self
            .plan_evictions(bytes, fee, &signer, nonce)?
            .into_iter()
            .filter_map(|(account, n)| self.remove_entry(&account, n).map(|p| p.hash))
            .collect();
        self.add(signer, nonce, pending);
        Ok(if evicted.is_empty() {
            Admitted::Added
        } else {
            Admitted::Evicted { old: evicted }
        })
    }

    /// Which tails to evict so a newcomer of `bytes` paying `fee` fits, cheapest first, without
    /// changing anything; refused if it would take a tail paying as much, or an earlier nonce of
    /// the newcomer's own account (which would strand it).
    fn plan_evictions(
        &self,
        bytes: usize,
        fee: Amount,
        signer: &AccountId,
        nonce: u64,
    ) -> Result<Vec<(AccountId, u64)>, MempoolError> {
        let mut count = self.len() + 1;
        let mut total = self.bytes + bytes;
        if count <= self.limits.max_txs && total <= self.limits.max_bytes {
            return Ok(Vec::new());
        }
        // Min-heap of every account's current tail.
        let mut tails: BinaryHeap<Reverse<(Amount, Reverse<u64>, AccountId)>> = self
            .accounts
            .iter()
            .filter_map(|(a, q)| {
                q.last_key_value()
                    .map(|(n, p)| Reverse((p.fee(), Reverse(*n), *a)))
            })
            .collect();
        let mut plan = Vec::new();
        while count > self.limits.max_txs || total > self.limits.max_bytes {
            let Some(Reverse((tail_fee, Reverse(tail_nonce), account))) = tails.pop() else {
                return Err(MempoolError::PoolFull {
                    needed_above: Amount::ZERO,
                });
            };
            if tail_fee >= fee || (account == *signer && tail_nonce < nonce) {
                return Err(MempoolError::PoolFull {
                    needed_above: tail_fee,
                });
            }
            let queue = &self.accounts[&account];
            count -= 1;
            total -= queue[&tail_nonce].bytes;
            plan.push((account, tail_nonce));
            if let Some((n, p)) = queue.range(..tail_nonce).next_back() {
                tails.push(Reverse((p.fee(), Reverse(*n), account)));
            }
        }
        Ok(plan)
    }

    fn add(&mut self, signer: AccountId, nonce: u64, pending: Pending) {
        self.bytes += pending.bytes;
        self.by_hash.insert(pending.hash, (signer, nonce));
        self.accounts
            .entry(signer)
            .or_default()
            .insert(nonce, pending);
    }

    fn remove_entry(&mut self, account: &AccountId, nonce: u64) -> Option<Pending> {
        let queue = self.accounts.get_mut(account)?;
        let removed = queue.remove(&nonce)?;
        if queue.is_empty() {
            self.accounts.remove(account);
        }
        self.by_hash.remove(&removed.hash);
        self.bytes -= removed.bytes;
        Some(removed)
    }

    /// The cheapest transaction at the end of an account's queue: evicting it never leaves a gap.
    fn cheapest_tail(&self) -> Option<(AccountId, u64, Amount)> {
        self.accounts
            .iter()
            .filter_map(|(account, q)| q.last_key_value().map(|(n, p)| (*account, *n, p.fee())))
            .min_by_key(|(account, nonce, fee)| (*fee, Reverse(*nonce), *account))
    }

    /// The transactions to propose: at most `max_txs` and `max_bytes`, each account's as a
    /// contiguous run from its next nonce (`next_nonce`), highest fee first across accounts.
    pub fn select(
        &self,
        max_txs: usize,
        max_bytes: usize,
        next_nonce: impl Fn(&AccountId) -> u64,
    ) -> Vec<SignedTransaction> {
        // Heads of each account's ready run, by fee (then account, for a stable order).
        let mut heap = BinaryHeap::new();
        for (account, queue) in &self.accounts {
            let n = next_nonce(account);
            if let Some(p) = queue.get(&n) {
                heap.push((p.fee(), Reverse(*account), n));
            }
        }
        let mut out = Vec::new();
        let mut bytes = 0;
        while let Some((_, Reverse(account), nonce)) = heap.pop() {
            if out.len() >= max_txs {
                break;
            }
            let queue = &self.accounts[&account];
            let p = &queue[&nonce];
            if bytes + p.bytes > max_bytes {
                // This account's run stops here; smaller transactions of others may still fit.
                continue;
            }
            bytes += p.bytes;
            out.push(p.stx.clone());
            if let Some(next) = queue.get(&(nonce + 1)) {
                heap.push((next.fee(), Reverse(account), nonce + 1));
            }
        }
        out
    }

    /// Drops one pending transaction (refused for good when a block was built). Later nonces of
    /// its account stay, and are proposed once the gap is filled.
    pub fn remove(&mut self, hash: &Hash) -> Option<SignedTransaction> {
        let (account, nonce) = *self.by_hash.get(hash)?;
        self.remove_entry(&account, nonce).map(|p| p.stx)
    }

    /// Drops every transaction of `account` below `next_nonce` (committed or made stale by a
    /// committed block). Returns their hashes.
    pub fn prune(&mut self, account: &AccountId, next_nonce: u64) -> Vec<Hash> {
        let stale: Vec<u64> = match self.accounts.get(account) {
            Some(q) => q.range(..next_nonce).map(|(n, _)| *n).collect(),
            None => return Vec::new(),
        };
        stale
            .into_iter()
            .filter_map(|n| self.remove_entry(account, n).map(|p| p.hash))
            .collect()
    }
}

/// The least fee that replaces a pending transaction paying `fee`: 10% more, and at least one
/// base unit more.
fn replacement_fee(fee: Amount) -> Amount {
    let bump = Amount::new((fee.get() / 10).max(1));
    fee.checked_add(bump).unwrap_or(Amount::MAX)
}
