//! Why a transaction, a settlement or a block was refused.
//!
//! Every variant names the rule that was broken, and its message says what to do. [`TxError::code`]
//! gives each a stable snake_case code for APIs and scripts.

use cadenza_types::{AccountId, Amount, AssetId, ChainId, ChannelId, TrackId};

/// Why the ledger refused a transaction.
///
/// The fee rule: errors for which [`TxError::charges_fee`] is false (the transaction is not
/// authentic, not for this chain, out of nonce order, or cannot pay its fee) leave the state
/// exactly as it was. For every other error the signer's nonce advances and the fee is paid,
/// and nothing else changes: a signed, correctly ordered transaction that breaks a rule still
/// costs its fee, so failing transactions cannot be used to fill blocks for free.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    /// The transaction names another chain.
    #[error(
        "transaction is for chain `{found}` but this is `{expected}`; sign it with this chain's id"
    )]
    WrongChain {
        /// This chain.
        expected: ChainId,
        /// The transaction's.
        found: ChainId,
    },
    /// The signer's key is a point of small order, for which anyone can forge signatures.
    #[error(
        "the signer's key is a small-order point that anyone can sign for; use a key from a real key generator"
    )]
    SmallOrderKey,
    /// The signature is not the signer's over this transaction.
    #[error("bad signature: the transaction is not signed by its signer's key")]
    BadSignature,
    /// The nonce was already used (a replay or a duplicate).
    #[error(
        "stale nonce {found}: this account's next nonce is {expected}; the transaction was already executed or replaced"
    )]
    StaleNonce {
        /// The account's next nonce.
        expected: u64,
        /// The transaction's.
        found: u64,
    },
    /// The nonce skips ahead.
    #[error(
        "nonce {found} is ahead of this account's next nonce {expected}; submit the missing transactions first"
    )]
    FutureNonce {
        /// The account's next nonce.
        expected: u64,
        /// The transaction's.
        found: u64,
    },
    /// The fee offered is below the minimum.
    #[error("fee {offered} is below the minimum of {min} CDZ base units; raise the fee")]
    FeeTooLow {
        /// The minimum.
        min: Amount,
        /// The transaction's fee.
        offered: Amount,
    },
    /// The signer cannot pay the fee.
    #[error(
        "cannot pay the fee: it is {needed} CDZ base units and the account holds {available}; fund the account first"
    )]
    CannotPayFee {
        /// The fee.
        needed: Amount,
        /// The signer's native balance.
        available: Amount,
    },
    /// A balance is too small.
    #[error("insufficient balance of asset {asset}: need {needed}, have {available} (missing {})", needed.get() - available.get())]
    InsufficientBalance {
        /// The asset.
        asset: AssetId,
        /// What was needed.
        needed: Amount,
        /// What the account holds.
        available: Amount,
    },
    /// An amount would exceed 128 bits.
    #[error("arithmetic overflow: the amounts involved are too large")]
    Overflow,
    /// A zero amount where a positive one is needed.
    #[error("the amount must be positive")]
    ZeroAmount,
    /// No such asset.
    #[error("unknown asset {0}; check the asset id")]
    UnknownAsset(AssetId),
    /// Minting an asset the signer did not issue.
    #[error("only the issuer of asset {0} may mint it")]
    NotIssuer(AssetId),
    /// Creating an asset that exists.
    #[error("asset {0} already exists; choose another symbol")]
    AssetExists(AssetId),
    /// A symbol outside the rules.
    #[error("invalid symbol `{0}`: use 1 to 12 characters of A-Z and 0-9")]
    InvalidSymbol(String),
    /// The asset cannot be minted or burned this way.
    #[error("asset {0} has a fixed supply; it cannot be minted or burned")]
    FixedSupply(AssetId),
    /// A channel or licence priced in an asset that is not a payment asset.
    #[error(
        "asset {0} is a royalty share, not a payment asset; price and pay in CDZ or an issued asset"
    )]
    NotPaymentAsset(AssetId),
    /// This chain has no faucet.
    #[error("this chain has no faucet")]
    FaucetDisabled,
    /// The faucet was used too recently by this account.
    #[error("the faucet already paid this account; try again after block time {ready_ms}")]
    FaucetCooldown {
        /// When the account may ask again.
        ready_ms: u64,
    },
    /// A track with this essence is registered.
    #[error("track {0} is already registered (same audio essence)")]
    TrackExists(TrackId),
    /// No such track.
    #[error("unknown track {0}; check the track id")]
    UnknownTrack(TrackId),
    /// Only the controller may do this.
    #[error("only the track's controller {controller} may change it")]
    NotController {
        /// The controller.
        controller: AccountId,
    },
    /// Holders' shares do not sum to 1,000,000.
    #[error("holders' shares sum to {sum}, not 1000000; adjust the split so it totals 100%")]
    SharesSumMismatch {
        /// The sum found.
        sum: u64,
    },
    /// A holder listed twice or with no shares, or no holders.
    #[error("invalid holders: {0}")]
    InvalidHolders(&'static str),
    /// Title, artist or ISRC outside the rules.
    #[error("invalid track metadata: {0}")]
    InvalidMetadata(&'static str),
    /// Licence terms outside the rules.
    #[error("invalid licence: {0}")]
    InvalidLicence(&'static str),
    /// The track has been priced in too many assets.
    #[error(
        "a track can earn in at most 8 assets over its life; keep the licence in an asset it already uses"
    )]
    TooManyRevenueAssets,
    /// No such channel (never opened, or withdrawn).
    #[error("unknown channel {0}; it was never opened or has been withdrawn")]
    UnknownChannel(ChannelId),
    /// Only the channel's owner may do this.
    #[error("only the channel's owner may do this")]
    NotChannelOwner,
    /// Only the channel's owner or provider may do this.
    #[error("only the channel's owner or provider may close it")]
    NotChannelParty,
    /// The channel is closing or closed.
    #[error("channel {0} is closed or closing; open a new channel")]
    ChannelClosed(ChannelId),
    /// Withdrawing before the challenge window is over.
    #[error("the challenge window is open until block time {until_ms}; withdraw after it")]
    WindowOpen {
        /// When it ends.
        until_ms: u64,
    },
    /// An expiry that is not in the future.
    #[error("the expiry {expiry_ms} is not after the current block time {now_ms}")]
    ExpiryInPast {
        /// The expiry asked for.
        expiry_ms: u64,
        /// The block time.
        now_ms: u64,
    },
    /// A settlement was refused.
    #[error("settlement of channel update #{index} refused: {error}")]
    Settlement {
        /// Which update of the transaction.
        index: u32,
        /// Why.
        error: SettleError,
    },
    /// More receipts than one transaction may settle.
    #[error("{found} receipts in one transaction; the limit is {max}; split the settlement")]
    TooManyReceipts {
        /// The limit.
        max: u32,
        /// The count found.
        found: u64,
    },
    /// A claim with nothing to pay.
    #[error("nothing to claim from track {track} in asset {asset}")]
    NothingToClaim {
        /// The track.
        track: TrackId,
        /// The asset.
        asset: AssetId,
    },
}

