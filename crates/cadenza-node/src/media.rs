//! Content on a provider: uploads (probed, licence embedded, stored as a verified blob), a
//! track's audio over HTTP with range semantics, served while the listener's channel pays (the
//! provider's stream gate), and blobs this provider lacks fetched from peer providers.
//!
//! An upload takes three requests, so that the artist's key never leaves the artist:
//!
//! 1. `POST /v1/uploads` with the audio file as the body: probed and its essence id computed;
//!    staged under an upload id (the BLAKE3 of the bytes).
//! 2. `POST /v1/uploads/{upload}/claim` with the issuer, licence and ISRC: answers the JWS
//!    signing input of the licence claim ([`cadenza_content::LicenceClaim::signing_input`]).
//! 3. `POST /v1/uploads/{upload}/licence` with the same fields and the issuer's signature over
//!    that input: the claim and the standard fields are embedded in the file, the file is stored
//!    (fsynced) as a blob, and the blob id is answered. The artist then submits `RegisterTrack`.
//!
//! `GET /v1/tracks/{track}/audio?channel={channel}` serves the track's blob: `200` whole, `206`
//! for one range (`bytes=a-b`, `bytes=a-`, `bytes=-n`), `416` with `Content-Range: bytes */len`
//! when the range starts past the end, `If-Range` honoured against the strong ETag (the blob id),
//! `If-None-Match` answered with `304`, and `Cache-Control: private, immutable`: a blob id names
//! its bytes forever. Several ranges in one request are answered with the whole file (RFC 9110
//! lets a server ignore `Range`). Every byte served was verified against the blob id on its way
//! out of the store, just now or (for a blob held in memory by [`HotBlobs`]) when it was loaded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cadenza_blobs::{BlobError, BlobStore, PeerAddr, Replicator};

use crate::hot::{HOT_BLOB_BYTES, HotBlobs};
use cadenza_content::{Analysis, LicenceClaim, LicenceFields, SignedClaim};
use cadenza_types::{AccountId, ChainId, Decode as _, Hash, Licence, Signature};
use futures::StreamExt as _;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tracing::{info, warn};

/// The largest audio file accepted for upload.
pub const MAX_UPLOAD_BYTES: u64 = 256 * 1024 * 1024;
/// Uploads staged (probed, not yet licensed) at once; the oldest is dropped beyond this.
pub const MAX_STAGED_UPLOADS: usize = 32;
/// How long a staged upload waits for its licence.
pub const STAGED_TTL: Duration = Duration::from_secs(3600);
/// Uploads analysed at once (each holds its file in memory while it is analysed).
pub const UPLOAD_PERMITS: usize = 2;
/// The most bytes read from the store per step of a response body.
pub const READ_CHUNK: u64 = 256 * 1024;
/// Ranges up to this length are read, verified and answered in one piece on the request's own
/// task (a few microseconds from the page cache), rather than streamed through the blocking pool.
pub const INLINE_READ: u64 = 64 * 1024;
/// Blobs whose sniffed MIME type is remembered.
const MAX_KINDS: usize = 4096;

/// A staged upload.
struct Staged {
    path: PathBuf,
    analysis: Analysis,
    bytes: u64,
    created: Instant,
}

/// Most peers that announced a blob without being configured that [`Media::ensure`] asks.
pub const UNCONFIGURED_HOLDERS: usize = 2;

/// A provider's content: its blob store, staged uploads, and its replication to peers.
pub struct Media {
    blobs: BlobStore,
    uploads_dir: PathBuf,
    staged: Mutex<BTreeMap<Hash, Staged>>,
    upload_permits: Semaphore,
    chain_id: ChainId,
    replicator: Option<Arc<dyn Replicator>>,
    peers: Vec<PeerAddr>,
    /// Tells peers about blobs as they are stored (when this provider replicates).
    announcer: Option<crate::announce::Announcer>,
    /// The MIME type sniffed from each served blob's first (verified) bytes: a blob id names
    /// its bytes forever, so the type never changes. Bounded by [`MAX_KINDS`].
    kinds: Mutex<std::collections::HashMap<Hash, &'static str>>,
    /// Whole verified blobs of recently served tracks.
    hot: HotBlobs,
}

/// Why a content request failed: a status, a stable code and a message saying what to do.
#[derive(Debug)]
pub struct MediaError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable code.
    pub code: &'static str,
    /// What happened and what to do.
    pub message: String,
}

impl MediaError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        MediaError {
            status,
            code,
            message: message.into(),
        }
    }

    fn bad(code: &'static str, message: impl Into<String>) -> Self {
        MediaError::new(StatusCode::BAD_REQUEST, code, message)
    }
}

