//! Validators on Commonware's deterministic runtime and simulated network. Every test prints
//! its seed; rerun a failure with the same seed to replay it exactly (the multi-seed test takes
//! `CADENZA_SIM_SEEDS=7,8,9`).

use std::time::Duration;

use cadenza_ledger::{Genesis, GenesisAsset, Params, native_asset, query, testkit::Wallet};
use cadenza_node::sim::{Validator, ValidatorConfig, max_message_size, start_validator};
use cadenza_types::{AccountId, Action, Amount, ChainId, Encode as _};
use commonware_cryptography::{Signer as _, ed25519};
use commonware_p2p::simulated::{self, Link, Network, Oracle};
use commonware_runtime::{
    Clock as _, Handle, Runner as _, Spawner as _, Supervisor as _, deterministic,
};
use commonware_utils::probability;

const FUNDS: u128 = 1_000_000_000;
const FEE: u128 = 1_000;

fn chain_id() -> ChainId {
    ChainId::new("cadenza-sim").unwrap()
}

fn wallets(n: u8) -> Vec<Wallet> {
    (0..n)
        .map(|i| Wallet::new([100 + i; 32], chain_id(), Amount::new(FEE)))
        .collect()
}

fn genesis(accounts: &[AccountId]) -> Genesis {
    Genesis {
        chain_id: chain_id(),
        time_ms: 0,
        params: Params::default(),
        assets: vec![GenesisAsset {
            symbol: "CDZ".into(),
            decimals: 9,
            balances: accounts.iter().map(|a| (*a, Amount::new(FUNDS))).collect(),
        }],
        faucet: None,
    }
}

fn keys(n: u64) -> Vec<ed25519::PrivateKey> {
    let mut keys: Vec<_> = (0..n).map(ed25519::PrivateKey::from_seed).collect();
    keys.sort_by_key(|k| k.public_key());
    keys
}

async fn network(
    context: &deterministic::Context,
    participants: &[ed25519::PublicKey],
) -> Oracle<ed25519::PublicKey, deterministic::Context> {
    let (network, oracle) = Network::new_with_peers(
        context.child("network"),
        simulated::Config {
            max_size: max_message_size(participants.len() as u32),
            max_peers_per_set: std::num::NonZeroUsize::new(participants.len()).unwrap(),
            disconnect_on_block: true,
            tracked_peer_sets: std::num::NonZeroUsize::new(1).unwrap(),
        },
        participants.to_vec(),
    )
    .await;
    network.start();
    oracle
}

fn link(success_rate: commonware_utils::Probability) -> Link {
    Link {
        latency: Duration::from_millis(50),
        jitter: Duration::from_millis(10),
        success_rate,
    }
}

async fn connect(
    oracle: &Oracle<ed25519::PublicKey, deterministic::Context>,
    from: &[ed25519::PublicKey],
    to: &[ed25519::PublicKey],
    link: &Link,
) {
    for a in from {
        for b in to {
            if a != b {
                oracle
                    .add_link(a.clone(), b.clone(), link.clone())
                    .await
                    .unwrap();
            }
        }
    }
}

async fn disconnect(
    oracle: &Oracle<ed25519::PublicKey, deterministic::Context>,
    from: &[ed25519::PublicKey],
    to: &[ed25519::PublicKey],
) {
    for a in from {
        for b in to {
            oracle.remove_link(a.clone(), b.clone()).await.unwrap();
            oracle.remove_link(b.clone(), a.clone()).await.unwrap();
        }
    }
}

/// The seeds to run: `CADENZA_SIM_SEEDS` (comma-separated) replays or extends, else `default`.
fn seeds(default: &[u64]) -> Vec<u64> {
    match std::env::var("CADENZA_SIM_SEEDS") {
        Ok(list) => list
            .split(',')
            .map(|s| s.trim().parse().expect("CADENZA_SIM_SEEDS holds u64 seeds"))
            .collect(),
        Err(_) => default.to_vec(),
    }
}

fn runner(seed: u64) -> deterministic::Runner {
    println!("seed = {seed}");
    deterministic::Runner::new(
        deterministic::Config::new()
            .with_seed(seed)
            .with_timeout(Some(Duration::from_secs(600))),
    )
}

