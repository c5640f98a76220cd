//! The consensus application: builds blocks from the mempool, verifies blocks by re-executing
//! them, and applies finalized blocks durably before acknowledging them to marshal.
//!
//! Validity is a pure function of the block and its ancestry: the header must link to the parent
//! (height, time not going back), name the view's leader as proposer, commit to its transactions,
//! and carry the state root that executing it on the parent's state gives. A transaction that
//! fails (bad nonce, insufficient balance, bad signature) does not make its block invalid: the
//! ledger records the failure as that transaction's outcome.

use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use cadenza_types::AccountId;
use cadenza_types::Encode as _;
use commonware_actor::Feedback;
use commonware_consensus::{
    Heightable as _, Reporter,
    marshal::{Update, ancestry::Ancestry},
    simplex::{scheme::ed25519::Scheme, types::Context},
};
use commonware_cryptography::{Digested, Digestible as _, ed25519};
use commonware_runtime::{Clock, Metrics, Spawner};
use commonware_utils::Acknowledgement as _;
use futures::{
    StreamExt as _,
    channel::{mpsc, oneshot},
    lock::Mutex as AsyncMutex,
};
use tracing::{debug, warn};

use crate::block::{Block, Digest, MAX_BLOCK_TX_BYTES, MAX_BLOCK_TXS, txs_root};
use crate::mempool::Mempool;
use crate::store::{Base, CommittedState, StateStore, StoreError};

/// How far ahead of the local clock a block's time may be before verification waits for the
/// clock to catch up.
pub const MAX_CLOCK_DRIFT_MS: u64 = 5_000;

/// The least time between a block and an empty child: a leader with an empty mempool waits up
/// to this long after its parent for transactions. Well below the leader timeout.
pub const EMPTY_BLOCK_INTERVAL_MS: u64 = 250;

/// The committed height and state root, and the waiters for a height.
#[derive(Default)]
struct ProgressInner {
    height: u64,
    root: Option<Digest>,
    waiters: Vec<(u64, oneshot::Sender<()>)>,
}

/// The last committed block as seen from outside: height and state root, with a way to wait for
/// a height.
#[derive(Clone, Default)]
pub struct Progress {
    inner: Arc<Mutex<ProgressInner>>,
}

impl Progress {
    fn lock(&self) -> std::sync::MutexGuard<'_, ProgressInner> {
        self.inner.lock().expect("progress lock is never poisoned")
    }

    pub(crate) fn set(&self, height: u64, root: Digest) {
        let mut inner = self.lock();
        inner.height = height;
        inner.root = Some(root);
        let waiters = std::mem::take(&mut inner.waiters);
        for (target, waiter) in waiters {
            if target <= height {
                let _ = waiter.send(());
            } else {
                inner.waiters.push((target, waiter));
            }
        }
    }

    /// The committed height and its state root.
    pub fn committed(&self) -> (u64, Option<Digest>) {
        let inner = self.lock();
        (inner.height, inner.root)
    }

    /// Resolves once a block at `height` or above is committed.
    pub async fn wait_for(&self, height: u64) {
        let receiver = {
            let mut inner = self.lock();
            if inner.height >= height {
                return;
            }
            let (sender, receiver) = oneshot::channel();
            inner.waiters.push((height, sender));
            receiver
        };
        // A dropped sender means the node stopped; the caller's own timeout reports that.
        let _ = receiver.await;
    }
}

/// A block as committed here: what the event stream and the API publish.
#[derive(Clone, Debug)]
pub struct Committed {
    /// Its height.
    pub height: u64,
    /// Its digest.
    pub digest: Digest,
    /// The time its proposer gave it (ms since the Unix epoch).
    pub timestamp_ms: u64,
    /// The local time it was committed here, after its state was fsynced.
    pub committed_ms: u64,
    /// The state root after it.
    pub state_root: Digest,
    /// Each transaction's outcome, in block order.
    pub results: Vec<cadenza_ledger::TxOutcome>,
}

