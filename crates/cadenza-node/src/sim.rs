//! The fault test bed: a validator on Commonware's deterministic runtime and simulated network
//! (message loss, partitions, restarts, storage faults). The wiring is [`crate::validator`]'s,
//! the production wiring; only the runtime and the network differ.

use std::num::NonZeroU32;

use commonware_cryptography::ed25519;
use commonware_p2p::simulated::Oracle;
use commonware_runtime::{Quota, deterministic};

use crate::validator::{Network, channels};
pub use crate::validator::{ValidatorConfig, max_message_size};
use crate::{store::StoreError, validator};

/// A validator on the deterministic runtime.
pub type Validator = validator::Validator<deterministic::Context>;

/// Starts a validator on `context`, registering its channels with the simulated network. Its
/// storage lives under partitions named after its index, so a validator restarted on the same
/// runtime storage recovers from it.
pub async fn start_validator(
    context: deterministic::Context,
    oracle: &mut Oracle<ed25519::PublicKey, deterministic::Context>,
    config: ValidatorConfig,
) -> Result<Validator, StoreError> {
    let public_key = commonware_cryptography::Signer::public_key(&config.key);
    let control = oracle.control(public_key.clone());
    let quota = Quota::per_second(NonZeroU32::new(10_000).expect("non-zero"));
    let register = async |channel| {
        control
            .register(channel, quota)
            .await
            .expect("a channel registers once")
    };
    let network = Network {
        votes: register(channels::VOTES).await,
        certificates: register(channels::CERTIFICATES).await,
        resolver: register(channels::RESOLVER).await,
        backfill: register(channels::BACKFILL).await,
        broadcast: register(channels::BROADCAST).await,
        txs: register(channels::TXS).await,
        peers: oracle.manager(),
        blocker: control.clone(),
    };
    validator::start_validator(context, network, config).await
}
