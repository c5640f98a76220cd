//! The node's state: Commonware's authenticated key-value store (QMDB, `current` variant) holding
//! the ledger's state, with speculative execution of unfinalized blocks and durable commits of
//! finalized ones.
//!
//! Three layers serve reads (see ADR 0002):
//! - the QMDB database, whose root every block commits to and which proves any current value;
//! - an in-memory mirror of the committed key-value pairs, so the ledger's synchronous
//!   [`StateView`] never waits on storage (rebuilt from the QMDB log on start); with the
//!   committed height and root it is a [`Snapshot`] shared behind a read-write lock
//!   ([`CommittedState`]), so readers of the committed state need not hold the store;
//! - one [`Pending`] layer per executed but unfinalized block: its change set and its QMDB batch,
//!   chained to its parent's, so a block can be built or verified on any unfinalized ancestor.
//!
//! A block is committed only when it is finalized: its batch (which includes every not yet
//! applied ancestor) is applied and fsynced, then the mirror is updated. The QMDB commit carries
//! the block height as metadata, so a restart knows which block the state belongs to.
//!
//! The mirror also keeps one secondary index, kept in step with it on every insert and removal:
//! balance keys by asset, so "who holds this asset" (a track's share holders) is a range read
//! rather than a scan of every balance. Zero balances are deleted by the ledger, so the index
//! holds exactly the current holders.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::num::{NonZeroU64, NonZeroUsize};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};

use cadenza_ledger::{BlockOutcome, ChangeSet, Genesis, MemoryState, StateView};
use cadenza_types::{AccountId, AssetId};
use commonware_codec::RangeCfg;
use commonware_cryptography::blake3::Blake3;
use commonware_parallel::Sequential;
use commonware_runtime::{Spawner, buffer::paged::CacheRef};
use commonware_storage::{
    mmr::{self, Location},
    qmdb::{
        any::operation::Operation as AnyOperation,
        current::{
            self,
            batch::MerkleizedBatch,
            unordered::{proof::constant::KeyValueProof, variable::Db as CurrentDb},
        },
        floor::Proportional,
    },
    translator::EightCap,
};

use crate::block::{Block, Digest};

/// Bytes per chunk of QMDB's activity bitmap (a multiple of the digest size).
const CHUNK_BYTES: usize = 32;
/// The longest state key, in bytes (ledger keys are a tag and a few 32-byte ids).
pub const MAX_KEY_BYTES: usize = 1024;
/// The longest state value, in bytes.
pub const MAX_VALUE_BYTES: usize = 1 << 20;
/// How many operations a replay reads at once when the mirror is rebuilt.
const REPLAY_CHUNK: u64 = 1024;

type Update = commonware_storage::qmdb::any::unordered::variable::Update<Vec<u8>, Vec<u8>>;

/// The QMDB database holding the ledger state.
pub type StateDb<E> =
    CurrentDb<mmr::Family, E, Vec<u8>, Vec<u8>, Blake3, EightCap, CHUNK_BYTES, Sequential>;

/// A merkleized, not yet applied, batch of state changes.
pub type StateBatch = MerkleizedBatch<mmr::Family, Digest, Update, CHUNK_BYTES, Sequential>;

/// A proof that a key holds a value under a state root.
pub type ValueProof = KeyValueProof<mmr::Family, Digest, CHUNK_BYTES>;

