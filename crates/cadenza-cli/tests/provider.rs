//! The devnet's provider: a listener's vouchers are judged by the ledger's rule and acknowledged
//! only once logged durably; the provider is killed (SIGKILL) between acknowledging them and
//! settling them; after the restart every acknowledged voucher is settled, exactly once.

mod common;

use std::time::{Duration, Instant};

use cadenza_types::{
    AccountId, Action, Amount, AssetId, ChannelId, ChannelUpdate, Encode as _, Hash, Holder,
    Receipt, ReceiptChain, TrackId, TrackMetadata, Voucher,
};
use common::*;
use serde_json::{Value, json};

const PRICE: u128 = 1_000; // 0.001 CUSD
const STREAMS: u64 = 5;

fn cusd() -> AssetId {
    AssetId::genesis("CUSD")
}

fn send_update(url: &str, channel: &ChannelId, update: &ChannelUpdate) -> (u16, Value) {
    let body = json!({ "update": hex::encode(update.to_bytes()) }).to_string();
    post(
        &format!("{url}/v1/channels/{channel}/vouchers"),
        "application/json",
        body.into_bytes(),
    )
}

/// Starts the devnet on `data`, its provider settling every `settle_ms`.
fn start_devnet(home: &std::path::Path, data: &str, settle_ms: &str) -> NodeProcess {
    start(
        home,
        &[
            "devnet",
            "--data",
            data,
            "--http",
            "127.0.0.1:0",
            "--settle-interval-ms",
            settle_ms,
        ],
        &[],
    )
}

#[test]
fn acknowledged_vouchers_settle_exactly_once_after_a_crash() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    let data = data.to_str().unwrap();
    // First life: the provider would settle only after ten minutes.
    let node = start_devnet(home.path(), data, "600000");
    let url = node.url.clone();
    let status = wait_height(&url, 1);
    let (_, provider) = get(&format!("{url}/v1/provider"));
    let provider_account = AccountId::from_did(provider["account"].as_str().unwrap()).unwrap();

    // An artist registers a track priced at 0.001 CUSD a stream.
    let mut artist = wallet(31, devnet_chain(), 0);
    let drip = artist.sign(Action::Faucet);
    submit(&url, &drip);
    wait_committed(&url, &drip.hash());
    artist.fee = Amount::new(1_000);
    let essence = Hash([77; 32]);
    let register = artist.sign(Action::RegisterTrack {
        essence_id: essence,
        blob_id: Hash([78; 32]),
        metadata: TrackMetadata {
            title: "Crash Course".into(),
            artist: "The Killers of Processes".into(),
            isrc: None,
        },
        licence: cadenza_ledger::testkit::stream_licence(cusd(), PRICE, 30_000),
        holders: vec![Holder {
            account: artist.account(),
            shares: 1_000_000,
        }],
    });
    submit(&url, &register);
    assert_eq!(wait_committed(&url, &register.hash())["ok"], true);
    let track = TrackId::from_essence(&essence);

    // A listener opens a channel to the devnet's provider.
    let mut listener = wallet(32, devnet_chain(), 0);
    let drip = listener.sign(Action::Faucet);
    submit(&url, &drip);
    wait_committed(&url, &drip.hash());
    listener.fee = Amount::new(1_000);
    let open_nonce = listener.nonce;
    let open = listener.sign(Action::OpenChannel {
        provider: provider_account,
        asset: cusd(),
        deposit: Amount::new(1_000_000),
        expiry_ms: status["block_time_ms"].as_u64().unwrap() + 86_400_000,
    });
    submit(&url, &open);
    assert_eq!(wait_committed(&url, &open.hash())["ok"], true);
    let channel = ChannelId::derive(&listener.account(), open_nonce);

    // Five streams, a voucher after each: every one acknowledged.
    let now = get(&format!("{url}/v1/status")).1["block_time_ms"]
        .as_u64()
        .unwrap();
    let mut head = ReceiptChain::start(&channel);
    let mut cumulative = 0u128;
    let mut last = None;
    for seq in 1..=STREAMS {
        let receipt = Receipt {
            track,
            amount: Amount::new(PRICE + u128::from(seq)),
            played_ms: 30_000 + seq * 1_000,
            at_ms: now,
        };
        head = ReceiptChain::extend(&head, std::slice::from_ref(&receipt));
        cumulative += receipt.amount.get();
        let voucher = Voucher {
            chain_id: devnet_chain(),
            channel,
            seq,
            cumulative: Amount::new(cumulative),
            head,
        }
        .sign(&listener.key);
        let update = ChannelUpdate {
            voucher,
            receipts: vec![receipt],
        };
        let (code, ack) = send_update(&url, &channel, &update);
        assert_eq!(code, 200, "{ack}");
        assert_eq!(ack["acknowledged"], true);
        assert_eq!(ack["seq"], seq);
        assert_eq!(ack["cumulative"]["amount"], cumulative.to_string());
        last = Some(update);
    }
    // The same voucher again is refused by the ledger's own rule, and changes nothing.
    let (code, body) = send_update(&url, &channel, last.as_ref().unwrap());
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["error"]["code"], "voucher_not_newer", "{body}");
    let (_, pending) = get(&format!("{url}/v1/provider"));
    assert_eq!(pending["pending_receipts"], STREAMS);
    let (_, before) = get(&format!("{url}/v1/channels/{channel}"));
    assert_eq!(before["settled_seq"], 0, "nothing settled before the crash");

    // Killed between acknowledging and settling.
    node.kill();
    let node = start_devnet(home.path(), data, "200");
    let url = node.url.clone();
    let deadline = Instant::now() + Duration::from_secs(60);
    let settled = loop {
        let (_, c) = get(&format!("{url}/v1/channels/{channel}"));
        if c["settled_seq"] == STREAMS {
            break c;
        }
        assert!(
            Instant::now() < deadline,
            "the acknowledged vouchers were not settled: {c}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(settled["settled"]["amount"], cumulative.to_string());
    // Exactly once: one settlement transaction, and nothing left pending.
    std::thread::sleep(Duration::from_secs(2));
    let (_, account) = get(&format!("{url}/v1/accounts/{}", provider_account.to_did()));
    assert_eq!(account["nonce"], 1, "one settlement: {account}");
    let (_, pending) = get(&format!("{url}/v1/provider"));
    assert_eq!(pending["pending_receipts"], 0);
    // The artist's royalties: what the listener paid, less the protocol and provider fees.
    let (_, track_json) = get(&format!("{url}/v1/tracks/{track}"));
    assert_eq!(track_json["streams"], STREAMS);
    assert!(node.terminate());
}