/// Like [`runner`], with crashes that keep a random prefix of each unsynced write (a torn
/// write), as a disk does on power loss.
fn runner_with_torn_writes(seed: u64) -> deterministic::Runner {
    println!("seed = {seed} (torn writes)");
    deterministic::Runner::new(
        deterministic::Config::new()
            .with_seed(seed)
            .with_timeout(Some(Duration::from_secs(600)))
            .with_storage_fault_config(deterministic::FaultConfig {
                write_rate: Some(deterministic::WriteConfig {
                    failure_rate: probability!(0.0),
                    retention_rate: probability!(0.5),
                    mode: deterministic::PartialWriteMode::Prefix,
                }),
                ..Default::default()
            }),
    )
}

fn config(
    key: &ed25519::PrivateKey,
    participants: &[ed25519::PublicKey],
    genesis: &Genesis,
) -> ValidatorConfig {
    ValidatorConfig {
        key: key.clone(),
        participants: participants.to_vec(),
        genesis: genesis.clone(),
        namespace: b"cadenza-sim".to_vec(),
        mempool_capacity: 1024,
        // The deterministic runtime owns every thread: admission runs in its tasks.
        admission_threads: 0,
    }
}

/// Starts a validator of a one-validator network on `context` (from whatever its storage
/// holds). The oracle is returned because the simulated network lives as long as it does.
async fn start_alone(
    context: &deterministic::Context,
    label: &'static str,
    key: &ed25519::PrivateKey,
    participants: &[ed25519::PublicKey],
    genesis: &Genesis,
) -> (
    Validator,
    Oracle<ed25519::PublicKey, deterministic::Context>,
) {
    let mut oracle = network(context, participants).await;
    let validator = start_validator(
        context.child(label),
        &mut oracle,
        config(key, participants, genesis),
    )
    .await
    .unwrap();
    (validator, oracle)
}

/// Checks that a restarted validator recovered at least the `acknowledged` height, with its
/// committed root equal to the recovered block's state root; returns the recovered height.
async fn check_recovery(validator: &Validator, acknowledged: u64, life: &str) -> u64 {
    let (recovered, root) = validator.progress().committed();
    assert!(
        recovered >= acknowledged,
        "{life}: recovered {recovered} < acknowledged {acknowledged}"
    );
    if recovered > 0 {
        let block = validator.finalized_block(recovered).await.unwrap();
        assert_eq!(Some(block.inner().state_root), root);
    }
    recovered
}

/// Every validator has the same finalized block (digest and state root) at every height up to
/// `height`, and the same committed root there.
async fn assert_agreement(validators: &[Validator], height: u64) {
    for h in 1..=height {
        let reference = validators[0]
            .finalized_block(h)
            .await
            .expect("finalized block");
        for v in &validators[1..] {
            let block = v.finalized_block(h).await.expect("finalized block");
            assert_eq!(
                block.digest(),
                reference.digest(),
                "block digest at height {h}"
            );
            assert_eq!(block.inner().state_root, reference.inner().state_root);
        }
    }
}

use commonware_cryptography::Digestible as _;