/// The most transactions a validator among others proposes in one block. A block is voted on
/// only after it has travelled to the other validators and they have executed it, and it is
/// final only after they have; both grow with its size, so smaller blocks finalize sooner, at
/// the cost of more per-block work (votes, state roots, fsyncs). With four validators on two
/// cores, blocks of 1,024 transfers finalized in about half the time of 4,096 at about the same
/// throughput (`cadenza-bench node`). A validator alone has no such path and fills blocks up to
/// [`MAX_BLOCK_TXS`].
pub const NETWORK_PROPOSE_TXS: usize = 1024;

/// How many committed blocks the event stream buffers for a slow subscriber before it lags.
pub const EVENT_BUFFER: usize = 1024;

/// The state shared by the application, the finalizer and the node's users.
pub struct Shared<E: commonware_storage::Context + Spawner> {
    /// The ledger state.
    pub store: AsyncMutex<StateStore<E>>,
    /// The committed state, readable without waiting for `store` (which block execution and
    /// commits hold).
    pub state: CommittedState,
    /// Submitted transactions.
    pub mempool: Mempool,
    /// Transactions admitted here, on their way to the other validators.
    pub gossip: crate::gossip::Outbox,
    /// Transactions in blocks verified here lately (kept only among peers, for gossip).
    pub in_blocks: crate::gossip::InBlocks,
    /// The most transactions this validator proposes in one block (at most
    /// [`MAX_BLOCK_TXS`], which every block must respect).
    pub propose_txs: usize,
    /// The committed tip.
    pub progress: Progress,
    /// Every committed block, as it commits (bounded: a lagging subscriber misses blocks and
    /// is told so by the channel).
    pub committed: tokio::sync::broadcast::Sender<Arc<Committed>>,
    /// Where incoming transactions' signatures are checked ([`crate::admission`]); none on the
    /// deterministic runtime (the simulation), where the checks run in the receiving task.
    pub admission: Option<crate::admission::Pool>,
}

impl<E: commonware_storage::Context + Spawner> Shared<E> {
    /// State shared around `store`, with an empty mempool of `mempool_capacity` transactions.
    pub fn new(
        store: StateStore<E>,
        mempool_capacity: usize,
        chain_id: cadenza_types::ChainId,
    ) -> Self {
        let progress = Progress::default();
        progress.set(store.height(), store.root());
        Shared {
            state: store.committed(),
            store: AsyncMutex::new(store),
            mempool: Mempool::new(mempool_capacity, chain_id),
            gossip: crate::gossip::Outbox::new(false),
            in_blocks: crate::gossip::InBlocks::default(),
            propose_txs: MAX_BLOCK_TXS,
            progress,
            committed: tokio::sync::broadcast::channel(EVENT_BUFFER).0,
            admission: None,
        }
    }

    /// The same, for a validator among others: it gossips what it admits to them
    /// ([`crate::gossip`]) and proposes blocks of at most [`NETWORK_PROPOSE_TXS`].
    pub fn among_peers(mut self) -> Self {
        self.gossip = crate::gossip::Outbox::new(true);
        self.propose_txs = NETWORK_PROPOSE_TXS;
        self
    }
}

impl<E: commonware_storage::Context + Spawner> Shared<E> {
    /// Submits a transaction to the mempool, judged against the committed state (the signer's
    /// next nonce and the minimum fee for its action). Returns its hash.
    pub async fn submit(
        &self,
        tx: cadenza_types::SignedTransaction,
    ) -> Result<cadenza_types::Hash, crate::mempool::MempoolError> {
        let judged = self.judge(vec![tx]);
        self.admit(judged)
            .pop()
            .expect("one result per transaction")
    }

    /// Admits transactions from this validator's users (judged by [`Shared::judge`]) to the
    /// mempool, and queues those admitted for the other validators. One result per transaction,
    /// in order. CPU work: the signatures are verified here, in one batch.
    pub fn admit(
        &self,
        judged: Vec<(cadenza_types::SignedTransaction, u64, cadenza_types::Amount)>,
    ) -> Vec<Result<cadenza_types::Hash, crate::mempool::MempoolError>> {
        let encoded: Vec<Vec<u8>> = if self.gossip.enabled() {
            judged.iter().map(|(tx, _, _)| tx.to_bytes()).collect()
        } else {
            Vec::new()
        };
        let outcomes = self.mempool.submit_many(judged);
        self.gossip.push(
            encoded
                .into_iter()
                .zip(&outcomes)
                .filter(|(_, outcome)| outcome.is_ok())
                .map(|(tx, _)| tx),
        );
        outcomes
    }

