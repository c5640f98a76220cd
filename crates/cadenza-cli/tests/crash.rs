//! A devnet killed with SIGKILL at 20 random points in a stream of submitted transactions. After
//! each restart: every transaction the API acknowledged as committed is still committed at the
//! same height, replaying the committed blocks from genesis gives every block's state root (the
//! node's included), and conservation holds on the replayed state. The seed is printed; rerun
//! with `CADENZA_TEST_SEED=<seed>`.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use cadenza_ledger::native_asset;
use cadenza_node::genesis_file::GenesisFile;
use cadenza_types::{Action, Amount, Hash};
use common::*;

const KILLS: usize = 20;
const WALLETS: u8 = 4;

#[test]
fn devnet_recovers_from_sigkill_at_20_points() {
    let seed = seed("devnet_recovers_from_sigkill_at_20_points");
    let mut rng = SplitMix(seed);
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    let args = [
        "devnet",
        "--data",
        data.to_str().unwrap(),
        "--http",
        "127.0.0.1:0",
    ];
    let mut wallets: Vec<_> = (0..WALLETS)
        .map(|i| wallet(10 + i, devnet_chain(), 0))
        .collect();
    let mut acked: BTreeMap<Hash, u64> = BTreeMap::new();
    let mut funded = false;
    let mut total_submitted = 0;

    for round in 0..=KILLS {
        let node = start(home.path(), &args, &[]);
        let url = node.url.clone();

        // Everything acknowledged before the crash is still there, where it was.
        for (hash, height) in &acked {
            let (status, body) = get(&format!("{url}/v1/txs/{}", hash.to_hex()));
            assert_eq!(status, 200, "round {round}: acknowledged tx lost: {body}");
            assert_eq!(body["status"], "committed");
            assert_eq!(body["height"].as_u64(), Some(*height), "round {round}");
        }
        // The committed state is the replay of the committed blocks.
        let genesis =
            GenesisFile::parse(&std::fs::read_to_string(data.join("genesis.json")).unwrap())
                .unwrap()
                .to_genesis()
                .unwrap();
        let height = get(&format!("{url}/v1/status")).1["height"]
            .as_u64()
            .unwrap();
        let blocks = fetch_blocks(&url, height);
        let root = replay(&genesis, &blocks);
        if let Some(last) = blocks.last() {
            assert_eq!(root, last.state_root);
        }
        eprintln!(
            "round {round}: recovered at height {height}, {} acknowledged txs present, replay matches",
            acked.len()
        );
        if round == KILLS {
            assert!(node.terminate());
            break;
        }

        if !funded {
            for w in &mut wallets {
                let drip = w.sign(Action::Faucet);
                assert_eq!(submit(&url, &drip).0, 202);
                let record = wait_committed(&url, &drip.hash());
                acked.insert(drip.hash(), record["height"].as_u64().unwrap());
                w.fee = Amount::new(1_000);
            }
            funded = true;
        }
        // Transactions that died with the mempool left gaps: take nonces from the chain.
        for w in &mut wallets {
            let (_, account) = get(&format!("{url}/v1/accounts/{}", w.account().to_did()));
            w.nonce = account["nonce"].as_u64().unwrap();
        }

        // A stream of transfers, then SIGKILL at a random point in it.
        let kill_after = Duration::from_millis(50 + rng.below(1_500));
        let started = Instant::now();
        let mut pending: Vec<Hash> = Vec::new();
        while started.elapsed() < kill_after {
            let from = rng.below(u64::from(WALLETS)) as usize;
            let to = wallets[(from + 1) % wallets.len()].account();
            let stx = wallets[from].sign(Action::Transfer {
                to,
                asset: native_asset(),
                amount: Amount::new(1 + u128::from(rng.below(1_000))),
            });
            let (status, body) = submit(&url, &stx);
            assert!(status == 202 || status == 200, "{body}");
            total_submitted += 1;
            pending.push(stx.hash());
            // Learn which are committed, as a client polling its transactions would.
            pending.retain(|hash| {
                let (_, body) = get(&format!("{url}/v1/txs/{}", hash.to_hex()));
                if body["status"] == "committed" {
                    acked.insert(*hash, body["height"].as_u64().unwrap());
                    false
                } else {
                    true
                }
            });
        }
        eprintln!(
            "round {round}: SIGKILL after {kill_after:?} ({} txs still pending)",
            pending.len()
        );
        node.kill();
    }
    eprintln!(
        "{KILLS} kills survived: {total_submitted} transfers submitted, {} acknowledged as committed",
        acked.len()
    );
    assert!(
        acked.len() > 2 * KILLS,
        "the stream should commit transactions between kills"
    );
}
