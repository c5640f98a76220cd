//! Node-to-node replication: the [`Replicator`] trait and its iroh implementation.
//!
//! [`IrohReplicator`] speaks iroh-blobs' wire protocol (ALPN `/iroh-bytes/4`: a `GetRequest`, then
//! an 8-byte size and the bao encoding of the requested ranges) over an iroh endpoint bound to
//! one local socket, with no relay and no address lookup: peers are dialled by their full
//! [`PeerAddr`]. It serves straight from our [`BlobStore`] (data file plus outboard, verified as it
//! is encoded), and fetches with iroh-blobs' get state machine, which checks every parent and
//! every 16 KiB group against the id as it arrives; the bytes stream into a [`BlobWriter`] whose
//! result is kept only if it hashes to the id. So each blob is stored once, in our store, and
//! iroh-blobs' own stores are not used. No iroh type appears in this module's public API.

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use bao_tree::io::BaoContentItem;
use bao_tree::io::outboard::PostOrderMemOutboard;
use bao_tree::{BaoTree, BlockSize, ChunkRanges};
use cadenza_types::hash::Hash;
use iroh::endpoint::{Connection, RelayMode, presets};
use iroh::protocol::{AcceptError, ProtocolHandler, Router};
use iroh::{Endpoint, EndpointAddr, EndpointId, TransportAddr};
use iroh_blobs::get::fsm::{self, BlobContentNext, ConnectedNext, DecodeError, EndBlobNext};
use iroh_blobs::protocol::{GetRequest, Request};

use crate::error::{BlobError, Result};
use crate::holdings::{AnnounceKind, Announcement, Holdings, MAX_ANNOUNCEMENT_LEN};
use crate::store::{BlobStore, BlobWriter};
use crate::tree::GROUP_CHUNK_LOG;

/// A boxed future, so that [`Replicator`] can be used as `dyn Replicator`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Largest blob [`IrohReplicator::fetch`] accepts by default (a peer announces the size first;
/// anything larger is refused before a byte is stored).
pub const DEFAULT_MAX_FETCH_LEN: u64 = 4 << 30;

/// How long [`IrohReplicator::fetch`] waits for a peer to answer a connection by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The ALPN of announcements ([`crate::holdings`]): which blobs a provider holds.
pub const HOLDINGS_ALPN: &[u8] = b"/cadenza/holdings/1";

/// How long an announcement may take, connection and answer included.
const ANNOUNCE_TIMEOUT: Duration = Duration::from_secs(20);

/// Announcements taken at once; more connections wait (each reads up to 2 MiB).
const ANNOUNCE_PERMITS: usize = 16;

/// How long a hello's answer may reuse one listing of the store.
const INVENTORY_FRESH: Duration = Duration::from_secs(5);

/// Bytes handed from the blocking encoder to the network at a time.
const SEND_BATCH_LEN: usize = 256 * 1024;

/// Fetching and serving blobs between nodes.
pub trait Replicator: Send + Sync {
    /// This node's address, to give to peers.
    fn addr(&self) -> PeerAddr;

    /// Fetches blob `id` from `peer`, verifying every byte against `id`; on success the blob is in
    /// our [`BlobStore`] and its length is returned (at once if it was already held). A peer that
    /// sends bytes that do not match `id` gives [`BlobError::PeerBad`], and nothing it sent is
    /// stored or served.
    fn fetch<'a>(&'a self, id: Hash, peer: &'a PeerAddr) -> BoxFuture<'a, Result<u64>>;

    /// Tells `peer` that this node holds `held` (see [`crate::holdings`]). With `hello`, `held`
    /// is this node's whole inventory (it replaces what the peer recorded for it before), and
    /// the peer answers with the blobs it holds, which replace what was recorded for it here;
    /// their number is returned. Otherwise `held` are new blobs, and the peer's answer must be
    /// empty (0). Either way the peer records this node as a peer to tell about its own new
    /// blobs.
    fn announce<'a>(
        &'a self,
        peer: &'a PeerAddr,
        held: &'a [Hash],
        hello: bool,
    ) -> BoxFuture<'a, Result<usize>>;

    /// What peers announced: who holds which blob, and whom to tell.
    fn holdings(&self) -> &Holdings;

    /// Stops serving and closes the endpoint.
    fn shutdown(&self) -> BoxFuture<'_, ()>;
}

