//! A blocking client of the node's HTTP API (`/v1`), for the wallet commands.
//!
//! The answers are read into the wire types below (serde lives at this edge) and converted to
//! domain types explicitly, so a node that answers something unexpected is reported as such
//! instead of being half-understood. Every error the node sends keeps its stable code.

use std::time::Duration;

use cadenza_ledger::params::{FaucetParams, Params};
use cadenza_types::tx::SYMBOL_MAX_LEN;
use cadenza_types::{AccountId, Amount, AssetId, Encode as _, Hash, SignedTransaction};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// How long one request may take; above the node's longest poll (`MAX_WAIT_MS`, 30 s).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(45);
/// The longest poll asked of the node at once.
pub const POLL_WAIT_MS: u64 = 10_000;
/// The most pages of assets read when resolving a symbol.
const ASSET_PAGES_MAX: usize = 1_000;
/// The most items a list page holds (the API's `MAX_PAGE`).
const PAGE_ITEMS_MAX: usize = 200;
/// The largest answer read from a node.
const ANSWER_BYTES_MAX: u64 = 8 << 20;

/// Why a request to the node failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing answers at the URL.
    #[error(
        "cannot reach a Cadenza node at {url} ({why}); start one with `cadenza devnet` \
         (`cargo run --release -- devnet` in a checkout), or point --node or CADENZA_NODE at a \
         running node"
    )]
    Unreachable {
        /// The node's base URL.
        url: String,
        /// The transport error.
        why: String,
    },
    /// The URL is not one this client can use.
    #[error(
        "`{0}` is not a node URL: write it like http://127.0.0.1:7700 (https is not supported)"
    )]
    BadUrl(String),
    /// The node answered with an error document.
    #[error("the node refused {what}: {message} ({code})")]
    Api {
        /// What was asked.
        what: String,
        /// The HTTP status.
        status: u16,
        /// The node's stable error code.
        code: String,
        /// The node's message.
        message: String,
    },
    /// The node answered something this client does not understand.
    #[error("the node at {url} gave an unexpected answer to {what}: {why}")]
    BadAnswer {
        /// The node's base URL.
        url: String,
        /// What was asked.
        what: String,
        /// What was wrong with the answer.
        why: String,
    },
}

/// A node's `/v1/status` (the fields the commands use; `raw` has the rest).
#[derive(Debug, Deserialize)]
pub struct StatusDoc {
    /// The chain id.
    pub chain_id: String,
    /// The last committed height.
    pub height: u64,
    /// The state root at that height (hex).
    pub state_root: String,
    /// The answering validator's public key (hex).
    pub validator: String,
    /// How many validators the chain has.
    pub validators: usize,
    /// The protocol parameters.
    pub params: ParamsDoc,
    /// The whole answer, as it came.
    #[serde(skip)]
    pub raw: Value,
}

/// The protocol parameters as `/v1/status` serves them.
#[derive(Debug, Deserialize)]
pub struct ParamsDoc {
    min_fee: String,
    protocol_fee_bps: u16,
    provider_fee_bps: u16,
    challenge_window_ms: u64,
    min_play_ms: u32,
    epoch_ms: u64,
    max_receipts_per_tx: u32,
    native_asset: String,
    faucet: Option<FaucetDoc>,
}

#[derive(Debug, Deserialize)]
struct FaucetDoc {
    cooldown_ms: u64,
    drips: Vec<AmountDoc>,
}

#[derive(Debug, Deserialize)]
struct AmountDoc {
    asset: String,
    amount: String,
}

/// One balance of an account.
#[derive(Debug, Deserialize)]
pub struct BalanceDoc {
    /// The asset id (hex).
    pub asset: String,
    /// Base units, as a decimal string.
    pub amount: String,
    /// The asset's symbol, when the asset is known.
    pub symbol: Option<String>,
    /// The asset's decimals, when the asset is known.
    pub decimals: Option<u8>,
}

/// An account as `/v1/accounts/{did}` serves it.
#[derive(Debug, Deserialize)]
pub struct AccountDoc {
    /// The height the account was read at.
    pub height: u64,
    /// The nonce its next transaction must carry.
    pub nonce: u64,
    /// The nonce after its transactions pending at the node (older nodes omit it).
    #[serde(default)]
    pub pending_nonce: Option<u64>,
    /// Its balances.
    pub balances: Vec<BalanceDoc>,
}

/// An asset as `/v1/assets` serves it.
#[derive(Clone, Debug, Deserialize)]
pub struct AssetDoc {
    /// The asset id (hex).
    pub id: String,
    /// Its ticker.
    pub symbol: String,
    /// Decimal places of a whole unit.
    pub decimals: u8,
}

