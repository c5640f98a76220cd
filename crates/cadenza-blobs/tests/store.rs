//! The blob store at its boundary: round trips, restarts, bounds, and corruption detection.

use std::path::{Path, PathBuf};

use cadenza_blobs::{BlobError, BlobStore};
use cadenza_types::hash::Hash;
use proptest::prelude::*;

const GROUP: usize = 16 * 1024;

fn sample(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn data_file(dir: &Path, id: &Hash) -> PathBuf {
    dir.join("blobs").join(format!("{}.data", id.to_hex()))
}

fn flip_byte(path: &Path, at: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at as usize] ^= 0x01;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn put_read_len_list_and_restart_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let sizes = [
        0,
        1,
        1000,
        GROUP - 1,
        GROUP,
        GROUP + 1,
        5 * GROUP + 17,
        3 << 20,
    ];
    let blobs: Vec<(Vec<u8>, Hash)> = {
        let store = BlobStore::open(dir.path()).unwrap();
        let blobs: Vec<_> = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                let bytes = sample(n, i as u64);
                let id = store.put(&bytes).unwrap();
                assert_eq!(id.0, *blake3::hash(&bytes).as_bytes(), "id is plain BLAKE3");
                (bytes, id)
            })
            .collect();
        for (bytes, id) in &blobs {
            assert!(store.contains(id));
            assert_eq!(store.len(id), Some(bytes.len() as u64));
            assert_eq!(&store.read_range(id, 0, u64::MAX).unwrap(), bytes);
        }
        blobs
    };
    // A fresh store on the same directory holds the same blobs.
    let store = BlobStore::open(dir.path()).unwrap();
    let mut expected: Vec<(Hash, u64)> =
        blobs.iter().map(|(b, id)| (*id, b.len() as u64)).collect();
    expected.sort();
    assert_eq!(store.list(), expected);
    for (bytes, id) in &blobs {
        let n = bytes.len() as u64;
        assert_eq!(&store.read_range(id, 0, n).unwrap(), bytes);
        let mid = n / 3;
        assert_eq!(
            store.read_range(id, mid, 70_000).unwrap(),
            bytes[mid as usize..(mid + 70_000).min(n) as usize]
        );
        assert!(
            store.read_range(id, n, 10).unwrap().is_empty(),
            "past the end is empty"
        );
        assert!(store.read_range(id, n + 5, 10).unwrap().is_empty());
    }
    // Storing the same bytes again gives the same id and changes nothing.
    let (bytes, id) = &blobs[6];
    assert_eq!(store.put(bytes).unwrap(), *id);
    assert_eq!(store.list().len(), blobs.len());
}

#[test]
fn missing_blob_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path()).unwrap();
    let id = Hash([7; 32]);
    assert!(!store.contains(&id));
    assert_eq!(store.len(&id), None);
    let err = store.read_range(&id, 0, 1).unwrap_err();
    assert_eq!(err.code(), "blob_not_found");
}

#[test]
fn streaming_writer_matches_put_and_enforces_its_bound() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path()).unwrap();
    let bytes = sample(200_000, 9);
    let mut w = store.writer(bytes.len() as u64).unwrap();
    for piece in bytes.chunks(7_777) {
        w.write(piece).unwrap();
    }
    let (id, len) = w.finish().unwrap();
    assert_eq!((id, len), (store.put(&bytes).unwrap(), 200_000));

    let mut w = store.writer(100).unwrap();
    w.write(&[1; 60]).unwrap();
    let err = w.write(&[1; 60]).unwrap_err();
    assert!(matches!(err, BlobError::TooLarge { max_len: 100 }), "{err}");
    assert_eq!(err.code(), "blob_too_large");
    drop(w);

    // An abandoned import leaves nothing, in the store or on disk.
    let mut w = store.writer(1 << 20).unwrap();
    w.write(&sample(50_000, 3)).unwrap();
    drop(w);
    assert_eq!(store.list().len(), 1);
    assert_eq!(
        std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
        0
    );

    let mut w = store.writer(10).unwrap();
    w.write(b"hello").unwrap();
    let err = w.finish_expecting(&Hash([0; 32])).unwrap_err();
    assert_eq!(err.code(), "blob_mismatch");
    assert_eq!(store.list().len(), 1);
}

#[test]
fn flipped_data_byte_is_corrupt_where_touched_and_correct_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path()).unwrap();
    let bytes = sample(40 * GROUP + 123, 1);
    let id = store.put(&bytes).unwrap();
    let bad_at: u64 = 17 * GROUP as u64 + 999;
    flip_byte(&data_file(dir.path(), &id), bad_at);

    for (offset, len) in [
        (bad_at, 1),
        (bad_at - 5, 10),
        (0, u64::MAX),
        (17 * GROUP as u64, 1),
    ] {
        let err = store.read_range(&id, offset, len).unwrap_err();
        assert_eq!(err.code(), "blob_corrupt", "range {offset}+{len}");
        assert!(
            matches!(
                err,
                BlobError::Corrupt {
                    offset: 278_528,
                    ..
                }
            ),
            "{err}"
        );
    }
    // Ranges that touch other groups still read, verified.
    for (offset, len) in [
        (0u64, 17 * GROUP as u64),
        (18 * GROUP as u64, 5000),
        (30_000, 100),
    ] {
        let got = store.read_range(&id, offset, len).unwrap();
        assert_eq!(got, bytes[offset as usize..(offset + len) as usize]);
    }
    // A fresh store (nothing cached) sees the same.
    let store = BlobStore::open(dir.path()).unwrap();
    assert_eq!(
        store.read_range(&id, bad_at, 1).unwrap_err().code(),
        "blob_corrupt"
    );
}

#[test]
fn small_blob_and_outboard_corruption_are_detected() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path()).unwrap();
    let small = sample(500, 2);
    let small_id = store.put(&small).unwrap();
    flip_byte(&data_file(dir.path(), &small_id), 499);
    assert_eq!(
        store.read_range(&small_id, 0, 1).unwrap_err().code(),
        "blob_corrupt"
    );

    let big = sample(10 * GROUP, 3);
    let big_id = store.put(&big).unwrap();
    let outboard = dir
        .path()
        .join("blobs")
        .join(format!("{}.obao", big_id.to_hex()));
    flip_byte(&outboard, 5);
    let store = BlobStore::open(dir.path()).unwrap();
    assert_eq!(
        store.read_range(&big_id, 0, 10).unwrap_err().code(),
        "blob_corrupt"
    );

    // A truncated data file is corrupt too, not short data.
    let other = sample(4 * GROUP, 4);
    let other_id = store.put(&other).unwrap();
    let path = data_file(dir.path(), &other_id);
    std::fs::write(&path, &other[..3 * GROUP]).unwrap();
    let store = BlobStore::open(dir.path()).unwrap();
    assert_eq!(
        store.read_range(&other_id, 0, 10).unwrap_err().code(),
        "blob_corrupt"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_ranges_equal_the_source_slice(
        len in 0usize..300_000,
        seed in any::<u64>(),
        ranges in proptest::collection::vec((any::<u64>(), 0u64..120_000), 1..8),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let bytes = sample(len, seed);
        let id = store.put(&bytes).unwrap();
        for (offset, n) in ranges {
            let offset = offset % (len as u64 + 10);
            let got = store.read_range(&id, offset, n).unwrap();
            let start = (offset as usize).min(len);
            let end = (offset.saturating_add(n) as usize).min(len);
            prop_assert_eq!(&got[..], &bytes[start..end]);
        }
    }
}
