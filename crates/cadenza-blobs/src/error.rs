//! The one error type of the crate, with stable codes.

use cadenza_types::hash::Hash;

/// Everything that can go wrong storing, reading or replicating a blob.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The store does not hold this blob.
    #[error("blob {id} is not held here: import it, or fetch it from a peer that holds it")]
    NotFound {
        /// The blob asked for.
        id: Hash,
    },
    /// Stored bytes do not match the blob id (disk corruption or tampering). Nothing unverified is
    /// returned.
    #[error(
        "blob {id} is corrupt on disk near byte {offset}: its bytes do not hash to its id; \
         delete the blob's files and fetch or import it again"
    )]
    Corrupt {
        /// The blob whose bytes failed verification.
        id: Hash,
        /// Start of the first 16 KiB group found not to match.
        offset: u64,
    },
    /// A streamed import or a fetch exceeded its size bound.
    #[error("blob is larger than the {max_len}-byte limit: raise the limit or refuse the file")]
    TooLarge {
        /// The bound that was exceeded.
        max_len: u64,
    },
    /// Bytes imported under an expected id hashed to something else.
    #[error("bytes hash to {actual}, not the expected blob {expected}: the source sent other data")]
    Mismatch {
        /// The id the bytes were expected to have.
        expected: Hash,
        /// The id they actually have.
        actual: Hash,
    },
    /// A peer sent bytes that fail verification against the id, or broke the protocol. Nothing it
    /// sent was stored.
    #[error("peer {peer} sent bad data for blob {id} ({reason}): fetch it from another peer")]
    PeerBad {
        /// The blob being fetched.
        id: Hash,
        /// The peer, in `PeerAddr` text form.
        peer: String,
        /// What was wrong.
        reason: String,
    },
    /// The peer answered that it does not hold the blob.
    #[error("peer {peer} does not hold blob {id}: fetch it from another peer")]
    PeerMissing {
        /// The blob being fetched.
        id: Hash,
        /// The peer, in `PeerAddr` text form.
        peer: String,
    },
    /// The peer could not be reached or the connection failed.
    #[error("could not reach peer {peer}: {reason}; check its address and that it is running")]
    PeerUnreachable {
        /// The peer, in `PeerAddr` text form.
        peer: String,
        /// What failed.
        reason: String,
    },
    /// A peer answered an announcement with something that is not a valid answer.
    #[error(
        "peer {peer} answered an announcement badly ({reason}): check that it runs this version"
    )]
    BadAnnouncement {
        /// The peer, in `PeerAddr` text form.
        peer: String,
        /// What was wrong.
        reason: String,
    },
    /// A peer address that does not parse.
    #[error(
        "`{text}` is not a peer address: expected `<endpoint id>@<ip:port>[,<ip:port>…]` \
         as printed by the peer ({reason})"
    )]
    BadPeerAddr {
        /// The text given.
        text: String,
        /// Why it did not parse.
        reason: String,
    },
    /// The replication endpoint could not start or has shut down.
    #[error("replication endpoint: {reason}; check the bind address is free and local")]
    Endpoint {
        /// What failed.
        reason: String,
    },
    /// A filesystem operation failed.
    #[error(
        "blob store I/O error while {doing} ({path}): {source}; check the disk and permissions"
    )]
    Io {
        /// What the store was doing.
        doing: &'static str,
        /// The file or directory concerned.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl BlobError {
    /// A stable, machine-readable code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            BlobError::NotFound { .. } => "blob_not_found",
            BlobError::Corrupt { .. } => "blob_corrupt",
            BlobError::TooLarge { .. } => "blob_too_large",
            BlobError::Mismatch { .. } => "blob_mismatch",
            BlobError::PeerBad { .. } => "blob_peer_bad",
            BlobError::PeerMissing { .. } => "blob_peer_missing",
            BlobError::PeerUnreachable { .. } => "blob_peer_unreachable",
            BlobError::BadAnnouncement { .. } => "blob_bad_announcement",
            BlobError::BadPeerAddr { .. } => "blob_bad_peer_addr",
            BlobError::Endpoint { .. } => "blob_endpoint",
            BlobError::Io { .. } => "blob_io",
        }
    }

    pub(crate) fn io(doing: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        BlobError::Io {
            doing,
            path: path.display().to_string(),
            source,
        }
    }
}

/// Results of this crate.
pub type Result<T, E = BlobError> = std::result::Result<T, E>;