/// Why the state store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The storage layer failed; the store cannot continue and the node must restart.
    #[error("state storage failed: {0}")]
    Storage(String),
    /// The genesis configuration is invalid.
    #[error("invalid genesis: {0}")]
    Genesis(#[from] cadenza_ledger::GenesisError),
    /// The ledger refused the block as a whole (wrong height, time going back).
    #[error("block refused by the ledger: {0}")]
    Block(#[from] cadenza_ledger::BlockError),
    /// The stored state does not match what it claims to be; restore from a peer or a backup.
    #[error("stored state is corrupt: {0}")]
    Corrupt(String),
    /// The block to build on is neither the committed block nor an executed unfinalized one.
    #[error("unknown or stale parent at height {height}")]
    UnknownParent {
        /// The parent's height.
        height: u64,
    },
}

/// A shorthand for results of this module.
pub type Result<T> = std::result::Result<T, StoreError>;

fn storage<F: std::fmt::Debug>(error: F) -> StoreError {
    StoreError::Storage(format!("{error:?}"))
}

/// Where a store keeps its data, inside the runtime's storage.
#[derive(Clone)]
pub struct StoreConfig {
    /// Prefix of every partition the store creates.
    pub partition_prefix: String,
    /// The page cache shared with the node's other storage.
    pub page_cache: CacheRef,
}

/// The codec bounds of the state log's operations: key length and value length.
type OpCodecConfig = ((RangeCfg<usize>, ()), (RangeCfg<usize>, ()));
type DbConfig = current::VariableConfig<EightCap, OpCodecConfig, Sequential>;

fn db_config(cfg: &StoreConfig) -> DbConfig {
    let p = &cfg.partition_prefix;
    let buffer = NonZeroUsize::new(1 << 16).expect("non-zero");
    current::VariableConfig {
        merkle_config: mmr::full::Config {
            journal_partition: format!("{p}-state-mmr-journal"),
            metadata_partition: format!("{p}-state-mmr-metadata"),
            items_per_blob: NonZeroU64::new(4096).expect("non-zero"),
            write_buffer: buffer,
            replay_buffer: buffer,
            strategy: Sequential,
            page_cache: cfg.page_cache.clone(),
        },
        journal_config: commonware_storage::journal::contiguous::variable::Config {
            partition: format!("{p}-state-log"),
            items_per_section: NonZeroU64::new(4096).expect("non-zero"),
            write_buffer: buffer,
            replay_buffer: buffer,
            compression: None,
            codec_config: (
                (RangeCfg::from(0..=MAX_KEY_BYTES), ()),
                (RangeCfg::from(0..=MAX_VALUE_BYTES), ()),
            ),
            page_cache: cfg.page_cache.clone(),
        },
        grafted_metadata_partition: format!("{p}-state-grafted"),
        translator: EightCap,
        init_cache: Some(NonZeroUsize::new(1024).expect("non-zero")),
        init_buffer: NonZeroUsize::new(1 << 20).expect("non-zero"),
        init_concurrency: (),
    }
}

/// An executed, not yet finalized block's effect on the state.
pub struct Pending {
    /// The block's height.
    pub height: u64,
    /// The state root after the block.
    pub state_root: Digest,
    /// The ledger's outcome of each of the block's transactions.
    pub results: Vec<cadenza_ledger::TxOutcome>,
    /// The block's writes, for reads by descendants.
    changes: ChangeSet,
    /// The parent's layer while the parent is unfinalized; cut once the parent is committed,
    /// so committed layers (and their QMDB batches, which new batches would otherwise keep
    /// collecting as reachable ancestors) are freed.
    parent: Mutex<Option<Arc<Pending>>>,
    /// The QMDB batch of the block, chained to the parent's.
    batch: Arc<StateBatch>,
}

/// What a block is executed on: the committed state, or an unfinalized block's layer.
#[derive(Clone)]
pub enum Base {
    /// The committed state.
    Committed,
    /// The state after an executed, unfinalized block.
    Pending(Arc<Pending>),
}

/// The result of executing a block on a base.
pub struct Executed {
    /// The ledger's outcome (changes and per-transaction results).
    pub outcome: BlockOutcome,
    /// The state layer after the block; its `state_root` is what the block must carry.
    pub pending: Arc<Pending>,
}

/// The committed key-value pairs in memory, with the balance-by-asset index.
#[derive(Default)]
struct Mirror {
    kv: BTreeMap<Vec<u8>, Vec<u8>>,
    /// `asset ‖ owner` for every balance key `BALANCE ‖ owner ‖ asset` in `kv`.
    holders: BTreeSet<[u8; 64]>,
}

/// `asset ‖ owner` of a balance key, or `None` for any other key.
fn holder_entry(key: &[u8]) -> Option<[u8; 64]> {
    if key.len() != 65 || key[0] != cadenza_ledger::records::prefix::BALANCE {
        return None;
    }
    let mut entry = [0u8; 64];
    entry[..32].copy_from_slice(&key[33..65]);
    entry[32..].copy_from_slice(&key[1..33]);
    Some(entry)
}

impl Mirror {
    fn insert(&mut self, key: Vec<u8>, value: Vec<u8>) {
        if let Some(entry) = holder_entry(&key) {
            self.holders.insert(entry);
        }
        self.kv.insert(key, value);
    }

    fn remove(&mut self, key: &[u8]) {
        if let Some(entry) = holder_entry(key) {
            self.holders.remove(&entry);
        }
        self.kv.remove(key);
    }
}

/// A read view of the state at a base: pending layers first (newest first), then the mirror.
struct ChainView<'a> {
    layers: Vec<Arc<Pending>>,
    committed: RwLockReadGuard<'a, Snapshot>,
}