    /// Each transaction with its signer's committed next nonce and its least fee, read from the
    /// committed state at once: what [`crate::mempool::Mempool::submit_many`] judges by.
    pub fn judge(
        &self,
        txs: Vec<cadenza_types::SignedTransaction>,
    ) -> Vec<(cadenza_types::SignedTransaction, u64, cadenza_types::Amount)> {
        let state = self.state.read();
        let view = state.view();
        let params =
            cadenza_ledger::query::params(&view).expect("a started store has genesis parameters");
        txs.into_iter()
            .map(|tx| {
                let nonce = cadenza_ledger::query::account(&view, &tx.tx.signer).nonce;
                let min_fee = params.min_fee_for(&tx.tx.action);
                (tx, nonce, min_fee)
            })
            .collect()
    }
}

/// The block-building and verifying half of the node, driven by marshal.
pub struct App<E: commonware_storage::Context + Spawner> {
    shared: Arc<Shared<E>>,
}

impl<E: commonware_storage::Context + Spawner> Clone for App<E> {
    fn clone(&self) -> Self {
        App {
            shared: self.shared.clone(),
        }
    }
}

fn now_ms(clock: &impl Clock) -> u64 {
    let elapsed = clock
        .current()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
}

fn account_of(key: &ed25519::PublicKey) -> AccountId {
    let bytes: &[u8] = key.as_ref();
    AccountId(bytes.try_into().expect("ed25519 public keys are 32 bytes"))
}

/// Why no state could be found to build on.
enum Unresolved {
    /// The parent is on a fork that the committed chain has left: nothing built on it can be
    /// finalized.
    Stale,
    /// The ancestry ended before a known block (consensus cancelled the request).
    Ended,
    /// An ancestor's state root does not match its execution (cannot happen if a quorum is
    /// honest: ancestors were verified by a quorum).
    Invalid,
}

impl<E: commonware_storage::Context + Spawner> App<E> {
    /// An application over `shared`.
    pub fn new(shared: Arc<Shared<E>>) -> Self {
        App { shared }
    }

