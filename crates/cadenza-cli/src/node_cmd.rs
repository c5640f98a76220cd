//! Running nodes: `cadenza devnet` (one validator, zero set-up), `cadenza testnet init` (the
//! configuration of N validators on this machine) and `cadenza node --config` (one of them).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use cadenza_node::run::{self, NodeConfig, Started, parse_public_key, public_key_hex};
use cadenza_types::SecretKey;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::keystore::{KdfCost, Keystore, KeystoreError};
use cadenza_node::genesis_file::{AssetFile, FaucetFile, GenesisFile, ParamsFile};

/// The devnet's chain id.
pub const DEVNET_CHAIN_ID: &str = "cadenza-devnet";

/// The devnet's challenge window after a channel closes: ten seconds, so a listener sees the
/// rest of a deposit come back within a walkthrough.
pub const DEVNET_CHALLENGE_WINDOW_MS: u64 = 10_000;

/// The devnet validator's well-known seed: a devnet holds nothing of value, and a fixed key
/// lets anyone restart it without a keystore. Never use it on a real network.
fn devnet_validator_seed() -> [u8; 32] {
    *blake3::hash(b"cadenza devnet validator (public, worthless)").as_bytes()
}

/// Why a node command failed.
#[derive(Debug, thiserror::Error)]
pub enum NodeCmdError {
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid node configuration: {message}")]
    Config { path: PathBuf, message: String },
    #[error(transparent)]
    Genesis(#[from] cadenza_node::genesis_file::GenesisFileError),
    #[error(transparent)]
    Keystore(#[from] KeystoreError),
    #[error("{0} already exists; choose an empty --dir or remove it")]
    Exists(PathBuf),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Node(#[from] run::NodeError),
}

impl NodeCmdError {
    pub fn code(&self) -> &'static str {
        match self {
            NodeCmdError::Io { .. } => "io",
            NodeCmdError::Config { .. } => "bad_config",
            NodeCmdError::Genesis(_) => "invalid_genesis",
            NodeCmdError::Keystore(KeystoreError::WrongPassphrase(_)) => "wrong_passphrase",
            NodeCmdError::Keystore(_) => "keystore",
            NodeCmdError::Exists(_) => "exists",
            NodeCmdError::Invalid(_) => "invalid_argument",
            NodeCmdError::Node(run::NodeError::Http { .. }) => "address_in_use",
            NodeCmdError::Node(_) => "node_failed",
        }
    }
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> NodeCmdError {
    let path = path.to_owned();
    move |source| NodeCmdError::Io {
        action,
        path,
        source,
    }
}

/// Writes `contents` to `path` durably (temporary file, fsync, rename).
fn write_file(path: &Path, contents: &[u8]) -> Result<(), NodeCmdError> {
    use std::io::Write as _;
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp).map_err(io("cannot create", &tmp))?;
    file.write_all(contents).map_err(io("cannot write", &tmp))?;
    file.sync_all().map_err(io("cannot sync", &tmp))?;
    std::fs::rename(&tmp, path).map_err(io("cannot rename", &tmp))?;
    Ok(())
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// A local chain's genesis: CDZ (the native asset) and CUSD (a devnet dollar), both funding a
/// faucet that gives every new account enough to pay fees and stream.
fn local_genesis(chain_id: &str, params: ParamsFile) -> GenesisFile {
    GenesisFile {
        chain_id: chain_id.to_owned(),
        genesis_time_ms: now_ms(),
        params,
        assets: vec![
            AssetFile {
                symbol: "CDZ".into(),
                decimals: 9,
                balances: [("faucet".to_owned(), "1000000000".to_owned())].into(),
            },
            AssetFile {
                symbol: "CUSD".into(),
                decimals: 6,
                balances: [("faucet".to_owned(), "1000000000".to_owned())].into(),
            },
        ],
        faucet: Some(FaucetFile {
            drips: [
                ("CDZ".to_owned(), "100".to_owned()),
                ("CUSD".to_owned(), "50".to_owned()),
            ]
            .into(),
            cooldown_ms: 60_000,
        }),
    }
}

fn read_genesis(path: &Path) -> Result<cadenza_ledger::Genesis, NodeCmdError> {
    let text = std::fs::read_to_string(path).map_err(io("cannot read", path))?;
    Ok(GenesisFile::parse(&text)?.to_genesis()?)
}

fn announce(json: bool, started: &Started, data: &Path, what: &str) {
    let url = format!("http://{}", started.http);
    if json {
        println!(
            "{}",
            json!({
                "url": url, "chain_id": started.chain_id, "height": started.height,
                "data": data.display().to_string(),
            })
        );
    } else {
        println!(
            "Cadenza {what} running: chain {} at height {}",
            started.chain_id, started.height
        );
        println!("  Web     {url}/");
        println!("  API     {url}/v1/status");
        println!("  data    {}", data.display());
        println!("Press Ctrl-C to stop; run the same command again to resume.");
    }
}

/// `cadenza devnet`: one validator through the same consensus path as a network, with its data
/// in `data` (created with a fresh genesis on first start, resumed after). The validator's key
/// is also the devnet's provider: it takes vouchers and settles them every `settle_interval`.
pub fn devnet(
    data: &Path,
    http: SocketAddr,
    settle_interval: std::time::Duration,
    params: ParamsFile,
    json: bool,
) -> Result<(), NodeCmdError> {
    std::fs::create_dir_all(data).map_err(io("cannot create", data))?;
    let genesis_path = data.join("genesis.json");
    let provider_key = SecretKey::from_seed(devnet_validator_seed());
    if !genesis_path.exists() {
        // Short demo tracks, and a close that completes while you watch, unless asked otherwise.
        let params = ParamsFile {
            min_play_ms: params
                .min_play_ms
                .or(Some(cadenza_node::catalogue::DEMO_MIN_PLAY_MS)),
            challenge_window_ms: params
                .challenge_window_ms
                .or(Some(DEVNET_CHALLENGE_WINDOW_MS)),
            ..params
        };
        let mut genesis = local_genesis(DEVNET_CHAIN_ID, params);
        // The provider pays settlement fees; the demo artists pay for registering the demo
        // catalogue.
        genesis.assets[0]
            .balances
            .insert(provider_key.account().to_did(), "1000".to_owned());
        for artist in cadenza_node::catalogue::demo_accounts() {
            genesis.assets[0]
                .balances
                .insert(artist.to_did(), "10".to_owned());
        }
        let text = serde_json::to_string_pretty(&genesis).expect("serializable");
        write_file(&genesis_path, text.as_bytes())?;
    }
    let genesis = read_genesis(&genesis_path)?;
    let key = run::validator_key(&devnet_validator_seed());
    let public = run::public_key(&key);
    let config = NodeConfig {
        data_dir: data.to_owned(),
        key,
        peers: vec![(public, SocketAddr::from(([127, 0, 0, 1], 0)))],
        p2p_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        http_listen: http,
        genesis,
        mempool_capacity: 100_000,
        worker_threads: 2,
        provider: Some(cadenza_node::provider::ProviderConfig {
            key: provider_key,
            dir: data.join("provider"),
            settle_interval,
            settle_receipts: 10_000,
            stream_window: cadenza_node::provider::STREAM_WINDOW,
            blob_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            blob_peers: Vec::new(),
        }),
        demo_catalogue: Some("CUSD".to_owned()),
    };
    let data = data.to_owned();
    run::run(config, move |started| {
        announce(json, started, &data, "devnet")
    })?;
    Ok(())
}

/// One validator's configuration file (`node.json`), written by `testnet init`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeFile {
    /// The genesis file, relative to this file.
    pub genesis: PathBuf,
    /// The validator's encrypted key, relative to this file.
    pub key: PathBuf,
    /// The data folder, relative to this file.
    pub data: PathBuf,
    /// Where it listens for peers.
    pub p2p: SocketAddr,
    /// Where its HTTP API listens.
    pub http: SocketAddr,
    /// Every validator: public key (hex) and p2p address.
    pub validators: Vec<PeerFile>,
}

/// A validator as listed in a node file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerFile {
    /// Its public key, hex.
    pub public_key: String,
    /// Its p2p address.
    pub address: SocketAddr,
}

/// `cadenza testnet init`: keys, a shared genesis and one configuration per validator, for N
/// validators on this machine (p2p ports from `p2p_base`, HTTP ports from `http_base`).
pub fn testnet_init(
    dir: &Path,
    validators: usize,
    p2p_base: u16,
    http_base: u16,
    params: ParamsFile,
    passphrase: &[u8],
    json: bool,
) -> Result<(), NodeCmdError> {
    if !(1..=32).contains(&validators) {
        return Err(NodeCmdError::Invalid(format!(
            "--validators must be between 1 and 32, not {validators}"
        )));
    }
    let last = |base: u16| base.checked_add(u16::try_from(validators).unwrap_or(u16::MAX) - 1);
    if last(p2p_base).is_none() || last(http_base).is_none() {
        return Err(NodeCmdError::Invalid(
            "the port ranges run past 65535; choose lower base ports".into(),
        ));
    }
    if dir.exists()
        && std::fs::read_dir(dir)
            .map_err(io("cannot read", dir))?
            .next()
            .is_some()
    {
        return Err(NodeCmdError::Exists(dir.to_owned()));
    }
    std::fs::create_dir_all(dir).map_err(io("cannot create", dir))?;
    let genesis = local_genesis("cadenza-testnet", params);
    write_file(
        &dir.join("genesis.json"),
        serde_json::to_string_pretty(&genesis)
            .expect("serializable")
            .as_bytes(),
    )?;
    let mut keys = Vec::with_capacity(validators);
    for _ in 0..validators {
        let mut seed = zeroize::Zeroizing::new([0u8; 32]);
        getrandom::fill(seed.as_mut())
            .map_err(|e| NodeCmdError::Invalid(format!("no randomness: {e}")))?;
        keys.push(SecretKey::from_seed(*seed));
    }
    let peers: Vec<PeerFile> = keys
        .iter()
        .enumerate()
        .map(|(i, key)| PeerFile {
            public_key: hex::encode(key.account().as_bytes()),
            address: SocketAddr::from(([127, 0, 0, 1], p2p_base + i as u16)),
        })
        .collect();
    let mut configs = Vec::with_capacity(validators);
    for (i, key) in keys.iter().enumerate() {
        let node_dir = dir.join(format!("validator-{i}"));
        std::fs::create_dir_all(&node_dir).map_err(io("cannot create", &node_dir))?;
        let store = Keystore::seal(
            &format!("validator-{i}"),
            key,
            passphrase,
            KdfCost::default(),
        )?;
        write_file(
            &node_dir.join("validator.key"),
            serde_json::to_string_pretty(&store)
                .expect("serializable")
                .as_bytes(),
        )?;
        let file = NodeFile {
            genesis: PathBuf::from("../genesis.json"),
            key: PathBuf::from("validator.key"),
            data: PathBuf::from("data"),
            p2p: peers[i].address,
            http: SocketAddr::from(([127, 0, 0, 1], http_base + i as u16)),
            validators: peers
                .iter()
                .map(|p| PeerFile {
                    public_key: p.public_key.clone(),
                    address: p.address,
                })
                .collect(),
        };
        let path = node_dir.join("node.json");
        write_file(
            &path,
            serde_json::to_string_pretty(&file)
                .expect("serializable")
                .as_bytes(),
        )?;
        configs.push(json!({
            "config": path.display().to_string(),
            "http": format!("http://{}", file.http),
            "public_key": peers[i].public_key,
        }));
    }
    if json {
        println!(
            "{}",
            json!({ "dir": dir.display().to_string(), "validators": configs })
        );
    } else {
        println!(
            "testnet of {validators} validators in {}; start each with:",
            dir.display()
        );
        for c in &configs {
            println!(
                "  cadenza node --config {}",
                c["config"].as_str().unwrap_or("?")
            );
        }
    }
    Ok(())
}

/// `cadenza node --config FILE`: runs one validator of a network.
pub fn node(config_path: &Path, passphrase: &[u8], json: bool) -> Result<(), NodeCmdError> {
    let text = std::fs::read_to_string(config_path).map_err(io("cannot read", config_path))?;
    let bad = |message: String| NodeCmdError::Config {
        path: config_path.to_owned(),
        message,
    };
    let file: NodeFile = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let base = config_path.parent().unwrap_or(Path::new("."));
    let genesis = read_genesis(&base.join(&file.genesis))?;
    let key_path = base.join(&file.key);
    let key_text = std::fs::read_to_string(&key_path).map_err(io("cannot read", &key_path))?;
    let store: Keystore = serde_json::from_str(&key_text)
        .map_err(|e| bad(format!("the key file {}: {e}", key_path.display())))?;
    let secret = store.open(passphrase, &key_path)?;
    let key = run::validator_key(&zeroize::Zeroizing::new(secret.seed()));
    let mut peers = Vec::with_capacity(file.validators.len());
    for p in &file.validators {
        let public = parse_public_key(&p.public_key)
            .ok_or_else(|| bad(format!("`{}` is not a validator public key", p.public_key)))?;
        peers.push((public, p.address));
    }
    let me = public_key_hex(&run::public_key(&key));
    if !file.validators.iter().any(|p| p.public_key == me) {
        return Err(bad(format!("its key ({me}) is not among its validators")));
    }
    let data = base.join(&file.data);
    let config = NodeConfig {
        data_dir: data.clone(),
        key,
        peers,
        p2p_listen: file.p2p,
        http_listen: file.http,
        genesis,
        mempool_capacity: 100_000,
        worker_threads: 2,
        provider: None,
        demo_catalogue: None,
    };
    run::run(config, move |started| {
        announce(json, started, &data, "validator")
    })?;
    Ok(())
}