/// The committed state: the mirror of the last durable commit, with its height and root.
pub struct Snapshot {
    mirror: Mirror,
    height: u64,
    root: Digest,
}

impl Snapshot {
    /// The height of the last committed block.
    pub fn height(&self) -> u64 {
        self.height
    }

    /// The state root of the last committed block.
    pub fn root(&self) -> Digest {
        self.root
    }

    /// A read view of the committed state.
    pub fn view(&self) -> impl StateView + '_ {
        SnapshotView(self)
    }

    /// Up to `limit` committed entries whose keys start with `prefix`, in key order, starting
    /// after `after` (a key from a previous page) if given.
    pub fn range(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Vec<(Vec<u8>, Vec<u8>)> {
        use std::ops::Bound;
        let start = match after {
            Some(after) => Bound::Excluded(after.to_vec()),
            None => Bound::Included(prefix.to_vec()),
        };
        self.mirror
            .kv
            .range((start, Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Up to `limit` committed holders of `asset` (accounts with a non-zero balance), in account
    /// order, starting after `after` if given.
    pub fn holders(
        &self,
        asset: &AssetId,
        after: Option<&AccountId>,
        limit: usize,
    ) -> Vec<AccountId> {
        use std::ops::Bound;
        let mut from = [0u8; 64];
        from[..32].copy_from_slice(asset.as_bytes());
        let start = match after {
            Some(after) => {
                from[32..].copy_from_slice(after.as_bytes());
                Bound::Excluded(from)
            }
            None => Bound::Included(from),
        };
        self.mirror
            .holders
            .range((start, Bound::Unbounded))
            .take_while(|entry| entry[..32] == *asset.as_bytes())
            .take(limit)
            .map(|entry| AccountId(entry[32..].try_into().expect("32 bytes")))
            .collect()
    }
}

struct SnapshotView<'a>(&'a Snapshot);

impl StateView for SnapshotView<'_> {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.0.mirror.kv.get(key).cloned()
    }
}

/// A shared handle on the committed state: readers (admission, the API) never wait for block
/// execution or for a commit's fsync, only for the moment a commit swaps its writes in.
#[derive(Clone)]
pub struct CommittedState(Arc<RwLock<Snapshot>>);

impl CommittedState {
    /// The committed state now. Hold the guard briefly: a commit waits for it.
    pub fn read(&self) -> RwLockReadGuard<'_, Snapshot> {
        self.0
            .read()
            .expect("the committed state lock is never poisoned")
    }

    /// Taken only through `&mut StateStore` (a commit, or opening), so whoever holds the store
    /// may read the snapshot again without a writer in between.
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Snapshot> {
        self.0
            .write()
            .expect("the committed state lock is never poisoned")
    }
}

impl Pending {
    fn parent(&self) -> Option<Arc<Pending>> {
        self.parent.lock().expect("never poisoned").clone()
    }

