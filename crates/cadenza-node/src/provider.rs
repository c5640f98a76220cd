//! Provider intake: a listener's channel updates (receipts and the voucher over them) arrive
//! here, are judged by the ledger's own rule ([`cadenza_ledger::settlement::check_update`], the
//! function settlement runs on-chain), are appended to a durable log (fsynced) and only then
//! acknowledged; a background task settles them on the ledger in batches, on a size or time
//! trigger. After a restart the log is replayed, so every acknowledged update is settled, and
//! updates at or below a channel's settled `seq` on-chain are dropped, so none is settled twice.
//!
//! The log is a sequence of records `len (u32 LE) ‖ BLAKE3(update) ‖ update` (the update in the
//! canonical encoding). A torn record at the tail (a crash mid-write, never acknowledged) is cut
//! off at replay. Once nothing is pending the log is truncated.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cadenza_ledger::StateView;
use cadenza_ledger::records::Channel;
use cadenza_ledger::settlement::{CheckEnv, Precomputed, StreamTerms, VoucherBase, check_update};
use cadenza_ledger::{SettleError, query};
use cadenza_types::tx::{RECEIPTS_PER_UPDATE_MAX, UPDATES_MAX};
use cadenza_types::{
    AccountId, Action, Amount, AssetId, ChannelId, ChannelUpdate, Decode as _, Encode as _, Hash,
    SecretKey, TrackId, Transaction,
};
use tracing::{info, warn};

use crate::app::Shared;
use crate::validator::Runtime;

/// The largest update a listener may send in one request (receipts since its last update).
pub const MAX_UPDATE_RECEIPTS: usize = 10_000;

/// How a provider settles.
#[derive(Clone)]
pub struct ProviderConfig {
    /// The provider's key (its account receives the provider fee and signs settlements).
    pub key: SecretKey,
    /// Where the intake log lives.
    pub dir: PathBuf,
    /// Settle at least this often while anything is pending.
    pub settle_interval: Duration,
    /// Settle as soon as this many receipts are pending.
    pub settle_receipts: usize,
    /// How long one paid stream of a track covers requests for it (seeks, re-buffering): a
    /// request for the same track on the same channel within this time of the stream's first
    /// request is part of that stream.
    pub stream_window: Duration,
    /// Where to serve blobs to peer providers (iroh, QUIC on UDP), if anywhere.
    pub blob_listen: Option<std::net::SocketAddr>,
    /// Peer providers' blob addresses, asked in order for a blob this provider lacks.
    pub blob_peers: Vec<String>,
}

/// The secret of a provider's blob endpoint (iroh), derived from its key with a
/// domain-separated BLAKE3 key derivation: the endpoint id is then fixed by the provider's key,
/// so that a network's configuration can list every provider's blob address before any starts
/// (`cadenza testnet init --providers`), and the signing key's bytes are not reused as a TLS key.
pub fn blob_secret(key: &SecretKey) -> [u8; 32] {
    blake3::derive_key("cadenza provider blob endpoint v1", &key.seed())
}

/// The blob address (`<endpoint id>@<ip:port>`) of the provider with `key` serving blobs on
/// `listen`, as peers write it in their `blob_peers`.
pub fn blob_addr(key: &SecretKey, listen: std::net::SocketAddr) -> String {
    cadenza_blobs::PeerAddr::of_secret(&blob_secret(key), &[listen]).to_string()
}

