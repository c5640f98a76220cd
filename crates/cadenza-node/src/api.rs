//! The node's HTTP API (axum), under `/v1`, plus `/metrics`.
//!
//! Every answer is JSON; every error is `{"error": {"code", "message"}}` with a stable code and a
//! message that says what to do. Sizes are bounded: request bodies ([`MAX_BODY_BYTES`]), the
//! request target with its query ([`MAX_URI_BYTES`]), headers (hyper's limits), list pages
//! ([`MAX_PAGE`]), long polls ([`MAX_WAIT_MS`]), concurrent requests ([`MAX_CONCURRENT`]) and
//! event-stream subscribers ([`MAX_SUBSCRIBERS`]). Values read from the state can come with a
//! Merkle proof (`?proof=true`) against the state root of the block they were read at.
//!
//! The routes and their shapes are documented in the OpenAPI document served at
//! `/v1/openapi.json` ([`openapi`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, Path, RawQuery, Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{
        IntoResponse, Response,
        sse::{Event as SseEvent, KeepAlive, Sse},
    },
    routing::{get, post},
};
use cadenza_ledger::records::{AssetInfo, AssetKind, Track, keys, prefix};
use cadenza_ledger::{StateView, query};
use cadenza_types::{
    AccountId, AssetId, ChannelId, Decode as _, Encode as _, Hash, SignedTransaction, TrackId,
};
use commonware_consensus::{
    marshal::{core::Mailbox as MarshalMailbox, standard::Standard},
    simplex::scheme::ed25519::Scheme,
    types::Height,
};
use commonware_cryptography::Digestible as _;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::app::{Committed, Shared};
use crate::block::Block;
use crate::json;
use crate::mempool::MempoolError;
use crate::store::{Base, encode_proof};
use crate::validator::Runtime;

/// The largest request body: a hex-encoded transaction of the largest size a block admits, in
/// its JSON envelope, with room to spare.
pub const MAX_BODY_BYTES: usize = 2 * crate::block::MAX_TX_BYTES + 4096;
/// The most transactions one batch submission carries.
pub const MAX_BATCH_TXS: usize = 1024;
/// The largest batch submission body.
pub const MAX_BATCH_BODY_BYTES: usize = 4 * 1024 * 1024;
/// The longest request target (path and query).
pub const MAX_URI_BYTES: usize = 2048;
/// The most items a list answer holds.
pub const MAX_PAGE: usize = 200;
/// The longest a request may wait for a transaction to commit.
pub const MAX_WAIT_MS: u64 = 30_000;
/// Requests served at once; more wait in the listener's backlog.
pub const MAX_CONCURRENT: usize = 512;
/// Event-stream subscribers at once.
pub const MAX_SUBSCRIBERS: usize = 256;

/// An API error: an HTTP status, a stable code and a message saying what to do.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, code, message)
    }

    fn internal(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code, "message": self.message } });
        (self.status, Json(body)).into_response()
    }
}

type ApiResult = Result<Response, ApiError>;

fn ok(value: Value) -> ApiResult {
    Ok(Json(value).into_response())
}

/// What the API serves from.
pub struct Api<E: Runtime> {
    shared: Arc<Shared<E>>,
    marshal: MarshalMailbox<Scheme, Standard<Block>>,
    info: NodeInfo,
    metrics: Box<dyn Fn() -> String + Send + Sync>,
    subscribers: Arc<Semaphore>,
    counters: Counters,
    provider: Option<Arc<crate::provider::Provider>>,
    media: Option<Arc<crate::media::Media>>,
}

/// Facts about the node for `/v1/status`.
#[derive(Clone, Debug)]
pub struct NodeInfo {
    /// The chain id.
    pub chain_id: String,
    /// This validator's public key (hex).
    pub validator: String,
    /// How many validators the chain has.
    pub validators: usize,
    /// The software version.
    pub version: &'static str,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    client_errors: AtomicU64,
    server_errors: AtomicU64,
    txs_submitted: AtomicU64,
    txs_committed: AtomicU64,
    /// Finality (block time to local commit) histogram: counts per bucket bound in ms.
    finality: FinalityCounts,
    finality_sum_ms: AtomicU64,
    finality_count: AtomicU64,
}

/// One count per [`FINALITY_BUCKETS`] bound.
struct FinalityCounts([AtomicU64; FINALITY_BUCKETS.len()]);

impl Default for FinalityCounts {
    fn default() -> Self {
        FinalityCounts(std::array::from_fn(|_| AtomicU64::new(0)))
    }
}

impl std::ops::Deref for FinalityCounts {
    type Target = [AtomicU64; FINALITY_BUCKETS.len()];

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// Finality histogram bounds (ms): 5, then every 10 ms up to 300 (where the goals sit: a p99
/// of 300 reads as "in (290, 300]", not "in (250, 300]"), then coarser to 5 s, then unbounded.
#[rustfmt::skip]
const FINALITY_BUCKETS: [u64; 42] = [
    5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150, 160, 170, 180, 190, 200,
    210, 220, 230, 240, 250, 260, 270, 280, 290, 300, 350, 400, 450, 500, 600, 750, 1_000, 1_500,
    2_000, 5_000, u64::MAX,
];

impl<E: Runtime> Api<E> {
    /// An API over a running validator; `metrics` renders the runtime's own metrics.
    pub fn new(
        shared: Arc<Shared<E>>,
        marshal: MarshalMailbox<Scheme, Standard<Block>>,
        info: NodeInfo,
        metrics: Box<dyn Fn() -> String + Send + Sync>,
        provider: Option<Arc<crate::provider::Provider>>,
        media: Option<Arc<crate::media::Media>>,
    ) -> Arc<Self> {
        Arc::new(Api {
            shared,
            marshal,
            info,
            metrics,
            subscribers: Arc::new(Semaphore::new(MAX_SUBSCRIBERS)),
            counters: Counters::default(),
            provider,
            media,
        })
    }

    fn observe(&self, block: &Committed) {
        let c = &self.counters;
        c.txs_committed
            .fetch_add(block.results.len() as u64, Ordering::Relaxed);
        let latency = block.committed_ms.saturating_sub(block.timestamp_ms);
        let bucket = FINALITY_BUCKETS
            .iter()
            .position(|b| latency <= *b)
            .expect("the last bucket is unbounded");
        c.finality[bucket].fetch_add(1, Ordering::Relaxed);
        c.finality_sum_ms.fetch_add(latency, Ordering::Relaxed);
        c.finality_count.fetch_add(1, Ordering::Relaxed);
    }
}

/// The API's router. It carries no concurrency limit (and its callers do not poll it for
/// readiness): serve it through [`service`], which bounds concurrent requests; a layer that
/// applies backpressure would need `poll_ready` to be called.
pub fn router<E: Runtime + Send + Sync + 'static>(api: Arc<Api<E>>) -> Router {
    // Committed blocks feed the metrics.
    {
        let api = api.clone();
        let mut receiver = api.shared.committed.subscribe();
        tokio::spawn(async move {
            loop {
                match receiver.recv().await {
                    Ok(block) => api.observe(&block),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
            }
        });
    }
    let v1 = Router::new()
        .route("/status", get(status::<E>))
        .route("/txs", post(submit::<E>))
        .route(
            "/txs/batch",
            post(submit_batch::<E>).layer(DefaultBodyLimit::max(MAX_BATCH_BODY_BYTES)),
        )
        .route("/txs/{hash}", get(tx_status::<E>))
        .route("/accounts/{account}", get(account::<E>))
        .route("/accounts/{account}/balances/{asset}", get(balance::<E>))
        .route("/accounts/{account}/holdings", get(holdings::<E>))
        .route("/assets", get(assets::<E>))
        .route("/assets/{asset}", get(asset::<E>))
        .route("/tracks", get(tracks::<E>))
        .route("/tracks/{track}", get(track::<E>))
        .route("/tracks/{track}/audio", get(audio::<E>))
        .route("/tracks/{track}/holders", get(track_holders::<E>))
        .route("/uploads", post(upload::<E>))
        .route("/uploads/{upload}/claim", post(upload_claim::<E>))
        .route("/uploads/{upload}/licence", post(upload_licence::<E>))
        .route("/blobs", get(blobs::<E>))
        .route("/blobs/{blob}", get(blob::<E>))
        .route("/blobs/{blob}/peers", get(blob_peers::<E>))
        .route("/channels/{channel}", get(channel::<E>))
        .route(
            "/channels/{channel}/vouchers",
            post(voucher::<E>).layer(DefaultBodyLimit::max(MAX_BATCH_BODY_BYTES)),
        )
        .route(
            "/vouchers",
            post(vouchers_batch::<E>).layer(DefaultBodyLimit::max(MAX_BATCH_BODY_BYTES)),
        )
        .route("/provider", get(provider_status::<E>))
        .route("/blocks/latest", get(latest_block::<E>))
        .route("/blocks/{height}", get(block::<E>))
        .route("/events", get(events::<E>))
        .route("/openapi.json", get(openapi_json));
    Router::new()
        .nest("/v1", v1)
        .route("/metrics", get(metrics::<E>))
        .merge(crate::web::router())
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(api.clone(), guard::<E>))
        .with_state(api)
}

