//! `cadenza play` against a real devnet, through the CLI only: a listener without a channel is
//! told which `channel open` to run; with one, it plays two demo tracks (range requests written to
//! a file whose BLAKE3 is the track's blob), pays each with a receipt and a voucher over the
//! channel's receipt chain (kept in the home folder between runs), and the provider settles both;
//! without the stored state it continues from the ledger's settled head; and a provider owed an
//! earlier stream refuses the next with a message saying to pay or top up.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// Base units of CUSD (6 decimals) as the CLI shows them: `0.002`, `0.0185`.
fn cusd(base: u128) -> String {
    let text = format!("{}.{:06}", base / 1_000_000, base % 1_000_000);
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[test]
fn play_streams_two_demo_tracks_pays_and_the_provider_settles() {
    let home = tempfile::tempdir().unwrap();
    let node = devnet(home.path(), &["--settle-interval-ms", "300"]);
    let url = node.url.clone();
    let run = |args: &[&str]| cadenza_at(home.path(), &url, args);
    success(run(&["keys", "new", "listener"]));
    success(run(&["faucet", "--key", "listener"]));

    let (_, list) = get(&format!("{url}/v1/tracks"));
    let demo = list["items"].as_array().unwrap().clone();
    assert_eq!(demo.len(), 3, "{list}");
    let first = demo[0]["id"].as_str().unwrap().to_owned();

    // No channel yet: refused, naming the command to run; nothing streamed.
    let out_file = home.path().join("first.flac");
    let refused = run(&[
        "play",
        &first,
        "--key",
        "listener",
        "--out",
        out_file.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(refused.status.code(), Some(6), "{}", describe(&refused));
    let message = json(&refused)["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.contains("open one with `cadenza channel open --deposit 0.0")
            && message.contains("CUSD`"),
        "{message}"
    );
    assert!(!out_file.exists());

    let opened = json(&success(run(&[
        "channel",
        "open",
        "--deposit",
        "0.02CUSD",
        "--key",
        "listener",
        "--json",
    ])));
    let channel = opened["channel"].as_str().unwrap().to_owned();

    let mut cumulative = 0u128;
    for (i, t) in demo.iter().take(2).enumerate() {
        let track = t["id"].as_str().unwrap();
        let price: u128 = t["licence"]["price"]["amount"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        cumulative += price;
        let file = home.path().join(format!("track{i}.flac"));
        let mut args = vec![
            "play",
            track,
            "--key",
            "listener",
            "--out",
            file.to_str().unwrap(),
        ];
        if i == 0 {
            args.push("--json");
        }
        let out = success(run(&args));
        let bytes = std::fs::read(&file).unwrap();
        assert_eq!(
            blake3::hash(&bytes).to_hex().as_str(),
            t["blob_id"].as_str().unwrap(),
            "the file is the registered blob"
        );
        if i == 0 {
            let doc = json(&out);
            assert_eq!(doc["channel"], channel.as_str());
            assert_eq!(doc["seq"], 1);
            assert_eq!(doc["paid"]["amount"], price.to_string());
            assert_eq!(doc["left"]["amount"], (20_000 - cumulative).to_string());
            assert_eq!(doc["bytes"], bytes.len() as u64);
        } else {
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let title = t["title"].as_str().unwrap();
            assert_eq!(
                text.trim_end(),
                format!(
                    "paid {} CUSD for \"{title}\"; channel {channel} has {} CUSD left",
                    cusd(price),
                    cusd(20_000 - cumulative)
                )
            );
        }
        // The chain state is kept in the home folder.
        let state: Value = serde_json::from_str(
            &std::fs::read_to_string(home.path().join("channels").join(format!("{channel}.json")))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(state["seq"], (i + 1) as u64);
        assert_eq!(state["cumulative"], cumulative.to_string());
    }

    // The provider settles both streams by itself.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, c) = get(&format!("{url}/v1/channels/{channel}"));
        if c["settled_seq"] == 2 {
            assert_eq!(c["settled"]["amount"], cumulative.to_string());
            break;
        }
        assert!(Instant::now() < deadline, "not settled: {c}");
        std::thread::sleep(Duration::from_millis(200));
    }

    // Without its stored chain state, the listener continues from the ledger's settled head.
    std::fs::remove_dir_all(home.path().join("channels")).unwrap();
    let third = demo[2]["id"].as_str().unwrap();
    let file = home.path().join("track2.flac");
    let doc = json(&success(run(&[
        "play",
        third,
        "--key",
        "listener",
        "--channel",
        &channel,
        "--out",
        file.to_str().unwrap(),
        "--json",
    ])));
    assert_eq!(doc["seq"], 3);

    // A provider owed an earlier stream refuses the next: the message says to pay or top up.
    let second = json(&success(run(&[
        "channel",
        "open",
        "--deposit",
        "0.02CUSD",
        "--key",
        "listener",
        "--json",
    ])));
    let second = second["channel"].as_str().unwrap().to_owned();
    let unpaid = get_raw(
        &format!("{url}/v1/tracks/{first}/audio?channel={second}"),
        &[("range", "bytes=0-1023")],
    );
    assert_eq!(unpaid.status, 206);
    let refused = run(&[
        "play",
        third,
        "--key",
        "listener",
        "--channel",
        &second,
        "--out",
        file.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(refused.status.code(), Some(8), "{}", describe(&refused));
    let error = json(&refused)["error"].clone();
    assert_eq!(error["code"], "payment_required", "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("Pay what it is owed") && message.contains("cadenza channel topup"),
        "{message}"
    );
    assert!(node.terminate());
}
