//! Protocol parameters and the genesis configuration.

use cadenza_types::encoding::{Decode, DecodeError, Encode, Reader, Writer};
use cadenza_types::{AccountId, Action, Amount, AssetId, ChainId};

/// The symbol of the native asset, which pays fees.
pub const NATIVE_SYMBOL: &str = "CDZ";

/// The native asset's id.
pub fn native_asset() -> AssetId {
    AssetId::genesis(NATIVE_SYMBOL)
}

/// The treasury: a module account that receives protocol fees.
pub fn treasury() -> AccountId {
    AccountId::module("treasury")
}

/// The devnet faucet: a module account that pays out drips.
pub fn faucet_account() -> AccountId {
    AccountId::module("faucet")
}

/// The most assets one faucet drip pays.
pub const FAUCET_DRIPS_MAX: usize = 8;

/// A devnet faucet: what one drip pays and how often an account may ask.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaucetParams {
    /// Asset and amount pairs paid per drip, from the faucet account's balance.
    pub drips: Vec<(AssetId, Amount)>,
    /// The least time between two drips to one account.
    pub cooldown_ms: u64,
}

/// Protocol parameters (later changed by governance).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Params {
    /// The least fee, in native base units, a transaction must offer.
    pub min_fee: Amount,
    /// The share of each stream's payment that goes to the treasury, in basis points.
    pub protocol_fee_bps: u16,
    /// The share of each stream's payment that goes to the channel's provider, in basis points.
    pub provider_fee_bps: u16,
    /// How long after a channel closes its latest voucher may still be settled.
    pub challenge_window_ms: u64,
    /// The protocol's minimum play time for a stream to count (a licence may ask for more).
    pub min_play_ms: u32,
    /// The length of a play-count epoch, in block time.
    pub epoch_ms: u64,
    /// The most receipts one transaction may settle.
    pub max_receipts_per_tx: u32,
    /// The devnet faucet, if this chain has one.
    pub faucet: Option<FaucetParams>,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            min_fee: Amount::new(1_000),
            protocol_fee_bps: 100,
            provider_fee_bps: 1_000,
            challenge_window_ms: 24 * 3_600 * 1_000,
            min_play_ms: 30_000,
            epoch_ms: 24 * 3_600 * 1_000,
            max_receipts_per_tx: 1_000_000,
            faucet: None,
        }
    }
}

impl Params {
    /// The least fee a transaction with `action` must offer: `min_fee`, except the devnet
    /// faucet's drip, which is free where a faucet exists (a new account has nothing to pay
    /// with). Block execution and mempool admission both use this one rule.
    pub fn min_fee_for(&self, action: &Action) -> Amount {
        if matches!(action, Action::Faucet) && self.faucet.is_some() {
            Amount::ZERO
        } else {
            self.min_fee
        }
    }

    /// Checks the parameters' own consistency.
    pub fn validate(&self) -> Result<(), &'static str> {
        if u32::from(self.protocol_fee_bps) + u32::from(self.provider_fee_bps) > 10_000 {
            return Err("protocol_fee_bps + provider_fee_bps must not exceed 10000");
        }
        if self.epoch_ms == 0 {
            return Err("epoch_ms must be positive");
        }
        if let Some(f) = &self.faucet
            && f.drips.len() > FAUCET_DRIPS_MAX
        {
            return Err("a faucet pays at most 8 assets per drip");
        }
        Ok(())
    }
}

impl Encode for Params {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.min_fee.get().encode_to(out);
        self.protocol_fee_bps.encode_to(out);
        self.provider_fee_bps.encode_to(out);
        self.challenge_window_ms.encode_to(out);
        self.min_play_ms.encode_to(out);
        self.epoch_ms.encode_to(out);
        self.max_receipts_per_tx.encode_to(out);
        out.put_option(&self.faucet, |o, f| {
            o.put_len(f.drips.len());
            for (asset, amount) in &f.drips {
                asset.encode_to(o);
                amount.get().encode_to(o);
            }
            f.cooldown_ms.encode_to(o);
        });
    }
}

impl Decode for Params {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Params {
            min_fee: Amount::new(r.u128()?),
            protocol_fee_bps: r.u16()?,
            provider_fee_bps: r.u16()?,
            challenge_window_ms: r.u64()?,
            min_play_ms: r.u32()?,
            epoch_ms: r.u64()?,
            max_receipts_per_tx: r.u32()?,
            faucet: r.option("faucet", |r| {
                Ok(FaucetParams {
                    drips: r.list("faucet drips", FAUCET_DRIPS_MAX, 48, |r| {
                        Ok((AssetId::decode_from(r)?, Amount::new(r.u128()?)))
                    })?,
                    cooldown_ms: r.u64()?,
                })
            })?,
        })
    }
}

/// An asset that exists from genesis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenesisAsset {
    /// Its ticker. `CDZ` is the native asset and must be present.
    pub symbol: String,
    /// Decimal places of a whole unit.
    pub decimals: u8,
    /// Initial balances. Give the faucet account ([`faucet_account`]) a balance to fund drips.
    pub balances: Vec<(AccountId, Amount)>,
}

/// A devnet faucet at genesis, with drips named by symbol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenesisFaucet {
    /// Symbol and amount pairs paid per drip.
    pub drips: Vec<(String, Amount)>,
    /// The least time between two drips to one account.
    pub cooldown_ms: u64,
}

/// Everything needed to start a chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Genesis {
    /// The chain id.
    pub chain_id: ChainId,
    /// The genesis time (ms since the Unix epoch); block times must not go below it.
    pub time_ms: u64,
    /// Parameters, with `faucet` left `None` (set it through `faucet`).
    pub params: Params,
    /// Assets and initial balances.
    pub assets: Vec<GenesisAsset>,
    /// The devnet faucet, if any.
    pub faucet: Option<GenesisFaucet>,
}
