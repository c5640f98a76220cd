//! The production network: Commonware's authenticated p2p (`lookup`: a fixed set of peers with
//! known addresses) on the tokio runtime. Peers authenticate with their validator keys
//! (SAKE handshake) and talk over encrypted streams (ChaCha20-Poly1305).

use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroUsize};
use std::time::Duration;

use commonware_cryptography::{ChaCha20Poly1305, Signer as _, ed25519};
use commonware_p2p::{
    Address, AddressableManager as _,
    authenticated::lookup::{self, Oracle},
};
use commonware_runtime::{Handle, Quota, Supervisor as _, tokio};
use commonware_stream::{
    cups::{self, Cups},
    sake::{self, Sake},
};
use commonware_utils::ordered::Map;

use crate::validator::{Network, channels, max_message_size};

/// Why the network could not start.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The peer list is unusable.
    #[error("invalid peer list: {0}")]
    Peers(String),
}

/// Messages per second each peer may send on each channel: far above what consensus needs
/// (votes and certificates are a few per block). Commonware reads a peer over its rate more
/// slowly (its whole connection waits); a send to a peer over its rate skips that peer, and a
/// full inbound queue drops the arriving message, which consensus and the resolvers retry.
const CHANNEL_RATE: u32 = 10_000;

/// Messages a peer may send on a channel at once, above its rate. Each channel's inbound queue
/// holds one burst for every peer the network may retain, and the outbound queue one for every
/// channel: these queues are allocated whole when the network starts. A burst as large as the
/// rate (the default) made them hold millions of slots, gigabytes touched page by page as
/// messages went round them.
const CHANNEL_BURST: u32 = 256;

/// Starts the authenticated network of validator `key`, listening on `listen`, with `peers`
/// (every validator, this one included, and its address). Returns the validator's side of the
/// network and the network's task.
#[allow(clippy::type_complexity)]
pub fn start_network(
    context: &tokio::Context,
    key: &ed25519::PrivateKey,
    namespace: &[u8],
    listen: SocketAddr,
    peers: &[(ed25519::PublicKey, SocketAddr)],
) -> Result<
    (
        Network<
            impl commonware_p2p::Sender<PublicKey = ed25519::PublicKey>,
            impl commonware_p2p::Receiver<PublicKey = ed25519::PublicKey>,
            Oracle<ed25519::PublicKey>,
            Oracle<ed25519::PublicKey>,
        >,
        Handle<()>,
    ),
    NetError,
> {
    let n = u32::try_from(peers.len()).map_err(|_| NetError::Peers("too many peers".into()))?;
    if !peers.iter().any(|(p, _)| *p == key.public_key()) {
        return Err(NetError::Peers(
            "this validator's key is not among the peers".into(),
        ));
    }
    let handshake = Cups::<_, ChaCha20Poly1305>::new(
        Sake {
            signer: key.clone(),
            synchrony_bound: Duration::from_secs(5),
            max_handshake_age: Duration::from_secs(10),
            version: sake::Version::V1,
        },
        cups::Version::V1,
    );
    let mut config = lookup::Config::local(
        handshake,
        namespace,
        listen,
        NonZeroUsize::new(peers.len().max(1)).expect("non-zero"),
        max_message_size(n),
        NonZeroUsize::new(4096).expect("non-zero"),
    );
    // Validators on one machine: reconnect quickly after a restart.
    config.peer_connection_cooldown = Duration::from_millis(250);
    config.dial_frequency = Duration::from_millis(250);
    let (mut network, mut oracle) = lookup::Network::new(context.child("p2p"), config);
    let peer_map: Map<ed25519::PublicKey, Address> = peers
        .iter()
        .map(|(key, addr)| (key.clone(), Address::from(*addr)))
        .collect::<Vec<_>>()
        .try_into()
        .map_err(|_| NetError::Peers("a validator key is listed twice".into()))?;
    let _ = oracle.track(0, peer_map);

    let quota = Quota::per_second(NonZeroU32::new(CHANNEL_RATE).expect("non-zero"))
        .allow_burst(NonZeroU32::new(CHANNEL_BURST).expect("non-zero"));
    let votes = network.register(channels::VOTES, quota);
    let certificates = network.register(channels::CERTIFICATES, quota);
    let resolver = network.register(channels::RESOLVER, quota);
    let backfill = network.register(channels::BACKFILL, quota);
    let broadcast = network.register(channels::BROADCAST, quota);
    let txs = network.register(
        channels::TXS,
        Quota::per_second(NonZeroU32::new(crate::gossip::TXS_RATE).expect("non-zero"))
            .allow_burst(NonZeroU32::new(CHANNEL_BURST).expect("non-zero")),
    );
    let handle = network.start();
    Ok((
        Network {
            votes,
            certificates,
            resolver,
            backfill,
            broadcast,
            txs,
            peers: oracle.clone(),
            blocker: oracle,
        },
        handle,
    ))
}