impl From<BlobError> for MediaError {
    fn from(e: BlobError) -> Self {
        let status = match e.code() {
            "blob_not_found" => StatusCode::NOT_FOUND,
            "blob_too_large" => StatusCode::PAYLOAD_TOO_LARGE,
            "blob_corrupt" | "blob_peer_bad" => StatusCode::BAD_GATEWAY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        MediaError::new(status, e.code(), e.to_string())
    }
}

impl IntoResponse for MediaError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code, "message": self.message } });
        (self.status, axum::Json(body)).into_response()
    }
}

fn io_error(what: &str) -> impl FnOnce(std::io::Error) -> MediaError + '_ {
    move |e| {
        MediaError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "storage_failed",
            format!("{what}: {e}; nothing was kept, try again"),
        )
    }
}

/// The licence fields of an upload's claim and licence requests.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    /// The artist who signs the claim (`did:key`).
    pub issuer: String,
    /// The licence, hex of its canonical encoding (as it goes into `RegisterTrack`).
    pub licence: String,
    /// The ISRC, 12 characters.
    #[serde(default)]
    pub isrc: Option<String>,
    /// The title (written to the response, for the `RegisterTrack` that follows).
    #[serde(default)]
    pub title: Option<String>,
    /// The artist's name.
    #[serde(default)]
    pub artist: Option<String>,
    /// The copyright line written to the file's tags.
    #[serde(default)]
    pub copyright: Option<String>,
    /// The publisher or label written to the file's tags.
    #[serde(default)]
    pub publisher: Option<String>,
    /// The issuer's ed25519 signature over the signing input, hex (the licence request only).
    #[serde(default)]
    pub signature: Option<String>,
}

