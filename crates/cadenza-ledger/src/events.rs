//! What happened in a block, for indexers, event streams and wallets.

use cadenza_types::{AccountId, Amount, AssetId, ChannelId, Hash, TrackId};

/// One thing a successful transaction did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Funds moved between accounts.
    Transferred {
        /// The sender.
        from: AccountId,
        /// The recipient.
        to: AccountId,
        /// The asset.
        asset: AssetId,
        /// How much.
        amount: Amount,
    },
    /// An asset was created.
    AssetCreated {
        /// The asset.
        asset: AssetId,
        /// Its issuer.
        issuer: AccountId,
        /// Its ticker.
        symbol: String,
    },
    /// New units were minted.
    Minted {
        /// The asset.
        asset: AssetId,
        /// The recipient.
        to: AccountId,
        /// How much.
        amount: Amount,
    },
    /// Units were burned.
    Burned {
        /// The asset.
        asset: AssetId,
        /// Whose.
        from: AccountId,
        /// How much.
        amount: Amount,
    },
    /// A track was registered.
    TrackRegistered {
        /// The track.
        track: TrackId,
        /// Its controller.
        controller: AccountId,
        /// Its royalty share asset.
        shares_asset: AssetId,
        /// Its essence id.
        essence_id: Hash,
    },
    /// A track's licence changed.
    LicenceUpdated {
        /// The track.
        track: TrackId,
    },
    /// A channel was opened.
    ChannelOpened {
        /// The channel.
        channel: ChannelId,
        /// The listener.
        owner: AccountId,
        /// The provider.
        provider: AccountId,
        /// The asset.
        asset: AssetId,
        /// The deposit.
        deposit: Amount,
    },
    /// A channel's deposit grew.
    ChannelToppedUp {
        /// The channel.
        channel: ChannelId,
        /// By how much.
        amount: Amount,
    },
    /// A channel was closed; its challenge window runs until `window_end_ms`.
    ChannelClosed {
        /// The channel.
        channel: ChannelId,
        /// The end of the challenge window.
        window_end_ms: u64,
    },
    /// A channel's remaining escrow went back to its owner; the channel is gone.
    ChannelWithdrawn {
        /// The channel.
        channel: ChannelId,
        /// What was returned.
        refund: Amount,
    },
    /// A channel's voucher was settled.
    ChannelSettled {
        /// The channel.
        channel: ChannelId,
        /// The voucher's seq.
        seq: u64,
        /// The voucher's cumulative.
        cumulative: Amount,
        /// What this settlement paid out of escrow.
        paid: Amount,
    },
    /// A track earned revenue from settled streams.
    RoyaltiesAccrued {
        /// The track.
        track: TrackId,
        /// The asset.
        asset: AssetId,
        /// What reached its vault (after fees).
        amount: Amount,
        /// How many streams.
        streams: u64,
    },
    /// A holder claimed revenue.
    Claimed {
        /// The track.
        track: TrackId,
        /// The asset.
        asset: AssetId,
        /// The holder.
        holder: AccountId,
        /// How much.
        amount: Amount,
    },
}
