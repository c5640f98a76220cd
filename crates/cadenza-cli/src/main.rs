//! `cadenza`: the command line for operators, artists, listeners and scripts.
//!
//! Thin by design: it parses arguments, asks for passphrases, and prints results (human-readable,
//! or one JSON document with `--json`); the work is done by the library crates. Errors carry a
//! stable code, a message that says what to do, and an exit status (see [`CliError`]).

mod amounts;
mod channel_cmd;
mod client;
mod config;
mod keystore;
mod node_cmd;
mod play_cmd;
mod splits;
mod track_cmd;
mod wallet_cmd;

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use cadenza_types::SecretKey;
use clap::{Args, CommandFactory, Parser, Subcommand};
use serde_json::json;
use zeroize::Zeroizing;

use keystore::{KdfCost, KeyDir, Keystore, KeystoreError};

/// Cadenza: pay-per-stream music on a ledger no one company runs.
#[derive(Parser, Debug)]
#[command(name = "cadenza", version, about, propagate_version = true)]
struct Cli {
    /// Where keys and settings live.
    #[arg(long, global = true, env = "CADENZA_HOME", value_name = "DIR")]
    home: Option<PathBuf>,
    /// Print one JSON document for scripts instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// The node to talk to [default: "node" in the home folder's config.json, else http://127.0.0.1:7700].
    #[arg(long, global = true, env = "CADENZA_NODE", value_name = "URL")]
    node: Option<String>,
    /// The key that signs [default: "key" in the home folder's config.json].
    #[arg(long, global = true, env = "CADENZA_KEY", value_name = "NAME")]
    key: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create, import, export and inspect keys (kept encrypted under a passphrase).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Work with genesis files (the JSON a chain starts from).
    #[command(subcommand)]
    Genesis(GenesisCommand),
    /// Run a one-validator development chain on this machine, with its HTTP API. Data lives in
    /// `--data` (default: `devnet` under the home folder); running it again resumes the chain.
    Devnet {
        /// The data folder.
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// Where the HTTP API listens.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7700")]
        http: std::net::SocketAddr,
        /// How often the devnet's provider settles the vouchers it has acknowledged.
        #[arg(long, value_name = "MS", default_value_t = 5_000)]
        settle_interval_ms: u64,
        /// A new chain's challenge window (how long after a channel closes its provider may
        /// still settle) [default: 10 s]. Only read when the devnet's genesis is created.
        #[arg(long, value_name = "MS")]
        challenge_window_ms: Option<u64>,
    },
    /// Set up a network of several validators on this machine.
    #[command(subcommand)]
    Testnet(TestnetCommand),
    /// Run one validator of a network from its configuration file (see `testnet init`), and its
    /// provider when the file has a `provider` section (`testnet init --providers`: voucher
    /// intake and settlement, uploads, paid streaming, and blobs fetched from and served to the
    /// peer providers it lists). The keys' passphrase comes from CADENZA_PASSPHRASE or a prompt.
    Node {
        /// The node's configuration (`node.json`).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Show the chain the node follows: chain id, height, state root, validators, fees.
    Status,
    /// Show an account's balances in whole units of each asset (default: the chosen key's).
    Balance {
        /// A did:key or the name of a key (default: --key).
        account: Option<String>,
        /// Show base units instead of whole units.
        #[arg(long)]
        raw: bool,
    },
    /// Ask a development chain's faucet for its drip (free of fees), signed by --key.
    Faucet {
        /// Return once the node has accepted it, without waiting for the commit.
        #[arg(long)]
        no_wait: bool,
    },
    /// Send an amount of an asset to an account, signed by --key: `transfer did:key:z6Mk... 1.25CUSD`.
    Transfer {
        /// The recipient's did:key.
        to: String,
        /// The amount in whole units, with its asset's symbol: `1.25CUSD`, `"1.25 CUSD"` or
        /// `1.25 --asset CUSD`.
        #[arg(allow_hyphen_values = true)]
        amount: String,
        /// The asset's symbol, when given as a separate word (`1.25 CUSD`).
        symbol: Option<String>,
        /// The asset: a symbol or an asset id (64 hex digits).
        #[arg(long, value_name = "SYMBOL|ID")]
        asset: Option<String>,
        /// The fee in whole units of the native asset [default: the chain's minimum].
        #[arg(long, value_name = "AMOUNT")]
        fee: Option<String>,
        /// The nonce [default: the account's next, from its committed state]. To send several
        /// transactions before the first commits, give each the next number (with --no-wait).
        #[arg(long, value_name = "N")]
        nonce: Option<u64>,
        /// Return once the node has accepted it, without waiting for the commit.
        #[arg(long)]
        no_wait: bool,
    },
    /// Transactions.
    #[command(subcommand)]
    Tx(TxCommand),
    /// A listener's payment channels to a provider: open, top up, close, withdraw, show.
    #[command(subcommand)]
    Channel(ChannelCommand),
    /// A track's royalty shares (an ordinary asset: 1,000,000 per track).
    #[command(subcommand)]
    Shares(SharesCommand),
    /// Claim the signer's share of what a track earned, signed by --key.
    Claim {
        /// The track id (64 hex digits).
        track: String,
        /// The revenue asset [default: the asset of the track's price].
        #[arg(long, value_name = "SYMBOL|ID")]
        asset: Option<String>,
        #[command(flatten)]
        send: SendArgs,
    },
    /// Tracks: publish, verify a file's licence, show one.
    #[command(subcommand)]
    Track(TrackCommand),
    /// Stream a track through the node's provider and pay for it from a channel, signed by
    /// --key: `play TRACK --out song.flac` (or `--out -` to pipe it to a player).
    Play {
        /// The track id.
        track: String,
        /// The channel to pay from [default: the key's open channel to the node's provider in
        /// the asset of the track's price].
        #[arg(long, value_name = "ID")]
        channel: Option<String>,
        /// Where the audio goes: a file, or `-` for standard output [default: standard output
        /// when it is not a terminal].
        #[arg(long, value_name = "FILE|-")]
        out: Option<PathBuf>,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[derive(Subcommand, Debug)]
enum KeysCommand {
    /// Create a new key and store it encrypted.
    New {
        /// A local name for the key (a-z, 0-9, -, _).
        name: String,
    },
    /// Store an existing key, read as 64 hex digits (its 32-byte seed) from standard input.
    Import {
        /// A local name for the key.
        name: String,
    },
    /// Print a key's secret seed as hex, after its passphrase. Anyone holding it controls the
    /// account.
    Export {
        /// The key's name.
        name: String,
    },
    /// List the stored keys and their accounts.
    List,
    /// Show a key's account (did:key) and public key.
    Show {
        /// The key's name.
        name: String,
    },
}

/// How a transaction is sent.
#[derive(Args, Debug, Clone)]
struct SendArgs {
    /// The fee in whole units of the native asset [default: the chain's minimum].
    #[arg(long, value_name = "AMOUNT")]
    fee: Option<String>,
    /// The nonce [default: the account's next, past its transactions pending at the node].
    #[arg(long, value_name = "N")]
    nonce: Option<u64>,
    /// Return once the node has accepted it, without waiting for the commit.
    #[arg(long)]
    no_wait: bool,
}

impl SendArgs {
    fn opts(&self) -> wallet_cmd::SendOpts<'_> {
        wallet_cmd::SendOpts {
            fee: self.fee.as_deref(),
            nonce: self.nonce,
            no_wait: self.no_wait,
        }
    }
}

#[derive(Subcommand, Debug)]
enum ChannelCommand {
    /// Open a channel to a provider, escrowing a deposit: `channel open --deposit 5CUSD`.
    /// Prints the channel's id.
    Open {
        /// The provider: a did:key or a key name [default: the node's own provider].
        #[arg(long, value_name = "DID")]
        provider: Option<String>,
        /// The deposit with its asset: `5CUSD`, `"5 CUSD"`.
        #[arg(long, value_name = "AMOUNT", allow_hyphen_values = true)]
        deposit: String,
        /// How long the channel stays open, in block time: 30d, 12h, 90m, 45s.
        #[arg(long, value_name = "DURATION", default_value = channel_cmd::DEFAULT_EXPIRY)]
        expiry: String,
        #[command(flatten)]
        send: SendArgs,
    },
    /// Add to an open channel's deposit (its owner only): `channel topup ID 2.5CUSD`.
    Topup {
        /// The channel id (64 hex digits).
        id: String,
        /// The amount, in the channel's asset (its symbol optional).
        #[arg(allow_hyphen_values = true)]
        amount: String,
        #[command(flatten)]
        send: SendArgs,
    },
    /// Close a channel (owner or provider): its provider may settle during the challenge
    /// window; then `withdraw` returns the rest.
    Close {
        /// The channel id.
        id: String,
        #[command(flatten)]
        send: SendArgs,
    },
    /// Return what is left in a closed channel to its owner, after the challenge window.
    Withdraw {
        /// The channel id.
        id: String,
        #[command(flatten)]
        send: SendArgs,
    },
    /// Show a channel: deposit, settled, escrow, state.
    Show {
        /// The channel id.
        id: String,
        /// Show base units instead of whole units.
        #[arg(long)]
        raw: bool,
    },
}

#[derive(Subcommand, Debug)]
enum SharesCommand {
    /// Send some of a track's royalty shares: `shares transfer TRACK 250000 --to DID` or `25%`.
    Transfer {
        /// The track id.
        track: String,
        /// How many shares: a whole number, or a percentage of the track (`12.5%`).
        #[arg(allow_hyphen_values = true)]
        amount: String,
        /// The recipient: a did:key or a key name.
        #[arg(long, value_name = "DID")]
        to: String,
        #[command(flatten)]
        send: SendArgs,
    },
}

#[derive(Subcommand, Debug)]
enum TrackCommand {
    /// Show a track: title, artist, licence, price, shares, streams.
    Info {
        /// The track id.
        track: String,
        /// Show base units instead of whole units.
        #[arg(long)]
        raw: bool,
    },
    /// Check a file's signed licence: offline from the file alone, then against the ledger.
    /// Exits 0 when valid, 10 when not.
    Verify {
        /// The audio file.
        file: PathBuf,
        /// The track to check against [default: the one the file's claim names].
        #[arg(long, value_name = "ID")]
        track: Option<String>,
        /// Check the file alone; do not ask the node.
        #[arg(long)]
        offline: bool,
    },
    /// Publish a recording: upload, sign and embed its licence, register it with its split.
    /// `track publish song.flac --split singer=60% --split producer=40% --price 0.002cUSD`.
    Publish {
        /// The audio file (FLAC, MP3, Ogg, WAV).
        file: PathBuf,
        /// A holder of the royalty shares and their part: `NAME=60%` or `did:key:z6Mk...=40%`
        /// (up to 4 decimals; the parts sum to 100%). Repeat for each holder.
        #[arg(long = "split", value_name = "HOLDER=PERCENT", required = true)]
        splits: Vec<String>,
        /// The price of one stream with its asset: `0.002CUSD`.
        #[arg(long, value_name = "AMOUNT", allow_hyphen_values = true)]
        price: String,
        /// The title [default: the file's name without its extension].
        #[arg(long)]
        title: Option<String>,
        /// The artist as credited [default: the signing key's name].
        #[arg(long)]
        artist: Option<String>,
        /// The ISRC (`GB-AYE-24-00001` or `GBAYE2400001`).
        #[arg(long)]
        isrc: Option<String>,
        /// The URL of the licence's text.
        #[arg(long, value_name = "URL", default_value = "")]
        licence_url: String,
        /// Uses allowed besides streaming: download, sync, remix (comma-separated).
        #[arg(long, value_name = "USES", value_delimiter = ',')]
        allow: Vec<String>,
        #[command(flatten)]
        send: SendArgs,
    },
}

#[derive(Subcommand, Debug)]
enum TxCommand {
    /// Whether a transaction is pending or committed, at which height, with what result.
    Status {
        /// The transaction hash (64 hex digits).
        hash: String,
        /// Wait up to this long for it to commit.
        #[arg(long, default_value_t = 0, value_name = "MS")]
        wait_ms: u64,
    },
}

#[derive(Subcommand, Debug)]
enum TestnetCommand {
    /// Write keys (encrypted under one passphrase), a genesis and a `node.json` per validator.
    Init {
        /// How many validators.
        #[arg(long, default_value_t = 4)]
        validators: usize,
        /// An empty or new folder for the network.
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// The first validator's p2p port on 127.0.0.1 (the others follow).
        #[arg(long, default_value_t = 27_000)]
        p2p_port: u16,
        /// The first validator's HTTP port on 127.0.0.1 (the others follow).
        #[arg(long, default_value_t = 27_700)]
        http_port: u16,
        /// Make every validator a provider too: its own encrypted key (`provider.key`, same
        /// passphrase) funded at genesis to pay settlement fees, uploads and paid streaming on
        /// its HTTP API, and its blobs shared with the other providers over iroh (each node's
        /// `blob_peers` lists the others' blob addresses, fixed by their keys and ports).
        #[arg(long)]
        providers: bool,
        /// The first provider's blob port (UDP) on 127.0.0.1 (the others follow); with
        /// --providers.
        #[arg(long, default_value_t = 27_400, requires = "providers")]
        blob_port: u16,
    },
}

#[derive(Subcommand, Debug)]
enum GenesisCommand {
    /// Check a genesis file and summarise the chain it starts.
    Check {
        /// The genesis file.
        file: PathBuf,
    },
}

/// What went wrong, with what to do about it.
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Keystore(#[from] KeystoreError),
    #[error("no passphrase: set CADENZA_PASSPHRASE for scripts, or run in a terminal to be asked")]
    NoPassphrase,
    #[error("the passphrases do not match; try again")]
    PassphraseMismatch,
    #[error("passphrase too short: use at least 8 characters")]
    WeakPassphrase,
    #[error("expected the key's 32-byte seed as 64 hex digits on standard input")]
    BadSeed,
    #[error("cannot find a home folder: pass --home DIR or set CADENZA_HOME")]
    NoHome,
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Genesis(#[from] cadenza_node::genesis_file::GenesisFileError),
    #[error(transparent)]
    Node(#[from] node_cmd::NodeCmdError),
    #[error(transparent)]
    Wallet(#[from] wallet_cmd::WalletError),
    #[error(transparent)]
    Split(#[from] splits::SplitError),
    /// A failure with its own code and exit status.
    #[error("{message}")]
    Failed {
        code: String,
        message: String,
        exit: u8,
        details: Option<serde_json::Value>,
    },
}

impl From<client::ClientError> for CliError {
    fn from(e: client::ClientError) -> Self {
        CliError::Wallet(e.into())
    }
}

impl CliError {
    /// A stable code for scripts.
    fn code(&self) -> &str {
        match self {
            CliError::Keystore(e) => match e {
                KeystoreError::WrongPassphrase(_) => "wrong_passphrase",
                KeystoreError::NotFound(_) => "key_not_found",
                KeystoreError::Exists(_) => "key_exists",
                KeystoreError::BadName(_) => "bad_key_name",
                KeystoreError::Corrupt { .. } => "keystore_corrupt",
                KeystoreError::Io { .. } => "io",
            },
            CliError::NoPassphrase => "no_passphrase",
            CliError::PassphraseMismatch => "passphrase_mismatch",
            CliError::WeakPassphrase => "weak_passphrase",
            CliError::BadSeed => "bad_seed",
            CliError::NoHome => "no_home",
            CliError::Read { .. } => "io",
            CliError::Genesis(_) => "invalid_genesis",
            CliError::Node(e) => e.code(),
            CliError::Wallet(e) => e.code(),
            CliError::Split(e) => match e {
                splits::SplitError::Sum { .. } => "splits_sum",
                splits::SplitError::Duplicate(_) => "duplicate_holder",
                splits::SplitError::BadHolder { .. } => "bad_account",
                _ => "bad_split",
            },
            CliError::Failed { code, .. } => code,
        }
    }

    /// The exit status: 3 for a missing key, 4 for a wrong passphrase, 5 when the node cannot be
    /// reached, 6 for an argument refused before anything was sent, 7 for too little balance, 8
    /// when the node or the ledger refused, 9 when a transaction did not commit in time, 1
    /// otherwise (clap uses 2 for usage errors).
    fn exit_code(&self) -> u8 {
        match self {
            CliError::Keystore(KeystoreError::NotFound(_)) => 3,
            CliError::Keystore(KeystoreError::WrongPassphrase(_)) => 4,
            CliError::Node(node_cmd::NodeCmdError::Keystore(KeystoreError::WrongPassphrase(_))) => {
                4
            }
            CliError::Wallet(e) => e.exit_code(),
            CliError::Split(_) => 6,
            CliError::Failed { exit, .. } => *exit,
            _ => 1,
        }
    }

    /// Facts for scripts beyond the code and message.
    fn details(&self) -> Option<serde_json::Value> {
        match self {
            CliError::Wallet(e) => e.details(),
            CliError::Failed { details, .. } => details.clone(),
            _ => None,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Logs go to stderr, warnings and errors only unless RUST_LOG asks for more (for example
    // RUST_LOG=cadenza_node=debug for each block's timing). QMDB says at warn level that a new
    // store starts empty; that is no news to a user, so only its errors show.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new(
                    "warn,lofty=error,commonware_storage::qmdb=error",
                )
            }),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let json = cli.json;
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if json {
                let mut error = json!({ "code": e.code(), "message": e.to_string() });
                if let (Some(serde_json::Value::Object(details)), Some(error)) =
                    (e.details(), error.as_object_mut())
                {
                    error.extend(details);
                }
                println!("{}", json!({ "error": error }));
            } else {
                eprintln!("error: {e}");
            }
            ExitCode::from(e.exit_code())
        }
    }
}

fn home(cli: &Cli) -> Result<PathBuf, CliError> {
    if let Some(h) = &cli.home {
        return Ok(h.clone());
    }
    std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".cadenza"))
        .ok_or(CliError::NoHome)
}

/// The wallet commands' context: the node and the key from the flags, the environment or the
/// config file (in that order).
fn wallet(cli: &Cli) -> Result<wallet_cmd::Wallet, CliError> {
    let home = home(cli)?;
    let config = config::Config::load(&home).map_err(wallet_cmd::WalletError::from)?;
    let node = cli
        .node
        .clone()
        .or(config.node)
        .unwrap_or_else(|| config::DEFAULT_NODE.to_owned());
    Ok(wallet_cmd::Wallet {
        client: client::NodeClient::new(&node)?,
        keys: KeyDir::new(&home),
        key: cli.key.clone().or(config.key),
        config_path: home.join(config::FILE_NAME),
        json: cli.json,
    })
}

/// The passphrase: `CADENZA_PASSPHRASE` for scripts, else asked on the terminal without echo
/// (twice when creating a keystore). Never printed or logged.
fn passphrase(prompt: &str, confirm: bool) -> Result<Zeroizing<String>, CliError> {
    if let Ok(p) = std::env::var("CADENZA_PASSPHRASE") {
        return Ok(Zeroizing::new(p));
    }
    let first =
        Zeroizing::new(rpassword::prompt_password(prompt).map_err(|_| CliError::NoPassphrase)?);
    if confirm {
        let again = Zeroizing::new(
            rpassword::prompt_password("Repeat it: ").map_err(|_| CliError::NoPassphrase)?,
        );
        if *first != *again {
            return Err(CliError::PassphraseMismatch);
        }
    }
    Ok(first)
}

fn new_passphrase() -> Result<Zeroizing<String>, CliError> {
    let p = passphrase("New passphrase: ", true)?;
    if p.chars().count() < 8 {
        return Err(CliError::WeakPassphrase);
    }
    Ok(p)
}

fn kdf_cost() -> KdfCost {
    KdfCost::default()
}

fn print_key(
    json: bool,
    name: &str,
    key_did: &str,
    public_hex: &str,
    path: Option<&std::path::Path>,
) {
    if json {
        let mut doc = json!({ "name": name, "account": key_did, "public_key": public_hex });
        if let Some(p) = path {
            doc["path"] = json!(p.display().to_string());
        }
        println!("{doc}");
    } else {
        println!("{name}\t{key_did}");
        if let Some(p) = path {
            eprintln!("stored encrypted in {}", p.display());
        }
    }
}

fn store_new(cli: &Cli, name: &str, key: &SecretKey) -> Result<(), CliError> {
    let dir = KeyDir::new(&home(cli)?);
    // Refuse a taken or invalid name before asking for a passphrase.
    match dir.load(name) {
        Ok(_) => return Err(KeystoreError::Exists(name.to_owned()).into()),
        Err(KeystoreError::NotFound(_)) => {}
        Err(e) => return Err(e.into()),
    }
    let pass = new_passphrase()?;
    let store = Keystore::seal(name, key, pass.as_bytes(), kdf_cost())?;
    let path = dir.save(&store)?;
    let account = key.account();
    print_key(
        cli.json,
        name,
        &account.to_did(),
        &hex::encode(account.as_bytes()),
        Some(&path),
    );
    Ok(())
}

fn run(cli: Cli) -> Result<(), CliError> {
    match &cli.command {
        Command::Completions { shell } => {
            clap_complete::generate(
                *shell,
                &mut Cli::command(),
                "cadenza",
                &mut std::io::stdout(),
            );
            Ok(())
        }
        Command::Status => wallet_cmd::status(&wallet(&cli)?),
        Command::Balance { account, raw } => {
            wallet_cmd::balance(&wallet(&cli)?, account.as_deref(), *raw)
        }
        Command::Faucet { no_wait } => wallet_cmd::faucet(&wallet(&cli)?, *no_wait),
        Command::Transfer {
            to,
            amount,
            symbol,
            asset,
            fee,
            nonce,
            no_wait,
        } => wallet_cmd::transfer(
            &wallet(&cli)?,
            &wallet_cmd::TransferArgs {
                to,
                amount,
                symbol: symbol.as_deref(),
                asset: asset.as_deref(),
                fee: fee.as_deref(),
                nonce: *nonce,
                no_wait: *no_wait,
            },
        ),
        Command::Tx(TxCommand::Status { hash, wait_ms }) => {
            wallet_cmd::tx_status(&wallet(&cli)?, hash, *wait_ms)
        }
        Command::Channel(c) => {
            let w = wallet(&cli)?;
            match c {
                ChannelCommand::Open {
                    provider,
                    deposit,
                    expiry,
                    send,
                } => channel_cmd::open(
                    &w,
                    &channel_cmd::OpenArgs {
                        provider: provider.as_deref(),
                        deposit,
                        expiry,
                        send: send.opts(),
                    },
                ),
                ChannelCommand::Topup { id, amount, send } => {
                    channel_cmd::topup(&w, id, amount, send.opts())
                }
                ChannelCommand::Close { id, send } => channel_cmd::close(&w, id, send.opts()),
                ChannelCommand::Withdraw { id, send } => channel_cmd::withdraw(&w, id, send.opts()),
                ChannelCommand::Show { id, raw } => channel_cmd::show(&w, id, *raw),
            }
        }
        Command::Shares(SharesCommand::Transfer {
            track,
            amount,
            to,
            send,
        }) => track_cmd::shares_transfer(&wallet(&cli)?, track, amount, to, send.opts()),
        Command::Claim { track, asset, send } => {
            track_cmd::claim(&wallet(&cli)?, track, asset.as_deref(), send.opts())
        }
        Command::Play {
            track,
            channel,
            out,
        } => play_cmd::play(
            &wallet(&cli)?,
            &play_cmd::PlayArgs {
                track,
                channel: channel.as_deref(),
                out: out.as_deref(),
            },
        ),
        Command::Track(TrackCommand::Info { track, raw }) => {
            track_cmd::info(&wallet(&cli)?, track, *raw)
        }
        Command::Track(TrackCommand::Verify {
            file,
            track,
            offline,
        }) => track_cmd::verify(&wallet(&cli)?, file, track.as_deref(), *offline),
        Command::Track(TrackCommand::Publish {
            file,
            splits,
            price,
            title,
            artist,
            isrc,
            licence_url,
            allow,
            send,
        }) => track_cmd::publish(
            &wallet(&cli)?,
            &track_cmd::PublishArgs {
                file,
                splits,
                price,
                title: title.as_deref(),
                artist: artist.as_deref(),
                isrc: isrc.as_deref(),
                licence_url,
                allow,
                send: send.opts(),
            },
        ),
        Command::Devnet {
            data,
            http,
            settle_interval_ms,
            challenge_window_ms,
        } => {
            let data = match data {
                Some(d) => d.clone(),
                None => home(&cli)?.join("devnet"),
            };
            Ok(node_cmd::devnet(
                &data,
                *http,
                std::time::Duration::from_millis(*settle_interval_ms),
                cadenza_node::genesis_file::ParamsFile {
                    challenge_window_ms: *challenge_window_ms,
                    ..Default::default()
                },
                cli.json,
            )?)
        }
        Command::Testnet(TestnetCommand::Init {
            validators,
            dir,
            p2p_port,
            http_port,
            providers,
            blob_port,
        }) => {
            let pass = new_passphrase()?;
            Ok(node_cmd::testnet_init(
                dir,
                *validators,
                *p2p_port,
                *http_port,
                providers.then_some(*blob_port),
                cadenza_node::genesis_file::ParamsFile::default(),
                pass.as_bytes(),
                cli.json,
            )?)
        }
        Command::Node { config } => {
            let pass = passphrase("Validator key passphrase: ", false)?;
            Ok(node_cmd::node(config, pass.as_bytes(), cli.json)?)
        }
        Command::Genesis(GenesisCommand::Check { file }) => {
            let text = std::fs::read_to_string(file).map_err(|source| CliError::Read {
                path: file.clone(),
                source,
            })?;
            let genesis = cadenza_node::genesis_file::GenesisFile::parse(&text)?.to_genesis()?;
            let assets: Vec<_> = genesis
                .assets
                .iter()
                .map(|a| {
                    let total = a.balances.iter().fold(cadenza_types::Amount::ZERO, |t, (_, x)| {
                        t.checked_add(*x).expect("checked by the ledger's genesis")
                    });
                    json!({ "symbol": a.symbol, "holders": a.balances.len(), "supply": total.display_units(a.decimals) })
                })
                .collect();
            if cli.json {
                println!(
                    "{}",
                    json!({ "valid": true, "chain_id": genesis.chain_id.as_str(), "assets": assets })
                );
            } else {
                println!("valid genesis for chain {}", genesis.chain_id);
                for a in assets {
                    println!(
                        "  {}: {} held by {} accounts",
                        a["symbol"].as_str().unwrap_or("?"),
                        a["supply"].as_str().unwrap_or("?"),
                        a["holders"]
                    );
                }
            }
            Ok(())
        }
        Command::Keys(KeysCommand::New { name }) => {
            let mut seed = Zeroizing::new([0u8; 32]);
            getrandom::fill(seed.as_mut()).map_err(|e| {
                CliError::Keystore(KeystoreError::Io {
                    action: "drawing randomness for",
                    path: PathBuf::from(name),
                    source: std::io::Error::other(e.to_string()),
                })
            })?;
            store_new(&cli, name, &SecretKey::from_seed(*seed))
        }
        Command::Keys(KeysCommand::Import { name }) => {
            if std::io::stdin().is_terminal() {
                eprintln!("paste the 64-hex-digit seed, then press Enter and Ctrl-D:");
            }
            let mut text = Zeroizing::new(String::new());
            std::io::stdin()
                .take(1024)
                .read_to_string(&mut text)
                .map_err(|_| CliError::BadSeed)?;
            let bytes = Zeroizing::new(hex::decode(text.trim()).map_err(|_| CliError::BadSeed)?);
            let seed: [u8; 32] = bytes.as_slice().try_into().map_err(|_| CliError::BadSeed)?;
            store_new(&cli, name, &SecretKey::from_seed(seed))
        }
        Command::Keys(KeysCommand::Export { name }) => {
            let dir = KeyDir::new(&home(&cli)?);
            let (store, path) = dir.load(name)?;
            let pass = passphrase("Passphrase: ", false)?;
            let key = store.open(pass.as_bytes(), &path)?;
            let seed = Zeroizing::new(hex::encode(key.seed()));
            eprintln!(
                "warning: this is the secret key of {}; anyone who sees it controls the account",
                store.account
            );
            if cli.json {
                println!(
                    "{}",
                    json!({ "name": name, "account": store.account, "seed": *seed })
                );
            } else {
                println!("{}", *seed);
            }
            Ok(())
        }
        Command::Keys(KeysCommand::List) => {
            let dir = KeyDir::new(&home(&cli)?);
            let mut keys = Vec::new();
            for name in dir.names()? {
                let (store, _) = dir.load(&name)?;
                keys.push((name, store.account));
            }
            if cli.json {
                let list: Vec<_> = keys
                    .iter()
                    .map(|(n, a)| json!({ "name": n, "account": a }))
                    .collect();
                println!("{}", json!({ "keys": list }));
            } else if keys.is_empty() {
                eprintln!("no keys yet; create one with `cadenza keys new NAME`");
            } else {
                for (n, a) in keys {
                    println!("{n}\t{a}");
                }
            }
            Ok(())
        }
        Command::Keys(KeysCommand::Show { name }) => {
            let dir = KeyDir::new(&home(&cli)?);
            let (store, path) = dir.load(name)?;
            let account =
                cadenza_types::AccountId::from_did(&store.account).expect("checked when loaded");
            print_key(
                cli.json,
                name,
                &store.account,
                &hex::encode(account.as_bytes()),
                Some(&path),
            );
            Ok(())
        }
    }
}