#[test]
fn one_validator_finalizes_submitted_transfers() {
    let seed = 7;
    runner(seed).start(|context| async move {
        let keys = keys(1);
        let participants: Vec<_> = keys.iter().map(|k| k.public_key()).collect();
        let mut wallets = wallets(2);
        let genesis = genesis(&wallets.iter().map(Wallet::account).collect::<Vec<_>>());
        let (validator, _oracle) =
            start_alone(&context, "validator_0", &keys[0], &participants, &genesis).await;

        let to = wallets[1].account();
        for _ in 0..5 {
            let tx = wallets[0].sign(Action::Transfer {
                to,
                asset: native_asset(),
                amount: Amount::new(1_000),
            });
            validator.submit(tx).await.unwrap();
        }
        // A transaction with a nonce ahead of its account's waits in the mempool.
        let mut skipped = wallets[0].clone();
        skipped.nonce += 10;
        validator
            .submit(skipped.sign(Action::Transfer {
                to,
                asset: native_asset(),
                amount: Amount::new(1),
            }))
            .await
            .unwrap();

        validator.progress().wait_for(30).await;
        assert_eq!(
            validator.mempool().len(),
            1,
            "finalized transactions leave the mempool, the one with a nonce ahead stays"
        );
        let store = validator.shared.store.lock().await;
        // Committed layers are released: what is held stays small however long the chain.
        let (n_unfinalized, depth) = store.unfinalized();
        assert!(
            n_unfinalized <= 4 && depth <= 4,
            "{n_unfinalized} layers, depth {depth}"
        );
        let state = store.view(&cadenza_node::store::Base::Committed);
        assert_eq!(
            query::balance(&state, &to, &native_asset()),
            Amount::new(FUNDS + 5_000)
        );
        assert_eq!(query::account(&state, &wallets[0].account()).nonce, 5);
        // The fees went to the proposer, the validator's account.
        let proposer = AccountId(keys[0].public_key().as_ref().try_into().unwrap());
        assert_eq!(
            query::balance(&state, &proposer, &native_asset()),
            Amount::new(5 * FEE)
        );
        // The committed root is the root of the last finalized block, with a proof of a balance.
        let (height, root) = (store.height(), store.root());
        let block = validator.finalized_block(height).await.unwrap();
        assert_eq!(block.inner().state_root, root);
        let key = cadenza_ledger::records::keys::balance(&to, &native_asset());
        let (value, proof) = store.prove(&key).await.unwrap().unwrap();
        assert!(
            cadenza_node::store::StateStore::<deterministic::Context>::verify_proof(
                &key, &value, &proof, &root
            )
        );
        assert!(
            !cadenza_node::store::StateStore::<deterministic::Context>::verify_proof(
                &key, b"forged", &proof, &root
            )
        );
        println!("one validator: height {height} at {:?}", context.current());
    });
}

/// Starts a validator in its own supervised task, so that aborting the task stops every actor
/// of the validator (as a crash of its process would), leaving its storage behind.
async fn spawn_validator(
    context: &deterministic::Context,
    oracle: &Oracle<ed25519::PublicKey, deterministic::Context>,
    config: ValidatorConfig,
) -> (Handle<()>, Validator) {
    let (sender, receiver) = futures::channel::oneshot::channel();
    let mut oracle = oracle.clone();
    let handle = context.child("validator").spawn(move |context| async move {
        let validator = start_validator(context.child("node"), &mut oracle, config)
            .await
            .expect("validator starts");
        let _ = sender.send(validator);
        futures::future::pending::<()>().await;
    });
    (handle, receiver.await.expect("validator started"))
}

fn transfer(wallet: &mut Wallet, to: AccountId, amount: u128) -> cadenza_types::SignedTransaction {
    wallet.sign(Action::Transfer {
        to,
        asset: native_asset(),
        amount: Amount::new(amount),
    })
}

fn heights(validators: &[Validator]) -> Vec<u64> {
    validators
        .iter()
        .map(|v| v.progress().committed().0)
        .collect()
}

