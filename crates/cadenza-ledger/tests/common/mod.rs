//! Shared fixtures for the ledger's tests: a genesis, wallets, tracks, and listeners that sign
//! receipts and vouchers the way a real client does.
#![allow(dead_code)]

use cadenza_ledger::testkit::{MemoryChain, Wallet};
use cadenza_ledger::{
    Genesis, GenesisAsset, GenesisFaucet, MemoryState, Params, StateView, TxOutcome,
    faucet_account, native_asset,
};
use cadenza_types::{
    AccountId, Action, Amount, AssetId, ChainId, ChannelId, ChannelUpdate, Hash, Holder, Licence,
    Price, Receipt, ReceiptChain, SecretKey, TrackId, TrackMetadata, Uses, Voucher,
};

pub const CHAIN: &str = "cadenza-test";
pub const FEE: u128 = 1_000;
pub const GENESIS_MS: u64 = 1_700_000_000_000;
pub const FUNDS: u128 = 1_000_000_000_000;

pub fn chain_id() -> ChainId {
    ChainId::new(CHAIN).unwrap()
}

pub fn cusd() -> AssetId {
    AssetId::genesis("CUSD")
}

pub fn seed(i: u64) -> [u8; 32] {
    let mut s = [0u8; 32];
    s[..8].copy_from_slice(&i.to_le_bytes());
    s[31] = 0xca;
    s
}

pub fn wallet(i: u64) -> Wallet {
    Wallet::new(seed(i), chain_id(), Amount::new(FEE))
}

pub fn proposer() -> AccountId {
    SecretKey::from_seed([0xb0; 32]).account()
}

/// Parameters with round-unfriendly fees so rounding is exercised everywhere.
pub fn params() -> Params {
    Params {
        min_fee: Amount::new(FEE),
        protocol_fee_bps: 137,
        provider_fee_bps: 1_013,
        challenge_window_ms: 60_000,
        min_play_ms: 30_000,
        epoch_ms: 3_600_000,
        max_receipts_per_tx: 100_000,
        faucet: None,
    }
}

/// A genesis where each of `accounts` holds `FUNDS` CDZ and CUSD, and a faucet holds more.
pub fn genesis(accounts: &[AccountId]) -> Genesis {
    let mut balances: Vec<(AccountId, Amount)> =
        accounts.iter().map(|a| (*a, Amount::new(FUNDS))).collect();
    balances.push((faucet_account(), Amount::new(FUNDS * 100)));
    Genesis {
        chain_id: chain_id(),
        time_ms: GENESIS_MS,
        params: params(),
        assets: vec![
            GenesisAsset {
                symbol: "CDZ".into(),
                decimals: 9,
                balances: balances.clone(),
            },
            GenesisAsset {
                symbol: "CUSD".into(),
                decimals: 6,
                balances,
            },
        ],
        faucet: Some(GenesisFaucet {
            drips: vec![
                ("CDZ".into(), Amount::new(5_000_000)),
                ("CUSD".into(), Amount::new(1_000_000)),
            ],
            cooldown_ms: 3_600_000,
        }),
    }
}

pub fn new_chain(wallets: &[&Wallet]) -> MemoryChain {
    let accounts: Vec<AccountId> = wallets.iter().map(|w| w.account()).collect();
    MemoryChain::new(&genesis(&accounts), proposer())
}

pub fn licence(price: u128) -> Licence {
    Licence {
        price: Price {
            asset: cusd(),
            amount: Amount::new(price),
        },
        uses: Uses::STREAM.with(Uses::DOWNLOAD),
        territories: vec![],
        valid_from_ms: 0,
        valid_until_ms: None,
        url: "https://creativecommons.org/licenses/by-nc/4.0/".into(),
        min_play_ms: 0,
    }
}

pub fn essence(i: u64) -> Hash {
    cadenza_types::hash::hash(cadenza_types::Domain::State, &i.to_le_bytes())
}

pub fn register_action(essence_id: Hash, holders: &[(AccountId, u32)], price: u128) -> Action {
    Action::RegisterTrack {
        essence_id,
        blob_id: essence_id,
        metadata: TrackMetadata {
            title: "Night Drive".into(),
            artist: "The Test Pattern".into(),
            isrc: Some("GBAYE2400001".into()),
        },
        licence: licence(price),
        holders: holders
            .iter()
            .map(|(account, shares)| Holder {
                account: *account,
                shares: *shares,
            })
            .collect(),
    }
}