    /// The layers from this one down to (excluding) the committed height, newest first.
    fn layers(self: &Arc<Self>, committed_height: u64) -> Vec<Arc<Pending>> {
        let mut layers = Vec::new();
        let mut layer = Some(self.clone());
        while let Some(pending) = layer {
            // Layers at or below the committed height are already in the mirror.
            if pending.height <= committed_height {
                break;
            }
            layer = pending.parent();
            layers.push(pending);
        }
        layers
    }
}

impl StateView for ChainView<'_> {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        for layer in &self.layers {
            if let Some(value) = layer.changes.get(key) {
                return value.clone();
            }
        }
        self.committed.mirror.kv.get(key).cloned()
    }
}

/// The ledger state: committed in QMDB, mirrored in memory, with unfinalized layers on top.
pub struct StateStore<E: commonware_storage::Context + Spawner> {
    /// `None` only while an apply or commit is in flight (they consume the handle).
    db: Option<StateDb<E>>,
    committed: CommittedState,
    pending: HashMap<Digest, Arc<Pending>>,
}

impl<E: commonware_storage::Context + Spawner> StateStore<E> {
    /// Opens the store: a fresh one is initialised with `genesis` and committed at height 0; an
    /// existing one recovers to its last commit and rebuilds the in-memory mirror from the log.
    pub async fn open(context: E, config: &StoreConfig, genesis: &Genesis) -> Result<Self> {
        let db = StateDb::<E>::init(context, db_config(config), None)
            .await
            .map_err(storage)?;
        let metadata = db.get_metadata().await.map_err(storage)?;
        let root = db.root();
        let mut store = StateStore {
            db: Some(db),
            committed: CommittedState(Arc::new(RwLock::new(Snapshot {
                mirror: Mirror::default(),
                height: 0,
                root,
            }))),
            pending: HashMap::new(),
        };
        match metadata {
            None => {
                let changes = cadenza_ledger::init_genesis(&MemoryState::new(), genesis)?;
                let db = store.db();
                let mut batch = db.new_batch();
                for (key, value) in &changes {
                    batch = batch.write(key.clone(), value.clone());
                }
                let merkleized = batch
                    .merkleize(db, Some(height_metadata(0)), &mut Proportional)
                    .await
                    .map_err(storage)?;
                store.apply_and_commit(merkleized).await?;
                let mut snapshot = store.committed.write();
                for (key, value) in changes {
                    if let Some(value) = value {
                        snapshot.mirror.insert(key, value);
                    }
                }
                snapshot.root = store.db().root();
            }
            Some(bytes) => {
                let height = parse_height(&bytes)?;
                let mirror = store.rebuild_mirror().await?;
                let mut snapshot = store.committed.write();
                snapshot.mirror = mirror;
                snapshot.height = height;
            }
        }
        let height = store.height();
        let meta = cadenza_ledger::query::meta(&store.view(&Base::Committed))
            .ok_or_else(|| StoreError::Corrupt("no ledger metadata in the state".into()))?;
        if meta.height != height {
            return Err(StoreError::Corrupt(format!(
                "ledger height {} but the store committed height {height}",
                meta.height
            )));
        }
        Ok(store)
    }

    fn db(&self) -> &StateDb<E> {
        self.db
            .as_ref()
            .expect("the database handle is present between operations")
    }

    /// Replays the operation log (never pruned so far) into a mirror.
    async fn rebuild_mirror(&self) -> Result<Mirror> {
        let db = self.db();
        let bounds = db.bounds();
        if *bounds.start != 0 {
            return Err(StoreError::Corrupt(
                "the state log was pruned; rebuilding the mirror needs a snapshot".into(),
            ));
        }
        let size = bounds.end;
        let mut mirror = Mirror::default();
        let mut loc = 0u64;
        while loc < *size {
            let (_, ops) = db
                .ops_historical_proof(
                    size,
                    Location::new(loc),
                    NonZeroU64::new(REPLAY_CHUNK).expect("non-zero"),
                )
                .await
                .map_err(storage)?;
            if ops.is_empty() {
                return Err(StoreError::Corrupt("the state log ended early".into()));
            }
            loc += ops.len() as u64;
            for op in ops {
                match op {
                    AnyOperation::Update(update) => {
                        mirror.insert(update.0, update.1);
                    }
                    AnyOperation::Delete(key) => {
                        mirror.remove(&key);
                    }
                    AnyOperation::CommitFloor(..) => {}
                }
            }
        }
        Ok(mirror)
    }

