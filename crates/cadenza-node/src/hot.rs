//! Hot blobs: whole blobs, verified against their ids, kept in memory so that a track streamed
//! again and again is served without reading and hashing the same bytes each time.
//!
//! The disk is never trusted: a blob enters only through [`BlobStore::read_range_bytes`] over
//! its whole length, which verifies every group against the id, and the bytes kept are exactly
//! the bytes verified. What is served from here is therefore as verified as a fresh read; what
//! is not here is read (and verified) from the store as before.
//!
//! The bytes are written to the socket as they are (`write(2)` copies them). Sending a sealed
//! in-memory file copy of each blob with `sendfile(2)` instead was measured slower on the
//! project's VM, for 64 KiB ranges and whole files alike: shmem's 4 KiB pages cost a lookup
//! each on the way out and a smaller copy each on the way in, where one write copies out of
//! the heap in large pieces (`cadenza-bench stream`, alternating runs of the two builds:
//! 0.79-0.87 of nginx with it, 0.93-1.01 without).
//!
//! Bounded: at most [`HotBlobs::budget`] bytes in all, no blob taking more than a quarter, the
//! least recently served blob dropped first. A blob is loaded on a blocking thread, once (a
//! second request for a blob being loaded does not load it again), after a request for it has
//! been answered from the store: loading never delays an answer.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use cadenza_blobs::BlobStore;
use cadenza_types::Hash;
use tracing::{debug, warn};

/// The default memory for hot blobs: about two dozen four-minute tracks at 320 kbit/s, or eight
/// CD-quality FLACs.
pub const HOT_BLOB_BYTES: usize = 256 << 20;

/// Verified whole blobs in memory (see the module documentation).
#[derive(Clone)]
pub struct HotBlobs {
    inner: Arc<Inner>,
}

struct Inner {
    budget: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    by_id: HashMap<Hash, Entry>,
    /// Bytes held in `by_id`.
    bytes: usize,
    /// Blobs being loaded.
    loading: HashSet<Hash>,
    /// Counts serves; an entry's `used` is the count at its last serve.
    clock: u64,
}

struct Entry {
    bytes: Bytes,
    used: u64,
}

impl HotBlobs {
    /// An empty cache of at most `budget` bytes (0 keeps nothing).
    pub fn new(budget: usize) -> HotBlobs {
        HotBlobs {
            inner: Arc::new(Inner {
                budget,
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// The most bytes held at once.
    pub fn budget(&self) -> usize {
        self.inner.budget
    }

    /// Bytes held now.
    pub fn held(&self) -> usize {
        self.lock().bytes
    }

    /// The whole verified blob, if held (and marks it used).
    pub fn get(&self, id: &Hash) -> Option<Bytes> {
        let mut state = self.lock();
        state.clock += 1;
        let now = state.clock;
        let entry = state.by_id.get_mut(id)?;
        entry.used = now;
        Some(entry.bytes.clone())
    }

    /// Starts loading blob `id` (`len` bytes) from `blobs` on a blocking thread, unless it is
    /// held, being loaded, or too large to hold. Must be called inside a Tokio runtime.
    pub fn load(&self, blobs: &BlobStore, id: Hash, len: u64) {
        if len == 0 || len > (self.inner.budget / 4) as u64 {
            return;
        }
        {
            let mut state = self.lock();
            if state.by_id.contains_key(&id) || !state.loading.insert(id) {
                return;
            }
        }
        let this = self.clone();
        let blobs = blobs.clone();
        tokio::task::spawn_blocking(move || {
            let read = blobs
                .read_range_bytes(&id, 0, len)
                .map(|bytes| (bytes.len() as u64 == len).then_some(bytes));
            let mut state = this.lock();
            state.loading.remove(&id);
            match read {
                Ok(Some(bytes)) => this.insert(&mut state, id, bytes),
                Ok(None) => debug!(blob = %id, len, "a blob changed length; not kept"),
                Err(e) => {
                    warn!(blob = %id, error = %e, "a blob did not verify; not kept in memory")
                }
            }
        });
    }

    fn insert(&self, state: &mut State, id: Hash, bytes: Bytes) {
        while state.bytes + bytes.len() > self.inner.budget {
            let Some(oldest) = state
                .by_id
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(id, _)| *id)
            else {
                return;
            };
            let gone = state.by_id.remove(&oldest).expect("just found");
            state.bytes -= gone.bytes.len();
        }
        state.clock += 1;
        let used = state.clock;
        state.bytes += bytes.len();
        state.by_id.insert(id, Entry { bytes, used });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, BlobStore) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = BlobStore::open(dir.path()).expect("open");
        (dir, store)
    }

    async fn loaded(hot: &HotBlobs, id: &Hash) -> Option<Bytes> {
        for _ in 0..500 {
            if let Some(b) = hot.get(id) {
                return Some(b);
            }
            if !hot.lock().loading.contains(id) {
                return None;
            }
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        None
    }

    #[tokio::test]
    async fn holds_verified_blobs_within_its_budget_dropping_the_least_recently_served() {
        let (_dir, blobs) = store();
        let files: Vec<Vec<u8>> = (0..5u32)
            .map(|k| {
                (0..100_000u32)
                    .map(|i| ((i * (k + 1)) % 251) as u8)
                    .collect()
            })
            .collect();
        let ids: Vec<Hash> = files.iter().map(|f| blobs.put(f).expect("put")).collect();
        // Room for four.
        let hot = HotBlobs::new(400_000);
        for (id, file) in ids.iter().zip(&files).take(4) {
            hot.load(&blobs, *id, file.len() as u64);
            assert_eq!(loaded(&hot, id).await.as_deref(), Some(&file[..]));
        }
        assert_eq!(hot.held(), 400_000);
        // The first was served again: the second is now the least recently served.
        assert!(hot.get(&ids[0]).is_some());
        hot.load(&blobs, ids[4], 100_000);
        assert_eq!(loaded(&hot, &ids[4]).await.as_deref(), Some(&files[4][..]));
        assert!(hot.get(&ids[1]).is_none(), "the least recently served went");
        for i in [0, 2, 3] {
            assert!(hot.get(&ids[i]).is_some());
        }
        assert_eq!(hot.held(), 400_000);
        // Taking more than a quarter of the budget: never loaded.
        let small = HotBlobs::new(399_999);
        small.load(&blobs, ids[0], 100_000);
        assert!(small.lock().loading.is_empty());
        assert!(small.get(&ids[0]).is_none());
    }

    #[tokio::test]
    async fn a_blob_that_does_not_verify_is_not_kept() {
        let (dir, blobs) = store();
        let a: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let id = blobs.put(&a).expect("put");
        let data = dir
            .path()
            .join("blobs")
            .join(format!("{}.data", id.to_hex()));
        let mut bytes = std::fs::read(&data).expect("read");
        bytes[70_000] ^= 1;
        std::fs::write(&data, &bytes).expect("write");
        let hot = HotBlobs::new(1 << 20);
        hot.load(&blobs, id, a.len() as u64);
        assert_eq!(loaded(&hot, &id).await, None);
        assert_eq!(hot.held(), 0);
    }
}