/// Checks that `text` is a blob address (`<endpoint id>@<ip:port>[,<ip:port>…]`); the error
/// says why not.
pub fn check_blob_addr(text: &str) -> Result<(), String> {
    text.parse::<cadenza_blobs::PeerAddr>()
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// The default [`ProviderConfig::stream_window`].
pub const STREAM_WINDOW: Duration = Duration::from_secs(10 * 60);

/// The most channels with open streams the gate tracks at once.
pub const MAX_GATED_CHANNELS: usize = 100_000;

/// Why a stream is not served.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// No channel named.
    #[error(
        "streaming is paid: add ?channel=<id> naming your open channel with provider {provider} (open one with an OpenChannel transaction)"
    )]
    NoChannel {
        /// This provider.
        provider: AccountId,
    },
    /// No such channel.
    #[error("channel {0} is not on the ledger; open it first (or wait for it to commit)")]
    UnknownChannel(ChannelId),
    /// The channel pays another provider.
    #[error(
        "channel {channel} pays provider {provider}, not this one ({me}); stream from its provider or open a channel with this one"
    )]
    NotOurs {
        /// The channel.
        channel: ChannelId,
        /// Its provider.
        provider: AccountId,
        /// This provider.
        me: AccountId,
    },
    /// The channel is closed or expired.
    #[error("channel {0} is closed or expired; open a new channel to stream")]
    Closed(ChannelId),
    /// No such track.
    #[error("no track {0} on the ledger")]
    UnknownTrack(TrackId),
    /// The licence does not allow streaming now.
    #[error("track {0}'s licence does not allow streaming at this time")]
    NotLicensed(TrackId),
    /// The channel pays in another asset than the track's price.
    #[error(
        "track {track} is priced in asset {price_asset}, but this channel pays in {channel_asset}; open a channel in {price_asset}"
    )]
    WrongAsset {
        /// The track.
        track: TrackId,
        /// The price's asset.
        price_asset: AssetId,
        /// The channel's asset.
        channel_asset: AssetId,
    },
    /// A stream begun on this channel is not paid for yet.
    #[error(
        "channel {channel} has not paid for its stream of track {track} ({owed} base units owed); sign the stream's receipt and voucher and POST them to /v1/channels/{channel}/vouchers, then ask again"
    )]
    PaymentRequired {
        /// The channel.
        channel: ChannelId,
        /// The unpaid stream's track.
        track: TrackId,
        /// What is owed, in base units of the channel's asset.
        owed: Amount,
    },
    /// The deposit cannot pay for one more stream.
    #[error(
        "channel {channel} has {left} base units left, and a stream of this track costs {price}; top the channel up"
    )]
    Exhausted {
        /// The channel.
        channel: ChannelId,
        /// Deposit minus everything acknowledged.
        left: Amount,
        /// The stream's price.
        price: Amount,
    },
    /// The gate tracks too many channels.
    #[error("this provider is serving too many channels; try again shortly")]
    Busy,
}

impl GateError {
    /// A stable code.
    pub fn code(&self) -> &'static str {
        match self {
            GateError::NoChannel { .. } => "channel_required",
            GateError::UnknownChannel(_) => "unknown_channel",
            GateError::NotOurs { .. } => "not_our_channel",
            GateError::Closed(_) => "channel_closed",
            GateError::UnknownTrack(_) => "unknown_track",
            GateError::NotLicensed(_) => "not_licensed",
            GateError::WrongAsset { .. } => "wrong_asset",
            GateError::PaymentRequired { .. } => "payment_required",
            GateError::Exhausted { .. } => "channel_exhausted",
            GateError::Busy => "provider_busy",
        }
    }
}

/// A stream a channel has begun: its price, when it began, and whether a receipt paid it.
#[derive(Clone, Copy, Debug)]
struct OpenStream {
    price: Amount,
    begun: Instant,
    paid: bool,
}

/// What a grant to stream says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grant {
    /// Whether this request began a new stream (false: it continues one).
    pub new_stream: bool,
    /// The stream's price.
    pub price: Amount,
    /// The track's audio blob.
    pub blob: cadenza_types::Hash,
}

/// Why an update was refused.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// No such channel on the ledger (yet).
    #[error("channel {0} is not on the ledger; open it first (or wait for it to commit)")]
    UnknownChannel(ChannelId),
    /// The channel pays another provider.
    #[error("channel {channel} pays provider {provider}, not this one ({me})")]
    NotOurs {
        /// The channel.
        channel: ChannelId,
        /// Its provider.
        provider: AccountId,
        /// This provider.
        me: AccountId,
    },
    /// The voucher names another channel than the route.
    #[error("the voucher is for channel {found}, not {expected}")]
    WrongChannel {
        /// The route's channel.
        expected: ChannelId,
        /// The voucher's.
        found: ChannelId,
    },
    /// Too many receipts in one update.
    #[error("{found} receipts in one update; send at most {MAX_UPDATE_RECEIPTS} at a time")]
    TooManyReceipts {
        /// How many.
        found: usize,
    },
    /// The ledger's rule refused it.
    #[error(transparent)]
    Refused(#[from] SettleError),
    /// The log could not be written: nothing was acknowledged.
    #[error("the intake log failed: {0}; the update was not accepted, send it again")]
    Log(String),
}