    async fn apply_and_commit(&mut self, batch: Arc<StateBatch>) -> Result<()> {
        let db = self.db.take().expect("the database handle is present");
        db.validate_batch(&batch).map_err(storage)?;
        let db = db.apply_batch(batch).await.map_err(storage)?;
        let db = db.commit().await.map_err(storage)?;
        self.db = Some(db);
        Ok(())
    }

    /// The height of the last committed block.
    pub fn height(&self) -> u64 {
        self.committed.read().height
    }

    /// The state root of the last committed block.
    pub fn root(&self) -> Digest {
        self.committed.read().root
    }

    /// The committed state, shared: readable without this store.
    pub fn committed(&self) -> CommittedState {
        self.committed.clone()
    }

    /// A read view of the state at `base`.
    pub fn view<'a>(&'a self, base: &'a Base) -> impl StateView + 'a {
        let committed = self.committed.read();
        ChainView {
            layers: match base {
                Base::Committed => Vec::new(),
                Base::Pending(p) => p.layers(committed.height),
            },
            committed,
        }
    }

    /// The state after `block` (already executed) if it is the committed block or an executed
    /// unfinalized one; `None` if it is unknown or on a fork the committed chain has left.
    pub fn base_after(&self, digest: &Digest, block: &Block) -> Option<Base> {
        let committed = self.committed.read();
        if let Some(pending) = self.pending.get(digest)
            && pending.height > committed.height
        {
            return Some(Base::Pending(pending.clone()));
        }
        // The committed state is identified by height and root: a block with the same height
        // and root commits to exactly the same state, whichever digest it has.
        if block.height == committed.height && block.state_root == committed.root {
            return Some(Base::Committed);
        }
        None
    }

    /// Executes `block` on `base` and merkleizes its changes, without committing anything.
    /// `checked` vouches for signatures already verified and may lend remembered keys (see
    /// [`cadenza_ledger::execute_block_checked`]); the other signatures are verified here.
    pub async fn execute(
        &self,
        base: &Base,
        block: &Block,
        checked: &(dyn cadenza_ledger::Checked + Sync),
    ) -> Result<Executed> {
        let outcome = cadenza_ledger::execute_block_checked(
            &self.view(base),
            &block.ledger_block(),
            checked,
        )?;
        let db = self.db();
        let mut batch = match base {
            Base::Committed => db.new_batch(),
            Base::Pending(parent) => parent.batch.new_batch::<Blake3>(),
        };
        for (key, value) in &outcome.changes {
            batch = batch.write(key.clone(), value.clone());
        }
        let merkleized = batch
            .merkleize(db, Some(height_metadata(block.height)), &mut Proportional)
            .await
            .map_err(storage)?;
        let pending = Arc::new(Pending {
            height: block.height,
            state_root: merkleized.root(),
            results: outcome.results.clone(),
            changes: outcome.changes.clone(),
            parent: Mutex::new(match base {
                Base::Committed => None,
                Base::Pending(parent) => Some(parent.clone()),
            }),
            batch: merkleized,
        });
        Ok(Executed { outcome, pending })
    }

    /// Remembers an executed block under its digest, so children can build on it.
    pub fn remember(&mut self, digest: Digest, pending: Arc<Pending>) {
        if pending.height > self.height() {
            self.pending.insert(digest, pending);
        }
    }

    /// The executed layer of an unfinalized block, if known.
    pub fn pending(&self, digest: &Digest) -> Option<Arc<Pending>> {
        self.pending.get(digest).cloned()
    }

