//! What the ledger stores, and under which keys.
//!
//! Every key starts with a one-byte prefix naming its record kind, followed by fixed-size ids, so
//! keys of one kind sort together and a key alone says how to decode its value. Values use the
//! canonical encoding of `cadenza-types`.

use cadenza_types::encoding::{Decode, DecodeError, Encode, Reader, Writer};
use cadenza_types::tx::{ISRC_MAX_LEN, SYMBOL_MAX_LEN, TEXT_MAX_LEN};
use cadenza_types::{
    AccountId, Amount, AssetId, ChainId, ChannelId, Hash, Licence, TrackId, TrackMetadata, U256,
};

/// Key prefixes, one per record kind.
pub mod prefix {
    /// [`super::Account`] by account id.
    pub const ACCOUNT: u8 = 0x01;
    /// A balance (`u128`) by account id and asset id.
    pub const BALANCE: u8 = 0x02;
    /// [`super::AssetInfo`] by asset id.
    pub const ASSET: u8 = 0x03;
    /// [`super::Track`] by track id.
    pub const TRACK: u8 = 0x04;
    /// A track's total stream count (`u64`) by track id.
    pub const TRACK_STREAMS: u8 = 0x05;
    /// [`super::Channel`] by channel id.
    pub const CHANNEL: u8 = 0x06;
    /// [`super::Distribution`] by track id and asset id.
    pub const DISTRIBUTION: u8 = 0x07;
    /// [`super::Position`] by track id, asset id and holder.
    pub const POSITION: u8 = 0x08;
    /// A track's stream count in one epoch (`u64`) by track id and epoch (big-endian).
    pub const PLAYS: u8 = 0x09;
    /// [`crate::Params`], a single record.
    pub const PARAMS: u8 = 0x0a;
    /// [`super::Meta`], a single record.
    pub const META: u8 = 0x0b;
    /// [`super::TxRecord`] by transaction hash.
    pub const TX: u8 = 0x0c;
}

fn key(prefix: u8, parts: &[&[u8]]) -> Vec<u8> {
    let len = 1 + parts.iter().map(|p| p.len()).sum::<usize>();
    let mut k = Vec::with_capacity(len);
    k.push(prefix);
    for p in parts {
        k.extend_from_slice(p);
    }
    k
}

/// Key constructors.
pub mod keys {
    use super::*;

    /// An account record.
    pub fn account(id: &AccountId) -> Vec<u8> {
        key(prefix::ACCOUNT, &[id.as_bytes()])
    }
    /// A balance.
    pub fn balance(owner: &AccountId, asset: &AssetId) -> Vec<u8> {
        key(prefix::BALANCE, &[owner.as_bytes(), asset.as_bytes()])
    }
    /// An asset record.
    pub fn asset(id: &AssetId) -> Vec<u8> {
        key(prefix::ASSET, &[id.as_bytes()])
    }
    /// A track record.
    pub fn track(id: &TrackId) -> Vec<u8> {
        key(prefix::TRACK, &[id.as_bytes()])
    }
    /// A track's stream count.
    pub fn track_streams(id: &TrackId) -> Vec<u8> {
        key(prefix::TRACK_STREAMS, &[id.as_bytes()])
    }
    /// A channel record.
    pub fn channel(id: &ChannelId) -> Vec<u8> {
        key(prefix::CHANNEL, &[id.as_bytes()])
    }
    /// A track's revenue distribution in one asset.
    pub fn distribution(track: &TrackId, asset: &AssetId) -> Vec<u8> {
        key(prefix::DISTRIBUTION, &[track.as_bytes(), asset.as_bytes()])
    }
    /// A holder's position in a distribution.
    pub fn position(track: &TrackId, asset: &AssetId, holder: &AccountId) -> Vec<u8> {
        key(
            prefix::POSITION,
            &[track.as_bytes(), asset.as_bytes(), holder.as_bytes()],
        )
    }
    /// A track's stream count in `epoch`.
    pub fn plays(track: &TrackId, epoch: u64) -> Vec<u8> {
        key(prefix::PLAYS, &[track.as_bytes(), &epoch.to_be_bytes()])
    }
    /// The parameters.
    pub fn params() -> Vec<u8> {
        vec![prefix::PARAMS]
    }
    /// The chain metadata.
    pub fn meta() -> Vec<u8> {
        vec![prefix::META]
    }
    /// A transaction's record.
    pub fn tx(hash: &Hash) -> Vec<u8> {
        key(prefix::TX, &[&hash.0])
    }
}

