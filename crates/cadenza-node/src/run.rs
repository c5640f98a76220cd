//! Running a validator as a process: Commonware's tokio runtime with its storage in the node's
//! data directory, the authenticated network, the validator, and the HTTP API, until Ctrl-C or
//! SIGTERM. Stopping is clean at any point: everything acknowledged is already fsynced, and the
//! next start recovers to the last committed block.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use cadenza_ledger::Genesis;
use commonware_cryptography::{Signer as _, ed25519};
use commonware_runtime::{Metrics as _, Runner as _, Spawner as _, Supervisor as _, tokio};

use crate::api::{self, Api, NodeInfo};
use crate::net::{NetError, start_network};
use crate::store::StoreError;
use crate::validator::{ValidatorConfig, start_validator};

/// How a node process is set up.
#[derive(Clone)]
pub struct NodeConfig {
    /// Where the node keeps its state, blocks and consensus journal.
    pub data_dir: PathBuf,
    /// The validator's key.
    pub key: ed25519::PrivateKey,
    /// Every validator (this one included) and its p2p address.
    pub peers: Vec<(ed25519::PublicKey, SocketAddr)>,
    /// Where this validator listens for peers.
    pub p2p_listen: SocketAddr,
    /// Where the HTTP API listens.
    pub http_listen: SocketAddr,
    /// The chain's genesis.
    pub genesis: Genesis,
    /// Most transactions the mempool holds.
    pub mempool_capacity: usize,
    /// Runtime worker threads; the HTTP server runs as many threads of its own, and admission
    /// as many more ([`crate::admission`]).
    pub worker_threads: usize,
    /// Serve as a provider (voucher intake and settlement, uploads and streaming), if set.
    pub provider: Option<crate::provider::ProviderConfig>,
    /// Make the demo catalogue at start (a devnet), priced in this genesis asset's symbol.
    pub demo_catalogue: Option<String>,
}

/// What a started node tells its launcher.
#[derive(Clone, Debug)]
pub struct Started {
    /// The HTTP API's address (the port is known even if 0 was asked for).
    pub http: SocketAddr,
    /// The committed height the node resumed from.
    pub height: u64,
    /// The chain id.
    pub chain_id: String,
}