/// A listener's off-chain view of one channel: what it has signed so far.
#[derive(Clone, Debug)]
pub struct Listener {
    pub key: SecretKey,
    pub channel: ChannelId,
    pub seq: u64,
    pub cumulative: Amount,
    pub head: Hash,
}

impl Listener {
    pub fn new(key: SecretKey, channel: ChannelId) -> Listener {
        Listener {
            key,
            channel,
            seq: 0,
            cumulative: Amount::ZERO,
            head: ReceiptChain::start(&channel),
        }
    }

    pub fn receipt(track: TrackId, amount: u128, at_ms: u64) -> Receipt {
        Receipt {
            track,
            amount: Amount::new(amount),
            played_ms: 31_000,
            at_ms,
        }
    }

    /// Appends receipts and signs a voucher over everything so far.
    pub fn pay(&mut self, receipts: Vec<Receipt>) -> ChannelUpdate {
        for r in &receipts {
            self.seq += 1;
            self.cumulative = self.cumulative.checked_add(r.amount).unwrap();
            self.head = ReceiptChain::next(&self.head, r);
        }
        let voucher = Voucher {
            chain_id: chain_id(),
            channel: self.channel,
            seq: self.seq,
            cumulative: self.cumulative,
            head: self.head,
        }
        .sign(&self.key);
        ChannelUpdate { voucher, receipts }
    }
}

pub fn assert_ok(outcomes: &[TxOutcome]) {
    for (i, o) in outcomes.iter().enumerate() {
        assert_eq!(o.result, Ok(()), "transaction {i} failed");
    }
}

/// Every entry of the state except the chain metadata (height and time change every block).
pub fn entries_without_meta(state: &MemoryState) -> Vec<(Vec<u8>, Vec<u8>)> {
    state
        .iter()
        .filter(|(k, _)| *k != cadenza_ledger::records::keys::meta().as_slice())
        .map(|(k, v)| (k.to_vec(), v.to_vec()))
        .collect()
}

/// The state `before`, with only the fee rule applied for `stx`, refused with `error` alone in
/// block `height`: the signer's nonce + 1, the fee moved to the proposer, and the transaction's
/// record.
pub fn with_fee_charged(
    before: &MemoryState,
    stx: &cadenza_types::SignedTransaction,
    error: &cadenza_ledger::TxError,
    height: u64,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    use cadenza_ledger::records::{Account, TxRecord, keys};
    use cadenza_types::{Decode, Encode};
    let signer = &stx.tx.signer;
    let fee = stx.tx.fee.get();
    let mut expected: std::collections::BTreeMap<Vec<u8>, Vec<u8>> =
        entries_without_meta(before).into_iter().collect();
    expected.insert(
        keys::tx(&stx.hash()),
        TxRecord::new(height, 0, Amount::new(fee), Some(error)).to_bytes(),
    );
    let acc_key = keys::account(signer);
    let mut account = expected
        .get(&acc_key)
        .map(|b| Account::from_bytes(b).unwrap())
        .unwrap_or_default();
    account.nonce += 1;
    expected.insert(acc_key, account.to_bytes());
    let move_native = |expected: &mut std::collections::BTreeMap<Vec<u8>, Vec<u8>>,
                       who: &AccountId,
                       delta: i128| {
        let key = keys::balance(who, &native_asset());
        let have = expected
            .get(&key)
            .map_or(0, |b| u128::from_bytes(b).unwrap());
        let new = (have as i128 + delta) as u128;
        if new == 0 {
            expected.remove(&key);
        } else {
            expected.insert(key, new.to_bytes());
        }
    };
    move_native(&mut expected, signer, -(fee as i128));
    move_native(&mut expected, &proposer(), fee as i128);
    expected.into_iter().collect()
}

pub fn balance(state: &dyn StateView, who: &AccountId, asset: &AssetId) -> u128 {
    cadenza_ledger::query::balance(state, who, asset).get()
}

/// A small deterministic generator (splitmix64) so tests need no randomness crate.
#[derive(Clone, Debug)]
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
}