impl TxError {
    /// Whether the fee is charged and the nonce advanced despite the error (see the fee rule on
    /// [`TxError`]).
    pub fn charges_fee(&self) -> bool {
        !matches!(
            self,
            TxError::WrongChain { .. }
                | TxError::SmallOrderKey
                | TxError::BadSignature
                | TxError::StaleNonce { .. }
                | TxError::FutureNonce { .. }
                | TxError::FeeTooLow { .. }
                | TxError::CannotPayFee { .. }
        )
    }

    /// A stable code for APIs and scripts.
    pub fn code(&self) -> &'static str {
        match self {
            TxError::WrongChain { .. } => "wrong_chain",
            TxError::SmallOrderKey => "small_order_key",
            TxError::BadSignature => "bad_signature",
            TxError::StaleNonce { .. } => "stale_nonce",
            TxError::FutureNonce { .. } => "future_nonce",
            TxError::FeeTooLow { .. } => "fee_too_low",
            TxError::CannotPayFee { .. } => "cannot_pay_fee",
            TxError::InsufficientBalance { .. } => "insufficient_balance",
            TxError::Overflow => "overflow",
            TxError::ZeroAmount => "zero_amount",
            TxError::UnknownAsset(_) => "unknown_asset",
            TxError::NotIssuer(_) => "not_issuer",
            TxError::AssetExists(_) => "asset_exists",
            TxError::InvalidSymbol(_) => "invalid_symbol",
            TxError::FixedSupply(_) => "fixed_supply",
            TxError::NotPaymentAsset(_) => "not_payment_asset",
            TxError::FaucetDisabled => "faucet_disabled",
            TxError::FaucetCooldown { .. } => "faucet_cooldown",
            TxError::TrackExists(_) => "track_exists",
            TxError::UnknownTrack(_) => "unknown_track",
            TxError::NotController { .. } => "not_controller",
            TxError::SharesSumMismatch { .. } => "shares_sum_mismatch",
            TxError::InvalidHolders(_) => "invalid_holders",
            TxError::InvalidMetadata(_) => "invalid_metadata",
            TxError::InvalidLicence(_) => "invalid_licence",
            TxError::TooManyRevenueAssets => "too_many_revenue_assets",
            TxError::UnknownChannel(_) => "unknown_channel",
            TxError::NotChannelOwner => "not_channel_owner",
            TxError::NotChannelParty => "not_channel_party",
            TxError::ChannelClosed(_) => "channel_closed",
            TxError::WindowOpen { .. } => "window_open",
            TxError::ExpiryInPast { .. } => "expiry_in_past",
            TxError::Settlement { error, .. } => error.code(),
            TxError::TooManyReceipts { .. } => "too_many_receipts",
            TxError::NothingToClaim { .. } => "nothing_to_claim",
        }
    }
}