    /// Commits an executed block durably (fsync) and makes it the committed state. The block's
    /// parent must be the committed block.
    pub async fn commit(&mut self, pending: Arc<Pending>) -> Result<()> {
        assert_eq!(
            pending.height,
            self.height() + 1,
            "blocks are committed in height order"
        );
        self.apply_and_commit(pending.batch.clone()).await?;
        {
            let mut snapshot = self.committed.write();
            for (key, value) in &pending.changes {
                match value {
                    Some(value) => {
                        snapshot.mirror.insert(key.clone(), value.clone());
                    }
                    None => {
                        snapshot.mirror.remove(key);
                    }
                }
            }
            snapshot.height = pending.height;
            snapshot.root = pending.state_root;
        }
        let height = pending.height;
        self.pending.retain(|_, p| p.height > height);
        for layer in self.pending.values() {
            let mut parent = layer.parent.lock().expect("never poisoned");
            if parent.as_ref().is_some_and(|p| p.height <= height) {
                *parent = None;
            }
        }
        Ok(())
    }

    /// Diagnostics: the number of executed unfinalized blocks held, and the longest chain of
    /// layers among them (both stay small while finalization keeps up).
    pub fn unfinalized(&self) -> (usize, usize) {
        let depth = self
            .pending
            .values()
            .map(|p| {
                let mut depth = 0;
                let mut layer = Some(p.clone());
                while let Some(pending) = layer {
                    depth += 1;
                    layer = pending.parent();
                }
                depth
            })
            .max()
            .unwrap_or(0);
        (self.pending.len(), depth)
    }

    /// The committed value of `key` with a proof against [`StateStore::root`], or `None` if the
    /// key has no value.
    pub async fn prove(&self, key: &[u8]) -> Result<Option<(Vec<u8>, ValueProof)>> {
        let Some(value) = self.committed.read().mirror.kv.get(key).cloned() else {
            return Ok(None);
        };
        let proof = self
            .db()
            .key_value_proof(key.to_vec())
            .await
            .map_err(storage)?;
        Ok(Some((value, proof)))
    }

    /// Checks a proof from [`StateStore::prove`]: `key` holds `value` in the state with `root`.
    pub fn verify_proof(key: &[u8], value: &[u8], proof: &ValueProof, root: &Digest) -> bool {
        StateDb::<E>::verify_key_value_proof(key.to_vec(), value.to_vec(), proof, root)
    }
}

/// The most digests a served proof may carry (a Merkle path in a log of up to 2^64 operations
/// plus the grafted peaks stays far below).
pub const MAX_PROOF_DIGESTS: usize = 256;

/// A proof's wire form (Commonware's codec), as the API serves it.
pub fn encode_proof(proof: &ValueProof) -> Vec<u8> {
    use commonware_codec::Encode as _;
    proof.encode().to_vec()
}

/// Decodes a proof's wire form; `None` if it is malformed.
pub fn decode_proof(bytes: &[u8]) -> Option<ValueProof> {
    use commonware_codec::Decode as _;
    ValueProof::decode_cfg(bytes::Bytes::copy_from_slice(bytes), &MAX_PROOF_DIGESTS).ok()
}

/// Checks a served proof (wire form) that `key` holds `value` in the state with `root`; a
/// malformed proof does not verify. This is what a wallet runs on an API answer.
pub fn verify_value_proof(key: &[u8], value: &[u8], proof: &[u8], root: &Digest) -> bool {
    decode_proof(proof).is_some_and(|proof| {
        StateStore::<commonware_runtime::deterministic::Context>::verify_proof(
            key, value, &proof, root,
        )
    })
}

fn height_metadata(height: u64) -> Vec<u8> {
    height.to_le_bytes().to_vec()
}

fn parse_height(bytes: &[u8]) -> Result<u64> {
    let bytes: [u8; 8] = bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt("commit metadata is not a height".into()))?;
    Ok(u64::from_le_bytes(bytes))
}