    /// The state after `parent`, executing any of its ancestors not yet executed here (they come
    /// from `ancestry`, which yields the parent's parent next).
    async fn resolve(
        &self,
        parent: &Digested<Block>,
        ancestry: &mut (impl Ancestry<Block> + 'static),
    ) -> Result<Base, Unresolved> {
        let mut chain: Vec<Digested<Block>> = vec![parent.clone()];
        loop {
            {
                let store = self.shared.store.lock().await;
                let oldest = chain.last().expect("the chain holds the parent");
                // Stop fetching ancestors once the oldest is known, or at the committed height
                // (below it, a block is committed or on a fork the chain has left).
                if oldest.inner().height <= store.height()
                    || store.base_after(&oldest.digest(), oldest.inner()).is_some()
                {
                    return self.execute_chain(store, chain).await;
                }
            }
            match ancestry.next().await {
                Some(block) => chain.push(block),
                None => return Err(Unresolved::Ended),
            }
        }
    }

    /// Executes `chain` (newest first; its oldest block's state is known, or it is at or below
    /// the committed height) from its newest block with a known state upwards, and returns the
    /// state after its first block.
    async fn execute_chain(
        &self,
        mut store: futures::lock::MutexGuard<'_, StateStore<E>>,
        chain: Vec<Digested<Block>>,
    ) -> Result<Base, Unresolved> {
        let mut start = None;
        for (i, block) in chain.iter().enumerate() {
            if let Some(base) = store.base_after(&block.digest(), block.inner()) {
                start = Some((i, base));
                break;
            }
        }
        let Some((known, mut base)) = start else {
            return Err(Unresolved::Stale);
        };
        for block in chain[..known].iter().rev() {
            let executed = match store
                .execute(&base, block.inner(), &self.shared.mempool)
                .await
            {
                Ok(executed) => executed,
                Err(StoreError::Block(error)) => {
                    warn!(%error, height = block.inner().height, "ancestor refused by the ledger");
                    return Err(Unresolved::Invalid);
                }
                Err(error) => panic!("state store failed: {error}"),
            };
            if executed.pending.state_root != block.inner().state_root {
                warn!(
                    height = block.inner().height,
                    "ancestor state root mismatch"
                );
                return Err(Unresolved::Invalid);
            }
            store.remember(block.digest(), executed.pending.clone());
            base = Base::Pending(executed.pending);
        }
        Ok(base)
    }
}

/// Splits a block's transactions by outcome: those to include, those refused for now (a nonce
/// ahead, a fee not yet payable) and those refused for good (wrong chain, bad signature, stale
/// nonce, fee below the minimum), by hash.
fn triage(
    txs: &[cadenza_types::SignedTransaction],
    results: &[cadenza_ledger::TxOutcome],
) -> (
    Vec<cadenza_types::SignedTransaction>,
    Vec<cadenza_types::Hash>,
    Vec<cadenza_types::Hash>,
) {
    use cadenza_ledger::TxError;
    let (mut keep, mut defer, mut drop) = (Vec::new(), Vec::new(), Vec::new());
    for (tx, outcome) in txs.iter().zip(results) {
        match &outcome.result {
            Err(TxError::FutureNonce { .. } | TxError::CannotPayFee { .. }) => {
                defer.push(outcome.hash)
            }
            Err(
                TxError::WrongChain { .. }
                | TxError::SmallOrderKey
                | TxError::BadSignature
                | TxError::StaleNonce { .. }
                | TxError::FeeTooLow { .. },
            ) => drop.push(outcome.hash),
            _ => keep.push(tx.clone()),
        }
    }
    (keep, defer, drop)
}

impl<E> commonware_consensus::Application<E> for App<E>
where
    E: commonware_storage::Context + Spawner + Clock + Metrics,
{
    type SigningScheme = Scheme;
    type Context = Context<Digest, ed25519::PublicKey>;
    type Block = Block;
    type Input = ();

    async fn propose(
        &mut self,
        (clock, context): (E, Self::Context),
        mut ancestry: impl Ancestry<Self::Block>,
        _input: (),
    ) -> Option<Digested<Self::Block>> {
        let parent = ancestry.next().await?;
        // With nothing to include, wait (a while, well inside the leader timeout) for
        // transactions before proposing an empty block: an idle chain does not fill its disk
        // with empty blocks, and a busy one proposes at once.
        let deadline = parent.inner().timestamp_ms + EMPTY_BLOCK_INTERVAL_MS;
        while self.shared.mempool.is_empty() && now_ms(&clock) < deadline {
            clock.sleep(Duration::from_millis(5)).await;
        }
        let base = match self.resolve(&parent, &mut ancestry).await {
            Ok(base) => base,
            Err(_) => return None,
        };
        let started = std::time::Instant::now();
        let mut store = self.shared.store.lock().await;
        let txs = {
            let view = store.view(&base);
            self.shared
                .mempool
                .select(self.shared.propose_txs, MAX_BLOCK_TX_BYTES, |account| {
                    cadenza_ledger::query::account(&view, account).nonce
                })
        };
        let mut block = Block {
            height: parent.inner().height + 1,
            parent: parent.digest(),
            timestamp_ms: now_ms(&clock).max(parent.inner().timestamp_ms),
            proposer: account_of(&context.leader),
            txs_root: txs_root(&txs),
            state_root: commonware_cryptography::blake3::Digest([0; 32]),
            txs,
        };
        let mut executed = match store.execute(&base, &block, &self.shared.mempool).await {
            Ok(executed) => executed,
            Err(StoreError::Block(error)) => {
                warn!(%error, "cannot build on this parent");
                return None;
            }
            Err(error) => panic!("state store failed: {error}"),
        };
        // Transactions refused before their fee (they wrote nothing) take no block space:
        // those that can become valid later stay queued, the others leave the mempool. Without
        // them the others' outcomes are the same, so one re-execution gives the final block.
        let (keep, defer, drop) = triage(&block.txs, &executed.outcome.results);
        if !drop.is_empty() {
            self.shared.mempool.remove(&drop);
        }
        if defer.len() + drop.len() > 0 {
            block.txs = keep;
            block.txs_root = txs_root(&block.txs);
            executed = match store.execute(&base, &block, &self.shared.mempool).await {
                Ok(executed) => executed,
                Err(error) => panic!("a block that executed executes without refused txs: {error}"),
            };
        }
        block.state_root = executed.pending.state_root;
        let digest = block.digest();
        store.remember(digest, executed.pending);
        debug!(
            height = block.height,
            n_txs = block.txs.len(),
            ms = started.elapsed().as_millis() as u64,
            "proposed"
        );
        Some(Digested::precomputed(block, digest))
    }

    async fn verify(
        &mut self,
        (clock, context): (E, Self::Context),
        mut ancestry: impl Ancestry<Self::Block>,
    ) -> bool {
        let Some(block) = ancestry.next().await else {
            return false;
        };
        let Some(parent) = ancestry.next().await else {
            return false;
        };
        let header = block.inner();
        if header.height != parent.inner().height + 1
            || header.parent != parent.digest()
            || header.timestamp_ms < parent.inner().timestamp_ms
            || header.proposer != account_of(&context.leader)
            || header.txs_root != txs_root(&header.txs)
        {
            return false;
        }
        // A block slightly ahead of our clock may be valid once our clock catches up.
        let now = now_ms(&clock);
        debug!(
            height = header.height,
            since_proposal_ms = now.saturating_sub(header.timestamp_ms),
            "verifying"
        );
        if header.timestamp_ms > now + MAX_CLOCK_DRIFT_MS {
            let wait = header.timestamp_ms - now - MAX_CLOCK_DRIFT_MS;
            clock.sleep(Duration::from_millis(wait)).await;
        }
        {
            // A block at or below the committed height (consensus replaying after a restart, or
            // a late request): it is valid iff it is on the finalized chain.
            let store = self.shared.store.lock().await;
            if header.height == store.height() {
                return header.state_root == store.root();
            }
            if header.height < store.height() {
                // Only the block store could tell; abstain until consensus cancels.
                drop(store);
                return futures::future::pending().await;
            }
        }
        let base = match self.resolve(&parent, &mut ancestry).await {
            Ok(base) => base,
            // Without its ancestors the block can be neither accepted nor refused: abstain until
            // consensus cancels the request.
            Err(Unresolved::Ended) => return futures::future::pending().await,
            Err(Unresolved::Stale | Unresolved::Invalid) => return false,
        };
        let mut store = self.shared.store.lock().await;
        let executed = match store.execute(&base, header, &self.shared.mempool).await {
            Ok(executed) => executed,
            Err(StoreError::Block(_)) => return false,
            Err(error) => panic!("state store failed: {error}"),
        };
        if executed.pending.state_root != header.state_root {
            return false;
        }
        if self.shared.gossip.enabled() {
            self.shared
                .in_blocks
                .note_authentic(&executed.outcome.results);
        }
        store.remember(block.digest(), executed.pending);
        debug!(
            height = header.height,
            since_proposal_ms = now_ms(&clock).saturating_sub(header.timestamp_ms),
            "verified"
        );
        true
    }
}

/// Applies finalized blocks durably, in height order, then acknowledges them to marshal.
pub struct Finalizer<E: commonware_storage::Context + Spawner> {
    shared: Arc<Shared<E>>,
    clock: E,
}

impl<E: commonware_storage::Context + Spawner> Finalizer<E> {
    /// Applies one finalized block (re-delivered blocks at or below the committed height are
    /// checked against the committed root and skipped).
    ///
    /// # Panics
    /// If local execution of a finalized block gives another state root than the block carries:
    /// the node's state has diverged from the chain and it must not continue.
    pub async fn apply(&self, block: &Digested<Block>) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        let header = block.inner();
        let since_proposal_ms = now_ms(&self.clock).saturating_sub(header.timestamp_ms);
        let mut store = self.shared.store.lock().await;
        if header.height <= store.height() {
            if header.height == store.height() {
                assert_eq!(
                    header.state_root,
                    store.root(),
                    "finalized block {} does not match the committed state",
                    header.height
                );
            }
            return Ok(());
        }
        assert_eq!(
            header.height,
            store.height() + 1,
            "marshal delivers finalized blocks in height order"
        );
        // Logged for blocks new here only: a replay after a restart would log its age.
        debug!(height = header.height, since_proposal_ms, "finalized");
        let pending = match store.pending(&block.digest()) {
            Some(pending) => pending,
            None => {
                store
                    .execute(&Base::Committed, header, &self.shared.mempool)
                    .await?
                    .pending
            }
        };
        assert_eq!(
            pending.state_root, header.state_root,
            "finalized block {} has a state root this node does not compute",
            header.height
        );
        let results = pending.results.clone();
        store.commit(pending).await?;
        let hashes: Vec<_> = header.txs.iter().map(|tx| tx.hash()).collect();
        self.shared.mempool.remove(&hashes);
        {
            let state = self.shared.state.read();
            let view = state.view();
            for tx in &header.txs {
                let next_nonce = cadenza_ledger::query::account(&view, &tx.tx.signer).nonce;
                self.shared.mempool.prune(&tx.tx.signer, next_nonce);
            }
        }
        self.shared.progress.set(store.height(), store.root());
        drop(store);
        // Nobody listening is fine: the event stream is best effort for subscribers.
        let _ = self.shared.committed.send(Arc::new(Committed {
            height: header.height,
            digest: block.digest(),
            timestamp_ms: header.timestamp_ms,
            committed_ms: now_ms(&self.clock),
            state_root: header.state_root,
            results,
        }));
        debug!(
            height = header.height,
            n_txs = header.txs.len(),
            ms = started.elapsed().as_millis() as u64,
            "committed"
        );
        Ok(())
    }
}