/// Most sockets one [`PeerAddr`] names.
pub const MAX_SOCKETS: usize = 4;

/// The text form of a node's full address: `<endpoint id>@<ip:port>[,<ip:port>…]`, for config
/// files and JSON. Parse it with [`str::parse`]; print it with `Display`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PeerAddr(String);

impl PeerAddr {
    /// The text form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The endpoint id part: the node's identity (its sockets may change).
    pub fn endpoint(&self) -> &str {
        self.0.split_once('@').map_or(&self.0, |(id, _)| id)
    }

    fn to_endpoint_addr(&self) -> Result<EndpointAddr> {
        let bad = |reason: String| BlobError::BadPeerAddr {
            text: self.0.clone(),
            reason,
        };
        let (id, sockets) = self.0.split_once('@').ok_or_else(|| bad("no `@`".into()))?;
        let id = EndpointId::from_str(id).map_err(|e| bad(format!("endpoint id: {e}")))?;
        let mut addrs = Vec::new();
        for s in sockets.split(',') {
            let sa = SocketAddr::from_str(s.trim()).map_err(|e| bad(format!("`{s}`: {e}")))?;
            addrs.push(TransportAddr::Ip(sa));
        }
        Ok(EndpointAddr::from_parts(id, addrs))
    }

    /// The address of the node whose endpoint secret is `secret` (see [`start_iroh_keyed`]) and
    /// that listens on `sockets`: known without starting it, so that a network's configuration
    /// can name every node's address before any of them runs.
    pub fn of_secret(secret: &[u8; 32], sockets: &[SocketAddr]) -> PeerAddr {
        PeerAddr::from_parts(iroh::SecretKey::from_bytes(secret).public(), sockets)
    }

    fn from_parts(id: EndpointId, sockets: &[SocketAddr]) -> PeerAddr {
        let sockets: Vec<String> = sockets.iter().map(ToString::to_string).collect();
        PeerAddr(format!("{id}@{}", sockets.join(",")))
    }
}

impl std::fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for PeerAddr {
    type Err = BlobError;

    /// Parses an address and gives it in its one canonical form (the endpoint id in lowercase
    /// hex, sockets as `ip:port` joined by `,`), so that one endpoint has one text.
    fn from_str(text: &str) -> Result<PeerAddr> {
        let parsed = PeerAddr(text.trim().to_string()).to_endpoint_addr()?;
        let sockets: Vec<SocketAddr> = parsed
            .addrs
            .iter()
            .filter_map(|a| match a {
                TransportAddr::Ip(sa) => Some(*sa),
                _ => None,
            })
            .collect();
        if sockets.len() > MAX_SOCKETS {
            return Err(BlobError::BadPeerAddr {
                text: text.to_string(),
                reason: format!("more than {MAX_SOCKETS} sockets"),
            });
        }
        Ok(PeerAddr::from_parts(parsed.id, &sockets))
    }
}

/// A [`Replicator`] on an iroh endpoint that serves the blobs of a [`BlobStore`].
#[derive(Debug)]
pub struct IrohReplicator {
    store: BlobStore,
    router: Router,
    holdings: Arc<Holdings>,
    addr: PeerAddr,
    max_fetch_len: u64,
    connect_timeout: Duration,
}

/// Starts an iroh endpoint on `bind` (use `127.0.0.1:0` for a free local port) that serves the
/// blobs of `store` to peers and fetches into it, under a fresh random endpoint id. Must be
/// called inside a tokio runtime.
pub async fn start_iroh(store: BlobStore, bind: SocketAddr) -> Result<IrohReplicator> {
    start(store, bind, true, None).await
}

