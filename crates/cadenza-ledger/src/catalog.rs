//! The catalog: tracks, their licences, and the royalty shares minted when they are registered.

use std::collections::BTreeSet;

use cadenza_types::tx::TEXT_MAX_LEN;
use cadenza_types::{
    AccountId, Amount, AssetId, Hash, Holder, Licence, TrackId, TrackMetadata, Uses,
};

use crate::bank;
use crate::ctx::Ctx;
use crate::error::TxError;
use crate::events::Event;
use crate::records::{AssetInfo, AssetKind, REVENUE_ASSETS_MAX, Track, keys};
use crate::royalties::TOTAL_SHARES;

pub use cadenza_types::tx::valid_isrc;

fn check_metadata(m: &TrackMetadata) -> Result<(), TxError> {
    if m.title.trim().is_empty() || m.title.len() > TEXT_MAX_LEN {
        return Err(TxError::InvalidMetadata("the title must be 1 to 256 bytes"));
    }
    if m.artist.trim().is_empty() || m.artist.len() > TEXT_MAX_LEN {
        return Err(TxError::InvalidMetadata(
            "the artist must be 1 to 256 bytes",
        ));
    }
    if let Some(isrc) = &m.isrc
        && !valid_isrc(isrc)
    {
        return Err(TxError::InvalidMetadata(
            "the ISRC must be 12 characters like GBAYE2400001 (no hyphens)",
        ));
    }
    Ok(())
}

fn check_licence(ctx: &Ctx<'_>, licence: &Licence) -> Result<(), TxError> {
    bank::require_payment_asset(ctx, &licence.price.asset)?;
    if licence.price.amount.is_zero() {
        return Err(TxError::InvalidLicence(
            "the price of a stream must be positive",
        ));
    }
    if !licence.uses.allows(Uses::STREAM) {
        return Err(TxError::InvalidLicence(
            "a registered track must allow streaming",
        ));
    }
    if let Some(until) = licence.valid_until_ms
        && until <= licence.valid_from_ms
    {
        return Err(TxError::InvalidLicence(
            "the licence must end after it starts",
        ));
    }
    let distinct: BTreeSet<_> = licence.territories.iter().collect();
    if distinct.len() != licence.territories.len() {
        return Err(TxError::InvalidLicence("a territory is listed twice"));
    }
    Ok(())
}

fn check_holders(holders: &[Holder]) -> Result<(), TxError> {
    if holders.is_empty() {
        return Err(TxError::InvalidHolders("a track needs at least one holder"));
    }
    let mut seen = BTreeSet::new();
    let mut sum: u64 = 0;
    for h in holders {
        if h.shares == 0 {
            return Err(TxError::InvalidHolders(
                "every holder must hold at least one share",
            ));
        }
        if !seen.insert(h.account) {
            return Err(TxError::InvalidHolders(
                "a holder is listed twice; merge their shares",
            ));
        }
        sum += u64::from(h.shares);
    }
    if sum != u64::from(TOTAL_SHARES) {
        return Err(TxError::SharesSumMismatch { sum });
    }
    Ok(())
}

/// Registers a track, mints its 1,000,000 shares to the holders, and makes the signer its
/// controller.
pub(crate) fn register_track(
    ctx: &mut Ctx<'_>,
    controller: &AccountId,
    essence_id: &Hash,
    blob_id: &Hash,
    metadata: &TrackMetadata,
    licence: &Licence,
    holders: &[Holder],
) -> Result<(), TxError> {
    let track_id = TrackId::from_essence(essence_id);
    if ctx.track(&track_id).is_some() {
        return Err(TxError::TrackExists(track_id));
    }
    check_metadata(metadata)?;
    check_licence(ctx, licence)?;
    check_holders(holders)?;

    ctx.env.forget_terms(&track_id);
    let shares_asset = AssetId::shares(&track_id);
    let short = &track_id.0.to_hex()[..8];
    ctx.put(
        keys::asset(&shares_asset),
        &AssetInfo {
            symbol: format!("SHR{}", short.to_ascii_uppercase()),
            decimals: 0,
            issuer: None,
            kind: AssetKind::Shares { track: track_id },
            minted: u128::from(TOTAL_SHARES),
            burned: 0,
        },
    );
    for h in holders {
        ctx.credit(&h.account, &shares_asset, Amount::new(u128::from(h.shares)))?;
    }
    ctx.put(
        keys::track(&track_id),
        &Track {
            controller: *controller,
            essence_id: *essence_id,
            blob_id: *blob_id,
            metadata: metadata.clone(),
            licence: licence.clone(),
            shares_asset,
            revenue_assets: vec![licence.price.asset],
            registered_ms: ctx.now_ms(),
        },
    );
    ctx.emit(Event::TrackRegistered {
        track: track_id,
        controller: *controller,
        shares_asset,
        essence_id: *essence_id,
    });
    Ok(())
}

/// Replaces a track's licence (controller only).
pub(crate) fn update_licence(
    ctx: &mut Ctx<'_>,
    signer: &AccountId,
    track_id: &TrackId,
    licence: &Licence,
) -> Result<(), TxError> {
    let mut track = ctx
        .track(track_id)
        .ok_or(TxError::UnknownTrack(*track_id))?;
    if track.controller != *signer {
        return Err(TxError::NotController {
            controller: track.controller,
        });
    }
    check_licence(ctx, licence)?;
    if !track.revenue_assets.contains(&licence.price.asset) {
        if track.revenue_assets.len() >= REVENUE_ASSETS_MAX {
            return Err(TxError::TooManyRevenueAssets);
        }
        track.revenue_assets.push(licence.price.asset);
    }
    track.licence = licence.clone();
    ctx.env.forget_terms(track_id);
    ctx.put(keys::track(track_id), &track);
    ctx.emit(Event::LicenceUpdated { track: *track_id });
    Ok(())
}
