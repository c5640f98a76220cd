//! Every rule the ledger enforces, broken once: the transaction is refused with the error naming
//! that rule, and the state changes by nothing beyond the fee rule (no change at all for
//! authentication failures; fee and nonce only for rule failures).

mod common;

use cadenza_ledger::testkit::{MemoryChain, Wallet};
use cadenza_ledger::{SettleError, TxError};
use cadenza_types::{Action, Amount, ChainId, ChannelId, Signature, SignedTransaction, TrackId};
use common::*;

struct Setup {
    chain: MemoryChain,
    artist: Wallet,
    listener_wallet: Wallet,
    provider: Wallet,
    track: TrackId,
    listener: Listener,
}

const PRICE: u128 = 1_003;
const DEPOSIT: u128 = 100_000;

fn setup() -> Setup {
    let mut artist = wallet(1);
    let mut listener_wallet = wallet(2);
    let provider = wallet(3);
    let mut chain = new_chain(&[&artist, &listener_wallet, &provider]);
    let e = essence(1);
    let track = TrackId::from_essence(&e);
    let register = artist.sign(register_action(e, &[(artist.account(), 1_000_000)], PRICE));
    let open_nonce = listener_wallet.nonce;
    let open = listener_wallet.sign(Action::OpenChannel {
        provider: provider.account(),
        asset: cusd(),
        deposit: Amount::new(DEPOSIT),
        expiry_ms: GENESIS_MS + 86_400_000,
    });
    assert_ok(&chain.execute(vec![register, open]));
    let channel = ChannelId::derive(&listener_wallet.account(), open_nonce);
    let listener = Listener::new(listener_wallet.key.clone(), channel);
    Setup {
        chain,
        artist,
        listener_wallet,
        provider,
        track,
        listener,
    }
}

/// Executes `stx` alone in a block and checks the error and the state afterwards.
fn expect_refused(chain: &mut MemoryChain, stx: SignedTransaction, expected: TxError) {
    let before = chain.state.clone();
    let fee = stx.tx.fee.get();
    let outcome = chain.execute(vec![stx.clone()]).remove(0);
    let height = cadenza_ledger::query::meta(&chain.state).unwrap().height;
    assert_eq!(outcome.result, Err(expected.clone()));
    assert!(outcome.events.is_empty());
    let after = entries_without_meta(&chain.state);
    if expected.charges_fee() {
        assert_eq!(outcome.fee_paid.get(), fee);
        assert_eq!(
            after,
            with_fee_charged(&before, &stx, &expected, height),
            "only the fee rule may change state"
        );
    } else {
        assert_eq!(outcome.fee_paid, Amount::ZERO);
        assert_eq!(
            after,
            entries_without_meta(&before),
            "a refused transaction changes nothing"
        );
    }
    cadenza_ledger::conservation::audit(chain.state.iter()).unwrap();
}

fn settle_refused(s: &mut Setup, update: cadenza_types::ChannelUpdate, error: SettleError) {
    let stx = s.provider.sign(Action::SettleChannels {
        updates: vec![update],
    });
    expect_refused(&mut s.chain, stx, TxError::Settlement { index: 0, error });
}

fn at(s: &Setup) -> u64 {
    s.chain.next_time_ms
}

#[test]
fn a_replayed_transaction_is_refused_as_stale() {
    let mut s = setup();
    let transfer = s.artist.sign(Action::Transfer {
        to: s.provider.account(),
        asset: cusd(),
        amount: Amount::new(5),
    });
    assert_ok(&s.chain.execute(vec![transfer.clone()]));
    let expected = transfer.tx.nonce + 1;
    expect_refused(
        &mut s.chain,
        transfer.clone(),
        TxError::StaleNonce {
            expected,
            found: transfer.tx.nonce,
        },
    );
}

#[test]
fn a_replay_inside_the_same_block_is_refused() {
    let mut s = setup();
    let transfer = s.artist.sign(Action::Transfer {
        to: s.provider.account(),
        asset: cusd(),
        amount: Amount::new(5),
    });
    let outcomes = s.chain.execute(vec![transfer.clone(), transfer.clone()]);
    assert_eq!(outcomes[0].result, Ok(()));
    assert_eq!(
        outcomes[1].result,
        Err(TxError::StaleNonce {
            expected: transfer.tx.nonce + 1,
            found: transfer.tx.nonce
        })
    );
}

