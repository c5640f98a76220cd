//! Cadenza's blobs: a content-addressed store that verifies BLAKE3/bao on every read, and
//! node-to-node replication over iroh.
//!
//! A blob's id is the plain BLAKE3 hash of its bytes ([`cadenza_types::hash::Hash`]).
//! [`BlobStore`] keeps each blob as a data file plus a bao outboard over 16 KiB chunk groups
//! (64 bytes per group), and [`BlobStore::read_range`] hashes the groups a range touches and
//! checks them up to the id before returning a byte: a corrupted byte is reported as
//! [`BlobError::Corrupt`], never returned.
//!
//! Replication goes through the [`Replicator`] trait; [`start_iroh`] gives one on an iroh
//! endpoint (`iroh =1.4.1`) that speaks iroh-blobs' (`=0.104.0`) wire protocol. Each blob is
//! stored once, in our store: we serve peers from our data file and outboard (the outboard layout
//! and 16 KiB groups are exactly iroh-blobs'), and fetch with iroh-blobs' verifying get state
//! machine into a [`BlobWriter`] that keeps the blob only if it hashes to the id. iroh-blobs' own
//! stores are not used (ADR 0003, `docs/adr/0003-blob-store.md`). Providers also announce to each
//! other which blobs they hold ([`holdings`], ALPN [`HOLDINGS_ALPN`]), so that one that lacks a
//! blob asks a peer that announced it. No iroh type appears in this crate's public API; peers are
//! named by [`PeerAddr`], a printable and parsable text form.
//!
//! ```no_run
//! # async fn demo() -> Result<(), cadenza_blobs::BlobError> {
//! use cadenza_blobs::{BlobStore, Replicator, start_iroh};
//!
//! let store = BlobStore::open(std::path::Path::new("/var/lib/cadenza/blobs"))?;
//! let id = store.put(b"some audio file")?;
//! let first_bytes = store.read_range(&id, 0, 4)?; // verified against `id`
//! assert_eq!(first_bytes, b"some");
//!
//! let node = start_iroh(store.clone(), "127.0.0.1:0".parse().unwrap()).await?;
//! println!("give peers this address: {}", node.addr());
//! // elsewhere: other_node.fetch(id, &"<printed address>".parse()?).await?;
//! node.shutdown().await;
//! # Ok(()) }
//! ```

mod error;
pub mod holdings;
mod replicate;
mod store;
mod tree;

pub use error::{BlobError, Result};
pub use replicate::{
    BoxFuture, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_FETCH_LEN, HOLDINGS_ALPN, IrohReplicator,
    PeerAddr, Replicator, start_iroh, start_iroh_keyed,
};
pub use store::{BlobStore, BlobWriter};
