//! Wallet commands over a node's HTTP API: `status`, `balance`, `faucet`, `transfer` and
//! `tx status`.
//!
//! Everything that can be checked before a transaction is sent is checked first — the
//! recipient's did:key, the amount's sign and precision, the asset, the balance including the fee
//! — so a refused command has sent nothing. Amounts are shown in whole units of their asset
//! (`1.25 CUSD`); the JSON forms also carry base units as decimal strings.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use cadenza_types::{
    AccountId, Action, Amount, AssetId, ChainId, Hash, SecretKey, SignedTransaction, Transaction,
    amount::ParseAmountError,
};
use serde_json::{Value, json};

use crate::client::{
    AssetDoc, ClientError, NodeClient, StatusDoc, TxDoc, parse_asset_id, parse_base_units,
};
use crate::keystore::{KeyDir, Keystore, valid_name};
use crate::{CliError, passphrase};

/// How long a command waits for its transaction to commit before giving up (it may still
/// commit later: `cadenza tx status HASH` tells).
const COMMIT_WAIT_MS: u64 = 60_000;

/// Why a wallet command failed.
#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    /// Talking to the node failed.
    #[error(transparent)]
    Node(#[from] ClientError),
    /// The config file is unusable.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The command signs, but no key was chosen.
    #[error(
        "no key chosen: pass --key NAME, set CADENZA_KEY, or put \"key\" in the config file \
         ({0}); see `cadenza keys list`"
    )]
    NoKey(PathBuf),
    /// Not an account.
    #[error(
        "`{text}` is not an account: {why}; an account is a did:key like \
         did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK (`cadenza keys show NAME` prints one)"
    )]
    BadAccount {
        /// What was given.
        text: String,
        /// What is wrong with it.
        why: String,
    },
    /// Not an amount this command can send.
    #[error("`{text}` is not an amount to send: {why}")]
    BadAmount {
        /// What was given.
        text: String,
        /// What is wrong with it.
        why: String,
    },
    /// No asset has this symbol or id.
    #[error("the chain has no asset `{0}`; the node lists its assets at /v1/assets")]
    UnknownAsset(String),
    /// Several assets have this symbol.
    #[error("several assets are called `{symbol}` ({ids}); name one by its id with --asset ID")]
    AmbiguousAsset {
        /// The symbol.
        symbol: String,
        /// Their ids, comma-separated.
        ids: String,
    },
    /// Not a transaction hash.
    #[error("`{0}` is not a transaction hash: expected 64 hex digits")]
    BadHash(String),
    /// The chain has no faucet.
    #[error("the chain at {0} has no faucet (only development chains such as `cadenza devnet` do)")]
    NoFaucet(String),
    /// The balance does not cover what the transaction needs.
    #[error("{message}")]
    InsufficientFunds {
        /// What is missing, in words.
        message: String,
        /// What is missing, per asset (JSON amounts).
        missing: Vec<Value>,
    },
    /// The transaction committed but its action failed; the fee was paid.
    #[error(
        "transaction {} committed at height {} but the ledger refused it: {} ({}); the fee paid \
         was {}",
        .0.hash, .0.height, .0.message, .0.code, .0.fee
    )]
    TxFailed(Box<TxFailure>),
    /// The transaction did not commit in time.
    #[error(
        "transaction {hash} did not commit within {waited_ms} ms; it may still: check with \
         `cadenza tx status {hash}`"
    )]
    NotCommitted {
        /// The transaction hash.
        hash: String,
        /// How long was waited.
        waited_ms: u64,
    },
}

impl WalletError {
    /// A stable code for scripts.
    pub fn code(&self) -> &str {
        match self {
            WalletError::Node(ClientError::Unreachable { .. }) => "node_unreachable",
            WalletError::Node(ClientError::BadUrl(_)) => "bad_node_url",
            WalletError::Node(ClientError::Api { code, .. }) => code,
            WalletError::Node(ClientError::BadAnswer { .. }) => "bad_answer",
            WalletError::Config(_) => "bad_config",
            WalletError::NoKey(_) => "no_key",
            WalletError::BadAccount { .. } => "bad_account",
            WalletError::BadAmount { .. } => "bad_amount",
            WalletError::UnknownAsset(_) => "unknown_asset",
            WalletError::AmbiguousAsset { .. } => "ambiguous_asset",
            WalletError::BadHash(_) => "bad_hash",
            WalletError::NoFaucet(_) => "no_faucet",
            WalletError::InsufficientFunds { .. } => "insufficient_funds",
            WalletError::TxFailed(_) => "tx_failed",
            WalletError::NotCommitted { .. } => "tx_timeout",
        }
    }