#[test]
fn a_reused_nonce_is_refused() {
    let mut s = setup();
    let first = s.artist.sign(Action::Transfer {
        to: s.provider.account(),
        asset: cusd(),
        amount: Amount::new(5),
    });
    assert_ok(&s.chain.execute(vec![first.clone()]));
    let mut tx = first.tx.clone();
    tx.action = Action::Transfer {
        to: s.listener_wallet.account(),
        asset: cusd(),
        amount: Amount::new(7),
    };
    let second = tx.sign(&s.artist.key);
    expect_refused(
        &mut s.chain,
        second,
        TxError::StaleNonce {
            expected: first.tx.nonce + 1,
            found: first.tx.nonce,
        },
    );
}

#[test]
fn a_nonce_from_the_future_is_refused() {
    let mut s = setup();
    s.artist.nonce += 1;
    let stx = s.artist.sign(Action::Faucet);
    expect_refused(
        &mut s.chain,
        stx,
        TxError::FutureNonce {
            expected: 1,
            found: 2,
        },
    );
}

#[test]
fn a_wrong_chain_id_is_refused() {
    let mut s = setup();
    let mut tx = s.artist.tx(Action::Faucet);
    tx.chain_id = ChainId::new("cadenza-other").unwrap();
    let stx = tx.sign(&s.artist.key);
    expect_refused(
        &mut s.chain,
        stx,
        TxError::WrongChain {
            expected: chain_id(),
            found: ChainId::new("cadenza-other").unwrap(),
        },
    );
}

#[test]
fn a_signature_by_another_key_is_refused() {
    let mut s = setup();
    let tx = s.artist.tx(Action::Transfer {
        to: s.provider.account(),
        asset: cusd(),
        amount: Amount::new(5),
    });
    let stx = tx.sign(&s.listener_wallet.key);
    expect_refused(&mut s.chain, stx, TxError::BadSignature);
}

/// ℓ, the order of the ed25519 base point, little-endian.
const ELL: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

fn add_ell(sig: &Signature) -> Signature {
    let mut out = sig.0;
    let mut carry = 0u16;
    for i in 0..32 {
        let v = u16::from(out[32 + i]) + u16::from(ELL[i]) + carry;
        out[32 + i] = v as u8;
        carry = v >> 8;
    }
    assert_eq!(carry, 0, "s + ℓ fits in 256 bits");
    Signature(out)
}

#[test]
fn a_malleated_signature_s_plus_ell_is_refused() {
    let mut s = setup();
    let mut stx = s.artist.sign(Action::Transfer {
        to: s.provider.account(),
        asset: cusd(),
        amount: Amount::new(5),
    });
    // Same R, s + ℓ: the same point equation, but s is no longer canonical. ZIP-215 rejects it.
    stx.signature = add_ell(&stx.signature);
    expect_refused(&mut s.chain, stx, TxError::BadSignature);
}

#[test]
fn a_signature_with_non_canonical_s_is_refused() {
    let mut s = setup();
    let mut stx = s.artist.sign(Action::Faucet);
    stx.signature.0[63] |= 0xe0;
    expect_refused(&mut s.chain, stx, TxError::BadSignature);
}

#[test]
fn a_small_order_signer_is_refused_though_its_forged_signature_verifies() {
    let mut s = setup();
    // The identity point: under ZIP-215, R = identity and s = 0 verify for every message.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let signer = cadenza_types::AccountId(identity);
    let tx = cadenza_types::Transaction {
        chain_id: chain_id(),
        signer,
        nonce: 0,
        fee: Amount::new(FEE),
        action: Action::Faucet,
    };
    let mut forged = [0u8; 64];
    forged[0] = 1;
    let forged = Signature(forged);
    assert!(cadenza_types::crypto::verify(&signer, tx.hash().as_bytes(), &forged).is_ok());
    let stx = SignedTransaction {
        tx,
        signature: forged,
    };
    expect_refused(&mut s.chain, stx, TxError::SmallOrderKey);
}

#[test]
fn a_fee_below_the_minimum_is_refused() {
    let mut s = setup();
    let mut tx = s.artist.tx(Action::Transfer {
        to: s.provider.account(),
        asset: cusd(),
        amount: Amount::new(5),
    });
    tx.fee = Amount::new(FEE - 1);
    let stx = tx.sign(&s.artist.key);
    expect_refused(
        &mut s.chain,
        stx,
        TxError::FeeTooLow {
            min: Amount::new(FEE),
            offered: Amount::new(FEE - 1),
        },
    );
}

