//! Starting a chain: the first state, written from a [`Genesis`] configuration.

use std::collections::BTreeSet;

use cadenza_types::{Amount, AssetId, Encode};

use crate::bank::valid_symbol;
use crate::error::GenesisError;
use crate::params::{FaucetParams, Genesis, NATIVE_SYMBOL};
use crate::records::{AssetInfo, AssetKind, Meta, keys};
use crate::state::{ChangeSet, StateView};

/// The changes that turn an empty state into the chain described by `genesis` (height 0).
pub fn init_genesis(state: &dyn StateView, genesis: &Genesis) -> Result<ChangeSet, GenesisError> {
    if state.get(&keys::meta()).is_some() {
        return Err(GenesisError::AlreadyInitialised);
    }
    let mut params = genesis.params.clone();
    genesis
        .params
        .validate()
        .map_err(GenesisError::InvalidParams)?;
    if !genesis.assets.iter().any(|a| a.symbol == NATIVE_SYMBOL) {
        return Err(GenesisError::NoNativeAsset);
    }

    let mut changes = ChangeSet::new();
    let mut symbols = BTreeSet::new();
    for asset in &genesis.assets {
        if !valid_symbol(&asset.symbol) {
            return Err(GenesisError::InvalidSymbol(asset.symbol.clone()));
        }
        if !symbols.insert(asset.symbol.as_str()) {
            return Err(GenesisError::DuplicateAsset(asset.symbol.clone()));
        }
        let id = AssetId::genesis(&asset.symbol);
        let mut minted = Amount::ZERO;
        let mut balances = std::collections::BTreeMap::new();
        for (owner, amount) in &asset.balances {
            minted = minted
                .checked_add(*amount)
                .ok_or_else(|| GenesisError::Overflow(asset.symbol.clone()))?;
            let entry: &mut Amount = balances.entry(*owner).or_default();
            *entry = entry.checked_add(*amount).expect("bounded by minted");
        }
        for (owner, amount) in balances {
            if !amount.is_zero() {
                changes.insert(keys::balance(&owner, &id), Some(amount.get().to_bytes()));
            }
        }
        let info = AssetInfo {
            symbol: asset.symbol.clone(),
            decimals: asset.decimals,
            issuer: None,
            kind: AssetKind::Genesis,
            minted: minted.get(),
            burned: 0,
        };
        changes.insert(keys::asset(&id), Some(info.to_bytes()));
    }

    params.faucet = match &genesis.faucet {
        None => None,
        Some(f) => {
            let mut drips = Vec::with_capacity(f.drips.len());
            for (symbol, amount) in &f.drips {
                if !symbols.contains(symbol.as_str()) {
                    return Err(GenesisError::UnknownFaucetAsset(symbol.clone()));
                }
                drips.push((AssetId::genesis(symbol), *amount));
            }
            Some(FaucetParams {
                drips,
                cooldown_ms: f.cooldown_ms,
            })
        }
    };
    params.validate().map_err(GenesisError::InvalidParams)?;
    changes.insert(keys::params(), Some(params.to_bytes()));
    let meta = Meta {
        chain_id: genesis.chain_id.clone(),
        height: 0,
        time_ms: genesis.time_ms,
    };
    changes.insert(keys::meta(), Some(meta.to_bytes()));
    Ok(changes)
}
