//! Pay-as-you-stream, end to end, against a devnet started from the binary: an artist uploads a
//! recording (probed, licence claim signed by the artist, embedded by the provider) and registers
//! it; a listener opens a channel and streams three tracks with range requests as a browser does
//! (a first open-ended range, a seek, the ranges in between), signing a receipt and a voucher per
//! stream; the provider refuses a new stream while one is unpaid; it settles by itself; every
//! holder claims; and every balance is exact to the base unit.

mod common;

use std::time::{Duration, Instant};

use cadenza_content::demo::{self, DemoTrack};
use cadenza_types::{
    AccountId, Action, Amount, AssetId, ChannelId, Encode as _, Hash, Holder, ReceiptChain,
    TrackId, TrackMetadata,
};
use common::*;
use serde_json::{Value, json};

const DEPOSIT: u128 = 20_000; // 0.02 CUSD
const FEE: u128 = 1_000;
const UPLOAD_PRICE: u128 = 2_500;

fn cusd() -> AssetId {
    AssetId::genesis("CUSD")
}

fn balance(url: &str, account: &AccountId, asset: &AssetId) -> u128 {
    let (code, body) = get(&format!(
        "{url}/v1/accounts/{}/balances/{asset}",
        account.to_did()
    ));
    assert_eq!(code, 200, "{body}");
    body["amount"].as_str().unwrap().parse().unwrap()
}

fn commit(url: &str, stx: &cadenza_types::SignedTransaction) -> Value {
    let (code, body) = submit(url, stx);
    assert!(code == 200 || code == 202, "{code} {body}");
    let record = wait_committed(url, &stx.hash());
    assert_eq!(record["ok"], true, "{record}");
    record
}

/// A wallet for a well-known demo artist, with its nonce read from the node.
fn demo_wallet(url: &str, i: usize) -> cadenza_ledger::testkit::Wallet {
    let mut w = cadenza_ledger::testkit::Wallet::new(
        cadenza_node::catalogue::demo_artist_seed(i),
        devnet_chain(),
        Amount::new(FEE),
    );
    let (_, account) = get(&format!("{url}/v1/accounts/{}", w.account().to_did()));
    w.nonce = account["nonce"].as_u64().unwrap();
    w
}

/// Ranges as a browser asks for them: `bytes=0-` (read only the first 64 KiB of it, as a
/// player that then seeks would), a seek to the middle read to the end, then the gap.
fn stream_like_a_browser(url: &str, track: &TrackId, channel: &ChannelId) -> Vec<u8> {
    let audio = format!("{url}/v1/tracks/{track}/audio?channel={channel}");
    let first = get_raw(&audio, &[("range", "bytes=0-")]);
    assert_eq!(first.status, 206, "{:?}", first.json());
    let total: usize = first
        .header("content-range")
        .and_then(|v| v.rsplit('/').next())
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(first.body.len(), total);
    let mid = total / 2;
    let head = first.body[..65_536.min(mid / 2)].to_vec();
    let seek = get_raw(&audio, &[("range", &format!("bytes={mid}-"))]);
    assert_eq!(seek.status, 206);
    assert_eq!(
        seek.header("content-range").unwrap(),
        format!("bytes {mid}-{}/{total}", total - 1)
    );
    let gap = get_raw(
        &audio,
        &[("range", &format!("bytes={}-{}", head.len(), mid - 1))],
    );
    assert_eq!(gap.status, 206);
    [head, gap.body, seek.body].concat()
}

/// What reaches a track's vault from one receipt of `price` under the devnet's fees (1% protocol,
/// 10% provider, each rounded down).
fn split(price: u128) -> (u128, u128, u128) {
    let protocol = price * 100 / 10_000;
    let provider = price * 1_000 / 10_000;
    (protocol, provider, price - protocol - provider)
}

