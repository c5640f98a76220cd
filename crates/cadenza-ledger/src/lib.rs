//! Cadenza's ledger: a deterministic state machine over accounts, assets, tracks, payment
//! channels, settlement and royalties.
//!
//! The ledger is a pure function: [`execute_block`] takes a read-only [`StateView`] and a
//! [`Block`] and returns the block's changes and each transaction's outcome and events. Time,
//! height and proposer arrive in the block.
//!
//! Architecture invariant: no IO, no clock, no randomness, no async runtime. The crate depends
//! only on `cadenza-types`; stores, networking and consensus live in other crates. Scoped threads
//! are used for stateless verification only, and results never depend on their number.
//!
//! Domains, one module each: bank (balances, issued assets, faucet), [`catalog`] (tracks and
//! licences), channels, [`settlement`] (the voucher check shared with provider intake) and
//! royalties (exact pro-rata distribution).

mod bank;
pub mod catalog;
mod channels;
pub mod conservation;
mod ctx;
pub mod error;
pub mod events;
mod exec;
mod genesis;
mod parallel;
pub mod params;
pub mod query;
pub mod records;
mod royalties;
pub mod settlement;
pub mod state;
pub mod testkit;

pub use error::{BlockError, GenesisError, SettleError, TxError};
pub use events::Event;
pub use exec::{
    Block, BlockOutcome, Checked, TxOutcome, VerifyAll, execute_block, execute_block_checked,
};
pub use genesis::init_genesis;
pub use params::{
    FaucetParams, Genesis, GenesisAsset, GenesisFaucet, Params, faucet_account, native_asset,
    treasury,
};
pub use royalties::TOTAL_SHARES;
pub use state::{ChangeSet, MemoryState, StateView};