/// As [`start_iroh`], with the endpoint's secret key given: its endpoint id, and so its
/// [`PeerAddr`] on a fixed `bind`, stays the same across restarts and is known in advance
/// ([`PeerAddr::of_secret`]). The secret authenticates the endpoint (QUIC's TLS); derive it from
/// a node key with a domain-separated hash rather than reusing a signing key's bytes.
pub async fn start_iroh_keyed(
    store: BlobStore,
    bind: SocketAddr,
    secret: &[u8; 32],
) -> Result<IrohReplicator> {
    start(store, bind, true, Some(iroh::SecretKey::from_bytes(secret))).await
}

async fn start(
    store: BlobStore,
    bind: SocketAddr,
    verify_served: bool,
    secret: Option<iroh::SecretKey>,
) -> Result<IrohReplicator> {
    let endpoint_err = |reason: String| BlobError::Endpoint { reason };
    let mut builder = Endpoint::builder(presets::Minimal);
    if let Some(secret) = secret {
        builder = builder.secret_key(secret);
    }
    let endpoint = builder
        .relay_mode(RelayMode::Disabled)
        .clear_address_lookup()
        .clear_ip_transports()
        .bind_addr(bind)
        .map_err(|e| endpoint_err(format!("bind address {bind}: {e}")))?
        .bind()
        .await
        .map_err(|e| endpoint_err(format!("binding {bind}: {e}")))?;
    let addr = PeerAddr::from_parts(endpoint.id(), &endpoint.bound_sockets());
    let server = Server {
        store: store.clone(),
        verify: verify_served,
    };
    let holdings = Arc::new(Holdings::new());
    if addr.as_str().len() > crate::holdings::MAX_ADDR_LEN {
        return Err(endpoint_err(format!(
            "this endpoint's address is longer than {} bytes; bind fewer sockets",
            crate::holdings::MAX_ADDR_LEN
        )));
    }
    let listener = Listener {
        store: store.clone(),
        holdings: holdings.clone(),
        own: addr.clone(),
        permits: tokio::sync::Semaphore::new(ANNOUNCE_PERMITS),
        inventory: tokio::sync::Mutex::new(None),
    };
    let router = Router::builder(endpoint)
        .accept(iroh_blobs::ALPN, Arc::new(server))
        .accept(HOLDINGS_ALPN, Arc::new(listener))
        .spawn();
    Ok(IrohReplicator {
        store,
        router,
        holdings,
        addr,
        max_fetch_len: DEFAULT_MAX_FETCH_LEN,
        connect_timeout: DEFAULT_CONNECT_TIMEOUT,
    })
}

impl IrohReplicator {
    /// Sets the largest blob [`fetch`](Replicator::fetch) accepts.
    pub fn with_max_fetch_len(mut self, max_len: u64) -> Self {
        self.max_fetch_len = max_len;
        self
    }

    /// Sets how long [`fetch`](Replicator::fetch) waits for a peer to accept a connection.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The store this replicator serves from and fetches into.
    pub fn store(&self) -> &BlobStore {
        &self.store
    }

    async fn fetch_impl(&self, id: Hash, peer: &PeerAddr) -> Result<u64> {
        if let Some(len) = self.store.len(&id) {
            return Ok(len);
        }
        let target = peer.to_endpoint_addr()?;
        let unreachable = |reason: String| BlobError::PeerUnreachable {
            peer: peer.to_string(),
            reason,
        };
        let bad = |reason: String| BlobError::PeerBad {
            id,
            peer: peer.to_string(),
            reason,
        };
        let connect = self.router.endpoint().connect(target, iroh_blobs::ALPN);
        let conn = tokio::time::timeout(self.connect_timeout, connect)
            .await
            .map_err(|_| unreachable(format!("no answer within {:?}", self.connect_timeout)))?
            .map_err(|e| unreachable(format!("connect: {e}")))?;
        let result = self.fetch_on(&conn, id, peer, &bad, &unreachable).await;
        conn.close(0u32.into(), b"done");
        result
    }

