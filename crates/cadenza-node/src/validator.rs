//! A validator: simplex consensus, marshal with its resolver, buffered block broadcast, the
//! archives, the inline adapter, the application and the finalizer, wired on any Commonware
//! runtime and any p2p network. The node binary runs it on tokio with authenticated p2p
//! ([`crate::net`]); the fault tests run the same wiring on the deterministic runtime and the
//! simulated network ([`crate::sim`]).

use std::num::{NonZeroU16, NonZeroU64, NonZeroUsize};
use std::sync::Arc;
use std::time::Duration;

use cadenza_ledger::Genesis;
use commonware_broadcast::buffered;
use commonware_consensus::{
    marshal::{
        self, Start,
        core::{Actor as MarshalActor, Mailbox as MarshalMailbox},
        resolver::p2p as marshal_resolver,
        standard::{Inline, Standard},
    },
    simplex::{
        self,
        config::{ForwardPolicy, SkipPolicy},
        elector::RoundRobin,
        scheme::ed25519::Scheme,
    },
    types::{Epoch, FixedEpocher, Height, ViewDelta},
};
use commonware_cryptography::{
    Digested, Digestible as _, Signer as _, blake3::Blake3, certificate::ConstantProvider,
    certificate::Verifier as _, ed25519,
};
use commonware_p2p::{Blocker, Provider, Receiver, Sender};
use commonware_parallel::Sequential;
use commonware_runtime::{Clock, Handle, Metrics, Spawner, Storage, buffer::paged::CacheRef};
use commonware_storage::archive::immutable;
use commonware_utils::{NZDuration, ordered::Set};

use crate::app::{App, MAX_PENDING_ACKS, Progress, Shared, start_finalizer};
use crate::block::Block;
use crate::mempool::Mempool;
use crate::store::{StateStore, StoreConfig, StoreError};

/// The p2p channels of a validator.
pub mod channels {
    /// Simplex votes.
    pub const VOTES: u64 = 0;
    /// Simplex certificates.
    pub const CERTIFICATES: u64 = 1;
    /// Simplex's resolver (missing certificates).
    pub const RESOLVER: u64 = 2;
    /// Marshal's backfill of finalized blocks.
    pub const BACKFILL: u64 = 3;
    /// Block broadcast.
    pub const BROADCAST: u64 = 4;
    /// Transaction gossip ([`crate::gossip`]).
    pub const TXS: u64 = 5;
}

/// The epoch length of a static validator set: effectively one epoch forever.
const EPOCH_LENGTH: u64 = u64::MAX / 2;

/// How a validator is set up.
#[derive(Clone)]
pub struct ValidatorConfig {
    /// Its signing key (also its identity on the network).
    pub key: ed25519::PrivateKey,
    /// Every validator's public key.
    pub participants: Vec<ed25519::PublicKey>,
    /// The chain's genesis.
    pub genesis: Genesis,
    /// The consensus namespace (separates this chain's signatures from any other's).
    pub namespace: Vec<u8>,
    /// The mempool's capacity.
    pub mempool_capacity: usize,
    /// Threads that check incoming transactions' signatures ([`crate::admission`]); 0 checks
    /// them in the receiving task (the deterministic simulation, which owns every thread).
    pub admission_threads: usize,
}

/// What a validator needs of its runtime: storage, clock, tasks, metrics and cryptographic
/// randomness (Commonware's tokio and deterministic runtimes both provide them).
pub trait Runtime:
    commonware_storage::Context + Spawner + Clock + Storage + Metrics + rand_core::CryptoRng
{
}
impl<T> Runtime for T where
    T: commonware_storage::Context + Spawner + Clock + Storage + Metrics + rand_core::CryptoRng
{
}

/// The validator's side of a p2p network: one sender and receiver per channel (see
/// [`channels`]), the peer set provider and the blocker for misbehaving peers.
pub struct Network<S, R, P, B> {
    /// Simplex votes.
    pub votes: (S, R),
    /// Simplex certificates.
    pub certificates: (S, R),
    /// Simplex's resolver.
    pub resolver: (S, R),
    /// Marshal's backfill.
    pub backfill: (S, R),
    /// Block broadcast.
    pub broadcast: (S, R),
    /// Transaction gossip.
    pub txs: (S, R),
    /// Who the peers are.
    pub peers: P,
    /// Blocks peers that misbehave.
    pub blocker: B,
}