/// A record stored under one key.
pub trait Record: Encode + Decode {}
impl<T: Encode + Decode> Record for T {}

/// Per-account bookkeeping (balances are separate records).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Account {
    /// The nonce the account's next transaction must carry.
    pub nonce: u64,
    /// Block time of the account's last faucet drip.
    pub last_faucet_ms: Option<u64>,
}

impl Encode for Account {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.nonce.encode_to(out);
        out.put_option(&self.last_faucet_ms, |o, v| v.encode_to(o));
    }
}

impl Decode for Account {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Account {
            nonce: r.u64()?,
            last_faucet_ms: r.option("last faucet", Reader::u64)?,
        })
    }
}

/// Where and how a transaction was executed: written for every transaction that passed
/// authentication (its nonce advanced), whether its action succeeded or not. A transaction
/// refused before its fee leaves no record, as it leaves no other trace. With it, a wallet can
/// prove a transaction's outcome against a block's state root, and a node answers a resubmitted
/// transaction with its first result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxRecord {
    /// The block that executed it.
    pub height: u64,
    /// Its position in that block.
    pub index: u32,
    /// The fee it paid.
    pub fee_paid: Amount,
    /// Why its action failed (the stable code and the message), or `None` if it succeeded.
    pub error: Option<(String, String)>,
}

/// The longest error code a [`TxRecord`] holds.
pub const TX_ERROR_CODE_MAX_LEN: usize = 64;
/// The longest error message a [`TxRecord`] holds (longer ones are cut at a character boundary).
pub const TX_ERROR_MESSAGE_MAX_LEN: usize = 512;

impl TxRecord {
    /// The record of a transaction at `index` in block `height`.
    pub fn new(height: u64, index: u32, fee_paid: Amount, error: Option<&crate::TxError>) -> Self {
        let error = error.map(|e| {
            let mut message = e.to_string();
            if message.len() > TX_ERROR_MESSAGE_MAX_LEN {
                let mut cut = TX_ERROR_MESSAGE_MAX_LEN;
                while !message.is_char_boundary(cut) {
                    cut -= 1;
                }
                message.truncate(cut);
            }
            (e.code().to_owned(), message)
        });
        TxRecord {
            height,
            index,
            fee_paid,
            error,
        }
    }
}

impl Encode for TxRecord {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.height.encode_to(out);
        self.index.encode_to(out);
        self.fee_paid.get().encode_to(out);
        out.put_option(&self.error, |o, (code, message)| {
            o.put_bytes(code.as_bytes());
            o.put_bytes(message.as_bytes());
        });
    }
}

impl Decode for TxRecord {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(TxRecord {
            height: r.u64()?,
            index: r.u32()?,
            fee_paid: Amount::new(r.u128()?),
            error: r.option("tx error", |r| {
                Ok((
                    r.string("tx error code", TX_ERROR_CODE_MAX_LEN)?,
                    r.string("tx error message", TX_ERROR_MESSAGE_MAX_LEN)?,
                ))
            })?,
        })
    }
}

/// What kind of asset an asset is, which decides who may mint it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssetKind {
    /// Created at genesis (the native `CDZ`, a devnet stable); supply fixed after genesis.
    Genesis,
    /// Issued by an account, which alone may mint it.
    Issued,
    /// A track's royalty shares: 1,000,000 minted at registration, never more, never burned.
    Shares {
        /// The track whose revenue the shares earn.
        track: TrackId,
    },
}

/// An asset's definition and supply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssetInfo {
    /// The ticker.
    pub symbol: String,
    /// Decimal places of a whole unit.
    pub decimals: u8,
    /// Who may mint it (issued assets only).
    pub issuer: Option<AccountId>,
    /// Its kind.
    pub kind: AssetKind,
    /// Everything ever minted, genesis included.
    pub minted: u128,
    /// Everything ever burned.
    pub burned: u128,
}

impl AssetInfo {
    /// `minted - burned`: what all balances, escrows and vaults of this asset must add up to.
    pub fn supply(&self) -> u128 {
        self.minted - self.burned
    }
}

