//! The on-disk blob store: one data file and one outboard per blob, verified on every read.
//!
//! Layout under the store's directory:
//! - `blobs/<hex id>.data`: the blob's bytes, exactly;
//! - `blobs/<hex id>.obao`: its post-order bao outboard over 16 KiB groups (absent when the blob
//!   fits in one group);
//! - `tmp/`: imports in progress, emptied at open.
//!
//! An import writes both files under `tmp/`, fsyncs them, renames the outboard and then the data
//! into `blobs/` and fsyncs the directory, so a blob whose data file exists is complete and
//! durable; an outboard without its data file (a crash between the renames) is removed at open.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use cadenza_types::hash::Hash;

use crate::error::{BlobError, Result};
use crate::tree::{self, GROUP_LEN};

/// How many blobs keep an open data file and their outboard in memory.
const MAX_OPEN_BLOBS: usize = 256;
/// Bound on the outboard bytes kept in memory (64 MiB of outboards cover 16 GiB of blobs).
const MAX_OPEN_OUTBOARD_BYTES: usize = 64 << 20;
/// Write buffer of an import.
const WRITE_BUFFER_LEN: usize = 1 << 20;

/// A directory of content-addressed blobs. Every read is verified against the blob's id.
///
/// Cheap to clone (an `Arc`); all methods are synchronous and safe to call from many threads
/// (from async code, call them inside `spawn_blocking`).
#[derive(Clone)]
pub struct BlobStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStore")
            .field("dir", &self.inner.blobs_dir)
            .finish_non_exhaustive()
    }
}

struct Inner {
    blobs_dir: PathBuf,
    tmp_dir: PathBuf,
    /// Open data files and loaded outboards of recently read blobs. Nothing in it is trusted:
    /// every read verifies the bytes against the id.
    open: Mutex<OpenBlobs>,
    next_tmp: AtomicU64,
}

#[derive(Default)]
struct OpenBlobs {
    by_id: HashMap<Hash, Arc<OpenBlob>>,
    outboard_bytes: usize,
}

struct OpenBlob {
    len: u64,
    data: File,
    outboard: Box<[u8]>,
}

