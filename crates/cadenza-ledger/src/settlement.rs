//! Settlement: turning a channel's receipts and newest voucher into payments.
//!
//! [`check_update`] is the one rule that decides whether a voucher and its receipts are
//! acceptable. The ledger calls it when it settles; a provider calls the same function when a
//! voucher arrives, before it serves another stream. Nothing else decides.

use std::collections::{BTreeMap, HashMap, HashSet};

use cadenza_types::{
    AccountId, Amount, AssetId, ChainId, ChannelId, ChannelUpdate, Hash, Licence, Price,
    ReceiptChain, TrackId, Uses,
};

use crate::channels;
use crate::ctx::Ctx;
use crate::error::{SettleError, TxError};
use crate::events::Event;
use crate::records::{Channel, keys};
use crate::royalties;

/// What decides whether a receipt for a track is a paid stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamTerms {
    /// The licence's price.
    pub price: Price,
    /// The least play time: the higher of the licence's and the protocol's minimum.
    pub min_play_ms: u64,
    /// Whether the licence allows streaming.
    pub streamable: bool,
    /// Start of the licence's validity.
    pub valid_from_ms: u64,
    /// End of the licence's validity, exclusive.
    pub valid_until_ms: Option<u64>,
}

impl StreamTerms {
    /// The terms of `licence` under a protocol minimum play time.
    pub fn of(licence: &Licence, protocol_min_play_ms: u32) -> StreamTerms {
        StreamTerms {
            price: licence.price,
            min_play_ms: u64::from(licence.min_play_ms.max(protocol_min_play_ms)),
            streamable: licence.uses.allows(Uses::STREAM),
            valid_from_ms: licence.valid_from_ms,
            valid_until_ms: licence.valid_until_ms,
        }
    }

    /// Whether a stream at block time `at_ms` is licensed: streaming allowed, within validity.
    pub fn valid_at(&self, at_ms: u64) -> bool {
        self.streamable
            && at_ms >= self.valid_from_ms
            && self.valid_until_ms.is_none_or(|u| at_ms < u)
    }
}

/// The last voucher accepted for a channel: on-chain, the last settled one; at a provider, the
/// last one it acknowledged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VoucherBase {
    /// Its seq.
    pub seq: u64,
    /// Its cumulative.
    pub cumulative: Amount,
    /// Its receipt chain head.
    pub head: Hash,
}

impl VoucherBase {
    /// The channel's last settled voucher.
    pub fn settled(channel: &Channel) -> VoucherBase {
        VoucherBase {
            seq: channel.settled_seq,
            cumulative: Amount::new(channel.settled),
            head: channel.head,
        }
    }
}

/// The chain facts a voucher check needs.
#[derive(Clone, Copy, Debug)]
pub struct CheckEnv<'a> {
    /// This chain's id.
    pub chain_id: &'a ChainId,
    /// The current time (block time on-chain, the provider's view of it off-chain).
    pub now_ms: u64,
    /// The challenge window parameter.
    pub challenge_window_ms: u64,
}

/// Work already done for an update, outside the check (the ledger verifies signatures in batches
/// and hashes receipt chains in parallel before executing a block).
#[derive(Clone, Copy, Debug, Default)]
pub struct Precomputed {
    /// The verdict on the voucher's signature by the channel owner.
    pub signature_ok: Option<bool>,
    /// The receipts' chain extended from the base head.
    pub head: Option<Hash>,
}