/// The node's HTTP service: [`router`], except that `GET` and `HEAD /v1/tracks/{id}/audio` (a
/// player's range requests, the one route asked thousands of times a second) are matched here
/// and answered without the router's matching, prefix stripping, extractors (which copy the
/// header map) and middleware, under the same bounds and counters as every other route. At
/// most [`MAX_CONCURRENT`] requests are served at once, on either path; more wait.
pub struct HttpService<E: Runtime> {
    api: Arc<Api<E>>,
    router: Router,
    permits: Arc<Semaphore>,
}

impl<E: Runtime> Clone for HttpService<E> {
    fn clone(&self) -> Self {
        HttpService {
            api: self.api.clone(),
            router: self.router.clone(),
            permits: self.permits.clone(),
        }
    }
}

/// The API as an HTTP service, for [`serve_threads`].
pub fn service<E: Runtime + Send + Sync + 'static>(api: Arc<Api<E>>) -> HttpService<E> {
    HttpService {
        router: router(api.clone()),
        api,
        permits: Arc::new(Semaphore::new(MAX_CONCURRENT)),
    }
}

/// The track id of a `GET`/`HEAD /v1/tracks/{id}/audio` request the fast path can take: a plain
/// (not percent-encoded) id segment, and no body announced.
fn audio_target(request: &Request) -> Option<&str> {
    let method = request.method();
    if method != axum::http::Method::GET && method != axum::http::Method::HEAD {
        return None;
    }
    if request.headers().contains_key(header::CONTENT_LENGTH)
        || request.headers().contains_key(header::TRANSFER_ENCODING)
    {
        return None;
    }
    let track = request
        .uri()
        .path()
        .strip_prefix("/v1/tracks/")?
        .strip_suffix("/audio")?;
    (!track.is_empty() && !track.contains(['/', '%'])).then_some(track)
}

impl<E: Runtime + Send + Sync + 'static> tower::Service<Request> for HttpService<E> {
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<
        Box<dyn Future<Output = Result<Response, std::convert::Infallible>> + Send + 'static>,
    >;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let permits = self.permits.clone();
        if audio_target(&request).is_some() {
            let api = self.api.clone();
            return Box::pin(async move {
                let Ok(_permit) = permits.acquire().await else {
                    return Ok(StatusCode::SERVICE_UNAVAILABLE.into_response());
                };
                Ok(audio_fast(&api, request).await)
            });
        }
        let mut router = self.router.clone();
        Box::pin(async move {
            let Ok(_permit) = permits.acquire().await else {
                return Ok(StatusCode::SERVICE_UNAVAILABLE.into_response());
            };
            tower::Service::call(&mut router, request).await
        })
    }
}

/// The fast path of [`HttpService`]: what [`guard`] and [`audio`] do for an audio request.
async fn audio_fast<E: Runtime>(api: &Api<E>, request: Request) -> Response {
    api.counters.requests.fetch_add(1, Ordering::Relaxed);
    let response = match target_too_long(&request) {
        Some(refused) => refused.into_response(),
        None => {
            let track = audio_target(&request).expect("checked by the caller");
            let head = request.method() == axum::http::Method::HEAD;
            audio_response(api, track, request.uri().query(), head, request.headers())
                .await
                .unwrap_or_else(IntoResponse::into_response)
        }
    };
    api.counters.answered(&response);
    response
}

/// The refusal of a request target (path and query) longer than [`MAX_URI_BYTES`].
fn target_too_long(request: &Request) -> Option<ApiError> {
    let uri_len = request
        .uri()
        .path_and_query()
        .map_or(0, |pq| pq.as_str().len());
    (uri_len > MAX_URI_BYTES).then(|| {
        ApiError::new(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!("the request target is {uri_len} bytes; the limit is {MAX_URI_BYTES}"),
        )
    })
}

impl Counters {
    /// Counts an answer by its class.
    fn answered(&self, response: &Response) {
        if response.status().is_client_error() {
            self.client_errors.fetch_add(1, Ordering::Relaxed);
        } else if response.status().is_server_error() {
            self.server_errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// How long the HTTP threads wait, once told to stop, for open responses to finish.
pub const HTTP_DRAIN: std::time::Duration = std::time::Duration::from_secs(5);

/// What [`serve_threads`] serves: an HTTP service, such as [`service`]'s, cloned for each
/// connection.
pub trait HttpServe:
    tower::Service<
        Request,
        Response = Response,
        Error = std::convert::Infallible,
        Future: Send + 'static,
    > + Clone
    + Send
    + 'static
{
}

impl<S> HttpServe for S where
    S: tower::Service<
            Request,
            Response = Response,
            Error = std::convert::Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + 'static
{
}

/// Serves `service` on `listener` from `threads` threads of its own until `shutdown` resolves,
/// then lets open responses finish for at most [`HTTP_DRAIN`]. Each thread runs a
/// single-threaded runtime that accepts connections and serves them to the end, as nginx's
/// workers do: a request is read, answered and written on one thread, with no hand-off between
/// threads (and none of the consensus runtime's work in its way). Dealing connections to the
/// threads in turn from one acceptor was measured and is slower: on 2 cores shared with the
/// clients, 64 KiB ranges fell from 0.94-1.03 of nginx to 0.88-0.91. A thread serving more
/// connections than another leaves new ones to it first ([`crate::balance`]).
pub async fn serve_threads<S: HttpServe>(
    listener: std::net::TcpListener,
    service: S,
    threads: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut handles = Vec::new();
    let loads = crate::balance::Loads::new(threads);
    for i in 0..threads.max(1) {
        let listener = listener.try_clone()?;
        let loads = loads.clone();
        let service = service.clone();
        let mut graceful = stopped.clone();
        let mut hard = stopped.clone();
        let handle = std::thread::Builder::new()
            .name(format!("cadenza-http-{i}"))
            .spawn(move || -> std::io::Result<()> {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                runtime.block_on(async move {
                    let listener = crate::balance::Balanced::new(listener, loads, i)?;
                    let graceful = async move {
                        let _ = graceful.wait_for(|s| *s).await;
                    };
                    let hard = async move {
                        let _ = hard.wait_for(|s| *s).await;
                        tokio::time::sleep(HTTP_DRAIN).await;
                    };
                    tokio::select! {
                        served = serve_on(listener, service, graceful) => served,
                        () = hard => Ok(()),
                    }
                })
            })?;
        handles.push(handle);
    }
    drop(listener);
    shutdown.await;
    let _ = stop.send(true);
    let joined = tokio::task::spawn_blocking(move || {
        let mut result = Ok(());
        for handle in handles {
            match handle.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => result = Err(e),
                Err(_) => result = Err(std::io::Error::other("an HTTP thread panicked")),
            }
        }
        result
    })
    .await;
    joined.unwrap_or_else(|e| Err(std::io::Error::other(e)))
}

/// Serves `service` on `listener` (each connection `TCP_NODELAY`, [`crate::balance`]) until
/// `shutdown` resolves.
async fn serve_on<S: HttpServe>(
    listener: crate::balance::Balanced,
    service: S,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::ServiceExt as _;
    axum::serve(listener, service.into_make_service())
        .with_graceful_shutdown(shutdown)
        .await
}

/// Bounds the request target, counts answers by class.
async fn guard<E: Runtime>(
    State(api): State<Arc<Api<E>>>,
    request: Request,
    next: Next,
) -> Response {
    api.counters.requests.fetch_add(1, Ordering::Relaxed);
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let path = request.uri().path();
    let limit = if path == "/v1/txs/batch"
        || path == "/v1/vouchers"
        || (path.starts_with("/v1/channels/") && path.ends_with("/vouchers"))
    {
        MAX_BATCH_BODY_BYTES
    } else if path == "/v1/uploads" {
        crate::media::MAX_UPLOAD_BYTES as usize
    } else {
        MAX_BODY_BYTES
    };
    let response = if announced.is_some_and(|len| len > limit as u64) {
        // Refused from the announced length, before reading any of it.
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the request body is above the limit of {limit} bytes"),
        )
        .into_response()
    } else if let Some(refused) = target_too_long(&request) {
        refused.into_response()
    } else {
        let mut response = next.run(request).await;
        // A body over the limit is refused by axum with a plain-text 413: give it our shape.
        if response.status() == StatusCode::PAYLOAD_TOO_LARGE
            && !is_json(response.headers().get(header::CONTENT_TYPE))
        {
            response = ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the request body is above the limit of {limit} bytes"),
            )
            .into_response();
        }
        response
    };
    api.counters.answered(&response);
    response
}