impl IntakeError {
    /// A stable code.
    pub fn code(&self) -> &'static str {
        match self {
            IntakeError::UnknownChannel(_) => "unknown_channel",
            IntakeError::NotOurs { .. } => "not_our_channel",
            IntakeError::WrongChannel { .. } => "wrong_channel",
            IntakeError::TooManyReceipts { .. } => "too_many_receipts",
            IntakeError::Refused(e) => e.code(),
            IntakeError::Log(_) => "intake_log_failed",
        }
    }
}

/// What a channel has acknowledged and not yet seen settled.
#[derive(Default)]
struct Pending {
    /// Acknowledged updates in order, each extending the previous (the first extends the
    /// on-chain settled voucher at the time it was accepted).
    updates: Vec<ChannelUpdate>,
}

impl Pending {
    fn receipts(&self) -> usize {
        self.updates.iter().map(|u| u.receipts.len()).sum()
    }
}

struct State {
    channels: BTreeMap<ChannelId, Pending>,
    log: File,
    /// The settlement transaction in flight, if any.
    in_flight: Option<Hash>,
    /// Settle channels one per transaction (after a batch failed), until one succeeds.
    isolate: bool,
    last_settlement: Instant,
    /// Streams begun per channel, by track.
    streams: BTreeMap<ChannelId, BTreeMap<TrackId, OpenStream>>,
}

/// An update waiting in the intake queue, with where its answer goes.
type Job = (
    ChannelId,
    ChannelUpdate,
    tokio::sync::oneshot::Sender<Result<Ack, IntakeError>>,
);

/// Updates queued for intake at most; senders wait beyond it.
pub const INTAKE_QUEUE: usize = 4096;
/// The most updates judged (and fsynced) together.
pub const INTAKE_BATCH: usize = 1024;

/// The intake and settlement of one provider.
pub struct Provider {
    key: SecretKey,
    account: AccountId,
    config: ProviderConfig,
    state: Mutex<State>,
    queue: tokio::sync::mpsc::Sender<Job>,
    queued: Mutex<Option<tokio::sync::mpsc::Receiver<Job>>>,
    /// Listeners' keys already decompressed: each sends update after update.
    keys: cadenza_types::crypto::KeyCache,
}

/// An acknowledged update.
#[derive(Clone, Debug)]
pub struct Ack {
    /// The voucher's seq.
    pub seq: u64,
    /// The voucher's cumulative.
    pub cumulative: Amount,
    /// What this update added.
    pub paid: Amount,
    /// What is acknowledged and not yet settled on the channel.
    pub unsettled: Amount,
}

fn log_path(dir: &Path) -> PathBuf {
    dir.join("intake.log")
}

/// An update's log record: `len ‖ BLAKE3(update) ‖ update`.
fn record(update: &ChannelUpdate) -> Vec<u8> {
    let body = update.to_bytes();
    let mut record = Vec::with_capacity(36 + body.len());
    record.extend_from_slice(&(body.len() as u32).to_le_bytes());
    record.extend_from_slice(blake3::hash(&body).as_bytes());
    record.extend_from_slice(&body);
    record
}

/// Reads the log's whole records, cutting a torn tail.
fn replay(file: &mut File) -> std::io::Result<Vec<ChannelUpdate>> {
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0))?;
    file.read_to_end(&mut bytes)?;
    let mut updates = Vec::new();
    let mut at = 0;
    while bytes.len() - at >= 36 {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) as usize;
        let Some(end) = (at + 36).checked_add(len).filter(|e| *e <= bytes.len()) else {
            break;
        };
        let body = &bytes[at + 36..end];
        if blake3::hash(body).as_bytes() != &bytes[at + 4..at + 36] {
            break;
        }
        match ChannelUpdate::from_bytes(body) {
            Ok(update) => updates.push(update),
            Err(_) => break,
        }
        at = end;
    }
    if at < bytes.len() {
        warn!(
            torn_bytes = bytes.len() - at,
            "cutting a torn record off the intake log"
        );
        file.set_len(at as u64)?;
        file.sync_all()?;
    }
    file.seek(SeekFrom::End(0))?;
    Ok(updates)
}