#[test]
fn an_account_without_native_funds_cannot_pay_a_fee() {
    let mut s = setup();
    let mut stranger = wallet(99);
    let stx = stranger.sign(Action::Transfer {
        to: s.provider.account(),
        asset: cusd(),
        amount: Amount::new(5),
    });
    expect_refused(
        &mut s.chain,
        stx,
        TxError::CannotPayFee {
            needed: Amount::new(FEE),
            available: Amount::ZERO,
        },
    );
}

#[test]
fn an_overdrawn_transfer_is_refused_and_says_what_is_missing() {
    let mut s = setup();
    let stx = s.artist.sign(Action::Transfer {
        to: s.provider.account(),
        asset: cusd(),
        amount: Amount::new(FUNDS + 1),
    });
    let err = TxError::InsufficientBalance {
        asset: cusd(),
        needed: Amount::new(FUNDS + 1),
        available: Amount::new(FUNDS),
    };
    assert!(err.to_string().contains("missing 1"), "{err}");
    expect_refused(&mut s.chain, stx, err);
}

#[test]
fn a_voucher_with_a_lower_seq_is_refused() {
    let mut s = setup();
    let t = at(&s);
    let old = s.listener.pay(vec![Listener::receipt(s.track, PRICE, t)]);
    let mut newer = s.listener.pay(vec![Listener::receipt(s.track, PRICE, t)]);
    // Settlement carries every receipt since the last settled voucher.
    newer.receipts.insert(0, old.receipts[0]);
    let settle = s.provider.sign(Action::SettleChannels {
        updates: vec![newer],
    });
    assert_ok(&s.chain.execute(vec![settle]));
    settle_refused(
        &mut s,
        old,
        SettleError::VoucherNotNewer {
            last_seq: 2,
            seq: 1,
            last_cumulative: Amount::new(2 * PRICE),
            cumulative: Amount::new(PRICE),
        },
    );
}

#[test]
fn a_voucher_with_a_lower_cumulative_is_refused() {
    let mut s = setup();
    let t = at(&s);
    let first = s
        .listener
        .pay(vec![Listener::receipt(s.track, PRICE * 2, t)]);
    assert_ok(
        &s.chain
            .execute(vec![s.provider.sign(Action::SettleChannels {
                updates: vec![first],
            })]),
    );
    // A higher seq whose cumulative does not rise: forged by rewinding the listener's total.
    s.listener.cumulative = Amount::new(PRICE);
    let update = s.listener.pay(vec![Listener::receipt(s.track, 0, t)]);
    settle_refused(
        &mut s,
        update,
        SettleError::VoucherNotNewer {
            last_seq: 1,
            seq: 2,
            last_cumulative: Amount::new(PRICE * 2),
            cumulative: Amount::new(PRICE),
        },
    );
}

#[test]
fn receipts_that_do_not_hash_to_the_signed_head_are_refused() {
    let mut s = setup();
    let t = at(&s);
    let mut update = s.listener.pay(vec![
        Listener::receipt(s.track, PRICE, t),
        Listener::receipt(s.track, PRICE, t + 40_000),
    ]);
    update.receipts[1].played_ms += 1;
    settle_refused(&mut s, update, SettleError::HeadMismatch);
}

#[test]
fn receipts_summing_to_another_amount_are_refused() {
    let mut s = setup();
    let t = at(&s);
    let mut update = s.listener.pay(vec![Listener::receipt(s.track, PRICE, t)]);
    // The listener signs a cumulative above what the receipts add up to.
    update.voucher = cadenza_types::Voucher {
        cumulative: Amount::new(PRICE + 1),
        ..update.voucher.voucher
    }
    .sign(&s.listener.key);
    settle_refused(
        &mut s,
        update,
        SettleError::SumMismatch {
            receipts_total: Amount::new(PRICE),
            voucher_delta: Amount::new(PRICE + 1),
        },
    );
}

#[test]
fn a_cumulative_above_the_deposit_is_refused() {
    let mut s = setup();
    let t = at(&s);
    let update = s
        .listener
        .pay(vec![Listener::receipt(s.track, DEPOSIT + 1, t)]);
    settle_refused(
        &mut s,
        update,
        SettleError::AboveDeposit {
            cumulative: Amount::new(DEPOSIT + 1),
            deposit: Amount::new(DEPOSIT),
        },
    );
}

#[test]
fn a_play_below_the_minimum_time_is_refused() {
    let mut s = setup();
    let t = at(&s);
    let mut receipt = Listener::receipt(s.track, PRICE, t);
    receipt.played_ms = 29_999;
    let update = s.listener.pay(vec![receipt]);
    settle_refused(
        &mut s,
        update,
        SettleError::PlayTooShort {
            index: 0,
            min_ms: 30_000,
            played_ms: 29_999,
        },
    );
}

