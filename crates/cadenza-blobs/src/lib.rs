//! Cadenza's blobs: a content-addressed store that verifies BLAKE3/bao on every read, and
//! node-to-node replication over iroh.
//!
//! A blob's id is the plain BLAKE3 hash of its bytes ([`cadenza_types::hash::Hash`]).
//! [`BlobStore`] keeps each blob as a data file plus a bao outboard over 16 KiB chunk groups
//! (64 bytes per group), and [`BlobStore::read_range`] hashes the groups a range touches and
//! checks them up to the id before returning a byte: a corrupted byte is reported as
//! [`BlobError::Corrupt`], never returned.

mod error;
mod replicate;
mod store;
mod tree;

pub use error::{BlobError, Result};
pub use replicate::{
    BoxFuture, DEFAULT_MAX_FETCH_LEN, IrohReplicator, PeerAddr, Replicator, start_iroh,
};
pub use store::{BlobStore, BlobWriter};