/// Why a channel update (a voucher and its receipts) was refused, on-chain or at a provider's
/// intake: both run the same check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettleError {
    /// The voucher names another chain.
    #[error("voucher is for chain `{found}`, not this one")]
    WrongChain {
        /// The voucher's chain.
        found: ChainId,
    },
    /// No such channel.
    #[error("unknown channel {0}")]
    UnknownChannel(ChannelId),
    /// The same channel appears twice in one settlement.
    #[error("channel {0} appears twice in one settlement; send one update per channel")]
    DuplicateChannel(ChannelId),
    /// The channel's challenge window is over.
    #[error("channel {channel} can no longer be settled: its challenge window ended at {ended_ms}")]
    WindowClosed {
        /// The channel.
        channel: ChannelId,
        /// When the window ended.
        ended_ms: u64,
    },
    /// The voucher is not signed by the channel's owner.
    #[error("the voucher is not signed by the channel's owner")]
    BadVoucherSignature,
    /// The voucher's seq or cumulative is not above the last accepted voucher's.
    #[error(
        "voucher not newer: seq {seq} and cumulative {cumulative} must both exceed the last accepted {last_seq} and {last_cumulative}"
    )]
    VoucherNotNewer {
        /// The last accepted seq.
        last_seq: u64,
        /// The voucher's seq.
        seq: u64,
        /// The last accepted cumulative.
        last_cumulative: Amount,
        /// The voucher's cumulative.
        cumulative: Amount,
    },
    /// The number of receipts does not match the seq increase.
    #[error(
        "{found} receipts sent but the voucher covers {expected}; send every receipt since the last accepted voucher"
    )]
    ReceiptCountMismatch {
        /// `voucher.seq - last seq`.
        expected: u64,
        /// Receipts sent.
        found: u64,
    },
    /// The receipts do not hash to the voucher's head.
    #[error("head mismatch: the receipts do not hash to the head the voucher signs")]
    HeadMismatch,
    /// The receipts' amounts do not add up to the voucher's increase.
    #[error(
        "sum mismatch: the receipts total {receipts_total} but the voucher's cumulative rose by {voucher_delta}"
    )]
    SumMismatch {
        /// The receipts' total.
        receipts_total: Amount,
        /// `voucher.cumulative - last cumulative`.
        voucher_delta: Amount,
    },
    /// The voucher spends more than the channel holds.
    #[error("cumulative {cumulative} exceeds the channel's deposit {deposit}; top the channel up")]
    AboveDeposit {
        /// The voucher's cumulative.
        cumulative: Amount,
        /// The channel's deposit.
        deposit: Amount,
    },
    /// A receipt names a track that does not exist.
    #[error("receipt #{index} names unknown track {track}")]
    UnknownTrack {
        /// Which receipt.
        index: u32,
        /// The track.
        track: TrackId,
    },
    /// A receipt's track does not licence streaming, or not at that time.
    #[error("receipt #{index}: the licence of track {track} does not allow streaming at that time")]
    NotLicensed {
        /// Which receipt.
        index: u32,
        /// The track.
        track: TrackId,
    },
    /// A receipt's track is priced in another asset than the channel's.
    #[error(
        "receipt #{index}: track {track} is priced in asset {price_asset}, not the channel's asset"
    )]
    WrongAsset {
        /// Which receipt.
        index: u32,
        /// The track.
        track: TrackId,
        /// The licence's asset.
        price_asset: AssetId,
    },
    /// A receipt pays less than the licence's price.
    #[error("receipt #{index}: price not met, paid {paid} but the licence asks {price}")]
    PriceNotMet {
        /// Which receipt.
        index: u32,
        /// The licence's price.
        price: Amount,
        /// The receipt's amount.
        paid: Amount,
    },
    /// A receipt's play time is below the minimum that makes a stream.
    #[error(
        "receipt #{index}: play too short, {played_ms} ms played but a stream needs {min_ms} ms"
    )]
    PlayTooShort {
        /// Which receipt.
        index: u32,
        /// The minimum.
        min_ms: u64,
        /// The play time.
        played_ms: u64,
    },
}

