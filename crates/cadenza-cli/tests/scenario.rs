//! The whole scenario through the CLI alone, against a devnet it starts: two artists publish
//! tracks with splits, a listener opens a channel and plays both, the provider settles, every
//! holder claims, a holder sells shares to another account, and every amount the CLI prints
//! matches the node's `/v1` answers to the base unit.

mod common;

use std::time::{Duration, Instant};

use cadenza_content::demo::{self, DemoTrack};
use common::*;

const FIRST: DemoTrack = DemoTrack {
    title: "Scenario One",
    artist: "Ada",
    chords: &[&[261_626, 329_628], &[293_665, 349_228]],
    chord_ms: 1_500,
};
const SECOND: DemoTrack = DemoTrack {
    title: "Scenario Two",
    artist: "Bo",
    chords: &[&[220_000, 277_183], &[246_942, 311_127]],
    chord_ms: 1_500,
};

/// An account's balances from `/v1`, by asset id.
fn api_balances(url: &str, did: &str) -> Vec<(String, String)> {
    let (code, doc) = get(&format!("{url}/v1/accounts/{did}"));
    assert_eq!(code, 200, "{doc}");
    let mut all: Vec<(String, String)> = doc["balances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["asset"].as_str().unwrap().to_owned(),
                b["amount"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    all.sort();
    all
}

fn api_balance(url: &str, did: &str, asset: &str) -> u128 {
    let (code, doc) = get(&format!("{url}/v1/accounts/{did}/balances/{asset}"));
    assert_eq!(code, 200, "{doc}");
    doc["amount"].as_str().unwrap().parse().unwrap()
}

/// What reaches a track's vault from one stream of `price` (1% protocol, 10% provider).
fn vault(price: u128) -> u128 {
    price - price * 100 / 10_000 - price * 1_000 / 10_000
}

#[test]
fn two_artists_a_listener_settlement_claims_and_a_share_sale() {
    let home = tempfile::tempdir().unwrap();
    let node = devnet(home.path(), &["--settle-interval-ms", "300"]);
    let url = node.url.clone();
    let run = |args: &[&str]| cadenza_at(home.path(), &url, args);
    let mut did = std::collections::BTreeMap::new();
    for name in ["ada", "bo", "producer", "listener", "buyer"] {
        let doc = json_of(&run(&["keys", "new", name, "--json"]));
        did.insert(name, doc["account"].as_str().unwrap().to_owned());
    }
    for name in ["ada", "bo", "producer", "listener"] {
        json_of(&run(&["faucet", "--key", name, "--json"]));
    }

    // Two artists publish, each with a split.
    let one = home.path().join("one.flac");
    std::fs::write(&one, demo::encode_flac(&demo::synthesize(&FIRST)).unwrap()).unwrap();
    let two = home.path().join("two.wav");
    std::fs::write(&two, demo::encode_wav(&demo::synthesize(&SECOND)).unwrap()).unwrap();
    let published_one = json_of(&run(&[
        "track",
        "publish",
        one.to_str().unwrap(),
        "--split",
        "ada=60%",
        "--split",
        "producer=40%",
        "--price",
        "0.002CUSD",
        "--title",
        FIRST.title,
        "--key",
        "ada",
        "--json",
    ]));
    let published_two = json_of(&run(&[
        "track",
        "publish",
        two.to_str().unwrap(),
        "--split",
        "bo=75%",
        "--split",
        "ada=25%",
        "--price",
        "0.004CUSD",
        "--title",
        SECOND.title,
        "--key",
        "bo",
        "--json",
    ]));
    let track_one = published_one["track"].as_str().unwrap().to_owned();
    let track_two = published_two["track"].as_str().unwrap().to_owned();
    let (_, t1) = get(&format!("{url}/v1/tracks/{track_one}"));
    let (_, t2) = get(&format!("{url}/v1/tracks/{track_two}"));
    let cusd = t1["licence"]["price"]["asset"].as_str().unwrap().to_owned();
    assert_eq!(t1["licence"]["price"]["amount"], "2000");
    assert_eq!(t2["licence"]["price"]["amount"], "4000");

    // A listener opens a channel and plays both.
    let opened = json_of(&run(&[
        "channel",
        "open",
        "--deposit",
        "0.02CUSD",
        "--key",
        "listener",
        "--json",
    ]));
    let channel = opened["channel"].as_str().unwrap().to_owned();
    let mut left = 20_000u128;
    for (track, t, price) in [(&track_one, &t1, 2_000u128), (&track_two, &t2, 4_000)] {
        let file = home.path().join(format!("{track}.audio"));
        let played = json_of(&run(&[
            "play",
            track,
            "--out",
            file.to_str().unwrap(),
            "--key",
            "listener",
            "--json",
        ]));
        left -= price;
        assert_eq!(played["paid"]["amount"], price.to_string(), "{played}");
        assert_eq!(played["left"]["amount"], left.to_string(), "{played}");
        assert_eq!(
            blake3::hash(&std::fs::read(&file).unwrap())
                .to_hex()
                .as_str(),
            t["blob_id"].as_str().unwrap()
        );
    }

    // The provider settles; `channel show` says so, as the API does.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let shown = json_of(&run(&["channel", "show", &channel, "--json"]));
        if shown["settled_seq"] == 2 {
            let (_, c) = get(&format!("{url}/v1/channels/{channel}"));
            assert_eq!(shown["settled"]["amount"], c["settled"]["amount"]);
            assert_eq!(shown["escrow"]["amount"], c["escrow"]["amount"]);
            assert_eq!(shown["escrow"]["amount"], left.to_string());
            break;
        }
        assert!(Instant::now() < deadline, "not settled: {shown}");
        std::thread::sleep(Duration::from_millis(200));
    }

    // The node lists each track's holders with their shares and what each may claim, and each
    // account's holdings, before anyone claims.
    let holders = |track: &str| -> Vec<(String, String, String)> {
        let (code, doc) = get(&format!("{url}/v1/tracks/{track}/holders"));
        assert_eq!(code, 200, "{doc}");
        let mut rows: Vec<_> = doc["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h["account"].as_str().unwrap().to_owned(),
                    h["percent"].as_str().unwrap().to_owned(),
                    h["claimable"][0]["amount"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        rows.sort();
        rows
    };
    let row = |name: &str, percent: &str, owed: u128| {
        (did[name].clone(), percent.to_owned(), owed.to_string())
    };
    let mut want = vec![
        row("ada", "60", vault(2_000) * 600_000 / 1_000_000),
        row("producer", "40", vault(2_000) * 400_000 / 1_000_000),
    ];
    want.sort();
    assert_eq!(holders(&track_one), want);
    let (_, page) = get(&format!("{url}/v1/tracks/{track_one}/holders?limit=1"));
    let (_, rest) = get(&format!(
        "{url}/v1/tracks/{track_one}/holders?limit=1&after={}",
        page["next"].as_str().unwrap()
    ));
    assert_eq!(
        page["items"][0]["account"], want[0].0,
        "holders are paged in account order"
    );
    assert_eq!(rest["items"][0]["account"], want[1].0);
    let (_, ada_holds) = get(&format!("{url}/v1/accounts/{}/holdings", did["ada"]));
    let mut held: Vec<(String, String)> = ada_holds["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["track"]["id"].as_str().unwrap().to_owned(),
                h["percent"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    held.sort();
    let mut want_held = vec![
        (track_one.clone(), "60".to_owned()),
        (track_two.clone(), "25".to_owned()),
    ];
    want_held.sort();
    assert_eq!(held, want_held);
    // One balance per page: the two tracks still come, past Ada's CDZ and CUSD balances.
    let mut paged = Vec::new();
    let mut after = String::new();
    for _ in 0..10 {
        let (code, doc) = get(&format!(
            "{url}/v1/accounts/{}/holdings?limit=1{after}",
            did["ada"]
        ));
        assert_eq!(code, 200, "{doc}");
        for h in doc["items"].as_array().unwrap() {
            paged.push(h["track"]["id"].as_str().unwrap().to_owned());
        }
        match doc["next"].as_str() {
            Some(next) => after = format!("&after={next}"),
            None => break,
        }
    }
    paged.sort();
    let mut want_paged = vec![track_one.clone(), track_two.clone()];
    want_paged.sort();
    assert_eq!(paged, want_paged);

    // Every holder claims its share, exactly.
    let claims = [
        ("ada", &track_one, vault(2_000) * 600_000 / 1_000_000),
        ("producer", &track_one, vault(2_000) * 400_000 / 1_000_000),
        ("bo", &track_two, vault(4_000) * 750_000 / 1_000_000),
        ("ada", &track_two, vault(4_000) * 250_000 / 1_000_000),
    ];
    for (name, track, owed) in claims {
        let before = api_balance(&url, &did[name], &cusd);
        let claimed = json_of(&run(&["claim", track, "--key", name, "--json"]));
        assert_eq!(claimed["claimed"]["amount"], owed.to_string(), "{claimed}");
        let after = api_balance(&url, &did[name], &cusd);
        assert_eq!(after, before + owed, "{name}");
        assert_eq!(claimed["balance"]["amount"], after.to_string());
    }

    // Ada sells a tenth of the first track to the buyer.
    let sold = json_of(&run(&[
        "shares", "transfer", &track_one, "10%", "--to", "buyer", "--key", "ada", "--json",
    ]));
    assert_eq!(sold["shares"]["amount"], "100000", "{sold}");
    let shares_one = t1["shares_asset"].as_str().unwrap();
    assert_eq!(api_balance(&url, &did["ada"], shares_one), 500_000);
    assert_eq!(api_balance(&url, &did["buyer"], shares_one), 100_000);
    let mut want = vec![
        row("ada", "50", 0),
        row("buyer", "10", 0),
        row("producer", "40", 0),
    ];
    want.sort();
    assert_eq!(
        holders(&track_one),
        want,
        "the sale shows in the holders at once"
    );

    // Every balance the CLI prints is the ledger's.
    for name in ["ada", "bo", "producer", "listener", "buyer"] {
        let shown = json_of(&run(&["balance", name, "--json"]));
        let mut printed: Vec<(String, String)> = shown["balances"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                (
                    b["asset"].as_str().unwrap().to_owned(),
                    b["amount"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        printed.sort();
        assert_eq!(printed, api_balances(&url, &did[name]), "{name}");
    }
    assert!(node.terminate());
}
