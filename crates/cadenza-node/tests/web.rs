//! The web app's own tests (`web/tests/*.test.mjs`, run by `node --test`): its encoding, hashing
//! and signing against the Rust test vectors, and its Merkle proof verification against proofs
//! made by the node's store. Skipped, with a notice, only where Node.js is not installed.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn web_app_tests_pass_under_node() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let version = Command::new("node").arg("--version").output();
    let Ok(version) = version else {
        eprintln!("NOTICE: node is not installed; the web app's tests (web/tests) were NOT run");
        return;
    };
    let version = String::from_utf8_lossy(&version.stdout).trim().to_owned();
    let major: u32 = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    assert!(
        major >= 18,
        "the web app's tests need Node.js 18 or newer (WebCrypto Ed25519); found {version}"
    );
    // The files by name: how `node --test` reads a directory argument differs between versions.
    let mut files: Vec<String> = std::fs::read_dir(root.join("web/tests"))
        .expect("web/tests exists")
        .map(|e| {
            e.expect("a directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(".test.mjs"))
        .map(|name| format!("web/tests/{name}"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no web/tests/*.test.mjs");
    let output = Command::new("node")
        .arg("--test")
        .args(&files)
        .current_dir(&root)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "node --test web/tests/ failed ({version}):\n{stdout}\n{stderr}"
    );
    // Print the summary lines, so a run shows what was checked.
    for line in stdout.lines().filter(|l| l.starts_with("# ")) {
        println!("{line}");
    }
}

// ---- Proof fixtures for the web app's verifier -------------------------------------------------

mod fixtures {
    use std::num::{NonZeroU16, NonZeroUsize};
    use std::path::PathBuf;

    use cadenza_ledger::records::keys;
    use cadenza_ledger::{Genesis, GenesisAsset, Params, native_asset, testkit::Wallet};
    use cadenza_node::block::{Block, txs_root};
    use cadenza_node::store::{
        Base, StateStore, StoreConfig, decode_proof, encode_proof, verify_value_proof,
    };
    use cadenza_types::{AccountId, Action, Amount, ChainId};
    use commonware_runtime::{
        Runner as _, Supervisor as _, buffer::paged::CacheRef, deterministic,
    };
    use serde_json::{Value, json};

    /// Set to `1` to rewrite `web/tests/fixtures/proofs.json` instead of comparing against it.
    const UPDATE_ENV: &str = "CADENZA_UPDATE_WEB_FIXTURES";
    /// Accounts at genesis: enough that the state log passes one bitmap chunk (256 operations),
    /// so proofs go through grafted chunks, a partial chunk and several peaks.
    const ACCOUNTS: u8 = 200;
    /// Blocks of 40 transfers after genesis: enough for the inactivity floor to pass whole
    /// chunks, so later proofs fold inactive peaks.
    const ROUNDS: u8 = 12;

    fn path() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../web/tests/fixtures/proofs.json")
    }

    fn chain_id() -> ChainId {
        ChainId::new("cadenza-fixtures").expect("a valid chain id")
    }

    fn wallet(i: u8) -> Wallet {
        Wallet::new([i; 32], chain_id(), Amount::new(1_000))
    }

    fn case(name: &str, key: &[u8], value: &[u8], proof: &[u8], root: &[u8; 32]) -> Value {
        let digest = commonware_cryptography::blake3::Digest(*root);
        json!({
            "name": name,
            "key": hex::encode(key),
            "value": hex::encode(value),
            "proof": hex::encode(proof),
            "root": hex::encode(root),
            "valid": verify_value_proof(key, value, proof, &digest),
        })
    }

    /// Proves `key` in the committed state and records the case; returns its parts.
    async fn prove(
        store: &StateStore<deterministic::Context>,
        cases: &mut Vec<Value>,
        name: &str,
        key: Vec<u8>,
    ) -> (Vec<u8>, Vec<u8>, Vec<u8>, [u8; 32]) {
        let root: [u8; 32] = store.root().0;
        let (value, proof) = store
            .prove(&key)
            .await
            .expect("proving works")
            .expect("the key has a value");
        let proof = encode_proof(&proof);
        cases.push(case(name, &key, &value, &proof, &root));
        (key, value, proof, root)
    }

    /// Proofs from a real store, each with the Rust verdict, plus tampered variants.
    fn generate() -> Value {
        deterministic::Runner::seeded(11).start(|context| async move {
            let accounts: Vec<AccountId> = (1..=ACCOUNTS).map(|i| wallet(i).account()).collect();
            let genesis = Genesis {
                chain_id: chain_id(),
                time_ms: 1_000,
                params: Params::default(),
                assets: vec![GenesisAsset {
                    symbol: "CDZ".into(),
                    decimals: 9,
                    balances: accounts.iter().map(|a| (*a, Amount::new(1_000_000))).collect(),
                }],
                faucet: None,
            };
            let mut store = StateStore::open(
                context.child("state"),
                &StoreConfig {
                    partition_prefix: "fixtures".into(),
                    page_cache: CacheRef::new(
                        NonZeroU16::new(4096).expect("non-zero"),
                        NonZeroUsize::new(64).expect("non-zero"),
                    ),
                },
                &genesis,
            )
            .await
            .expect("the store opens");
            let mut cases = Vec::new();
            let first = prove(&store, &mut cases, "genesis: first balance", keys::balance(&accounts[0], &native_asset())).await;
            prove(&store, &mut cases, "genesis: last balance", keys::balance(&accounts[ACCOUNTS as usize - 1], &native_asset())).await;
            prove(&store, &mut cases, "genesis: chain metadata", keys::meta()).await;
            let genesis_root = first.3;

            // Blocks of transfers: earlier operations become inactive, the log and its bitmap grow.
            let mut height = 0;
            for round in 0..ROUNDS {
                height += 1;
                let txs = (0..40u8)
                    .map(|i| {
                        // Senders take turns; a sender's nonce is how often it has sent.
                        let turn = usize::from(round) * 40 + usize::from(i);
                        let mut from = wallet(1 + (turn % usize::from(ACCOUNTS)) as u8);
                        from.nonce = (turn / usize::from(ACCOUNTS)) as u64;
                        from.sign(Action::Transfer {
                            to: accounts[(usize::from(i) * 7 + usize::from(round)) % usize::from(ACCOUNTS)],
                            asset: native_asset(),
                            amount: Amount::new(u128::from(i) + 1),
                        })
                    })
                    .collect::<Vec<_>>();
                let block = Block {
                    height,
                    parent: commonware_cryptography::blake3::Digest([0; 32]),
                    timestamp_ms: 1_000 + height * 1_000,
                    proposer: accounts[0],
                    txs_root: txs_root(&txs),
                    state_root: commonware_cryptography::blake3::Digest([0; 32]),
                    txs,
                };
                let executed = store.execute(&Base::Committed, &block, &cadenza_ledger::VerifyAll).await.expect("executes");
                store.commit(executed.pending).await.expect("commits");
                prove(&store, &mut cases, &format!("block {height}: metadata"), keys::meta()).await;
                prove(
                    &store,
                    &mut cases,
                    &format!("block {height}: a sender's balance"),
                    keys::balance(&accounts[usize::from(round) * 40 % usize::from(ACCOUNTS)], &native_asset()),
                )
                .await;
                prove(
                    &store,
                    &mut cases,
                    &format!("block {height}: an account record"),
                    keys::account(&accounts[usize::from(round) * 40 % usize::from(ACCOUNTS) + 1]),
                )
                .await;
            }
            let (key, value, proof, root) = prove(
                &store,
                &mut cases,
                "latest: untouched genesis balance",
                keys::balance(&accounts[150], &native_asset()),
            )
            .await;
            let decoded = decode_proof(&proof).expect("decodes");
            assert!(
                *decoded.range_proof.proof.leaves > 256,
                "the log spans more than one bitmap chunk"
            );

            // Tampered: each must fail in Rust and in the browser.
            let mut other_value = value.clone();
            other_value[0] ^= 1;
            cases.push(case("tampered: another value", &key, &other_value, &proof, &root));
            let mut other_key = key.clone();
            *other_key.last_mut().expect("a key") ^= 1;
            cases.push(case("tampered: another key", &other_key, &value, &proof, &root));
            cases.push(case("tampered: an older root", &key, &value, &proof, &genesis_root));
            let last = proof.len() - 40;
            let mut flipped = proof.clone();
            flipped[last] ^= 0x80;
            cases.push(case("tampered: a digest bit flipped", &key, &value, &flipped, &root));
            let mut truncated = proof.clone();
            truncated.truncate(proof.len() - 1);
            cases.push(case("tampered: truncated", &key, &value, &truncated, &root));
            let mut longer = proof.clone();
            longer.push(0);
            cases.push(case("tampered: a trailing byte", &key, &value, &longer, &root));
            // The activity bit: the chunk follows the location's varint.
            let loc = *decoded.loc;
            let varint_len = (64 - loc.max(1).leading_zeros()).div_ceil(7) as usize;
            let mut inactive = proof.clone();
            inactive[varint_len + (loc % 256 / 8) as usize] &= !(1 << (loc % 8));
            cases.push(case("tampered: operation marked inactive", &key, &value, &inactive, &root));

            for c in &cases {
                let tampered = c["name"].as_str().expect("a name").starts_with("tampered");
                assert_eq!(c["valid"], !tampered, "the Rust verdict on {}", c["name"]);
            }
            json!({
                "format": "cadenza-web-proof-fixtures",
                "generated_by": "crates/cadenza-node/tests/web.rs (CADENZA_UPDATE_WEB_FIXTURES=1 to rewrite)",
                "notes": [
                    "QMDB key-value proofs from cadenza-node's StateStore (encode_proof), with the verdict of store::verify_value_proof.",
                    "Byte strings are hex; root is the state root the proof is checked against."
                ],
                "cases": cases,
            })
        })
    }

    #[test]
    fn proof_fixtures_match_the_store() {
        let generated = serde_json::to_string_pretty(&generate()).expect("serializes") + "\n";
        if std::env::var(UPDATE_ENV).as_deref() == Ok("1") {
            std::fs::create_dir_all(path().parent().expect("a parent")).expect("mkdir");
            std::fs::write(path(), &generated).expect("writes the fixtures");
            return;
        }
        let committed = std::fs::read_to_string(path()).unwrap_or_default();
        assert!(
            committed == generated,
            "web/tests/fixtures/proofs.json differs from what the store produces; rewrite it with \
             {UPDATE_ENV}=1 cargo test -p cadenza-node --test web and review the diff"
        );
    }
}