impl Provider {
    /// Opens the provider's log and replays it against the committed state of `shared`.
    pub async fn open<E: Runtime>(
        config: ProviderConfig,
        shared: &Shared<E>,
    ) -> std::io::Result<Arc<Provider>> {
        std::fs::create_dir_all(&config.dir)?;
        let mut log = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(log_path(&config.dir))?;
        let updates = replay(&mut log)?;
        let mut channels: BTreeMap<ChannelId, Pending> = BTreeMap::new();
        {
            let store = shared.state.read();
            let view = store.view();
            for update in updates {
                let id = update.voucher.voucher.channel;
                let settled = query::channel(&view, &id).map_or(0, |c| c.settled_seq);
                if update.voucher.voucher.seq > settled {
                    channels.entry(id).or_default().updates.push(update);
                }
            }
        }
        let pending: usize = channels.values().map(Pending::receipts).sum();
        info!(
            channels = channels.len(),
            receipts = pending,
            "provider intake replayed"
        );
        let key = config.key.clone();
        let (queue, queued) = tokio::sync::mpsc::channel(INTAKE_QUEUE);
        Ok(Arc::new(Provider {
            account: key.account(),
            key,
            config,
            queue,
            queued: Mutex::new(Some(queued)),
            keys: cadenza_types::crypto::KeyCache::new(crate::mempool::REMEMBERED_KEYS),
            state: Mutex::new(State {
                channels,
                log,
                in_flight: None,
                isolate: false,
                last_settlement: Instant::now(),
                streams: BTreeMap::new(),
            }),
        }))
    }

    /// The provider's account.
    pub fn account(&self) -> AccountId {
        self.account
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("provider state is never poisoned")
    }

    /// Pending channels and receipts.
    pub fn pending(&self) -> (usize, usize) {
        let state = self.lock();
        (
            state.channels.len(),
            state.channels.values().map(Pending::receipts).sum(),
        )
    }

    /// Judges `update` for `channel_id` by the ledger's rule against the last acknowledged
    /// voucher (or the settled one), appends it to the log and fsyncs, then acknowledges.
    pub async fn accept<E: Runtime>(
        &self,
        shared: &Shared<E>,
        channel_id: ChannelId,
        update: ChannelUpdate,
    ) -> Result<Ack, IntakeError> {
        self.accept_many(shared, vec![(channel_id, update)])
            .await
            .pop()
            .expect("one result per update")
    }