#[test]
fn upload_stream_settle_claim_exactly() {
    let home = tempfile::tempdir().unwrap();
    let node = devnet(home.path(), &["--settle-interval-ms", "300"]);
    let url = node.url.clone();
    let status = wait_height(&url, 1);
    let (_, provider) = get(&format!("{url}/v1/provider"));
    let provider_account = AccountId::from_did(provider["account"].as_str().unwrap()).unwrap();

    // The demo catalogue is there at start, with its blobs.
    let (_, list) = get(&format!("{url}/v1/tracks"));
    let demo: Vec<Value> = list["items"].as_array().unwrap().clone();
    assert_eq!(demo.len(), 3, "{list}");
    for t in &demo {
        let (code, blob) = get(&format!(
            "{url}/v1/blobs/{}",
            t["blob_id"].as_str().unwrap()
        ));
        assert_eq!(code, 200, "{blob}");
    }

    // An artist uploads a recording, signs its licence claim, and registers it with a split.
    let mut artist = wallet(41, devnet_chain(), 0);
    let cowriter = wallet(42, devnet_chain(), 0).account();
    commit(&url, &artist.sign(Action::Faucet));
    artist.fee = Amount::new(FEE);
    const SCORE: DemoTrack = DemoTrack {
        title: "Upload Test",
        artist: "The Uploaders",
        chords: &[
            &[261_626, 392_995],
            &[293_665, 440_000],
            &[329_628, 493_883],
        ],
        chord_ms: 1_500,
    };
    let flac = demo::encode_flac(&demo::synthesize(&SCORE)).unwrap();
    let (code, staged) = post(&format!("{url}/v1/uploads"), "audio/flac", flac.clone());
    assert_eq!(code, 201, "{staged}");
    assert_eq!(staged["probe"]["format"], "flac");
    let upload = staged["upload"].as_str().unwrap().to_owned();
    let licence = cadenza_ledger::testkit::stream_licence(cusd(), UPLOAD_PRICE, 3_000);
    let terms = json!({
        "issuer": artist.account().to_did(),
        "licence": hex::encode(licence.to_bytes()),
        "isrc": "QZDZE2600099",
    });
    let (code, claim) = post(
        &format!("{url}/v1/uploads/{upload}/claim"),
        "application/json",
        terms.to_string().into_bytes(),
    );
    assert_eq!(code, 200, "{claim}");
    let signing_input = claim["signing_input"].as_str().unwrap();
    // The node's signing input is the claim this artist would build locally.
    let essence = cadenza_content::essence_id(&flac).unwrap();
    let local = cadenza_content::LicenceClaim::new(
        artist.account(),
        essence,
        licence.clone(),
        Some("QZDZE2600099".into()),
        devnet_chain(),
    );
    assert_eq!(signing_input, local.signing_input());
    // A signature by someone else is refused, and stores nothing.
    let mut signed = terms.clone();
    signed["signature"] = json!(hex::encode(
        wallet(43, devnet_chain(), 0)
            .key
            .sign(signing_input.as_bytes())
            .0
    ));
    let (code, refused) = post(
        &format!("{url}/v1/uploads/{upload}/licence"),
        "application/json",
        signed.to_string().into_bytes(),
    );
    assert_eq!(code, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "bad_signature");
    signed["signature"] = json!(hex::encode(artist.key.sign(signing_input.as_bytes()).0));
    let (code, licensed) = post(
        &format!("{url}/v1/uploads/{upload}/licence"),
        "application/json",
        signed.to_string().into_bytes(),
    );
    assert_eq!(code, 201, "{licensed}");
    let blob = Hash::from_hex(licensed["blob"].as_str().unwrap()).unwrap();
    let uploaded = TrackId::from_essence(&essence.hash);
    assert_eq!(licensed["track"], uploaded.to_string());
    commit(
        &url,
        &artist.sign(Action::RegisterTrack {
            essence_id: essence.hash,
            blob_id: blob,
            metadata: TrackMetadata {
                title: SCORE.title.into(),
                artist: SCORE.artist.into(),
                isrc: Some("QZDZE2600099".into()),
            },
            licence,
            holders: vec![
                Holder {
                    account: artist.account(),
                    shares: 700_000,
                },
                Holder {
                    account: cowriter,
                    shares: 300_000,
                },
            ],
        }),
    );

    // A listener opens a channel with the provider.
    let mut listener = wallet(44, devnet_chain(), 0);
    commit(&url, &listener.sign(Action::Faucet));
    listener.fee = Amount::new(FEE);
    let open_nonce = listener.nonce;
    commit(
        &url,
        &listener.sign(Action::OpenChannel {
            provider: provider_account,
            asset: cusd(),
            deposit: Amount::new(DEPOSIT),
            expiry_ms: status["block_time_ms"].as_u64().unwrap() + 86_400_000,
        }),
    );
    let channel = ChannelId::derive(&listener.account(), open_nonce);
    let listener_cusd = balance(&url, &listener.account(), &cusd());

    // No channel named: refused with what to do.
    let bare = get_raw(&format!("{url}/v1/tracks/{uploaded}/audio"), &[]);
    assert_eq!(bare.status, 402);
    assert_eq!(bare.json()["error"]["code"], "channel_required");

    // Three streams: the uploaded track and two demo tracks.
    let plays: Vec<(TrackId, Hash, u128)> = std::iter::once((uploaded, blob, UPLOAD_PRICE))
        .chain(demo.iter().take(2).map(|t| {
            (
                t["id"].as_str().unwrap().parse().unwrap(),
                Hash::from_hex(t["blob_id"].as_str().unwrap()).unwrap(),
                t["licence"]["price"]["amount"]
                    .as_str()
                    .unwrap()
                    .parse()
                    .unwrap(),
            )
        }))
        .collect();
    let mut chain = (ReceiptChain::start(&channel), 0u64, 0u128);
    for (i, (track, blob, price)) in plays.iter().enumerate() {
        let bytes = stream_like_a_browser(&url, track, &channel);
        assert_eq!(
            Hash(*blake3::hash(&bytes).as_bytes()),
            *blob,
            "the ranges put together are the registered blob"
        );
        let verdict = cadenza_content::verify_file(&bytes);
        assert!(verdict.is_valid(), "{verdict:?}");
        if i == 0 {
            range_semantics(&url, track, &channel, blob, &bytes);
        }
        if i == 1 {
            // A listener who has not paid for this stream is refused the next one.
            let next = &plays[2].0;
            let refused = get_raw(
                &format!("{url}/v1/tracks/{next}/audio?channel={channel}"),
                &[("range", "bytes=0-")],
            );
            assert_eq!(refused.status, 402);
            let error = refused.json();
            assert_eq!(error["error"]["code"], "payment_required", "{error}");
            assert!(
                error["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("/vouchers"),
                "{error}"
            );
        }
        let ack = pay_stream(
            &url,
            devnet_chain(),
            &listener.key,
            &channel,
            &mut chain,
            (
                *track,
                *price,
                u64::from(cadenza_node::catalogue::DEMO_MIN_PLAY_MS) + 250,
            ),
        );
        assert_eq!(ack["seq"], (i + 1) as u64);
    }

    // The provider settles by itself.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, c) = get(&format!("{url}/v1/channels/{channel}"));
        if c["settled_seq"] == 3 {
            assert_eq!(c["settled"]["amount"], chain.2.to_string());
            break;
        }
        assert!(Instant::now() < deadline, "not settled: {c}");
        std::thread::sleep(Duration::from_millis(100));
    }

    // Fees, exactly.
    let (mut protocol, mut provider_fee) = (0, 0);
    for (_, _, price) in &plays {
        let (p, f, _) = split(*price);
        protocol += p;
        provider_fee += f;
    }
    assert_eq!(
        balance(&url, &cadenza_ledger::params::treasury(), &cusd()),
        protocol
    );
    assert_eq!(balance(&url, &provider_account, &cusd()), provider_fee);

    // Every holder claims its share of each track's vault, exactly.
    let mut holders: Vec<(cadenza_ledger::testkit::Wallet, Vec<(TrackId, u128)>)> = Vec::new();
    let (_, _, vault) = split(UPLOAD_PRICE);
    let mut cowriter_wallet = wallet(42, devnet_chain(), 0);
    commit(&url, &cowriter_wallet.sign(Action::Faucet));
    cowriter_wallet.fee = Amount::new(FEE);
    let before_artist = balance(&url, &artist.account(), &cusd());
    let before_cowriter = balance(&url, &cowriter, &cusd());
    holders.push((artist, vec![(uploaded, vault * 700_000 / 1_000_000)]));
    holders.push((
        cowriter_wallet,
        vec![(uploaded, vault * 300_000 / 1_000_000)],
    ));
    for (track, _, price) in &plays[1..] {
        let (_, t) = get(&format!("{url}/v1/tracks/{track}"));
        let controller = t["controller"].as_str().unwrap();
        assert!(!controller.is_empty());
        let (_, _, vault) = split(*price);
        let shares_asset: AssetId = t["shares_asset"].as_str().unwrap().parse().unwrap();
        for i in 0..cadenza_node::catalogue::DEMO_ARTISTS {
            let w = demo_wallet(&url, i);
            let shares = balance(&url, &w.account(), &shares_asset);
            if shares == 0 {
                continue;
            }
            let owed = vault * shares / 1_000_000;
            match holders.iter_mut().find(|(h, _)| h.account() == w.account()) {
                Some((_, claims)) => claims.push((*track, owed)),
                None => holders.push((w, vec![(*track, owed)])),
            }
        }
    }
    for (wallet, claims) in &mut holders {
        let before = balance(&url, &wallet.account(), &cusd());
        let mut expected = 0;
        for (track, owed) in claims.iter() {
            if *owed == 0 {
                continue;
            }
            commit(
                &url,
                &wallet.sign(Action::Claim {
                    track: *track,
                    asset: cusd(),
                }),
            );
            expected += owed;
        }
        assert_eq!(
            balance(&url, &wallet.account(), &cusd()) - before,
            expected,
            "holder {} claims exactly its shares",
            wallet.account().to_did()
        );
    }
    let _ = (before_artist, before_cowriter);

    // The listener closes the channel and, after the challenge window, gets the rest back.
    commit(&url, &listener.sign(Action::CloseChannel { channel }));
    std::thread::sleep(Duration::from_millis(10_500));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let withdraw = listener.sign(Action::Withdraw { channel });
        let (_, _) = submit(&url, &withdraw);
        let record = wait_committed(&url, &withdraw.hash());
        if record["ok"] == true {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "withdraw never allowed: {record}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(
        balance(&url, &listener.account(), &cusd()),
        listener_cusd + DEPOSIT - chain.2,
        "the listener paid exactly its three streams"
    );
    assert!(node.terminate());
}

