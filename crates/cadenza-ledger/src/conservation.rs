//! Conservation of money: for every asset, balances + channel escrows + royalty vaults equal
//! minted − burned.
//!
//! `check_block` checks it on the net changes of each block (cost proportional to what the
//! block touched, so it stays on in release builds); [`audit`] checks it on a whole state.

use std::collections::BTreeMap;
use std::fmt;

use cadenza_types::{AssetId, Decode, I256};

use crate::records::{AssetInfo, Channel, Distribution, decode_u128, prefix};
use crate::state::{Overlay, StateView};

/// A broken conservation invariant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The asset.
    pub asset: AssetId,
    /// What balances, escrows and vaults hold (or how they changed).
    pub held: String,
    /// What the supply is (or how it changed).
    pub supply: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "asset {}: held {} but supply {}",
            self.asset, self.held, self.supply
        )
    }
}

/// How much of which asset one record holds, or what supply it declares.
enum Holding {
    Held(AssetId, u128),
    Supply(AssetId, u128),
    Nothing,
}

fn asset_at(key: &[u8], offset: usize) -> AssetId {
    let mut id = [0u8; 32];
    id.copy_from_slice(&key[offset..offset + 32]);
    AssetId(cadenza_types::Hash(id))
}

fn holding(key: &[u8], value: &[u8]) -> Holding {
    match key.first().copied() {
        Some(prefix::BALANCE) => Holding::Held(asset_at(key, 33), decode_u128(value)),
        Some(prefix::CHANNEL) => {
            let c = Channel::from_bytes(value).expect("stored channels decode");
            assert!(
                c.settled <= c.deposit,
                "a channel settled more than its deposit"
            );
            Holding::Held(c.asset, c.escrow())
        }
        Some(prefix::DISTRIBUTION) => {
            let d = Distribution::from_bytes(value).expect("stored distributions decode");
            Holding::Held(asset_at(key, 33), d.vault)
        }
        Some(prefix::ASSET) => {
            let a = AssetInfo::from_bytes(value).expect("stored assets decode");
            assert!(a.burned <= a.minted, "an asset burned more than was minted");
            Holding::Supply(asset_at(key, 1), a.supply())
        }
        _ => Holding::Nothing,
    }
}

#[derive(Default)]
struct Totals {
    held: I256,
    supply: I256,
}

fn add(totals: &mut BTreeMap<AssetId, Totals>, key: &[u8], value: &[u8], sign: i32) {
    let s = I256::from(sign);
    match holding(key, value) {
        Holding::Held(asset, v) => totals.entry(asset).or_default().held += s * I256::from(v),
        Holding::Supply(asset, v) => totals.entry(asset).or_default().supply += s * I256::from(v),
        Holding::Nothing => {}
    }
}

fn verdict(totals: BTreeMap<AssetId, Totals>) -> Result<(), Violation> {
    for (asset, t) in totals {
        if t.held != t.supply {
            return Err(Violation {
                asset,
                held: t.held.to_string(),
                supply: t.supply.to_string(),
            });
        }
    }
    Ok(())
}

/// Checks that a block's writes change every asset's holdings by exactly its change in supply.
pub(crate) fn check_block(base: &dyn StateView, writes: &Overlay) -> Result<(), Violation> {
    let mut totals = BTreeMap::new();
    for (key, new) in writes.iter() {
        if let Some(old) = base.get(key) {
            add(&mut totals, key, &old, -1);
        }
        if let Some(new) = new {
            add(&mut totals, key, new, 1);
        }
    }
    verdict(totals)
}

/// Checks conservation over a whole state given as key-value entries.
pub fn audit<'a>(entries: impl IntoIterator<Item = (&'a [u8], &'a [u8])>) -> Result<(), Violation> {
    let mut totals = BTreeMap::new();
    for (key, value) in entries {
        add(&mut totals, key, value, 1);
    }
    verdict(totals)
}

#[cfg(test)]
mod tests {
    use cadenza_types::{AccountId, Encode};

    use super::*;
    use crate::records::{AssetKind, keys};
    use crate::state::MemoryState;

    fn asset_record(minted: u128) -> Vec<u8> {
        AssetInfo {
            symbol: "CUSD".into(),
            decimals: 6,
            issuer: None,
            kind: AssetKind::Genesis,
            minted,
            burned: 0,
        }
        .to_bytes()
    }

    #[test]
    fn money_from_nowhere_is_caught_and_a_balanced_move_is_not() {
        let asset = AssetId::genesis("CUSD");
        let (alice, bob) = (AccountId([1; 32]), AccountId([2; 32]));
        let mut base = MemoryState::new();
        let mut genesis = crate::state::ChangeSet::new();
        genesis.insert(keys::asset(&asset), Some(asset_record(100)));
        genesis.insert(keys::balance(&alice, &asset), Some(100u128.to_bytes()));
        base.apply(genesis);
        audit(base.iter()).unwrap();

        let mut balanced = Overlay::default();
        balanced.set(keys::balance(&alice, &asset), Some(60u128.to_bytes()));
        balanced.set(keys::balance(&bob, &asset), Some(40u128.to_bytes()));
        assert_eq!(check_block(&base, &balanced), Ok(()));

        let mut inflating = Overlay::default();
        inflating.set(keys::balance(&bob, &asset), Some(1u128.to_bytes()));
        let violation = check_block(&base, &inflating).unwrap_err();
        assert_eq!(violation.asset, asset);
        assert_eq!(
            (violation.held.as_str(), violation.supply.as_str()),
            ("1", "0")
        );

        let mut vanishing = Overlay::default();
        vanishing.set(keys::balance(&alice, &asset), None);
        assert!(check_block(&base, &vanishing).is_err());
    }
}