    /// Queues `update` for the intake loop ([`intake_forever`]), which judges whatever has queued
    /// up together, with one fsync: under load, many listeners' vouchers share each sync.
    pub async fn submit(
        &self,
        channel_id: ChannelId,
        update: ChannelUpdate,
    ) -> Result<Ack, IntakeError> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let stopped = || IntakeError::Log("the provider is stopping".into());
        self.queue
            .send((channel_id, update, answer))
            .await
            .map_err(|_| stopped())?;
        answered.await.map_err(|_| stopped())?
    }

    /// [`Provider::accept`] for many updates at once, in order (several may extend the same
    /// channel): their signatures are verified in one batch, off the state lock, and the accepted
    /// ones are appended to the log with one write and one fsync before any is acknowledged.
    pub async fn accept_many<E: Runtime>(
        &self,
        shared: &Shared<E>,
        updates: Vec<(ChannelId, ChannelUpdate)>,
    ) -> Vec<Result<Ack, IntakeError>> {
        let mut results: Vec<Option<Result<Ack, IntakeError>>> = Vec::with_capacity(updates.len());
        for (channel_id, update) in &updates {
            results.push(if update.voucher.voucher.channel != *channel_id {
                Some(Err(IntakeError::WrongChannel {
                    expected: *channel_id,
                    found: update.voucher.voucher.channel,
                }))
            } else if update.receipts.len() > MAX_UPDATE_RECEIPTS {
                Some(Err(IntakeError::TooManyReceipts {
                    found: update.receipts.len(),
                }))
            } else {
                None
            });
        }
        // Read what the checks need from the committed state, then let the state go.
        let mut channels: BTreeMap<ChannelId, Channel> = BTreeMap::new();
        let mut terms: BTreeMap<TrackId, Option<StreamTerms>> = BTreeMap::new();
        let (meta, params) = {
            let store = shared.state.read();
            let view = store.view();
            let meta = query::meta(&view).expect("a started store has metadata");
            let params = query::params(&view).expect("a started store has parameters");
            for (i, (channel_id, update)) in updates.iter().enumerate() {
                if results[i].is_some() {
                    continue;
                }
                let channel = match channels.get(channel_id) {
                    Some(c) => c.clone(),
                    None => match query::channel(&view, channel_id) {
                        Some(c) => {
                            channels.insert(*channel_id, c.clone());
                            c
                        }
                        None => {
                            results[i] = Some(Err(IntakeError::UnknownChannel(*channel_id)));
                            continue;
                        }
                    },
                };
                if channel.provider != self.account {
                    results[i] = Some(Err(IntakeError::NotOurs {
                        channel: *channel_id,
                        provider: channel.provider,
                        me: self.account,
                    }));
                    continue;
                }
                for receipt in &update.receipts {
                    terms.entry(receipt.track).or_insert_with(|| {
                        query::track(&view, &receipt.track)
                            .map(|t| StreamTerms::of(&t.licence, params.min_play_ms))
                    });
                }
            }
            (meta, params)
        };
        // Every signature in one batch (the owner of a channel never changes).
        let hashes: Vec<Option<Hash>> = updates
            .iter()
            .enumerate()
            .map(|(i, (_, u))| {
                results[i]
                    .is_none()
                    .then(|| u.voucher.voucher.signing_hash())
            })
            .collect();
        let verdicts = {
            let items: Vec<cadenza_types::crypto::SigItem<'_>> = updates
                .iter()
                .zip(&hashes)
                .filter_map(|((id, u), h)| {
                    let h = h.as_ref()?;
                    Some(cadenza_types::crypto::SigItem {
                        signer: &channels[id].owner,
                        message: h.as_bytes(),
                        signature: &u.voucher.signature,
                    })
                })
                .collect();
            cadenza_types::crypto::verify_many_with(&items, &self.keys)
        };
        let mut verdicts = verdicts.into_iter();
        let env = CheckEnv {
            chain_id: &meta.chain_id,
            now_ms: meta.time_ms,
            challenge_window_ms: params.challenge_window_ms,
        };
        let mut terms_of = |track: &TrackId| terms.get(track).copied().flatten();
        let mut state = self.lock();
        // Bases as this batch moves them; the pending lists change only once the log is synced.
        let mut bases: BTreeMap<ChannelId, (VoucherBase, Amount)> = BTreeMap::new();
        let mut accepted: Vec<usize> = Vec::new();
        let mut log = Vec::new();
        let mut paid_amounts: Vec<Amount> = vec![Amount::ZERO; updates.len()];
        for (i, (channel_id, update)) in updates.iter().enumerate() {
            if hashes[i].is_none() {
                continue;
            }
            let signature_ok = verdicts.next().expect("one verdict per signature");
            let channel = &channels[channel_id];
            let (base, settled_cumulative) = *bases.entry(*channel_id).or_insert_with(|| {
                let settled = VoucherBase::settled(channel);
                let pending = state.channels.get(channel_id);
                let base = pending
                    .and_then(|p| {
                        p.updates
                            .iter()
                            .rev()
                            .find(|u| u.voucher.voucher.seq > channel.settled_seq)
                    })
                    .map_or(settled, |u| VoucherBase {
                        seq: u.voucher.voucher.seq,
                        cumulative: u.voucher.voucher.cumulative,
                        head: u.voucher.voucher.head,
                    });
                (base, settled.cumulative)
            });
            match check_update(
                &env,
                channel_id,
                channel,
                &base,
                update,
                Precomputed {
                    signature_ok: Some(signature_ok),
                    head: None,
                },
                &mut terms_of,
            ) {
                Ok(paid) => {
                    let v = &update.voucher.voucher;
                    bases.insert(
                        *channel_id,
                        (
                            VoucherBase {
                                seq: v.seq,
                                cumulative: v.cumulative,
                                head: v.head,
                            },
                            settled_cumulative,
                        ),
                    );
                    log.extend_from_slice(&record(update));
                    paid_amounts[i] = paid;
                    accepted.push(i);
                }
                Err(e) => results[i] = Some(Err(IntakeError::Refused(e))),
            }
        }
        if !accepted.is_empty() {
            // Durable before acknowledged.
            let written = state
                .log
                .write_all(&log)
                .and_then(|_| state.log.sync_data());
            if let Err(e) = written {
                let message = e.to_string();
                for &i in &accepted {
                    results[i] = Some(Err(IntakeError::Log(message.clone())));
                }
                accepted.clear();
            }
        }
        for &i in &accepted {
            let (channel_id, update) = &updates[i];
            let channel = &channels[channel_id];
            if let Some(streams) = state.streams.get_mut(channel_id) {
                for receipt in &update.receipts {
                    if let Some(stream) = streams.get_mut(&receipt.track).filter(|s| !s.paid) {
                        stream.paid = true;
                    }
                }
            }
            let pending = state.channels.entry(*channel_id).or_default();
            pending
                .updates
                .retain(|u| u.voucher.voucher.seq > channel.settled_seq);
            pending.updates.push(update.clone());
            let voucher = &update.voucher.voucher;
            results[i] = Some(Ok(Ack {
                seq: voucher.seq,
                cumulative: voucher.cumulative,
                paid: paid_amounts[i],
                unsettled: voucher
                    .cumulative
                    .checked_sub(Amount::new(channel.settled))
                    .unwrap_or(Amount::ZERO),
            }));
        }
        results
            .into_iter()
            .map(|r| r.expect("every update judged"))
            .collect()
    }

    /// Decides whether `channel_id` may stream `track_id` now (`now` on the provider's clock),
    /// against the committed state `view`: the channel must be open, ours and in the track's
    /// price asset, the licence must allow streaming, and every stream it began before must be
    /// paid by an acknowledged receipt, so its unpaid credit never exceeds one stream's price.
    /// A request for a track the channel began within the stream window continues that stream.
    pub fn authorize(
        &self,
        view: &dyn StateView,
        channel_id: Option<ChannelId>,
        track_id: &TrackId,
        now: Instant,
    ) -> Result<Grant, GateError> {
        let channel_id = channel_id.ok_or(GateError::NoChannel {
            provider: self.account,
        })?;
        let channel: Channel =
            query::channel(view, &channel_id).ok_or(GateError::UnknownChannel(channel_id))?;
        if channel.provider != self.account {
            return Err(GateError::NotOurs {
                channel: channel_id,
                provider: channel.provider,
                me: self.account,
            });
        }
        let meta = query::meta(view).expect("a started store has metadata");
        let params = query::params(view).expect("a started store has parameters");
        if channel.closing_ms() <= meta.time_ms {
            return Err(GateError::Closed(channel_id));
        }
        let track = query::track(view, track_id).ok_or(GateError::UnknownTrack(*track_id))?;
        let terms = StreamTerms::of(&track.licence, params.min_play_ms);
        if !terms.valid_at(meta.time_ms) {
            return Err(GateError::NotLicensed(*track_id));
        }
        if terms.price.asset != channel.asset {
            return Err(GateError::WrongAsset {
                track: *track_id,
                price_asset: terms.price.asset,
                channel_asset: channel.asset,
            });
        }
        let price = terms.price.amount;
        let window = self.config.stream_window;
        let mut state = self.lock();
        // What the channel has committed to pay: the newest acknowledged voucher, else the
        // settled one.
        let acknowledged = state
            .channels
            .get(&channel_id)
            .and_then(|p| p.updates.last())
            .map_or(Amount::new(channel.settled), |u| {
                u.voucher.voucher.cumulative
            })
            .max(Amount::new(channel.settled));
        if !state.streams.contains_key(&channel_id) && state.streams.len() >= MAX_GATED_CHANNELS {
            // Make room: drop channels whose streams are all paid and over.
            state.streams.retain(|_, s| {
                s.values()
                    .any(|o| !o.paid || now.duration_since(o.begun) < window)
            });
            if state.streams.len() >= MAX_GATED_CHANNELS {
                return Err(GateError::Busy);
            }
        }
        let streams = state.streams.entry(channel_id).or_default();
        // Paid streams past their window are over.
        streams.retain(|_, s| !s.paid || now.duration_since(s.begun) < window);
        if let Some(stream) = streams.get(track_id)
            && now.duration_since(stream.begun) < window
        {
            return Ok(Grant {
                new_stream: false,
                price: stream.price,
                blob: track.blob_id,
            });
        }
        if let Some((track, stream)) = streams.iter().find(|(_, s)| !s.paid) {
            return Err(GateError::PaymentRequired {
                channel: channel_id,
                track: *track,
                owed: stream.price,
            });
        }
        let left = Amount::new(channel.deposit)
            .checked_sub(acknowledged)
            .unwrap_or(Amount::ZERO);
        if left < price {
            return Err(GateError::Exhausted {
                channel: channel_id,
                left,
                price,
            });
        }
        streams.insert(
            *track_id,
            OpenStream {
                price,
                begun: now,
                paid: false,
            },
        );
        Ok(Grant {
            new_stream: true,
            price,
            blob: track.blob_id,
        })
    }

    /// Takes back a grant that began a new stream (`authorize` at `now`) whose audio could not
    /// be served (the blob is neither held nor given by a peer): the listener owes nothing for
    /// it and may stream something else.
    pub fn withdraw(&self, channel_id: &ChannelId, track_id: &TrackId, now: Instant) {
        let mut state = self.lock();
        if let Some(streams) = state.streams.get_mut(channel_id) {
            if streams
                .get(track_id)
                .is_some_and(|s| !s.paid && s.begun == now)
            {
                streams.remove(track_id);
            }
            if streams.is_empty() {
                state.streams.remove(channel_id);
            }
        }
    }

    /// One settlement step: if a settlement is in flight, waits for its record and prunes what
    /// it settled; else, when a trigger fires, submits the next `SettleChannels`.
    pub async fn step<E: Runtime>(&self, shared: &Shared<E>) {
        let store = shared.state.read();
        let view = store.view();
        let mut state = self.lock();
        if let Some(hash) = state.in_flight {
            match query::tx(&view, &hash) {
                Some(record) => {
                    state.in_flight = None;
                    state.last_settlement = Instant::now();
                    match &record.error {
                        None => {
                            state.isolate = false;
                            info!(height = record.height, "settlement committed");
                        }
                        Some((code, message)) => {
                            warn!(%code, %message, "settlement refused; settling channels one by one");
                            if state.isolate {
                                // A single channel's settlement failed for good: its updates
                                // can never settle (a closed window, a vanished track).
                                if let Some((&id, _)) = state.channels.iter().next() {
                                    warn!(channel = %id, "dropping updates that cannot settle");
                                    state.channels.remove(&id);
                                }
                            }
                            state.isolate = true;
                        }
                    }
                }
                None if shared.mempool.contains(&hash) => return,
                None => {
                    // Lost (the mempool dropped it): build it again.
                    state.in_flight = None;
                }
            }
        }
        // Prune what the chain has settled.
        for (id, pending) in state.channels.iter_mut() {
            let settled = query::channel(&view, id).map_or(0, |c| c.settled_seq);
            pending.updates.retain(|u| u.voucher.voucher.seq > settled);
        }
        state.channels.retain(|_, p| !p.updates.is_empty());
        if state.channels.is_empty() {
            // Nothing pending: the log restarts empty.
            if state.log.metadata().map(|m| m.len()).unwrap_or(0) > 0
                && let Err(e) = state.log.set_len(0).and_then(|_| state.log.sync_all())
            {
                warn!(error = %e, "cannot truncate the intake log");
            }
            return;
        }
        let receipts: usize = state.channels.values().map(Pending::receipts).sum();
        if receipts < self.config.settle_receipts
            && state.last_settlement.elapsed() < self.config.settle_interval
        {
            return;
        }
        let Some(params) = query::params(&view) else {
            return;
        };
        let Some(meta) = query::meta(&view) else {
            return;
        };
        let max_receipts = (params.max_receipts_per_tx as usize).min(RECEIPTS_PER_UPDATE_MAX);
        let max_updates = if state.isolate { 1 } else { UPDATES_MAX };
        let mut updates = Vec::new();
        let mut total = 0;
        for pending in state.channels.values() {
            if updates.len() >= max_updates {
                break;
            }
            // The furthest acknowledged voucher whose receipts fit.
            let mut receipts = Vec::new();
            let mut voucher = None;
            for u in &pending.updates {
                if total + receipts.len() + u.receipts.len() > max_receipts {
                    break;
                }
                receipts.extend_from_slice(&u.receipts);
                voucher = Some(u.voucher.clone());
            }
            let Some(voucher) = voucher else { break };
            total += receipts.len();
            updates.push(ChannelUpdate { voucher, receipts });
        }
        if updates.is_empty() {
            return;
        }
        let action = Action::SettleChannels { updates };
        let tx = Transaction {
            chain_id: meta.chain_id.clone(),
            signer: self.account,
            nonce: query::account(&view, &self.account).nonce,
            fee: params.min_fee_for(&action),
            action,
        };
        let stx = tx.sign(&self.key);
        let hash = stx.hash();
        let next_nonce = query::account(&view, &self.account).nonce;
        let min_fee = params.min_fee_for(&stx.tx.action);
        drop(state);
        drop(view);
        drop(store);
        let admitted = shared
            .admit(vec![(stx, next_nonce, min_fee)])
            .pop()
            .expect("one result per transaction");
        match admitted {
            Ok(_) => {
                info!(receipts = total, "settlement submitted");
                self.lock().in_flight = Some(hash);
            }
            Err(error) => warn!(%error, "cannot submit a settlement"),
        }
    }
}