    async fn fetch_on(
        &self,
        conn: &Connection,
        id: Hash,
        peer: &PeerAddr,
        bad: &(dyn Fn(String) -> BlobError + Sync),
        unreachable: &(dyn Fn(String) -> BlobError + Sync),
    ) -> Result<u64> {
        // A peer that stops sending is given up on after this long without progress, so a
        // fetch cannot hang on it.
        let idle = self.connect_timeout;
        let stalled = || unreachable(format!("no progress within {idle:?}"));
        let request = GetRequest::blob(iroh_blobs::Hash::from(id.0));
        let connected = tokio::time::timeout(
            idle,
            fsm::start(conn.clone(), request, Default::default()).next(),
        )
        .await
        .map_err(|_| stalled())?
        .map_err(|e| unreachable(format!("open stream: {e}")))?;
        let root = match tokio::time::timeout(idle, connected.next())
            .await
            .map_err(|_| stalled())?
        {
            Ok(ConnectedNext::StartRoot(root)) => root,
            Ok(_) => return Err(bad("answered a different request".into())),
            Err(e) => return Err(unreachable(format!("send request: {e}"))),
        };
        let header = tokio::time::timeout(idle, root.next().next())
            .await
            .map_err(|_| stalled())?;
        let (mut content, size) = match header {
            Ok(x) => x,
            Err(fsm::AtBlobHeaderNextError::NotFound { .. }) => {
                return Err(BlobError::PeerMissing {
                    id,
                    peer: peer.to_string(),
                });
            }
            // The peer took the request and then stopped the stream: it could not serve a
            // copy that verifies (its own validating encoder refuses a corrupt one).
            Err(e) => {
                return Err(bad(format!(
                    "stopped before sending the blob (its copy may be corrupt): {e}"
                )));
            }
        };
        // The size is not yet proven (the last group proves it), but bounding it first means
        // a lying peer cannot make us accept more than the limit.
        if size > self.max_fetch_len {
            return Err(BlobError::TooLarge {
                max_len: self.max_fetch_len,
            });
        }
        let store = self.store.clone();
        let mut writer = tokio::task::spawn_blocking(move || store.writer(size))
            .await
            .map_err(|e| unreachable(format!("import task: {e}")))??;
        let mut written = 0u64;
        let end = loop {
            let next = tokio::time::timeout(idle, content.next())
                .await
                .map_err(|_| stalled())?;
            match next {
                BlobContentNext::More((next, item)) => {
                    match item {
                        Ok(BaoContentItem::Leaf(leaf)) => {
                            if leaf.offset != written {
                                return Err(bad(format!(
                                    "sent bytes at {} where {written} was due",
                                    leaf.offset
                                )));
                            }
                            written += leaf.data.len() as u64;
                            writer.write(&leaf.data)?;
                        }
                        Ok(BaoContentItem::Parent(_)) => {}
                        Err(e) => return Err(bad(decode_reason(&e))),
                    }
                    content = next;
                }
                BlobContentNext::Done(end) => break end,
            }
        };
        if written != size {
            return Err(bad(format!("sent {written} of {size} bytes")));
        }
        if let EndBlobNext::Closing(closing) = end.next() {
            // Extra bytes after the blob are the peer's problem, not ours: all we keep is verified.
            let _ = closing.next().await;
        }
        finish(writer, id).await.map_err(|e| match e {
            BlobError::Mismatch { .. } => bad(e.to_string()),
            other => other,
        })
    }
}

async fn finish(writer: BlobWriter, id: Hash) -> Result<u64> {
    tokio::task::spawn_blocking(move || writer.finish_expecting(&id))
        .await
        .map_err(|e| BlobError::Io {
            doing: "finishing a fetched blob",
            path: String::new(),
            source: std::io::Error::other(e.to_string()),
        })?
}

