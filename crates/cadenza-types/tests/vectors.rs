//! Test vectors shared with the JavaScript client: `testdata/vectors.json`.
//!
//! The file is generated here from fixed seeds (ed25519 signing is deterministic, RFC 8032), so
//! regenerating it reproduces it byte for byte:
//!
//! - `committed_file_matches_the_generator` regenerates the JSON in memory and asserts that it
//!   equals the committed file exactly. After an intentional change to a format, rewrite the file
//!   with `CADENZA_UPDATE_VECTORS=1 cargo test -p cadenza-types --test vectors` and review the
//!   diff: every change to it is a protocol change the JavaScript client must follow.
//! - `committed_file_is_consistent` reads the committed file and checks every entry against the
//!   code on its own: JSON fields → value, `from_bytes(encoding) == value`,
//!   `to_bytes(value) == encoding`, hashes (also recomputed with plain BLAKE3 from the documented
//!   construction), ids, and every signature with `crypto::verify` and `crypto::verify_many`.
//!
//! JSON conventions (also in `docs/encoding.md`): byte strings are lower-case hex without `0x`;
//! `u64` and `u128` values are decimal strings (they do not fit a JavaScript number); `u8`, `u16`
//! and `u32` values are JSON numbers.

use std::path::PathBuf;

use cadenza_types::crypto::{self, SigItem};
use cadenza_types::hash::{self, Domain};
use cadenza_types::licence::{Price, Territory, Uses};
use cadenza_types::stream::RECEIPT_LEN;
use cadenza_types::{
    AccountId, Action, Amount, AssetId, ChainId, ChannelId, ChannelUpdate, Decode, Encode, Hash,
    Holder, Licence, Receipt, ReceiptChain, SecretKey, Signature, SignedTransaction, SignedVoucher,
    TrackId, TrackMetadata, Transaction, Voucher,
};
use serde::{Deserialize, Serialize};

/// Set to `1` to rewrite `testdata/vectors.json` instead of comparing against it.
const UPDATE_ENV: &str = "CADENZA_UPDATE_VECTORS";

fn vectors_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/vectors.json")
}

