//! Two replicators on 127.0.0.1: fetching verified blobs, and refusing a peer's bad copy.

use std::net::SocketAddr;
use std::time::Duration;

use cadenza_blobs::{BlobStore, PeerAddr, Replicator, start_iroh};
use cadenza_types::hash::Hash;

fn local() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn sample(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 131 % 251) as u8).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_put_into_a_is_fetched_by_b_and_read_back() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (store_a, store_b) = (
        BlobStore::open(dir_a.path()).unwrap(),
        BlobStore::open(dir_b.path()).unwrap(),
    );
    let a = start_iroh(store_a.clone(), local()).await.unwrap();
    let b = start_iroh(store_b.clone(), local()).await.unwrap();

    // The address is printable text that parses back, and names only 127.0.0.1 sockets.
    let a_addr: PeerAddr = a.addr().to_string().parse().unwrap();
    assert_eq!(a_addr, a.addr());
    assert!(a_addr.as_str().contains("@127.0.0.1:"), "{a_addr}");

    for len in [0usize, 10, 16 * 1024, 1_000_003] {
        let bytes = sample(len);
        let id = store_a.put(&bytes).unwrap();
        assert!(!store_b.contains(&id));
        assert_eq!(b.fetch(id, &a_addr).await.unwrap(), len as u64);
        assert!(store_b.contains(&id));
        assert_eq!(store_b.read_range(&id, 0, u64::MAX).unwrap(), bytes);
        let mid = len as u64 / 2;
        assert_eq!(
            store_b.read_range(&id, mid, 4096).unwrap(),
            bytes[mid as usize..(mid as usize + 4096).min(len)]
        );
        // Fetching again is answered from the store.
        assert_eq!(b.fetch(id, &a_addr).await.unwrap(), len as u64);
    }

    // A blob A does not hold: the peer says so, and B stores nothing.
    let missing = Hash([9; 32]);
    let err = b.fetch(missing, &a_addr).await.unwrap_err();
    assert_eq!(err.code(), "blob_peer_missing", "{err}");
    assert!(!store_b.contains(&missing));

    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_copy_on_a_is_not_replicated_to_b() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (store_a, store_b) = (
        BlobStore::open(dir_a.path()).unwrap(),
        BlobStore::open(dir_b.path()).unwrap(),
    );
    let bytes = sample(2_000_000);
    let id = store_a.put(&bytes).unwrap();
    let path = dir_a
        .path()
        .join("blobs")
        .join(format!("{}.data", id.to_hex()));
    let mut on_disk = std::fs::read(&path).unwrap();
    on_disk[1_234_567] ^= 0x04;
    std::fs::write(&path, on_disk).unwrap();

    let a = start_iroh(store_a.clone(), local()).await.unwrap();
    let b = start_iroh(store_b.clone(), local()).await.unwrap();
    let err = b.fetch(id, &a.addr()).await.unwrap_err();
    eprintln!("fetch of a corrupt copy: {err}");
    assert!(
        matches!(err.code(), "blob_peer_bad" | "blob_corrupt"),
        "{}: {err}",
        err.code()
    );
    assert!(!store_b.contains(&id));
    assert!(store_b.list().is_empty());
    assert_eq!(
        store_b.read_range(&id, 0, 1).unwrap_err().code(),
        "blob_not_found"
    );

    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn unreachable_and_malformed_peers_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let b = start_iroh(BlobStore::open(dir.path()).unwrap(), local())
        .await
        .unwrap()
        .with_connect_timeout(std::time::Duration::from_secs(2));
    for text in ["", "nonsense", "abc@127.0.0.1:1", "@127.0.0.1:1"] {
        let err = text.parse::<PeerAddr>().unwrap_err();
        assert_eq!(err.code(), "blob_bad_peer_addr", "{text}");
    }
    // A well-formed address of an endpoint that is gone.
    let gone = {
        let dir = tempfile::tempdir().unwrap();
        let a = start_iroh(BlobStore::open(dir.path()).unwrap(), local())
            .await
            .unwrap();
        let addr = a.addr();
        a.shutdown().await;
        addr
    };
    let err = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        b.fetch(Hash([1; 32]), &gone),
    )
    .await
    .expect("a fetch from a closed endpoint ends by itself")
    .unwrap_err();
    assert_eq!(err.code(), "blob_peer_unreachable", "{err}");
    b.shutdown().await;
}

/// A hello teaches both sides what the other holds; a have teaches the receiver what is new;
/// and the receiver remembers the announcer as a peer to tell about its own new blobs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn announcements_tell_each_side_what_the_other_holds() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (store_a, store_b) = (
        BlobStore::open(dir_a.path()).unwrap(),
        BlobStore::open(dir_b.path()).unwrap(),
    );
    let x = store_a.put(&sample(1_000)).unwrap();
    let y = store_a.put(&sample(2_000)).unwrap();
    let z = store_b.put(&sample(3_000)).unwrap();
    let a = start_iroh(store_a.clone(), local())
        .await
        .unwrap()
        .with_connect_timeout(Duration::from_secs(1));
    let b = start_iroh(store_b.clone(), local()).await.unwrap();
    assert!(a.holdings().holders(&z).is_empty());

    // A's hello carries its inventory; B answers with its own.
    assert_eq!(a.announce(&b.addr(), &[x, y], true).await.unwrap(), 1);
    assert_eq!(a.holdings().holders(&z), vec![b.addr()]);
    assert_eq!(b.holdings().holders(&x), vec![a.addr()]);
    assert_eq!(b.holdings().holders(&y), vec![a.addr()]);
    assert_eq!(
        b.holdings().peers(),
        vec![a.addr()],
        "B will tell A of new blobs"
    );

    // B stores a new blob and tells A: a have is only acknowledged.
    let w = store_b.put(&sample(4_000)).unwrap();
    assert_eq!(b.announce(&a.addr(), &[w], false).await.unwrap(), 0);
    assert_eq!(a.holdings().holders(&w), vec![b.addr()]);
    assert_eq!(a.holdings().counts(), (1, 2));

    // A fetches what B announced, from B.
    let holder = &a.holdings().holders(&w)[0];
    assert_eq!(a.fetch(w, holder).await.unwrap(), 4_000);

    // A peer that is not running cannot be told.
    let gone = b.addr();
    b.shutdown().await;
    let err = a.announce(&gone, &[x], false).await.unwrap_err();
    assert_eq!(err.code(), "blob_peer_unreachable", "{err}");
    a.shutdown().await;
}