#[derive(Debug, Deserialize)]
struct AssetPage {
    items: Vec<AssetDoc>,
    next: Option<String>,
}

/// A transaction's status as `/v1/txs/{hash}` and `POST /v1/txs` serve it.
#[derive(Clone, Debug, Deserialize)]
pub struct TxDoc {
    /// The transaction hash (hex).
    pub hash: String,
    /// `pending` or `committed`.
    pub status: String,
    /// The block it committed in.
    pub height: Option<u64>,
    /// Its place in that block.
    pub index: Option<u64>,
    /// The fee it paid, in native base units.
    pub fee_paid: Option<String>,
    /// Whether its action succeeded.
    pub ok: Option<bool>,
    /// The ledger's error, if the action failed.
    pub error: Option<LedgerErrorDoc>,
}

/// A ledger error in a transaction's record.
#[derive(Clone, Debug, Deserialize)]
pub struct LedgerErrorDoc {
    /// The ledger's stable code.
    pub code: String,
    /// What went wrong.
    pub message: String,
}

impl TxDoc {
    /// Whether it is committed.
    pub fn is_committed(&self) -> bool {
        self.status == "committed"
    }
}

/// An amount as the API serves it: an asset id and base units.
#[derive(Clone, Debug, Deserialize)]
pub struct AmountField {
    /// The asset id (hex).
    pub asset: String,
    /// Base units, as a decimal string.
    pub amount: String,
}

impl AmountField {
    /// The asset id and the amount.
    pub fn parse(&self) -> Result<(AssetId, Amount), String> {
        Ok((
            parse_asset_id(&self.asset)?,
            parse_base_units(&self.amount)?,
        ))
    }
}

/// A payment channel as `/v1/channels/{id}` serves it.
#[derive(Clone, Debug, Deserialize)]
pub struct ChannelDoc {
    /// The channel id (hex).
    pub id: String,
    /// The listener who opened it (did:key).
    pub owner: String,
    /// The provider it pays (did:key).
    pub provider: String,
    /// Everything deposited.
    pub deposit: AmountField,
    /// What settlements have paid out of it.
    pub settled: AmountField,
    /// What is left in escrow.
    pub escrow: AmountField,
    /// How many receipts have been settled.
    pub settled_seq: u64,
    /// The receipt chain's head as of the last settlement (hex; older nodes omit it).
    #[serde(default)]
    pub head: Option<String>,
    /// When it closes by itself (block time, ms).
    pub expiry_ms: u64,
    /// When it was closed, if it was.
    pub closed_ms: Option<u64>,
}

impl ChannelDoc {
    /// When it stopped or stops being open: the earlier of its close and its expiry.
    pub fn closing_ms(&self) -> u64 {
        self.closed_ms
            .map_or(self.expiry_ms, |c| c.min(self.expiry_ms))
    }
}

/// Licence terms as the API serves them.
#[derive(Clone, Debug, Deserialize)]
pub struct LicenceDoc {
    /// The price of one stream.
    pub price: AmountField,
    /// The uses allowed, by name.
    pub uses: Vec<String>,
    /// Where it applies (empty: worldwide).
    pub territories: Vec<String>,
    /// Start of validity (ms).
    pub valid_from_ms: u64,
    /// End of validity (ms), exclusive.
    pub valid_until_ms: Option<u64>,
    /// The licence's text.
    pub url: String,
    /// The least play time that makes a stream.
    pub min_play_ms: u32,
}

impl LicenceDoc {
    /// The ledger's `Licence` these terms describe.
    pub fn to_licence(&self) -> Result<cadenza_types::Licence, String> {
        use cadenza_types::{Licence, Price, Territory, Uses};
        let (asset, amount) = self.price.parse()?;
        let mut uses = Uses::none();
        for name in &self.uses {
            uses = uses.with(match name.as_str() {
                "stream" => Uses::STREAM,
                "download" => Uses::DOWNLOAD,
                "sync" => Uses::SYNC,
                "remix" => Uses::REMIX,
                other => return Err(format!("unknown use `{other}`")),
            });
        }
        let territories = self
            .territories
            .iter()
            .map(|t| Territory::new(t).ok_or_else(|| format!("`{t}` is not a territory")))
            .collect::<Result<_, _>>()?;
        Ok(Licence {
            price: Price { asset, amount },
            uses,
            territories,
            valid_from_ms: self.valid_from_ms,
            valid_until_ms: self.valid_until_ms,
            url: self.url.clone(),
            min_play_ms: self.min_play_ms,
        })
    }
}

