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

/// What each provider of `testnet init --providers` holds at genesis, in whole CDZ: enough for
/// years of settlement fees on a local network.
const PROVIDER_GENESIS_CDZ: &str = "1000";

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

/// What a provider tells its operator at start: its account and where peers fetch its blobs.
struct ProviderAnnounce {
    account: String,
    blob_addr: Option<String>,
}

fn announce(
    json: bool,
    started: &Started,
    data: &Path,
    what: &str,
    provider: Option<&ProviderAnnounce>,
) {
    let url = format!("http://{}", started.http);
    if json {
        let mut doc = json!({
            "url": url, "chain_id": started.chain_id, "height": started.height,
            "data": data.display().to_string(),
        });
        if let Some(p) = provider {
            doc["provider"] = json!({ "account": p.account, "blob_addr": p.blob_addr });
        }
        println!("{doc}");
    } else {
        println!(
            "Cadenza {what} running: chain {} at height {}",
            started.chain_id, started.height
        );
        println!("  Web     {url}/");
        println!("  API     {url}/v1/status");
        println!("  data    {}", data.display());
        if let Some(p) = provider {
            println!("  provider {}", p.account);
            if let Some(addr) = &p.blob_addr {
                println!("  blobs   {addr}");
            }
        }
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
        announce(json, started, &data, "devnet", None)
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
    /// Serve as a provider too (voucher intake and settlement, uploads, streaming, blobs shared
    /// with peer providers), if present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<ProviderFile>,
}

/// The provider section of a node file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderFile {
    /// The provider's encrypted key, relative to the node file (same passphrase as the
    /// validator's); the validator's own key when absent, as on a devnet. Its account receives
    /// the provider fee and pays settlement fees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
    /// Its folder (intake log, blobs, staged uploads), relative to the node file.
    pub dir: PathBuf,
    /// Where it serves blobs to peer providers (iroh: QUIC over UDP). With a fixed port its
    /// address (`<endpoint id>@<ip:port>`, the id derived from the provider key) never changes.
    #[serde(default = "default_blob_listen")]
    pub blob_listen: SocketAddr,
    /// Peer providers' blob addresses, asked in order for a track's blob this one lacks.
    #[serde(default)]
    pub blob_peers: Vec<String>,
    /// Settle acknowledged vouchers at least this often (milliseconds).
    #[serde(default = "default_settle_interval_ms")]
    pub settle_interval_ms: u64,
}