impl Media {
    /// Opens the provider's content under `dir` (`dir/blobs`, `dir/uploads`) and, when
    /// `blob_listen` is set, starts serving its blobs to peers there, under the endpoint secret
    /// `secret` ([`crate::provider::blob_secret`]), and fetching from `peers`. Staged uploads
    /// from an earlier run are discarded: an upload is only kept once licensed.
    pub async fn start(
        dir: &Path,
        chain_id: ChainId,
        secret: &[u8; 32],
        blob_listen: Option<std::net::SocketAddr>,
        peers: Vec<String>,
    ) -> Result<Media, String> {
        let blobs = BlobStore::open(&dir.join("blobs")).map_err(|e| e.to_string())?;
        let peers = peers
            .iter()
            .map(|p| {
                p.parse::<PeerAddr>()
                    .map_err(|e| format!("peer blob address `{p}`: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let replicator: Option<Arc<dyn Replicator>> = match blob_listen {
            Some(bind) => Some(Arc::new(
                cadenza_blobs::start_iroh_keyed(blobs.clone(), bind, secret)
                    .await
                    .map_err(|e| e.to_string())?,
            )),
            None => None,
        };
        let announcer = replicator.as_ref().map(|r| {
            crate::announce::Announcer::start(
                r.clone(),
                blobs.clone(),
                peers.clone(),
                crate::announce::ANNOUNCE_EVERY,
            )
        });
        let uploads_dir = dir.join("uploads");
        if uploads_dir.exists() {
            std::fs::remove_dir_all(&uploads_dir)
                .map_err(|e| format!("cannot clear {}: {e}", uploads_dir.display()))?;
        }
        std::fs::create_dir_all(&uploads_dir)
            .map_err(|e| format!("cannot create {}: {e}", uploads_dir.display()))?;
        Ok(Media {
            blobs,
            uploads_dir,
            staged: Mutex::new(BTreeMap::new()),
            upload_permits: Semaphore::new(UPLOAD_PERMITS),
            chain_id,
            replicator,
            peers,
            announcer,
            kinds: Mutex::new(std::collections::HashMap::new()),
            hot: HotBlobs::new(HOT_BLOB_BYTES),
        })
    }

    /// Stops announcing and serving blobs to peers.
    pub async fn shutdown(&self) {
        if let Some(announcer) = &self.announcer {
            announcer.stop();
        }
        if let Some(replicator) = &self.replicator {
            replicator.shutdown().await;
        }
    }

    /// The blob store.
    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    /// Where peers fetch this provider's blobs from, if it replicates.
    pub fn blob_addr(&self) -> Option<PeerAddr> {
        self.replicator.as_ref().map(|r| r.addr())
    }

    /// The peers known to hold `blob` by their announcements, the latest announcer first.
    pub fn announced_holders(&self, blob: &Hash) -> Vec<PeerAddr> {
        self.replicator
            .as_ref()
            .map_or_else(Vec::new, |r| r.holdings().holders(blob))
    }

    /// How many peers have announced to this provider, and for how many blobs it knows a holder.
    pub fn announced_counts(&self) -> (usize, usize) {
        self.replicator
            .as_ref()
            .map_or((0, 0), |r| r.holdings().counts())
    }

    /// The peers to ask for `blob`, in the order [`Media::ensure`] asks them.
    fn candidates(&self, blob: &Hash) -> Vec<PeerAddr> {
        let announced = self.announced_holders(blob);
        let configured = |holder: &PeerAddr| {
            self.peers
                .iter()
                .find(|p| p.endpoint() == holder.endpoint())
        };
        // Configured peers that announced it, at their configured address.
        let mut order: Vec<PeerAddr> = announced.iter().filter_map(configured).cloned().collect();
        for peer in &self.peers {
            if !order.contains(peer) {
                order.push(peer.clone());
            }
        }
        order.extend(
            announced
                .into_iter()
                .filter(|h| configured(h).is_none())
                .take(UNCONFIGURED_HOLDERS),
        );
        order
    }

    /// Tells peers (soon, in the background) that `blob` is now held here.
    fn stored(&self, blob: Hash) {
        if let Some(announcer) = &self.announcer {
            announcer.stored(blob);
        }
    }

    /// Stores a finished file (already licensed) as a blob; for the demo catalogue and tools.
    pub async fn put(&self, bytes: Vec<u8>) -> Result<Hash, MediaError> {
        let blobs = self.blobs.clone();
        let id = tokio::task::spawn_blocking(move || blobs.put(&bytes))
            .await
            .map_err(|e| {
                MediaError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
            })?
            .map_err(MediaError::from)?;
        self.stored(id);
        Ok(id)
    }

    /// Step 1: stages an upload from a streaming body, bounded by [`MAX_UPLOAD_BYTES`].
    pub async fn upload(&self, body: Body) -> Result<Value, MediaError> {
        let _permit = self.upload_permits.acquire().await.map_err(|_| {
            MediaError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "stopping",
                "the node is stopping",
            )
        })?;
        let mut bytes = Vec::new();
        let mut stream = body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                MediaError::bad(
                    "upload_interrupted",
                    format!("the upload broke off: {e}; send it again"),
                )
            })?;
            if bytes.len() as u64 + chunk.len() as u64 > MAX_UPLOAD_BYTES {
                return Err(MediaError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "upload_too_large",
                    format!("audio files are limited to {} MiB", MAX_UPLOAD_BYTES >> 20),
                ));
            }
            bytes.extend_from_slice(&chunk);
        }
        if bytes.is_empty() {
            return Err(MediaError::bad(
                "empty_upload",
                "the body is empty; send the audio file as the request body",
            ));
        }
        let (bytes, analysis) = tokio::task::spawn_blocking(move || {
            let analysis = cadenza_content::analyse(&bytes);
            (bytes, analysis)
        })
        .await
        .map_err(|e| {
            MediaError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
        })?;
        let analysis = analysis.map_err(|e| {
            MediaError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                e.code(),
                format!("{e}; upload a FLAC, MP3, Ogg Vorbis/Opus or WAV file"),
            )
        })?;
        let id = analysis.blob_id;
        let path = self.uploads_dir.join(id.to_hex());
        let len = bytes.len() as u64;
        {
            let path = path.clone();
            tokio::task::spawn_blocking(move || std::fs::write(&path, &bytes))
                .await
                .map_err(|e| {
                    MediaError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
                })?
                .map_err(io_error("cannot stage the upload"))?;
        }
        let mut staged = self.staged.lock().expect("never poisoned");
        let now = Instant::now();
        let expired: Vec<Hash> = staged
            .iter()
            .filter(|(_, s)| now.duration_since(s.created) > STAGED_TTL)
            .map(|(id, _)| *id)
            .collect();
        for old in expired {
            if let Some(s) = staged.remove(&old) {
                let _ = std::fs::remove_file(&s.path);
            }
        }
        while staged.len() >= MAX_STAGED_UPLOADS {
            let oldest = staged
                .iter()
                .min_by_key(|(_, s)| s.created)
                .map(|(id, _)| *id)
                .expect("not empty");
            if let Some(s) = staged.remove(&oldest) {
                let _ = std::fs::remove_file(&s.path);
            }
        }
        staged.insert(
            id,
            Staged {
                path,
                analysis,
                bytes: len,
                created: now,
            },
        );
        Ok(upload_json(&id, &analysis, len))
    }

    fn staged_analysis(&self, upload: &Hash) -> Result<(Analysis, PathBuf, u64), MediaError> {
        let staged = self.staged.lock().expect("never poisoned");
        let s = staged.get(upload).ok_or_else(|| {
            MediaError::new(
                StatusCode::NOT_FOUND,
                "unknown_upload",
                format!("no staged upload {upload}; uploads wait an hour for their licence, upload the file again"),
            )
        })?;
        Ok((s.analysis, s.path.clone(), s.bytes))
    }

    fn claim_of(
        &self,
        analysis: &Analysis,
        request: &ClaimRequest,
    ) -> Result<LicenceClaim, MediaError> {
        let issuer = AccountId::from_did(request.issuer.trim()).map_err(|e| {
            MediaError::bad("bad_account", format!("`issuer` is not a did:key: {e}"))
        })?;
        let licence_bytes = hex::decode(request.licence.trim())
            .map_err(|e| MediaError::bad("bad_hex", format!("`licence` is not hex: {e}")))?;
        let licence = Licence::from_bytes(&licence_bytes).map_err(|e| {
            MediaError::bad(
                "bad_encoding",
                format!("`licence` is not a licence in the canonical encoding: {e}"),
            )
        })?;
        if let Some(isrc) = &request.isrc
            && !cadenza_types::tx::valid_isrc(isrc)
        {
            return Err(MediaError::bad(
                "bad_isrc",
                format!("`{isrc}` is not an ISRC: 12 characters, CCXXXYYNNNNN, without hyphens"),
            ));
        }
        Ok(LicenceClaim::new(
            issuer,
            analysis.essence_id,
            licence,
            request.isrc.clone(),
            self.chain_id.clone(),
        ))
    }

    /// Step 2: the signing input of the claim for a staged upload.
    pub fn claim(&self, upload: &Hash, request: &ClaimRequest) -> Result<Value, MediaError> {
        let (analysis, _, _) = self.staged_analysis(upload)?;
        let claim = self.claim_of(&analysis, request)?;
        Ok(json!({
            "upload": upload.to_hex(),
            "track": claim.ledger.track_id.to_string(),
            "signing_input": claim.signing_input(),
        }))
    }

    /// Step 3: embeds the signed claim and the standard fields, stores the file as a blob.
    pub async fn licence(&self, upload: &Hash, request: ClaimRequest) -> Result<Value, MediaError> {
        let (analysis, path, _) = self.staged_analysis(upload)?;
        let claim = self.claim_of(&analysis, &request)?;
        let signature_hex = request.signature.as_deref().ok_or_else(|| {
            MediaError::bad(
                "missing_signature",
                "`signature` is required: the issuer's ed25519 signature over the claim's signing input (POST .../claim), hex",
            )
        })?;
        let signature = hex::decode(signature_hex.trim())
            .ok()
            .and_then(|b| <[u8; 64]>::try_from(b.as_slice()).ok())
            .map(Signature)
            .ok_or_else(|| {
                MediaError::bad("bad_signature", "`signature` must be 128 hex digits")
            })?;
        let signing_input = claim.signing_input();
        let compact = format!("{signing_input}.{}", base64_url(&signature.0));
        let signed = SignedClaim::verify(&compact).map_err(|e| {
            MediaError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "bad_signature",
                format!("the signature does not verify for the claim of {}: {e}; sign the signing input from POST .../claim with the issuer's key", claim.issuer.to_did()),
            )
        })?;
        let fields = LicenceFields {
            copyright: request.copyright.clone(),
            isrc: None,
            publisher: request.publisher.clone(),
            licence_url: None,
            claim: None,
        };
        let blobs = self.blobs.clone();
        let (blob, len) =
            tokio::task::spawn_blocking(move || -> Result<(Hash, u64), MediaError> {
                let bytes =
                    std::fs::read(&path).map_err(io_error("cannot read the staged upload"))?;
                let tagged =
                    cadenza_content::embed_licence(&bytes, &fields, &signed).map_err(|e| {
                        MediaError::new(StatusCode::UNPROCESSABLE_ENTITY, e.code(), e.to_string())
                    })?;
                let verdict = cadenza_content::verify_file(&tagged);
                if !verdict.is_valid() {
                    return Err(MediaError::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        verdict.code(),
                        "the licensed file does not verify; nothing was stored",
                    ));
                }
                let id = blobs.put(&tagged)?;
                Ok((id, tagged.len() as u64))
            })
            .await
            .map_err(|e| {
                MediaError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
            })??;
        if let Some(s) = self.staged.lock().expect("never poisoned").remove(upload) {
            let _ = std::fs::remove_file(&s.path);
        }
        self.stored(blob);
        info!(%blob, track = %claim.ledger.track_id, "upload licensed and stored");
        Ok(json!({
            "blob": blob.to_hex(),
            "essence": { "v": analysis.essence_id.version, "id": analysis.essence_id.hash.to_hex() },
            "track": claim.ledger.track_id.to_string(),
            "claim": compact,
            "bytes": len,
            "title": request.title,
            "artist": request.artist,
        }))
    }

    /// Makes sure `blob` is held, fetching it from a peer provider when it is not. Asked in
    /// turn until one gives a copy that verifies against the id: the configured peers that
    /// announced it (the latest announcer first), the other configured peers in order, then at
    /// most [`UNCONFIGURED_HOLDERS`] peers that announced it without being configured (anyone
    /// may announce, so they come last and few). A peer that sends bytes that do not match, or
    /// a size beyond the limit, or stops before a copy that verifies, is passed over and nothing
    /// it sent is kept; one that answers that it lacks the blob, or cannot be reached, is
    /// forgotten as its holder. When no peer gives it, the answer names the worst thing seen: a
    /// bad peer (`502 blob_peer_bad`), else an unreachable one (`503 blob_peer_unreachable`),
    /// else `404 blob_not_found`.
    pub async fn ensure(&self, blob: &Hash) -> Result<u64, MediaError> {
        // A blob in memory was read whole from the store and verified: no need to ask the disk.
        if let Some(whole) = self.hot.get(blob) {
            return Ok(whole.len() as u64);
        }
        if let Some(len) = self.blobs.len(blob) {
            return Ok(len);
        }
        let candidates = self.candidates(blob);
        let (Some(replicator), false) = (&self.replicator, candidates.is_empty()) else {
            return Err(MediaError::new(
                StatusCode::NOT_FOUND,
                "blob_not_found",
                format!(
                    "this provider does not hold blob {blob}, has no peers to fetch it from and no peer has announced it; stream it from a provider that holds it"
                ),
            ));
        };
        let (mut bad, mut unreachable) = (Vec::new(), Vec::new());
        for peer in &candidates {
            match replicator.fetch(*blob, peer).await {
                Ok(len) => {
                    info!(%blob, %peer, len, "fetched a blob from a peer");
                    self.stored(*blob);
                    return Ok(len);
                }
                Err(e) => {
                    warn!(%blob, %peer, error = %e, "a peer could not give a blob");
                    match e {
                        // A size beyond the limit comes from the peer's header: another peer
                        // may send the blob itself.
                        BlobError::PeerBad { .. } | BlobError::TooLarge { .. } => {
                            bad.push(format!("{peer}: {e}"));
                        }
                        BlobError::PeerUnreachable { .. } => {
                            replicator.holdings().forget(blob, peer);
                            unreachable.push(e.to_string());
                        }
                        BlobError::PeerMissing { .. } => replicator.holdings().forget(blob, peer),
                        // A local failure: no other peer changes it.
                        other => return Err(MediaError::from(other)),
                    }
                }
            }
        }
        let peers = candidates.len();
        Err(if !bad.is_empty() {
            MediaError::new(
                StatusCode::BAD_GATEWAY,
                "blob_peer_bad",
                format!(
                    "no peer gave a copy of blob {blob} that verifies, and nothing was stored: {}; stream it from a provider that holds a good copy, and tell this provider's operator",
                    bad.join("; ")
                ),
            )
        } else if !unreachable.is_empty() {
            MediaError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "blob_peer_unreachable",
                format!(
                    "this provider does not hold blob {blob} and could not reach the peers that might: {}; try again shortly",
                    unreachable.join("; ")
                ),
            )
        } else {
            MediaError::new(
                StatusCode::NOT_FOUND,
                "blob_not_found",
                format!(
                    "neither this provider nor any of its {peers} peers holds blob {blob}; stream it from a provider that holds it"
                ),
            )
        })
    }

    /// The response for `headers`' request of blob `blob` (held, `len` bytes).
    pub fn respond(&self, blob: &Hash, len: u64, headers: &HeaderMap, head: bool) -> Response {
        // `"<hex>"`, built on the stack: this runs for every range request.
        let mut quoted = [b'"'; 66];
        hex::encode_to_slice(blob.as_bytes(), &mut quoted[1..65]).expect("64 hex digits");
        let etag = std::str::from_utf8(&quoted).expect("ascii");
        if headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| etag_listed(v, etag))
        {
            let mut response = StatusCode::NOT_MODIFIED.into_response();
            common_headers(response.headers_mut(), etag, None);
            return response;
        }
        let range = headers
            .get(header::RANGE)
            .and_then(|v| v.to_str().ok())
            .filter(|_| if_range_holds(headers, etag));
        let decision = match range {
            Some(range) => parse_range(range, len),
            None => RangeDecision::Whole,
        };
        let kind = self.content_type(blob);
        let (status, start, end) = match decision {
            RangeDecision::Whole => (StatusCode::OK, 0, len),
            RangeDecision::Partial { start, end } => (StatusCode::PARTIAL_CONTENT, start, end),
            RangeDecision::Unsatisfiable => {
                let mut response = MediaError::new(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    "range_not_satisfiable",
                    format!(
                        "the range starts past the end of the {len}-byte file; ask for bytes 0-{}",
                        len.saturating_sub(1)
                    ),
                )
                .into_response();
                response.headers_mut().insert(
                    header::CONTENT_RANGE,
                    HeaderValue::from_str(&format!("bytes */{len}")).expect("ascii"),
                );
                common_headers(response.headers_mut(), etag, None);
                return response;
            }
        };
        let body = if head || start == end {
            Body::empty()
        } else if let Some(whole) = self.hot.get(blob).filter(|b| b.len() as u64 == len) {
            Body::from(whole.slice(start as usize..end as usize))
        } else {
            // Served from the store this time; kept in memory for the next request.
            self.hot.load(&self.blobs, *blob, len);
            if end - start <= INLINE_READ {
                // Small: verified before the status is sent, so a bad blob is answered as an error.
                match self.blobs.read_range_bytes(blob, start, end - start) {
                    Ok(bytes) if bytes.len() as u64 == end - start => Body::from(bytes),
                    Ok(_) => {
                        return MediaError::new(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "blob_short",
                            "the stored blob ended early; try again",
                        )
                        .into_response();
                    }
                    Err(e) => {
                        warn!(%blob, error = %e, "a blob read failed verification");
                        return MediaError::from(e).into_response();
                    }
                }
            } else {
                body_stream(self.blobs.clone(), *blob, start, end)
            }
        };
        let mut response = Response::new(body);
        *response.status_mut() = status;
        let h = response.headers_mut();
        common_headers(h, etag, Some(kind));
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start));
        if status == StatusCode::PARTIAL_CONTENT {
            use std::fmt::Write as _;
            let mut range = String::with_capacity(72);
            let _ = write!(range, "bytes {start}-{}/{len}", end - 1);
            h.insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&range).expect("ascii"),
            );
        }
        response
    }

    /// The MIME type of a held blob, from its first bytes.
    fn content_type(&self, blob: &Hash) -> &'static str {
        if let Some(kind) = self.kinds.lock().expect("never poisoned").get(blob) {
            return kind;
        }
        let kind = match self.blobs.read_range_bytes(blob, 0, 12) {
            Ok(head) => sniff(&head),
            // Not remembered: the next request sniffs again.
            Err(_) => return "application/octet-stream",
        };
        let mut kinds = self.kinds.lock().expect("never poisoned");
        if kinds.len() >= MAX_KINDS {
            kinds.clear();
        }
        kinds.insert(*blob, kind);
        kind
    }
}