/// A running validator.
pub struct Validator<E: Runtime> {
    /// Its public key.
    pub public_key: ed25519::PublicKey,
    /// State, mempool and progress.
    pub shared: Arc<Shared<E>>,
    /// Marshal's mailbox: finalized blocks by height.
    pub marshal: MarshalMailbox<Scheme, Standard<Block>>,
    /// The consensus engine's task.
    pub engine: Handle<()>,
}

impl<E: Runtime> Validator<E> {
    /// The mempool.
    pub fn mempool(&self) -> &Mempool {
        &self.shared.mempool
    }

    /// Submits a transaction, judged against the committed state (see [`Shared::submit`]).
    pub async fn submit(
        &self,
        tx: cadenza_types::SignedTransaction,
    ) -> Result<cadenza_types::Hash, crate::mempool::MempoolError> {
        self.shared.submit(tx).await
    }

    /// The committed tip.
    pub fn progress(&self) -> &Progress {
        &self.shared.progress
    }

    /// The finalized block at `height`, from marshal's archive.
    pub async fn finalized_block(&self, height: u64) -> Option<Digested<Block>> {
        self.marshal.get_block(Height::new(height)).await
    }
}

/// The largest message any channel carries.
pub fn max_message_size(n_participants: u32) -> u32 {
    commonware_p2p::max_message_size(&[
        simplex::max_payload_size::<Scheme, crate::block::Digest>(n_participants),
        marshal::max_payload_size::<Standard<Block>, Scheme>(n_participants, &()),
    ])
}

