//! The mempool's admission, ordering, replacement, eviction and pruning rules, and its bounds
//! under random use.

use cadenza_mempool::{Admitted, Limits, Mempool, MempoolError};
use cadenza_types::{
    AccountId, Action, Amount, AssetId, ChainId, SecretKey, SignedTransaction, Transaction,
};
use proptest::prelude::*;

fn key(i: u8) -> SecretKey {
    SecretKey::from_seed([i + 1; 32])
}

fn tx(signer: u8, nonce: u64, fee: u128) -> SignedTransaction {
    let k = key(signer);
    Transaction {
        chain_id: ChainId::new("cadenza-test").unwrap(),
        signer: k.account(),
        nonce,
        fee: Amount::new(fee),
        action: Action::Transfer {
            to: AccountId([9; 32]),
            asset: AssetId::genesis("CDZ"),
            amount: Amount::new(1),
        },
    }
    .sign(&k)
}

const MIN: Amount = Amount::new(10);

fn pool(max_txs: usize) -> Mempool {
    Mempool::new(Limits {
        max_txs,
        ..Limits::default()
    })
}

#[test]
fn an_accounts_run_is_proposed_in_nonce_order_and_stops_at_a_gap() {
    let mut p = pool(100);
    for n in [2, 0, 1, 4] {
        assert_eq!(p.insert(tx(0, n, 50), 0, MIN), Ok(Admitted::Added));
    }
    let picked: Vec<u64> = p
        .select(100, usize::MAX, |_| 0)
        .iter()
        .map(|s| s.tx.nonce)
        .collect();
    assert_eq!(picked, vec![0, 1, 2]);
    let picked: Vec<u64> = p
        .select(100, usize::MAX, |_| 1)
        .iter()
        .map(|s| s.tx.nonce)
        .collect();
    assert_eq!(picked, vec![1, 2]);
    // A wallet's next nonce runs past the contiguous pending run, not past the gap.
    assert_eq!(p.next_nonce(&key(0).account(), 0), 3);
    assert_eq!(p.next_nonce(&key(0).account(), 3), 3);
    assert_eq!(p.next_nonce(&key(1).account(), 7), 7);
}

#[test]
fn the_highest_fee_goes_first_across_accounts() {
    let mut p = pool(100);
    p.insert(tx(0, 0, 20), 0, MIN).unwrap();
    p.insert(tx(0, 1, 90), 0, MIN).unwrap();
    p.insert(tx(1, 0, 50), 0, MIN).unwrap();
    let order: Vec<(AccountId, u64)> = p
        .select(100, usize::MAX, |_| 0)
        .iter()
        .map(|s| (s.tx.signer, s.tx.nonce))
        .collect();
    // Account 1's 50 beats account 0's head (20); account 0's 90 can only follow its nonce 0.
    assert_eq!(
        order,
        vec![
            (key(1).account(), 0),
            (key(0).account(), 0),
            (key(0).account(), 1)
        ]
    );
    assert_eq!(p.select(2, usize::MAX, |_| 0).len(), 2);
}

#[test]
fn a_replacement_must_pay_ten_percent_more() {
    let mut p = pool(100);
    let first = tx(0, 0, 100);
    p.insert(first.clone(), 0, MIN).unwrap();
    assert_eq!(
        p.insert(tx(0, 0, 109), 0, MIN),
        Err(MempoolError::ReplacementUnderpriced {
            needed: Amount::new(110)
        })
    );
    assert_eq!(
        p.insert(tx(0, 0, 110), 0, MIN),
        Ok(Admitted::Replaced { old: first.hash() })
    );
    assert_eq!(p.len(), 1);
    assert!(!p.contains(&first.hash()));
}

#[test]
fn stale_far_ahead_cheap_duplicate_and_oversized_transactions_are_refused() {
    let mut p = pool(100);
    assert_eq!(
        p.insert(tx(0, 4, 50), 5, MIN),
        Err(MempoolError::StaleNonce {
            expected: 5,
            found: 4
        })
    );
    assert!(matches!(
        p.insert(tx(0, 5 + 257, 50), 5, MIN),
        Err(MempoolError::NonceTooFarAhead { .. })
    ));
    assert_eq!(
        p.insert(tx(0, 5, 9), 5, MIN),
        Err(MempoolError::FeeTooLow {
            min: MIN,
            offered: Amount::new(9)
        })
    );
    p.insert(tx(0, 5, 50), 5, MIN).unwrap();
    assert!(matches!(
        p.insert(tx(0, 5, 50), 5, MIN),
        Err(MempoolError::AlreadyPending(_))
    ));
    let mut tiny = Mempool::new(Limits {
        max_tx_bytes: 100,
        ..Limits::default()
    });
    assert!(matches!(
        tiny.insert(tx(0, 0, 50), 0, MIN),
        Err(MempoolError::TooLarge { max: 100, .. })
    ));
}