impl Encode for AssetInfo {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.put_bytes(self.symbol.as_bytes());
        out.push(self.decimals);
        out.put_option(&self.issuer, |o, v| v.encode_to(o));
        match &self.kind {
            AssetKind::Genesis => out.push(0),
            AssetKind::Issued => out.push(1),
            AssetKind::Shares { track } => {
                out.push(2);
                track.encode_to(out);
            }
        }
        self.minted.encode_to(out);
        self.burned.encode_to(out);
    }
}

impl Decode for AssetInfo {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(AssetInfo {
            // Share assets carry a longer generated symbol than users may choose.
            symbol: r.string("asset symbol", SYMBOL_MAX_LEN * 2)?,
            decimals: r.u8()?,
            issuer: r.option("issuer", AccountId::decode_from)?,
            kind: match r.u8()? {
                0 => AssetKind::Genesis,
                1 => AssetKind::Issued,
                2 => AssetKind::Shares {
                    track: TrackId::decode_from(r)?,
                },
                tag => {
                    return Err(DecodeError::BadTag {
                        what: "asset kind",
                        tag,
                    });
                }
            },
            minted: r.u128()?,
            burned: r.u128()?,
        })
    }
}

/// The most assets a track can ever have earned in.
pub const REVENUE_ASSETS_MAX: usize = 8;

/// A registered track.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Track {
    /// Who may update the licence.
    pub controller: AccountId,
    /// BLAKE3 of the compressed audio packets.
    pub essence_id: Hash,
    /// BLAKE3 of the distributed file.
    pub blob_id: Hash,
    /// Title, artist, ISRC.
    pub metadata: TrackMetadata,
    /// The current licence.
    pub licence: Licence,
    /// The track's royalty share asset.
    pub shares_asset: AssetId,
    /// Every asset the track has been priced in, so a share transfer knows which distributions
    /// to settle. Bounded by [`REVENUE_ASSETS_MAX`].
    pub revenue_assets: Vec<AssetId>,
    /// Block time of registration.
    pub registered_ms: u64,
}

impl Encode for Track {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.controller.encode_to(out);
        self.essence_id.encode_to(out);
        self.blob_id.encode_to(out);
        out.put_bytes(self.metadata.title.as_bytes());
        out.put_bytes(self.metadata.artist.as_bytes());
        out.put_option(&self.metadata.isrc, |o, s| o.put_bytes(s.as_bytes()));
        self.licence.encode_to(out);
        self.shares_asset.encode_to(out);
        out.put_len(self.revenue_assets.len());
        for a in &self.revenue_assets {
            a.encode_to(out);
        }
        self.registered_ms.encode_to(out);
    }
}

impl Decode for Track {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Track {
            controller: AccountId::decode_from(r)?,
            essence_id: Hash::decode_from(r)?,
            blob_id: Hash::decode_from(r)?,
            metadata: TrackMetadata {
                title: r.string("title", TEXT_MAX_LEN)?,
                artist: r.string("artist", TEXT_MAX_LEN)?,
                isrc: r.option("isrc", |r| r.string("isrc", ISRC_MAX_LEN))?,
            },
            licence: Licence::decode_from(r)?,
            shares_asset: AssetId::decode_from(r)?,
            revenue_assets: r.list(
                "revenue assets",
                REVENUE_ASSETS_MAX,
                32,
                AssetId::decode_from,
            )?,
            registered_ms: r.u64()?,
        })
    }
}

/// A payment channel. Its escrow is `deposit - settled`, derived rather than stored, so the two
/// can never disagree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channel {
    /// The listener who funds it and signs vouchers.
    pub owner: AccountId,
    /// Who serves the streams and receives the provider fee.
    pub provider: AccountId,
    /// The asset it pays in.
    pub asset: AssetId,
    /// Everything deposited so far.
    pub deposit: u128,
    /// The `seq` of the last settled voucher.
    pub settled_seq: u64,
    /// The `cumulative` of the last settled voucher: what has left the escrow.
    pub settled: u128,
    /// The receipt chain head of the last settled voucher.
    pub head: Hash,
    /// Block time at which it closes by itself.
    pub expiry_ms: u64,
    /// Block time at which someone closed it, if anyone did.
    pub closed_ms: Option<u64>,
}

