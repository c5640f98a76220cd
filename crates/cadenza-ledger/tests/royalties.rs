//! Exact royalties: seven holders with uneven shares earn from 10,001 streams at prices that do
//! not divide evenly, while shares change hands and holders claim along the way. Every base unit
//! is accounted for, checked against an independent computation written here from first
//! principles (pro-rata by shares held at each stream, floor only at the end).

mod common;

use std::collections::BTreeMap;

use cadenza_ledger::records::{Position, keys};
use cadenza_ledger::testkit::Wallet;
use cadenza_ledger::{Event, StateView, TxError, query, treasury};
use cadenza_types::{AccountId, Action, Amount, AssetId, ChannelId, Decode, TrackId};
use common::*;

const PRICE: u128 = 1_003;
const TOTAL: u128 = 1_000_000;

/// The independent model: shares held, exact entitlement (base units × shares), claims.
#[derive(Default)]
struct Model {
    shares: BTreeMap<AccountId, u128>,
    entitled: BTreeMap<AccountId, u128>,
    claimed: BTreeMap<AccountId, u128>,
    revenue: u128,
    protocol_fees: u128,
    provider_fees: u128,
}

impl Model {
    fn stream(&mut self, amount: u128) {
        let protocol = amount * 137 / 10_000;
        let provider = amount * 1_013 / 10_000;
        let to_vault = amount - protocol - provider;
        self.protocol_fees += protocol;
        self.provider_fees += provider;
        self.revenue += to_vault;
        for (holder, shares) in &self.shares {
            *self.entitled.entry(*holder).or_default() += to_vault * shares;
        }
    }

    fn transfer(&mut self, from: AccountId, to: AccountId, n: u128) {
        *self.shares.get_mut(&from).unwrap() -= n;
        *self.shares.entry(to).or_default() += n;
    }

    /// What a claim now pays: everything entitled, floored, minus what was already paid.
    fn claim(&mut self, who: AccountId) -> u128 {
        let due = self.entitled.get(&who).copied().unwrap_or(0) / TOTAL;
        let paid = self.claimed.entry(who).or_default();
        let now = due - *paid;
        *paid = due;
        now
    }
}

fn claim(
    chain: &mut cadenza_ledger::testkit::MemoryChain,
    w: &mut Wallet,
    track: TrackId,
    model: &mut Model,
) {
    let expected = model.claim(w.account());
    let outcome = chain
        .execute(vec![w.sign(Action::Claim {
            track,
            asset: cusd(),
        })])
        .remove(0);
    if expected == 0 {
        assert_eq!(
            outcome.result,
            Err(TxError::NothingToClaim {
                track,
                asset: cusd()
            })
        );
        return;
    }
    assert_eq!(outcome.result, Ok(()), "claim by {}", w.account());
    assert_eq!(
        outcome.events,
        vec![Event::Claimed {
            track,
            asset: cusd(),
            holder: w.account(),
            amount: Amount::new(expected),
        }]
    );
}