// ---------------------------------------------------------------------------------------------
// The JSON form. Structs (not maps) so that the field order is fixed by the declarations here,
// whatever features of serde_json the rest of the workspace enables.
// ---------------------------------------------------------------------------------------------

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
struct Vectors {
    format: String,
    version: u32,
    generated_by: String,
    notes: Vec<String>,
    keys: Vec<KeyVector>,
    domains: Vec<DomainVector>,
    domain_hashes: Vec<DomainHashVector>,
    ids: IdVectors,
    licences: Vec<LicenceVector>,
    receipts: Vec<ReceiptVector>,
    receipt_chains: Vec<ReceiptChainVector>,
    vouchers: Vec<VoucherVector>,
    transactions: Vec<TxVector>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
struct KeyVector {
    name: String,
    seed: String,
    public_key: String,
    did: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
struct DomainVector {
    context: String,
    key: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
struct DomainHashVector {
    context: String,
    message: String,
    hash: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
struct IdVectors {
    module_accounts: Vec<ModuleAccountVector>,
    assets: Vec<AssetIdVector>,
    tracks: Vec<TrackIdVector>,
    channels: Vec<ChannelIdVector>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
struct ModuleAccountVector {
    name: String,
    message: String,
    account: String,
    did: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum AssetIdVector {
    Genesis {
        symbol: String,
        message: String,
        asset_id: String,
    },
    Issued {
        issuer: String,
        symbol: String,
        message: String,
        asset_id: String,
    },
    Shares {
        track: String,
        message: String,
        asset_id: String,
    },
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
struct TrackIdVector {
    essence_id: String,
    track_id: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
struct ChannelIdVector {
    owner: String,
    nonce: String,
    message: String,
    channel_id: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
struct PriceJson {
    asset: String,
    amount: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
struct LicenceJson {
    price: PriceJson,
    uses: u8,
    territories: Vec<String>,
    valid_from_ms: String,
    valid_until_ms: Option<String>,
    url: String,
    min_play_ms: u32,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
struct LicenceVector {
    name: String,
    licence: LicenceJson,
    encoding: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
struct ReceiptJson {
    track: String,
    amount: String,
    played_ms: String,
    at_ms: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
struct ReceiptVector {
    name: String,
    receipt: ReceiptJson,
    encoding: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
struct ReceiptChainVector {
    name: String,
    channel: String,
    h0: String,
    links: Vec<ReceiptLinkVector>,
    seq: String,
    cumulative: String,
    head: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
struct ReceiptLinkVector {
    receipt: ReceiptJson,
    encoding: String,
    message: String,
    head: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
struct VoucherJson {
    chain_id: String,
    channel: String,
    seq: String,
    cumulative: String,
    head: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
struct SignedVoucherJson {
    voucher: VoucherJson,
    signature: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
struct VoucherVector {
    name: String,
    key: String,
    signer: String,
    voucher: VoucherJson,
    encoding: String,
    signing_hash: String,
    signature: String,
    signed_encoding: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
struct MetadataJson {
    title: String,
    artist: String,
    isrc: Option<String>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
struct HolderJson {
    account: String,
    shares: u32,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
struct ChannelUpdateJson {
    voucher: SignedVoucherJson,
    receipts: Vec<ReceiptJson>,
}

/// The JSON form of [`Action`]: `type` is [`Action::name`], the other fields are the variant's.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum ActionJson {
    Transfer {
        to: String,
        asset: String,
        amount: String,
    },
    CreateAsset {
        symbol: String,
        decimals: u8,
    },
    Mint {
        asset: String,
        to: String,
        amount: String,
    },
    Burn {
        asset: String,
        amount: String,
    },
    Faucet,
    RegisterTrack {
        essence_id: String,
        blob_id: String,
        metadata: MetadataJson,
        licence: LicenceJson,
        holders: Vec<HolderJson>,
    },
    UpdateLicence {
        track: String,
        licence: LicenceJson,
    },
    OpenChannel {
        provider: String,
        asset: String,
        deposit: String,
        expiry_ms: String,
    },
    TopUp {
        channel: String,
        amount: String,
    },
    CloseChannel {
        channel: String,
    },
    Withdraw {
        channel: String,
    },
    SettleChannels {
        updates: Vec<ChannelUpdateJson>,
    },
    Claim {
        track: String,
        asset: String,
    },
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
struct TxJson {
    chain_id: String,
    signer: String,
    nonce: String,
    fee: String,
    action: ActionJson,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
struct TxVector {
    name: String,
    key: String,
    tx: TxJson,
    action_tag: u8,
    encoding: String,
    hash: String,
    signature: String,
    signed_encoding: String,
}

// ---------------------------------------------------------------------------------------------
// Conversions between values and their JSON form. Parsing is strict: lower-case hex of the exact
// length, decimal strings in their shortest form.
// ---------------------------------------------------------------------------------------------

fn hx(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

fn unhex(text: &str) -> Vec<u8> {
    assert_eq!(
        text,
        text.to_ascii_lowercase(),
        "hex must be lower case: {text}"
    );
    hex::decode(text).unwrap_or_else(|e| panic!("bad hex {text:?}: {e}"))
}

fn unhex_n<const N: usize>(text: &str) -> [u8; N] {
    let bytes = unhex(text);
    bytes
        .try_into()
        .unwrap_or_else(|b: Vec<u8>| panic!("expected {N} bytes, got {}: {text}", b.len()))
}

fn dec_u64(text: &str) -> u64 {
    let v: u64 = text
        .parse()
        .unwrap_or_else(|e| panic!("bad u64 {text:?}: {e}"));
    assert_eq!(v.to_string(), text, "decimal must be canonical");
    v
}

fn dec_u128(text: &str) -> u128 {
    let v: u128 = text
        .parse()
        .unwrap_or_else(|e| panic!("bad u128 {text:?}: {e}"));
    assert_eq!(v.to_string(), text, "decimal must be canonical");
    v
}

fn amount(text: &str) -> Amount {
    Amount::new(dec_u128(text))
}

fn account(text: &str) -> AccountId {
    AccountId(unhex_n(text))
}

fn h(text: &str) -> Hash {
    Hash(unhex_n(text))
}

fn asset(text: &str) -> AssetId {
    AssetId(h(text))
}

fn track(text: &str) -> TrackId {
    TrackId(h(text))
}

fn channel(text: &str) -> ChannelId {
    ChannelId(h(text))
}

fn chain(text: &str) -> ChainId {
    ChainId::new(text).expect("valid chain id")
}

fn signature(text: &str) -> Signature {
    Signature(unhex_n(text))
}

fn licence_json(l: &Licence) -> LicenceJson {
    LicenceJson {
        price: PriceJson {
            asset: hx(l.price.asset.as_bytes()),
            amount: l.price.amount.get().to_string(),
        },
        uses: l.uses.bits(),
        territories: l
            .territories
            .iter()
            .map(|t| t.as_str().to_owned())
            .collect(),
        valid_from_ms: l.valid_from_ms.to_string(),
        valid_until_ms: l.valid_until_ms.map(|v| v.to_string()),
        url: l.url.clone(),
        min_play_ms: l.min_play_ms,
    }
}

fn licence_value(j: &LicenceJson) -> Licence {
    Licence {
        price: Price {
            asset: asset(&j.price.asset),
            amount: amount(&j.price.amount),
        },
        uses: Uses::from_bits(j.uses).expect("known use flags"),
        territories: j
            .territories
            .iter()
            .map(|t| Territory::new(t).expect("territory code"))
            .collect(),
        valid_from_ms: dec_u64(&j.valid_from_ms),
        valid_until_ms: j.valid_until_ms.as_deref().map(dec_u64),
        url: j.url.clone(),
        min_play_ms: j.min_play_ms,
    }
}

fn receipt_json(r: &Receipt) -> ReceiptJson {
    ReceiptJson {
        track: hx(r.track.as_bytes()),
        amount: r.amount.get().to_string(),
        played_ms: r.played_ms.to_string(),
        at_ms: r.at_ms.to_string(),
    }
}

fn receipt_value(j: &ReceiptJson) -> Receipt {
    Receipt {
        track: track(&j.track),
        amount: amount(&j.amount),
        played_ms: dec_u64(&j.played_ms),
        at_ms: dec_u64(&j.at_ms),
    }
}

fn voucher_json(v: &Voucher) -> VoucherJson {
    VoucherJson {
        chain_id: v.chain_id.as_str().to_owned(),
        channel: hx(v.channel.as_bytes()),
        seq: v.seq.to_string(),
        cumulative: v.cumulative.get().to_string(),
        head: hx(v.head.as_bytes()),
    }
}

fn voucher_value(j: &VoucherJson) -> Voucher {
    Voucher {
        chain_id: chain(&j.chain_id),
        channel: channel(&j.channel),
        seq: dec_u64(&j.seq),
        cumulative: amount(&j.cumulative),
        head: h(&j.head),
    }
}

fn action_json(a: &Action) -> ActionJson {
    match a {
        Action::Transfer { to, asset, amount } => ActionJson::Transfer {
            to: hx(to.as_bytes()),
            asset: hx(asset.as_bytes()),
            amount: amount.get().to_string(),
        },
        Action::CreateAsset { symbol, decimals } => ActionJson::CreateAsset {
            symbol: symbol.clone(),
            decimals: *decimals,
        },
        Action::Mint { asset, to, amount } => ActionJson::Mint {
            asset: hx(asset.as_bytes()),
            to: hx(to.as_bytes()),
            amount: amount.get().to_string(),
        },
        Action::Burn { asset, amount } => ActionJson::Burn {
            asset: hx(asset.as_bytes()),
            amount: amount.get().to_string(),
        },
        Action::Faucet => ActionJson::Faucet,
        Action::RegisterTrack {
            essence_id,
            blob_id,
            metadata,
            licence,
            holders,
        } => ActionJson::RegisterTrack {
            essence_id: hx(essence_id.as_bytes()),
            blob_id: hx(blob_id.as_bytes()),
            metadata: MetadataJson {
                title: metadata.title.clone(),
                artist: metadata.artist.clone(),
                isrc: metadata.isrc.clone(),
            },
            licence: licence_json(licence),
            holders: holders
                .iter()
                .map(|h| HolderJson {
                    account: hx(h.account.as_bytes()),
                    shares: h.shares,
                })
                .collect(),
        },
        Action::UpdateLicence { track, licence } => ActionJson::UpdateLicence {
            track: hx(track.as_bytes()),
            licence: licence_json(licence),
        },
        Action::OpenChannel {
            provider,
            asset,
            deposit,
            expiry_ms,
        } => ActionJson::OpenChannel {
            provider: hx(provider.as_bytes()),
            asset: hx(asset.as_bytes()),
            deposit: deposit.get().to_string(),
            expiry_ms: expiry_ms.to_string(),
        },
        Action::TopUp { channel, amount } => ActionJson::TopUp {
            channel: hx(channel.as_bytes()),
            amount: amount.get().to_string(),
        },
        Action::CloseChannel { channel } => ActionJson::CloseChannel {
            channel: hx(channel.as_bytes()),
        },
        Action::Withdraw { channel } => ActionJson::Withdraw {
            channel: hx(channel.as_bytes()),
        },
        Action::SettleChannels { updates } => ActionJson::SettleChannels {
            updates: updates
                .iter()
                .map(|u| ChannelUpdateJson {
                    voucher: SignedVoucherJson {
                        voucher: voucher_json(&u.voucher.voucher),
                        signature: hx(&u.voucher.signature.0),
                    },
                    receipts: u.receipts.iter().map(receipt_json).collect(),
                })
                .collect(),
        },
        Action::Claim { track, asset } => ActionJson::Claim {
            track: hx(track.as_bytes()),
            asset: hx(asset.as_bytes()),
        },
    }
}

fn action_value(j: &ActionJson) -> Action {
    match j {
        ActionJson::Transfer {
            to,
            asset: a,
            amount: n,
        } => Action::Transfer {
            to: account(to),
            asset: asset(a),
            amount: amount(n),
        },
        ActionJson::CreateAsset { symbol, decimals } => Action::CreateAsset {
            symbol: symbol.clone(),
            decimals: *decimals,
        },
        ActionJson::Mint {
            asset: a,
            to,
            amount: n,
        } => Action::Mint {
            asset: asset(a),
            to: account(to),
            amount: amount(n),
        },
        ActionJson::Burn {
            asset: a,
            amount: n,
        } => Action::Burn {
            asset: asset(a),
            amount: amount(n),
        },
        ActionJson::Faucet => Action::Faucet,
        ActionJson::RegisterTrack {
            essence_id,
            blob_id,
            metadata,
            licence,
            holders,
        } => Action::RegisterTrack {
            essence_id: h(essence_id),
            blob_id: h(blob_id),
            metadata: TrackMetadata {
                title: metadata.title.clone(),
                artist: metadata.artist.clone(),
                isrc: metadata.isrc.clone(),
            },
            licence: licence_value(licence),
            holders: holders
                .iter()
                .map(|x| Holder {
                    account: account(&x.account),
                    shares: x.shares,
                })
                .collect(),
        },
        ActionJson::UpdateLicence { track: t, licence } => Action::UpdateLicence {
            track: track(t),
            licence: licence_value(licence),
        },
        ActionJson::OpenChannel {
            provider,
            asset: a,
            deposit,
            expiry_ms,
        } => Action::OpenChannel {
            provider: account(provider),
            asset: asset(a),
            deposit: amount(deposit),
            expiry_ms: dec_u64(expiry_ms),
        },
        ActionJson::TopUp {
            channel: c,
            amount: n,
        } => Action::TopUp {
            channel: channel(c),
            amount: amount(n),
        },
        ActionJson::CloseChannel { channel: c } => Action::CloseChannel {
            channel: channel(c),
        },
        ActionJson::Withdraw { channel: c } => Action::Withdraw {
            channel: channel(c),
        },
        ActionJson::SettleChannels { updates } => Action::SettleChannels {
            updates: updates
                .iter()
                .map(|u| ChannelUpdate {
                    voucher: SignedVoucher {
                        voucher: voucher_value(&u.voucher.voucher),
                        signature: signature(&u.voucher.signature),
                    },
                    receipts: u.receipts.iter().map(receipt_value).collect(),
                })
                .collect(),
        },
        ActionJson::Claim { track: t, asset: a } => Action::Claim {
            track: track(t),
            asset: asset(a),
        },
    }
}

fn tx_json(tx: &Transaction) -> TxJson {
    TxJson {
        chain_id: tx.chain_id.as_str().to_owned(),
        signer: hx(tx.signer.as_bytes()),
        nonce: tx.nonce.to_string(),
        fee: tx.fee.get().to_string(),
        action: action_json(&tx.action),
    }
}

fn tx_value(j: &TxJson) -> Transaction {
    Transaction {
        chain_id: chain(&j.chain_id),
        signer: account(&j.signer),
        nonce: dec_u64(&j.nonce),
        fee: amount(&j.fee),
        action: action_value(&j.action),
    }
}

fn action_tag(a: &Action) -> u8 {
    match a {
        Action::Transfer { .. } => 0,
        Action::CreateAsset { .. } => 1,
        Action::Mint { .. } => 2,
        Action::Burn { .. } => 3,
        Action::Faucet => 4,
        Action::RegisterTrack { .. } => 5,
        Action::UpdateLicence { .. } => 6,
        Action::OpenChannel { .. } => 7,
        Action::TopUp { .. } => 8,
        Action::CloseChannel { .. } => 9,
        Action::Withdraw { .. } => 10,
        Action::SettleChannels { .. } => 11,
        Action::Claim { .. } => 12,
    }
}

/// Every domain, in the order of the list in `docs/encoding.md`.
const DOMAINS: [Domain; 9] = Domain::ALL;

fn domain_by_context(context: &str) -> Domain {
    *DOMAINS
        .iter()
        .find(|d| d.context() == context)
        .unwrap_or_else(|| panic!("unknown domain context {context:?}"))
}

/// The documented construction, with plain BLAKE3 and nothing of ours:
/// `keyed_hash(derive_key(context, ""), message)`.
fn blake3_domain_hash(context: &str, message: &[u8]) -> [u8; 32] {
    let key = blake3::derive_key(context, b"");
    *blake3::keyed_hash(&key, message).as_bytes()
}

// ---------------------------------------------------------------------------------------------
// The fixture: fixed keys and the values the vectors are made of.
// ---------------------------------------------------------------------------------------------

/// RFC 8032, section 7.1, TEST 1.
const RFC8032_TEST1_SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";

const KEY_NAMES: [&str; 5] = ["alice", "bob", "carol", "dave", "rfc8032-test1"];

/// The fixed key called `name`: the RFC 8032 test key, or a seed that is the BLAKE3 hash of
/// `cadenza/test-vectors/key/<name>` (the seed itself is written into the file).
fn key(name: &str) -> SecretKey {
    if name == "rfc8032-test1" {
        return SecretKey::from_seed(unhex_n(RFC8032_TEST1_SEED));
    }
    assert!(KEY_NAMES.contains(&name), "unknown key {name}");
    let seed = blake3::hash(format!("cadenza/test-vectors/key/{name}").as_bytes());
    SecretKey::from_seed(*seed.as_bytes())
}

fn acct(name: &str) -> AccountId {
    key(name).account()
}

fn key_name_of(account: &AccountId) -> &'static str {
    KEY_NAMES
        .iter()
        .copied()
        .find(|n| acct(n) == *account)
        .expect("signer is one of the fixed keys")
}

fn essence() -> Hash {
    Hash(*blake3::hash(b"cadenza test vectors: essence of track 1").as_bytes())
}

fn essence2() -> Hash {
    Hash(*blake3::hash(b"cadenza test vectors: essence of track 2").as_bytes())
}

fn blob() -> Hash {
    Hash(*blake3::hash(b"cadenza test vectors: blob of track 1").as_bytes())
}

fn blob2() -> Hash {
    Hash(*blake3::hash(b"cadenza test vectors: blob of track 2").as_bytes())
}

fn devnet() -> ChainId {
    chain("cadenza-devnet")
}

/// A 32-character chain id, the longest allowed.
fn long_chain() -> ChainId {
    chain("cadenza-testnet-0123456789abcdef")
}

fn cdz() -> AssetId {
    AssetId::genesis("CDZ")
}

fn cusd() -> AssetId {
    AssetId::genesis("CUSD")
}

fn mixtape() -> AssetId {
    AssetId::issued(&acct("bob"), "MIXTAPE")
}

/// The channel alice opens with her transaction of nonce 2 (the `open_channel` vector).
fn alice_channel() -> ChannelId {
    ChannelId::derive(&acct("alice"), 2)
}

fn dave_channel() -> ChannelId {
    ChannelId::derive(&acct("dave"), 1)
}

fn standard_licence() -> Licence {
    Licence {
        price: Price {
            asset: cusd(),
            amount: Amount::new(2_500),
        },
        uses: Uses::STREAM.with(Uses::DOWNLOAD),
        territories: vec![],
        valid_from_ms: 1_735_689_600_000,
        valid_until_ms: None,
        url: "https://cadenza.example/licences/standard-stream-v1".to_owned(),
        min_play_ms: 30_000,
    }
}

fn regional_licence() -> Licence {
    Licence {
        price: Price {
            asset: cusd(),
            amount: Amount::new(3_000),
        },
        uses: Uses::STREAM
            .with(Uses::DOWNLOAD)
            .with(Uses::SYNC)
            .with(Uses::REMIX),
        territories: ["GB", "BR", "JP"]
            .iter()
            .map(|t| Territory::new(t).unwrap())
            .collect(),
        valid_from_ms: 1_735_689_600_000,
        valid_until_ms: Some(1_893_456_000_000),
        url: "https://cadenza.example/licences/regional-all-uses-v2?lang=pt-BR".to_owned(),
        min_play_ms: 45_000,
    }
}

fn extreme_licence() -> Licence {
    Licence {
        price: Price {
            asset: AssetId(Hash([0xff; 32])),
            amount: Amount::MAX,
        },
        uses: Uses::none(),
        territories: vec![Territory::new("ZZ").unwrap()],
        valid_from_ms: u64::MAX,
        valid_until_ms: Some(0),
        url: String::new(),
        min_play_ms: u32::MAX,
    }
}

/// Alice's three streams on her channel.
fn alice_receipts() -> Vec<Receipt> {
    let t = TrackId::from_essence(&essence());
    vec![
        Receipt {
            track: t,
            amount: Amount::new(2_500),
            played_ms: 183_250,
            at_ms: 1_767_225_600_000,
        },
        Receipt {
            track: TrackId::from_essence(&essence2()),
            amount: Amount::new(3_000),
            played_ms: 30_000,
            at_ms: 1_767_225_790_123,
        },
        Receipt {
            track: t,
            amount: Amount::new(2_500),
            played_ms: 241_007,
            at_ms: 1_767_226_100_000,
        },
    ]
}

fn dave_receipts() -> Vec<Receipt> {
    vec![Receipt {
        track: TrackId::from_essence(&essence()),
        amount: Amount::new(2_750),
        played_ms: 95_500,
        at_ms: 1_767_300_000_000,
    }]
}

fn total(receipts: &[Receipt]) -> Amount {
    receipts
        .iter()
        .try_fold(Amount::ZERO, |acc, r| acc.checked_add(r.amount))
        .unwrap()
}

fn voucher_for(chain_id: ChainId, ch: ChannelId, receipts: &[Receipt]) -> Voucher {
    Voucher {
        chain_id,
        channel: ch,
        seq: receipts.len() as u64,
        cumulative: total(receipts),
        head: ReceiptChain::extend(&ReceiptChain::start(&ch), receipts),
    }
}

/// The vouchers, each with the name of the key that signs it.
fn vouchers() -> Vec<(&'static str, &'static str, Voucher)> {
    vec![
        (
            "alice-channel-seq-0",
            "alice",
            voucher_for(devnet(), alice_channel(), &[]),
        ),
        (
            "alice-channel-seq-3",
            "alice",
            voucher_for(devnet(), alice_channel(), &alice_receipts()),
        ),
        (
            "dave-channel-seq-1",
            "dave",
            voucher_for(devnet(), dave_channel(), &dave_receipts()),
        ),
        (
            "extremes",
            "rfc8032-test1",
            Voucher {
                chain_id: long_chain(),
                channel: ChannelId(Hash([0xab; 32])),
                seq: u64::MAX,
                cumulative: Amount::MAX,
                head: Hash([0x5a; 32]),
            },
        ),
    ]
}

fn signed_voucher(name: &str) -> SignedVoucher {
    let (_, k, v) = vouchers().into_iter().find(|(n, _, _)| *n == name).unwrap();
    v.sign(&key(k))
}

/// The transactions: one per action, plus edge cases. Each is signed by its signer's key.
fn transactions() -> Vec<(&'static str, Transaction)> {
    let tx = |signer: &str, nonce: u64, fee: u128, action: Action| Transaction {
        chain_id: devnet(),
        signer: acct(signer),
        nonce,
        fee: Amount::new(fee),
        action,
    };
    let track1 = TrackId::from_essence(&essence());
    vec![
        (
            "transfer",
            tx(
                "alice",
                0,
                1_000,
                Action::Transfer {
                    to: acct("bob"),
                    asset: cdz(),
                    amount: Amount::new(1_000_000_000),
                },
            ),
        ),
        (
            "create_asset",
            tx(
                "bob",
                0,
                1_000,
                Action::CreateAsset {
                    symbol: "MIXTAPE".to_owned(),
                    decimals: 6,
                },
            ),
        ),
        (
            "mint",
            tx(
                "bob",
                1,
                1_000,
                Action::Mint {
                    asset: mixtape(),
                    to: acct("alice"),
                    amount: Amount::MAX,
                },
            ),
        ),
        (
            "burn",
            tx(
                "alice",
                1,
                1_000,
                Action::Burn {
                    asset: mixtape(),
                    amount: Amount::new((1u128 << 64) + 1),
                },
            ),
        ),
        ("faucet", tx("dave", 0, 0, Action::Faucet)),
        (
            "register_track",
            tx(
                "bob",
                2,
                5_000,
                Action::RegisterTrack {
                    essence_id: essence(),
                    blob_id: blob(),
                    metadata: TrackMetadata {
                        title: "Überlied (Live at Café ♫)".to_owned(),
                        artist: "Bob & the Ångströms".to_owned(),
                        isrc: Some("GBAYE2400001".to_owned()),
                    },
                    licence: standard_licence(),
                    holders: vec![
                        Holder {
                            account: acct("bob"),
                            shares: 600_000,
                        },
                        Holder {
                            account: acct("dave"),
                            shares: 400_000,
                        },
                    ],
                },
            ),
        ),
        (
            "register_track_minimal",
            tx(
                "dave",
                1,
                5_000,
                Action::RegisterTrack {
                    essence_id: essence2(),
                    blob_id: blob2(),
                    metadata: TrackMetadata {
                        title: String::new(),
                        artist: String::new(),
                        isrc: None,
                    },
                    licence: extreme_licence(),
                    holders: vec![Holder {
                        account: acct("dave"),
                        shares: 1_000_000,
                    }],
                },
            ),
        ),
        (
            "update_licence",
            tx(
                "bob",
                3,
                1_000,
                Action::UpdateLicence {
                    track: track1,
                    licence: regional_licence(),
                },
            ),
        ),
        (
            "open_channel",
            tx(
                "alice",
                2,
                1_000,
                Action::OpenChannel {
                    provider: acct("carol"),
                    asset: cusd(),
                    deposit: Amount::new(1_000_000),
                    expiry_ms: 1_769_904_000_000,
                },
            ),
        ),
        (
            "top_up",
            tx(
                "alice",
                3,
                1_000,
                Action::TopUp {
                    channel: alice_channel(),
                    amount: Amount::new(500_000),
                },
            ),
        ),
        (
            "settle_channels",
            tx(
                "carol",
                0,
                2_000,
                Action::SettleChannels {
                    updates: vec![
                        ChannelUpdate {
                            voucher: signed_voucher("alice-channel-seq-3"),
                            receipts: alice_receipts(),
                        },
                        ChannelUpdate {
                            voucher: signed_voucher("dave-channel-seq-1"),
                            receipts: dave_receipts(),
                        },
                    ],
                },
            ),
        ),
        (
            "settle_channels_empty",
            tx(
                "carol",
                1,
                2_000,
                Action::SettleChannels { updates: vec![] },
            ),
        ),
        (
            "close_channel",
            tx(
                "carol",
                2,
                1_000,
                Action::CloseChannel {
                    channel: alice_channel(),
                },
            ),
        ),
        (
            "withdraw",
            tx(
                "alice",
                4,
                1_000,
                Action::Withdraw {
                    channel: alice_channel(),
                },
            ),
        ),
        (
            "claim",
            tx(
                "dave",
                2,
                1_000,
                Action::Claim {
                    track: track1,
                    asset: cusd(),
                },
            ),
        ),
        (
            "extremes",
            Transaction {
                chain_id: long_chain(),
                signer: acct("rfc8032-test1"),
                nonce: u64::MAX,
                fee: Amount::MAX,
                action: Action::Transfer {
                    to: AccountId::module("treasury"),
                    asset: cdz(),
                    amount: Amount::ZERO,
                },
            },
        ),
    ]
}

fn receipts() -> Vec<(&'static str, Receipt)> {
    let a = alice_receipts();
    vec![
        ("alice-1", a[0]),
        ("alice-2", a[1]),
        ("alice-3", a[2]),
        ("dave-1", dave_receipts()[0]),
        (
            "zero",
            Receipt {
                track: TrackId(Hash::ZERO),
                amount: Amount::ZERO,
                played_ms: 0,
                at_ms: 0,
            },
        ),
        (
            "extremes",
            Receipt {
                track: TrackId(Hash([0xff; 32])),
                amount: Amount::new(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10),
                played_ms: u64::MAX,
                at_ms: 0x1122_3344_5566_7788,
            },
        ),
    ]
}

// ---------------------------------------------------------------------------------------------
// Generation.
// ---------------------------------------------------------------------------------------------

fn receipt_chain_vector(name: &str, ch: ChannelId, receipts: &[Receipt]) -> ReceiptChainVector {
    let h0 = ReceiptChain::start(&ch);
    let mut prev = h0;
    let mut links = Vec::new();
    for r in receipts {
        let mut message = prev.as_bytes().to_vec();
        message.extend_from_slice(&r.to_bytes());
        let head = ReceiptChain::next(&prev, r);
        links.push(ReceiptLinkVector {
            receipt: receipt_json(r),
            encoding: hx(&r.to_bytes()),
            message: hx(&message),
            head: hx(head.as_bytes()),
        });
        prev = head;
    }
    ReceiptChainVector {
        name: name.to_owned(),
        channel: hx(ch.as_bytes()),
        h0: hx(h0.as_bytes()),
        links,
        seq: receipts.len().to_string(),
        cumulative: total(receipts).get().to_string(),
        head: hx(prev.as_bytes()),
    }
}

fn generate() -> Vectors {
    let keys = KEY_NAMES
        .iter()
        .map(|n| {
            let k = key(n);
            KeyVector {
                name: (*n).to_owned(),
                seed: hx(&k.seed()),
                public_key: hx(k.account().as_bytes()),
                did: k.account().to_did(),
            }
        })
        .collect();

    let domains = DOMAINS
        .iter()
        .map(|d| DomainVector {
            context: d.context().to_owned(),
            key: hx(d.key()),
        })
        .collect();

    let long_message: Vec<u8> = (0..2049u32).map(|i| (i % 251) as u8).collect();
    let domain_hashes = [
        (Domain::Tx, b"".to_vec()),
        (Domain::Voucher, b"abc".to_vec()),
        (Domain::Receipts, b"abc".to_vec()),
        (Domain::State, long_message),
    ]
    .into_iter()
    .map(|(d, m)| DomainHashVector {
        context: d.context().to_owned(),
        message: hx(&m),
        hash: hx(hash::hash(d, &m).as_bytes()),
    })
    .collect();

    let module_accounts = ["treasury", "faucet"]
        .iter()
        .map(|n| {
            let a = AccountId::module(n);
            ModuleAccountVector {
                name: (*n).to_owned(),
                message: hx(n.as_bytes()),
                account: hx(a.as_bytes()),
                did: a.to_did(),
            }
        })
        .collect();

    let genesis = |symbol: &str| {
        let mut message = vec![0u8];
        message.extend_from_slice(symbol.as_bytes());
        AssetIdVector::Genesis {
            symbol: symbol.to_owned(),
            message: hx(&message),
            asset_id: hx(AssetId::genesis(symbol).as_bytes()),
        }
    };
    let issued = |issuer: &AccountId, symbol: &str| {
        let mut message = vec![1u8];
        message.extend_from_slice(issuer.as_bytes());
        message.extend_from_slice(symbol.as_bytes());
        AssetIdVector::Issued {
            issuer: hx(issuer.as_bytes()),
            symbol: symbol.to_owned(),
            message: hx(&message),
            asset_id: hx(AssetId::issued(issuer, symbol).as_bytes()),
        }
    };
    let shares = |t: &TrackId| {
        let mut message = vec![2u8];
        message.extend_from_slice(t.as_bytes());
        AssetIdVector::Shares {
            track: hx(t.as_bytes()),
            message: hx(&message),
            asset_id: hx(AssetId::shares(t).as_bytes()),
        }
    };
    let assets = vec![
        genesis("CDZ"),
        genesis("CUSD"),
        issued(&acct("bob"), "MIXTAPE"),
        issued(&acct("alice"), "A"),
        shares(&TrackId::from_essence(&essence())),
        shares(&TrackId::from_essence(&essence2())),
    ];
    let tracks = [essence(), essence2(), Hash::ZERO]
        .iter()
        .map(|e| TrackIdVector {
            essence_id: hx(e.as_bytes()),
            track_id: hx(TrackId::from_essence(e).as_bytes()),
        })
        .collect();
    let channels = [
        (acct("alice"), 2u64),
        (acct("dave"), 1),
        (acct("carol"), 0),
        (acct("bob"), u64::MAX),
    ]
    .iter()
    .map(|(owner, nonce)| {
        let mut message = owner.as_bytes().to_vec();
        message.extend_from_slice(&nonce.to_le_bytes());
        ChannelIdVector {
            owner: hx(owner.as_bytes()),
            nonce: nonce.to_string(),
            message: hx(&message),
            channel_id: hx(ChannelId::derive(owner, *nonce).as_bytes()),
        }
    })
    .collect();

    let licences = [
        ("standard", standard_licence()),
        ("regional", regional_licence()),
        ("extremes", extreme_licence()),
    ]
    .iter()
    .map(|(n, l)| LicenceVector {
        name: (*n).to_owned(),
        licence: licence_json(l),
        encoding: hx(&l.to_bytes()),
    })
    .collect();

    let receipt_vectors = receipts()
        .iter()
        .map(|(n, r)| ReceiptVector {
            name: (*n).to_owned(),
            receipt: receipt_json(r),
            encoding: hx(&r.to_bytes()),
        })
        .collect();

    let receipt_chains = vec![
        receipt_chain_vector("alice-channel", alice_channel(), &alice_receipts()),
        receipt_chain_vector("dave-channel", dave_channel(), &dave_receipts()),
    ];

    let voucher_vectors = vouchers()
        .into_iter()
        .map(|(n, k, v)| {
            let sv = v.clone().sign(&key(k));
            VoucherVector {
                name: n.to_owned(),
                key: k.to_owned(),
                signer: hx(acct(k).as_bytes()),
                voucher: voucher_json(&v),
                encoding: hx(&v.to_bytes()),
                signing_hash: hx(v.signing_hash().as_bytes()),
                signature: hx(&sv.signature.0),
                signed_encoding: hx(&sv.to_bytes()),
            }
        })
        .collect();

    let tx_vectors = transactions()
        .into_iter()
        .map(|(n, tx)| {
            let k = key_name_of(&tx.signer);
            let stx = tx.clone().sign(&key(k));
            TxVector {
                name: n.to_owned(),
                key: k.to_owned(),
                tx: tx_json(&tx),
                action_tag: action_tag(&tx.action),
                encoding: hx(&tx.to_bytes()),
                hash: hx(tx.hash().as_bytes()),
                signature: hx(&stx.signature.0),
                signed_encoding: hx(&stx.to_bytes()),
            }
        })
        .collect();

    Vectors {
        format: "cadenza-test-vectors".to_owned(),
        version: 1,
        generated_by: "crates/cadenza-types/tests/vectors.rs (CADENZA_UPDATE_VECTORS=1 to rewrite)"
            .to_owned(),
        notes: vec![
            "Layouts are specified in docs/encoding.md.".to_owned(),
            "Byte strings are lower-case hex; u64 and u128 values are decimal strings; u8, u16 and u32 values are JSON numbers.".to_owned(),
            "Accounts, asset ids, track ids, channel ids and hashes are 32 bytes, written as hex.".to_owned(),
            "Domain hash = BLAKE3-keyed_hash(BLAKE3-derive_key(context, \"\"), message).".to_owned(),
            "Transaction signature = Ed25519 (RFC 8032) over the 32-byte tx hash; voucher signature = Ed25519 over the 32-byte voucher signing hash.".to_owned(),
            "Signatures are deterministic: signing the same hash with the same seed must give the same signature.".to_owned(),
        ],
        keys,
        domains,
        domain_hashes,
        ids: IdVectors {
            module_accounts,
            assets,
            tracks,
            channels,
        },
        licences,
        receipts: receipt_vectors,
        receipt_chains,
        vouchers: voucher_vectors,
        transactions: tx_vectors,
    }
}

fn render(v: &Vectors) -> String {
    let mut text = serde_json::to_string_pretty(v).expect("vectors serialize");
    text.push('\n');
    text
}

// ---------------------------------------------------------------------------------------------
// Checking a vectors file against the code.
// ---------------------------------------------------------------------------------------------

fn check_round_trip<T: Encode + Decode + PartialEq + std::fmt::Debug>(
    what: &str,
    value: &T,
    encoding: &[u8],
) {
    assert_eq!(
        hx(&value.to_bytes()),
        hx(encoding),
        "{what}: to_bytes(fields) != encoding"
    );
    let decoded =
        T::from_bytes(encoding).unwrap_or_else(|e| panic!("{what}: encoding does not decode: {e}"));
    assert_eq!(&decoded, value, "{what}: from_bytes(encoding) != fields");
}

fn check(v: &Vectors) {
    assert_eq!(v.format, "cadenza-test-vectors");
    assert_eq!(v.version, 1);

    // Keys.
    for k in &v.keys {
        let sk = SecretKey::from_seed(unhex_n(&k.seed));
        assert_eq!(hx(sk.account().as_bytes()), k.public_key, "key {}", k.name);
        assert_eq!(sk.account().to_did(), k.did, "key {}", k.name);
        assert_eq!(AccountId::from_did(&k.did).unwrap(), account(&k.public_key));
        assert!(k.did.starts_with("did:key:z6Mk"), "key {}", k.name);
    }
    let key_by_name = |name: &str| -> SecretKey {
        let k = v
            .keys
            .iter()
            .find(|k| k.name == name)
            .unwrap_or_else(|| panic!("no key {name}"));
        SecretKey::from_seed(unhex_n(&k.seed))
    };
    let rfc = v.keys.iter().find(|k| k.name == "rfc8032-test1").unwrap();
    assert_eq!(rfc.seed, RFC8032_TEST1_SEED);
    assert_eq!(
        rfc.public_key,
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    );

    // Domains.
    assert_eq!(v.domains.len(), DOMAINS.len());
    for (d, want) in v.domains.iter().zip(DOMAINS) {
        assert_eq!(d.context, want.context());
        assert_eq!(d.key, hx(want.key()));
        assert_eq!(d.key, hx(&blake3::derive_key(&d.context, b"")));
    }
    for dh in &v.domain_hashes {
        let m = unhex(&dh.message);
        let d = domain_by_context(&dh.context);
        assert_eq!(dh.hash, hx(hash::hash(d, &m).as_bytes()));
        assert_eq!(dh.hash, hx(&blake3_domain_hash(&dh.context, &m)));
    }

    // Ids.
    for m in &v.ids.module_accounts {
        assert_eq!(unhex(&m.message), m.name.as_bytes());
        let a = AccountId::module(&m.name);
        assert_eq!(hx(a.as_bytes()), m.account);
        assert_eq!(
            hx(&blake3_domain_hash("cadenza/module/v1", m.name.as_bytes())),
            m.account
        );
        assert_eq!(a.to_did(), m.did);
    }
    for a in &v.ids.assets {
        let (message, id, expected) = match a {
            AssetIdVector::Genesis {
                symbol,
                message,
                asset_id,
            } => {
                let mut m = vec![0];
                m.extend_from_slice(symbol.as_bytes());
                (m, AssetId::genesis(symbol), (message, asset_id))
            }
            AssetIdVector::Issued {
                issuer,
                symbol,
                message,
                asset_id,
            } => {
                let mut m = vec![1];
                m.extend_from_slice(&unhex_n::<32>(issuer));
                m.extend_from_slice(symbol.as_bytes());
                (
                    m,
                    AssetId::issued(&account(issuer), symbol),
                    (message, asset_id),
                )
            }
            AssetIdVector::Shares {
                track: t,
                message,
                asset_id,
            } => {
                let mut m = vec![2];
                m.extend_from_slice(&unhex_n::<32>(t));
                (m, AssetId::shares(&track(t)), (message, asset_id))
            }
        };
        assert_eq!(&hx(&message), expected.0);
        assert_eq!(&hx(id.as_bytes()), expected.1);
        assert_eq!(
            &hx(&blake3_domain_hash("cadenza/asset/v1", &message)),
            expected.1
        );
    }
    for t in &v.ids.tracks {
        let e = h(&t.essence_id);
        assert_eq!(hx(TrackId::from_essence(&e).as_bytes()), t.track_id);
        assert_eq!(
            hx(&blake3_domain_hash("cadenza/track/v1", e.as_bytes())),
            t.track_id
        );
    }
    for c in &v.ids.channels {
        let owner = account(&c.owner);
        let nonce = dec_u64(&c.nonce);
        let mut m = owner.as_bytes().to_vec();
        m.extend_from_slice(&nonce.to_le_bytes());
        assert_eq!(hx(&m), c.message);
        assert_eq!(
            hx(ChannelId::derive(&owner, nonce).as_bytes()),
            c.channel_id
        );
        assert_eq!(
            hx(&blake3_domain_hash("cadenza/channel/v1", &m)),
            c.channel_id
        );
    }

    // Licences and receipts.
    for l in &v.licences {
        check_round_trip(
            &format!("licence {}", l.name),
            &licence_value(&l.licence),
            &unhex(&l.encoding),
        );
    }
    for r in &v.receipts {
        let value = receipt_value(&r.receipt);
        let enc = unhex(&r.encoding);
        assert_eq!(enc.len(), RECEIPT_LEN);
        assert_eq!(value.to_array().as_slice(), enc.as_slice());
        check_round_trip(&format!("receipt {}", r.name), &value, &enc);
    }
    for c in &v.receipt_chains {
        let ch = channel(&c.channel);
        let h0 = ReceiptChain::start(&ch);
        assert_eq!(hx(h0.as_bytes()), c.h0, "chain {}", c.name);
        assert_eq!(
            hx(&blake3_domain_hash("cadenza/receipts/v1", ch.as_bytes())),
            c.h0
        );
        let mut prev = h0;
        let mut receipts = Vec::new();
        for link in &c.links {
            let r = receipt_value(&link.receipt);
            check_round_trip("chain receipt", &r, &unhex(&link.encoding));
            let message = unhex(&link.message);
            assert_eq!(message.len(), 96);
            assert_eq!(&message[..32], prev.as_bytes());
            assert_eq!(&message[32..], r.to_array().as_slice());
            let next = ReceiptChain::next(&prev, &r);
            assert_eq!(hx(next.as_bytes()), link.head);
            assert_eq!(
                hx(&blake3_domain_hash("cadenza/receipts/v1", &message)),
                link.head
            );
            prev = next;
            receipts.push(r);
        }
        assert_eq!(hx(prev.as_bytes()), c.head);
        assert_eq!(
            ReceiptChain::extend(&h0, &receipts),
            prev,
            "extend == repeated next"
        );
        assert_eq!(dec_u64(&c.seq), receipts.len() as u64);
        assert_eq!(amount(&c.cumulative), total(&receipts));
    }

    // Every signature, for one batch check at the end.
    let mut sigs: Vec<(AccountId, Vec<u8>, Signature)> = Vec::new();

    // Vouchers.
    for vv in &v.vouchers {
        let what = format!("voucher {}", vv.name);
        let voucher = voucher_value(&vv.voucher);
        let enc = unhex(&vv.encoding);
        check_round_trip(&what, &voucher, &enc);
        assert_eq!(hx(voucher.signing_hash().as_bytes()), vv.signing_hash);
        assert_eq!(
            hx(&blake3_domain_hash("cadenza/voucher/v1", &enc)),
            vv.signing_hash
        );
        let signer = account(&vv.signer);
        let sk = key_by_name(&vv.key);
        assert_eq!(sk.account(), signer, "{what}: key signs for signer");
        let sig = signature(&vv.signature);
        let msg = unhex(&vv.signing_hash);
        crypto::verify(&signer, &msg, &sig).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(sk.sign(&msg), sig, "{what}: signing is deterministic");
        let signed = SignedVoucher {
            voucher: voucher.clone(),
            signature: sig,
        };
        let signed_enc = unhex(&vv.signed_encoding);
        assert_eq!(signed_enc, [enc.as_slice(), &sig.0].concat());
        check_round_trip(&format!("signed {what}"), &signed, &signed_enc);
        sigs.push((signer, msg, sig));
    }
    // The chain-head vouchers commit to the chains above.
    for c in &v.receipt_chains {
        assert!(
            v.vouchers.iter().any(|vv| vv.voucher.channel == c.channel
                && vv.voucher.seq == c.seq
                && vv.voucher.cumulative == c.cumulative
                && vv.voucher.head == c.head),
            "no voucher covers chain {}",
            c.name
        );
    }

    // Transactions.
    let mut tags_seen = [false; 13];
    for tv in &v.transactions {
        let what = format!("transaction {}", tv.name);
        let tx = tx_value(&tv.tx);
        let enc = unhex(&tv.encoding);
        check_round_trip(&what, &tx, &enc);
        assert_eq!(tv.action_tag, action_tag(&tx.action), "{what}");
        let tag_offset = 4 + tx.chain_id.as_str().len() + 32 + 8 + 16;
        assert_eq!(enc[tag_offset], tv.action_tag, "{what}: tag offset");
        assert_eq!(
            serde_json::to_value(&tv.tx.action).unwrap()["type"],
            tx.action.name(),
            "{what}: JSON type is Action::name"
        );
        tags_seen[usize::from(tv.action_tag)] = true;
        assert_eq!(hx(tx.hash().as_bytes()), tv.hash, "{what}");
        assert_eq!(
            hx(&blake3_domain_hash("cadenza/tx/v1", &enc)),
            tv.hash,
            "{what}"
        );
        let sk = key_by_name(&tv.key);
        assert_eq!(sk.account(), tx.signer, "{what}: key signs for signer");
        let sig = signature(&tv.signature);
        let msg = unhex(&tv.hash);
        crypto::verify(&tx.signer, &msg, &sig).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(sk.sign(&msg), sig, "{what}: signing is deterministic");
        let signed = SignedTransaction {
            tx: tx.clone(),
            signature: sig,
        };
        assert_eq!(signed.hash(), tx.hash());
        let signed_enc = unhex(&tv.signed_encoding);
        assert_eq!(signed_enc, [enc.as_slice(), &sig.0].concat());
        check_round_trip(&format!("signed {what}"), &signed, &signed_enc);
        // The vouchers carried by a settlement verify too.
        if let Action::SettleChannels { updates } = &tx.action {
            for u in updates {
                let vv = v
                    .vouchers
                    .iter()
                    .find(|vv| voucher_value(&vv.voucher) == u.voucher.voucher)
                    .expect("settled vouchers are among the voucher vectors");
                assert_eq!(hx(&u.voucher.signature.0), vv.signature);
                let head = ReceiptChain::extend(
                    &ReceiptChain::start(&u.voucher.voucher.channel),
                    &u.receipts,
                );
                assert_eq!(head, u.voucher.voucher.head, "{what}: receipts match head");
            }
        }
        sigs.push((tx.signer, msg, sig));
    }
    assert!(
        tags_seen.iter().all(|s| *s),
        "every action variant has a vector: {tags_seen:?}"
    );

    // The batch path agrees.
    let items: Vec<SigItem<'_>> = sigs
        .iter()
        .map(|(signer, message, signature)| SigItem {
            signer,
            message,
            signature,
        })
        .collect();
    assert!(crypto::verify_many(&items).into_iter().all(|ok| ok));
}

// ---------------------------------------------------------------------------------------------
// The tests.
// ---------------------------------------------------------------------------------------------

#[test]
fn committed_file_matches_the_generator() {
    let generated = generate();
    check(&generated);
    let text = render(&generated);
    let path = vectors_path();
    if std::env::var(UPDATE_ENV).as_deref() == Ok("1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &text).unwrap();
        eprintln!("wrote {}", path.display());
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}; run with {UPDATE_ENV}=1 to create it",
            path.display()
        )
    });
    if committed != text {
        let line = committed
            .lines()
            .zip(text.lines())
            .position(|(a, b)| a != b)
            .map_or_else(
                || "length differs".to_owned(),
                |i| format!("first difference at line {}", i + 1),
            );
        panic!(
            "{} differs from what the code generates ({line}). If the format change is \
             intended, rerun with {UPDATE_ENV}=1 and review the diff.",
            path.display()
        );
    }
}

#[test]
fn committed_file_is_consistent() {
    let text = std::fs::read_to_string(vectors_path()).expect("testdata/vectors.json exists");
    let parsed: Vectors = serde_json::from_str(&text).expect("vectors parse");
    // Nothing in the file is lost or reformatted by the JSON model.
    assert_eq!(render(&parsed), text);
    check(&parsed);
}

#[test]
fn rfc8032_key_is_the_published_one() {
    let k = key("rfc8032-test1");
    let sig = k.sign(b"");
    assert_eq!(
        hx(&sig.0),
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    );
}
