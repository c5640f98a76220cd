//! Typed reads of the ledger's state, for the node's API, wallets and tests.

use cadenza_types::{AccountId, Amount, AssetId, ChannelId, Decode, Hash, TrackId};

use crate::params::Params;
use crate::records::{
    Account, AssetInfo, Channel, Distribution, Meta, Track, TxRecord, amount_of, keys,
};
use crate::state::StateView;

fn read<T: Decode>(state: &dyn StateView, key: &[u8]) -> Option<T> {
    state
        .get(key)
        .map(|b| T::from_bytes(&b).expect("records written by the ledger decode"))
}

/// The chain's id, height and time.
pub fn meta(state: &dyn StateView) -> Option<Meta> {
    read(state, &keys::meta())
}

/// The protocol parameters.
pub fn params(state: &dyn StateView) -> Option<Params> {
    read(state, &keys::params())
}

/// An account's nonce and faucet record (default for an unseen account).
pub fn account(state: &dyn StateView, id: &AccountId) -> Account {
    read(state, &keys::account(id)).unwrap_or_default()
}

/// An account's balance of an asset.
pub fn balance(state: &dyn StateView, owner: &AccountId, asset: &AssetId) -> Amount {
    state
        .get(&keys::balance(owner, asset))
        .map_or(Amount::ZERO, |b| amount_of(&b))
}

/// An asset's definition and supply.
pub fn asset(state: &dyn StateView, id: &AssetId) -> Option<AssetInfo> {
    read(state, &keys::asset(id))
}

/// A track.
pub fn track(state: &dyn StateView, id: &TrackId) -> Option<Track> {
    read(state, &keys::track(id))
}

/// A track's total settled streams.
pub fn track_streams(state: &dyn StateView, id: &TrackId) -> u64 {
    read(state, &keys::track_streams(id)).unwrap_or(0)
}

/// A track's settled streams in one epoch (the play oracle).
pub fn plays(state: &dyn StateView, id: &TrackId, epoch: u64) -> u64 {
    read(state, &keys::plays(id, epoch)).unwrap_or(0)
}

/// A channel.
pub fn channel(state: &dyn StateView, id: &ChannelId) -> Option<Channel> {
    read(state, &keys::channel(id))
}

/// A track's distribution in one asset.
pub fn distribution(state: &dyn StateView, track: &TrackId, asset: &AssetId) -> Distribution {
    read(state, &keys::distribution(track, asset)).unwrap_or_default()
}

pub use crate::royalties::claimable;

/// A transaction's record, if a block executed it past authentication.
pub fn tx(state: &dyn StateView, hash: &Hash) -> Option<TxRecord> {
    read(state, &keys::tx(hash))
}