impl Channel {
    /// What is still escrowed.
    pub fn escrow(&self) -> u128 {
        self.deposit - self.settled
    }

    /// When the channel stopped or will stop being open: the earlier of its close and its expiry.
    pub fn closing_ms(&self) -> u64 {
        self.closed_ms
            .map_or(self.expiry_ms, |c| c.min(self.expiry_ms))
    }

    /// When settlement stops being possible: the close plus the challenge window.
    pub fn window_end_ms(&self, challenge_window_ms: u64) -> u64 {
        self.closing_ms().saturating_add(challenge_window_ms)
    }
}

impl Encode for Channel {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.owner.encode_to(out);
        self.provider.encode_to(out);
        self.asset.encode_to(out);
        self.deposit.encode_to(out);
        self.settled_seq.encode_to(out);
        self.settled.encode_to(out);
        self.head.encode_to(out);
        self.expiry_ms.encode_to(out);
        out.put_option(&self.closed_ms, |o, v| v.encode_to(o));
    }
}

impl Decode for Channel {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Channel {
            owner: AccountId::decode_from(r)?,
            provider: AccountId::decode_from(r)?,
            asset: AssetId::decode_from(r)?,
            deposit: r.u128()?,
            settled_seq: r.u64()?,
            settled: r.u128()?,
            head: Hash::decode_from(r)?,
            expiry_ms: r.u64()?,
            closed_ms: r.option("closed", Reader::u64)?,
        })
    }
}

/// A track's revenue in one asset.
///
/// `revenue` is everything the track has earned in the asset. A holder of `s` shares earns
/// `s / 1,000,000` of each increase of `revenue` while holding them; see [`Position`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Distribution {
    /// Cumulative revenue credited to the track in this asset (256 bits: it only grows).
    pub revenue: U256,
    /// What the vault holds now: revenue not yet claimed.
    pub vault: u128,
}

fn put_u256(out: &mut Vec<u8>, v: U256) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn read_u256(r: &mut Reader<'_>) -> Result<U256, DecodeError> {
    Ok(U256::from_le_bytes(r.array()?))
}

impl Encode for Distribution {
    fn encode_to(&self, out: &mut Vec<u8>) {
        put_u256(out, self.revenue);
        self.vault.encode_to(out);
    }
}

impl Decode for Distribution {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Distribution {
            revenue: read_u256(r)?,
            vault: r.u128()?,
        })
    }
}

/// A holder's position in a track's distribution in one asset.
///
/// `owed` is in base units times shares: it grows by `shares × (revenue − snapshot)` whenever the
/// holder's share balance is about to change or they claim. A claim pays `owed / 1,000,000` and
/// keeps the remainder, so no fraction of a base unit is ever lost or created.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Position {
    /// The distribution's `revenue` when this position was last brought up to date.
    pub snapshot: U256,
    /// Earned and not yet paid, in base units × shares.
    pub owed: U256,
}

impl Encode for Position {
    fn encode_to(&self, out: &mut Vec<u8>) {
        put_u256(out, self.snapshot);
        put_u256(out, self.owed);
    }
}

impl Decode for Position {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Position {
            snapshot: read_u256(r)?,
            owed: read_u256(r)?,
        })
    }
}

/// The chain's identity and progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Meta {
    /// The chain id every transaction must carry.
    pub chain_id: ChainId,
    /// The height of the last executed block (0 after genesis).
    pub height: u64,
    /// The time of the last executed block.
    pub time_ms: u64,
}

impl Encode for Meta {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.chain_id.encode_to(out);
        self.height.encode_to(out);
        self.time_ms.encode_to(out);
    }
}

impl Decode for Meta {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Meta {
            chain_id: ChainId::decode_from(r)?,
            height: r.u64()?,
            time_ms: r.u64()?,
        })
    }
}

/// A `u128` balance, stored as 16 little-endian bytes.
pub(crate) fn decode_u128(bytes: &[u8]) -> u128 {
    u128::from_bytes(bytes).expect("balances are stored as 16 bytes")
}

/// Reads the amount out of a balance key's value.
pub(crate) fn amount_of(bytes: &[u8]) -> Amount {
    Amount::new(decode_u128(bytes))
}