fn decode_reason(e: &DecodeError) -> String {
    match e {
        DecodeError::ParentHashMismatch { .. } | DecodeError::LeafHashMismatch { .. } => {
            format!("bytes do not match the id: {e}")
        }
        DecodeError::Read { .. } => {
            format!("stream failed mid-blob (the peer may hold a bad copy): {e}")
        }
        _ => format!("incomplete or invalid response: {e}"),
    }
}

impl Replicator for IrohReplicator {
    fn addr(&self) -> PeerAddr {
        self.addr.clone()
    }

    fn fetch<'a>(&'a self, id: Hash, peer: &'a PeerAddr) -> BoxFuture<'a, Result<u64>> {
        Box::pin(self.fetch_impl(id, peer))
    }

    fn announce<'a>(
        &'a self,
        peer: &'a PeerAddr,
        held: &'a [Hash],
        hello: bool,
    ) -> BoxFuture<'a, Result<usize>> {
        Box::pin(async move {
            let kind = if hello {
                AnnounceKind::Hello
            } else {
                AnnounceKind::Have
            };
            let message = Announcement::new(kind, self.addr.clone(), held).encode();
            let exchange = self.exchange(peer, &message, hello);
            tokio::time::timeout(ANNOUNCE_TIMEOUT, exchange)
                .await
                .map_err(|_| BlobError::PeerUnreachable {
                    peer: peer.to_string(),
                    reason: format!("no answer to an announcement within {ANNOUNCE_TIMEOUT:?}"),
                })?
        })
    }

    fn holdings(&self) -> &Holdings {
        &self.holdings
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let _ = self.router.shutdown().await;
        })
    }
}

impl IrohReplicator {
    /// Sends one announcement to `peer` and records its answer: for a `hello`, the peer's
    /// inventory, which replaces what it announced before; for a have, nothing (the answer must
    /// be empty).
    async fn exchange(&self, peer: &PeerAddr, message: &[u8], hello: bool) -> Result<usize> {
        let target = peer.to_endpoint_addr()?;
        let expected = target.id;
        let unreachable = |reason: String| BlobError::PeerUnreachable {
            peer: peer.to_string(),
            reason,
        };
        let connect = self.router.endpoint().connect(target, HOLDINGS_ALPN);
        let conn = tokio::time::timeout(self.connect_timeout, connect)
            .await
            .map_err(|_| unreachable(format!("no answer within {:?}", self.connect_timeout)))?
            .map_err(|e| unreachable(format!("connect: {e}")))?;
        let answer = async {
            let (mut send, mut recv) = conn
                .open_bi()
                .await
                .map_err(|e| unreachable(format!("open stream: {e}")))?;
            send.write_all(message)
                .await
                .map_err(|e| unreachable(format!("send: {e}")))?;
            let _ = send.finish();
            recv.read_to_end(MAX_ANNOUNCEMENT_LEN)
                .await
                .map_err(|e| unreachable(format!("read the answer: {e}")))
        }
        .await;
        conn.close(0u32.into(), b"done");
        let bad = |reason: String| BlobError::BadAnnouncement {
            peer: peer.to_string(),
            reason,
        };
        let reply = Announcement::decode(&answer?).map_err(|e| bad(e.to_string()))?;
        if reply.kind != AnnounceKind::Reply {
            return Err(bad("answered with something other than a reply".into()));
        }
        if reply.from.to_endpoint_addr()?.id != expected {
            return Err(bad("answered in another endpoint's name".into()));
        }
        if !hello && !reply.held.is_empty() {
            return Err(bad("answered a have with blobs".into()));
        }
        let holdings = self.holdings.clone();
        let peer = peer.clone();
        let learned = reply.held.len();
        tokio::task::spawn_blocking(move || holdings.learn(&peer, &reply.held, hello))
            .await
            .map_err(|e| unreachable(format!("recording the answer: {e}")))?;
        Ok(learned)
    }
}