    /// The exit status (see the README's table).
    pub fn exit_code(&self) -> u8 {
        match self {
            WalletError::NoKey(_) => 3,
            WalletError::Node(ClientError::Unreachable { .. }) => 5,
            WalletError::Node(ClientError::BadUrl(_))
            | WalletError::BadAccount { .. }
            | WalletError::BadAmount { .. }
            | WalletError::UnknownAsset(_)
            | WalletError::AmbiguousAsset { .. }
            | WalletError::BadHash(_)
            | WalletError::NoFaucet(_) => 6,
            WalletError::InsufficientFunds { .. } => 7,
            WalletError::Node(ClientError::Api { .. }) | WalletError::TxFailed(_) => 8,
            WalletError::NotCommitted { .. } => 9,
            WalletError::Node(ClientError::BadAnswer { .. }) | WalletError::Config(_) => 1,
        }
    }

    /// Facts for scripts beyond the code and message, merged into the JSON error.
    pub fn details(&self) -> Option<Value> {
        match self {
            WalletError::Node(ClientError::Api { status, .. }) => {
                Some(json!({ "http_status": status }))
            }
            WalletError::Node(ClientError::Unreachable { url, .. }) => Some(json!({ "node": url })),
            WalletError::InsufficientFunds { missing, .. } => Some(json!({ "missing": missing })),
            WalletError::TxFailed(f) => Some(json!({
                "hash": f.hash, "height": f.height, "fee_paid": f.fee_paid,
                "ledger_error": { "code": f.code, "message": f.message },
            })),
            WalletError::NotCommitted { hash, .. } => Some(json!({ "hash": hash })),
            _ => None,
        }
    }
}

/// A committed transaction whose action the ledger refused.
#[derive(Debug)]
pub struct TxFailure {
    /// The transaction hash.
    pub hash: String,
    /// The height it committed at.
    pub height: u64,
    /// The fee paid (display form).
    pub fee: String,
    /// The fee paid in base units.
    pub fee_paid: String,
    /// The ledger's error code.
    pub code: String,
    /// The ledger's message.
    pub message: String,
}

/// What the wallet commands work with.
pub struct Wallet {
    /// The node.
    pub client: NodeClient,
    /// The keystores.
    pub keys: KeyDir,
    /// The chosen key's name, from `--key`, `CADENZA_KEY` or the config file.
    pub key: Option<String>,
    /// The config file (named in messages).
    pub config_path: PathBuf,
    /// Print one JSON document.
    pub json: bool,
}

/// Assets by id, as the node lists them.
struct Assets(BTreeMap<AssetId, AssetDoc>);

impl Assets {
    fn fetch(client: &NodeClient) -> Result<Assets, ClientError> {
        let mut map = BTreeMap::new();
        for doc in client.assets()? {
            let id = parse_asset_id(&doc.id).map_err(|why| bad_answer(client, "assets", why))?;
            map.insert(id, doc);
        }
        Ok(Assets(map))
    }

    /// `amount` of `asset` in whole units with its symbol, or in base units with the asset id if
    /// the asset is unknown.
    fn show(&self, asset: &AssetId, amount: Amount) -> String {
        show(self.0.get(asset), asset, amount)
    }

    fn json(&self, asset: &AssetId, amount: Amount) -> Value {
        let mut value = json!({ "asset": asset.to_string(), "amount": amount.get().to_string() });
        if let Some(doc) = self.0.get(asset) {
            value["symbol"] = json!(doc.symbol);
            value["decimals"] = json!(doc.decimals);
            value["display"] = json!(self.show(asset, amount));
        }
        value
    }