fn is_json(value: Option<&HeaderValue>) -> bool {
    value
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/event-stream"))
}

async fn unknown_route(request: Request) -> ApiError {
    ApiError::not_found(
        "unknown_route",
        format!(
            "no route {} {}; the API is described at /v1/openapi.json",
            request.method(),
            request.uri().path()
        ),
    )
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{} is not allowed on {}; see /v1/openapi.json",
            request.method(),
            request.uri().path()
        ),
    )
}

// ---- Parameters -------------------------------------------------------------------------------

fn parse_hash(text: &str, what: &str) -> Result<Hash, ApiError> {
    Hash::from_hex(text).ok_or_else(|| {
        ApiError::bad_request(
            "bad_hex",
            format!("{what} `{}` is not 64 hex digits", truncate(text)),
        )
    })
}

fn parse_account(text: &str) -> Result<AccountId, ApiError> {
    AccountId::from_did(text).map_err(|e| {
        ApiError::bad_request(
            "bad_account",
            format!(
                "`{}` is not an account: {e} (expected did:key:z6Mk...)",
                truncate(text)
            ),
        )
    })
}

fn parse_id<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, ApiError> {
    text.parse().map_err(|_| {
        ApiError::bad_request(
            "bad_hex",
            format!("{what} `{}` is not 64 hex digits", truncate(text)),
        )
    })
}

fn truncate(text: &str) -> String {
    text.chars().take(80).collect()
}

/// Query parameters, parsed here so a malformed query gets our error shape.
fn query_params(query: Option<String>) -> Result<HashMap<String, String>, ApiError> {
    match query {
        None => Ok(HashMap::new()),
        Some(query) => serde_urlencoded::from_str(&query).map_err(|e| {
            ApiError::bad_request("bad_query", format!("the query string is malformed: {e}"))
        }),
    }
}

fn flag(params: &HashMap<String, String>, name: &str) -> Result<bool, ApiError> {
    match params.get(name).map(String::as_str) {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") | Some("") => Ok(true),
        Some(other) => Err(ApiError::bad_request(
            "bad_query",
            format!("`{name}` must be true or false, not `{}`", truncate(other)),
        )),
    }
}

fn number(params: &HashMap<String, String>, name: &str, max: u64) -> Result<Option<u64>, ApiError> {
    match params.get(name) {
        None => Ok(None),
        Some(text) => match text.parse::<u64>() {
            Ok(n) if n <= max => Ok(Some(n)),
            _ => Err(ApiError::bad_request(
                "bad_query",
                format!(
                    "`{name}` must be a whole number up to {max}, not `{}`",
                    truncate(text)
                ),
            )),
        },
    }
}

// ---- Proofs -----------------------------------------------------------------------------------

/// A committed value with a proof, read at one committed height.
async fn proven<E: Runtime>(
    store: &crate::store::StateStore<E>,
    key: &[u8],
) -> Result<Value, ApiError> {
    match store.prove(key).await {
        Ok(Some((value, proof))) => Ok(json!({
            "height": store.height(),
            "state_root": hex::encode(store.root()),
            "key": hex::encode(key),
            "value": hex::encode(value),
            "proof": hex::encode(encode_proof(&proof)),
        })),
        Ok(None) => Ok(Value::Null),
        Err(error) => Err(ApiError::internal(format!("cannot prove: {error}"))),
    }
}

// ---- Handlers ---------------------------------------------------------------------------------