/// Takes peers' announcements: records the announcer as a holder of what it announced (a
/// hello replaces what it announced before), and answers a hello with this node's own
/// inventory (its first [`crate::holdings::MAX_ANNOUNCED`] blobs, from a listing at most
/// [`INVENTORY_FRESH`] old). At most [`ANNOUNCE_PERMITS`] announcements are taken at once, each
/// within [`ANNOUNCE_TIMEOUT`], and one per connection.
#[derive(Debug)]
struct Listener {
    store: BlobStore,
    holdings: Arc<Holdings>,
    own: PeerAddr,
    permits: tokio::sync::Semaphore,
    /// The last listing of the store, and when it was made.
    inventory: tokio::sync::Mutex<Option<(std::time::Instant, Arc<Vec<Hash>>)>>,
}

impl Listener {
    /// The store's blob ids, listed again when the last listing is stale.
    async fn inventory(&self) -> Arc<Vec<Hash>> {
        let mut cached = self.inventory.lock().await;
        if let Some((at, ids)) = cached.as_ref()
            && at.elapsed() < INVENTORY_FRESH
        {
            return ids.clone();
        }
        let store = self.store.clone();
        let ids = tokio::task::spawn_blocking(move || store.ids())
            .await
            .unwrap_or_default();
        let ids = Arc::new(ids);
        *cached = Some((std::time::Instant::now(), ids.clone()));
        ids
    }

    async fn take(&self, conn: &Connection) -> Option<()> {
        let remote = conn.remote_id();
        let (mut send, mut recv) = tokio::time::timeout(ANNOUNCE_TIMEOUT, conn.accept_bi())
            .await
            .ok()?
            .ok()?;
        let bytes = tokio::time::timeout(ANNOUNCE_TIMEOUT, recv.read_to_end(MAX_ANNOUNCEMENT_LEN))
            .await
            .ok()?
            .ok()?;
        let Ok(announcement) = Announcement::decode(&bytes) else {
            let _ = send.reset(iroh_blobs::protocol::ERR_PERMISSION);
            return None;
        };
        // Only an endpoint may announce in its own name (QUIC's TLS authenticated `remote`).
        let from_id = announcement.from.to_endpoint_addr().map(|a| a.id);
        if announcement.kind == AnnounceKind::Reply || from_id.ok() != Some(remote) {
            let _ = send.reset(iroh_blobs::protocol::ERR_PERMISSION);
            return None;
        }
        let hello = announcement.kind == AnnounceKind::Hello;
        let holdings = self.holdings.clone();
        tokio::task::spawn_blocking(move || {
            holdings.learn(&announcement.from, &announcement.held, hello)
        })
        .await
        .ok()?;
        let held = if hello {
            self.inventory().await
        } else {
            Arc::new(Vec::new())
        };
        let reply = Announcement::new(AnnounceKind::Reply, self.own.clone(), &held).encode();
        send.write_all(&reply).await.ok()?;
        let _ = send.finish();
        // Wait for the announcer to read the answer and close.
        let _ = tokio::time::timeout(ANNOUNCE_TIMEOUT, conn.closed()).await;
        Some(())
    }
}

impl ProtocolHandler for Listener {
    async fn accept(&self, conn: Connection) -> std::result::Result<(), AcceptError> {
        let Ok(_permit) = self.permits.acquire().await else {
            return Ok(());
        };
        let _ = self.take(&conn).await;
        Ok(())
    }
}

/// Serves `GetRequest`s for whole blobs or ranges of them from our store.
#[derive(Debug)]
struct Server {
    store: BlobStore,
    /// Off only in tests that need a peer sending bytes that do not match.
    verify: bool,
}