/// How many finalized blocks marshal may deliver before the first is acknowledged (its
/// `max_pending_acks`); the finalizer's queue holds exactly that many.
pub const MAX_PENDING_ACKS: usize = 1;

type Delivery = (Digested<Block>, commonware_utils::acknowledgement::Exact);

/// Marshal's reporter: hands finalized blocks to the finalizer task, in order.
pub struct FinalizedReporter {
    sender: mpsc::Sender<Delivery>,
}

impl Clone for FinalizedReporter {
    fn clone(&self) -> Self {
        FinalizedReporter {
            sender: self.sender.clone(),
        }
    }
}

impl Reporter for FinalizedReporter {
    type Activity = Update<Block>;

    fn report(&mut self, activity: Self::Activity) -> Feedback {
        match activity {
            // The tip is not a durability signal: only delivered blocks are applied.
            Update::Tip(..) => Feedback::Ok,
            Update::Block(block, ack) => {
                // Marshal delivers no more than `MAX_PENDING_ACKS` blocks before they are
                // acknowledged, so the queue has room; a full queue is a wiring bug.
                match self.sender.try_send((block, ack)) {
                    Ok(()) => Feedback::Ok,
                    Err(error) if error.is_disconnected() => Feedback::Closed,
                    Err(_) => panic!("marshal delivered more than MAX_PENDING_ACKS blocks"),
                }
            }
        }
    }
}

/// Starts the finalizer task and returns marshal's reporter for it.
pub fn start_finalizer<E>(spawner: E, shared: Arc<Shared<E>>) -> FinalizedReporter
where
    E: commonware_storage::Context + Spawner,
{
    // A channel's capacity is its buffer plus one slot per sender; marshal holds one sender.
    let (sender, mut receiver) = mpsc::channel::<Delivery>(MAX_PENDING_ACKS.saturating_sub(1));
    spawner.spawn(move |clock| async move {
        let finalizer = Finalizer { shared, clock };
        while let Some((block, ack)) = receiver.next().await {
            if block.height().get() == 0 {
                // Genesis is the store's initial state: nothing to apply.
                ack.acknowledge();
                continue;
            }
            if let Err(error) = finalizer.apply(&block).await {
                // Without the block applied we must not acknowledge; stopping makes marshal
                // re-deliver it after a restart.
                panic!(
                    "cannot apply finalized block {}: {error}",
                    block.inner().height
                );
            }
            ack.acknowledge();
        }
    });
    FinalizedReporter { sender }
}