impl SettleError {
    /// A stable code for APIs and scripts.
    pub fn code(&self) -> &'static str {
        match self {
            SettleError::WrongChain { .. } => "voucher_wrong_chain",
            SettleError::UnknownChannel(_) => "unknown_channel",
            SettleError::DuplicateChannel(_) => "duplicate_channel",
            SettleError::WindowClosed { .. } => "window_closed",
            SettleError::BadVoucherSignature => "bad_voucher_signature",
            SettleError::VoucherNotNewer { .. } => "voucher_not_newer",
            SettleError::ReceiptCountMismatch { .. } => "receipt_count_mismatch",
            SettleError::HeadMismatch => "head_mismatch",
            SettleError::SumMismatch { .. } => "sum_mismatch",
            SettleError::AboveDeposit { .. } => "above_deposit",
            SettleError::UnknownTrack { .. } => "unknown_track",
            SettleError::NotLicensed { .. } => "not_licensed",
            SettleError::WrongAsset { .. } => "wrong_asset",
            SettleError::PriceNotMet { .. } => "price_not_met",
            SettleError::PlayTooShort { .. } => "play_too_short",
        }
    }
}

/// Why a whole block was refused (the block is invalid; nothing of it applies).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    /// The state has no genesis.
    #[error("the state has no genesis; initialise it first")]
    NoGenesis,
    /// The block's height is not the next one.
    #[error("block height {found} does not follow the last executed height {last}")]
    WrongHeight {
        /// The last executed height.
        last: u64,
        /// The block's height.
        found: u64,
    },
    /// The block's time is before the last block's.
    #[error("block time {found} is before the last block time {last}")]
    TimeWentBack {
        /// The last block time.
        last: u64,
        /// The block's time.
        found: u64,
    },
}

/// Why a genesis configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenesisError {
    /// The state already has a genesis.
    #[error("the state already holds a chain; start from an empty state")]
    AlreadyInitialised,
    /// The native asset is missing.
    #[error("genesis must define the native asset CDZ")]
    NoNativeAsset,
    /// An asset is defined twice.
    #[error("genesis defines asset `{0}` twice")]
    DuplicateAsset(String),
    /// A symbol outside the rules.
    #[error("invalid genesis asset symbol `{0}`: use 1 to 12 characters of A-Z and 0-9")]
    InvalidSymbol(String),
    /// Initial balances of an asset overflow.
    #[error("initial balances of `{0}` overflow 128 bits")]
    Overflow(String),
    /// The faucet drips an asset genesis does not define.
    #[error("the faucet drips `{0}`, which genesis does not define")]
    UnknownFaucetAsset(String),
    /// The parameters are inconsistent.
    #[error("invalid parameters: {0}")]
    InvalidParams(&'static str),
}