/// Four validators, 20% message loss on every link, a partition into two halves that heals,
/// then a crash of one validator, which restarts from its storage and catches up.
/// Returns the runtime's audit of the run (a digest of every event, in order).
fn four_validators_with_loss_partition_and_crash(seed: u64) -> String {
    let ((), checkpoint) = runner(seed).start_and_recover(|context| async move {
        let keys = keys(4);
        let participants: Vec<_> = keys.iter().map(|k| k.public_key()).collect();
        let mut wallets = wallets(2);
        let genesis = genesis(&wallets.iter().map(Wallet::account).collect::<Vec<_>>());
        let oracle = network(&context, &participants).await;
        let lossy = link(probability!(0.8));
        connect(&oracle, &participants, &participants, &lossy).await;

        let mut handles = Vec::new();
        let mut validators = Vec::new();
        for key in &keys {
            let (handle, validator) =
                spawn_validator(&context, &oracle, config(key, &participants, &genesis)).await;
            handles.push(handle);
            validators.push(validator);
        }
        let to = wallets[1].account();
        for _ in 0..4 {
            let tx = transfer(&mut wallets[0], to, 7);
            for v in &validators {
                v.submit(tx.clone()).await.unwrap();
            }
        }
        for v in &validators {
            v.progress().wait_for(3).await;
        }

        // Partition {0, 1} from {2, 3}: neither side has a quorum, so nothing finalizes
        // (messages in flight at the cut may still finalize a block in its first seconds).
        let (left, right) = participants.split_at(2);
        disconnect(&oracle, left, right).await;
        for _ in 0..3 {
            validators[0]
                .submit(transfer(&mut wallets[0], to, 7))
                .await
                .unwrap();
        }
        context.sleep(Duration::from_secs(3)).await;
        let cut = heights(&validators);
        context.sleep(Duration::from_secs(10)).await;
        let stalled = heights(&validators);
        assert_eq!(cut, stalled, "a block finalized without a quorum");

        // Heal: the chain moves on and includes what was submitted during the partition.
        connect(&oracle, left, right, &lossy).await;
        connect(&oracle, right, left, &lossy).await;
        let healed = stalled.iter().max().unwrap() + 3;
        for v in &validators {
            v.progress().wait_for(healed).await;
        }

        // Crash validator 3; three of four are a quorum, so the chain goes on without it.
        let crashed_at = validators[3].progress().committed().0;
        handles.pop().unwrap().abort();
        drop(validators.pop());
        let moved_on = heights(&validators).into_iter().max().unwrap() + 5;
        for v in &validators {
            v.progress().wait_for(moved_on).await;
        }

        // Restart it from its storage: it recovers its committed block, then catches up.
        let (_handle, restarted) =
            spawn_validator(&context, &oracle, config(&keys[3], &participants, &genesis)).await;
        let (recovered, _) = restarted.progress().committed();
        assert!(
            recovered >= crashed_at,
            "lost committed blocks: {recovered} < {crashed_at}"
        );
        validators.push(restarted);
        let target = heights(&validators).into_iter().max().unwrap() + 3;
        for v in &validators {
            v.progress().wait_for(target).await;
        }

        let height = heights(&validators).into_iter().min().unwrap();
        assert_agreement(&validators, height).await;
        for v in &validators {
            let (n_unfinalized, depth) = v.shared.store.lock().await.unfinalized();
            assert!(
                n_unfinalized <= 16 && depth <= 8,
                "{n_unfinalized} layers, depth {depth}"
            );
        }
        for v in &validators {
            let store = v.shared.store.lock().await;
            let state = store.view(&cadenza_node::store::Base::Committed);
            assert_eq!(
                query::balance(&state, &to, &native_asset()),
                Amount::new(FUNDS + 7 * 7)
            );
        }
        println!(
            "seed {seed}: partition stalled at {stalled:?}; validator 3 crashed at {crashed_at}, \
             recovered {recovered}; agreed on every block up to {height}; simulated {:?}",
            context
                .current()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
        );
    });
    checkpoint.auditor().state()
}

#[test]
fn four_validators_agree_despite_loss_a_healed_partition_and_a_crash() {
    for seed in seeds(&[1, 2, 3, 4, 5]) {
        four_validators_with_loss_partition_and_crash(seed);
    }
}

/// The whole run (consensus, network faults, storage, our application) is a function of the
/// seed: a failure seen once replays exactly.
#[test]
fn the_same_seed_replays_the_same_run() {
    let first = four_validators_with_loss_partition_and_crash(9);
    let second = four_validators_with_loss_partition_and_crash(9);
    assert_eq!(first, second);
    assert_ne!(first, four_validators_with_loss_partition_and_crash(10));
}

