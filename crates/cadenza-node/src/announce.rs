//! Telling peer providers which blobs this provider holds ([`cadenza_blobs::holdings`]).
//!
//! At start and then every [`ANNOUNCE_EVERY`], the [`Announcer`] sends its whole inventory as a
//! hello to every configured peer and every peer that has announced to it; each answers with its
//! own inventory, which goes into the replicator's holdings table. Each blob this provider newly
//! stores (an upload, the demo catalogue, a fetch) is announced to the same peers as it is stored,
//! a few at a time. A peer that cannot be reached is tried again at the next period: an
//! announcement is a hint, and a missed one only means a peer asks in its configured order.

use std::sync::Arc;
use std::time::Duration;

use cadenza_blobs::holdings::MAX_ANNOUNCED;
use cadenza_blobs::{BlobStore, PeerAddr, Replicator};
use cadenza_types::Hash;
use futures::StreamExt as _;
use tokio::sync::mpsc;
use tracing::debug;

/// How often the whole inventory is announced again.
pub const ANNOUNCE_EVERY: Duration = Duration::from_secs(60);

/// Newly stored blobs waiting to be announced; beyond this they wait for the next hello.
const QUEUE: usize = 4_096;

/// Peers announced to at once.
const AT_ONCE: usize = 8;

/// How long newly stored blobs are gathered into one announcement.
const GATHER: Duration = Duration::from_millis(20);

/// The task that announces this provider's blobs.
pub struct Announcer {
    tx: mpsc::Sender<Hash>,
    task: tokio::task::JoinHandle<()>,
}

impl Announcer {
    /// Starts announcing `store`'s blobs through `replicator` to `peers` and to every peer that
    /// announces to it.
    pub fn start(
        replicator: Arc<dyn Replicator>,
        store: BlobStore,
        peers: Vec<PeerAddr>,
        every: Duration,
    ) -> Announcer {
        let (tx, rx) = mpsc::channel(QUEUE);
        let task = tokio::spawn(run(replicator, store, peers, every, rx));
        Announcer { tx, task }
    }

    /// Announces `id`, just stored, soon. Never waits: when the queue is full the next hello
    /// carries it.
    pub fn stored(&self, id: Hash) {
        let _ = self.tx.try_send(id);
    }

    /// Stops announcing.
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for Announcer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The configured peers, then every other peer heard from.
fn audience(replicator: &dyn Replicator, configured: &[PeerAddr]) -> Vec<PeerAddr> {
    let mut all = configured.to_vec();
    for peer in replicator.holdings().peers() {
        if !all.contains(&peer) {
            all.push(peer);
        }
    }
    all
}

async fn run(
    replicator: Arc<dyn Replicator>,
    store: BlobStore,
    configured: Vec<PeerAddr>,
    every: Duration,
    mut rx: mpsc::Receiver<Hash>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let list = store.clone();
                let held = tokio::task::spawn_blocking(move || list.ids())
                    .await
                    .unwrap_or_default();
                let held = Arc::new(held);
                to_each(audience(replicator.as_ref(), &configured), |peer| {
                    let (replicator, held) = (replicator.clone(), held.clone());
                    async move { hello(replicator.as_ref(), &peer, &held).await }
                })
                .await;
            }
            first = rx.recv() => {
                let Some(first) = first else { return };
                let mut fresh = vec![first];
                let gather = tokio::time::sleep(GATHER);
                tokio::pin!(gather);
                while fresh.len() < MAX_ANNOUNCED {
                    tokio::select! {
                        _ = &mut gather => break,
                        next = rx.recv() => match next {
                            Some(id) => fresh.push(id),
                            None => break,
                        },
                    }
                }
                let fresh = Arc::new(fresh);
                to_each(audience(replicator.as_ref(), &configured), |peer| {
                    let (replicator, fresh) = (replicator.clone(), fresh.clone());
                    async move {
                        match replicator.announce(&peer, &fresh, false).await {
                            Ok(_) => debug!(%peer, blobs = fresh.len(), "announced new blobs"),
                            Err(e) => debug!(%peer, error = %e, "could not announce new blobs"),
                        }
                    }
                })
                .await;
            }
        }
    }
}

/// Runs `send` for every peer, [`AT_ONCE`] at a time: an exchange may carry two inventories of
/// up to 2 MiB each.
async fn to_each<F, Fut>(peers: Vec<PeerAddr>, send: F)
where
    F: FnMut(PeerAddr) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    futures::stream::iter(peers.into_iter().map(send))
        .buffer_unordered(AT_ONCE)
        .for_each(|()| async {})
        .await;
}

/// Sends the inventory `held` to `peer` (in parts of [`MAX_ANNOUNCED`] when larger: a hello,
/// then haves) and records what it holds.
async fn hello(replicator: &dyn Replicator, peer: &PeerAddr, held: &[Hash]) {
    let mut parts = held.chunks(MAX_ANNOUNCED);
    let first = parts.next().unwrap_or(&[]);
    match replicator.announce(peer, first, true).await {
        Ok(learned) => debug!(%peer, held = held.len(), learned, "exchanged blob inventories"),
        Err(e) => {
            debug!(%peer, error = %e, "could not exchange blob inventories; trying again later");
            return;
        }
    }
    for part in parts {
        if let Err(e) = replicator.announce(peer, part, false).await {
            debug!(%peer, error = %e, "could not announce part of the inventory");
            return;
        }
    }
}
