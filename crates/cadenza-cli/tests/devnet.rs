//! `cadenza devnet` as a user meets it: it starts, its height advances, a signed transaction
//! posted to the HTTP API commits (and answers the same when posted again), its effect is served
//! with a Merkle proof that verifies against the block's state root, malformed requests get 4xx
//! JSON errors and change nothing, the event stream reports commits, and a second start resumes
//! the chain.

mod common;

use std::io::{BufRead as _, BufReader};

use cadenza_ledger::native_asset;
use cadenza_node::store::verify_value_proof;
use cadenza_types::{Action, Amount};
use common::*;
use serde_json::Value;

fn root_of(hex_text: &Value) -> cadenza_node::block::Digest {
    let bytes: [u8; 32] = hex::decode(hex_text.as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    commonware_cryptography::blake3::Digest(bytes)
}

#[test]
fn devnet_commits_proves_refuses_and_resumes() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    let data_arg = data.to_str().unwrap();
    let args = ["devnet", "--data", data_arg, "--http", "127.0.0.1:0"];
    let node = start(home.path(), &args, &[]);
    let url = node.url.clone();

    // The height advances.
    let status = wait_height(&url, 2);
    assert_eq!(status["chain_id"], "cadenza-devnet");
    assert_eq!(status["validators"], 1);

    // A new account asks the faucet (fee-exempt), then pays another.
    let mut alice = wallet(1, devnet_chain(), 0);
    let bob = wallet(2, devnet_chain(), 0);
    let drip = alice.sign(Action::Faucet);
    let (code, body) = submit(&url, &drip);
    assert_eq!(code, 202, "{body}");
    assert_eq!(body["status"], "pending");
    let record = wait_committed(&url, &drip.hash());
    assert_eq!(record["ok"], true, "{record}");

    // Posting it again answers with its first result.
    let (code, again) = submit(&url, &drip);
    assert_eq!(code, 200, "{again}");
    assert_eq!(again["status"], "committed");
    assert_eq!(again["height"], record["height"]);
    assert_eq!(again["index"], record["index"]);

    alice.fee = Amount::new(1_000);
    let pay = alice.sign(Action::Transfer {
        to: bob.account(),
        asset: native_asset(),
        amount: Amount::new(5_000_000_000),
    });
    let (code, body) = submit(&url, &pay);
    assert_eq!(code, 202, "{body}");
    let record = wait_committed(&url, &pay.hash());
    assert_eq!(record["ok"], true, "{record}");
    assert_eq!(record["fee_paid"], "1000");

    // Bob's balance, with a proof against the state root of the block it was read at.
    let (code, balance) = get(&format!(
        "{url}/v1/accounts/{}/balances/{}?proof=true",
        bob.account().to_did(),
        native_asset()
    ));
    assert_eq!(code, 200, "{balance}");
    assert_eq!(balance["amount"], "5000000000");
    assert_eq!(balance["display"], "5 CDZ");
    let proof = &balance["proof"];
    let (code, block) = get(&format!("{url}/v1/blocks/{}", proof["height"]));
    assert_eq!(code, 200, "{block}");
    assert_eq!(block["state_root"], proof["state_root"]);
    let root = root_of(&block["state_root"]);
    let key = hex::decode(proof["key"].as_str().unwrap()).unwrap();
    let value = hex::decode(proof["value"].as_str().unwrap()).unwrap();
    let proof_bytes = hex::decode(proof["proof"].as_str().unwrap()).unwrap();
    assert_eq!(value, 5_000_000_000u128.to_le_bytes());
    assert!(verify_value_proof(&key, &value, &proof_bytes, &root));
    // A proof is no good for another value, key or root.
    let forged = 6_000_000_000u128.to_le_bytes();
    assert!(!verify_value_proof(&key, &forged, &proof_bytes, &root));
    let mut other_key = key.clone();
    *other_key.last_mut().unwrap() ^= 1;
    assert!(!verify_value_proof(&other_key, &value, &proof_bytes, &root));
    let stale = root_of(&get(&format!("{url}/v1/blocks/1")).1["state_root"]);
    assert!(!verify_value_proof(&key, &value, &proof_bytes, &stale));
    let mut broken = proof_bytes.clone();
    broken.truncate(broken.len() / 2);
    assert!(!verify_value_proof(&key, &value, &broken, &root));

    // The transaction's record is provable too.
    let (_, tx) = get(&format!("{url}/v1/txs/{}?proof=true", pay.hash().to_hex()));
    let p = &tx["proof"];
    let block_root = root_of(&get(&format!("{url}/v1/blocks/{}", p["height"])).1["state_root"]);
    assert!(verify_value_proof(
        &hex::decode(p["key"].as_str().unwrap()).unwrap(),
        &hex::decode(p["value"].as_str().unwrap()).unwrap(),
        &hex::decode(p["proof"].as_str().unwrap()).unwrap(),
        &block_root,
    ));

    // Malformed requests: 4xx JSON errors with stable codes.
    let accounts = |who: &cadenza_ledger::testkit::Wallet| {
        get(&format!("{url}/v1/accounts/{}", who.account().to_did())).1
    };
    let before = (accounts(&alice), accounts(&bob));
    let json = "application/json";
    let cases: Vec<(&str, (u16, Value), u16, &str)> = vec![
        (
            "bad JSON",
            post(&format!("{url}/v1/txs"), json, b"{\"tx\": ".to_vec()),
            400,
            "bad_json",
        ),
        (
            "wrong type",
            post(&format!("{url}/v1/txs"), json, b"{\"tx\": 5}".to_vec()),
            400,
            "bad_json",
        ),
        (
            "unknown field",
            post(
                &format!("{url}/v1/txs"),
                json,
                b"{\"tx\": \"00\", \"x\": 1}".to_vec(),
            ),
            400,
            "bad_json",
        ),
        (
            "bad hex",
            post(
                &format!("{url}/v1/txs"),
                json,
                b"{\"tx\": \"xyz\"}".to_vec(),
            ),
            400,
            "bad_hex",
        ),
        (
            "not a transaction",
            post(
                &format!("{url}/v1/txs"),
                json,
                b"{\"tx\": \"00ff\"}".to_vec(),
            ),
            400,
            "bad_encoding",
        ),
        (
            "oversized body",
            post_announcing(&url, "/v1/txs", 1 << 20),
            413,
            "body_too_large",
        ),
        (
            "bad hash",
            get(&format!("{url}/v1/txs/nothex")),
            400,
            "bad_hex",
        ),
        (
            "bad account",
            get(&format!("{url}/v1/accounts/did:key:zNope")),
            400,
            "bad_account",
        ),
        (
            "bad height",
            get(&format!("{url}/v1/blocks/minus-one")),
            400,
            "bad_height",
        ),
        (
            "bad flag",
            get(&format!(
                "{url}/v1/accounts/{}?proof=maybe",
                bob.account().to_did()
            )),
            400,
            "bad_query",
        ),
        (
            "long query",
            get(&format!("{url}/v1/status?{}", "q".repeat(4096))),
            414,
            "uri_too_long",
        ),
        (
            "unknown route",
            get(&format!("{url}/v1/nowhere")),
            404,
            "unknown_route",
        ),
        (
            "unknown tx",
            get(&format!("{url}/v1/txs/{}", "ab".repeat(32))),
            404,
            "unknown_tx",
        ),
        (
            "future block",
            get(&format!("{url}/v1/blocks/999999999")),
            404,
            "unknown_block",
        ),
        (
            "wrong method",
            post(&format!("{url}/v1/status"), json, b"{}".to_vec()),
            405,
            "method_not_allowed",
        ),
        (
            "replayed nonce",
            submit(&url, &{
                let mut w = wallet(1, devnet_chain(), 1_000);
                w.nonce = 0;
                w.sign(Action::Faucet)
            }),
            422,
            "stale_nonce",
        ),
    ];
    for (what, (status, body), want_status, want_code) in cases {
        assert_eq!(status, want_status, "{what}: {body}");
        assert_eq!(body["error"]["code"], want_code, "{what}: {body}");
        assert!(
            !body["error"]["message"].as_str().unwrap().is_empty(),
            "{what}"
        );
    }
    let after = (accounts(&alice), accounts(&bob));
    // Nothing pending: the next nonce is the committed one.
    assert_eq!(after.0["pending_nonce"], after.0["nonce"]);
    for (b, a) in [(&before.0, &after.0), (&before.1, &after.1)] {
        assert_eq!(b["nonce"], a["nonce"], "malformed requests change nothing");
        assert_eq!(
            b["balances"], a["balances"],
            "malformed requests change nothing"
        );
    }

    // The OpenAPI document names every route; metrics are Prometheus text.
    let (_, openapi) = get(&format!("{url}/v1/openapi.json"));
    for path in [
        "/v1/status",
        "/v1/txs",
        "/v1/txs/{hash}",
        "/v1/accounts/{account}",
        "/v1/accounts/{account}/balances/{asset}",
        "/v1/tracks",
        "/v1/tracks/{track}",
        "/v1/channels/{channel}",
        "/v1/blocks/{height}",
        "/v1/events",
        "/metrics",
    ] {
        assert!(openapi["paths"][path].is_object(), "{path} is documented");
    }
    let (code, metrics) = get(&format!("{url}/metrics"));
    assert_eq!(code, 200);
    let metrics = metrics.as_str().unwrap().to_owned();
    assert!(metrics.contains("\ncadenza_height "), "{metrics}");
    assert!(metrics.contains("cadenza_finality_ms_bucket"));

    // The event stream reports the next transaction's commit.
    let events = ureq::get(&format!("{url}/v1/events")).call().unwrap();
    let mut lines = BufReader::new(events.into_body().into_reader()).lines();
    let pay_again = alice.sign(Action::Transfer {
        to: bob.account(),
        asset: native_asset(),
        amount: Amount::new(1),
    });
    assert_eq!(submit(&url, &pay_again).0, 202);
    let wanted = pay_again.hash().to_hex();
    let seen = lines.by_ref().take(10_000).any(|line| {
        let line = line.unwrap();
        line.starts_with("data:") && line.contains(&wanted)
    });
    assert!(seen, "the event stream reports the committed transfer");
    let height = wait_committed(&url, &pay_again.hash())["height"]
        .as_u64()
        .unwrap();

    // A batch: one result per item, in order; a malformed item fails alone.
    let transfer_one = |alice: &mut cadenza_ledger::testkit::Wallet| {
        alice.sign(Action::Transfer {
            to: bob.account(),
            asset: native_asset(),
            amount: Amount::new(1),
        })
    };
    let (first, second) = (transfer_one(&mut alice), transfer_one(&mut alice));
    let encode = |stx: &cadenza_types::SignedTransaction| {
        use cadenza_types::Encode as _;
        hex::encode(stx.to_bytes())
    };
    let body = serde_json::json!({ "txs": [encode(&first), "zz", encode(&second)] }).to_string();
    let (code, batch) = post(&format!("{url}/v1/txs/batch"), json, body.into_bytes());
    assert_eq!(code, 200, "{batch}");
    assert_eq!(batch["results"][0]["status"], "pending", "{batch}");
    assert_eq!(batch["results"][1]["error"]["code"], "bad_hex", "{batch}");
    assert_eq!(batch["results"][2]["status"], "pending", "{batch}");
    wait_committed(&url, &first.hash());
    let height = wait_committed(&url, &second.hash())["height"]
        .as_u64()
        .unwrap()
        .max(height);
    let too_many = serde_json::json!({ "txs": vec!["00"; 1025] }).to_string();
    let (code, body) = post(&format!("{url}/v1/txs/batch"), json, too_many.into_bytes());
    assert_eq!(code, 400, "{body}");
    assert_eq!(body["error"]["code"], "batch_too_large");

    // Ctrl-C (SIGTERM here) stops it cleanly; a second start resumes the same chain.
    assert!(node.terminate(), "the devnet exits 0 when stopped");
    let node = start(home.path(), &args, &[]);
    let url = node.url.clone();
    let status = wait_height(&url, height);
    assert_eq!(status["chain_id"], "cadenza-devnet");
    let (_, balance) = get(&format!(
        "{url}/v1/accounts/{}/balances/{}",
        bob.account().to_did(),
        native_asset()
    ));
    assert_eq!(balance["amount"], "5000000003");
    let (_, record) = get(&format!("{url}/v1/txs/{}", pay.hash().to_hex()));
    assert_eq!(record["status"], "committed");
    assert!(node.terminate());
}