/// Runs the intake loop until the process stops: takes every queued update (up to
/// [`INTAKE_BATCH`]) and judges them together.
pub async fn intake_forever<E: Runtime>(provider: Arc<Provider>, shared: Arc<Shared<E>>) {
    let Some(mut queued) = provider.queued.lock().expect("never poisoned").take() else {
        return;
    };
    let mut jobs = Vec::with_capacity(INTAKE_BATCH);
    while queued.recv_many(&mut jobs, INTAKE_BATCH).await > 0 {
        let (updates, answers): (Vec<_>, Vec<_>) = jobs
            .drain(..)
            .map(|(id, update, answer)| ((id, update), answer))
            .unzip();
        let results = provider.accept_many(&shared, updates).await;
        for (result, answer) in results.into_iter().zip(answers) {
            let _ = answer.send(result);
        }
    }
}

/// Runs the settlement loop until the process stops.
pub async fn settle_forever<E: Runtime>(provider: Arc<Provider>, shared: Arc<Shared<E>>) {
    loop {
        provider.step(&shared).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cadenza_types::{ChainId, Voucher};

    fn update(seq: u64) -> ChannelUpdate {
        let key = SecretKey::from_seed([5; 32]);
        let channel = ChannelId::derive(&key.account(), 0);
        ChannelUpdate {
            voucher: Voucher {
                chain_id: ChainId::new("cadenza-test").unwrap(),
                channel,
                seq,
                cumulative: Amount::new(u128::from(seq) * 10),
                head: Hash([seq as u8; 32]),
            }
            .sign(&key),
            receipts: Vec::new(),
        }
    }

    #[test]
    fn replay_keeps_whole_records_and_cuts_a_torn_or_corrupt_tail() {
        let dir = std::env::temp_dir().join(format!("cadenza-intake-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("intake.log");
        let whole: Vec<u8> = [record(&update(1)), record(&update(2))].concat();
        let third = record(&update(3));
        for tail in [
            Vec::new(),
            third[..10].to_vec(),
            third[..third.len() - 1].to_vec(),
            {
                let mut corrupt = third.clone();
                *corrupt.last_mut().unwrap() ^= 1;
                corrupt
            },
        ] {
            std::fs::write(&path, [whole.clone(), tail].concat()).unwrap();
            let mut file = OpenOptions::new()
                .read(true)
                .append(true)
                .open(&path)
                .unwrap();
            let updates = replay(&mut file).unwrap();
            assert_eq!(updates, vec![update(1), update(2)]);
            assert_eq!(std::fs::read(&path).unwrap(), whole, "the tail is cut off");
        }
        std::fs::write(&path, [whole.clone(), third].concat()).unwrap();
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&path)
            .unwrap();
        assert_eq!(replay(&mut file).unwrap().len(), 3);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
