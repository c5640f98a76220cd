//! Two providers of one chain on 127.0.0.1, set up by `cadenza testnet init --providers` and run
//! by `cadenza node --config`, B with no peers configured: a track uploaded to provider A and
//! registered is announced by A to B, but is not on B until a listener streams it from B; B then
//! fetches it from A, the peer that announced it, over iroh, verifies it, serves bytes that hash
//! to the registered blob id, lists the blob and announces it to A in turn. A second track whose copy on A
//! is corrupted on disk is refused by B with a JSON error: B stores none of it, serves none of
//! it, and the listener owes nothing for the refused stream; once A's copy is repaired, B fetches
//! and serves it. A misconfigured provider section is refused before the node starts.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use cadenza_content::demo::{self, DemoTrack};
use cadenza_types::{
    AccountId, Action, Amount, AssetId, ChainId, ChannelId, Encode as _, Hash, Holder,
    ReceiptChain, TrackId, TrackMetadata,
};
use common::*;
use serde_json::{Value, json};

const PASSPHRASE: &str = "replicate passphrase";
const FEE: u128 = 1_000;
const PRICE: u128 = 2_500;
const DEPOSIT: u128 = 20_000;

const COPY_ONE: DemoTrack = DemoTrack {
    title: "Copy One",
    artist: "The Replicas",
    chords: &[&[220_000, 329_628], &[246_942, 369_994]],
    chord_ms: 1_000,
};

const COPY_TWO: DemoTrack = DemoTrack {
    title: "Copy Two",
    artist: "The Replicas",
    chords: &[&[293_665, 440_000], &[261_626, 392_995]],
    chord_ms: 1_000,
};

fn chain() -> ChainId {
    ChainId::new("cadenza-testnet").unwrap()
}

fn cusd() -> AssetId {
    AssetId::genesis("CUSD")
}

/// A base port with 2 free TCP ports for p2p, 2 for HTTP and 2 free UDP ports for blobs.
fn free_ports(rng: &mut SplitMix) -> (u16, u16, u16) {
    let tcp = |p: u16| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok();
    let udp = |p: u16| std::net::UdpSocket::bind(("127.0.0.1", p)).is_ok();
    for _ in 0..1000 {
        let base = rng.port_base();
        if (base..base + 4).all(tcp) && (base + 4..base + 6).all(udp) {
            return (base, base + 2, base + 4);
        }
    }
    panic!("no free ports");
}

fn commit_on(urls: &[&str], stx: &cadenza_types::SignedTransaction) {
    let (code, body) = submit(urls[0], stx);
    assert!(code == 200 || code == 202, "{code} {body}");
    for url in urls {
        let record = wait_committed(url, &stx.hash());
        assert_eq!(record["ok"], true, "{record}");
    }
}

/// Uploads `score` to the provider at `url` through its three routes, signs the licence claim
/// as `artist`, and registers the track; returns its id and blob id.
fn publish(
    url: &str,
    other: &str,
    artist: &mut cadenza_ledger::testkit::Wallet,
    audio: Vec<u8>,
    title: &str,
    isrc: &str,
) -> (TrackId, Hash) {
    let (code, staged) = post(&format!("{url}/v1/uploads"), "audio/wav", audio.clone());
    assert_eq!(code, 201, "{staged}");
    let upload = staged["upload"].as_str().unwrap().to_owned();
    let licence = cadenza_ledger::testkit::stream_licence(cusd(), PRICE, 3_000);
    let mut terms = json!({
        "issuer": artist.account().to_did(),
        "licence": hex::encode(licence.to_bytes()),
        "isrc": isrc,
    });
    let (code, claim) = post(
        &format!("{url}/v1/uploads/{upload}/claim"),
        "application/json",
        terms.to_string().into_bytes(),
    );
    assert_eq!(code, 200, "{claim}");
    let signing_input = claim["signing_input"].as_str().unwrap();
    terms["signature"] = json!(hex::encode(artist.key.sign(signing_input.as_bytes()).0));
    let (code, licensed) = post(
        &format!("{url}/v1/uploads/{upload}/licence"),
        "application/json",
        terms.to_string().into_bytes(),
    );
    assert_eq!(code, 201, "{licensed}");
    let blob = Hash::from_hex(licensed["blob"].as_str().unwrap()).unwrap();
    let essence = cadenza_content::essence_id(&audio).unwrap();
    let track = TrackId::from_essence(&essence.hash);
    assert_eq!(licensed["track"], track.to_string());
    commit_on(
        &[url, other],
        &artist.sign(Action::RegisterTrack {
            essence_id: essence.hash,
            blob_id: blob,
            metadata: TrackMetadata {
                title: title.into(),
                artist: "The Replicas".into(),
                isrc: Some(isrc.into()),
            },
            licence,
            holders: vec![Holder {
                account: artist.account(),
                shares: 1_000_000,
            }],
        }),
    );
    (track, blob)
}