async fn status<E: Runtime>(State(api): State<Arc<Api<E>>>) -> ApiResult {
    let store = api.shared.state.read();
    let view = store.view();
    let meta = query::meta(&view).ok_or_else(|| ApiError::internal("no genesis"))?;
    let params = query::params(&view).ok_or_else(|| ApiError::internal("no genesis"))?;
    ok(json!({
        "chain_id": api.info.chain_id,
        "height": store.height(),
        "state_root": hex::encode(store.root()),
        "block_time_ms": meta.time_ms,
        "validator": api.info.validator,
        "validators": api.info.validators,
        "mempool": api.shared.mempool.len(),
        "version": api.info.version,
        "params": {
            "min_fee": params.min_fee.get().to_string(),
            "protocol_fee_bps": params.protocol_fee_bps,
            "provider_fee_bps": params.provider_fee_bps,
            "challenge_window_ms": params.challenge_window_ms,
            "min_play_ms": params.min_play_ms,
            "epoch_ms": params.epoch_ms,
            "max_receipts_per_tx": params.max_receipts_per_tx,
            "native_asset": cadenza_ledger::native_asset().to_string(),
            "faucet": params.faucet.as_ref().map(|f| json!({
                "cooldown_ms": f.cooldown_ms,
                "drips": f.drips.iter().map(|(asset, amount)| json::amount(&view, asset, *amount)).collect::<Vec<_>>(),
            })),
        },
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitBody {
    /// The canonical encoding of a signed transaction, in hex.
    tx: String,
}

/// The committed record of `hash` as JSON, if any.
fn committed_tx(view: &dyn StateView, hash: &Hash) -> Option<Value> {
    query::tx(view, hash).map(|record| {
        let mut value = json!({ "hash": hash.to_hex(), "status": "committed" });
        merge(&mut value, json::tx_record(&record));
        value
    })
}

fn merge(into: &mut Value, from: Value) {
    if let (Value::Object(into), Value::Object(from)) = (into, from) {
        into.extend(from);
    }
}

async fn already_committed<E: Runtime>(api: &Api<E>, hash: &Hash) -> Option<Value> {
    committed_tx(&api.shared.state.read().view(), hash)
}

async fn submit<E: Runtime>(State(api): State<Arc<Api<E>>>, body: Bytes) -> ApiResult {
    let body: SubmitBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(
            "bad_json",
            format!("the body must be JSON {{\"tx\": \"<hex>\"}}: {e}"),
        )
    })?;
    let bytes = hex::decode(body.tx.trim())
        .map_err(|e| ApiError::bad_request("bad_hex", format!("`tx` is not hex: {e}")))?;
    let stx = SignedTransaction::from_bytes(&bytes).map_err(|e| {
        ApiError::bad_request(
            "bad_encoding",
            format!("`tx` is not a signed transaction in the canonical encoding: {e}"),
        )
    })?;
    let hash = stx.hash();
    api.counters.txs_submitted.fetch_add(1, Ordering::Relaxed);
    // Idempotent by hash: a committed transaction answers with its first result.
    if let Some(value) = already_committed(&api, &hash).await {
        return ok(value);
    }
    match api.shared.submit(stx).await {
        Ok(_) => Ok((
            StatusCode::ACCEPTED,
            Json(json!({ "hash": hash.to_hex(), "status": "pending" })),
        )
            .into_response()),
        Err(MempoolError::Pool(cadenza_mempool::MempoolError::AlreadyPending(_))) => Ok((
            StatusCode::ACCEPTED,
            Json(json!({ "hash": hash.to_hex(), "status": "pending" })),
        )
            .into_response()),
        Err(error) => {
            // It may have committed between the two looks.
            if let Some(value) = already_committed(&api, &hash).await {
                return ok(value);
            }
            let status = match error {
                MempoolError::Pool(cadenza_mempool::MempoolError::PoolFull { .. }) => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                MempoolError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            Err(ApiError::new(status, error.code(), error.to_string()))
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchBody {
    /// Canonical encodings of signed transactions, in hex.
    txs: Vec<String>,
}

/// Many transactions in one request (signatures verified as one batch): one result each, in
/// order. A malformed item fails alone; a malformed body fails the request.
async fn submit_batch<E: Runtime>(State(api): State<Arc<Api<E>>>, body: Bytes) -> ApiResult {
    let body: BatchBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(
            "bad_json",
            format!("the body must be JSON {{\"txs\": [\"<hex>\", ...]}}: {e}"),
        )
    })?;
    if body.txs.len() > MAX_BATCH_TXS {
        return Err(ApiError::bad_request(
            "batch_too_large",
            format!(
                "{} transactions in one batch; send at most {MAX_BATCH_TXS} per request",
                body.txs.len()
            ),
        ));
    }
    api.counters
        .txs_submitted
        .fetch_add(body.txs.len() as u64, Ordering::Relaxed);
    let mut results: Vec<Value> = vec![Value::Null; body.txs.len()];
    let mut decoded = Vec::with_capacity(body.txs.len());
    let mut slots = Vec::with_capacity(body.txs.len());
    {
        let store = api.shared.state.read();
        let view = store.view();
        for (i, text) in body.txs.iter().enumerate() {
            let stx = hex::decode(text.trim())
                .map_err(|e| ("bad_hex", format!("not hex: {e}")))
                .and_then(|bytes| {
                    SignedTransaction::from_bytes(&bytes).map_err(|e| {
                        (
                            "bad_encoding",
                            format!("not a signed transaction in the canonical encoding: {e}"),
                        )
                    })
                });
            match stx {
                Err((code, message)) => {
                    results[i] = json!({ "error": { "code": code, "message": message } });
                }
                Ok(stx) => match committed_tx(&view, &stx.hash()) {
                    Some(value) => results[i] = value,
                    None => {
                        slots.push(i);
                        decoded.push(stx);
                    }
                },
            }
        }
    }
    // Signature verification is CPU work: on the admission threads (or else the blocking
    // pool), never on a thread that serves connections or runs consensus.
    let judged = api.shared.judge(decoded);
    let shared = api.shared.clone();
    let outcomes = match &api.shared.admission {
        Some(pool) => pool
            .run(move || shared.admit(judged))
            .await
            .map_err(|e| e.to_string()),
        None => tokio::task::spawn_blocking(move || shared.admit(judged))
            .await
            .map_err(|e| e.to_string()),
    }
    .map_err(|e| ApiError::internal(format!("admission failed: {e}")))?;
    for (i, outcome) in slots.into_iter().zip(outcomes) {
        results[i] = match outcome {
            Ok(hash)
            | Err(MempoolError::Pool(cadenza_mempool::MempoolError::AlreadyPending(hash))) => {
                json!({ "hash": hash.to_hex(), "status": "pending" })
            }
            Err(error) => {
                json!({ "error": { "code": error.code(), "message": error.to_string() } })
            }
        };
    }
    ok(json!({ "results": results }))
}

async fn tx_status<E: Runtime>(
    State(api): State<Arc<Api<E>>>,
    Path(hash): Path<String>,
    RawQuery(params): RawQuery,
) -> ApiResult {
    let hash = parse_hash(&hash, "transaction hash")?;
    let params = query_params(params)?;
    let want_proof = flag(&params, "proof")?;
    let wait_ms = number(&params, "wait_ms", MAX_WAIT_MS)?.unwrap_or(0);
    let deadline = tokio::time::Instant::now() + Duration::from_millis(wait_ms);
    let mut committed = api.shared.committed.subscribe();
    loop {
        {
            let store = api.shared.store.lock().await;
            let found = committed_tx(&store.view(&Base::Committed), &hash);
            if let Some(mut value) = found {
                if want_proof {
                    let proof = proven(&store, &keys::tx(&hash)).await?;
                    merge(&mut value, json!({ "proof": proof }));
                }
                return ok(value);
            }
        }
        let pending = api.shared.mempool.contains(&hash);
        if tokio::time::Instant::now() >= deadline {
            return if pending {
                ok(json!({ "hash": hash.to_hex(), "status": "pending" }))
            } else {
                Err(ApiError::not_found(
                    "unknown_tx",
                    format!(
                        "transaction {} is neither pending nor committed; submit it to POST /v1/txs",
                        hash.to_hex()
                    ),
                ))
            };
        }
        // Wait for the next committed block (or the deadline), then look again.
        let _ = tokio::time::timeout_at(deadline, committed.recv()).await;
    }
}

/// Up to `limit` committed balance keys of `account` in asset order, after the asset `after` if
/// given, with the asset of each.
fn balance_keys(
    store: &crate::store::Snapshot,
    account: &AccountId,
    after: Option<&AssetId>,
    limit: usize,
) -> Vec<(Vec<u8>, AssetId)> {
    let mut balance_prefix = vec![prefix::BALANCE];
    balance_prefix.extend_from_slice(account.as_bytes());
    let after = after.map(|asset| keys::balance(account, asset));
    store
        .range(&balance_prefix, after.as_deref(), limit)
        .into_iter()
        .map(|(key, _)| {
            let asset = AssetId(Hash(
                key[33..65]
                    .try_into()
                    .expect("balance keys hold an asset id"),
            ));
            (key, asset)
        })
        .collect()
}

async fn account<E: Runtime>(
    State(api): State<Arc<Api<E>>>,
    Path(account): Path<String>,
    RawQuery(params): RawQuery,
) -> ApiResult {
    let id = parse_account(&account)?;
    let params = query_params(params)?;
    let want_proof = flag(&params, "proof")?;
    let store = api.shared.store.lock().await;
    let owned = balance_keys(&api.shared.state.read(), &id, None, MAX_PAGE);
    let (record, mut balances) = {
        let view = store.view(&Base::Committed);
        let balances: Vec<Value> = owned
            .iter()
            .map(|(_, asset)| {
                let amount = query::balance(&view, &id, asset);
                let mut value = json::amount(&view, asset, amount);
                if let Some(info) = query::asset(&view, asset) {
                    merge(
                        &mut value,
                        json!({ "symbol": info.symbol, "decimals": info.decimals }),
                    );
                }
                value
            })
            .collect();
        (query::account(&view, &id), balances)
    };
    if want_proof {
        for ((key, _), value) in owned.iter().zip(&mut balances) {
            merge(value, json!({ "proof": proven(&store, key).await? }));
        }
    }
    let mut value = json!({
        "account": id.to_did(),
        "height": store.height(),
        "state_root": hex::encode(store.root()),
        "nonce": record.nonce,
        "pending_nonce": api.shared.mempool.next_nonce(&id, record.nonce),
        "last_faucet_ms": record.last_faucet_ms,
        "balances": balances,
    });
    if want_proof {
        merge(
            &mut value,
            json!({ "proof": proven(&store, &keys::account(&id)).await? }),
        );
    }
    ok(value)
}

async fn balance<E: Runtime>(
    State(api): State<Arc<Api<E>>>,
    Path((account, asset)): Path<(String, String)>,
    RawQuery(params): RawQuery,
) -> ApiResult {
    let id = parse_account(&account)?;
    let asset: AssetId = parse_id(&asset, "asset id")?;
    let want_proof = flag(&query_params(params)?, "proof")?;
    let store = api.shared.store.lock().await;
    let mut value = {
        let view = store.view(&Base::Committed);
        let amount = query::balance(&view, &id, &asset);
        let mut value = json::amount(&view, &asset, amount);
        merge(
            &mut value,
            json!({ "account": id.to_did(), "height": store.height(), "state_root": hex::encode(store.root()) }),
        );
        value
    };
    if want_proof {
        merge(
            &mut value,
            json!({ "proof": proven(&store, &keys::balance(&id, &asset)).await? }),
        );
    }
    ok(value)
}

/// A page of records of one kind: `?limit=N&after=<id hex>`.
fn page_params(
    params: &HashMap<String, String>,
    key_of: impl Fn(&Hash) -> Vec<u8>,
) -> Result<(usize, Option<Vec<u8>>), ApiError> {
    let limit = number(params, "limit", MAX_PAGE as u64)?.unwrap_or(50) as usize;
    let after = match params.get("after") {
        Some(text) => Some(key_of(&parse_hash(text, "`after`")?)),
        None => None,
    };
    Ok((limit, after))
}

fn id_of_key(key: &[u8]) -> Hash {
    Hash(
        key[1..33]
            .try_into()
            .expect("keys of this kind hold a 32-byte id"),
    )
}

async fn assets<E: Runtime>(
    State(api): State<Arc<Api<E>>>,
    RawQuery(params): RawQuery,
) -> ApiResult {
    let params = query_params(params)?;
    let (limit, after) = page_params(&params, |h| keys::asset(&AssetId(*h)))?;
    let store = api.shared.state.read();
    let view = store.view();
    let rows = store.range(&[prefix::ASSET], after.as_deref(), limit);
    let items: Vec<Value> = rows
        .iter()
        .filter_map(|(key, _)| {
            let id = AssetId(id_of_key(key));
            query::asset(&view, &id).map(|info| json::asset(&id, &info))
        })
        .collect();
    let next = (rows.len() == limit).then(|| rows.last().map(|(k, _)| id_of_key(k).to_hex()));
    ok(json!({ "items": items, "next": next.flatten() }))
}

async fn asset<E: Runtime>(
    State(api): State<Arc<Api<E>>>,
    Path(asset): Path<String>,
    RawQuery(params): RawQuery,
) -> ApiResult {
    let id: AssetId = parse_id(&asset, "asset id")?;
    let want_proof = flag(&query_params(params)?, "proof")?;
    let store = api.shared.store.lock().await;
    let mut value = {
        let view = store.view(&Base::Committed);
        let info = query::asset(&view, &id).ok_or_else(|| {
            ApiError::not_found(
                "unknown_asset",
                format!("no asset {id}; list them at /v1/assets"),
            )
        })?;
        json::asset(&id, &info)
    };
    if want_proof {
        merge(
            &mut value,
            json!({ "proof": proven(&store, &keys::asset(&id)).await? }),
        );
    }
    ok(value)
}

async fn tracks<E: Runtime>(
    State(api): State<Arc<Api<E>>>,
    RawQuery(params): RawQuery,
) -> ApiResult {
    let params = query_params(params)?;
    let (limit, after) = page_params(&params, |h| keys::track(&TrackId(*h)))?;
    let search = params.get("q").map(|q| q.to_lowercase());
    let store = api.shared.state.read();
    let view = store.view();
    let rows = store.range(&[prefix::TRACK], after.as_deref(), limit);
    let items: Vec<Value> = rows
        .iter()
        .filter_map(|(key, _)| {
            let id = TrackId(id_of_key(key));
            let track = query::track(&view, &id)?;
            let matches = search.as_ref().is_none_or(|q| {
                track.metadata.title.to_lowercase().contains(q)
                    || track.metadata.artist.to_lowercase().contains(q)
            });
            matches.then(|| json::track(&view, &id, &track))
        })
        .collect();
    let next = (rows.len() == limit).then(|| rows.last().map(|(k, _)| id_of_key(k).to_hex()));
    ok(json!({ "items": items, "next": next.flatten() }))
}

async fn track<E: Runtime>(
    State(api): State<Arc<Api<E>>>,
    Path(track): Path<String>,
    RawQuery(params): RawQuery,
) -> ApiResult {
    let id: TrackId = parse_id(&track, "track id")?;
    let want_proof = flag(&query_params(params)?, "proof")?;
    let store = api.shared.store.lock().await;
    let mut value = {
        let view = store.view(&Base::Committed);
        let record = query::track(&view, &id).ok_or_else(|| {
            ApiError::not_found(
                "unknown_track",
                format!("no track {id}; list them at /v1/tracks"),
            )
        })?;
        json::track(&view, &id, &record)
    };
    if want_proof {
        merge(
            &mut value,
            json!({ "proof": proven(&store, &keys::track(&id)).await? }),
        );
    }
    ok(value)
}

/// One holder's position in one track: its shares, as a percentage, and what it may claim now,
/// one entry per revenue asset.
fn holding_json(state: &dyn StateView, id: &TrackId, track: &Track, holder: &AccountId) -> Value {
    let shares = query::balance(state, holder, &track.shares_asset).get();
    let claimable: Vec<Value> = track
        .revenue_assets
        .iter()
        .map(|asset| json::amount(state, asset, query::claimable(state, id, asset, holder)))
        .collect();
    json!({
        "shares": shares.to_string(),
        "percent": share_percent(shares),
        "claimable": claimable,
    })
}

/// `shares` of the 1,000,000 as a percentage with up to four decimals (`12.5`).
fn share_percent(shares: u128) -> String {
    let whole = shares / 10_000;
    let frac = shares % 10_000;
    if frac == 0 {
        whole.to_string()
    } else {
        format!("{whole}.{frac:04}")
            .trim_end_matches('0')
            .to_owned()
    }
}

/// A track's royalty share holders, in account order, each with its shares and what it may
/// claim now; paged with `limit` and `after` (a holder's did:key).
async fn track_holders<E: Runtime>(
    State(api): State<Arc<Api<E>>>,
    Path(track): Path<String>,
    RawQuery(params): RawQuery,
) -> ApiResult {
    let id: TrackId = parse_id(&track, "track id")?;
    let params = query_params(params)?;
    let limit = number(&params, "limit", MAX_PAGE as u64)?.unwrap_or(50) as usize;
    let after = params.get("after").map(|a| parse_account(a)).transpose()?;
    let store = api.shared.state.read();
    let view = store.view();
    let record = query::track(&view, &id).ok_or_else(|| {
        ApiError::not_found(
            "unknown_track",
            format!("no track {id}; list them at /v1/tracks"),
        )
    })?;
    let holders = store.holders(&record.shares_asset, after.as_ref(), limit);
    let items: Vec<Value> = holders
        .iter()
        .map(|holder| {
            let mut row = json!({ "account": holder.to_did() });
            merge(&mut row, holding_json(&view, &id, &record, holder));
            row
        })
        .collect();
    let next = (holders.len() == limit)
        .then(|| holders.last().map(AccountId::to_did))
        .flatten();
    ok(json!({
        "track": id.to_string(),
        "shares_asset": record.shares_asset.to_string(),
        "total_shares": cadenza_ledger::TOTAL_SHARES,
        "height": store.height(),
        "items": items,
        "next": next,
    }))
}

/// The tracks whose royalty shares an account holds, each with its shares and what the account
/// may claim now; paged over the account's balance keys (`limit`, `after` an asset id), so a
/// page may hold fewer tracks than `limit`: `next` says where the following page starts.
async fn holdings<E: Runtime>(
    State(api): State<Arc<Api<E>>>,
    Path(account): Path<String>,
    RawQuery(params): RawQuery,
) -> ApiResult {
    let id = parse_account(&account)?;
    let params = query_params(params)?;
    let limit = number(&params, "limit", MAX_PAGE as u64)?.unwrap_or(MAX_PAGE as u64) as usize;
    let after: Option<AssetId> = params
        .get("after")
        .map(|a| parse_id(a, "`after` (an asset id)"))
        .transpose()?;
    let store = api.shared.state.read();
    let view = store.view();
    let mut items = Vec::new();
    let scanned = balance_keys(&store, &id, after.as_ref(), limit);
    let next = (scanned.len() == limit)
        .then(|| scanned.last().map(|(_, asset)| asset.to_string()))
        .flatten();
    for (_, asset) in scanned {
        let Some(AssetInfo {
            kind: AssetKind::Shares { track },
            ..
        }) = query::asset(&view, &asset)
        else {
            continue;
        };
        let Some(record) = query::track(&view, &track) else {
            continue;
        };
        let mut row = json!({ "track": json::track(&view, &track, &record) });
        merge(&mut row, holding_json(&view, &track, &record, &id));
        items.push(row);
    }
    ok(json!({
        "account": id.to_did(),
        "height": store.height(),
        "items": items,
        "next": next,
    }))
}

async fn channel<E: Runtime>(
    State(api): State<Arc<Api<E>>>,
    Path(channel): Path<String>,
    RawQuery(params): RawQuery,
) -> ApiResult {
    let id: ChannelId = parse_id(&channel, "channel id")?;
    let want_proof = flag(&query_params(params)?, "proof")?;
    let store = api.shared.store.lock().await;
    let mut value = {
        let view = store.view(&Base::Committed);
        let record = query::channel(&view, &id)
            .ok_or_else(|| ApiError::not_found("unknown_channel", format!("no channel {id}")))?;
        json::channel(&view, &id, &record)
    };
    if want_proof {
        merge(
            &mut value,
            json!({ "proof": proven(&store, &keys::channel(&id)).await? }),
        );
    }
    ok(value)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VoucherBody {
    /// A channel update (the signed voucher and the receipts since the last one sent) in the
    /// canonical encoding, hex.
    update: String,
}

fn provider_of<E: Runtime>(api: &Api<E>) -> Result<&Arc<crate::provider::Provider>, ApiError> {
    api.provider.as_ref().ok_or_else(|| {
        ApiError::not_found(
            "not_a_provider",
            "this node does not serve as a provider; send vouchers to your channel's provider",
        )
    })
}

async fn voucher<E: Runtime>(
    State(api): State<Arc<Api<E>>>,
    Path(channel): Path<String>,
    body: Bytes,
) -> ApiResult {
    let id: ChannelId = parse_id(&channel, "channel id")?;
    let provider = provider_of(&api)?;
    let body: VoucherBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(
            "bad_json",
            format!("the body must be JSON {{\"update\": \"<hex>\"}}: {e}"),
        )
    })?;
    let bytes = hex::decode(body.update.trim())
        .map_err(|e| ApiError::bad_request("bad_hex", format!("`update` is not hex: {e}")))?;
    let update = cadenza_types::ChannelUpdate::from_bytes(&bytes).map_err(|e| {
        ApiError::bad_request(
            "bad_encoding",
            format!("`update` is not a channel update in the canonical encoding: {e}"),
        )
    })?;
    match provider.submit(id, update).await {
        Ok(ack) => {
            let store = api.shared.state.read();
            let view = store.view();
            let asset = query::channel(&view, &id).map(|c| c.asset);
            let amount = |a: cadenza_types::Amount| match &asset {
                Some(asset) => json::amount(&view, asset, a),
                None => json!({ "amount": a.get().to_string() }),
            };
            ok(json!({
                "channel": id.to_string(),
                "acknowledged": true,
                "seq": ack.seq,
                "cumulative": amount(ack.cumulative),
                "paid": amount(ack.paid),
                "unsettled": amount(ack.unsettled),
            }))
        }
        Err(error) => {
            let status = match &error {
                crate::provider::IntakeError::UnknownChannel(_) => StatusCode::NOT_FOUND,
                crate::provider::IntakeError::Log(_) => StatusCode::SERVICE_UNAVAILABLE,
                crate::provider::IntakeError::WrongChannel { .. }
                | crate::provider::IntakeError::TooManyReceipts { .. } => StatusCode::BAD_REQUEST,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            Err(ApiError::new(status, error.code(), error.to_string()))
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VouchersBody {
    /// Channel updates in the canonical encoding, hex; each names its channel in its voucher.
    updates: Vec<String>,
}

fn intake_error_json(error: &crate::provider::IntakeError) -> Value {
    json!({ "error": { "code": error.code(), "message": error.to_string() } })
}

/// `POST /v1/vouchers`: up to [`MAX_BATCH_TXS`] channel updates (of any channels) judged
/// together, one fsync for all; each gets its own answer, in order.
async fn vouchers_batch<E: Runtime>(State(api): State<Arc<Api<E>>>, body: Bytes) -> ApiResult {
    let provider = provider_of(&api)?;
    let body: VouchersBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(
            "bad_json",
            format!("the body must be JSON {{\"updates\": [\"<hex>\", ...]}}: {e}"),
        )
    })?;
    if body.updates.len() > MAX_BATCH_TXS {
        return Err(ApiError::bad_request(
            "batch_too_large",
            format!(
                "{} updates in one batch; send at most {MAX_BATCH_TXS}",
                body.updates.len()
            ),
        ));
    }
    let mut decoded = Vec::with_capacity(body.updates.len());
    for (i, text) in body.updates.iter().enumerate() {
        let update = hex::decode(text.trim())
            .ok()
            .and_then(|b| cadenza_types::ChannelUpdate::from_bytes(&b).ok())
            .ok_or_else(|| {
                ApiError::bad_request(
                    "bad_encoding",
                    format!("updates[{i}] is not a channel update in the canonical encoding, hex"),
                )
            })?;
        decoded.push((update.voucher.voucher.channel, update));
    }
    let results = provider.accept_many(&api.shared, decoded).await;
    let results: Vec<Value> = results
        .iter()
        .map(|r| match r {
            Ok(ack) => json!({
                "acknowledged": true,
                "seq": ack.seq,
                "cumulative": ack.cumulative.get().to_string(),
                "paid": ack.paid.get().to_string(),
            }),
            Err(e) => intake_error_json(e),
        })
        .collect();
    ok(json!({ "results": results }))
}

async fn provider_status<E: Runtime>(State(api): State<Arc<Api<E>>>) -> ApiResult {
    let provider = provider_of(&api)?;
    let (channels, receipts) = provider.pending();
    let media = api.media.as_ref();
    ok(json!({
        "account": provider.account().to_did(),
        "pending_channels": channels,
        "pending_receipts": receipts,
        "blobs": media.map(|m| m.blobs().list().len()),
        "blob_addr": media.and_then(|m| m.blob_addr()).map(|a| a.to_string()),
        "announced": media.map(|m| {
            let (peers, blobs) = m.announced_counts();
            json!({ "peers": peers, "blobs": blobs })
        }),
    }))
}

// ---- Content ----------------------------------------------------------------------------------

fn media_of<E: Runtime>(api: &Api<E>) -> Result<&Arc<crate::media::Media>, ApiError> {
    api.media.as_ref().ok_or_else(|| {
        ApiError::not_found(
            "not_a_provider",
            "this node does not serve content; upload to and stream from a provider",
        )
    })
}

impl From<crate::media::MediaError> for ApiError {
    fn from(e: crate::media::MediaError) -> Self {
        ApiError::new(e.status, e.code, e.message)
    }
}

async fn upload<E: Runtime>(State(api): State<Arc<Api<E>>>, request: Request) -> ApiResult {
    let media = media_of(&api)?;
    let value = media.upload(request.into_body()).await?;
    Ok((StatusCode::CREATED, Json(value)).into_response())
}

fn claim_request(body: &[u8]) -> Result<crate::media::ClaimRequest, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(
            "bad_json",
            format!(
                "the body must be JSON {{\"issuer\": \"did:key:…\", \"licence\": \"<hex>\", \"isrc\": …}}: {e}"
            ),
        )
    })
}

async fn upload_claim<E: Runtime>(
    State(api): State<Arc<Api<E>>>,
    Path(upload): Path<String>,
    body: Bytes,
) -> ApiResult {
    let media = media_of(&api)?;
    let upload = parse_hash(&upload, "upload id")?;
    ok(media.claim(&upload, &claim_request(&body)?)?)
}

async fn upload_licence<E: Runtime>(
    State(api): State<Arc<Api<E>>>,
    Path(upload): Path<String>,
    body: Bytes,
) -> ApiResult {
    let media = media_of(&api)?;
    let upload = parse_hash(&upload, "upload id")?;
    let value = media.licence(&upload, claim_request(&body)?).await?;
    Ok((StatusCode::CREATED, Json(value)).into_response())
}

async fn blobs<E: Runtime>(
    State(api): State<Arc<Api<E>>>,
    RawQuery(params): RawQuery,
) -> ApiResult {
    let media = media_of(&api)?;
    let params = query_params(params)?;
    let offset = number(&params, "offset", u64::MAX)?.unwrap_or(0) as usize;
    let limit = number(&params, "limit", MAX_PAGE as u64)?.unwrap_or(MAX_PAGE as u64) as usize;
    let all = media.blobs().list();
    let page: Vec<Value> = all
        .iter()
        .skip(offset)
        .take(limit)
        .map(|(id, len)| json!({ "blob": id.to_hex(), "bytes": len }))
        .collect();
    ok(json!({
        "addr": media.blob_addr().map(|a| a.to_string()),
        "total": all.len(),
        "blobs": page,
    }))
}

async fn blob<E: Runtime>(State(api): State<Arc<Api<E>>>, Path(blob): Path<String>) -> ApiResult {
    let media = media_of(&api)?;
    let id = parse_hash(&blob, "blob id")?;
    match media.blobs().len(&id) {
        Some(len) => ok(json!({
            "blob": id.to_hex(),
            "bytes": len,
            "addr": media.blob_addr().map(|a| a.to_string()),
        })),
        None => Err(ApiError::not_found(
            "blob_not_found",
            format!("this provider does not hold blob {id}"),
        )),
    }
}

/// Which peer providers announced that they hold a blob (whether or not this one holds it).
async fn blob_peers<E: Runtime>(
    State(api): State<Arc<Api<E>>>,
    Path(blob): Path<String>,
) -> ApiResult {
    let media = media_of(&api)?;
    let id = parse_hash(&blob, "blob id")?;
    let peers: Vec<String> = media
        .announced_holders(&id)
        .iter()
        .map(ToString::to_string)
        .collect();
    ok(json!({
        "blob": id.to_hex(),
        "held": media.blobs().contains(&id),
        "peers": peers,
    }))
}

async fn audio<E: Runtime>(
    State(api): State<Arc<Api<E>>>,
    Path(track): Path<String>,
    request: Request,
) -> ApiResult {
    let head = request.method() == axum::http::Method::HEAD;
    audio_response(&api, &track, request.uri().query(), head, request.headers()).await
}

/// The `channel` of an audio request's query (the last one, when given more than once).
fn channel_param(query: Option<&str>) -> Result<Option<ChannelId>, ApiError> {
    let mut channel = None;
    for (name, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if name == "channel" {
            channel = Some(value);
        }
    }
    channel
        .map(|text| parse_id(&text, "channel id"))
        .transpose()
}

/// `GET`/`HEAD /v1/tracks/{track}/audio`: the stream gate, then the bytes (or a JSON error).
async fn audio_response<E: Runtime>(
    api: &Api<E>,
    track: &str,
    query: Option<&str>,
    head: bool,
    headers: &axum::http::HeaderMap,
) -> ApiResult {
    let track: TrackId = parse_id(track, "track id")?;
    let channel = channel_param(query)?;
    let provider = provider_of(api)?;
    let media = media_of(api)?;
    let now = std::time::Instant::now();
    let (blob, grant) = {
        let store = api.shared.state.read();
        let view = store.view();
        let grant = provider.authorize(&view, channel, &track, now);
        let grant = match grant {
            Ok(grant) => grant,
            Err(error) => {
                let status = match &error {
                    crate::provider::GateError::NoChannel { .. }
                    | crate::provider::GateError::PaymentRequired { .. }
                    | crate::provider::GateError::Exhausted { .. } => StatusCode::PAYMENT_REQUIRED,
                    crate::provider::GateError::UnknownChannel(_)
                    | crate::provider::GateError::UnknownTrack(_) => StatusCode::NOT_FOUND,
                    crate::provider::GateError::Busy => StatusCode::SERVICE_UNAVAILABLE,
                    crate::provider::GateError::WrongAsset { .. } => StatusCode::CONFLICT,
                    _ => StatusCode::FORBIDDEN,
                };
                return Err(ApiError::new(status, error.code(), error.to_string()));
            }
        };
        (grant.blob, grant)
    };
    let len = match media.ensure(&blob).await {
        Ok(len) => len,
        Err(e) => {
            // Nothing was served: the stream this request began is not owed.
            if grant.new_stream
                && let Some(channel) = &channel
            {
                provider.withdraw(channel, &track, now);
            }
            return Err(e.into());
        }
    };
    Ok(media.respond(&blob, len, headers, head))
}

async fn block_json<E: Runtime>(api: &Api<E>, height: u64, raw: bool) -> ApiResult {
    let committed = api.shared.progress.committed().0;
    if height > committed {
        return Err(ApiError::not_found(
            "unknown_block",
            format!("no block at height {height} yet; the chain is at {committed}"),
        ));
    }
    let block = api
        .marshal
        .get_block(Height::new(height))
        .await
        .ok_or_else(|| {
            ApiError::not_found(
                "unknown_block",
                format!("block {height} is not stored on this node (pruned)"),
            )
        })?;
    let header = block.inner();
    let txs: Vec<Value> = header
        .txs
        .iter()
        .map(|tx| {
            let mut value = json!({
                "hash": tx.hash().to_hex(),
                "signer": tx.tx.signer.to_did(),
                "nonce": tx.tx.nonce,
                "fee": tx.tx.fee.get().to_string(),
                "action": tx.tx.action.name(),
            });
            if raw {
                merge(&mut value, json!({ "raw": hex::encode(tx.to_bytes()) }));
            }
            value
        })
        .collect();
    ok(json!({
        "height": header.height,
        "digest": hex::encode(block.digest()),
        "parent": hex::encode(header.parent),
        "timestamp_ms": header.timestamp_ms,
        "proposer": header.proposer.to_did(),
        "txs_root": hex::encode(header.txs_root),
        "state_root": hex::encode(header.state_root),
        "txs": txs,
    }))
}

async fn latest_block<E: Runtime>(
    State(api): State<Arc<Api<E>>>,
    RawQuery(params): RawQuery,
) -> ApiResult {
    let raw = flag(&query_params(params)?, "raw")?;
    let height = api.shared.progress.committed().0;
    block_json(&api, height, raw).await
}

async fn block<E: Runtime>(
    State(api): State<Arc<Api<E>>>,
    Path(height): Path<String>,
    RawQuery(params): RawQuery,
) -> ApiResult {
    let raw = flag(&query_params(params)?, "raw")?;
    let height: u64 = height.parse().map_err(|_| {
        ApiError::bad_request(
            "bad_height",
            format!(
                "`{}` is not a block height (a whole number)",
                truncate(&height)
            ),
        )
    })?;
    block_json(&api, height, raw).await
}

/// A committed block as one event-stream message.
async fn committed_json<E: Runtime>(api: &Api<E>, block: &Committed) -> String {
    let store = api.shared.state.read();
    let view = store.view();
    let txs: Vec<Value> = block
        .results
        .iter()
        .map(|outcome| {
            json!({
                "hash": outcome.hash.to_hex(),
                "ok": outcome.result.is_ok(),
                "error": outcome.result.as_ref().err().map(|e| json!({ "code": e.code(), "message": e.to_string() })),
                "fee_paid": outcome.fee_paid.get().to_string(),
                "events": outcome.events.iter().map(|e| json::event(&view, e)).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "height": block.height,
        "digest": hex::encode(block.digest),
        "timestamp_ms": block.timestamp_ms,
        "committed_ms": block.committed_ms,
        "state_root": hex::encode(block.state_root),
        "txs": txs,
    })
    .to_string()
}

async fn events<E: Runtime + Send + Sync + 'static>(State(api): State<Arc<Api<E>>>) -> ApiResult {
    let permit = api.subscribers.clone().try_acquire_owned().map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_subscribers",
            format!("{MAX_SUBSCRIBERS} clients already follow the event stream; try again later"),
        )
    })?;
    let receiver = api.shared.committed.subscribe();
    let stream = futures::stream::unfold(
        (api, receiver, permit),
        |(api, mut receiver, permit)| async move {
            let event = match receiver.recv().await {
                Ok(block) => SseEvent::default()
                    .event("block")
                    .id(block.height.to_string())
                    .data(committed_json(&api, &block).await),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                    SseEvent::default()
                        .event("lagged")
                        .data(json!({ "missed_blocks": missed }).to_string())
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            };
            Some((
                Ok::<_, std::convert::Infallible>(event),
                (api, receiver, permit),
            ))
        },
    );
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

async fn metrics<E: Runtime>(State(api): State<Arc<Api<E>>>) -> Response {
    use std::fmt::Write as _;
    let c = &api.counters;
    let (height, _) = api.shared.progress.committed();
    let mut out = (api.metrics)();
    let mut put = |name: &str, kind: &str, help: &str, value: u64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    };
    put(
        "cadenza_height",
        "gauge",
        "Height of the last committed block.",
        height,
    );
    put(
        "cadenza_mempool_txs",
        "gauge",
        "Transactions waiting in the mempool.",
        api.shared.mempool.len() as u64,
    );
    put(
        "cadenza_http_requests_total",
        "counter",
        "HTTP requests received.",
        c.requests.load(Ordering::Relaxed),
    );
    put(
        "cadenza_http_client_errors_total",
        "counter",
        "HTTP answers with a 4xx status.",
        c.client_errors.load(Ordering::Relaxed),
    );
    put(
        "cadenza_http_server_errors_total",
        "counter",
        "HTTP answers with a 5xx status.",
        c.server_errors.load(Ordering::Relaxed),
    );
    put(
        "cadenza_txs_submitted_total",
        "counter",
        "Transactions submitted through the API.",
        c.txs_submitted.load(Ordering::Relaxed),
    );
    put(
        "cadenza_txs_committed_total",
        "counter",
        "Transactions in blocks committed here.",
        c.txs_committed.load(Ordering::Relaxed),
    );
    let _ = writeln!(
        out,
        "# HELP cadenza_finality_ms Time from a block's proposal to its commit here.\n# TYPE cadenza_finality_ms histogram"
    );
    let mut cumulative = 0;
    for (bound, count) in FINALITY_BUCKETS.iter().zip(c.finality.iter()) {
        cumulative += count.load(Ordering::Relaxed);
        let le = if *bound == u64::MAX {
            "+Inf".to_owned()
        } else {
            bound.to_string()
        };
        let _ = writeln!(
            out,
            "cadenza_finality_ms_bucket{{le=\"{le}\"}} {cumulative}"
        );
    }
    let _ = writeln!(
        out,
        "cadenza_finality_ms_sum {}\ncadenza_finality_ms_count {}",
        c.finality_sum_ms.load(Ordering::Relaxed),
        c.finality_count.load(Ordering::Relaxed)
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

async fn openapi_json() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        openapi().to_string(),
    )
        .into_response()
}