/// Why a node stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The provider's intake log could not be opened.
    #[error("cannot open the provider's intake log in {dir}: {source}")]
    Provider {
        /// Its folder.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The provider's content (blob store, replication) could not start.
    #[error("cannot start the provider's content store: {0}")]
    Media(String),
    /// The demo catalogue could not be made.
    #[error(transparent)]
    Catalogue(#[from] crate::catalogue::CatalogueError),
    /// The state store could not open or recover.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The network could not start.
    #[error(transparent)]
    Net(#[from] NetError),
    /// The HTTP address could not be bound.
    #[error(
        "cannot listen for HTTP on {addr}: {source}; choose another address (--http 127.0.0.1:PORT)"
    )]
    Http {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// The consensus namespace of a chain: signatures of one chain are worthless on another.
pub fn namespace(chain_id: &str) -> Vec<u8> {
    format!("cadenza/{chain_id}").into_bytes()
}

/// Runs a node until Ctrl-C or SIGTERM; `on_start` is called once it serves HTTP.
pub fn run(
    config: NodeConfig,
    on_start: impl FnOnce(&Started) + Send + 'static,
) -> Result<(), NodeError> {
    run_until(config, on_start, std::future::pending())
}

/// Runs a node until `stop` resolves (or Ctrl-C/SIGTERM, whichever comes first); `on_start` is
/// called once it serves HTTP. For embedding a node (benchmarks, tools).
pub fn run_until(
    config: NodeConfig,
    on_start: impl FnOnce(&Started) + Send + 'static,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<(), NodeError> {
    let runtime = tokio::Config::new()
        .with_worker_threads(config.worker_threads.max(1))
        .with_storage_directory(config.data_dir.join("store"));
    tokio::Runner::new(runtime).start(|context| async move {
        let chain_id = config.genesis.chain_id.as_str().to_owned();
        let namespace = namespace(&chain_id);
        let (network, _network_task) = start_network(
            &context,
            &config.key,
            &namespace,
            config.p2p_listen,
            &config.peers,
        )?;
        let validator = start_validator(
            context.child("validator"),
            network,
            ValidatorConfig {
                key: config.key.clone(),
                participants: config.peers.iter().map(|(p, _)| p.clone()).collect(),
                genesis: config.genesis.clone(),
                namespace,
                mempool_capacity: config.mempool_capacity,
                admission_threads: config.worker_threads.max(1),
            },
        )
        .await?;

        let listener =
            std::net::TcpListener::bind(config.http_listen).map_err(|source| NodeError::Http {
                addr: config.http_listen,
                source,
            })?;
        let http = listener.local_addr().map_err(|source| NodeError::Http {
            addr: config.http_listen,
            source,
        })?;
        let provider = match &config.provider {
            Some(provider_config) => {
                let provider =
                    crate::provider::Provider::open(provider_config.clone(), &validator.shared)
                        .await
                        .map_err(|source| NodeError::Provider {
                            dir: provider_config.dir.clone(),
                            source,
                        })?;
                ::tokio::spawn(crate::provider::settle_forever(
                    provider.clone(),
                    validator.shared.clone(),
                ));
                ::tokio::spawn(crate::provider::intake_forever(
                    provider.clone(),
                    validator.shared.clone(),
                ));
                Some(provider)
            }
            None => None,
        };
        let media = match &config.provider {
            Some(provider_config) => Some(std::sync::Arc::new(
                crate::media::Media::start(
                    &provider_config.dir,
                    config.genesis.chain_id.clone(),
                    &crate::provider::blob_secret(&provider_config.key),
                    provider_config.blob_listen,
                    provider_config.blob_peers.clone(),
                )
                .await
                .map_err(NodeError::Media)?,
            )),
            None => None,
        };
        if let (Some(symbol), Some(media)) = (&config.demo_catalogue, &media) {
            let asset = cadenza_types::AssetId::genesis(symbol);
            let tracks = crate::catalogue::seed(&validator.shared, media, asset).await?;
            tracing::info!(tracks = tracks.len(), "demo catalogue ready");
        }
        let metrics_context = context.child("metrics");
        let api = Api::new(
            validator.shared.clone(),
            validator.marshal.clone(),
            NodeInfo {
                chain_id: chain_id.clone(),
                validator: hex::encode(config.key.public_key()),
                validators: config.peers.len(),
                version: env!("CARGO_PKG_VERSION"),
            },
            Box::new(move || metrics_context.encode()),
            provider,
            media.clone(),
        );
        let (stop_http, http_stopped) = ::tokio::sync::oneshot::channel::<()>();
        let server = ::tokio::spawn(api::serve_threads(
            listener,
            api::service(api),
            config.worker_threads.max(1),
            async move {
                let _ = http_stopped.await;
            },
        ));
        // Listening for the signals starts before the node announces itself: a SIGTERM sent
        // right after the announcement stops it cleanly instead of killing it.
        let signalled = shutdown_signal();
        on_start(&Started {
            http,
            height: validator.progress().committed().0,
            chain_id,
        });

        ::tokio::select! {
            _ = stop => {},
            _ = signalled => {},
        }
        tracing::info!("stopping");
        let _ = stop_http.send(());
        let _ = ::tokio::time::timeout(api::HTTP_DRAIN + Duration::from_secs(1), server).await;
        if let Some(media) = media {
            media.shutdown().await;
        }
        let _ = context.stop(0, Some(Duration::from_secs(5))).await;
        Ok(())
    })
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM received from the moment this is called (on Unix the
/// handlers are installed here, not when the future is first polled). Must be called on a
/// tokio runtime.
fn shutdown_signal() -> impl Future<Output = ()> + Send {
    #[cfg(unix)]
    {
        use ::tokio::signal::unix::{Signal, SignalKind, signal};
        async fn received(signal: Option<Signal>) {
            match signal {
                Some(mut signal) => {
                    signal.recv().await;
                }
                // Not listening: the signal keeps its default action.
                None => std::future::pending::<()>().await,
            }
        }
        let interrupt = received(signal(SignalKind::interrupt()).ok());
        let terminate = received(signal(SignalKind::terminate()).ok());
        async move {
            ::tokio::select! {
                () = interrupt => {},
                () = terminate => {},
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = ::tokio::signal::ctrl_c().await;
    }
}

/// The validator key whose Ed25519 seed is `seed` (the 32 bytes a keystore holds).
pub fn validator_key(seed: &[u8; 32]) -> ed25519::PrivateKey {
    use commonware_codec::DecodeExt as _;
    ed25519::PrivateKey::decode(bytes::Bytes::copy_from_slice(seed))
        .expect("every 32-byte seed is an Ed25519 key")
}

/// A validator's public key as hex (how configuration files name validators).
pub fn public_key_hex(key: &ed25519::PublicKey) -> String {
    hex::encode(key)
}

/// Parses a validator's public key from hex.
pub fn parse_public_key(text: &str) -> Option<ed25519::PublicKey> {
    use commonware_codec::DecodeExt as _;
    let bytes = hex::decode(text).ok()?;
    ed25519::PublicKey::decode(bytes::Bytes::from(bytes)).ok()
}

/// A validator key's public key.
pub fn public_key(key: &ed25519::PrivateKey) -> ed25519::PublicKey {
    key.public_key()
}