#[test]
fn a_price_below_the_licence_is_refused() {
    let mut s = setup();
    let t = at(&s);
    let update = s.listener.pay(vec![
        Listener::receipt(s.track, PRICE, t),
        Listener::receipt(s.track, PRICE - 1, t),
    ]);
    settle_refused(
        &mut s,
        update,
        SettleError::PriceNotMet {
            index: 1,
            price: Amount::new(PRICE),
            paid: Amount::new(PRICE - 1),
        },
    );
}

#[test]
fn a_receipt_for_an_unknown_track_is_refused() {
    let mut s = setup();
    let t = at(&s);
    let unknown = TrackId::from_essence(&essence(404));
    let update = s.listener.pay(vec![Listener::receipt(unknown, PRICE, t)]);
    settle_refused(
        &mut s,
        update,
        SettleError::UnknownTrack {
            index: 0,
            track: unknown,
        },
    );
}

#[test]
fn a_voucher_signed_by_someone_else_is_refused() {
    let mut s = setup();
    let t = at(&s);
    s.listener.key = s.artist.key.clone();
    let update = s.listener.pay(vec![Listener::receipt(s.track, PRICE, t)]);
    settle_refused(&mut s, update, SettleError::BadVoucherSignature);
}

#[test]
fn a_voucher_for_another_chain_is_refused() {
    let mut s = setup();
    let t = at(&s);
    let mut update = s.listener.pay(vec![Listener::receipt(s.track, PRICE, t)]);
    update.voucher = cadenza_types::Voucher {
        chain_id: ChainId::new("cadenza-other").unwrap(),
        ..update.voucher.voucher
    }
    .sign(&s.listener.key);
    settle_refused(
        &mut s,
        update,
        SettleError::WrongChain {
            found: ChainId::new("cadenza-other").unwrap(),
        },
    );
}

#[test]
fn settling_after_the_challenge_window_is_refused() {
    let mut s = setup();
    let t = at(&s);
    let update = s.listener.pay(vec![Listener::receipt(s.track, PRICE, t)]);
    let close = s.listener_wallet.sign(Action::CloseChannel {
        channel: s.listener.channel,
    });
    let closed_at = s.chain.next_time_ms;
    assert_ok(&s.chain.execute(vec![close]));
    // Inside the window the voucher still settles; a copy of the same update after it does not.
    s.chain.advance_ms(params().challenge_window_ms);
    let ended_ms = closed_at + params().challenge_window_ms;
    let channel = s.listener.channel;
    settle_refused(
        &mut s,
        update,
        SettleError::WindowClosed { channel, ended_ms },
    );
}

#[test]
fn the_latest_voucher_settles_inside_the_challenge_window() {
    let mut s = setup();
    let t = at(&s);
    let update = s.listener.pay(vec![Listener::receipt(s.track, PRICE, t)]);
    let close = s.listener_wallet.sign(Action::CloseChannel {
        channel: s.listener.channel,
    });
    assert_ok(&s.chain.execute(vec![close]));
    let withdraw_early = s.listener_wallet.sign(Action::Withdraw {
        channel: s.listener.channel,
    });
    let outcome = s.chain.execute(vec![withdraw_early]).remove(0);
    assert!(matches!(outcome.result, Err(TxError::WindowOpen { .. })));
    let settle = s.provider.sign(Action::SettleChannels {
        updates: vec![update],
    });
    assert_ok(&s.chain.execute(vec![settle]));
}

#[test]
fn the_same_channel_twice_in_one_settlement_is_refused() {
    let mut s = setup();
    let t = at(&s);
    let a = s.listener.pay(vec![Listener::receipt(s.track, PRICE, t)]);
    let b = s.listener.pay(vec![Listener::receipt(s.track, PRICE, t)]);
    let stx = s.provider.sign(Action::SettleChannels {
        updates: vec![a, b],
    });
    let channel = s.listener.channel;
    expect_refused(
        &mut s.chain,
        stx,
        TxError::Settlement {
            index: 1,
            error: SettleError::DuplicateChannel(channel),
        },
    );
}

#[test]
fn a_receipt_count_that_does_not_match_the_seq_is_refused() {
    let mut s = setup();
    let t = at(&s);
    let mut update = s.listener.pay(vec![
        Listener::receipt(s.track, PRICE, t),
        Listener::receipt(s.track, PRICE, t),
    ]);
    update.receipts.pop();
    settle_refused(
        &mut s,
        update,
        SettleError::ReceiptCountMismatch {
            expected: 2,
            found: 1,
        },
    );
}