/// Checks a channel update against the channel and the last accepted voucher, and returns what
/// it pays out of escrow (`voucher.cumulative - base.cumulative`).
///
/// In order: the voucher's chain; the challenge window; the owner's signature; `seq` and
/// `cumulative` strictly above the base; one receipt per `seq` step; the receipts hash from the
/// base head to the voucher's head; their amounts add up to the cumulative increase; the
/// cumulative stays within the deposit; and each receipt's track exists, allows streaming at the
/// receipt's time, is priced in the channel's asset, is paid at least its price, and was played at
/// least the minimum time.
pub fn check_update(
    env: &CheckEnv<'_>,
    channel_id: &ChannelId,
    channel: &Channel,
    base: &VoucherBase,
    update: &ChannelUpdate,
    pre: Precomputed,
    terms: &mut dyn FnMut(&TrackId) -> Option<StreamTerms>,
) -> Result<Amount, SettleError> {
    let voucher = &update.voucher.voucher;
    if voucher.chain_id != *env.chain_id {
        return Err(SettleError::WrongChain {
            found: voucher.chain_id.clone(),
        });
    }
    let ended_ms = channel.window_end_ms(env.challenge_window_ms);
    if env.now_ms >= ended_ms {
        return Err(SettleError::WindowClosed {
            channel: *channel_id,
            ended_ms,
        });
    }
    let signature_ok = pre.signature_ok.unwrap_or_else(|| {
        cadenza_types::crypto::verify(
            &channel.owner,
            voucher.signing_hash().as_bytes(),
            &update.voucher.signature,
        )
        .is_ok()
    });
    if !signature_ok {
        return Err(SettleError::BadVoucherSignature);
    }
    if voucher.seq <= base.seq || voucher.cumulative <= base.cumulative {
        return Err(SettleError::VoucherNotNewer {
            last_seq: base.seq,
            seq: voucher.seq,
            last_cumulative: base.cumulative,
            cumulative: voucher.cumulative,
        });
    }
    let expected = voucher.seq - base.seq;
    let found = update.receipts.len() as u64;
    if expected != found {
        return Err(SettleError::ReceiptCountMismatch { expected, found });
    }
    let head = pre
        .head
        .unwrap_or_else(|| ReceiptChain::extend(&base.head, &update.receipts));
    if head != voucher.head {
        return Err(SettleError::HeadMismatch);
    }
    let voucher_delta = voucher
        .cumulative
        .checked_sub(base.cumulative)
        .expect("checked above: cumulative > base");
    let receipts_total = update
        .receipts
        .iter()
        .try_fold(Amount::ZERO, |acc, r| acc.checked_add(r.amount))
        .unwrap_or(Amount::MAX);
    if receipts_total != voucher_delta {
        return Err(SettleError::SumMismatch {
            receipts_total,
            voucher_delta,
        });
    }
    if voucher.cumulative.get() > channel.deposit {
        return Err(SettleError::AboveDeposit {
            cumulative: voucher.cumulative,
            deposit: Amount::new(channel.deposit),
        });
    }
    for (index, receipt) in update.receipts.iter().enumerate() {
        let index = index as u32;
        let track = receipt.track;
        let t = terms(&track).ok_or(SettleError::UnknownTrack { index, track })?;
        if !t.valid_at(receipt.at_ms) {
            return Err(SettleError::NotLicensed { index, track });
        }
        if t.price.asset != channel.asset {
            return Err(SettleError::WrongAsset {
                index,
                track,
                price_asset: t.price.asset,
            });
        }
        if receipt.amount < t.price.amount {
            return Err(SettleError::PriceNotMet {
                index,
                price: t.price.amount,
                paid: receipt.amount,
            });
        }
        if receipt.played_ms < t.min_play_ms {
            return Err(SettleError::PlayTooShort {
                index,
                min_ms: t.min_play_ms,
                played_ms: receipt.played_ms,
            });
        }
    }
    Ok(voucher_delta)
}

/// What the stateless pre-pass found for one update, valid only if the channel still has the
/// owner and head it saw.
#[derive(Clone, Copy, Debug)]
pub(crate) struct UpdatePre {
    pub(crate) owner: AccountId,
    pub(crate) from_head: Hash,
    pub(crate) signature_ok: bool,
    pub(crate) head: Hash,
}

/// Revenue of one track from one settlement transaction.
#[derive(Default)]
struct TrackTake {
    to_vault: u128,
    streams: u64,
}