/// The upload's JSON answer.
fn upload_json(id: &Hash, a: &Analysis, bytes: u64) -> Value {
    json!({
        "upload": id.to_hex(),
        "essence": { "v": a.essence_id.version, "id": a.essence_id.hash.to_hex() },
        "track": cadenza_types::TrackId::from_essence(&a.essence_id.hash).to_string(),
        "probe": {
            "format": a.probe.format.as_str(),
            "codec": a.probe.codec.as_str(),
            "duration_ms": a.probe.duration_ms,
            "bitrate_bps": a.probe.bitrate_bps,
            "sample_rate_hz": a.probe.sample_rate_hz,
            "channels": a.probe.channels,
        },
        "bytes": bytes,
    })
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn common_headers(h: &mut HeaderMap, etag: &str, kind: Option<&'static str>) {
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::ETAG, HeaderValue::from_str(etag).expect("hex"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    if let Some(kind) = kind {
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    }
}

/// The audio MIME type of a file from its first bytes.
pub fn sniff(head: &[u8]) -> &'static str {
    if head.starts_with(b"fLaC") {
        "audio/flac"
    } else if head.starts_with(b"OggS") {
        "audio/ogg"
    } else if head.starts_with(b"RIFF") && head.get(8..12) == Some(b"WAVE") {
        "audio/wav"
    } else if head.starts_with(b"ID3")
        || (head.len() >= 2 && head[0] == 0xff && head[1] & 0xe0 == 0xe0)
    {
        "audio/mpeg"
    } else {
        "application/octet-stream"
    }
}

/// Whether an `If-None-Match` value lists `etag` (weak comparison, as RFC 9110 asks for it).
fn etag_listed(value: &str, etag: &str) -> bool {
    value
        .split(',')
        .map(str::trim)
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag)
}