impl BlobStore {
    /// Opens (creating if needed) the store under `dir`, and removes imports a crash left behind.
    pub fn open(dir: &Path) -> Result<BlobStore> {
        let blobs_dir = dir.join("blobs");
        let tmp_dir = dir.join("tmp");
        for d in [&blobs_dir, &tmp_dir] {
            fs::create_dir_all(d)
                .map_err(|e| BlobError::io("creating the store directory", d, e))?;
        }
        // Unfinished imports were never acknowledged: drop them.
        for entry in read_dir(&tmp_dir)? {
            let path = entry.path();
            fs::remove_file(&path).map_err(|e| BlobError::io("clearing tmp", &path, e))?;
        }
        // An outboard without data: a crash between the two renames of an import.
        for entry in read_dir(&blobs_dir)? {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "obao")
                && !path.with_extension("data").exists()
            {
                fs::remove_file(&path)
                    .map_err(|e| BlobError::io("removing an orphan outboard", &path, e))?;
            }
        }
        Ok(BlobStore {
            inner: Arc::new(Inner {
                blobs_dir,
                tmp_dir,
                open: Mutex::new(OpenBlobs::default()),
                next_tmp: AtomicU64::new(0),
            }),
        })
    }

    /// Starts a streaming import of at most `max_len` bytes.
    pub fn writer(&self, max_len: u64) -> Result<BlobWriter> {
        let n = self.inner.next_tmp.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let stem = format!("{}-{nanos}-{n}", std::process::id());
        let tmp_data = self.inner.tmp_dir.join(format!("{stem}.data"));
        let tmp_outboard = self.inner.tmp_dir.join(format!("{stem}.obao"));
        let file = File::create(&tmp_data)
            .map_err(|e| BlobError::io("creating an import file", &tmp_data, e))?;
        Ok(BlobWriter {
            store: self.clone(),
            file: Some(BufWriter::with_capacity(WRITE_BUFFER_LEN, file)),
            tmp_data,
            tmp_outboard,
            group: Vec::with_capacity(GROUP_LEN as usize),
            group_hashes: Vec::new(),
            len: 0,
            max_len,
            failed: false,
        })
    }

    /// Imports `bytes` and returns their id.
    pub fn put(&self, bytes: &[u8]) -> Result<Hash> {
        let mut w = self.writer(bytes.len() as u64)?;
        w.write(bytes)?;
        Ok(w.finish()?.0)
    }

    /// Length of the blob, or `None` if it is not held.
    pub fn len(&self, id: &Hash) -> Option<u64> {
        // Asks the disk, not the cache: a blob whose files were removed is no longer held.
        fs::metadata(self.data_path(id)).ok().map(|m| m.len())
    }

    /// Whether the blob is held.
    pub fn contains(&self, id: &Hash) -> bool {
        self.len(id).is_some()
    }

    /// Bytes `[offset, offset + len)` of the blob, clamped to its end, after verifying every
    /// 16 KiB group they touch against the id. Fails with [`BlobError::Corrupt`] rather than
    /// return a byte that does not verify.
    pub fn read_range(&self, id: &Hash, offset: u64, len: u64) -> Result<Vec<u8>> {
        self.read_range_bytes(id, offset, len).map(|b| b.to_vec())
    }

    /// Like [`read_range`](BlobStore::read_range), but without a copy: the groups are read from
    /// the file into a private buffer (recycled from a small pool once the answer is dropped, so
    /// it is neither zeroed nor faulted in again), verified there, and answered as a slice of it.
    /// The bytes answered are exactly the bytes hashed: nothing reads the file after the check.
    pub fn read_range_bytes(&self, id: &Hash, offset: u64, len: u64) -> Result<bytes::Bytes> {
        let open = self.open_blob(id)?;
        let start = offset.min(open.len);
        let end = offset.saturating_add(len).min(open.len);
        if start >= end {
            return Ok(bytes::Bytes::new());
        }
        let group_lo = start / GROUP_LEN;
        let group_hi = end.div_ceil(GROUP_LEN);
        let cover_start = group_lo * GROUP_LEN;
        let cover_end = (group_hi * GROUP_LEN).min(open.len);
        let cover = (cover_end - cover_start) as usize;
        let mut buf = pool::take(cover);
        let corrupt = |offset| BlobError::Corrupt { id: *id, offset };
        open.data
            .read_exact_at(&mut buf.as_mut()[..cover], cover_start)
            .map_err(|e| match e.kind() {
                // The file is shorter than when it was opened: it changed under us.
                std::io::ErrorKind::UnexpectedEof => corrupt(cover_start),
                _ => BlobError::io("reading blob data", &self.data_path(id), e),
            })?;
        if let Err(m) = tree::verify(
            &id.0,
            open.len,
            &open.outboard,
            group_lo,
            group_hi,
            &buf.as_ref()[..cover],
        ) {
            // Forget the open files, so a repaired blob (files replaced) is read afresh.
            self.forget(id);
            return Err(corrupt(m.group * GROUP_LEN));
        }
        let skip = (start - cover_start) as usize;
        Ok(bytes::Bytes::from_owner(buf).slice(skip..skip + (end - start) as usize))
    }

    /// The id of every blob held, sorted.
    pub fn ids(&self) -> Vec<Hash> {
        self.list().into_iter().map(|(id, _)| id).collect()
    }

    /// Every blob held, with its length, sorted by id.
    pub fn list(&self) -> Vec<(Hash, u64)> {
        let Ok(entries) = read_dir(&self.inner.blobs_dir) else {
            return Vec::new();
        };
        let mut out: Vec<(Hash, u64)> = entries
            .into_iter()
            .filter_map(|entry| {
                let name = entry.file_name();
                let id = Hash::from_hex(name.to_str()?.strip_suffix(".data")?)?;
                Some((id, entry.metadata().ok()?.len()))
            })
            .collect();
        out.sort();
        out
    }

    /// The data file and outboard of a held blob, for serving it to peers (which verify too).
    pub(crate) fn raw_parts(&self, id: &Hash) -> Result<(u64, File, Vec<u8>)> {
        let open = self.open_blob(id)?;
        let data = open
            .data
            .try_clone()
            .map_err(|e| BlobError::io("opening blob data", &self.data_path(id), e))?;
        Ok((open.len, data, open.outboard.to_vec()))
    }

    fn data_path(&self, id: &Hash) -> PathBuf {
        self.inner.blobs_dir.join(format!("{}.data", id.to_hex()))
    }

    fn outboard_path(&self, id: &Hash) -> PathBuf {
        self.inner.blobs_dir.join(format!("{}.obao", id.to_hex()))
    }

    fn forget(&self, id: &Hash) {
        let mut open = self.inner.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = open.by_id.remove(id) {
            open.outboard_bytes -= old.outboard.len();
        }
    }

    fn cached(&self, id: &Hash) -> Option<Arc<OpenBlob>> {
        let open = self.inner.open.lock().unwrap_or_else(|p| p.into_inner());
        open.by_id.get(id).cloned()
    }

    fn open_blob(&self, id: &Hash) -> Result<Arc<OpenBlob>> {
        if let Some(open) = self.cached(id) {
            return Ok(open);
        }
        let data_path = self.data_path(id);
        let data = match File::open(&data_path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(BlobError::NotFound { id: *id });
            }
            Err(e) => return Err(BlobError::io("opening blob data", &data_path, e)),
        };
        let len = data
            .metadata()
            .map_err(|e| BlobError::io("reading blob metadata", &data_path, e))?
            .len();
        let outboard = if tree::n_groups(len) > 1 {
            let path = self.outboard_path(id);
            match fs::read(&path) {
                Ok(bytes) => bytes.into_boxed_slice(),
                // Missing outboard: verification will fail on any multi-group read.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Box::default(),
                Err(e) => return Err(BlobError::io("reading blob outboard", &path, e)),
            }
        } else {
            Box::default()
        };
        let blob = Arc::new(OpenBlob {
            len,
            data,
            outboard,
        });
        let mut open = self.inner.open.lock().unwrap_or_else(|p| p.into_inner());
        while !open.by_id.is_empty()
            && (open.by_id.len() >= MAX_OPEN_BLOBS
                || open.outboard_bytes + blob.outboard.len() > MAX_OPEN_OUTBOARD_BYTES)
        {
            // Evict an arbitrary entry: simple, and reopening costs one open and one read.
            let victim = *open.by_id.keys().next().expect("not empty");
            if let Some(old) = open.by_id.remove(&victim) {
                open.outboard_bytes -= old.outboard.len();
            }
        }
        if blob.outboard.len() <= MAX_OPEN_OUTBOARD_BYTES {
            open.outboard_bytes += blob.outboard.len();
            if let Some(old) = open.by_id.insert(*id, blob.clone()) {
                open.outboard_bytes -= old.outboard.len();
            }
        }
        Ok(blob)
    }
}