#[test]
fn shares_that_do_not_sum_to_a_million_are_refused() {
    let mut s = setup();
    let stx = s.artist.sign(register_action(
        essence(2),
        &[
            (s.artist.account(), 600_000),
            (s.provider.account(), 399_999),
        ],
        PRICE,
    ));
    expect_refused(
        &mut s.chain,
        stx,
        TxError::SharesSumMismatch { sum: 999_999 },
    );
}

#[test]
fn registering_the_same_essence_twice_is_refused() {
    let mut s = setup();
    let stx = s.provider.sign(register_action(
        essence(1),
        &[(s.provider.account(), 1_000_000)],
        PRICE,
    ));
    expect_refused(&mut s.chain, stx, TxError::TrackExists(s.track));
}

#[test]
fn only_the_controller_updates_a_licence() {
    let mut s = setup();
    let stx = s.provider.sign(Action::UpdateLicence {
        track: s.track,
        licence: licence(1),
    });
    let controller = s.artist.account();
    expect_refused(&mut s.chain, stx, TxError::NotController { controller });
}

#[test]
fn royalty_shares_cannot_be_burned() {
    let mut s = setup();
    let shares = cadenza_types::AssetId::shares(&s.track);
    let stx = s.artist.sign(Action::Burn {
        asset: shares,
        amount: Amount::new(1),
    });
    expect_refused(&mut s.chain, stx, TxError::FixedSupply(shares));
}

#[test]
fn a_claim_with_nothing_earned_is_refused() {
    let mut s = setup();
    let stx = s.artist.sign(Action::Claim {
        track: s.track,
        asset: cusd(),
    });
    let track = s.track;
    expect_refused(
        &mut s.chain,
        stx,
        TxError::NothingToClaim {
            track,
            asset: cusd(),
        },
    );
}

#[test]
fn the_faucet_pays_once_per_cooldown() {
    let mut s = setup();
    let mut newcomer = wallet(50);
    newcomer.fee = Amount::ZERO;
    let first = newcomer.sign(Action::Faucet);
    assert_ok(&s.chain.execute(vec![first]));
    assert_eq!(
        balance(&s.chain.state, &newcomer.account(), &cusd()),
        1_000_000
    );
    let second = newcomer.sign(Action::Faucet);
    let outcome = s.chain.execute(vec![second]).remove(0);
    assert!(matches!(
        outcome.result,
        Err(TxError::FaucetCooldown { .. })
    ));
}

#[test]
fn error_codes_are_stable_snake_case() {
    let errors = [
        TxError::BadSignature.code(),
        TxError::StaleNonce {
            expected: 1,
            found: 0,
        }
        .code(),
        TxError::Settlement {
            index: 0,
            error: SettleError::HeadMismatch,
        }
        .code(),
        TxError::Settlement {
            index: 0,
            error: SettleError::SumMismatch {
                receipts_total: Amount::ZERO,
                voucher_delta: Amount::ZERO,
            },
        }
        .code(),
    ];
    assert_eq!(
        errors,
        [
            "bad_signature",
            "stale_nonce",
            "head_mismatch",
            "sum_mismatch"
        ]
    );
}

#[test]
fn a_licence_change_applies_to_later_settlements_in_the_same_block() {
    let mut s = setup();
    let t = at(&s);
    let first = s.listener.pay(vec![Listener::receipt(s.track, PRICE, t)]);
    let second = s.listener.pay(vec![Listener::receipt(s.track, PRICE, t)]);
    let mut both = second.clone();
    both.receipts.insert(0, first.receipts[0]);
    let settle_first = s.provider.sign(Action::SettleChannels {
        updates: vec![first],
    });
    let raise = s.artist.sign(Action::UpdateLicence {
        track: s.track,
        licence: licence(PRICE + 1),
    });
    let settle_second = s.provider.sign(Action::SettleChannels {
        updates: vec![second],
    });
    let outcomes = s.chain.execute(vec![settle_first, raise, settle_second]);
    assert_eq!(outcomes[0].result, Ok(()));
    assert_eq!(outcomes[1].result, Ok(()));
    assert_eq!(
        outcomes[2].result,
        Err(TxError::Settlement {
            index: 0,
            error: SettleError::PriceNotMet {
                index: 0,
                price: Amount::new(PRICE + 1),
                paid: Amount::new(PRICE),
            },
        })
    );
}