fn default_blob_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn default_settle_interval_ms() -> u64 {
    5_000
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
/// validators on this machine (p2p ports from `p2p_base`, HTTP ports from `http_base`). With
/// `providers` (the first blob port), every node is also a provider with its own key, funded at
/// genesis, serving blobs on UDP ports from there and listing every other provider's blob
/// address as a peer: the addresses follow from the keys, so they are written now.
#[allow(clippy::too_many_arguments)]
pub fn testnet_init(
    dir: &Path,
    validators: usize,
    p2p_base: u16,
    http_base: u16,
    providers: Option<u16>,
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
    if last(p2p_base).is_none()
        || last(http_base).is_none()
        || providers.is_some_and(|b| last(b).is_none())
    {
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
    let new_key = || -> Result<SecretKey, NodeCmdError> {
        let mut seed = zeroize::Zeroizing::new([0u8; 32]);
        getrandom::fill(seed.as_mut())
            .map_err(|e| NodeCmdError::Invalid(format!("no randomness: {e}")))?;
        Ok(SecretKey::from_seed(*seed))
    };
    let keys = (0..validators)
        .map(|_| new_key())
        .collect::<Result<Vec<_>, _>>()?;
    // Every provider's key and blob address, known before any node starts.
    let provider_keys = match providers {
        Some(base) => (0..validators)
            .map(|i| {
                let key = new_key()?;
                let listen = SocketAddr::from(([127, 0, 0, 1], base + i as u16));
                let addr = cadenza_node::provider::blob_addr(&key, listen);
                Ok((key, listen, addr))
            })
            .collect::<Result<Vec<_>, NodeCmdError>>()?,
        None => Vec::new(),
    };
    std::fs::create_dir_all(dir).map_err(io("cannot create", dir))?;
    let mut genesis = local_genesis("cadenza-testnet", params);
    // Providers pay settlement fees from their own CDZ.
    for (key, _, _) in &provider_keys {
        genesis.assets[0]
            .balances
            .insert(key.account().to_did(), PROVIDER_GENESIS_CDZ.to_owned());
    }
    write_file(
        &dir.join("genesis.json"),
        serde_json::to_string_pretty(&genesis)
            .expect("serializable")
            .as_bytes(),
    )?;
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
        let provider = match provider_keys.get(i) {
            Some((provider_key, listen, _)) => {
                let store = Keystore::seal(
                    &format!("provider-{i}"),
                    provider_key,
                    passphrase,
                    KdfCost::default(),
                )?;
                write_file(
                    &node_dir.join("provider.key"),
                    serde_json::to_string_pretty(&store)
                        .expect("serializable")
                        .as_bytes(),
                )?;
                Some(ProviderFile {
                    key: Some(PathBuf::from("provider.key")),
                    dir: PathBuf::from("data/provider"),
                    blob_listen: *listen,
                    blob_peers: provider_keys
                        .iter()
                        .enumerate()
                        .filter(|(j, _)| *j != i)
                        .map(|(_, (_, _, addr))| addr.clone())
                        .collect(),
                    settle_interval_ms: default_settle_interval_ms(),
                })
            }
            None => None,
        };
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
            provider,
        };
        let path = node_dir.join("node.json");
        write_file(
            &path,
            serde_json::to_string_pretty(&file)
                .expect("serializable")
                .as_bytes(),
        )?;
        let mut entry = json!({
            "config": path.display().to_string(),
            "http": format!("http://{}", file.http),
            "public_key": peers[i].public_key,
        });
        if let Some((key, _, addr)) = provider_keys.get(i) {
            entry["provider"] = json!({ "account": key.account().to_did(), "blob_addr": addr });
        }
        configs.push(entry);
    }
    if json {
        println!(
            "{}",
            json!({ "dir": dir.display().to_string(), "validators": configs })
        );
    } else {
        let providers = if provider_keys.is_empty() {
            ""
        } else {
            ", each also a provider"
        };
        println!(
            "testnet of {validators} validators{providers} in {}; start each with:",
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

/// Reads and opens an encrypted key file.
fn open_key(
    path: &Path,
    passphrase: &[u8],
    bad: &dyn Fn(String) -> NodeCmdError,
) -> Result<SecretKey, NodeCmdError> {
    let text = std::fs::read_to_string(path).map_err(io("cannot read", path))?;
    let store: Keystore = serde_json::from_str(&text)
        .map_err(|e| bad(format!("the key file {}: {e}", path.display())))?;
    Ok(store.open(passphrase, path)?)
}

/// `cadenza node --config FILE`: runs one validator of a network, and its provider when the
/// file has a provider section.
pub fn node(config_path: &Path, passphrase: &[u8], json: bool) -> Result<(), NodeCmdError> {
    let text = std::fs::read_to_string(config_path).map_err(io("cannot read", config_path))?;
    let bad = |message: String| NodeCmdError::Config {
        path: config_path.to_owned(),
        message,
    };
    let file: NodeFile = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let base = config_path.parent().unwrap_or(Path::new("."));
    let genesis = read_genesis(&base.join(&file.genesis))?;
    let secret = open_key(&base.join(&file.key), passphrase, &bad)?;
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
    let (provider, announced) = match &file.provider {
        Some(p) => {
            let provider_key = match &p.key {
                Some(path) => open_key(&base.join(path), passphrase, &bad)?,
                None => secret,
            };
            for (i, peer) in p.blob_peers.iter().enumerate() {
                cadenza_node::provider::check_blob_addr(peer).map_err(|e| {
                    bad(format!(
                        "provider.blob_peers[{i}]: {e}; copy each peer's `blob_addr` from its GET /v1/provider or from `testnet init --providers`"
                    ))
                })?;
            }
            let own = cadenza_node::provider::blob_addr(&provider_key, p.blob_listen);
            if p.blob_peers.iter().any(|peer| peer.trim() == own) {
                return Err(bad(format!(
                    "provider.blob_peers lists this provider's own blob address ({own}); remove it"
                )));
            }
            if p.settle_interval_ms == 0 {
                return Err(bad(
                    "provider.settle_interval_ms must be above 0 (5000 is usual)".into(),
                ));
            }
            let announced = ProviderAnnounce {
                account: provider_key.account().to_did(),
                // A port chosen at start is not known here; GET /v1/provider shows it.
                blob_addr: (p.blob_listen.port() != 0).then_some(own),
            };
            let config = cadenza_node::provider::ProviderConfig {
                key: provider_key,
                dir: base.join(&p.dir),
                settle_interval: std::time::Duration::from_millis(p.settle_interval_ms),
                settle_receipts: 10_000,
                stream_window: cadenza_node::provider::STREAM_WINDOW,
                blob_listen: Some(p.blob_listen),
                blob_peers: p.blob_peers.iter().map(|s| s.trim().to_owned()).collect(),
            };
            (Some(config), Some(announced))
        }
        None => (None, None),
    };
    let config = NodeConfig {
        data_dir: data.clone(),
        key,
        peers,
        p2p_listen: file.p2p,
        http_listen: file.http,
        genesis,
        mempool_capacity: 100_000,
        worker_threads: 2,
        provider,
        demo_catalogue: None,
    };
    run::run(config, move |started| {
        announce(json, started, &data, "validator", announced.as_ref())
    })?;
    Ok(())
}
