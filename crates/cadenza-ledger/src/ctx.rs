//! The view a transaction executes in: its own writes over the block's writes over the base state.

use std::cell::RefCell;
use std::collections::HashMap;

use cadenza_types::encoding::{Decode, Encode};
use cadenza_types::{AccountId, Amount, AssetId, ChainId, TrackId};

use crate::error::TxError;
use crate::events::Event;
use crate::params::Params;
use crate::records::{self, Account, AssetInfo, Track, keys};
use crate::settlement::StreamTerms;
use crate::state::{Overlay, StateView};

/// Execution context of one transaction (or of one step of block processing).
pub(crate) struct Ctx<'a> {
    base: &'a dyn StateView,
    block: &'a Overlay,
    pub(crate) writes: Overlay,
    pub(crate) events: Vec<Event>,
    pub(crate) env: &'a Env,
}

/// Facts fixed for the whole block.
pub(crate) struct Env {
    pub(crate) chain_id: ChainId,
    pub(crate) params: Params,
    pub(crate) now_ms: u64,
    pub(crate) proposer: AccountId,
    /// Stream terms of tracks read so far in this block. Settlement looks a track up once per
    /// receipt, so this saves decoding a track record a hundred thousand times per block. The
    /// catalog drops a track's entry whenever it writes that track.
    pub(crate) terms: RefCell<HashMap<TrackId, Option<StreamTerms>>>,
}

impl Env {
    /// Forgets the cached terms of `track` (it is being registered or its licence changed).
    pub(crate) fn forget_terms(&self, track: &TrackId) {
        self.terms.borrow_mut().remove(track);
    }
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(base: &'a dyn StateView, block: &'a Overlay, env: &'a Env) -> Self {
        Ctx {
            base,
            block,
            writes: Overlay::default(),
            events: Vec::new(),
            env,
        }
    }

    pub(crate) fn params(&self) -> &Params {
        &self.env.params
    }

    pub(crate) fn now_ms(&self) -> u64 {
        self.env.now_ms
    }

    pub(crate) fn get_raw(&self, key: &[u8]) -> Option<Vec<u8>> {
        if let Some(v) = self.writes.lookup(key) {
            return v.clone();
        }
        if let Some(v) = self.block.lookup(key) {
            return v.clone();
        }
        self.base.get(key)
    }

    /// Reads and decodes a record. State is only ever written by the ledger, so a record that does
    /// not decode means the store is corrupt: that is an assertion, not a transaction error.
    pub(crate) fn get<T: Decode>(&self, key: &[u8]) -> Option<T> {
        self.get_raw(key).map(|bytes| {
            T::from_bytes(&bytes).unwrap_or_else(|e| {
                panic!("corrupt state under key {key:02x?}: {e}");
            })
        })
    }

    pub(crate) fn put<T: Encode>(&mut self, key: Vec<u8>, value: &T) {
        self.writes.set(key, Some(value.to_bytes()));
    }

    pub(crate) fn delete(&mut self, key: Vec<u8>) {
        self.writes.set(key, None);
    }

    pub(crate) fn emit(&mut self, event: Event) {
        self.events.push(event);
    }

    pub(crate) fn account(&self, id: &AccountId) -> Account {
        self.get(&keys::account(id)).unwrap_or_default()
    }

    pub(crate) fn put_account(&mut self, id: &AccountId, account: &Account) {
        self.put(keys::account(id), account);
    }

    pub(crate) fn asset(&self, id: &AssetId) -> Option<AssetInfo> {
        self.get(&keys::asset(id))
    }

    pub(crate) fn track(&self, id: &TrackId) -> Option<Track> {
        self.get(&keys::track(id))
    }

    pub(crate) fn balance(&self, owner: &AccountId, asset: &AssetId) -> Amount {
        self.get_raw(&keys::balance(owner, asset))
            .map_or(Amount::ZERO, |b| records::amount_of(&b))
    }

    /// Sets a balance; zero balances are deleted so the state holds no empty records.
    pub(crate) fn set_balance(&mut self, owner: &AccountId, asset: &AssetId, amount: Amount) {
        let key = keys::balance(owner, asset);
        if amount.is_zero() {
            self.delete(key);
        } else {
            self.put(key, &amount.get());
        }
    }

    /// Takes `amount` from `owner`'s balance, or fails naming what is missing.
    pub(crate) fn debit(
        &mut self,
        owner: &AccountId,
        asset: &AssetId,
        amount: Amount,
    ) -> Result<(), TxError> {
        let have = self.balance(owner, asset);
        let left = have
            .checked_sub(amount)
            .ok_or(TxError::InsufficientBalance {
                asset: *asset,
                needed: amount,
                available: have,
            })?;
        self.set_balance(owner, asset, left);
        Ok(())
    }

    /// Adds `amount` to `owner`'s balance.
    pub(crate) fn credit(
        &mut self,
        owner: &AccountId,
        asset: &AssetId,
        amount: Amount,
    ) -> Result<(), TxError> {
        if amount.is_zero() {
            return Ok(());
        }
        let have = self.balance(owner, asset);
        let new = have.checked_add(amount).ok_or(TxError::Overflow)?;
        self.set_balance(owner, asset, new);
        Ok(())
    }
}