fn read_dir(dir: &Path) -> Result<Vec<fs::DirEntry>> {
    let iter = fs::read_dir(dir).map_err(|e| BlobError::io("listing a directory", dir, e))?;
    iter.map(|e| e.map_err(|e| BlobError::io("listing a directory", dir, e)))
        .collect()
}

/// A streaming import: [`write`](BlobWriter::write) chunks, then [`finish`](BlobWriter::finish).
/// Dropping it without finishing (or a failed call) leaves nothing behind.
pub struct BlobWriter {
    store: BlobStore,
    file: Option<BufWriter<File>>,
    tmp_data: PathBuf,
    tmp_outboard: PathBuf,
    /// The current, not yet hashed group: a full group is hashed only once more bytes arrive,
    /// because a blob's only group is hashed as the root.
    group: Vec<u8>,
    group_hashes: Vec<[u8; 32]>,
    len: u64,
    max_len: u64,
    failed: bool,
}

impl std::fmt::Debug for BlobWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobWriter")
            .field("len", &self.len)
            .field("max_len", &self.max_len)
            .finish_non_exhaustive()
    }
}

impl BlobWriter {
    /// Appends `bytes`. Fails with [`BlobError::TooLarge`] past the writer's bound; after any
    /// error the writer only accepts being dropped.
    pub fn write(&mut self, mut bytes: &[u8]) -> Result<()> {
        if self.failed {
            return Err(BlobError::Io {
                doing: "writing after a failed write",
                path: self.tmp_data.display().to_string(),
                source: std::io::Error::other("the import already failed"),
            });
        }
        if self.len.saturating_add(bytes.len() as u64) > self.max_len {
            self.failed = true;
            return Err(BlobError::TooLarge {
                max_len: self.max_len,
            });
        }
        self.len += bytes.len() as u64;
        let g = GROUP_LEN as usize;
        while !bytes.is_empty() {
            if self.group.len() == g {
                // More bytes follow, so this full group is not the root.
                let group = std::mem::take(&mut self.group);
                let res = self.push_group(&group);
                self.group = group;
                self.group.clear();
                res?;
            }
            if self.group.is_empty() && bytes.len() > g {
                // Whole groups with more to follow: hash and write straight from the input.
                let (head, rest) = bytes.split_at(g);
                self.push_group(head)?;
                bytes = rest;
                continue;
            }
            let take = (g - self.group.len()).min(bytes.len());
            self.group.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
        }
        Ok(())
    }

    fn push_group(&mut self, group: &[u8]) -> Result<()> {
        let index = self.group_hashes.len() as u64;
        self.group_hashes
            .push(tree::subtree_hash(index, group, false));
        let file = self.file.as_mut().expect("open until finish");
        if let Err(e) = file.write_all(group) {
            self.failed = true;
            return Err(BlobError::io("writing an import", &self.tmp_data, e));
        }
        Ok(())
    }