/// The OpenAPI 3.1 document of this API.
pub fn openapi() -> Value {
    let error = json!({ "$ref": "#/components/schemas/Error" });
    let errors = json!({
        "400": { "description": "Malformed request", "content": { "application/json": { "schema": error } } },
        "404": { "description": "Not found", "content": { "application/json": { "schema": error } } },
    });
    let proof_param = json!({
        "name": "proof", "in": "query", "required": false,
        "description": "Include a Merkle proof of the value against the state root",
        "schema": { "type": "boolean" },
    });
    let raw_param = json!({
        "name": "raw", "in": "query", "required": false,
        "description": "Include each transaction's canonical encoding (hex)",
        "schema": { "type": "boolean" },
    });
    let path_param = |name: &str, description: &str| json!({ "name": name, "in": "path", "required": true, "description": description, "schema": { "type": "string" } });
    let page_params = json!([
        { "name": "limit", "in": "query", "schema": { "type": "integer", "maximum": MAX_PAGE } },
        { "name": "after", "in": "query", "description": "The last id of the previous page", "schema": { "type": "string" } },
    ]);
    let page = move || page_params.clone();
    let get_op = |summary: &str, params: Value| {
        let mut responses = errors.clone();
        responses["200"] = json!({ "description": "OK", "content": { "application/json": { "schema": { "type": "object" } } } });
        json!({ "get": { "summary": summary, "parameters": params, "responses": responses } })
    };
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Cadenza node API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Accounts are did:key strings; ids and hashes are hex; amounts are decimal strings of base units. Errors are {\"error\": {\"code\", \"message\"}}. Proofs are Commonware QMDB key-value proofs (codec encoding, hex) against `state_root` at `height`.",
        },
        "paths": {
            "/v1/status": get_op("Chain id, height, state root, parameters", json!([])),
            "/v1/txs": { "post": {
                "summary": "Submit a signed transaction (idempotent by hash: a committed transaction answers with its first result)",
                "requestBody": { "required": true, "content": { "application/json": { "schema": {
                    "type": "object", "required": ["tx"], "additionalProperties": false,
                    "properties": { "tx": { "type": "string", "description": "Canonical encoding, hex" } } } } } },
                "responses": {
                    "200": { "description": "Already committed: its record" },
                    "202": { "description": "Queued: {hash, status: pending}" },
                    "400": { "description": "Malformed", "content": { "application/json": { "schema": error } } },
                    "413": { "description": "Too large", "content": { "application/json": { "schema": error } } },
                    "422": { "description": "Refused by admission (nonce, fee, signature, chain)", "content": { "application/json": { "schema": error } } },
                    "503": { "description": "Mempool full", "content": { "application/json": { "schema": error } } },
                },
            } },
            "/v1/txs/batch": { "post": {
                "summary": "Submit up to 1024 signed transactions at once: one result per transaction, in order ({hash, status} or {error})",
                "requestBody": { "required": true, "content": { "application/json": { "schema": {
                    "type": "object", "required": ["txs"], "additionalProperties": false,
                    "properties": { "txs": { "type": "array", "maxItems": MAX_BATCH_TXS, "items": { "type": "string" } } } } } } },
                "responses": {
                    "200": { "description": "{results: [...]}" },
                    "400": { "description": "Malformed body or too many transactions", "content": { "application/json": { "schema": error } } },
                    "413": { "description": "Too large", "content": { "application/json": { "schema": error } } },
                },
            } },
            "/v1/txs/{hash}": get_op("A transaction's status: pending, or committed with height, index, fee and error", json!([
                path_param("hash", "Transaction hash (hex)"), proof_param,
                { "name": "wait_ms", "in": "query", "description": "Wait up to this long for the transaction to commit", "schema": { "type": "integer", "maximum": MAX_WAIT_MS } },
            ])),
            "/v1/accounts/{account}": get_op("An account's nonce and balances", json!([path_param("account", "did:key"), proof_param])),
            "/v1/accounts/{account}/balances/{asset}": get_op("One balance", json!([path_param("account", "did:key"), path_param("asset", "Asset id (hex)"), proof_param])),
            "/v1/accounts/{account}/holdings": get_op("The tracks whose royalty shares the account holds: shares, percent, what it may claim now; paged over the account's balances (`limit`, `after` an asset id; a page may hold fewer items than `limit`, follow `next`)", {
                let mut p = page();
                p.as_array_mut().expect("an array").push(path_param("account", "did:key"));
                p
            }),
            "/v1/assets": get_op("Assets, a page at a time", page()),
            "/v1/assets/{asset}": get_op("An asset", json!([path_param("asset", "Asset id (hex)"), proof_param])),
            "/v1/tracks": get_op("Tracks, a page at a time; `q` filters by title or artist", {
                let mut p = page();
                p.as_array_mut().expect("an array").push(json!({ "name": "q", "in": "query", "schema": { "type": "string" } }));
                p
            }),
            "/v1/tracks/{track}": get_op("A track with its licence and stream count", json!([path_param("track", "Track id (hex)"), proof_param])),
            "/v1/tracks/{track}/holders": get_op("A track's royalty share holders (shares, percent, claimable), a page at a time; `after` is a holder's did:key", {
                let mut p = page();
                p.as_array_mut().expect("an array").push(path_param("track", "Track id (hex)"));
                p
            }),
            "/v1/channels/{channel}": get_op("A payment channel", json!([path_param("channel", "Channel id (hex)"), proof_param])),
            "/v1/channels/{channel}/vouchers": { "post": {
                "summary": "Send a channel update (voucher and receipts) to this node's provider: judged by the ledger's rule, logged durably, then acknowledged; settled in batches",
                "requestBody": { "required": true, "content": { "application/json": { "schema": {
                    "type": "object", "required": ["update"], "additionalProperties": false,
                    "properties": { "update": { "type": "string", "description": "ChannelUpdate, canonical encoding, hex" } } } } } },
                "responses": {
                    "200": { "description": "Acknowledged (fsynced): seq, cumulative, paid, unsettled" },
                    "400": { "description": "Malformed", "content": { "application/json": { "schema": error } } },
                    "404": { "description": "Unknown channel, or this node is not a provider", "content": { "application/json": { "schema": error } } },
                    "422": { "description": "Refused by the voucher rule (the settlement error code)", "content": { "application/json": { "schema": error } } },
                },
            } },
            "/v1/provider": get_op("This node's provider account, what it has pending, its blob address, and how many peers and blobs peers' announcements cover", json!([])),
            "/v1/blobs": get_op("The blobs this provider holds, with their lengths, a page at a time", json!([
                { "name": "offset", "in": "query", "schema": { "type": "integer" } },
                { "name": "limit", "in": "query", "schema": { "type": "integer", "maximum": MAX_PAGE } },
            ])),
            "/v1/blobs/{blob}": get_op("A blob this provider holds (404 blob_not_found otherwise)", json!([path_param("blob", "Blob id (hex)")])),
            "/v1/blobs/{blob}/peers": get_op("The peer providers that announced they hold a blob, the latest announcer first, and whether this provider holds it", json!([path_param("blob", "Blob id (hex)")])),
            "/v1/blocks/latest": get_op("The last committed block", json!([raw_param])),
            "/v1/blocks/{height}": get_op("A committed block", json!([path_param("height", "Block height"), raw_param])),
            "/v1/events": { "get": {
                "summary": "Server-sent events: one `block` event per committed block with each transaction's outcome and ledger events; `lagged` when a slow client missed blocks",
                "responses": { "200": { "description": "text/event-stream" }, "503": { "description": "Too many subscribers" } },
            } },
            "/v1/openapi.json": get_op("This document", json!([])),
            "/metrics": { "get": { "summary": "Prometheus metrics", "responses": { "200": { "description": "text/plain; version=0.0.4" } } } },
        },
        "components": { "schemas": { "Error": {
            "type": "object", "required": ["error"],
            "properties": { "error": { "type": "object", "required": ["code", "message"], "properties": {
                "code": { "type": "string", "description": "Stable, for scripts" },
                "message": { "type": "string", "description": "What went wrong and what to do" },
            } } },
        } } },
    })
}

#[cfg(test)]
mod tests {
    use super::FINALITY_BUCKETS;

    #[test]
    fn finality_buckets_rise_in_tens_to_300_and_end_unbounded() {
        assert!(
            FINALITY_BUCKETS.windows(2).all(|w| w[0] < w[1]),
            "strictly rising"
        );
        assert_eq!(FINALITY_BUCKETS.last(), Some(&u64::MAX));
        for ms in [90, 100, 290, 300] {
            assert!(FINALITY_BUCKETS.contains(&ms), "{ms} is a bound");
        }
    }
}