impl ProtocolHandler for Server {
    async fn accept(&self, conn: Connection) -> std::result::Result<(), AcceptError> {
        while let Ok((mut send, mut recv)) = conn.accept_bi().await {
            let store = self.store.clone();
            let verify = self.verify;
            tokio::spawn(async move {
                let Ok((request, _)) = Request::read_async(&mut recv).await else {
                    let _ = send.reset(iroh_blobs::protocol::ERR_INTERNAL);
                    return;
                };
                let ranges = match &request {
                    Request::Get(get) => get
                        .ranges
                        .iter_non_empty_infinite()
                        .next()
                        .filter(|(offset, _)| *offset == 0)
                        .map(|(_, ranges)| (Hash(*get.hash.as_bytes()), ranges.clone())),
                    _ => None,
                };
                let Some((id, ranges)) = ranges else {
                    // Only single blobs are served (no hash sequences, pushes or observers).
                    let _ = send.reset(iroh_blobs::protocol::ERR_PERMISSION);
                    return;
                };
                if serve(&store, id, ranges, verify, &mut send).await.is_err() {
                    let _ = send.reset(iroh_blobs::protocol::ERR_INTERNAL);
                } else {
                    let _ = send.finish();
                }
            });
        }
        Ok(())
    }
}

/// Writes the size and the bao encoding of `ranges` of blob `id`. A blob we do not hold gets an
/// empty answer, which the protocol reads as "not found".
async fn serve(
    store: &BlobStore,
    id: Hash,
    ranges: ChunkRanges,
    verify: bool,
    send: &mut iroh::endpoint::SendStream,
) -> std::result::Result<(), ()> {
    let parts = {
        let store = store.clone();
        tokio::task::spawn_blocking(move || store.raw_parts(&id))
            .await
            .map_err(|_| ())?
    };
    let (len, data, outboard) = match parts {
        Ok(parts) => parts,
        Err(BlobError::NotFound { .. }) => return Ok(()),
        Err(_) => return Err(()),
    };
    send.write_all(&len.to_le_bytes()).await.map_err(|_| ())?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
    let encoder = tokio::task::spawn_blocking(move || {
        let outboard = PostOrderMemOutboard {
            root: bao_tree::blake3::Hash::from_bytes(id.0),
            tree: BaoTree::new(len, BlockSize::from_chunk_log(GROUP_CHUNK_LOG)),
            data: outboard,
        };
        let mut out = ChannelWriter {
            buf: Vec::with_capacity(SEND_BATCH_LEN),
            tx,
        };
        let res = if verify {
            bao_tree::io::sync::encode_ranges_validated(&data, &outboard, &ranges, &mut out)
                .map_err(|_| ())
        } else {
            bao_tree::io::sync::encode_ranges(&data, &outboard, &ranges, &mut out).map_err(|_| ())
        };
        res.and_then(|()| out.flush().map_err(|_| ()))
    });
    while let Some(batch) = rx.recv().await {
        send.write_all(&batch).await.map_err(|_| ())?;
    }
    encoder.await.map_err(|_| ())?
}

/// Batches the encoder's small writes and hands them to the async sender.
struct ChannelWriter {
    buf: Vec<u8>,
    tx: tokio::sync::mpsc::Sender<Vec<u8>>,
}

impl Write for ChannelWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() >= SEND_BATCH_LEN {
            self.flush()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let batch = std::mem::replace(&mut self.buf, Vec::with_capacity(SEND_BATCH_LEN));
        self.tx
            .blocking_send(batch)
            .map_err(|_| std::io::Error::other("the peer stream closed"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three empty stores in temporary directories.
    fn three_stores() -> (Vec<tempfile::TempDir>, Vec<BlobStore>) {
        let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
        let stores = dirs
            .iter()
            .map(|d| BlobStore::open(d.path()).unwrap())
            .collect();
        (dirs, stores)
    }

    fn sample(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 253) as u8).collect()
    }

