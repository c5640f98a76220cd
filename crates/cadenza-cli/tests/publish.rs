//! `cadenza track publish` end to end against a real devnet and its upload routes
//! (`POST /v1/uploads`, `/v1/uploads/{id}/claim`, `/v1/uploads/{id}/licence`): the CLI uploads,
//! checks the node's signing input against its own, signs it, registers the track with its split
//! and waits for the commit; the track is on the ledger with its holders, and the tagged file the
//! node stored (streamed back with `cadenza play`) verifies offline and against the ledger.

mod common;

use cadenza_types::{AssetId, TrackId};
use common::*;
use serde_json::Value;

#[test]
fn publish_uploads_signs_registers_and_the_tagged_file_verifies() {
    let home = tempfile::tempdir().unwrap();
    let node = devnet(home.path(), &[]);
    let url = node.url.clone();
    let run = |args: &[&str]| cadenza_at(home.path(), &url, args);
    let singer = json_of(&run(&["keys", "new", "singer", "--json"]))["account"]
        .as_str()
        .unwrap()
        .to_owned();
    let producer = cadenza_types::SecretKey::from_seed([7; 32])
        .account()
        .to_did();
    json_of(&run(&["faucet", "--key", "singer", "--json"]));

    let pcm = cadenza_content::demo::synthesize(&cadenza_content::demo::CATALOGUE[1]);
    let song = home.path().join("minor-drift.wav");
    std::fs::write(&song, cadenza_content::demo::encode_wav(&pcm).unwrap()).unwrap();
    let split = format!("{producer}=40%");
    let published = json_of(&run(&[
        "track",
        "publish",
        song.to_str().unwrap(),
        "--split",
        "singer=60%",
        "--split",
        &split,
        "--price",
        "0.002cUSD",
        "--isrc",
        "GB-AYE-24-00002",
        "--artist",
        "The Test Tones",
        "--licence-url",
        "https://example.org/licence",
        "--key",
        "singer",
        "--json",
    ]));
    assert_eq!(published["ok"], true, "{published}");
    assert_eq!(published["title"], "minor-drift");
    let track = published["track"].as_str().unwrap().to_owned();
    let essence = cadenza_content::essence_id(&std::fs::read(&song).unwrap()).unwrap();
    assert_eq!(track, TrackId::from_essence(&essence.hash).to_string());

    // On the ledger: the metadata, the price, and the split as shares.
    let (status, doc) = get(&format!("{}/v1/tracks/{track}", node.url));
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["artist"], "The Test Tones");
    assert_eq!(doc["isrc"], "GBAYE2400002");
    assert_eq!(doc["licence"]["price"]["amount"], "2000");
    assert_eq!(doc["controller"], singer.as_str());
    let shares: AssetId = doc["shares_asset"].as_str().unwrap().parse().unwrap();
    for (did, expected) in [(&singer, "600000"), (&producer, "400000")] {
        let (_, b) = get(&format!("{}/v1/accounts/{did}/balances/{shares}", node.url));
        assert_eq!(b["amount"], expected, "{did}: {b}");
    }
    assert_eq!(
        published["blob_id"], doc["blob_id"],
        "the registered blob is the tagged file"
    );

    // The tagged file the node stored, streamed back and paid for, verifies offline and against
    // the ledger.
    json_of(&run(&[
        "channel",
        "open",
        "--deposit",
        "0.01CUSD",
        "--key",
        "singer",
        "--json",
    ]));
    let tagged_path = home.path().join("tagged.wav");
    let played = json_of(&run(&[
        "play",
        &track,
        "--out",
        tagged_path.to_str().unwrap(),
        "--key",
        "singer",
        "--json",
    ]));
    assert_eq!(played["blob"], doc["blob_id"], "{played}");
    let verdict = json_of(&cadenza_at(
        home.path(),
        &node.url,
        &["track", "verify", tagged_path.to_str().unwrap(), "--json"],
    ));
    assert_eq!(verdict["valid"], true, "{verdict}");
    assert_eq!(verdict["ledger"]["verdict"], "valid", "{verdict}");

    // Publishing it again is refused before anything is uploaded.
    let out = run(&[
        "track",
        "publish",
        song.to_str().unwrap(),
        "--split",
        "singer=100%",
        "--price",
        "0.002cUSD",
        "--key",
        "singer",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(6));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["error"]["code"], "track_exists", "{doc}");
    assert!(node.terminate());
}