#[test]
fn validator_restarts_from_its_storage_and_continues_the_chain() {
    let seed = 11;
    let keys = keys(1);
    let participants: Vec<_> = keys.iter().map(|k| k.public_key()).collect();
    let mut wallets = wallets(2);
    let genesis = genesis(&wallets.iter().map(Wallet::account).collect::<Vec<_>>());
    let to = wallets[1].account();
    let first = wallets[0].sign(Action::Transfer {
        to,
        asset: native_asset(),
        amount: Amount::new(5),
    });
    let second = wallets[0].sign(Action::Transfer {
        to,
        asset: native_asset(),
        amount: Amount::new(6),
    });

    // First life: finalize a few blocks, then the runtime stops abruptly (unsynced writes are
    // lost as in a crash).
    let (before, checkpoint) = runner(seed).start_and_recover({
        let (keys, participants, genesis) = (keys.clone(), participants.clone(), genesis.clone());
        |context| async move {
            let (validator, _oracle) =
                start_alone(&context, "validator_0", &keys[0], &participants, &genesis).await;
            validator.submit(first).await.unwrap();
            validator.progress().wait_for(3).await;
            validator.progress().committed().0
        }
    });

    // Second life: recover from storage, check the root against the finalized block (done by
    // `start_validator`), and keep going.
    deterministic::Runner::from(checkpoint).start(|context| async move {
        let (validator, _oracle) = start_alone(
            &context,
            "validator_0_restarted",
            &keys[0],
            &participants,
            &genesis,
        )
        .await;
        let recovered = check_recovery(&validator, before, "second life").await;

        validator.submit(second).await.unwrap();
        validator.progress().wait_for(recovered + 3).await;
        let store = validator.shared.store.lock().await;
        let state = store.view(&cadenza_node::store::Base::Committed);
        assert_eq!(
            query::balance(&state, &to, &native_asset()),
            Amount::new(FUNDS + 11)
        );
        println!(
            "restart: acknowledged {before}, recovered {recovered}, now {}",
            store.height()
        );
    });
}

/// Crashes at arbitrary points (between proposals, mid-commit, between a commit and its
/// acknowledgement), several times in a row, keeping a random prefix of every write not yet
/// fsynced (torn writes): each restart recovers a committed block whose root
/// is the finalized block's, never loses an acknowledged block, and the chain goes on with every
/// submitted transfer applied exactly once.
#[test]
fn repeated_crashes_at_arbitrary_points_recover_the_committed_state() {
    for seed in seeds(&[21, 22]) {
        let keys = keys(1);
        let participants: Vec<_> = keys.iter().map(|k| k.public_key()).collect();
        let mut wallets = wallets(2);
        let genesis = genesis(&wallets.iter().map(Wallet::account).collect::<Vec<_>>());
        let to = wallets[1].account();
        let n_lives = 6u64;
        let txs: Vec<_> = (0..n_lives)
            .map(|_| transfer(&mut wallets[0], to, 3))
            .collect();

        let mut checkpoint = None;
        let mut acknowledged = 0;
        // A crash time for each life, from the seed (a small LCG keeps the test self-contained).
        let mut state = seed;
        for (life, tx) in txs.into_iter().enumerate() {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let crash_after = Duration::from_millis(50 + (state >> 33) % 400);
            let runner = match checkpoint.take() {
                None => runner_with_torn_writes(seed),
                Some(checkpoint) => deterministic::Runner::from(checkpoint),
            };
            let (keys, participants, genesis) =
                (keys.clone(), participants.clone(), genesis.clone());
            let (committed, next) = runner.start_and_recover(|context| async move {
                let (validator, _oracle) =
                    start_alone(&context, "validator_0", &keys[0], &participants, &genesis).await;
                check_recovery(&validator, acknowledged, &format!("life {life}")).await;
                // A transaction committed in an earlier life is refused as a replay (stale
                // nonce) if resubmitted; each life submits its own.
                validator.submit(tx).await.unwrap();
                context.sleep(crash_after).await;
                validator.progress().committed().0
            });
            acknowledged = committed;
            checkpoint = Some(next);
        }

        // A last life with no crash: everything submitted is applied, exactly once.
        deterministic::Runner::from(checkpoint.unwrap()).start(|context| async move {
            let (validator, _oracle) =
                start_alone(&context, "validator_0", &keys[0], &participants, &genesis).await;
            let start = validator.progress().committed().0;
            validator.progress().wait_for(start + 3).await;
            let store = validator.shared.store.lock().await;
            let state = store.view(&cadenza_node::store::Base::Committed);
            // Transactions still in a crashed mempool were lost with it (the mempool is not
            // durable); every one that was committed counts once.
            let received = query::balance(&state, &to, &native_asset()).get() - FUNDS;
            let nonce = query::account(&state, &wallets[0].account()).nonce;
            assert_eq!(received, 3 * u128::from(nonce));
            println!(
                "seed {seed}: {n_lives} crashes, last acknowledged {acknowledged}, \
                 final height {}, {nonce} transfers committed",
                store.height()
            );
        });
    }
}