#[test]
fn seven_holders_are_paid_exactly_through_trades_and_claims() {
    let share_split: [u32; 7] = [1, 7, 333, 4_444, 55_555, 299_999, 639_661];
    assert_eq!(
        share_split.iter().map(|s| u64::from(*s)).sum::<u64>(),
        1_000_000
    );
    let mut holders: Vec<Wallet> = (10..17).map(wallet).collect();
    let mut newcomer = wallet(17);
    let mut listener_wallets: Vec<Wallet> = (20..24).map(wallet).collect();
    let mut provider = wallet(30);

    let mut all: Vec<&Wallet> = holders.iter().collect();
    all.push(&newcomer);
    all.extend(listener_wallets.iter());
    all.push(&provider);
    let mut chain = new_chain(&all);

    // Registration by the largest holder, and one channel per listener.
    let holder_list: Vec<(AccountId, u32)> = holders
        .iter()
        .map(|w| w.account())
        .zip(share_split)
        .collect();
    let e = essence(7);
    let track = TrackId::from_essence(&e);
    let shares_asset = AssetId::shares(&track);
    let register = holders[6].sign(register_action(e, &holder_list, PRICE));
    let mut txs = vec![register];
    let mut listeners = Vec::new();
    for w in &mut listener_wallets {
        let nonce = w.nonce;
        txs.push(w.sign(Action::OpenChannel {
            provider: provider.account(),
            asset: cusd(),
            deposit: Amount::new(20_000_000),
            expiry_ms: GENESIS_MS + 86_400_000,
        }));
        listeners.push(Listener::new(
            w.key.clone(),
            ChannelId::derive(&w.account(), nonce),
        ));
    }
    assert_ok(&chain.execute(txs));

    let mut model = Model::default();
    for (account, shares) in &holder_list {
        model.shares.insert(*account, u128::from(*shares));
    }
    let mut rng = SplitMix(2026);
    let mut paid_by_listener = vec![0u128; listeners.len()];

    let rounds = [1usize, 2_500, 3_333, 4_167];
    assert_eq!(rounds.iter().sum::<usize>(), 10_001);
    for (round, &n_streams) in rounds.iter().enumerate() {
        // Streams of this round, spread over the listeners, settled in one transaction.
        let now = chain.next_time_ms;
        let mut per_listener: Vec<Vec<cadenza_types::Receipt>> = vec![Vec::new(); listeners.len()];
        for i in 0..n_streams {
            let amount = u128::from(rng.range(PRICE as u64, 3 * PRICE as u64));
            model.stream(amount);
            paid_by_listener[i % listeners.len()] += amount;
            per_listener[i % listeners.len()].push(Listener::receipt(track, amount, now));
        }
        let updates: Vec<_> = listeners
            .iter_mut()
            .zip(per_listener)
            .filter(|(_, r)| !r.is_empty())
            .map(|(l, receipts)| l.pay(receipts))
            .collect();
        assert_ok(&chain.execute(vec![provider.sign(Action::SettleChannels { updates })]));

        // Shares change hands between rounds, and some holders claim midway.
        match round {
            0 => {
                let (from, to) = (holders[5].account(), holders[0].account());
                assert_ok(&chain.execute(vec![holders[5].sign(Action::Transfer {
                    to,
                    asset: shares_asset,
                    amount: Amount::new(100_000),
                })]));
                model.transfer(from, to, 100_000);
                let to = newcomer.account();
                assert_ok(&chain.execute(vec![holders[5].sign(Action::Transfer {
                    to,
                    asset: shares_asset,
                    amount: Amount::new(50_001),
                })]));
                model.transfer(from, to, 50_001);
            }
            1 => {
                for i in [1, 3, 5] {
                    claim(&mut chain, &mut holders[i], track, &mut model);
                }
                let (from, to) = (holders[6].account(), newcomer.account());
                assert_ok(&chain.execute(vec![holders[6].sign(Action::Transfer {
                    to,
                    asset: shares_asset,
                    amount: Amount::new(639_661),
                })]));
                model.transfer(from, to, 639_661);
            }
            2 => {
                claim(&mut chain, &mut newcomer, track, &mut model);
                let (from, to) = (newcomer.account(), holders[2].account());
                assert_ok(&chain.execute(vec![newcomer.sign(Action::Transfer {
                    to,
                    asset: shares_asset,
                    amount: Amount::new(123_457),
                })]));
                model.transfer(from, to, 123_457);
            }
            _ => {}
        }
    }

    // Everyone claims what is left.
    for w in holders.iter_mut().chain(std::iter::once(&mut newcomer)) {
        claim(&mut chain, w, track, &mut model);
    }
    // Listeners close and, after the challenge window, withdraw the rest.
    let closes = listener_wallets
        .iter_mut()
        .zip(&listeners)
        .map(|(w, l)| w.sign(Action::CloseChannel { channel: l.channel }))
        .collect();
    assert_ok(&chain.execute(closes));
    chain.advance_ms(params().challenge_window_ms);
    let withdrawals = listener_wallets
        .iter_mut()
        .zip(&listeners)
        .map(|(w, l)| w.sign(Action::Withdraw { channel: l.channel }))
        .collect();
    assert_ok(&chain.execute(withdrawals));

    let state = &chain.state;
    // Each holder was paid exactly floor(entitlement / 1,000,000), and carries the remainder.
    let mut claims_total = 0;
    for w in holders.iter().chain(std::iter::once(&newcomer)) {
        let who = w.account();
        let entitled = model.entitled.get(&who).copied().unwrap_or(0);
        let claimed = model.claimed.get(&who).copied().unwrap_or(0);
        assert_eq!(claimed, entitled / TOTAL, "holder {who}");
        assert_eq!(
            balance(state, &who, &cusd()),
            FUNDS + claimed,
            "holder {who}"
        );
        let position = state
            .get(&keys::position(&track, &cusd(), &who))
            .map(|b| Position::from_bytes(&b).unwrap())
            .unwrap_or_default();
        assert_eq!(
            position.owed,
            cadenza_types::U256::from(entitled % TOTAL),
            "carried remainder of {who}"
        );
        assert_eq!(query::claimable(state, &track, &cusd(), &who), Amount::ZERO);
        claims_total += claimed;
    }
    // Claims plus what the vault still carries equal the track's revenue to the base unit, and
    // the vault carries exactly the holders' fractional remainders.
    let dist = query::distribution(state, &track, &cusd());
    assert_eq!(claims_total + dist.vault, model.revenue);
    let remainders: u128 = model.entitled.values().map(|e| e % TOTAL).sum();
    assert_eq!(dist.vault * TOTAL, remainders);
    assert!(
        dist.vault < 8,
        "at most one base unit per holder is carried"
    );

    // Fees and listeners, to the base unit.
    assert_eq!(balance(state, &treasury(), &cusd()), model.protocol_fees);
    assert_eq!(
        balance(state, &provider.account(), &cusd()),
        FUNDS + model.provider_fees
    );
    for (w, paid) in listener_wallets.iter().zip(&paid_by_listener) {
        assert_eq!(balance(state, &w.account(), &cusd()), FUNDS - paid);
    }
    assert_eq!(
        model.revenue + model.protocol_fees + model.provider_fees,
        paid_by_listener.iter().sum::<u128>()
    );
    assert_eq!(query::track_streams(state, &track), 10_001);
    cadenza_ledger::conservation::audit(state.iter()).unwrap();
}