#[test]
fn a_full_pool_evicts_the_cheapest_tail_for_a_richer_newcomer_and_nothing_otherwise() {
    let mut p = pool(3);
    p.insert(tx(0, 0, 30), 0, MIN).unwrap();
    p.insert(tx(0, 1, 20), 0, MIN).unwrap();
    p.insert(tx(1, 0, 25), 0, MIN).unwrap();
    let before: Vec<_> = p.select(10, usize::MAX, |_| 0);
    // Not richer than the cheapest tail (20): refused, pool unchanged.
    assert_eq!(
        p.insert(tx(2, 0, 20), 0, MIN),
        Err(MempoolError::PoolFull {
            needed_above: Amount::new(20)
        })
    );
    assert_eq!(p.select(10, usize::MAX, |_| 0), before);
    // Richer: account 0's last transaction (20) goes, never its first.
    let evicted = tx(0, 1, 20).hash();
    assert_eq!(
        p.insert(tx(2, 0, 21), 0, MIN),
        Ok(Admitted::Evicted { old: vec![evicted] })
    );
    assert_eq!(p.len(), 3);
}

#[test]
fn pruning_drops_what_a_block_committed() {
    let mut p = pool(100);
    for n in 0..5 {
        p.insert(tx(0, n, 50), 0, MIN).unwrap();
    }
    assert_eq!(p.prune(&key(0).account(), 3).len(), 3);
    let left: Vec<u64> = p
        .select(10, usize::MAX, |_| 3)
        .iter()
        .map(|s| s.tx.nonce)
        .collect();
    assert_eq!(left, vec![3, 4]);
}

#[derive(Clone, Debug)]
enum Op {
    Insert { signer: u8, ahead: u8, fee: u16 },
    Commit { signer: u8, n: u8 },
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn bounds_hold_refusals_change_nothing_and_proposals_are_executable(
        ops in prop::collection::vec(prop_oneof![
            4 => (0u8..6, 0u8..6, 0u16..200).prop_map(|(signer, ahead, fee)| Op::Insert { signer, ahead, fee }),
            1 => (0u8..6, 0u8..4).prop_map(|(signer, n)| Op::Commit { signer, n }),
        ], 1..120),
        max_txs in 1usize..12,
    ) {
        let limits = Limits { max_txs, max_per_account: 4, max_nonce_ahead: 4, ..Limits::default() };
        let mut p = Mempool::new(limits);
        let mut next = [0u64; 6];
        let accounts: Vec<AccountId> = (0..6u8).map(|i| key(i).account()).collect();
        let index = |a: &AccountId| accounts.iter().position(|x| x == a).unwrap();
        for op in ops {
            match op {
                Op::Insert { signer, ahead, fee } => {
                    let (len, bytes) = (p.len(), p.bytes());
                    let stx = tx(signer, next[usize::from(signer)] + u64::from(ahead), u128::from(fee));
                    match p.insert(stx.clone(), next[usize::from(signer)], MIN) {
                        Ok(_) => prop_assert!(p.contains(&stx.hash())),
                        Err(_) => prop_assert_eq!((p.len(), p.bytes()), (len, bytes)),
                    }
                }
                Op::Commit { signer, n } => {
                    next[usize::from(signer)] += u64::from(n);
                    p.prune(&accounts[usize::from(signer)], next[usize::from(signer)]);
                }
            }
            prop_assert!(p.len() <= max_txs);
            // A proposal is executable in order: per account, consecutive nonces from the next.
            let proposal = p.select(usize::MAX, usize::MAX, |a| next[index(a)]);
            let mut expected = next;
            for stx in &proposal {
                let i = index(&stx.tx.signer);
                prop_assert_eq!(stx.tx.nonce, expected[i]);
                expected[i] += 1;
            }
        }
    }
}