/// Transactions admitted by one validator reach the others' pools ahead of any block, so other
/// leaders propose them too; a peer that gossips a forged transaction is blocked, and the
/// forgery goes nowhere.
#[test]
fn transactions_gossip_to_every_leader_and_forgers_are_blocked() {
    let seed = 11;
    runner(seed).start(|context| async move {
        let keys = keys(4);
        let participants: Vec<_> = keys.iter().map(|k| k.public_key()).collect();
        let mut wallets = wallets(2);
        let genesis = genesis(&wallets.iter().map(Wallet::account).collect::<Vec<_>>());
        let oracle = network(&context, &participants).await;
        connect(
            &oracle,
            &participants,
            &participants,
            &link(probability!(1.0)),
        )
        .await;
        // Three honest validators (a quorum of four); the fourth key only gossips, and forges.
        let mut validators = Vec::new();
        for key in &keys[..3] {
            let (_handle, validator) =
                spawn_validator(&context, &oracle, config(key, &participants, &genesis)).await;
            validators.push(validator);
        }
        let quota = commonware_runtime::Quota::per_second(std::num::NonZeroU32::new(10).unwrap());
        let (mut forger, _inbox) = oracle
            .control(participants[3].clone())
            .register(cadenza_node::validator::channels::TXS, quota)
            .await
            .unwrap();

        let to = wallets[1].account();
        let mut hashes = Vec::new();
        for _ in 0..8 {
            let tx = transfer(&mut wallets[0], to, 7);
            hashes.push(tx.hash());
            validators[0].submit(tx.clone()).await.unwrap();
            // About one network hop later (50 ms, jittered) every other validator holds it, its
            // signature verified: from the gossip, or (if a block overtook the gossip) from
            // that block.
            let held = |v: &Validator| {
                v.mempool().admitted(&tx.hash(), &tx) || v.shared.in_blocks.contains(&tx.hash())
            };
            let mut waited = 0;
            while !validators[1..].iter().all(held) {
                assert!(waited < 150, "not gossiped within {waited} ms");
                context.sleep(Duration::from_millis(5)).await;
                waited += 5;
            }
            context.sleep(Duration::from_millis(700)).await;
        }
        let done = heights(&validators).into_iter().max().unwrap() + 3;
        for v in &validators {
            v.progress().wait_for(done).await;
        }
        let height = heights(&validators).into_iter().min().unwrap();
        let mut proposers = std::collections::BTreeSet::new();
        let mut included = 0;
        for h in 1..=height {
            let block = validators[0].finalized_block(h).await.unwrap();
            let carried = block
                .inner()
                .txs
                .iter()
                .filter(|tx| hashes.contains(&tx.hash()))
                .count();
            if carried > 0 {
                included += carried;
                proposers.insert(block.inner().proposer);
            }
        }
        assert_eq!(included, hashes.len(), "every transfer committed once");
        assert!(
            proposers.len() > 1,
            "only the validator they were submitted to proposed them: {proposers:?}"
        );

        // A forged signature, gossiped by the fourth key to validator 0.
        let mut forged = transfer(&mut wallets[0], to, 9);
        forged.signature.0[0] ^= 1;
        let message = cadenza_node::gossip::encode(&[forged.to_bytes()]);
        let sent = commonware_p2p::Sender::send(
            &mut forger,
            commonware_p2p::Recipients::One(participants[0].clone()),
            message,
            false,
        );
        assert_eq!(sent, vec![participants[0].clone()]);
        context.sleep(Duration::from_secs(1)).await;
        assert!(
            oracle
                .blocked()
                .await
                .unwrap()
                .contains(&(participants[0].clone(), participants[3].clone())),
            "the forger is not blocked"
        );
        assert!(!validators[0].mempool().contains(&forged.hash()));
        println!(
            "seed {seed}: 8 transfers submitted to one validator were proposed by {} validators; \
             the forger was blocked",
            proposers.len()
        );
    });
}