/// Every file under `dir` whose path satisfies `keep`.
fn files_where(dir: &Path, keep: &dyn Fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_where(&path, keep));
        } else if keep(&path) {
            found.push(path);
        }
    }
    found
}

fn blob_status(url: &str, blob: &Hash) -> (u16, Value) {
    get(&format!("{url}/v1/blobs/{}", blob.to_hex()))
}

fn listed(url: &str, blob: &Hash) -> bool {
    let (code, list) = get(&format!("{url}/v1/blobs"));
    assert_eq!(code, 200, "{list}");
    list["blobs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|b| b["blob"] == blob.to_hex())
}

/// Waits until the provider at `url` lists `peer` among the peers that announced `blob`; returns
/// its `GET /v1/blobs/{blob}/peers`.
fn announced(url: &str, blob: &Hash, peer: &str) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (code, peers) = get(&format!("{url}/v1/blobs/{}/peers", blob.to_hex()));
        assert_eq!(code, 200, "{peers}");
        assert_eq!(peers["blob"], blob.to_hex(), "{peers}");
        if peers["peers"].as_array().unwrap().iter().any(|p| p == peer) {
            return peers;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{peer} never announced {blob} to {url}: {peers}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_provider_fetches_a_missing_track_from_a_peer_and_refuses_a_corrupt_copy() {
    let mut rng = SplitMix(seed(
        "a_provider_fetches_a_missing_track_from_a_peer_and_refuses_a_corrupt_copy",
    ));
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("net");
    let (p2p, http, blob_port) = free_ports(&mut rng);
    let init = json_of(&cadenza(
        home.path(),
        &[("CADENZA_PASSPHRASE", PASSPHRASE)],
        &[
            "--json",
            "testnet",
            "init",
            "--validators",
            "2",
            "--providers",
            "--dir",
            dir.to_str().unwrap(),
            "--p2p-port",
            &p2p.to_string(),
            "--http-port",
            &http.to_string(),
            "--blob-port",
            &blob_port.to_string(),
        ],
    ));
    let written: Vec<Value> = init["validators"].as_array().unwrap().clone();
    assert_eq!(written.len(), 2);
    // Each node lists the other's blob address, written before either ran; the provider keys
    // are stored encrypted.
    let addr = |i: usize| written[i]["provider"]["blob_addr"].as_str().unwrap();
    for i in 0..2 {
        let file: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("validator-{i}/node.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(
            file["provider"]["blob_peers"],
            json!([addr(1 - i)]),
            "{file}"
        );
        let key = std::fs::read_to_string(dir.join(format!("validator-{i}/provider.key"))).unwrap();
        assert!(key.contains("ciphertext"), "{key}");
    }

    // A provider section with a peer address that does not parse, or naming the provider
    // itself, is refused before the node starts, with a stable code and what to do.
    let node1: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("validator-1/node.json")).unwrap())
            .unwrap();
    for (peers, says) in [
        (json!(["not-an-address"]), "provider.blob_peers[0]"),
        (json!([addr(0), addr(1)]), "own blob address"),
    ] {
        let mut file = node1.clone();
        file["provider"]["blob_peers"] = peers;
        let path = dir.join("validator-1/misconfigured.json");
        std::fs::write(&path, file.to_string()).unwrap();
        let output = cadenza(
            home.path(),
            &[("CADENZA_PASSPHRASE", PASSPHRASE)],
            &["--json", "node", "--config", path.to_str().unwrap()],
        );
        assert!(!output.status.success());
        let error = json(&output);
        assert_eq!(error["error"]["code"], "bad_config", "{error}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{message}");
        std::fs::remove_file(&path).unwrap();
    }

    // B is given no peers: all it knows of A is what A announces to it.
    let mut file = node1.clone();
    file["provider"]["blob_peers"] = json!([]);
    std::fs::write(dir.join("validator-1/node.json"), file.to_string()).unwrap();

    let start_node = |i: usize| {
        let config = dir.join(format!("validator-{i}/node.json"));
        start(
            home.path(),
            &["node", "--config", config.to_str().unwrap()],
            &[("CADENZA_PASSPHRASE", PASSPHRASE)],
        )
    };
    let a = start_node(0);
    let b = start_node(1);
    let (url_a, url_b) = (a.url.clone(), b.url.clone());
    let status = wait_height(&url_a, 2);
    wait_height(&url_b, 2);

    // Each provider announces the blob address its key and port fixed, and holds the CDZ
    // genesis gave it for settlement fees.
    let mut providers = Vec::new();
    for (i, url) in [&url_a, &url_b].into_iter().enumerate() {
        let (code, p) = get(&format!("{url}/v1/provider"));
        assert_eq!(code, 200, "{p}");
        assert_eq!(p["blob_addr"], addr(i), "{p}");
        assert_eq!(p["account"], written[i]["provider"]["account"], "{p}");
        let account = AccountId::from_did(p["account"].as_str().unwrap()).unwrap();
        let (_, cdz) = get(&format!(
            "{url}/v1/accounts/{}/balances/{}",
            account.to_did(),
            cadenza_ledger::native_asset()
        ));
        assert_eq!(cdz["amount"], "1000000000000", "{cdz}");
        providers.push(account);
    }

    // An artist publishes two tracks on provider A.
    let mut artist = wallet(61, chain(), 0);
    commit_on(&[&url_a, &url_b], &artist.sign(Action::Faucet));
    artist.fee = Amount::new(FEE);
    let first = demo::encode_wav(&demo::synthesize(&COPY_ONE)).unwrap();
    let second = demo::encode_wav(&demo::synthesize(&COPY_TWO)).unwrap();
    let (track1, blob1) = publish(
        &url_a,
        &url_b,
        &mut artist,
        first,
        "Copy One",
        "QZDZE2600101",
    );
    let (track2, blob2) = publish(
        &url_a,
        &url_b,
        &mut artist,
        second,
        "Copy Two",
        "QZDZE2600102",
    );
    for blob in [&blob1, &blob2] {
        assert_eq!(blob_status(&url_a, blob).0, 200);
        assert!(listed(&url_a, blob));
        let (code, missing) = blob_status(&url_b, blob);
        assert_eq!(code, 404, "{missing}");
        assert_eq!(missing["error"]["code"], "blob_not_found");
        assert!(!listed(&url_b, blob));
        // A announced each blob to B as it stored it.
        let peers = announced(&url_b, blob, addr(0));
        assert_eq!(peers["held"], false, "{peers}");
    }
    let (_, p) = get(&format!("{url_b}/v1/provider"));
    assert_eq!(p["announced"]["peers"], 1, "{p}");

    // A listener opens a channel with provider B and streams the first track from B.
    let mut listener = wallet(62, chain(), 0);
    commit_on(&[&url_b], &listener.sign(Action::Faucet));
    listener.fee = Amount::new(FEE);
    let open_nonce = listener.nonce;
    commit_on(
        &[&url_b],
        &listener.sign(Action::OpenChannel {
            provider: providers[1],
            asset: cusd(),
            deposit: Amount::new(DEPOSIT),
            expiry_ms: status["block_time_ms"].as_u64().unwrap() + 86_400_000,
        }),
    );
    let channel = ChannelId::derive(&listener.account(), open_nonce);
    let audio = |track: &TrackId| format!("{url_b}/v1/tracks/{track}/audio?channel={channel}");
    let streamed = get_raw(&audio(&track1), &[]);
    assert_eq!(streamed.status, 200, "{:?}", streamed.json());
    assert_eq!(
        Hash(*blake3::hash(&streamed.body).as_bytes()),
        blob1,
        "B serves the registered blob"
    );
    assert!(cadenza_content::verify_file(&streamed.body).is_valid());
    let (code, held) = blob_status(&url_b, &blob1);
    assert_eq!(code, 200, "{held}");
    assert_eq!(held["bytes"].as_u64().unwrap(), streamed.body.len() as u64);
    assert!(listed(&url_b, &blob1), "B now lists the blob");
    // ... and has told A, the peer that announced to it, that it holds it too.
    let peers = announced(&url_a, &blob1, addr(1));
    assert_eq!(peers["held"], true, "{peers}");
    // A range of it now comes from B's own store.
    let tail = get_raw(&audio(&track1), &[("range", "bytes=-1000")]);
    assert_eq!(tail.status, 206);
    assert_eq!(tail.body, streamed.body[streamed.body.len() - 1000..]);
    let mut receipts = (ReceiptChain::start(&channel), 0u64, 0u128);
    // The testnet's protocol minimum play time is 30 s.
    pay_stream(
        &url_b,
        chain(),
        &listener.key,
        &channel,
        &mut receipts,
        (track1, PRICE, 31_000),
    );

    // A's copy of the second track is corrupted on disk.
    let a_provider = dir.join("validator-0/data/provider");
    let data_name = format!("{}.data", blob2.to_hex());
    let copies = files_where(&a_provider, &|p| {
        p.file_name().is_some_and(|n| n == data_name.as_str())
    });
    assert_eq!(
        copies.len(),
        1,
        "A holds one data file for the blob: {copies:?}"
    );
    let good = std::fs::read(&copies[0]).unwrap();
    let mut bad = good.clone();
    let at = bad.len() / 2;
    bad[at] ^= 0x01;
    std::fs::write(&copies[0], &bad).unwrap();

    // B asks A for it and refuses what it gets: a JSON error, no audio, nothing stored.
    let refused = get_raw(&audio(&track2), &[]);
    assert_eq!(refused.status, 502, "{:?}", refused.json());
    assert!(
        refused
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json")),
        "{:?}",
        refused.headers
    );
    let error = refused.json();
    assert_eq!(error["error"]["code"], "blob_peer_bad", "{error}");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(message.contains(&blob2.to_hex()), "{message}");
    assert!(message.contains("nothing was stored"), "{message}");
    assert!(refused.body.len() < 4096, "a short JSON error, no audio");
    let (code, missing) = blob_status(&url_b, &blob2);
    assert_eq!(code, 404, "{missing}");
    assert!(!listed(&url_b, &blob2));
    let b_provider = dir.join("validator-1/data/provider");
    assert_eq!(
        files_where(&b_provider, &|p| p
            .to_string_lossy()
            .contains(&blob2.to_hex())),
        Vec::<PathBuf>::new(),
        "B keeps no file of the corrupt copy"
    );
    // Asked again, B refuses again (it did not keep anything to serve).
    let again = get_raw(&audio(&track2), &[("range", "bytes=0-")]);
    assert_eq!(again.status, 502);
    assert_eq!(again.json()["error"]["code"], "blob_peer_bad");

    // Once A's copy is repaired, B fetches it and serves it, and the refused attempts were not
    // counted as streams the listener owes (no 402 for an unpaid stream).
    std::fs::write(&copies[0], &good).unwrap();
    let repaired = get_raw(&audio(&track2), &[]);
    assert_eq!(repaired.status, 200, "{:?}", repaired.json());
    assert_eq!(Hash(*blake3::hash(&repaired.body).as_bytes()), blob2);
    assert!(listed(&url_b, &blob2));
    // The testnet's protocol minimum play time is 30 s.
    pay_stream(
        &url_b,
        chain(),
        &listener.key,
        &channel,
        &mut receipts,
        (track2, PRICE, 31_000),
    );

    // B settles both streams on the ledger by itself (its genesis CDZ pays the fee).
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (_, c) = get(&format!("{url_b}/v1/channels/{channel}"));
        if c["settled"]["amount"] == (2 * PRICE).to_string() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "B did not settle the channel: {c}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(b.terminate(), "B stops cleanly");
    assert!(a.terminate(), "A stops cleanly");
}
