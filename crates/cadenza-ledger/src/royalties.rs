//! Royalty distribution: a track's revenue in each asset is shared among whoever holds its
//! royalty shares while the revenue arrives.
//!
//! The scheme is the accumulator of the Funds Distribution Token (ERC-2222) with the scale chosen
//! so that nothing rounds when revenue arrives. A track's [`Distribution`] records the cumulative
//! revenue `R`; with exactly 1,000,000 shares, one share earns `ΔR / 1,000,000`. Each holder's
//! [`Position`] accumulates `shares × ΔR` exactly (in 256 bits) whenever their balance is about to
//! change or they claim, and a claim pays `floor(owed / 1,000,000)`, carrying the remainder in the
//! position. Over any history, a holder's claims plus their carried remainder equal their exact
//! pro-rata entitlement, and the vault holds exactly the unclaimed revenue.

use cadenza_types::{AccountId, Amount, AssetId, TrackId, U256};

use crate::ctx::Ctx;
use crate::error::TxError;
use crate::events::Event;
use crate::records::{Distribution, Position, Track, keys};
use crate::state::StateView;

/// Every track has exactly this many royalty shares.
pub const TOTAL_SHARES: u32 = 1_000_000;

fn distribution(ctx: &Ctx<'_>, track: &TrackId, asset: &AssetId) -> Distribution {
    ctx.get(&keys::distribution(track, asset))
        .unwrap_or_default()
}

/// Brings a position up to date with `revenue`, given the holder's share balance since its last
/// update.
fn accrue(position: &mut Position, revenue: U256, shares: Amount) {
    let delta = revenue - position.snapshot;
    position.owed += delta * U256::from(shares.get());
    position.snapshot = revenue;
}

/// Updates `holder`'s positions in every distribution of `track` to now. Must run before the
/// holder's share balance changes, so the shares they held earn exactly what arrived while they
/// held them.
fn update_holder(ctx: &mut Ctx<'_>, track_id: &TrackId, track: &Track, holder: &AccountId) {
    let shares = ctx.balance(holder, &track.shares_asset);
    for asset in &track.revenue_assets {
        let dist = distribution(ctx, track_id, asset);
        let key = keys::position(track_id, asset, holder);
        let mut position: Position = ctx.get(&key).unwrap_or_default();
        if position.snapshot == dist.revenue {
            continue;
        }
        accrue(&mut position, dist.revenue, shares);
        ctx.put(key, &position);
    }
}

/// Called by the bank before shares of `track_id` move from `from` to `to`.
pub(crate) fn before_share_move(
    ctx: &mut Ctx<'_>,
    track_id: &TrackId,
    from: &AccountId,
    to: &AccountId,
) {
    let track = ctx
        .track(track_id)
        .expect("a share asset always has its track");
    update_holder(ctx, track_id, &track, from);
    if from != to {
        update_holder(ctx, track_id, &track, to);
    }
}

/// Credits `amount` of revenue in `asset` to a track's vault.
pub(crate) fn credit_revenue(
    ctx: &mut Ctx<'_>,
    track: &TrackId,
    asset: &AssetId,
    amount: Amount,
) -> Result<(), TxError> {
    let key = keys::distribution(track, asset);
    let mut dist: Distribution = ctx.get(&key).unwrap_or_default();
    dist.revenue += U256::from(amount.get());
    dist.vault = dist
        .vault
        .checked_add(amount.get())
        .ok_or(TxError::Overflow)?;
    ctx.put(key, &dist);
    Ok(())
}

/// Pays `holder` everything it has earned from `track` in `asset`.
pub(crate) fn claim(
    ctx: &mut Ctx<'_>,
    holder: &AccountId,
    track_id: &TrackId,
    asset: &AssetId,
) -> Result<(), TxError> {
    let track = ctx
        .track(track_id)
        .ok_or(TxError::UnknownTrack(*track_id))?;
    if !track.revenue_assets.contains(asset) {
        return Err(TxError::NothingToClaim {
            track: *track_id,
            asset: *asset,
        });
    }
    let shares = ctx.balance(holder, &track.shares_asset);
    let dist_key = keys::distribution(track_id, asset);
    let mut dist: Distribution = ctx.get(&dist_key).unwrap_or_default();
    let pos_key = keys::position(track_id, asset, holder);
    let mut position: Position = ctx.get(&pos_key).unwrap_or_default();
    accrue(&mut position, dist.revenue, shares);
    let total = U256::from(TOTAL_SHARES);
    let payout = position.owed / total;
    if payout == U256::ZERO {
        return Err(TxError::NothingToClaim {
            track: *track_id,
            asset: *asset,
        });
    }
    position.owed %= total;
    // The vault holds at least every holder's floor(owed / 1e6) summed: see the module docs.
    let payout = u128::try_from(payout).expect("a payout is bounded by the vault, a u128");
    dist.vault = dist
        .vault
        .checked_sub(payout)
        .expect("the vault always covers what its holders are owed");
    ctx.put(dist_key, &dist);
    ctx.put(pos_key, &position);
    ctx.credit(holder, asset, Amount::new(payout))?;
    ctx.emit(Event::Claimed {
        track: *track_id,
        asset: *asset,
        holder: *holder,
        amount: Amount::new(payout),
    });
    Ok(())
}

/// What `holder` could claim now from `track` in `asset` (for wallets and APIs).
pub fn claimable(
    state: &dyn StateView,
    track: &TrackId,
    asset: &AssetId,
    holder: &AccountId,
) -> Amount {
    use cadenza_types::encoding::Decode;
    let read = |key: Vec<u8>| state.get(&key);
    let Some(track_bytes) = read(keys::track(track)) else {
        return Amount::ZERO;
    };
    let track_rec = Track::from_bytes(&track_bytes).expect("stored tracks decode");
    let dist = read(keys::distribution(track, asset))
        .map(|b| Distribution::from_bytes(&b).expect("stored distributions decode"))
        .unwrap_or_default();
    let mut position = read(keys::position(track, asset, holder))
        .map(|b| Position::from_bytes(&b).expect("stored positions decode"))
        .unwrap_or_default();
    let shares = read(keys::balance(holder, &track_rec.shares_asset))
        .map_or(Amount::ZERO, |b| crate::records::amount_of(&b));
    accrue(&mut position, dist.revenue, shares);
    let payout = position.owed / U256::from(TOTAL_SHARES);
    Amount::new(u128::try_from(payout).unwrap_or(u128::MAX))
}
