//! The listener's and the holder's commands against a real `cadenza devnet`: a channel is opened,
//! topped up, closed and withdrawn with the CLI, and the amounts it prints equal the API's; a
//! track (registered directly, as uploads are not there yet) is shown, its file verified offline
//! and against the ledger, streamed, claimed from and its shares sold; and bad input (amounts
//! negative, too precise or too large, a malformed did:key, splits not summing to 100%, a
//! duplicate holder, a wrong passphrase, a file that is not audio) is refused before anything
//! is sent, with a message naming the problem, leaving the node's state as it was.

mod common;

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use cadenza_types::{
    AccountId, Action, Amount, AssetId, ChannelId, ChannelUpdate, Encode as _, Hash, Holder,
    Licence, Receipt, ReceiptChain, SecretKey, TrackId, TrackMetadata, Voucher,
};
use common::*;
use serde_json::{Value, json};

/// An account's base-unit balance of `asset` and its nonce, from the API.
fn api_balance(url: &str, did: &str, asset: &AssetId) -> (u128, u64) {
    let (status, doc) = get(&format!("{url}/v1/accounts/{did}"));
    assert_eq!(status, 200, "{doc}");
    let amount = doc["balances"]
        .as_array()
        .expect("balances")
        .iter()
        .find(|b| b["asset"] == asset.to_string())
        .map_or(0, |b| b["amount"].as_str().unwrap().parse().unwrap());
    (amount, doc["nonce"].as_u64().unwrap())
}

fn cusd() -> AssetId {
    AssetId::genesis("CUSD")
}

fn cdz() -> AssetId {
    AssetId::genesis("CDZ")
}