    /// The asset named by `name`: its id (64 hex digits) or its symbol, in any case.
    fn resolve(&self, name: &str) -> Result<(AssetId, AssetDoc), WalletError> {
        if let Ok(id) = parse_asset_id(name) {
            return self
                .0
                .get(&id)
                .map(|doc| (id, doc.clone()))
                .ok_or_else(|| WalletError::UnknownAsset(name.to_owned()));
        }
        let wanted = name.to_ascii_uppercase();
        let matches: Vec<_> = self
            .0
            .iter()
            .filter(|(_, doc)| doc.symbol.eq_ignore_ascii_case(&wanted))
            .collect();
        match matches.as_slice() {
            [] => Err(WalletError::UnknownAsset(name.to_owned())),
            [(id, doc)] => Ok((**id, (*doc).clone())),
            many => Err(WalletError::AmbiguousAsset {
                symbol: wanted,
                ids: many
                    .iter()
                    .map(|(id, _)| id.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }
}

fn show(doc: Option<&AssetDoc>, asset: &AssetId, amount: Amount) -> String {
    match doc {
        Some(doc) => format!("{} {}", amount.display_units(doc.decimals), doc.symbol),
        None => format!("{amount} base units of asset {asset}"),
    }
}

fn bad_answer(client: &NodeClient, what: &str, why: String) -> ClientError {
    ClientError::BadAnswer {
        url: client.url().to_owned(),
        what: what.to_owned(),
        why,
    }
}

fn print(json: bool, doc: &Value, text: &str) {
    if json {
        println!("{doc}");
    } else {
        println!("{text}");
    }
}

impl Wallet {
    /// The chosen key's keystore, read without its passphrase (its account is public).
    fn signer_store(&self) -> Result<(String, Keystore, PathBuf, AccountId), CliError> {
        let name = self
            .key
            .clone()
            .ok_or_else(|| WalletError::NoKey(self.config_path.clone()))?;
        let (store, path) = self.keys.load(&name)?;
        let account = AccountId::from_did(&store.account).expect("checked when loaded");
        Ok((name, store, path, account))
    }

    /// Opens a keystore with its passphrase.
    fn open(name: &str, store: &Keystore, path: &std::path::Path) -> Result<SecretKey, CliError> {
        let pass = passphrase(&format!("Passphrase of key `{name}`: "), false)?;
        Ok(store.open(pass.as_bytes(), path)?)
    }

    fn status(&self) -> Result<(StatusDoc, cadenza_ledger::Params, ChainId), WalletError> {
        let status = self.client.status()?;
        let params = status
            .ledger_params()
            .map_err(|why| bad_answer(&self.client, "the status request", why))?;
        let chain = ChainId::new(&status.chain_id)
            .map_err(|e| bad_answer(&self.client, "the status request", e.to_string()))?;
        Ok((status, params, chain))
    }

    /// The account's next nonce (past its pending transactions) and its balances by asset.
    fn balances(
        &self,
        account: &AccountId,
    ) -> Result<(u64, BTreeMap<AssetId, Amount>), WalletError> {
        let doc = self.client.account(account)?;
        let mut balances = BTreeMap::new();
        for b in &doc.balances {
            let asset = parse_asset_id(&b.asset)
                .map_err(|why| bad_answer(&self.client, "the account request", why))?;
            let amount = parse_base_units(&b.amount)
                .map_err(|why| bad_answer(&self.client, "the account request", why))?;
            balances.insert(asset, amount);
        }
        // The next nonce counts the account's transactions still pending at the node, so a
        // second `--no-wait` transfer follows the first instead of replacing it.
        Ok((
            doc.pending_nonce.unwrap_or(doc.nonce).max(doc.nonce),
            balances,
        ))
    }

    /// Submits `stx` and, unless `no_wait`, waits for it to commit.
    fn submit(&self, stx: &SignedTransaction, no_wait: bool) -> Result<TxDoc, WalletError> {
        let mut doc = self.client.submit(stx)?;
        if no_wait || doc.is_committed() {
            return Ok(doc);
        }
        let hash = stx.hash();
        let deadline = Instant::now() + Duration::from_millis(COMMIT_WAIT_MS);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(WalletError::NotCommitted {
                    hash: hash.to_hex(),
                    waited_ms: COMMIT_WAIT_MS,
                });
            }
            doc = self.client.tx(&hash, left.as_millis() as u64)?;
            if doc.is_committed() {
                return Ok(doc);
            }
        }
    }

    /// The outcome of a committed transaction as JSON, or its failure as an error.
    fn outcome(
        &self,
        doc: &TxDoc,
        native: &AssetId,
        assets: &Assets,
    ) -> Result<Value, WalletError> {
        let fee_paid = parse_base_units(doc.fee_paid.as_deref().unwrap_or("0"))
            .map_err(|why| bad_answer(&self.client, "the transaction", why))?;
        let fee = assets.show(native, fee_paid);
        if let Some(error) = &doc.error {
            return Err(WalletError::TxFailed(Box::new(TxFailure {
                hash: doc.hash.clone(),
                height: doc.height.unwrap_or(0),
                fee,
                fee_paid: fee_paid.get().to_string(),
                code: error.code.clone(),
                message: error.message.clone(),
            })));
        }
        Ok(json!({
            "hash": doc.hash, "status": doc.status, "height": doc.height, "index": doc.index,
            "ok": doc.ok, "fee_paid": assets.json(native, fee_paid),
        }))
    }
}

/// `cadenza status`.
pub fn status(w: &Wallet) -> Result<(), CliError> {
    let (status, params, _) = w.status()?;
    let assets = Assets::fetch(&w.client)?;
    let native = status
        .native_asset()
        .map_err(|why| WalletError::from(bad_answer(&w.client, "the status request", why)))?;
    let faucet = params.faucet.as_ref().map(|f| {
        let drips: Vec<String> = f.drips.iter().map(|(a, x)| assets.show(a, *x)).collect();
        (drips.join(", "), f.cooldown_ms)
    });
    let mut doc = status.raw.clone();
    doc["node"] = json!(w.client.url());
    let mut text = format!(
        "node        {}\nchain       {}\nheight      {}\nstate root  {}\nvalidators  {} (this node: {})\nmin fee     {}",
        w.client.url(),
        status.chain_id,
        status.height,
        status.state_root,
        status.validators,
        status.validator,
        assets.show(&native, params.min_fee),
    );
    if let Some((drips, cooldown_ms)) = faucet {
        text.push_str(&format!(
            "\nfaucet      {drips} per drip, every {} s",
            cooldown_ms / 1000
        ));
    }
    print(w.json, &doc, &text);
    Ok(())
}

/// The account named by `who` (a did:key or a key name), or the chosen key's.
fn resolve_account(w: &Wallet, who: Option<&str>) -> Result<(AccountId, Option<String>), CliError> {
    let name = match who {
        Some(text) if text.starts_with("did:") => {
            let account = AccountId::from_did(text).map_err(|e| WalletError::BadAccount {
                text: text.to_owned(),
                why: e.to_string(),
            })?;
            return Ok((account, None));
        }
        Some(text) if !valid_name(text) => {
            return Err(WalletError::BadAccount {
                text: text.to_owned(),
                why: "neither a did:key nor the name of a key".into(),
            }
            .into());
        }
        Some(name) => name.to_owned(),
        None => w
            .key
            .clone()
            .ok_or_else(|| WalletError::NoKey(w.config_path.clone()))?,
    };
    let (store, _) = w.keys.load(&name)?;
    let account = AccountId::from_did(&store.account).expect("checked when loaded");
    Ok((account, Some(name)))
}

/// `cadenza balance [ACCOUNT|KEYNAME] [--raw]`.
pub fn balance(w: &Wallet, who: Option<&str>, raw: bool) -> Result<(), CliError> {
    let (account, name) = resolve_account(w, who)?;
    let doc = w.client.account(&account).map_err(WalletError::from)?;
    let mut items = Vec::new();
    let mut lines = vec![match &name {
        Some(n) => format!("{} ({n}) at height {}", account.to_did(), doc.height),
        None => format!("{} at height {}", account.to_did(), doc.height),
    }];
    // By symbol, so people find an asset where they expect it; unknown assets last.
    let mut sorted: Vec<_> = doc.balances.iter().collect();
    sorted.sort_by(|x, y| {
        (x.symbol.is_none(), &x.symbol, &x.asset).cmp(&(y.symbol.is_none(), &y.symbol, &y.asset))
    });
    for b in sorted {
        let bad = |why| WalletError::from(bad_answer(&w.client, "the account request", why));
        let asset = parse_asset_id(&b.asset).map_err(bad)?;
        let amount = parse_base_units(&b.amount).map_err(bad)?;
        let mut item = json!({ "asset": b.asset, "amount": b.amount });
        let line = match (&b.symbol, b.decimals) {
            (Some(symbol), Some(decimals)) => {
                let display = format!("{} {symbol}", amount.display_units(decimals));
                item["symbol"] = json!(symbol);
                item["decimals"] = json!(decimals);
                item["display"] = json!(display);
                if raw {
                    format!("{amount} {symbol} base units")
                } else {
                    display
                }
            }
            _ => format!("{amount} base units of asset {asset}"),
        };
        lines.push(format!("  {line}"));
        items.push(item);
    }
    if doc.balances.is_empty() {
        lines.push("  no balances".into());
    }
    let out = json!({
        "account": account.to_did(), "key": name, "height": doc.height, "nonce": doc.nonce,
        "balances": items,
    });
    print(w.json, &out, &lines.join("\n"));
    Ok(())
}

/// `cadenza faucet`: asks the devnet faucet for its drip (fee-exempt where a faucet exists).
pub fn faucet(w: &Wallet, no_wait: bool) -> Result<(), CliError> {
    let (name, store, path, account) = w.signer_store()?;
    let (status, params, chain_id) = w.status()?;
    let native = status
        .native_asset()
        .map_err(|why| WalletError::from(bad_answer(&w.client, "the status request", why)))?;
    let Some(faucet) = params.faucet.clone() else {
        return Err(WalletError::NoFaucet(w.client.url().to_owned()).into());
    };
    let (nonce, _) = w.balances(&account)?;
    let assets = Assets::fetch(&w.client).map_err(WalletError::from)?;
    let action = Action::Faucet;
    let tx = Transaction {
        chain_id,
        signer: account,
        nonce,
        fee: params.min_fee_for(&action),
        action,
    };
    let key = Wallet::open(&name, &store, &path)?;
    let stx = tx.sign(&key);
    let doc = w.submit(&stx, no_wait)?;
    let drips: Vec<Value> = faucet
        .drips
        .iter()
        .map(|(a, x)| assets.json(a, *x))
        .collect();
    let shown: Vec<String> = faucet
        .drips
        .iter()
        .map(|(a, x)| assets.show(a, *x))
        .collect();
    if !doc.is_committed() {
        let out = json!({ "hash": doc.hash, "status": doc.status, "account": account.to_did() });
        let text = format!(
            "submitted {} (pending); check with `cadenza tx status {}`",
            doc.hash, doc.hash
        );
        print(w.json, &out, &text);
        return Ok(());
    }
    let mut out = w.outcome(&doc, &native, &assets)?;
    out["account"] = json!(account.to_did());
    out["received"] = json!(drips);
    let text = format!(
        "received {} at {} (height {}, tx {})",
        shown.join(" and "),
        account.to_did(),
        doc.height.unwrap_or(0),
        doc.hash
    );
    print(w.json, &out, &text);
    Ok(())
}

/// What `cadenza transfer` was asked to do.
pub struct TransferArgs<'a> {
    /// The recipient (did:key).
    pub to: &'a str,
    /// The amount, with or without its symbol (`1.25CUSD`, `1.25 CUSD`, `1.25`).
    pub amount: &'a str,
    /// The symbol as a separate word (`1.25 CUSD` given as two arguments).
    pub symbol: Option<&'a str>,
    /// `--asset`: a symbol or an asset id.
    pub asset: Option<&'a str>,
    /// `--fee`: in whole units of the native asset.
    pub fee: Option<&'a str>,
    /// `--nonce`: instead of the account's next one (past its transactions pending at the node).
    pub nonce: Option<u64>,
    /// `--no-wait`.
    pub no_wait: bool,
}

/// Splits `1.25CUSD` / `1.25 CUSD` into the number and the symbol.
fn split_amount(text: &str) -> (&str, Option<&str>) {
    let text = text.trim();
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+')))
        .unwrap_or(text.len());
    let (number, rest) = text.split_at(end);
    let rest = rest.trim();
    (number, (!rest.is_empty()).then_some(rest))
}

fn bad_amount(text: &str, why: impl Into<String>) -> WalletError {
    WalletError::BadAmount {
        text: text.to_owned(),
        why: why.into(),
    }
}

/// Parses `number` in units of an asset with `decimals`, saying what is wrong in words.
fn parse_amount(
    text: &str,
    number: &str,
    symbol: &str,
    decimals: u8,
) -> Result<Amount, WalletError> {
    Amount::parse_units(number, decimals).map_err(|e| match e {
        ParseAmountError::TooPrecise { decimals } => bad_amount(
            text,
            format!(
                "{symbol} has {decimals} decimal places, so the smallest amount is {} {symbol}",
                Amount::new(1).display_units(decimals)
            ),
        ),
        other => bad_amount(text, other.to_string()),
    })
}

/// `cadenza transfer TO AMOUNT`.
pub fn transfer(w: &Wallet, args: &TransferArgs<'_>) -> Result<(), CliError> {
    // What can be checked without the node, first.
    let to = AccountId::from_did(args.to.trim()).map_err(|e| WalletError::BadAccount {
        text: args.to.to_owned(),
        why: e.to_string(),
    })?;
    let (number, suffix) = split_amount(args.amount);
    let names: Vec<&str> = [suffix, args.symbol, args.asset]
        .into_iter()
        .flatten()
        .collect();
    let asset_name = match names.as_slice() {
        [] => {
            return Err(bad_amount(
                args.amount,
                "say which asset, like 1.25CUSD, `1.25 CUSD` or --asset CUSD",
            )
            .into());
        }
        [first, rest @ ..] if rest.iter().all(|n| n.eq_ignore_ascii_case(first)) => *first,
        _ => return Err(bad_amount(args.amount, "it names two different assets").into()),
    };
    // Sign and syntax do not depend on the asset's decimals (38 fit in 128 bits).
    if let Err(e @ (ParseAmountError::Negative | ParseAmountError::Malformed)) =
        Amount::parse_units(number, 38)
    {
        return Err(bad_amount(args.amount, e.to_string()).into());
    }
    let (name, store, path, from) = w.signer_store()?;

    let (status, params, chain_id) = w.status()?;
    let native = status
        .native_asset()
        .map_err(|why| WalletError::from(bad_answer(&w.client, "the status request", why)))?;
    let assets = Assets::fetch(&w.client).map_err(WalletError::from)?;
    let (asset, doc) = assets.resolve(asset_name)?;
    let amount = parse_amount(args.amount, number, &doc.symbol, doc.decimals)?;
    if amount.is_zero() {
        return Err(bad_amount(args.amount, "there is nothing to send in zero").into());
    }
    let action = Action::Transfer { to, asset, amount };
    let min_fee = params.min_fee_for(&action);
    let fee = match args.fee {
        None => min_fee,
        Some(text) => {
            let (fee_number, fee_symbol) = split_amount(text);
            let native_doc = assets
                .0
                .get(&native)
                .ok_or_else(|| WalletError::UnknownAsset(native.to_string()))?;
            if fee_symbol.is_some_and(|s| !s.eq_ignore_ascii_case(&native_doc.symbol)) {
                return Err(
                    bad_amount(text, format!("fees are paid in {}", native_doc.symbol)).into(),
                );
            }
            let fee = parse_amount(text, fee_number, &native_doc.symbol, native_doc.decimals)?;
            if fee < min_fee {
                return Err(bad_amount(
                    text,
                    format!(
                        "the chain's minimum fee is {}",
                        assets.show(&native, min_fee)
                    ),
                )
                .into());
            }
            fee
        }
    };

    // The balance must cover the amount and the fee.
    let (nonce, balances) = w.balances(&from)?;
    let mut needs: BTreeMap<AssetId, Amount> = BTreeMap::new();
    needs.insert(asset, amount);
    let native_need = needs.get(&native).copied().unwrap_or(Amount::ZERO);
    needs.insert(
        native,
        native_need
            .checked_add(fee)
            .ok_or_else(|| bad_amount(args.amount, "the amount and the fee overflow"))?,
    );
    let mut missing = Vec::new();
    let mut words = Vec::new();
    for (a, need) in &needs {
        let have = balances.get(a).copied().unwrap_or(Amount::ZERO);
        if let Some(short) = need.checked_sub(have).filter(|s| !s.is_zero()) {
            let what = if *a == asset && *a == native {
                format!(
                    " ({} + fee {})",
                    assets.show(a, amount),
                    assets.show(a, fee)
                )
            } else if *a == native {
                format!(" (the fee {})", assets.show(a, fee))
            } else {
                String::new()
            };
            words.push(format!(
                "{} missing: the account has {}, the transfer needs {}{what}",
                assets.show(a, short),
                assets.show(a, have),
                assets.show(a, *need),
            ));
            missing.push(assets.json(a, short));
        }
    }
    if !missing.is_empty() {
        return Err(WalletError::InsufficientFunds {
            message: format!(
                "too little balance in {} ({name}): {}; nothing was sent",
                from.to_did(),
                words.join("; ")
            ),
            missing,
        }
        .into());
    }

    let key = Wallet::open(&name, &store, &path)?;
    let tx = Transaction {
        chain_id,
        signer: from,
        nonce: args.nonce.unwrap_or(nonce),
        fee,
        action,
    };
    let stx = tx.sign(&key);
    let doc = w.submit(&stx, args.no_wait)?;
    let sent = assets.show(&asset, amount);
    let mut out = if doc.is_committed() {
        w.outcome(&doc, &native, &assets)?
    } else {
        json!({ "hash": doc.hash, "status": doc.status })
    };
    out["from"] = json!(from.to_did());
    out["to"] = json!(to.to_did());
    out["amount"] = assets.json(&asset, amount);
    out["fee"] = assets.json(&native, fee);
    let text = if doc.is_committed() {
        format!(
            "sent {sent} to {}\ncommitted at height {}, fee {}\ntx {}",
            to.to_did(),
            doc.height.unwrap_or(0),
            assets.show(
                &native,
                parse_base_units(doc.fee_paid.as_deref().unwrap_or("0")).unwrap_or(fee)
            ),
            doc.hash
        )
    } else {
        format!(
            "submitted: {sent} to {} (pending)\ntx {}\ncheck with `cadenza tx status {}`",
            to.to_did(),
            doc.hash,
            doc.hash
        )
    };
    print(w.json, &out, &text);
    Ok(())
}

/// `cadenza tx status HASH`.
pub fn tx_status(w: &Wallet, hash: &str, wait_ms: u64) -> Result<(), CliError> {
    let hash = Hash::from_hex(hash.trim()).ok_or_else(|| WalletError::BadHash(hash.to_owned()))?;
    let doc = w.client.tx(&hash, wait_ms).map_err(WalletError::from)?;
    let mut out = json!({ "hash": doc.hash, "status": doc.status });
    let text = if doc.is_committed() {
        let status = w.client.status().map_err(WalletError::from)?;
        let native = status
            .native_asset()
            .map_err(|why| WalletError::from(bad_answer(&w.client, "the status request", why)))?;
        let native_doc = w.client.asset(&native).map_err(WalletError::from)?;
        let fee_paid = parse_base_units(doc.fee_paid.as_deref().unwrap_or("0"))
            .map_err(|why| WalletError::from(bad_answer(&w.client, "the transaction", why)))?;
        let fee = show(native_doc.as_ref(), &native, fee_paid);
        out["height"] = json!(doc.height);
        out["index"] = json!(doc.index);
        out["ok"] = json!(doc.ok);
        out["fee_paid"] = json!(fee_paid.get().to_string());
        out["fee_display"] = json!(fee);
        out["error"] = json!(
            doc.error
                .as_ref()
                .map(|e| json!({ "code": e.code, "message": e.message }))
        );
        let result = match &doc.error {
            None => "ok".to_owned(),
            Some(e) => format!("failed: {} ({})", e.message, e.code),
        };
        format!(
            "committed at height {} (index {}), fee {fee}: {result}",
            doc.height.unwrap_or(0),
            doc.index.unwrap_or(0)
        )
    } else {
        "pending: in the node's mempool, not yet committed".to_owned()
    };
    print(w.json, &out, &text);
    Ok(())
}
