//! The application's propose and verify, driven directly (no network) on the deterministic
//! runtime: what makes a block valid or invalid.

use std::num::{NonZeroU16, NonZeroUsize};
use std::sync::Arc;

use cadenza_ledger::{Genesis, GenesisAsset, Params, native_asset, testkit::Wallet};
use cadenza_node::app::{App, Shared};
use cadenza_node::block::{Block, Digest, txs_root};
use cadenza_node::mempool::MempoolError;
use cadenza_node::store::{StateStore, StoreConfig};
use cadenza_types::{AccountId, Action, Amount, ChainId};
use commonware_consensus::Application as _;
use commonware_consensus::marshal::ancestry;
use commonware_consensus::simplex::types::Context;
use commonware_consensus::types::{Epoch, Round, View};
use commonware_cryptography::{Digested, Digestible as _, Signer as _, ed25519};
use commonware_runtime::{Runner as _, Supervisor as _, buffer::paged::CacheRef, deterministic};

fn chain_id() -> ChainId {
    ChainId::new("cadenza-app").unwrap()
}

fn genesis(accounts: &[AccountId]) -> Genesis {
    Genesis {
        chain_id: chain_id(),
        // Ahead of the runtime's clock (which starts at the epoch): blocks take the parent's time.
        time_ms: 1_000,
        params: Params::default(),
        assets: vec![GenesisAsset {
            symbol: "CDZ".into(),
            decimals: 9,
            balances: accounts
                .iter()
                .map(|a| (*a, Amount::new(1_000_000)))
                .collect(),
        }],
        faucet: None,
    }
}

async fn app(
    context: &deterministic::Context,
    prefix: &str,
    genesis: &Genesis,
) -> (
    App<deterministic::Context>,
    Arc<Shared<deterministic::Context>>,
    Digested<Block>,
) {
    let store = StateStore::open(
        context.child("state"),
        &StoreConfig {
            partition_prefix: prefix.to_owned(),
            page_cache: CacheRef::new(
                NonZeroU16::new(4096).unwrap(),
                NonZeroUsize::new(64).unwrap(),
            ),
        },
        genesis,
    )
    .await
    .unwrap();
    let block = Block::genesis(genesis.time_ms, store.root());
    let shared = Arc::new(Shared::new(store, 64, chain_id()));
    (App::new(shared.clone()), shared, redigest(block))
}

fn context_for(
    leader: &ed25519::PublicKey,
    view: u64,
    parent: &Digested<Block>,
) -> Context<Digest, ed25519::PublicKey> {
    Context {
        round: Round::new(Epoch::zero(), View::new(view)),
        leader: leader.clone(),
        parent: (View::new(view - 1), parent.digest()),
    }
}

fn redigest(block: Block) -> Digested<Block> {
    let digest = block.digest();
    Digested::precomputed(block, digest)
}

async fn verify(
    app: &mut App<deterministic::Context>,
    context: &deterministic::Context,
    consensus: &Context<Digest, ed25519::PublicKey>,
    chain: Vec<Digested<Block>>,
) -> bool {
    app.verify(
        (context.child("verify"), consensus.clone()),
        ancestry::from_iter(chain),
    )
    .await
}