    /// A keyed endpoint has the address its secret gives, before and after a restart.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_keyed_endpoint_has_a_known_address() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let secret = [7u8; 32];
        let first = start_iroh_keyed(store.clone(), "127.0.0.1:0".parse().unwrap(), &secret)
            .await
            .unwrap();
        let port: SocketAddr = first
            .addr()
            .as_str()
            .split_once('@')
            .unwrap()
            .1
            .parse()
            .unwrap();
        assert_eq!(first.addr(), PeerAddr::of_secret(&secret, &[port]));
        first.shutdown().await;
        drop(first);
        // The closed endpoint's socket is released in the background: retry for a moment.
        let mut again = None;
        for _ in 0..50 {
            match start_iroh_keyed(store.clone(), port, &secret).await {
                Ok(r) => {
                    again = Some(r);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        let again = again.expect("the port is free again");
        assert_eq!(again.addr(), PeerAddr::of_secret(&secret, &[port]));
        assert_ne!(
            again.addr(),
            PeerAddr::of_secret(&[8u8; 32], &[port]),
            "another secret, another id"
        );
        again.shutdown().await;
    }

    /// A peer whose copy is corrupt and that does not check it sends bytes that do not match:
    /// the fetcher detects it, stores nothing, and still fetches the blob from an honest peer.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bytes_that_do_not_match_are_refused_and_not_stored() {
        let local: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let (dirs, stores) = three_stores();
        let bytes = sample(300_000);
        let id = stores[0].put(&bytes).unwrap();
        assert_eq!(stores[2].put(&bytes).unwrap(), id);
        let path = dirs[0]
            .path()
            .join("blobs")
            .join(format!("{}.data", id.to_hex()));
        let mut on_disk = std::fs::read(&path).unwrap();
        on_disk[200_000] ^= 0x80;
        std::fs::write(&path, on_disk).unwrap();

        let liar = start(stores[0].clone(), local, false, None).await.unwrap();
        let honest = start_iroh(stores[2].clone(), local).await.unwrap();
        let fetcher = start_iroh(stores[1].clone(), local).await.unwrap();

        let err = fetcher.fetch(id, &liar.addr()).await.unwrap_err();
        assert_eq!(err.code(), "blob_peer_bad", "{err}");
        assert!(err.to_string().contains("do not match"), "{err}");
        assert!(!stores[1].contains(&id));
        assert_eq!(
            std::fs::read_dir(dirs[1].path().join("tmp"))
                .unwrap()
                .count(),
            0
        );

        assert_eq!(fetcher.fetch(id, &honest.addr()).await.unwrap(), 300_000);
        assert_eq!(stores[1].read_range(&id, 0, u64::MAX).unwrap(), bytes);
        for r in [liar, honest, fetcher] {
            r.shutdown().await;
        }
    }

    /// An endpoint cannot announce in another's name: the listener checks the announcer's
    /// address against the connection's authenticated endpoint id, records nothing, and does
    /// not answer.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_announcement_in_another_name_is_refused() {
        let local: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let (_dirs, stores) = three_stores();
        let nodes = [
            start_iroh(stores[0].clone(), local).await.unwrap(),
            start_iroh(stores[1].clone(), local).await.unwrap(),
            start_iroh(stores[2].clone(), local).await.unwrap(),
        ];
        let [honest, listener, impostor] = &nodes;
        let id = Hash([5; 32]);
        let forged = Announcement::new(AnnounceKind::Have, honest.addr(), &[id]).encode();
        let err = impostor
            .exchange(&listener.addr(), &forged, false)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "blob_peer_unreachable", "{err}");
        assert!(listener.holdings().holders(&id).is_empty());
        assert_eq!(listener.holdings().counts(), (0, 0));
        // In its own name, the same announcement is taken.
        let own = Announcement::new(AnnounceKind::Have, impostor.addr(), &[id]).encode();
        assert_eq!(
            impostor
                .exchange(&listener.addr(), &own, false)
                .await
                .unwrap(),
            0
        );
        assert_eq!(listener.holdings().holders(&id), vec![impostor.addr()]);
        for node in nodes {
            node.shutdown().await;
        }
    }
}