/// Whether a `Range` may be honoured: no `If-Range`, or an `If-Range` naming our entity tag
/// exactly (strong comparison; a date or a weak tag never matches, so the whole file is sent).
fn if_range_holds(headers: &HeaderMap, etag: &str) -> bool {
    match headers.get(header::IF_RANGE) {
        None => true,
        Some(v) => v.to_str().is_ok_and(|v| v.trim() == etag),
    }
}

/// What a `Range` header asks of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeDecision {
    /// The whole file (no range, a malformed one, or several).
    Whole,
    /// Bytes `[start, end)`.
    Partial {
        /// The first byte.
        start: u64,
        /// One past the last byte.
        end: u64,
    },
    /// A well-formed range that starts past the end: 416.
    Unsatisfiable,
}

/// Parses a `Range` header against a file of `len` bytes (RFC 9110, section 14).
pub fn parse_range(value: &str, len: u64) -> RangeDecision {
    let value = value.trim();
    let Some((unit, spec)) = value.split_once('=') else {
        return RangeDecision::Whole;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return RangeDecision::Whole;
    }
    let specs: Vec<&str> = spec
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if specs.len() != 1 {
        return RangeDecision::Whole;
    }
    let Some((first, last)) = specs[0].split_once('-') else {
        return RangeDecision::Whole;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (first, last) = (first.trim(), last.trim());
    match (first.is_empty(), last.is_empty()) {
        // bytes=-n: the last n bytes.
        (true, false) if digits(last) => match last.parse::<u64>() {
            Ok(0) => RangeDecision::Unsatisfiable,
            _ if len == 0 => RangeDecision::Unsatisfiable,
            Ok(n) => RangeDecision::Partial {
                start: len.saturating_sub(n),
                end: len,
            },
            // Longer than u64: the whole file, as a suffix.
            Err(_) => RangeDecision::Partial { start: 0, end: len },
        },
        // bytes=a- : from a to the end.
        (false, true) if digits(first) => match first.parse::<u64>() {
            Ok(start) if start < len => RangeDecision::Partial { start, end: len },
            _ => RangeDecision::Unsatisfiable,
        },
        // bytes=a-b
        (false, false) if digits(first) && digits(last) => {
            let Ok(start) = first.parse::<u64>() else {
                return RangeDecision::Unsatisfiable;
            };
            let last = last.parse::<u64>().unwrap_or(u64::MAX);
            if last < start {
                RangeDecision::Whole
            } else if start >= len {
                RangeDecision::Unsatisfiable
            } else {
                RangeDecision::Partial {
                    start,
                    end: last.min(len - 1) + 1,
                }
            }
        }
        _ => RangeDecision::Whole,
    }
}

/// A response body reading `[start, end)` of a blob in verified chunks of [`READ_CHUNK`].
fn body_stream(blobs: BlobStore, blob: Hash, start: u64, end: u64) -> Body {
    let stream = futures::stream::unfold(Some(start), move |at| {
        let blobs = blobs.clone();
        async move {
            let at = at?;
            if at >= end {
                return None;
            }
            let len = (end - at).min(READ_CHUNK);
            let read =
                tokio::task::spawn_blocking(move || blobs.read_range_bytes(&blob, at, len)).await;
            match read {
                Ok(Ok(bytes)) if !bytes.is_empty() => {
                    let next = at + bytes.len() as u64;
                    Some((Ok(bytes), Some(next)))
                }
                Ok(Ok(_)) => Some((Err(std::io::Error::other("the blob ended early")), None)),
                Ok(Err(e)) => {
                    warn!(%blob, error = %e, "a blob read failed verification; the response is cut");
                    Some((Err(std::io::Error::other(e.to_string())), None))
                }
                Err(e) => Some((Err(std::io::Error::other(e.to_string())), None)),
            }
        }
    });
    Body::from_stream(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Configured peers that announced a blob come first (at their configured address), then
    /// the other configured peers in order, then at most two unconfigured announcers, the
    /// latest first.
    #[tokio::test]
    async fn peers_are_asked_configured_first_and_few_strangers() {
        let dir = tempfile::tempdir().unwrap();
        let at = |n: u8, port: u16| {
            PeerAddr::of_secret(
                &[n; 32],
                &[std::net::SocketAddr::from(([127, 0, 0, 1], port))],
            )
        };
        let (p1, p2) = (at(1, 4001), at(2, 4002));
        let media = Media::start(
            dir.path(),
            ChainId::new("cadenza-test").unwrap(),
            &[9; 32],
            Some("127.0.0.1:0".parse().unwrap()),
            vec![p1.to_string(), p2.to_string()],
        )
        .await
        .unwrap();
        let blob = Hash([7; 32]);
        let holdings = media.replicator.as_ref().unwrap().holdings();
        assert_eq!(media.candidates(&blob), vec![p1.clone(), p2.clone()]);
        for stranger in [at(3, 4003), at(4, 4004), at(5, 4005)] {
            holdings.record(&stranger, &[blob]);
        }
        // Peer 2 announces from another socket: asked first, at its configured address.
        holdings.record(&at(2, 5002), &[blob]);
        assert_eq!(
            media.candidates(&blob),
            vec![p2, p1, at(5, 4005), at(4, 4004)]
        );
        media.shutdown().await;
    }

    #[test]
    fn ranges_follow_rfc_9110() {
        use RangeDecision::*;
        let p = |s: &str| parse_range(s, 1000);
        assert_eq!(p("bytes=0-99"), Partial { start: 0, end: 100 });
        assert_eq!(
            p("bytes=900-"),
            Partial {
                start: 900,
                end: 1000
            }
        );
        assert_eq!(
            p("bytes=-100"),
            Partial {
                start: 900,
                end: 1000
            }
        );
        assert_eq!(
            p("bytes=-5000"),
            Partial {
                start: 0,
                end: 1000
            }
        );
        assert_eq!(
            p("bytes=990-5000"),
            Partial {
                start: 990,
                end: 1000
            }
        );
        assert_eq!(
            p("bytes=999-999"),
            Partial {
                start: 999,
                end: 1000
            }
        );
        assert_eq!(p("BYTES = 1-2"), Partial { start: 1, end: 3 });
        assert_eq!(p("bytes=1000-"), Unsatisfiable);
        assert_eq!(p("bytes=1000-2000"), Unsatisfiable);
        assert_eq!(p("bytes=-0"), Unsatisfiable);
        assert_eq!(parse_range("bytes=-1", 0), Unsatisfiable);
        assert_eq!(parse_range("bytes=0-", 0), Unsatisfiable);
        for whole in [
            "",
            "bytes",
            "items=0-1",
            "bytes=5-1",
            "bytes=a-b",
            "bytes=-",
            "bytes=0-1,5-6",
            "bytes=+1-2",
            "bytes=1-2-3",
        ] {
            assert_eq!(p(whole), Whole, "{whole}");
        }
        assert_eq!(
            p("bytes=0-99999999999999999999999"),
            Partial {
                start: 0,
                end: 1000
            }
        );
    }

    #[test]
    fn if_range_and_if_none_match() {
        let etag = "\"ab\"";
        let mut h = HeaderMap::new();
        assert!(if_range_holds(&h, etag));
        h.insert(header::IF_RANGE, HeaderValue::from_static("\"ab\""));
        assert!(if_range_holds(&h, etag));
        h.insert(header::IF_RANGE, HeaderValue::from_static("W/\"ab\""));
        assert!(!if_range_holds(&h, etag));
        h.insert(
            header::IF_RANGE,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert!(!if_range_holds(&h, etag));
        assert!(etag_listed("\"x\", W/\"ab\"", etag));
        assert!(etag_listed("*", etag));
        assert!(!etag_listed("\"abc\"", etag));
    }

    #[test]
    fn sniffs_audio_types() {
        assert_eq!(sniff(b"fLaC\0\0\0\0"), "audio/flac");
        assert_eq!(sniff(b"OggS\0\0"), "audio/ogg");
        assert_eq!(sniff(b"RIFF\0\0\0\0WAVEfmt "), "audio/wav");
        assert_eq!(sniff(b"ID3\x04"), "audio/mpeg");
        assert_eq!(sniff(&[0xff, 0xfb, 0x90]), "audio/mpeg");
        assert_eq!(sniff(b"hello"), "application/octet-stream");
    }
}
