//! Four validators on 127.0.0.1, set up by `cadenza testnet init` and run by `cadenza node
//! --config`: transfers commit; with one validator killed, blocks keep finalizing; restarted, it
//! catches up to the same state root as the others.

mod common;

use std::time::{Duration, Instant};

use cadenza_ledger::native_asset;
use cadenza_types::{Action, Amount};
use common::*;
use serde_json::Value;

const VALIDATORS: usize = 4;
const PASSPHRASE: &str = "testnet passphrase";

/// A base port with `n` free ports after it, for p2p and for HTTP.
fn free_ports(n: usize, rng: &mut SplitMix) -> (u16, u16) {
    let free = |base: u16| {
        (0..2 * n as u16).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok())
    };
    for _ in 0..1000 {
        let base = rng.port_base();
        if free(base) {
            return (base, base + n as u16);
        }
    }
    panic!("no free ports");
}

fn start_validator(home: &std::path::Path, dir: &std::path::Path, i: usize) -> NodeProcess {
    let config = dir.join(format!("validator-{i}/node.json"));
    start(
        home,
        &["node", "--config", config.to_str().unwrap()],
        &[("CADENZA_PASSPHRASE", PASSPHRASE)],
    )
}

fn height(url: &str) -> u64 {
    get(&format!("{url}/v1/status")).1["height"]
        .as_u64()
        .unwrap()
}

fn state_root_at(url: &str, height: u64) -> Value {
    get(&format!("{url}/v1/blocks/{height}")).1["state_root"].clone()
}

#[test]
fn four_validators_finalize_through_a_crash_and_catch_up() {
    let mut rng = SplitMix(seed(
        "four_validators_finalize_through_a_crash_and_catch_up",
    ));
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("net");
    let (p2p, http) = free_ports(VALIDATORS, &mut rng);
    let init = json_of(&cadenza(
        home.path(),
        &[("CADENZA_PASSPHRASE", PASSPHRASE)],
        &[
            "--json",
            "testnet",
            "init",
            "--validators",
            &VALIDATORS.to_string(),
            "--dir",
            dir.to_str().unwrap(),
            "--p2p-port",
            &p2p.to_string(),
            "--http-port",
            &http.to_string(),
        ],
    ));
    assert_eq!(init["validators"].as_array().unwrap().len(), VALIDATORS);
    // The keys are stored encrypted: no seed in the clear.
    let key_file = std::fs::read_to_string(dir.join("validator-0/validator.key")).unwrap();
    assert!(key_file.contains("ciphertext") || key_file.contains("cipher"));

    let mut nodes: Vec<Option<NodeProcess>> = (0..VALIDATORS)
        .map(|i| Some(start_validator(home.path(), &dir, i)))
        .collect();
    let urls: Vec<String> = nodes
        .iter()
        .map(|n| n.as_ref().unwrap().url.clone())
        .collect();
    wait_height(&urls[0], 3);

    // Transfers through different validators commit.
    let chain = cadenza_types::ChainId::new("cadenza-testnet").unwrap();
    let mut alice = wallet(21, chain.clone(), 0);
    let bob = wallet(22, chain, 0);
    let drip = alice.sign(Action::Faucet);
    assert_eq!(submit(&urls[1], &drip).0, 202);
    wait_committed(&urls[1], &drip.hash());
    alice.fee = Amount::new(1_000);
    let mut sent = 0u128;
    let transfer = |url: &str, alice: &mut cadenza_ledger::testkit::Wallet| {
        let stx = alice.sign(Action::Transfer {
            to: bob.account(),
            asset: native_asset(),
            amount: Amount::new(1_000_000),
        });
        let (status, body) = submit(url, &stx);
        assert_eq!(status, 202, "{body}");
        wait_committed(url, &stx.hash());
        1_000_000
    };
    for url in &urls {
        sent += transfer(url, &mut alice);
    }

    // Kill one validator: the other three keep finalizing, transfers keep committing.
    nodes[3].take().unwrap().kill();
    let killed_at = height(&urls[0]);
    for url in &urls[..3] {
        sent += transfer(url, &mut alice);
    }
    wait_height(&urls[0], killed_at + 5);
    let moved_on = height(&urls[0]);
    eprintln!("validator 3 killed at height {killed_at}; the others reached {moved_on}");

    // Restarted, it catches up to the same state root as the others.
    nodes[3] = Some(start_validator(home.path(), &dir, 3));
    let url3 = nodes[3].as_ref().unwrap().url.clone();
    let target = height(&urls[0]);
    let started = Instant::now();
    wait_height(&url3, target);
    eprintln!(
        "validator 3 caught up to height {target} in {:?}",
        started.elapsed()
    );
    for url in &urls[..3] {
        assert_eq!(state_root_at(url, target), state_root_at(&url3, target));
    }
    let balance = |url: &str| {
        get(&format!(
            "{url}/v1/accounts/{}/balances/{}",
            bob.account().to_did(),
            native_asset()
        ))
        .1["amount"]
            .clone()
    };
    assert_eq!(balance(&url3), sent.to_string());
    // And it takes part again: a transfer through it commits everywhere.
    sent += transfer(&url3, &mut alice);
    let deadline = Instant::now() + Duration::from_secs(30);
    while balance(&urls[0]) != Value::String(sent.to_string()) {
        assert!(
            Instant::now() < deadline,
            "validator 0 did not see the transfer"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Bounded memory: each validator's peak, after all of the above, stays far below what
    // queues sized from an unbounded burst once took (gigabytes per validator).
    for node in nodes.iter().flatten() {
        let peak = peak_resident_kib(node.child.id());
        assert!(
            peak.is_some() || !cfg!(target_os = "linux"),
            "no VmHWM in /proc for a running validator"
        );
        if let Some(peak) = peak {
            eprintln!(
                "validator process {} peaked at {peak} KiB resident",
                node.child.id()
            );
            assert!(
                peak < MAX_RESIDENT_KIB,
                "a validator peaked at {peak} KiB resident"
            );
        }
    }
    for node in nodes.into_iter().flatten() {
        assert!(node.terminate());
    }
}

/// A validator of this test may peak at this much resident memory (a debug build).
const MAX_RESIDENT_KIB: u64 = 1 << 20;

/// A process's peak resident memory (`VmHWM`), where `/proc` tells it.
fn peak_resident_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
