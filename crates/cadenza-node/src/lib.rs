//! Cadenza's node: the consensus glue around the ledger.
//!
//! The node embeds Commonware's Simplex consensus with marshal (block dissemination, backfill,
//! in-order delivery of finalized blocks) and keeps the ledger state in Commonware's
//! authenticated storage (QMDB), so every block commits to a state root with inclusion proofs.
//!
//! - [`block`]: the consensus block and its codec; [`genesis_file`]: the genesis JSON;
//! - [`store`]: the Merkle-committed state, speculative execution and durable commits;
//! - [`app`]: propose, verify, and the finalizer that applies finalized blocks, then acknowledges;
//! - [`mempool`]: the bounded transaction queue; [`gossip`]: admitted transactions sent to peers;
//! - [`admission`]: the few threads that check incoming transactions' signatures;
//! - [`net`]: authenticated p2p on tokio; [`run`]: a validator process with its HTTP API;
//! - [`api`] and [`json`]: the HTTP API under `/v1` and the JSON forms it serves;
//! - [`provider`]: voucher intake with a durable log, and settlement in batches;
//! - [`validator`]: the wiring of one validator on any runtime and p2p network;
//! - [`sim`]: a validator on the deterministic runtime and simulated network (the fault test bed);
//! - [`web`]: the web app (`web/`), embedded and served at `/`.
//!
//! Architecture invariant: the ledger stays pure; this crate owns every IO concern of consensus
//! and state. Validity of a block depends only on the block and its ancestors.

pub mod admission;
pub mod announce;
pub mod api;
pub mod app;
pub mod balance;
pub mod block;
pub mod catalogue;
pub mod genesis_file;
pub mod gossip;
pub mod hot;
pub mod json;
pub mod media;
pub mod mempool;
pub mod net;
pub mod provider;
pub mod run;
pub mod sim;
pub mod store;
pub mod validator;
pub mod web;

/// The validator key types (Commonware's Ed25519), for launchers.
pub use commonware_cryptography::ed25519;