/// Starts a validator on `context` and `network`. Its storage lives under partitions named after
/// its index among the participants, so a validator restarted on the same storage recovers from
/// it (to its last committed block, checked against the finalized block's state root).
pub async fn start_validator<E, S, R, P, B>(
    context: E,
    network: Network<S, R, P, B>,
    config: ValidatorConfig,
) -> Result<Validator<E>, StoreError>
where
    E: Runtime,
    S: Sender<PublicKey = ed25519::PublicKey>,
    R: Receiver<PublicKey = ed25519::PublicKey>,
    P: Provider<PublicKey = ed25519::PublicKey> + Clone,
    B: Blocker<PublicKey = ed25519::PublicKey> + Clone,
{
    let public_key = config.key.public_key();
    let index = config
        .participants
        .iter()
        .position(|p| *p == public_key)
        .expect("the validator is a participant");
    let prefix = format!("validator-{index}");
    let page_cache = CacheRef::new(
        NonZeroU16::new(4096).expect("non-zero"),
        NonZeroUsize::new(1024).expect("non-zero"),
    );
    let participants = Set::from_iter_dedup(config.participants.iter().cloned());
    let scheme = Scheme::signer(&config.namespace, participants, config.key.clone())
        .expect("the key is a participant's");

    // The ledger state, recovered to its last committed block.
    let store = StateStore::open(
        context.child("state"),
        &StoreConfig {
            partition_prefix: prefix.clone(),
            page_cache: page_cache.clone(),
        },
        &config.genesis,
    )
    .await?;
    // The genesis block commits to the genesis state's root. A recovered store is past it, so
    // the root is derived the same way at every start, in a scratch store.
    let genesis_block = Block::genesis(
        config.genesis.time_ms,
        genesis_root(&context, &prefix, &config.genesis).await?,
    );
    let mut shared = Shared::new(
        store,
        config.mempool_capacity,
        config.genesis.chain_id.clone(),
    );
    if config.participants.len() > 1 {
        shared = shared.among_peers();
    }
    if config.admission_threads > 0 {
        match crate::admission::Pool::new(config.admission_threads) {
            Ok(pool) => shared.admission = Some(pool),
            Err(error) => {
                tracing::warn!(%error, "no admission threads; signatures are checked in place");
            }
        }
    }
    let shared = Arc::new(shared);

    let Network {
        votes,
        certificates,
        resolver: resolver_net,
        backfill,
        broadcast,
        txs,
        peers,
        blocker,
    } = network;
    // A validator alone has no one to gossip with.
    if shared.gossip.enabled() {
        crate::gossip::start(&context, shared.clone(), txs, blocker.clone());
    }

    // Marshal's resolver fetches finalized blocks and certificates we miss.
    let resolver = marshal_resolver::init(
        context.child("marshal_resolver"),
        marshal_resolver::Config {
            public_key: public_key.clone(),
            peer_provider: peers.clone(),
            blocker: blocker.clone(),
            mailbox_size: NonZeroUsize::new(1024).expect("non-zero"),
            fetch_timeout: NZDuration!(Duration::from_secs(2)),
            fetch_retry_delay: Duration::from_millis(100),
            priority_requests: false,
            priority_responses: false,
        },
        backfill,
    );

    // Blocks are broadcast to (and buffered from) peers.
    let (broadcast_engine, buffer) = buffered::Engine::new(
        context.child("broadcast"),
        buffered::Config {
            public_key: public_key.clone(),
            mailbox_size: NonZeroUsize::new(1024).expect("non-zero"),
            deque_size: 10,
            priority: false,
            codec_config: (),
            peer_provider: peers,
            strategy: Sequential,
        },
    );
    broadcast_engine.start(broadcast);

    fn archive<C>(
        prefix: &str,
        page_cache: &CacheRef,
        name: &str,
        codec_config: C,
    ) -> immutable::Config<C> {
        immutable::Config {
            metadata_partition: format!("{prefix}-{name}-metadata"),
            freezer_table_partition: format!("{prefix}-{name}-freezer-table"),
            freezer_table_initial_size: 64,
            freezer_table_resize_frequency: 10,
            freezer_table_resize_chunk_size: 10,
            freezer_key_partition: format!("{prefix}-{name}-freezer-key"),
            freezer_key_page_cache: page_cache.clone(),
            freezer_value_partition: format!("{prefix}-{name}-freezer-value"),
            freezer_value_target_size: 1 << 20,
            freezer_value_compression: None,
            ordinal_partition: format!("{prefix}-{name}-ordinal"),
            items_per_section: NonZeroU64::new(1024).expect("non-zero"),
            codec_config,
            replay_buffer: NonZeroUsize::new(1 << 16).expect("non-zero"),
            freezer_key_write_buffer: NonZeroUsize::new(1 << 16).expect("non-zero"),
            freezer_value_write_buffer: NonZeroUsize::new(1 << 16).expect("non-zero"),
            ordinal_write_buffer: NonZeroUsize::new(1 << 16).expect("non-zero"),
        }
    }
    let finalizations_by_height = immutable::Archive::init(
        context.child("finalizations_by_height"),
        archive(
            &prefix,
            &page_cache,
            "finalizations",
            Scheme::certificate_codec_config_unbounded(),
        ),
    )
    .await
    .map_err(|e| StoreError::Storage(format!("finalizations archive: {e:?}")))?;
    let finalized_blocks = immutable::Archive::init(
        context.child("finalized_blocks"),
        archive(&prefix, &page_cache, "blocks", ()),
    )
    .await
    .map_err(|e| StoreError::Storage(format!("blocks archive: {e:?}")))?;

    let provider = ConstantProvider::new(scheme.clone());
    let genesis_digested = {
        let digest = genesis_block.digest();
        Digested::precomputed(genesis_block.clone(), digest)
    };
    let (marshal_actor, marshal_mailbox, _floor) =
        MarshalActor::<_, Standard<Block>, _, _, _, _, _>::init(
            context.child("marshal"),
            finalizations_by_height,
            finalized_blocks,
            marshal::Config {
                provider,
                epocher: FixedEpocher::new(NonZeroU64::new(EPOCH_LENGTH).expect("non-zero")),
                start: Start::Genesis(genesis_digested),
                partition_prefix: prefix.clone(),
                mailbox_size: NonZeroUsize::new(1024).expect("non-zero"),
                view_retention: ViewDelta::new(10),
                prunable_items_per_section: NonZeroU64::new(10).expect("non-zero"),
                page_cache: page_cache.clone(),
                replay_buffer: NonZeroUsize::new(1 << 16).expect("non-zero"),
                key_write_buffer: NonZeroUsize::new(1 << 16).expect("non-zero"),
                value_write_buffer: NonZeroUsize::new(1 << 16).expect("non-zero"),
                block_codec_config: (),
                max_repair: NonZeroUsize::new(10).expect("non-zero"),
                max_pending_acks: NonZeroUsize::new(MAX_PENDING_ACKS).expect("non-zero"),
                strategy: Sequential,
            },
        )
        .await;

    let reporter = start_finalizer(context.child("finalizer"), shared.clone());
    marshal_actor.start(reporter, buffer, resolver);

    // Recovery check: the committed state must be the state of the finalized block at its
    // height (marshal re-delivers every later block). Marshal answers only once started; the
    // store lock keeps the finalizer from moving the height meanwhile.
    {
        let store = shared.store.lock().await;
        if store.height() > 0 {
            let block = marshal_mailbox
                .get_block(Height::new(store.height()))
                .await
                .ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "no finalized block at the committed height {}",
                        store.height()
                    ))
                })?;
            if block.inner().state_root != store.root() {
                return Err(StoreError::Corrupt(format!(
                    "the state root at height {} differs from the finalized block's",
                    store.height()
                )));
            }
        }
    }

    let app = App::new(shared.clone());
    let inline = Inline::new(
        context.child("inline"),
        app,
        marshal_mailbox.clone(),
        FixedEpocher::new(NonZeroU64::new(EPOCH_LENGTH).expect("non-zero")),
    );
    let engine = simplex::Engine::new(
        context.child("simplex"),
        simplex::Config {
            scheme,
            elector: RoundRobin::<Blake3>::default(),
            blocker,
            automaton: inline.clone(),
            relay: inline.clone(),
            reporter: inline,
            strategy: Sequential,
            partition: format!("{prefix}-simplex"),
            mailbox_size: NonZeroUsize::new(1024).expect("non-zero"),
            epoch: Epoch::zero(),
            floor: simplex::config::Floor::Genesis(genesis_block.digest()),
            replay_buffer: NonZeroUsize::new(1 << 16).expect("non-zero"),
            write_buffer: NonZeroUsize::new(1 << 16).expect("non-zero"),
            page_cache,
            leader_timeout: Duration::from_secs(1),
            certification_timeout: Duration::from_secs(2),
            timeout_retry: Duration::from_millis(500),
            view_retention: ViewDelta::new(10),
            skip: SkipPolicy::Enabled {
                timeout: Duration::from_secs(5),
                budget: simplex::SkipBudget::Participants,
            },
            fetch_timeout: NZDuration!(Duration::from_secs(2)),
            fetch_retry_delay: Duration::from_millis(500),
            forward: ForwardPolicy::Disabled,
            track_historical_votes: false,
        },
    );
    let engine = engine.start(votes, certificates, resolver_net);
    Ok(Validator {
        public_key,
        shared,
        marshal: marshal_mailbox,
        engine,
    })
}

/// The root of the genesis state: a throwaway store initialised with the genesis in its own
/// partitions (deterministic, so every validator gets the same root).
async fn genesis_root<E: Runtime>(
    context: &E,
    prefix: &str,
    genesis: &Genesis,
) -> Result<crate::block::Digest, StoreError> {
    let scratch = StoreConfig {
        partition_prefix: format!("{prefix}-genesis"),
        page_cache: CacheRef::new(
            NonZeroU16::new(4096).expect("non-zero"),
            NonZeroUsize::new(16).expect("non-zero"),
        ),
    };
    let store = StateStore::open(context.child("genesis"), &scratch, genesis).await?;
    if store.height() != 0 {
        return Err(StoreError::Corrupt(
            "the genesis scratch store has blocks".into(),
        ));
    }
    Ok(store.root())
}