/// Range semantics on one track: suffix, If-Range, 416, caching headers.
fn range_semantics(url: &str, track: &TrackId, channel: &ChannelId, blob: &Hash, whole: &[u8]) {
    let audio = format!("{url}/v1/tracks/{track}/audio?channel={channel}");
    let len = whole.len();
    let etag = format!("\"{}\"", blob.to_hex());

    let full = get_raw(&audio, &[]);
    assert_eq!(full.status, 200);
    assert_eq!(full.body, whole);
    assert_eq!(full.header("etag"), Some(etag.as_str()));
    assert_eq!(full.header("accept-ranges"), Some("bytes"));
    assert!(full.header("cache-control").unwrap().contains("immutable"));
    assert_eq!(full.header("content-type"), Some("audio/flac"));

    let suffix = get_raw(&audio, &[("range", "bytes=-1000")]);
    assert_eq!(suffix.status, 206);
    assert_eq!(suffix.body, &whole[len - 1000..]);

    let matching = get_raw(&audio, &[("range", "bytes=10-19"), ("if-range", &etag)]);
    assert_eq!(matching.status, 206);
    assert_eq!(matching.body, &whole[10..20]);
    let stale = get_raw(
        &audio,
        &[("range", "bytes=10-19"), ("if-range", "\"other\"")],
    );
    assert_eq!(stale.status, 200, "a changed entity gets the whole file");
    assert_eq!(stale.body.len(), len);

    let past = get_raw(&audio, &[("range", &format!("bytes={len}-"))]);
    assert_eq!(past.status, 416);
    assert_eq!(
        past.header("content-range"),
        Some(format!("bytes */{len}").as_str())
    );
    assert_eq!(past.json()["error"]["code"], "range_not_satisfiable");

    let cached = get_raw(&audio, &[("if-none-match", &etag)]);
    assert_eq!(cached.status, 304);

    // The node answers plain audio requests on a fast path and the rest through its router: a
    // percent-encoded id segment takes the router, and gets the same answer.
    let hex = track.to_string();
    let routed = get_raw(
        &format!(
            "{url}/v1/tracks/%{:02x}{}/audio?channel={channel}",
            hex.as_bytes()[0],
            &hex[1..]
        ),
        &[("range", "bytes=10-19"), ("if-range", &etag)],
    );
    assert_eq!(routed.status, 206);
    assert_eq!(routed.body, &whole[10..20]);
    assert_eq!(routed.header("etag"), Some(etag.as_str()));
    // Bad input on the fast path gets the same JSON errors as on any other route.
    for (target, status, code) in [
        (format!("{url}/v1/tracks/zz/audio"), 400, "bad_hex"),
        (
            format!("{url}/v1/tracks/{track}/audio?channel=xyz"),
            400,
            "bad_hex",
        ),
        (
            format!("{audio}&pad={}", "a".repeat(3_000)),
            414,
            "uri_too_long",
        ),
    ] {
        let refused = get_raw(&target, &[]);
        assert_eq!(refused.status, status, "{:?}", refused.json());
        assert_eq!(refused.json()["error"]["code"], code);
    }
}