    /// Completes the import: the bytes and their outboard are fsynced and renamed into place
    /// before this returns the id and length.
    pub fn finish(self) -> Result<(Hash, u64)> {
        self.complete(None)
    }

    /// Like [`finish`](BlobWriter::finish), but keeps the blob only if its id is `expected`;
    /// otherwise fails with [`BlobError::Mismatch`] and stores nothing.
    pub fn finish_expecting(self, expected: &Hash) -> Result<u64> {
        self.complete(Some(expected)).map(|(_, len)| len)
    }

    fn complete(mut self, expected: Option<&Hash>) -> Result<(Hash, u64)> {
        if self.failed {
            return Err(BlobError::Io {
                doing: "finishing a failed import",
                path: self.tmp_data.display().to_string(),
                source: std::io::Error::other("the import already failed"),
            });
        }
        let group = std::mem::take(&mut self.group);
        let mut outboard = Vec::new();
        let root = if self.group_hashes.is_empty() {
            let root = tree::subtree_hash(0, &group, true);
            self.file
                .as_mut()
                .expect("open until finish")
                .write_all(&group)
                .map_err(|e| BlobError::io("writing an import", &self.tmp_data, e))?;
            root
        } else {
            self.push_group(&group)?;
            tree::build_outboard(&self.group_hashes, &mut outboard)
        };
        let id = Hash(root);
        if let Some(expected) = expected
            && *expected != id
        {
            return Err(BlobError::Mismatch {
                expected: *expected,
                actual: id,
            });
        }
        let len = self.len;
        let store = self.store.clone();
        let data_path = store.data_path(&id);
        if data_path.exists() {
            // Already held (and durable): the copy is dropped with the writer.
            return Ok((id, len));
        }
        let file = self.file.take().expect("open until finish");
        let file = file
            .into_inner()
            .map_err(|e| BlobError::io("writing an import", &self.tmp_data, e.into_error()))?;
        file.sync_all()
            .map_err(|e| BlobError::io("syncing an import", &self.tmp_data, e))?;
        drop(file);
        if !outboard.is_empty() {
            write_synced(&self.tmp_outboard, &outboard)?;
            fs::rename(&self.tmp_outboard, store.outboard_path(&id)).map_err(|e| {
                BlobError::io("moving an outboard into place", &self.tmp_outboard, e)
            })?;
        }
        fs::rename(&self.tmp_data, &data_path)
            .map_err(|e| BlobError::io("moving a blob into place", &self.tmp_data, e))?;
        store.forget(&id);
        let dir = &store.inner.blobs_dir;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| BlobError::io("syncing the blob directory", dir, e))?;
        Ok((id, len))
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = File::create(path).map_err(|e| BlobError::io("creating an outboard", path, e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| BlobError::io("writing an outboard", path, e))
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        // After a successful finish both were renamed away and these fail harmlessly.
        drop(self.file.take());
        let _ = fs::remove_file(&self.tmp_data);
        let _ = fs::remove_file(&self.tmp_outboard);
    }
}

/// Read buffers, recycled: a fresh buffer for every read would be zeroed and faulted in each
/// time (for 64 KiB ranges that cost more than hashing them). Bounded in count and size.
mod pool {
    use std::sync::Mutex;

    /// Buffers kept for reuse.
    const MAX_POOLED: usize = 32;
    /// Larger buffers are not kept (a read step is at most 256 KiB plus its group edges).
    const MAX_POOLED_LEN: usize = 1 << 20;

    static POOL: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

    /// A buffer of at least `len` initialised bytes; goes back to the pool when dropped.
    pub(super) struct Buf(Vec<u8>);

    impl AsRef<[u8]> for Buf {
        fn as_ref(&self) -> &[u8] {
            &self.0
        }
    }

    impl AsMut<[u8]> for Buf {
        fn as_mut(&mut self) -> &mut [u8] {
            &mut self.0
        }
    }

    impl Drop for Buf {
        fn drop(&mut self) {
            let v = std::mem::take(&mut self.0);
            if v.len() <= MAX_POOLED_LEN {
                let mut pool = POOL.lock().unwrap_or_else(|p| p.into_inner());
                if pool.len() < MAX_POOLED {
                    pool.push(v);
                }
            }
        }
    }

    pub(super) fn take(len: usize) -> Buf {
        let mut v = POOL
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
            .unwrap_or_default();
        if v.len() < len {
            // Zeroed once, when the buffer grows; its bytes are overwritten by every read.
            v.resize(len, 0);
        }
        Buf(v)
    }
}
