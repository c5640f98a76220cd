//! The wallet commands as a user and a script meet them, against a real `cadenza devnet`
//! process: keys are created, the faucet pays, balances show in whole units (and base units with
//! `--raw` or `--json`), a transfer moves exactly the amount and the fee, `tx status` reports the
//! commit, and every refusal (too precise, negative, malformed did:key, unknown asset, too little
//! balance, node down, no key) exits with its status and code having sent nothing. Issued assets
//! are resolved through every page of `/v1/assets`; `--nonce` lets transactions queue ahead.

mod common;

use common::*;

/// An account's base-unit balance of `symbol`, read from the API directly (not through the
/// command under test), and its nonce.
fn api_balance(url: &str, did: &str, symbol: &str) -> (u128, u64) {
    let (status, doc) = get(&format!("{url}/v1/accounts/{did}"));
    assert_eq!(status, 200, "{doc}");
    let amount = doc["balances"]
        .as_array()
        .expect("balances")
        .iter()
        .find(|b| b["symbol"] == symbol)
        .map_or(0, |b| b["amount"].as_str().unwrap().parse().unwrap());
    (amount, doc["nonce"].as_u64().unwrap())
}

/// A port on 127.0.0.1 where nothing listens.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn faucet_balance_transfer_status_and_refusals() {
    let home = tempfile::tempdir().unwrap();
    let home_path = home.path();
    let data = home_path.join("data");
    let node = start(
        home_path,
        &[
            "devnet",
            "--data",
            data.to_str().unwrap(),
            "--http",
            "127.0.0.1:0",
        ],
        &[],
    );
    let url = node.url.clone();
    wait_height(&url, 1);
    let env = [("CADENZA_NODE", url.as_str())];
    let run = |args: &[&str]| cadenza(home_path, &env, args);

    // Two keys.
    let alice = json(&success(run(&["keys", "new", "alice", "--json"])))["account"]
        .as_str()
        .unwrap()
        .to_owned();
    let bob = json(&success(run(&["keys", "new", "bob", "--json"])))["account"]
        .as_str()
        .unwrap()
        .to_owned();

    // Status, for scripts and for people.
    let status = json(&success(run(&["status", "--json"])));
    assert_eq!(status["chain_id"], "cadenza-devnet");
    assert_eq!(status["node"], url.as_str());
    assert_eq!(status["validators"], 1);
    let min_fee: u128 = status["params"]["min_fee"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(min_fee, 1_000);
    let text = stdout(&success(run(&["status"])));
    assert!(text.contains("chain       cadenza-devnet"), "{text}");
    assert!(text.contains("min fee     0.000001 CDZ"), "{text}");

    // Signing needs a chosen key.
    let out = run(&["faucet", "--json"]);
    refused(&out, 3, "no_key");

    // The faucet pays its drip, fee-free.
    let drip = json(&success(run(&["faucet", "--key", "alice", "--json"])));
    assert_eq!(drip["ok"], true, "{drip}");
    assert_eq!(drip["fee_paid"]["amount"], "0", "{drip}");
    let received: Vec<&str> = drip["received"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["display"].as_str().unwrap())
        .collect();
    assert!(
        received.contains(&"100 CDZ") && received.contains(&"50 CUSD"),
        "{drip}"
    );
    assert_eq!(api_balance(&url, &alice, "CDZ"), (100_000_000_000, 1));
    assert_eq!(api_balance(&url, &alice, "CUSD").0, 50_000_000);

    // Balances in whole units, base units with --raw, both in JSON; by key name or did:key.
    let text = stdout(&success(run(&["balance", "alice"])));
    assert!(
        text.contains("\n  100 CDZ") && text.contains("\n  50 CUSD"),
        "{text}"
    );
    let text = stdout(&success(run(&["balance", &alice, "--raw"])));
    assert!(text.contains("\n  100000000000 CDZ base units"), "{text}");
    assert!(text.contains("\n  50000000 CUSD base units"), "{text}");
    let doc = json(&success(run(&["balance", "--key", "alice", "--json"])));
    assert_eq!(doc["account"], alice.as_str());
    let cusd = doc["balances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["symbol"] == "CUSD")
        .expect("a CUSD balance");
    assert_eq!(cusd["amount"], "50000000");
    assert_eq!(cusd["display"], "50 CUSD");
    assert_eq!(cusd["decimals"], 6);

    // A transfer moves exactly the amount; the fee is the chain's minimum, in CDZ.
    let sent = json(&success(run(&[
        "transfer", "--key", "alice", &bob, "1.25CUSD", "--json",
    ])));
    assert_eq!(sent["status"], "committed", "{sent}");
    assert_eq!(sent["ok"], true, "{sent}");
    assert_eq!(sent["fee_paid"]["amount"], "1000", "{sent}");
    assert_eq!(sent["amount"]["amount"], "1250000", "{sent}");
    let hash = sent["hash"].as_str().unwrap().to_owned();
    assert_eq!(api_balance(&url, &alice, "CUSD").0, 48_750_000);
    assert_eq!(
        api_balance(&url, &alice, "CDZ"),
        (100_000_000_000 - 1_000, 2)
    );
    assert_eq!(api_balance(&url, &bob, "CUSD").0, 1_250_000);
    assert_eq!(api_balance(&url, &bob, "CDZ").0, 0);
    // The command's own view agrees, to the base unit.
    let doc = json(&success(run(&["balance", &bob, "--json"])));
    assert_eq!(doc["balances"][0]["amount"], "1250000", "{doc}");
    let text = stdout(&success(run(&["balance", "alice"])));
    assert!(
        text.contains("\n  99.999999 CDZ") && text.contains("\n  48.75 CUSD"),
        "{text}"
    );

    // The symbol as its own word, in the native asset: the amount and the fee both leave CDZ.
    let text = stdout(&success(run(&[
        "transfer", "--key", "alice", &bob, "2", "cdz",
    ])));
    assert!(
        text.contains("sent 2 CDZ to") && text.contains("fee 0.000001 CDZ"),
        "{text}"
    );
    assert_eq!(
        api_balance(&url, &alice, "CDZ"),
        (100_000_000_000 - 2_000_000_000 - 2_000, 3)
    );
    assert_eq!(api_balance(&url, &bob, "CDZ").0, 2_000_000_000);

    // `tx status` of the first transfer.
    let tx = json(&success(run(&["tx", "status", &hash, "--json"])));
    assert_eq!(tx["status"], "committed", "{tx}");
    assert_eq!(tx["height"], sent["height"], "{tx}");
    assert_eq!(tx["ok"], true, "{tx}");
    assert_eq!(tx["fee_paid"], "1000", "{tx}");
    let text = stdout(&success(run(&["tx", "status", &hash])));
    assert!(
        text.starts_with(&format!("committed at height {}", sent["height"])),
        "{text}"
    );
    assert!(text.contains("fee 0.000001 CDZ: ok"), "{text}");
    // `--no-wait` returns with the hash; `tx status --wait-ms` follows it to its commit.
    let queued = json(&success(run(&[
        "transfer",
        "--key",
        "alice",
        &bob,
        "0.25",
        "--asset",
        "cusd",
        "--no-wait",
        "--json",
    ])));
    let queued_hash = queued["hash"].as_str().expect("a hash").to_owned();
    let tx = json(&success(run(&[
        "tx",
        "status",
        &queued_hash,
        "--wait-ms",
        "10000",
        "--json",
    ])));
    let tx = if tx["status"] == "committed" {
        tx
    } else {
        wait_committed(&url, &cadenza_types::Hash::from_hex(&queued_hash).unwrap())
    };
    assert_eq!(tx["ok"], true, "{tx}");
    assert_eq!(api_balance(&url, &alice, "CUSD").0, 48_500_000);
    assert_eq!(api_balance(&url, &bob, "CUSD").0, 1_500_000);
    assert_eq!(api_balance(&url, &alice, "CDZ").1, 4);

    // `--fee` offers more than the minimum, and that is what is paid.
    let sent = json(&success(run(&[
        "transfer",
        "--key",
        "alice",
        &bob,
        "0.25CUSD",
        "--fee",
        "0.000002CDZ",
        "--json",
    ])));
    assert_eq!(sent["fee_paid"]["amount"], "2000", "{sent}");
    assert_eq!(
        api_balance(&url, &alice, "CDZ"),
        (100_000_000_000 - 2_000_000_000 - 3 * 1_000 - 2_000, 5)
    );
    assert_eq!(api_balance(&url, &alice, "CUSD").0, 48_250_000);

    let out = run(&["tx", "status", &"ab".repeat(32), "--json"]);
    refused(&out, 8, "unknown_tx");
    let out = run(&["tx", "status", "abc", "--json"]);
    refused(&out, 6, "bad_hash");

    // Refusals: each sends nothing.
    let before = (
        api_balance(&url, &alice, "CDZ"),
        api_balance(&url, &alice, "CUSD"),
        api_balance(&url, &bob, "CDZ"),
        api_balance(&url, &bob, "CUSD"),
    );
    let alice_cdz = before.0.0;
    let transfer = |amount: &str, extra: &[&str]| {
        let mut args = vec!["transfer", "--key", "alice", "--json", &bob, amount];
        args.extend_from_slice(extra);
        run(&args)
    };
    let message = refused(&transfer("1.0000001CUSD", &[]), 6, "bad_amount");
    assert!(message.contains("CUSD has 6 decimal places"), "{message}");
    let message = refused(
        &transfer("1.0000001", &["--asset", "CUSD"]),
        6,
        "bad_amount",
    );
    assert!(
        message.contains("smallest amount is 0.000001 CUSD"),
        "{message}"
    );
    let message = refused(&transfer("-1CUSD", &[]), 6, "bad_amount");
    assert!(message.contains("negative"), "{message}");
    let message = refused(&transfer("0 CUSD", &[]), 6, "bad_amount");
    assert!(message.contains("zero"), "{message}");
    let message = refused(&transfer("1", &[]), 6, "bad_amount");
    assert!(message.contains("which asset"), "{message}");
    let message = refused(&transfer("1 XYZ", &[]), 6, "unknown_asset");
    assert!(message.contains("XYZ"), "{message}");
    for bad_did in [
        "did:key:z6MkNotAKey",
        "bob@example.com",
        &alice[..alice.len() - 1],
    ] {
        let out = run(&["transfer", "--key", "alice", "--json", bad_did, "1CUSD"]);
        let message = refused(&out, 6, "bad_account");
        assert!(message.contains("did:key:z6Mk"), "{message}");
    }
    // Too little: the missing amount is named; in CDZ it includes the fee.
    let out = transfer("60CUSD", &[]);
    let message = refused(&out, 7, "insufficient_funds");
    assert!(message.contains("11.75 CUSD missing"), "{message}");
    assert_eq!(json(&out)["error"]["missing"][0]["amount"], "11750000");
    let all_cdz = format!(
        "{}.{:09}CDZ",
        alice_cdz / 1_000_000_000,
        alice_cdz % 1_000_000_000
    );
    let out = transfer(&all_cdz, &[]);
    let message = refused(&out, 7, "insufficient_funds");
    assert!(message.contains("0.000001 CDZ missing"), "{message}");
    assert!(message.contains("fee 0.000001 CDZ"), "{message}");
    assert_eq!(json(&out)["error"]["missing"][0]["amount"], "1000");
    // A fee below the chain's minimum.
    let message = refused(&transfer("1CUSD", &["--fee", "0.0000001"]), 6, "bad_amount");
    assert!(message.contains("minimum fee is 0.000001 CDZ"), "{message}");
    // The node is down.
    let down = format!("http://127.0.0.1:{}", closed_port());
    let out = transfer("1CUSD", &["--node", &down]);
    let message = refused(&out, 5, "node_unreachable");
    assert!(
        message.contains(&down) && message.contains("cadenza devnet"),
        "{message}"
    );
    let out = run(&["balance", "alice", "--node", &down]);
    assert_eq!(out.status.code(), Some(5), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&down) && err.contains("cadenza devnet"),
        "{err}"
    );

    let after = (
        api_balance(&url, &alice, "CDZ"),
        api_balance(&url, &alice, "CUSD"),
        api_balance(&url, &bob, "CDZ"),
        api_balance(&url, &bob, "CUSD"),
    );
    assert_eq!(
        before, after,
        "a refused command changed balances or nonces"
    );
    assert_eq!(get(&format!("{url}/v1/status")).1["mempool"], 0);

    // The config file gives defaults; flags win over it.
    std::fs::write(
        home_path.join("config.json"),
        format!(r#"{{"node": "{url}", "key": "bob"}}"#),
    )
    .unwrap();
    let no_env = |args: &[&str]| cadenza(home_path, &[], args);
    let doc = json(&success(no_env(&["balance", "--json"])));
    assert_eq!(doc["account"], bob.as_str());
    assert_eq!(doc["key"], "bob");
    let out = no_env(&["balance", "--json", "--node", &down]);
    refused(&out, 5, "node_unreachable");
    std::fs::write(home_path.join("config.json"), r#"{"nodes": "x"}"#).unwrap();
    refused(&no_env(&["status", "--json"]), 1, "bad_config");
    std::fs::remove_file(home_path.join("config.json")).unwrap();

    // A second drip within the cooldown: the ledger refuses it (fee-free, so nothing is lost).
    let out = run(&["faucet", "--key", "alice", "--json"]);
    refused(&out, 8, "tx_failed");
    let error = &json(&out)["error"];
    assert_eq!(error["ledger_error"]["code"], "faucet_cooldown", "{error}");
    assert_eq!(error["fee_paid"], "0", "{error}");
    let (cdz, nonce) = api_balance(&url, &alice, "CDZ");
    assert_eq!((cdz, nonce), (before.0.0, before.0.1 + 1));
    assert!(node.terminate(), "the devnet stops cleanly");
}

/// An issued asset is found by its symbol even when it sits past the first page of
/// `/v1/assets`, its own decimals govern the amount, and `--nonce` sends ahead of the commit.
#[test]
fn issued_asset_past_the_first_page_and_nonces_sent_ahead() {
    use cadenza_types::{Action, Amount, AssetId};
    let home = tempfile::tempdir().unwrap();
    let home_path = home.path();
    let data = home_path.join("data");
    let node = start(
        home_path,
        &[
            "devnet",
            "--data",
            data.to_str().unwrap(),
            "--http",
            "127.0.0.1:0",
        ],
        &[],
    );
    let url = node.url.clone();
    let env = [("CADENZA_NODE", url.as_str())];
    let run = |args: &[&str]| cadenza(home_path, &env, args);
    success(run(&["keys", "new", "carol"]));
    let dave = json(&success(run(&["keys", "new", "dave", "--json"])))["account"]
        .as_str()
        .unwrap()
        .to_owned();
    success(run(&["faucet", "--key", "carol"]));

    // Carol issues more assets than one page holds (200), signing with the same key.
    let seed = json(&success(run(&["keys", "export", "carol", "--json"])))["seed"]
        .as_str()
        .unwrap()
        .to_owned();
    let seed: [u8; 32] = hex::decode(seed).unwrap().try_into().unwrap();
    let mut carol = cadenza_ledger::testkit::Wallet::new(seed, devnet_chain(), Amount::new(1_000));
    carol.nonce = 1;
    let mut last = None;
    for i in 0..210 {
        let stx = carol.sign(Action::CreateAsset {
            symbol: format!("T{i}"),
            decimals: 2,
        });
        let (code, body) = submit(&url, &stx);
        assert_eq!(code, 202, "{body}");
        last = Some(stx.hash());
    }
    assert_eq!(wait_committed(&url, &last.unwrap())["ok"], true);
    let (_, first_page) = get(&format!("{url}/v1/assets?limit=200"));
    assert!(first_page["next"].is_string(), "{first_page}");
    let on_first_page: Vec<&str> = first_page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    let (symbol, asset) = (0..210)
        .map(|i| {
            let symbol = format!("T{i}");
            let asset = AssetId::issued(&carol.account(), &symbol);
            (symbol, asset)
        })
        .find(|(_, asset)| !on_first_page.contains(&asset.to_string().as_str()))
        .expect("an asset past the first page");
    let mint = carol.sign(Action::Mint {
        asset,
        to: carol.account(),
        amount: Amount::new(1_000),
    });
    submit(&url, &mint);
    assert_eq!(wait_committed(&url, &mint.hash())["ok"], true);

    // Two decimals: 2.555 is refused, 2.55 is sent.
    let out = run(&[
        "transfer",
        "--key",
        "carol",
        "--json",
        &dave,
        &format!("2.555{symbol}"),
    ]);
    let message = refused(&out, 6, "bad_amount");
    assert!(
        message.contains(&format!("{symbol} has 2 decimal places")),
        "{message}"
    );
    let sent = json(&success(run(&[
        "transfer",
        "--key",
        "carol",
        "--json",
        &dave,
        "2.55",
        &symbol.to_lowercase(),
    ])));
    assert_eq!(
        sent["amount"]["asset"],
        asset.to_string().as_str(),
        "{sent}"
    );
    assert_eq!(api_balance(&url, &dave, &symbol).0, 255);
    let text = stdout(&success(run(&["balance", &dave])));
    assert!(text.contains(&format!("\n  2.55 {symbol}")), "{text}");

    // Transfers sent ahead with --nonce wait in the mempool for the gap to fill: the one with
    // the next nonce but one cannot commit, so a different transaction with its nonce is a
    // refused replacement; the default nonce then fills the gap and both commit.
    let (_, nonce) = api_balance(&url, &carol.account().to_did(), &symbol);
    let send = |amount: &str, nonce: Option<u64>| {
        let mut args = vec![
            "transfer".to_owned(),
            "--key".into(),
            "carol".into(),
            "--json".into(),
            "--no-wait".into(),
            dave.clone(),
            format!("{amount}{symbol}"),
        ];
        if let Some(n) = nonce {
            args.extend(["--nonce".into(), n.to_string()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&args)
    };
    let second = json(&success(send("0.02", Some(nonce + 1))));
    assert_eq!(second["status"], "pending", "{second}");
    let clash = send("0.03", Some(nonce + 1));
    refused(&clash, 8, "replacement_underpriced");
    let first = json(&success(send("0.01", None)));
    for doc in [&first, &second] {
        let hash = cadenza_types::Hash::from_hex(doc["hash"].as_str().unwrap()).unwrap();
        assert_eq!(wait_committed(&url, &hash)["ok"], true, "{doc}");
    }
    assert_eq!(api_balance(&url, &dave, &symbol).0, 258);
    assert!(node.terminate(), "the devnet stops cleanly");
}