/// A track as `/v1/tracks/{id}` serves it.
#[derive(Clone, Debug, Deserialize)]
pub struct TrackDoc {
    /// The track id (hex).
    pub id: String,
    /// Who registered it and may update its licence (did:key).
    pub controller: String,
    /// The essence id's hash (hex).
    pub essence_id: String,
    /// The blob id (hex).
    pub blob_id: String,
    /// The title.
    pub title: String,
    /// The artist.
    pub artist: String,
    /// The ISRC.
    pub isrc: Option<String>,
    /// The licence in force.
    pub licence: LicenceDoc,
    /// The royalty shares' asset id (hex).
    pub shares_asset: String,
    /// The assets it has earned revenue in (hex).
    pub revenue_assets: Vec<String>,
    /// When it was registered (block time, ms).
    pub registered_ms: u64,
    /// How many streams have settled.
    pub streams: u64,
}

/// A connection to one node.
pub struct NodeClient {
    url: String,
    agent: ureq::Agent,
}

impl NodeClient {
    /// A client of the node at `url` (`http://host:port`, a trailing `/` allowed).
    pub fn new(url: &str) -> Result<NodeClient, ClientError> {
        let trimmed = url.trim().trim_end_matches('/');
        let Some(rest) = trimmed.strip_prefix("http://") else {
            return Err(ClientError::BadUrl(url.to_owned()));
        };
        if rest.is_empty() || rest.contains(['/', '?', '#', ' ']) {
            return Err(ClientError::BadUrl(url.to_owned()));
        }
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(REQUEST_TIMEOUT))
            .build()
            .into();
        Ok(NodeClient {
            url: trimmed.to_owned(),
            agent,
        })
    }

    /// The node's base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn unreachable(&self, error: ureq::Error) -> ClientError {
        ClientError::Unreachable {
            url: self.url.clone(),
            why: error.to_string(),
        }
    }

    fn bad_answer(&self, what: &str, why: impl Into<String>) -> ClientError {
        ClientError::BadAnswer {
            url: self.url.clone(),
            what: what.to_owned(),
            why: why.into(),
        }
    }

    /// Reads an answer: a 2xx JSON document, or the node's error document as [`ClientError::Api`].
    fn answer(
        &self,
        what: &str,
        result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<(u16, Value), ClientError> {
        let mut response = result.map_err(|e| self.unreachable(e))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(ANSWER_BYTES_MAX)
            .read_to_string()
            .map_err(|e| self.unreachable(e))?;
        let doc: Value = serde_json::from_str(&text)
            .map_err(|e| self.bad_answer(what, format!("status {status}, not JSON: {e}")))?;
        if (200..300).contains(&status) {
            return Ok((status, doc));
        }
        match (
            doc["error"]["code"].as_str(),
            doc["error"]["message"].as_str(),
        ) {
            (Some(code), Some(message)) => Err(ClientError::Api {
                what: what.to_owned(),
                status,
                code: code.to_owned(),
                message: message.to_owned(),
            }),
            _ => Err(self.bad_answer(what, format!("status {status} without an error document"))),
        }
    }

    fn get<T: DeserializeOwned>(&self, path: &str, what: &str) -> Result<T, ClientError> {
        let result = self.agent.get(format!("{}{path}", self.url)).call();
        let (_, doc) = self.answer(what, result)?;
        serde_json::from_value(doc).map_err(|e| self.bad_answer(what, e.to_string()))
    }

    /// `GET /v1/status`.
    pub fn status(&self) -> Result<StatusDoc, ClientError> {
        let raw: Value = self.get("/v1/status", "the status request")?;
        let mut doc: StatusDoc = serde_json::from_value(raw.clone())
            .map_err(|e| self.bad_answer("the status request", e.to_string()))?;
        doc.raw = raw;
        Ok(doc)
    }

    /// `GET /v1/accounts/{did}`.
    pub fn account(&self, account: &AccountId) -> Result<AccountDoc, ClientError> {
        self.get(
            &format!("/v1/accounts/{}", account.to_did()),
            "the account request",
        )
    }

    /// `GET /v1/assets/{id}`, or `None` if there is no such asset.
    pub fn asset(&self, id: &AssetId) -> Result<Option<AssetDoc>, ClientError> {
        match self.get(&format!("/v1/assets/{id}"), "the asset request") {
            Ok(doc) => Ok(Some(doc)),
            Err(ClientError::Api { code, .. }) if code == "unknown_asset" => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every asset, read a page at a time (`GET /v1/assets?after=`).
    pub fn assets(&self) -> Result<Vec<AssetDoc>, ClientError> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..ASSET_PAGES_MAX {
            let path = match &after {
                None => format!("/v1/assets?limit={PAGE_ITEMS_MAX}"),
                Some(last) => format!("/v1/assets?limit={PAGE_ITEMS_MAX}&after={last}"),
            };
            let page: AssetPage = self.get(&path, "the asset list")?;
            // Bounded before keeping: a hostile node cannot grow the list beyond the pages'
            // count times the page's size of short items.
            if page.items.len() > PAGE_ITEMS_MAX {
                return Err(self.bad_answer("the asset list", "a page is too long"));
            }
            if let Some(bad) = page
                .items
                .iter()
                .find(|a| a.id.len() != 64 || a.symbol.len() > SYMBOL_MAX_LEN)
            {
                let shown: String = bad.symbol.chars().take(16).collect();
                return Err(self.bad_answer(
                    "the asset list",
                    format!("an asset with a malformed id or symbol (`{shown}`)"),
                ));
            }
            all.extend(page.items);
            match page.next {
                // A node that repeats a cursor would make this loop forever.
                Some(next) if Hash::from_hex(&next).is_none() => {
                    return Err(self.bad_answer("the asset list", "a page cursor is not an id"));
                }
                Some(next) if after.as_deref() != Some(next.as_str()) => after = Some(next),
                Some(_) => return Err(self.bad_answer("the asset list", "a page repeats")),
                None => return Ok(all),
            }
        }
        Err(self.bad_answer(
            "the asset list",
            format!("more than {ASSET_PAGES_MAX} pages"),
        ))
    }

    /// `GET /v1/channels/{id}`, or `None` if there is no such channel.
    pub fn channel(
        &self,
        id: &cadenza_types::ChannelId,
    ) -> Result<Option<ChannelDoc>, ClientError> {
        match self.get(&format!("/v1/channels/{id}"), "the channel request") {
            Ok(doc) => Ok(Some(doc)),
            Err(ClientError::Api { code, .. }) if code == "unknown_channel" => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /v1/tracks/{id}`, or `None` if there is no such track.
    pub fn track(&self, id: &cadenza_types::TrackId) -> Result<Option<TrackDoc>, ClientError> {
        match self.get(&format!("/v1/tracks/{id}"), "the track request") {
            Ok(doc) => Ok(Some(doc)),
            Err(ClientError::Api { code, .. }) if code == "unknown_track" => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /v1/accounts/{did}/balances/{asset}`: base units.
    pub fn balance(&self, account: &AccountId, asset: &AssetId) -> Result<Amount, ClientError> {
        let what = "the balance request";
        let doc: AmountField = self.get(
            &format!("/v1/accounts/{}/balances/{asset}", account.to_did()),
            what,
        )?;
        parse_base_units(&doc.amount).map_err(|why| self.bad_answer(what, why))
    }

    /// `GET /v1/provider`: the account of the provider this node runs, or `None` if it runs none.
    pub fn provider(&self) -> Result<Option<AccountId>, ClientError> {
        let what = "the provider request";
        match self.get::<Value>("/v1/provider", what) {
            Ok(doc) => {
                let did = doc["account"].as_str().unwrap_or_default();
                AccountId::from_did(did)
                    .map(Some)
                    .map_err(|e| self.bad_answer(what, e.to_string()))
            }
            Err(ClientError::Api { code, .. }) if code == "not_a_provider" => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET path` with `Range: bytes=start-end` (inclusive): the status, the `Content-Range`
    /// header and the bytes. An answer outside 2xx is read as the node's error document.
    pub fn get_range(
        &self,
        path: &str,
        start: u64,
        end: u64,
        what: &str,
    ) -> Result<(u16, Option<String>, Vec<u8>), ClientError> {
        let result = self
            .agent
            .get(format!("{}{path}", self.url))
            .header("range", format!("bytes={start}-{end}"))
            .call();
        let mut response = result.map_err(|e| self.unreachable(e))?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            return self.answer(what, Ok(response)).and_then(|_| {
                Err(self.bad_answer(what, format!("status {status} for a range request")))
            });
        }
        let range = response
            .headers()
            .get("content-range")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let limit = end.saturating_sub(start).saturating_add(1).max(1);
        // A 200 carries the whole file: bounded by what the track may be.
        let limit = if status == 200 {
            crate::track_cmd::FILE_BYTES_MAX
        } else {
            limit
        };
        let body = response
            .body_mut()
            .with_config()
            .limit(limit)
            .read_to_vec()
            .map_err(|e| self.unreachable(e))?;
        Ok((status, range, body))
    }

    /// POSTs `body` with `content_type` to `path` and returns the JSON answer.
    pub fn post(
        &self,
        path: &str,
        content_type: &str,
        body: &[u8],
        what: &str,
    ) -> Result<Value, ClientError> {
        let result = self
            .agent
            .post(format!("{}{path}", self.url))
            .header("content-type", content_type)
            .send(body);
        self.answer(what, result).map(|(_, doc)| doc)
    }

    /// POSTs a file's bytes to `path` (`application/octet-stream`, with its length), drawing a
    /// progress bar on standard error when `progress`; returns the JSON answer.
    pub fn upload(
        &self,
        path: &str,
        body: &[u8],
        what: &str,
        progress: bool,
    ) -> Result<Value, ClientError> {
        let mut reader = Progress {
            data: body,
            pos: 0,
            shown: None,
            draw: progress,
        };
        let result = self
            .agent
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/octet-stream")
            .header("content-length", body.len().to_string())
            .send(ureq::SendBody::from_reader(&mut reader));
        if progress {
            eprintln!();
        }
        self.answer(what, result).map(|(_, doc)| doc)
    }

    /// `POST /v1/txs` with the transaction's canonical encoding in hex.
    pub fn submit(&self, stx: &SignedTransaction) -> Result<TxDoc, ClientError> {
        let what = "the transaction";
        let body = json!({ "tx": hex::encode(stx.to_bytes()) }).to_string();
        let result = self
            .agent
            .post(format!("{}/v1/txs", self.url))
            .header("content-type", "application/json")
            .send(body.as_bytes());
        let (_, doc) = self.answer(what, result)?;
        serde_json::from_value(doc).map_err(|e| self.bad_answer(what, e.to_string()))
    }

    /// `GET /v1/txs/{hash}?wait_ms=`: waits up to `wait_ms` (at most [`POLL_WAIT_MS`]) for it to
    /// commit.
    pub fn tx(&self, hash: &Hash, wait_ms: u64) -> Result<TxDoc, ClientError> {
        self.get(
            &format!(
                "/v1/txs/{}?wait_ms={}",
                hash.to_hex(),
                wait_ms.min(POLL_WAIT_MS)
            ),
            "the transaction status request",
        )
    }
}

/// A request body read from memory that draws its progress (`[#####.....]  42%  1.2/2.9 MB`).
struct Progress<'a> {
    data: &'a [u8],
    pos: usize,
    shown: Option<usize>,
    draw: bool,
}

impl std::io::Read for Progress<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(64 * 1024).min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        let total = self.data.len().max(1);
        let percent = self.pos * 100 / total;
        if self.draw && self.shown != Some(percent) {
            self.shown = Some(percent);
            let filled = percent / 5;
            let mb = |b: usize| format!("{}.{}", b / 1_000_000, b % 1_000_000 / 100_000);
            eprint!(
                "\ruploading [{}{}] {percent:>3}%  {}/{} MB",
                "#".repeat(filled),
                ".".repeat(20 - filled),
                mb(self.pos),
                mb(self.data.len())
            );
        }
        Ok(n)
    }
}

impl StatusDoc {
    /// The native asset's id.
    pub fn native_asset(&self) -> Result<AssetId, String> {
        parse_asset_id(&self.params.native_asset)
    }

    /// The chain's parameters, rebuilt from the status so the ledger's own rules (such as
    /// [`Params::min_fee_for`]) can be applied to them.
    pub fn ledger_params(&self) -> Result<Params, String> {
        let p = &self.params;
        let faucet = match &p.faucet {
            None => None,
            Some(f) => Some(FaucetParams {
                drips: f
                    .drips
                    .iter()
                    .map(|d| Ok((parse_asset_id(&d.asset)?, parse_base_units(&d.amount)?)))
                    .collect::<Result<_, String>>()?,
                cooldown_ms: f.cooldown_ms,
            }),
        };
        Ok(Params {
            min_fee: parse_base_units(&p.min_fee)?,
            protocol_fee_bps: p.protocol_fee_bps,
            provider_fee_bps: p.provider_fee_bps,
            challenge_window_ms: p.challenge_window_ms,
            min_play_ms: p.min_play_ms,
            epoch_ms: p.epoch_ms,
            max_receipts_per_tx: p.max_receipts_per_tx,
            faucet,
        })
    }
}

/// An asset id from its hex form.
pub fn parse_asset_id(text: &str) -> Result<AssetId, String> {
    text.parse()
        .map_err(|_| format!("`{text}` is not an asset id"))
}

/// An amount from its decimal string of base units.
pub fn parse_base_units(text: &str) -> Result<Amount, String> {
    text.parse::<u128>()
        .map(Amount::new)
        .map_err(|_| format!("`{text}` is not an amount in base units"))
}
