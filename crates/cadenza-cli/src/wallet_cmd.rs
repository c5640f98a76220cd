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
};
use serde_json::{Value, json};

use crate::amounts::{Assets, amount_arg, bad_amount, show, split_amount};
use crate::client::{ClientError, NodeClient, StatusDoc, TxDoc, parse_asset_id, parse_base_units};
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
    /// Not an id of the kind expected.
    #[error("`{text}` is not a {what}: expected 64 hex digits")]
    BadId {
        /// What kind of id.
        what: &'static str,
        /// What was given.
        text: String,
    },
    /// No such thing on the chain.
    #[error("the chain has no {what} {id}: {hint}")]
    Unknown {
        /// What kind of thing.
        what: &'static str,
        /// Its id.
        id: String,
        /// What to do.
        hint: &'static str,
    },
    /// An argument refused before sending.
    #[error("{what}: {why}")]
    BadArgument {
        /// Which argument.
        what: &'static str,
        /// What is wrong.
        why: String,
    },
    /// The key may not act on this object.
    #[error("{message}")]
    NotYours {
        /// What and why, in words.
        message: String,
    },
    /// The channel is not in a state that allows this.
    #[error("{message}")]
    ChannelState {
        /// What and why, in words.
        message: String,
    },
    /// The ledger would refuse it: nothing to do.
    #[error("{message}")]
    Nothing {
        /// What and why, in words.
        message: String,
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
            WalletError::BadId { .. } => "bad_id",
            WalletError::Unknown { what, .. } => match *what {
                "channel" => "unknown_channel",
                "track" => "unknown_track",
                _ => "unknown",
            },
            WalletError::BadArgument { .. } => "bad_argument",
            WalletError::NotYours { .. } => "not_yours",
            WalletError::ChannelState { .. } => "channel_state",
            WalletError::Nothing { .. } => "nothing_to_do",
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
            | WalletError::BadId { .. }
            | WalletError::Unknown { .. }
            | WalletError::BadArgument { .. }
            | WalletError::NotYours { .. }
            | WalletError::ChannelState { .. }
            | WalletError::Nothing { .. }
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

pub(crate) fn bad_answer(client: &NodeClient, what: &str, why: String) -> ClientError {
    ClientError::BadAnswer {
        url: client.url().to_owned(),
        what: what.to_owned(),
        why,
    }
}

pub(crate) fn print(json: bool, doc: &Value, text: &str) {
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
pub(crate) fn resolve_account(
    w: &Wallet,
    who: Option<&str>,
) -> Result<(AccountId, Option<String>), CliError> {
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

/// What a signing command works with: the chosen key (not yet opened), the chain, its
/// parameters and its assets.
pub struct Signing {
    /// The key's name.
    pub name: String,
    store: Keystore,
    path: PathBuf,
    /// The key's account.
    pub account: AccountId,
    /// The chain.
    pub chain: Chain,
}

impl std::ops::Deref for Signing {
    type Target = Chain;
    fn deref(&self) -> &Chain {
        &self.chain
    }
}

/// What the node says about its chain: id, parameters, assets, status.
pub struct Chain {
    /// The chain.
    pub chain_id: ChainId,
    /// The chain's parameters.
    pub params: cadenza_ledger::Params,
    /// The native asset (fees).
    pub native: AssetId,
    /// Every asset.
    pub assets: Assets,
    /// The node's status when the command started.
    pub status: StatusDoc,
}

/// How a transaction is sent: `--fee`, `--nonce`, `--no-wait`.
#[derive(Clone, Copy, Debug, Default)]
pub struct SendOpts<'a> {
    /// The fee in whole units of the native asset [default: the chain's minimum].
    pub fee: Option<&'a str>,
    /// The nonce [default: the account's next, past its pending transactions].
    pub nonce: Option<u64>,
    /// Return once the node accepted it.
    pub no_wait: bool,
}

/// A transaction sent.
pub struct Sent {
    /// Its status as the node last reported it.
    pub doc: TxDoc,
    /// The JSON output so far (hash, status, height, fee paid...).
    pub out: Value,
    /// The fee offered.
    pub fee: Amount,
    /// The nonce it carried.
    pub nonce: u64,
}

impl Sent {
    /// Whether it committed (and its action succeeded: a failed one is an error).
    pub fn committed(&self) -> bool {
        self.doc.is_committed()
    }

    /// The lines that end a command's text: where it committed and the fee, or how to follow it.
    pub fn footer(&self, s: &Chain) -> String {
        if self.committed() {
            let paid =
                parse_base_units(self.doc.fee_paid.as_deref().unwrap_or("0")).unwrap_or(self.fee);
            format!(
                "committed at height {}, fee {}\ntx {}",
                self.doc.height.unwrap_or(0),
                s.assets.show(&s.native, paid),
                self.doc.hash
            )
        } else {
            format!(
                "submitted (pending)\ntx {}\ncheck with `cadenza tx status {}`",
                self.doc.hash, self.doc.hash
            )
        }
    }
}

impl Wallet {
    /// The chosen key and the chain's status, parameters and assets.
    pub fn signing(&self) -> Result<Signing, CliError> {
        let (name, store, path, account) = self.signer_store()?;
        Ok(Signing {
            name,
            store,
            path,
            account,
            chain: self.view()?,
        })
    }

    /// The chain's status, parameters and assets (no key needed).
    pub fn view(&self) -> Result<Chain, CliError> {
        let (status, params, chain_id) = self.status()?;
        let native = status.native_asset().map_err(|why| {
            WalletError::from(bad_answer(&self.client, "the status request", why))
        })?;
        let assets = Assets::fetch(&self.client).map_err(WalletError::from)?;
        Ok(Chain {
            chain_id,
            params,
            native,
            assets,
            status,
        })
    }

    /// The fee for `action`: `--fee` in the native asset (at least the chain's minimum), else the
    /// minimum.
    fn fee(&self, s: &Signing, action: &Action, fee: Option<&str>) -> Result<Amount, WalletError> {
        let min_fee = s.params.min_fee_for(action);
        let Some(text) = fee else {
            return Ok(min_fee);
        };
        let (fee_number, fee_symbol) = split_amount(text);
        let native_doc = s
            .assets
            .0
            .get(&s.native)
            .ok_or_else(|| WalletError::UnknownAsset(s.native.to_string()))?;
        if fee_symbol.is_some_and(|x| !x.eq_ignore_ascii_case(&native_doc.symbol)) {
            return Err(bad_amount(
                text,
                format!("fees are paid in {}", native_doc.symbol),
            ));
        }
        amount_arg(text, None, None)?;
        let fee =
            crate::amounts::parse_units(text, fee_number, &native_doc.symbol, native_doc.decimals)?;
        if fee < min_fee {
            return Err(bad_amount(
                text,
                format!(
                    "the chain's minimum fee is {}",
                    s.assets.show(&s.native, min_fee)
                ),
            ));
        }
        Ok(fee)
    }

    /// Checks that the signer's balances cover `needs` and the fee, then signs `action` with the
    /// key (asking its passphrase), submits it and, unless `--no-wait`, waits for its commit.
    /// `what` names the transaction in messages ("the transfer"). Nothing is sent when a check
    /// fails; a committed transaction whose action failed is an error.
    pub fn send(
        &self,
        s: &Signing,
        action: Action,
        needs: &[(AssetId, Amount)],
        what: &str,
        opts: SendOpts<'_>,
    ) -> Result<Sent, CliError> {
        self.check_funds(s, &action, needs, what, opts)?;
        let key = Wallet::open(&s.name, &s.store, &s.path)?;
        self.send_signed(s, action, &key, opts)
    }

    /// Opens the signing key (asks its passphrase).
    pub fn open_key(&self, s: &Signing) -> Result<SecretKey, CliError> {
        Wallet::open(&s.name, &s.store, &s.path)
    }

    /// The checks of [`Wallet::send`] without sending: the fee, and the balances covering
    /// `needs` and the fee. Returns the fee and the nonce.
    pub fn check_funds(
        &self,
        s: &Signing,
        action: &Action,
        needs: &[(AssetId, Amount)],
        what: &str,
        opts: SendOpts<'_>,
    ) -> Result<(Amount, u64), CliError> {
        let fee = self.fee(s, action, opts.fee)?;
        let (nonce, balances) = self.balances(&s.account)?;
        let mut need: BTreeMap<AssetId, Amount> = BTreeMap::new();
        for (asset, amount) in needs.iter().chain(std::iter::once(&(s.native, fee))) {
            let total = need.entry(*asset).or_insert(Amount::ZERO);
            *total = total.checked_add(*amount).ok_or_else(|| {
                bad_amount(&amount.to_string(), "the amounts and the fee overflow")
            })?;
        }
        let mut missing = Vec::new();
        let mut words = Vec::new();
        for (a, total) in &need {
            let have = balances.get(a).copied().unwrap_or(Amount::ZERO);
            if let Some(short) = total.checked_sub(have).filter(|x| !x.is_zero()) {
                let own = needs
                    .iter()
                    .filter(|(x, _)| x == a)
                    .fold(Amount::ZERO, |t, (_, x)| t.checked_add(*x).unwrap_or(t));
                let detail = if *a == s.native && !own.is_zero() {
                    format!(
                        " ({} + fee {})",
                        s.assets.show(a, own),
                        s.assets.show(a, fee)
                    )
                } else if *a == s.native {
                    format!(" (the fee {})", s.assets.show(a, fee))
                } else {
                    String::new()
                };
                words.push(format!(
                    "{} missing: the account has {}, {what} needs {}{detail}",
                    s.assets.show(a, short),
                    s.assets.show(a, have),
                    s.assets.show(a, *total),
                ));
                missing.push(s.assets.json(a, short));
            }
        }
        if !missing.is_empty() {
            let hint = if s.params.faucet.is_some() {
                "; on a devnet, `cadenza faucet` gives more"
            } else {
                ""
            };
            return Err(WalletError::InsufficientFunds {
                message: format!(
                    "too little balance in {} ({}): {}; nothing was sent{hint}",
                    s.account.to_did(),
                    s.name,
                    words.join("; ")
                ),
                missing,
            }
            .into());
        }
        Ok((fee, opts.nonce.unwrap_or(nonce)))
    }

    /// Signs `action` with `key` (already checked by [`Wallet::check_funds`]), submits it and,
    /// unless `--no-wait`, waits for its commit.
    pub fn send_signed(
        &self,
        s: &Signing,
        action: Action,
        key: &SecretKey,
        opts: SendOpts<'_>,
    ) -> Result<Sent, CliError> {
        let fee = self.fee(s, &action, opts.fee)?;
        let nonce = match opts.nonce {
            Some(n) => n,
            None => self.balances(&s.account)?.0,
        };
        let tx = Transaction {
            chain_id: s.chain_id.clone(),
            signer: s.account,
            nonce,
            fee,
            action,
        };
        let stx = tx.sign(key);
        let doc = self.submit(&stx, opts.no_wait)?;
        let out = if doc.is_committed() {
            self.outcome(&doc, &s.native, &s.assets)?
        } else {
            json!({ "hash": doc.hash, "status": doc.status })
        };
        Ok(Sent {
            doc,
            out,
            fee,
            nonce,
        })
    }
}

/// `cadenza transfer TO AMOUNT`.
pub fn transfer(w: &Wallet, args: &TransferArgs<'_>) -> Result<(), CliError> {
    // What can be checked without the node, first.
    let to = AccountId::from_did(args.to.trim()).map_err(|e| WalletError::BadAccount {
        text: args.to.to_owned(),
        why: e.to_string(),
    })?;
    let arg = amount_arg(args.amount, args.symbol, args.asset)?;
    if arg.asset.is_none() {
        return Err(bad_amount(
            args.amount,
            "say which asset, like 1.25CUSD, `1.25 CUSD` or --asset CUSD",
        )
        .into());
    }
    let s = w.signing()?;
    let (asset, _, amount) = arg.resolve(&s.assets, None, false)?;
    let action = Action::Transfer { to, asset, amount };
    let sent = w.send(
        &s,
        action,
        &[(asset, amount)],
        "the transfer",
        SendOpts {
            fee: args.fee,
            nonce: args.nonce,
            no_wait: args.no_wait,
        },
    )?;
    let shown = s.assets.show(&asset, amount);
    let mut out = sent.out.clone();
    out["from"] = json!(s.account.to_did());
    out["to"] = json!(to.to_did());
    out["amount"] = s.assets.json(&asset, amount);
    out["fee"] = s.assets.json(&s.native, sent.fee);
    let text = if sent.committed() {
        format!("sent {shown} to {}\n{}", to.to_did(), sent.footer(&s))
    } else {
        format!(
            "submitted: {shown} to {} (pending)\ntx {}\ncheck with `cadenza tx status {}`",
            to.to_did(),
            sent.doc.hash,
            sent.doc.hash
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