#[test]
fn propose_triages_transactions_and_verify_refuses_wrong_headers() {
    println!("seed = 3");
    deterministic::Runner::seeded(3).start(|context| async move {
        let leader = ed25519::PrivateKey::from_seed(1).public_key();
        let mut alice = Wallet::new([1; 32], chain_id(), Amount::new(1_000));
        let mut cheap = Wallet::new([2; 32], chain_id(), Amount::new(1));
        let genesis = genesis(&[alice.account(), cheap.account()]);
        let (mut proposer, proposer_shared, genesis_block) =
            app(&context, "proposer", &genesis).await;

        // A good transfer, an overdraft (refused by the ledger after its fee: an outcome of its
        // own, included, and no reason to refuse the block), a transaction whose fee is below
        // the minimum (refused at admission: it never enters the mempool) and one with a nonce
        // ahead (it waits in the mempool until the gap is filled).
        let good = alice.sign(Action::Transfer {
            to: cheap.account(),
            asset: native_asset(),
            amount: Amount::new(10),
        });
        let overdraft = alice.sign(Action::Transfer {
            to: cheap.account(),
            asset: native_asset(),
            amount: Amount::new(1 << 60),
        });
        let too_cheap = cheap.sign(Action::Transfer {
            to: alice.account(),
            asset: native_asset(),
            amount: Amount::new(10),
        });
        let mut ahead = alice.clone();
        ahead.nonce += 1;
        let future = ahead.sign(Action::Transfer {
            to: cheap.account(),
            asset: native_asset(),
            amount: Amount::new(3),
        });
        for tx in [&good, &overdraft, &future] {
            proposer_shared.submit(tx.clone()).await.unwrap();
        }
        assert!(matches!(
            proposer_shared.submit(too_cheap.clone()).await,
            Err(MempoolError::Pool(
                cadenza_mempool::MempoolError::FeeTooLow { .. }
            ))
        ));

        let view1 = context_for(&leader, 1, &genesis_block);
        let b1 = proposer
            .propose(
                (context.child("propose"), view1.clone()),
                ancestry::from_iter([genesis_block.clone()]),
                (),
            )
            .await
            .expect("a block on genesis");
        assert_eq!(b1.inner().height, 1);
        assert_eq!(b1.inner().txs, vec![good.clone(), overdraft.clone()]);
        assert_eq!(
            proposer_shared.mempool.len(),
            3,
            "proposals take nothing out of the mempool"
        );

        // A verifier with its own store re-executes it and agrees.
        let (mut verifier, _, _) = app(&context, "verifier", &genesis).await;
        assert!(
            verify(
                &mut verifier,
                &context,
                &view1,
                vec![b1.clone(), genesis_block.clone()]
            )
            .await
        );

        // The next block does not repeat transactions of its unfinalized parent, and includes
        // the waiting one right after the transaction that fills the nonce gap.
        let gap = alice.sign(Action::Transfer {
            to: cheap.account(),
            asset: native_asset(),
            amount: Amount::new(2),
        });
        proposer_shared.submit(gap.clone()).await.unwrap();
        let view2 = context_for(&leader, 2, &b1);
        let b2 = proposer
            .propose(
                (context.child("propose"), view2.clone()),
                ancestry::from_iter([b1.clone(), genesis_block.clone()]),
                (),
            )
            .await
            .expect("a block on b1");
        assert_eq!(b2.inner().txs, vec![gap, future]);
        let view3 = context_for(&leader, 3, &b2);
        let b3 = proposer
            .propose(
                (context.child("propose"), view3),
                ancestry::from_iter([b2.clone(), b1.clone(), genesis_block.clone()]),
                (),
            )
            .await
            .expect("a block on b2");
        assert!(b3.inner().txs.is_empty(), "nothing is proposed twice");

        // A verifier that never saw b1 executes it from the ancestry first.
        let (mut late, _, _) = app(&context, "late", &genesis).await;
        assert!(
            verify(
                &mut late,
                &context,
                &view2,
                vec![b2.clone(), b1.clone(), genesis_block.clone()]
            )
            .await
        );

        // Headers b1 could not have: each is refused.
        // - a proposer that is not the view's leader;
        // - transactions that do not match the transactions root;
        // - a consistent transactions root but a state root that is not the execution's (the
        //   transfer is missing; dropping only the refused transaction would leave the same
        //   state, and a valid block).
        let mut wrong_proposer = b1.inner().clone();
        wrong_proposer.proposer = alice.account();
        let mut wrong_txs = b1.inner().clone();
        wrong_txs.txs = vec![good.clone()];
        let mut wrong_state = b1.inner().clone();
        wrong_state.txs = Vec::new();
        wrong_state.txs_root = txs_root(&wrong_state.txs);
        for (why, wrong) in [
            ("proposer", wrong_proposer),
            ("transactions root", wrong_txs),
            ("state root", wrong_state),
        ] {
            let chain = vec![redigest(wrong), genesis_block.clone()];
            assert!(
                !verify(&mut verifier, &context, &view1, chain).await,
                "wrong {why} accepted"
            );
        }

        // Time going back relative to the parent: refused.
        assert_eq!(b1.inner().timestamp_ms, 1_000);
        let mut wrong = b2.inner().clone();
        wrong.timestamp_ms = 999;
        let chain = vec![redigest(wrong), b1.clone(), genesis_block.clone()];
        assert!(!verify(&mut late, &context, &view2, chain).await);
    });
}

/// Admission and the API read the committed state from its snapshot: a transaction is judged
/// and admitted while a block execution or a commit holds the store.
#[test]
fn admission_does_not_wait_for_the_store() {
    println!("seed = 4");
    deterministic::Runner::seeded(4).start(|context| async move {
        use futures::FutureExt as _;
        let mut alice = Wallet::new([1; 32], chain_id(), Amount::new(1_000));
        let genesis = genesis(&[alice.account()]);
        let (_, shared, _) = app(&context, "held", &genesis).await;
        let tx = alice.sign(Action::Transfer {
            to: AccountId([7; 32]),
            asset: native_asset(),
            amount: Amount::new(10),
        });
        let held = shared.store.lock().await;
        let admitted = shared
            .submit(tx.clone())
            .now_or_never()
            .expect("admission answers at once while the store is held");
        assert_eq!(admitted.unwrap(), tx.hash());
        let state = shared.state.read();
        assert_eq!(state.height(), held.height());
        assert_eq!(state.root(), held.root());
    });
}