#[test]
fn a_track_registered_mid_block_can_be_settled_later_in_that_block() {
    let mut s = setup();
    let t = at(&s);
    let e = essence(77);
    let fresh = TrackId::from_essence(&e);
    let early = s.listener.pay(vec![Listener::receipt(fresh, PRICE, t)]);
    let settle_early = s.provider.sign(Action::SettleChannels {
        updates: vec![early.clone()],
    });
    let register = s.artist.sign(register_action(
        e,
        &[(s.artist.account(), 1_000_000)],
        PRICE,
    ));
    let settle_late = s.provider.sign(Action::SettleChannels {
        updates: vec![early],
    });
    let outcomes = s.chain.execute(vec![settle_early, register, settle_late]);
    assert_eq!(
        outcomes[0].result,
        Err(TxError::Settlement {
            index: 0,
            error: SettleError::UnknownTrack {
                index: 0,
                track: fresh
            },
        })
    );
    assert_eq!(outcomes[1].result, Ok(()));
    assert_eq!(outcomes[2].result, Ok(()));
    assert_eq!(
        cadenza_ledger::query::track_streams(&s.chain.state, &fresh),
        1
    );
}

/// A caller that vouches for the signatures it verified itself (a node's mempool) gets the same
/// outcome as full verification; a signature it does not vouch for is still checked.
#[test]
fn vouched_signatures_give_the_outcome_of_full_verification() {
    let mut s = setup();
    let mut txs: Vec<SignedTransaction> = (0..6)
        .map(|i| {
            s.artist.sign(Action::Transfer {
                to: s.provider.account(),
                asset: cusd(),
                amount: Amount::new(i + 1),
            })
        })
        .collect();
    // The fourth is forged: the rest of the artist's run then fails on its nonce.
    txs[3].signature.0[0] ^= 1;
    let block = cadenza_ledger::Block {
        height: s.chain.height() + 1,
        time_ms: s.chain.next_time_ms,
        proposer: s.chain.proposer,
        txs: txs.clone(),
    };
    let full = cadenza_ledger::execute_block(&s.chain.state, &block).unwrap();
    assert_eq!(full.results[3].result, Err(TxError::BadSignature));
    // Vouching for the valid ones (every other one, and all of them) changes nothing.
    let forged = txs[3].signature;
    let vouch_valid = |_: &cadenza_types::Hash, stx: &SignedTransaction| stx.signature != forged;
    let vouch_even = |hash: &cadenza_types::Hash, stx: &SignedTransaction| {
        stx.signature != forged && hash.as_bytes()[0].is_multiple_of(2)
    };
    for checked in [
        &vouch_valid as &dyn Fn(&cadenza_types::Hash, &SignedTransaction) -> bool,
        &vouch_even,
    ] {
        let outcome =
            cadenza_ledger::execute_block_checked(&s.chain.state, &block, checked).unwrap();
        assert_eq!(outcome.results, full.results);
        assert_eq!(outcome.changes, full.changes);
    }
    // Lending remembered keys changes nothing either: cold, warm, and with a cache too small
    // for the block's signers (it starts afresh when full).
    struct Lender(cadenza_types::crypto::KeyCache);
    impl cadenza_ledger::Checked for Lender {
        fn vouched(&self, _: &cadenza_types::Hash, _: &SignedTransaction) -> bool {
            false
        }
        fn keys(&self) -> Option<&cadenza_types::crypto::KeyCache> {
            Some(&self.0)
        }
    }
    for capacity in [1_024, 1] {
        let lender = Lender(cadenza_types::crypto::KeyCache::new(capacity));
        for _ in 0..2 {
            let outcome =
                cadenza_ledger::execute_block_checked(&s.chain.state, &block, &lender).unwrap();
            assert_eq!(outcome.results, full.results);
            assert_eq!(outcome.changes, full.changes);
        }
        assert!(!lender.0.is_empty(), "the signers' keys were remembered");
    }
    // The predicate is asked with each transaction's signing hash.
    let asked = std::cell::RefCell::new(Vec::new());
    let record = |hash: &cadenza_types::Hash, _: &SignedTransaction| {
        asked.borrow_mut().push(*hash);
        false
    };
    cadenza_ledger::execute_block_checked(&s.chain.state, &block, &record).unwrap();
    let hashes: Vec<_> = txs.iter().map(SignedTransaction::hash).collect();
    assert_eq!(asked.into_inner(), hashes);
}