/// Executes `SettleChannels`: checks every update, then pays fees and credits royalty vaults.
/// All or nothing: if one update is refused, the transaction changes nothing but its fee.
pub(crate) fn settle(
    ctx: &mut Ctx<'_>,
    updates: &[ChannelUpdate],
    pre: &[Option<UpdatePre>],
) -> Result<(), TxError> {
    let max = ctx.params().max_receipts_per_tx;
    let n_receipts: u64 = updates.iter().map(|u| u.receipts.len() as u64).sum();
    if n_receipts > u64::from(max) {
        return Err(TxError::TooManyReceipts {
            max,
            found: n_receipts,
        });
    }
    let protocol_bps = ctx.params().protocol_fee_bps;
    let provider_bps = ctx.params().provider_fee_bps;
    let min_play_ms = ctx.params().min_play_ms;
    let block_env = ctx.env;
    let env = CheckEnv {
        chain_id: &block_env.chain_id,
        now_ms: ctx.now_ms(),
        challenge_window_ms: ctx.params().challenge_window_ms,
    };

    let mut seen = HashSet::with_capacity(updates.len());
    // Summed per receipt in a hash map (a B-tree lookup per receipt costs more), then sorted
    // below, so tracks are credited in key order as before.
    let mut takes: HashMap<(TrackId, AssetId), TrackTake> = HashMap::new();
    let mut treasury_fees: BTreeMap<AssetId, u128> = BTreeMap::new();
    let mut provider_fees: BTreeMap<(AccountId, AssetId), u128> = BTreeMap::new();

    for (index, update) in updates.iter().enumerate() {
        let refuse = |error| TxError::Settlement {
            index: index as u32,
            error,
        };
        let channel_id = update.voucher.voucher.channel;
        if !seen.insert(channel_id) {
            return Err(refuse(SettleError::DuplicateChannel(channel_id)));
        }
        let mut channel = channels::load(ctx, &channel_id)
            .map_err(|_| refuse(SettleError::UnknownChannel(channel_id)))?;
        let base = VoucherBase::settled(&channel);
        let precomputed = match pre.get(index).copied().flatten() {
            Some(p) if p.owner == channel.owner && p.from_head == channel.head => Precomputed {
                signature_ok: Some(p.signature_ok),
                head: Some(p.head),
            },
            _ => Precomputed::default(),
        };
        let mut cache = block_env.terms.borrow_mut();
        let mut terms = |track: &TrackId| {
            *cache.entry(*track).or_insert_with(|| {
                ctx.track(track)
                    .map(|t| StreamTerms::of(&t.licence, min_play_ms))
            })
        };
        let paid = check_update(
            &env,
            &channel_id,
            &channel,
            &base,
            update,
            precomputed,
            &mut terms,
        )
        .map_err(refuse)?;

        let asset = channel.asset;
        let mut protocol_total: u128 = 0;
        let mut provider_total: u128 = 0;
        for receipt in &update.receipts {
            let protocol_fee = receipt.amount.bps(protocol_bps).get();
            let provider_fee = receipt.amount.bps(provider_bps).get();
            // Both fees round down and together are at most 100%, so this cannot underflow.
            let to_vault = receipt.amount.get() - protocol_fee - provider_fee;
            protocol_total += protocol_fee;
            provider_total += provider_fee;
            let take = takes.entry((receipt.track, asset)).or_default();
            take.to_vault += to_vault;
            take.streams += 1;
        }
        // Each sum is bounded by the settled amount, itself bounded by the deposit.
        *treasury_fees.entry(asset).or_default() += protocol_total;
        *provider_fees.entry((channel.provider, asset)).or_default() += provider_total;

        let voucher = &update.voucher.voucher;
        channel.settled_seq = voucher.seq;
        channel.settled = voucher.cumulative.get();
        channel.head = voucher.head;
        ctx.put(keys::channel(&channel_id), &channel);
        ctx.emit(Event::ChannelSettled {
            channel: channel_id,
            seq: voucher.seq,
            cumulative: voucher.cumulative,
            paid,
        });
    }

    let treasury = crate::params::treasury();
    for (asset, fee) in treasury_fees {
        ctx.credit(&treasury, &asset, Amount::new(fee))?;
    }
    for ((provider, asset), fee) in provider_fees {
        ctx.credit(&provider, &asset, Amount::new(fee))?;
    }
    let epoch = ctx.now_ms() / ctx.params().epoch_ms;
    let takes: BTreeMap<(TrackId, AssetId), TrackTake> = takes.into_iter().collect();
    for ((track, asset), take) in takes {
        royalties::credit_revenue(ctx, &track, &asset, Amount::new(take.to_vault))?;
        let streams_key = keys::track_streams(&track);
        let streams: u64 = ctx.get(&streams_key).unwrap_or(0);
        ctx.put(streams_key, &(streams + take.streams));
        let plays_key = keys::plays(&track, epoch);
        let plays: u64 = ctx.get(&plays_key).unwrap_or(0);
        ctx.put(plays_key, &(plays + take.streams));
        ctx.emit(Event::RoyaltiesAccrued {
            track,
            asset,
            amount: Amount::new(take.to_vault),
            streams: take.streams,
        });
    }
    Ok(())
}