fn new_key(run: &dyn Fn(&[&str]) -> Output, name: &str) -> String {
    json(&success(run(&["keys", "new", name, "--json"])))["account"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn export(run: &dyn Fn(&[&str]) -> Output, name: &str) -> SecretKey {
    let seed = json(&success(run(&["keys", "export", name, "--json"])))["seed"]
        .as_str()
        .unwrap()
        .to_owned();
    SecretKey::from_seed(hex::decode(seed).unwrap().try_into().unwrap())
}

#[test]
fn a_channel_opens_tops_up_closes_and_withdraws_and_bad_input_sends_nothing() {
    let home = tempfile::tempdir().unwrap();
    let node = devnet(home.path(), &["--challenge-window-ms", "1500"]);
    let url = node.url.clone();
    let env = [("CADENZA_NODE", url.as_str())];
    let run = |args: &[&str]| cadenza(home.path(), &env, args);
    let alice = new_key(&run, "alice");
    success(run(&["faucet", "--key", "alice"]));
    let (_, provider) = get(&format!("{url}/v1/provider"));
    let provider = provider["account"].as_str().unwrap().to_owned();

    // Refusals first: each sends nothing.
    let before = (
        api_balance(&url, &alice, &cusd()),
        api_balance(&url, &alice, &cdz()),
    );
    let open = |extra: &[&str]| {
        let mut args = vec!["channel", "open", "--key", "alice", "--json"];
        args.extend_from_slice(extra);
        run(&args)
    };
    let m = refused(&open(&["--deposit", "-1CUSD"]), 6, "bad_amount");
    assert!(m.contains("negative"), "{m}");
    let m = refused(&open(&["--deposit", "1.0000001CUSD"]), 6, "bad_amount");
    assert!(m.contains("CUSD has 6 decimal places"), "{m}");
    let m = refused(&open(&["--deposit", "0 CUSD"]), 6, "bad_amount");
    assert!(m.contains("zero"), "{m}");
    let m = refused(
        &open(&["--deposit", "340282366920938463463374607431768.211456CUSD"]),
        6,
        "bad_amount",
    );
    assert!(m.contains("too large"), "{m}");
    let m = refused(&open(&["--deposit", "5"]), 6, "bad_amount");
    assert!(m.contains("which asset"), "{m}");
    let m = refused(
        &open(&["--deposit", "5CUSD", "--provider", "did:key:z6MkNotAKey"]),
        6,
        "bad_account",
    );
    assert!(m.contains("did:key:z6Mk"), "{m}");
    let m = refused(
        &open(&["--deposit", "5CUSD", "--expiry", "30"]),
        6,
        "bad_argument",
    );
    assert!(m.contains("unit"), "{m}");
    let out = open(&["--deposit", "80CUSD"]);
    let m = refused(&out, 7, "insufficient_funds");
    assert!(m.contains("30 CUSD missing"), "{m}");
    assert_eq!(json(&out)["error"]["missing"][0]["amount"], "30000000");
    let out = cadenza(
        home.path(),
        &[
            ("CADENZA_NODE", url.as_str()),
            ("CADENZA_PASSPHRASE", "not it at all"),
        ],
        &[
            "channel",
            "open",
            "--key",
            "alice",
            "--json",
            "--deposit",
            "5CUSD",
        ],
    );
    refused(&out, 4, "wrong_passphrase");
    assert_eq!(
        before,
        (
            api_balance(&url, &alice, &cusd()),
            api_balance(&url, &alice, &cdz()),
        ),
        "a refused command changed the state"
    );
    assert_eq!(get(&format!("{url}/v1/status")).1["mempool"], 0);

    // Open: the id printed is the ledger's (owner, nonce) derivation.
    let (_, nonce) = before.0;
    let opened = json(&success(open(&["--deposit", "5cUSD", "--expiry", "30d"])));
    assert_eq!(opened["ok"], true, "{opened}");
    let id = opened["channel"].as_str().unwrap().to_owned();
    let derived = ChannelId::derive(&AccountId::from_did(&alice).unwrap(), nonce);
    assert_eq!(id, derived.to_string());
    assert_eq!(opened["provider"], provider.as_str());
    assert_eq!(opened["deposit"]["display"], "5 CUSD");
    let (_, api) = get(&format!("{url}/v1/channels/{id}"));
    assert_eq!(api["deposit"]["amount"], "5000000", "{api}");
    assert_eq!(api["owner"], alice.as_str());
    assert_eq!(api_balance(&url, &alice, &cusd()).0, 45_000_000);
    // The CLI's view of the channel equals the API's, to the base unit.
    let shown = json(&success(run(&["channel", "show", &id, "--json"])));
    for field in ["deposit", "settled", "escrow"] {
        assert_eq!(shown[field]["amount"], api[field]["amount"], "{field}");
    }
    assert_eq!(shown["state"], "open");
    let text = stdout(&success(run(&["channel", "show", &id])));
    assert!(text.contains("deposit   5 CUSD"), "{text}");
    assert!(text.contains("escrow    5 CUSD"), "{text}");
    let text = stdout(&success(run(&["channel", "show", &id, "--raw"])));
    assert!(text.contains("deposit   5000000 CUSD base units"), "{text}");

    // Top up, in the channel's asset (its symbol optional).
    let text = stdout(&success(run(&[
        "channel", "topup", &id, "2.5", "--key", "alice",
    ])));
    assert!(text.contains("added 2.5 CUSD to channel"), "{text}");
    assert!(text.contains("deposit 7.5 CUSD"), "{text}");
    let (_, api) = get(&format!("{url}/v1/channels/{id}"));
    assert_eq!(api["deposit"]["amount"], "7500000");
    assert_eq!(api_balance(&url, &alice, &cusd()).0, 42_500_000);
    let m = refused(
        &run(&["channel", "topup", &id, "1CDZ", "--key", "alice", "--json"]),
        6,
        "bad_amount",
    );
    assert!(m.contains("holds CUSD"), "{m}");
    let m = refused(
        &run(&["channel", "withdraw", &id, "--key", "alice", "--json"]),
        6,
        "channel_state",
    );
    assert!(m.contains("still open"), "{m}");
    // Someone else's channel.
    new_key(&run, "mallory");
    let m = refused(
        &run(&[
            "channel", "topup", &id, "1CUSD", "--key", "mallory", "--json",
        ]),
        6,
        "not_yours",
    );
    assert!(m.contains("only its owner"), "{m}");

    // Close, then withdraw after the challenge window.
    let closed = json(&success(run(&[
        "channel", "close", &id, "--key", "alice", "--json",
    ])));
    assert_eq!(closed["ok"], true, "{closed}");
    assert!(closed["window_end_ms"].is_u64(), "{closed}");
    let m = refused(
        &run(&["channel", "topup", &id, "1CUSD", "--key", "alice", "--json"]),
        6,
        "channel_state",
    );
    assert!(m.contains("closed"), "{m}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let withdrawn = loop {
        let out = run(&["channel", "withdraw", &id, "--key", "alice", "--json"]);
        if out.status.success() {
            break json(&out);
        }
        let m = refused(&out, 6, "channel_state");
        assert!(m.contains("settlement window"), "{m}");
        assert!(Instant::now() < deadline, "the window never ended");
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(withdrawn["refund"]["amount"], "7500000", "{withdrawn}");
    assert_eq!(withdrawn["refund"]["display"], "7.5 CUSD", "{withdrawn}");
    assert_eq!(api_balance(&url, &alice, &cusd()).0, 50_000_000);
    let (status, _) = get(&format!("{url}/v1/channels/{id}"));
    assert_eq!(status, 404);
    refused(
        &run(&["channel", "show", &id, "--json"]),
        6,
        "unknown_channel",
    );
    refused(&run(&["channel", "show", "xyz", "--json"]), 6, "bad_id");

    // Four transactions, four minimum fees; the CLI's balance equals the API's.
    let (cdz_now, nonce_now) = api_balance(&url, &alice, &cdz());
    assert_eq!(cdz_now, before.1.0 - 4 * 1_000);
    assert_eq!(nonce_now, nonce + 4);
    let doc = json(&success(run(&["balance", "alice", "--json"])));
    for b in doc["balances"].as_array().unwrap() {
        let asset: AssetId = b["asset"].as_str().unwrap().parse().unwrap();
        assert_eq!(
            b["amount"].as_str().unwrap().parse::<u128>().unwrap(),
            api_balance(&url, &alice, &asset).0
        );
    }
    assert!(node.terminate());
}

/// A tagged demo recording signed by `key`, priced at 0.001 CUSD a stream.
fn tagged_song(key: &SecretKey) -> (Vec<u8>, cadenza_content::Licensed, Licence) {
    use cadenza_content::demo;
    // Not one of the devnet's demo recordings, which are registered at start.
    const SCORE: demo::DemoTrack = demo::DemoTrack {
        title: "Single Line",
        artist: "Sine Collective",
        chords: &[&[261_626], &[329_628], &[392_000], &[523_251]],
        chord_ms: 700,
    };
    let wav = demo::encode_wav(&demo::synthesize(&SCORE)).unwrap();
    let licence = cadenza_ledger::testkit::stream_licence(cusd(), 1_000, 30_000);
    let fields = cadenza_content::LicenceFields {
        isrc: Some("GBAYE2400001".into()),
        ..Default::default()
    };
    let licensed =
        cadenza_content::sign_and_embed(&wav, &fields, key, licence.clone(), devnet_chain())
            .unwrap();
    (wav, licensed, licence)
}

fn send_update(url: &str, channel: &ChannelId, update: &ChannelUpdate) -> (u16, Value) {
    let body = json!({ "update": hex::encode(update.to_bytes()) }).to_string();
    post(
        &format!("{url}/v1/channels/{channel}/vouchers"),
        "application/json",
        body.into_bytes(),
    )
}

#[test]
fn holders_verify_claim_and_sell_shares_and_bad_publish_input_sends_nothing() {
    let home = tempfile::tempdir().unwrap();
    let node = devnet(home.path(), &["--settle-interval-ms", "300"]);
    let url = node.url.clone();
    let env = [("CADENZA_NODE", url.as_str())];
    let run = |args: &[&str]| cadenza(home.path(), &env, args);
    let artist = new_key(&run, "artist");
    let producer = new_key(&run, "producer");
    let fan = new_key(&run, "fan");
    for k in ["artist", "producer", "fan"] {
        success(run(&["faucet", "--key", k]));
    }

    // The artist's tagged file, and the track registered directly (uploads come later).
    let artist_key = export(&run, "artist");
    let (untagged, licensed, licence) = tagged_song(&artist_key);
    let song = home.path().join("song.wav");
    std::fs::write(&song, &licensed.bytes).unwrap();
    let mut w =
        cadenza_ledger::testkit::Wallet::new(artist_key.seed(), devnet_chain(), Amount::new(1_000));
    w.nonce = 1;
    let essence = licensed.analysis.essence_id.hash;
    let register = w.sign(Action::RegisterTrack {
        essence_id: essence,
        blob_id: licensed.analysis.blob_id,
        metadata: TrackMetadata {
            title: "Single Line".into(),
            artist: "Sine Collective".into(),
            isrc: Some("GBAYE2400001".into()),
        },
        licence,
        holders: vec![
            Holder {
                account: AccountId::from_did(&artist).unwrap(),
                shares: 600_000,
            },
            Holder {
                account: AccountId::from_did(&producer).unwrap(),
                shares: 400_000,
            },
        ],
    });
    submit(&url, &register);
    assert_eq!(wait_committed(&url, &register.hash())["ok"], true);
    let track = TrackId::from_essence(&essence).to_string();
    let (_, track_api) = get(&format!("{url}/v1/tracks/{track}"));
    let shares: AssetId = track_api["shares_asset"].as_str().unwrap().parse().unwrap();

    // track info.
    let info = json(&success(run(&[
        "track", "info", &track, "--key", "artist", "--json",
    ])));
    assert_eq!(info["title"], "Single Line");
    assert_eq!(info["licence"]["price"]["display"], "0.001 CUSD");
    assert_eq!(info["streams"], 0);
    assert_eq!(info["yours"]["shares"], "600000");
    let text = stdout(&success(run(&["track", "info", &track])));
    assert!(text.contains("price      0.001 CUSD per stream"), "{text}");
    assert!(text.contains("artist     Sine Collective"), "{text}");

    // track verify: offline and against the ledger.
    let v = json(&success(run(&[
        "track",
        "verify",
        song.to_str().unwrap(),
        "--json",
    ])));
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["offline"]["verdict"], "valid");
    assert_eq!(v["ledger"]["verdict"], "valid");
    let text = stdout(&success(run(&["track", "verify", song.to_str().unwrap()])));
    assert!(text.contains("verdict   VALID"), "{text}");
    let text = stdout(&success(run(&[
        "track",
        "verify",
        song.to_str().unwrap(),
        "--offline",
        "--node",
        "http://127.0.0.1:1",
    ])));
    assert!(text.contains("VALID (offline only"), "{text}");
    let bare = home.path().join("bare.wav");
    std::fs::write(&bare, &untagged).unwrap();
    let m = refused(
        &run(&["track", "verify", bare.to_str().unwrap(), "--json"]),
        10,
        "no_claim",
    );
    assert!(m.contains("INVALID"), "{m}");
    // The claim carried over onto other audio.
    let mut tampered = licensed.bytes.clone();
    tampered[1_000] ^= 0x55;
    let bad = home.path().join("tampered.wav");
    std::fs::write(&bad, &tampered).unwrap();
    refused(
        &run(&["track", "verify", bad.to_str().unwrap(), "--json"]),
        10,
        "essence_mismatch",
    );
    let notes = home.path().join("notes.txt");
    std::fs::write(&notes, "not audio at all, just words\n".repeat(50)).unwrap();
    refused(
        &run(&["track", "verify", notes.to_str().unwrap(), "--json"]),
        10,
        "unreadable_audio",
    );
    // Signed by someone who neither controls the track nor holds shares.
    let fan_key = export(&run, "fan");
    let (_, by_fan, _) = tagged_song(&fan_key);
    let by_fan_path = home.path().join("by-fan.wav");
    std::fs::write(&by_fan_path, &by_fan.bytes).unwrap();
    let m = refused(
        &run(&["track", "verify", by_fan_path.to_str().unwrap(), "--json"]),
        10,
        "issuer_not_a_holder",
    );
    assert!(m.contains("neither controls"), "{m}");
    // Signed by the artist with other terms than the ledger's.
    let (_, _, mut terms) = tagged_song(&artist_key);
    terms.price.amount = Amount::new(500);
    let cheaper = cadenza_content::sign_and_embed(
        &untagged,
        &cadenza_content::LicenceFields::default(),
        &artist_key,
        terms,
        devnet_chain(),
    )
    .unwrap();
    let cheaper_path = home.path().join("cheaper.wav");
    std::fs::write(&cheaper_path, &cheaper.bytes).unwrap();
    let out = run(&["track", "verify", cheaper_path.to_str().unwrap(), "--json"]);
    refused(&out, 10, "licence_differs");
    assert_eq!(
        json(&out)["error"]["verdict"]["offline"]["verdict"],
        "valid"
    );
    let other = TrackId::from_essence(&Hash([9; 32])).to_string();
    refused(
        &run(&[
            "track",
            "verify",
            song.to_str().unwrap(),
            "--track",
            &other,
            "--json",
        ]),
        10,
        "unregistered",
    );

    // Nothing earned yet: claim refuses before sending.
    let m = refused(
        &run(&["claim", &track, "--key", "artist", "--json"]),
        6,
        "nothing_to_do",
    );
    assert!(m.contains("earned nothing in CUSD"), "{m}");

    // The fan streams twice through the devnet's provider; it settles.
    let opened = json(&success(run(&[
        "channel",
        "open",
        "--deposit",
        "1CUSD",
        "--key",
        "fan",
        "--json",
    ])));
    let channel: ChannelId = opened["channel"].as_str().unwrap().parse().unwrap();
    let now = get(&format!("{url}/v1/status")).1["block_time_ms"]
        .as_u64()
        .unwrap();
    let receipts: Vec<Receipt> = (0..2)
        .map(|i| Receipt {
            track: TrackId::from_essence(&essence),
            amount: Amount::new(1_000),
            played_ms: 31_000 + i,
            at_ms: now,
        })
        .collect();
    let head = ReceiptChain::extend(&ReceiptChain::start(&channel), &receipts);
    let voucher = Voucher {
        chain_id: devnet_chain(),
        channel,
        seq: 2,
        cumulative: Amount::new(2_000),
        head,
    }
    .sign(&fan_key);
    let (code, ack) = send_update(&url, &channel, &ChannelUpdate { voucher, receipts });
    assert_eq!(code, 200, "{ack}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while get(&format!("{url}/v1/channels/{channel}")).1["settled_seq"] != 2 {
        assert!(Instant::now() < deadline, "the provider did not settle");
        std::thread::sleep(Duration::from_millis(100));
    }
    let info = json(&success(run(&["track", "info", &track, "--json"])));
    assert_eq!(info["streams"], 2);
    let shown = json(&success(run(&[
        "channel",
        "show",
        &channel.to_string(),
        "--json",
    ])));
    assert_eq!(shown["settled"]["amount"], "2000");
    assert_eq!(shown["escrow"]["display"], "0.998 CUSD");

    // Claims: 2,000 paid, less 1% protocol and 10% provider fees = 1,780 to the vault;
    // the artist holds 60% (1,068), the producer 40% (712).
    for (key, did, expected) in [("artist", &artist, 1_068u128), ("producer", &producer, 712)] {
        let (before, _) = api_balance(&url, did, &cusd());
        let claimed = json(&success(run(&["claim", &track, "--key", key, "--json"])));
        assert_eq!(claimed["ok"], true, "{claimed}");
        assert_eq!(
            claimed["claimed"]["amount"],
            expected.to_string(),
            "{claimed}"
        );
        let (after, _) = api_balance(&url, did, &cusd());
        assert_eq!(after - before, expected);
        assert_eq!(claimed["balance"]["amount"], after.to_string());
    }

    // The artist sells 25% to the fan.
    let refusal_state = |url: &str| {
        (
            api_balance(url, &artist, &shares),
            api_balance(url, &artist, &cdz()),
            api_balance(url, &fan, &shares),
        )
    };
    let before = refusal_state(&url);
    let sell = |amount: &str, to: &str| {
        run(&[
            "shares", "transfer", &track, amount, "--to", to, "--key", "artist", "--json",
        ])
    };
    let m = refused(&sell("1.5", "fan"), 6, "bad_amount");
    assert!(m.contains("whole"), "{m}");
    let m = refused(&sell("-5", "fan"), 6, "bad_amount");
    assert!(m.contains("negative"), "{m}");
    let m = refused(&sell("700000", "fan"), 7, "insufficient_funds");
    assert!(
        m.contains("100000 missing") || m.contains("100000 SHR"),
        "{m}"
    );
    let m = refused(&sell("10%", "did:key:z6MkNotAKey"), 6, "bad_account");
    assert!(m.contains("did:key:z6Mk"), "{m}");
    assert_eq!(before, refusal_state(&url));
    let sold = json(&success(sell("25%", "fan")));
    assert_eq!(sold["shares"]["amount"], "250000", "{sold}");
    assert_eq!(api_balance(&url, &artist, &shares).0, 350_000);
    assert_eq!(api_balance(&url, &fan, &shares).0, 250_000);
    let info = json(&success(run(&[
        "track", "info", &track, "--key", "fan", "--json",
    ])));
    assert_eq!(info["yours"]["shares"], "250000");
    assert_eq!(info["yours"]["percent"], "25");

    // Publishing: every bad input refused before anything is sent.
    let before = (
        api_balance(&url, &artist, &cdz()),
        api_balance(&url, &artist, &cusd()),
        get(&format!("{url}/v1/tracks")).1["items"]
            .as_array()
            .unwrap()
            .len(),
    );
    let publish = |file: &Path, extra: &[&str]| {
        let mut args = vec![
            "track",
            "publish",
            file.to_str().unwrap(),
            "--key",
            "artist",
            "--json",
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    let price = ["--price", "0.002cUSD"];
    let m = refused(
        &publish(&notes, &["--split", "artist=100%", price[0], price[1]]),
        6,
        "not_audio",
    );
    assert!(m.contains("not audio"), "{m}");
    let m = refused(
        &publish(
            &bare,
            &[
                "--split",
                "artist=60%",
                "--split",
                "producer=30%",
                price[0],
                price[1],
            ],
        ),
        6,
        "splits_sum",
    );
    assert!(m.contains("sum to 90%, not 100%"), "{m}");
    let broken = format!("{}=100%", &artist[..artist.len() - 2]);
    let m = refused(
        &publish(&bare, &["--split", &broken, price[0], price[1]]),
        6,
        "bad_account",
    );
    assert!(m.contains("not a holder"), "{m}");
    let m = refused(
        &publish(
            &bare,
            &[
                "--split",
                "artist=50%",
                "--split",
                "artist=50%",
                price[0],
                price[1],
            ],
        ),
        6,
        "duplicate_holder",
    );
    assert!(m.contains("two splits"), "{m}");
    let both = format!("{artist}=50%");
    let m = refused(
        &publish(
            &bare,
            &[
                "--split",
                "artist=50%",
                "--split",
                &both,
                price[0],
                price[1],
            ],
        ),
        6,
        "duplicate_holder",
    );
    assert!(m.contains(&artist), "{m}");
    let m = refused(
        &publish(&bare, &["--split", "artist=100.00001%", price[0], price[1]]),
        6,
        "bad_split",
    );
    assert!(m.contains("4 decimal places"), "{m}");
    let m = refused(
        &publish(&bare, &["--split", "artist=100%", "--price", "-1cUSD"]),
        6,
        "bad_amount",
    );
    assert!(m.contains("negative"), "{m}");
    let m = refused(
        &publish(
            &bare,
            &["--split", "artist=100%", "--price", "0.0000001cUSD"],
        ),
        6,
        "bad_amount",
    );
    assert!(m.contains("CUSD has 6 decimal places"), "{m}");
    let m = refused(
        &publish(
            &bare,
            &[
                "--split",
                "artist=100%",
                price[0],
                price[1],
                "--isrc",
                "XX-1",
            ],
        ),
        6,
        "bad_isrc",
    );
    assert!(m.contains("not an ISRC"), "{m}");
    let m = refused(
        &publish(&song, &["--split", "artist=100%", price[0], price[1]]),
        6,
        "track_exists",
    );
    assert!(m.contains(&track), "{m}");
    let other = home.path().join("other.wav");
    let pcm = cadenza_content::demo::synthesize(&cadenza_content::demo::CATALOGUE[0]);
    std::fs::write(&other, cadenza_content::demo::encode_wav(&pcm).unwrap()).unwrap();
    let out = cadenza(
        home.path(),
        &[
            ("CADENZA_NODE", url.as_str()),
            ("CADENZA_PASSPHRASE", "wrong passphrase"),
        ],
        &[
            "track",
            "publish",
            other.to_str().unwrap(),
            "--split",
            "artist=100%",
            "--price",
            "0.002cUSD",
            "--key",
            "artist",
            "--json",
        ],
    );
    refused(&out, 4, "wrong_passphrase");
    let out = cadenza(
        home.path(),
        &[
            ("CADENZA_NODE", url.as_str()),
            ("CADENZA_PASSPHRASE", "wrong passphrase"),
        ],
        &["transfer", &fan, "1CUSD", "--key", "artist", "--json"],
    );
    refused(&out, 4, "wrong_passphrase");
    assert_eq!(
        before,
        (
            api_balance(&url, &artist, &cdz()),
            api_balance(&url, &artist, &cusd()),
            get(&format!("{url}/v1/tracks")).1["items"]
                .as_array()
                .unwrap()
                .len(),
        ),
        "a refused command changed the state"
    );
    assert_eq!(get(&format!("{url}/v1/status")).1["mempool"], 0);
    assert!(node.terminate());
}
