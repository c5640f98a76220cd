//! The JSON forms of ledger records and events served by the API (serde lives at the edges).
//!
//! Conventions: accounts are `did:key` strings; assets, tracks, channels and hashes are
//! lowercase hex; amounts are decimal strings of base units (`"amount"`) with, where the asset
//! is known, the same amount in whole units and its symbol (`"display": "1.25 CUSD"`), because
//! JSON numbers lose precision above 2^53.

use cadenza_ledger::records::{Account, AssetInfo, AssetKind, Channel, Track, TxRecord};
use cadenza_ledger::{Event, StateView, query};
use cadenza_types::{Amount, AssetId, Licence, Uses};
use serde_json::{Value, json};

/// An amount of `asset`, with its display form when the asset is known.
pub fn amount(state: &dyn StateView, asset: &AssetId, amount: Amount) -> Value {
    match query::asset(state, asset) {
        Some(info) => json!({
            "asset": asset.to_string(),
            "amount": amount.get().to_string(),
            "display": format!("{} {}", amount.display_units(info.decimals), info.symbol),
        }),
        None => json!({ "asset": asset.to_string(), "amount": amount.get().to_string() }),
    }
}

/// An asset's definition and supply.
pub fn asset(id: &AssetId, info: &AssetInfo) -> Value {
    let kind = match &info.kind {
        AssetKind::Genesis => json!({ "type": "genesis" }),
        AssetKind::Issued => json!({ "type": "issued" }),
        AssetKind::Shares { track } => json!({ "type": "shares", "track": track.to_string() }),
    };
    json!({
        "id": id.to_string(),
        "symbol": info.symbol,
        "decimals": info.decimals,
        "issuer": info.issuer.map(|a| a.to_did()),
        "kind": kind,
        "minted": info.minted.to_string(),
        "burned": info.burned.to_string(),
        "supply": info.supply().to_string(),
    })
}

/// An account's bookkeeping.
pub fn account(account: &Account) -> Value {
    json!({ "nonce": account.nonce, "last_faucet_ms": account.last_faucet_ms })
}

fn uses(uses: Uses) -> Vec<&'static str> {
    [
        (Uses::STREAM, "stream"),
        (Uses::DOWNLOAD, "download"),
        (Uses::SYNC, "sync"),
        (Uses::REMIX, "remix"),
    ]
    .into_iter()
    .filter(|(u, _)| uses.allows(*u))
    .map(|(_, name)| name)
    .collect()
}

/// Licence terms.
pub fn licence(state: &dyn StateView, licence: &Licence) -> Value {
    json!({
        "price": amount(state, &licence.price.asset, licence.price.amount),
        "uses": uses(licence.uses),
        "territories": licence.territories.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
        "valid_from_ms": licence.valid_from_ms,
        "valid_until_ms": licence.valid_until_ms,
        "url": licence.url,
        "min_play_ms": licence.min_play_ms,
    })
}

/// A track, with its stream count.
pub fn track(state: &dyn StateView, id: &cadenza_types::TrackId, track: &Track) -> Value {
    json!({
        "id": id.to_string(),
        "controller": track.controller.to_did(),
        "essence_id": track.essence_id.to_hex(),
        "blob_id": track.blob_id.to_hex(),
        "title": track.metadata.title,
        "artist": track.metadata.artist,
        "isrc": track.metadata.isrc,
        "licence": licence(state, &track.licence),
        "shares_asset": track.shares_asset.to_string(),
        "revenue_assets": track.revenue_assets.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        "registered_ms": track.registered_ms,
        "streams": query::track_streams(state, id),
    })
}

/// A payment channel.
pub fn channel(state: &dyn StateView, id: &cadenza_types::ChannelId, channel: &Channel) -> Value {
    json!({
        "id": id.to_string(),
        "owner": channel.owner.to_did(),
        "provider": channel.provider.to_did(),
        "deposit": amount(state, &channel.asset, Amount::new(channel.deposit)),
        "settled": amount(state, &channel.asset, Amount::new(channel.settled)),
        "escrow": amount(state, &channel.asset, Amount::new(channel.escrow())),
        "settled_seq": channel.settled_seq,
        "head": channel.head.to_hex(),
        "expiry_ms": channel.expiry_ms,
        "closed_ms": channel.closed_ms,
    })
}

/// A transaction's record.
pub fn tx_record(record: &TxRecord) -> Value {
    json!({
        "height": record.height,
        "index": record.index,
        "fee_paid": record.fee_paid.get().to_string(),
        "ok": record.error.is_none(),
        "error": record.error.as_ref().map(|(code, message)| json!({ "code": code, "message": message })),
    })
}

/// A ledger event.
pub fn event(state: &dyn StateView, event: &Event) -> Value {
    match event {
        Event::Transferred {
            from,
            to,
            asset,
            amount: a,
        } => json!({
            "type": "transferred", "from": from.to_did(), "to": to.to_did(),
            "amount": amount(state, asset, *a),
        }),
        Event::AssetCreated {
            asset,
            issuer,
            symbol,
        } => json!({
            "type": "asset_created", "asset": asset.to_string(), "issuer": issuer.to_did(),
            "symbol": symbol,
        }),
        Event::Minted {
            asset,
            to,
            amount: a,
        } => json!({ "type": "minted", "to": to.to_did(), "amount": amount(state, asset, *a) }),
        Event::Burned {
            asset,
            from,
            amount: a,
        } => json!({ "type": "burned", "from": from.to_did(), "amount": amount(state, asset, *a) }),
        Event::TrackRegistered {
            track,
            controller,
            shares_asset,
            essence_id,
        } => json!({
            "type": "track_registered", "track": track.to_string(),
            "controller": controller.to_did(), "shares_asset": shares_asset.to_string(),
            "essence_id": essence_id.to_hex(),
        }),
        Event::LicenceUpdated { track } => {
            json!({ "type": "licence_updated", "track": track.to_string() })
        }
        Event::ChannelOpened {
            channel,
            owner,
            provider,
            asset,
            deposit,
        } => json!({
            "type": "channel_opened", "channel": channel.to_string(), "owner": owner.to_did(),
            "provider": provider.to_did(), "deposit": amount(state, asset, *deposit),
        }),
        Event::ChannelToppedUp { channel, amount: a } => json!({
            "type": "channel_topped_up", "channel": channel.to_string(),
            "amount": a.get().to_string(),
        }),
        Event::ChannelClosed {
            channel,
            window_end_ms,
        } => json!({
            "type": "channel_closed", "channel": channel.to_string(),
            "window_end_ms": window_end_ms,
        }),
        Event::ChannelWithdrawn { channel, refund } => json!({
            "type": "channel_withdrawn", "channel": channel.to_string(),
            "refund": refund.get().to_string(),
        }),
        Event::ChannelSettled {
            channel,
            seq,
            cumulative,
            paid,
        } => json!({
            "type": "channel_settled", "channel": channel.to_string(), "seq": seq,
            "cumulative": cumulative.get().to_string(), "paid": paid.get().to_string(),
        }),
        Event::RoyaltiesAccrued {
            track,
            asset,
            amount: a,
            streams,
        } => json!({
            "type": "royalties_accrued", "track": track.to_string(),
            "amount": amount(state, asset, *a), "streams": streams,
        }),
        Event::Claimed {
            track,
            asset,
            holder,
            amount: a,
        } => json!({
            "type": "claimed", "track": track.to_string(), "holder": holder.to_did(),
            "amount": amount(state, asset, *a),
        }),
    }
}
