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

use cadenza_ledger::records::Channel;
use cadenza_ledger::settlement::{CheckEnv, Precomputed, StreamTerms, VoucherBase, check_update};
use cadenza_ledger::{SettleError, query};
use cadenza_types::tx::{RECEIPTS_PER_UPDATE_MAX, UPDATES_MAX};
use cadenza_types::{
    AccountId, Action, Amount, ChannelId, ChannelUpdate, Decode as _, Encode as _, Hash, SecretKey,
    Transaction,
};
use tracing::{info, warn};

use crate::app::Shared;
use crate::store::Base;
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
}

/// The intake and settlement of one provider.
pub struct Provider {
    key: SecretKey,
    account: AccountId,
    config: ProviderConfig,
    state: Mutex<State>,
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

fn io_error(e: std::io::Error) -> IntakeError {
    IntakeError::Log(e.to_string())
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
            let store = shared.store.lock().await;
            let view = store.view(&Base::Committed);
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
        Ok(Arc::new(Provider {
            account: key.account(),
            key,
            config,
            state: Mutex::new(State {
                channels,
                log,
                in_flight: None,
                isolate: false,
                last_settlement: Instant::now(),
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
        if update.voucher.voucher.channel != channel_id {
            return Err(IntakeError::WrongChannel {
                expected: channel_id,
                found: update.voucher.voucher.channel,
            });
        }
        if update.receipts.len() > MAX_UPDATE_RECEIPTS {
            return Err(IntakeError::TooManyReceipts {
                found: update.receipts.len(),
            });
        }
        let store = shared.store.lock().await;
        let view = store.view(&Base::Committed);
        let channel: Channel =
            query::channel(&view, &channel_id).ok_or(IntakeError::UnknownChannel(channel_id))?;
        if channel.provider != self.account {
            return Err(IntakeError::NotOurs {
                channel: channel_id,
                provider: channel.provider,
                me: self.account,
            });
        }
        let meta = query::meta(&view).expect("a started store has metadata");
        let params = query::params(&view).expect("a started store has parameters");
        let mut state = self.lock();
        let settled = VoucherBase::settled(&channel);
        let pending = state.channels.entry(channel_id).or_default();
        // Updates the chain has settled meanwhile are done.
        pending
            .updates
            .retain(|u| u.voucher.voucher.seq > channel.settled_seq);
        let base = pending.updates.last().map_or(settled, |u| VoucherBase {
            seq: u.voucher.voucher.seq,
            cumulative: u.voucher.voucher.cumulative,
            head: u.voucher.voucher.head,
        });
        let env = CheckEnv {
            chain_id: &meta.chain_id,
            now_ms: meta.time_ms,
            challenge_window_ms: params.challenge_window_ms,
        };
        let mut terms = |track: &cadenza_types::TrackId| {
            query::track(&view, track).map(|t| StreamTerms::of(&t.licence, params.min_play_ms))
        };
        let paid = check_update(
            &env,
            &channel_id,
            &channel,
            &base,
            &update,
            Precomputed::default(),
            &mut terms,
        )?;
        // Durable before acknowledged.
        state.log.write_all(&record(&update)).map_err(io_error)?;
        state.log.sync_data().map_err(io_error)?;
        let voucher = update.voucher.voucher.clone();
        let pending = state.channels.entry(channel_id).or_default();
        pending.updates.push(update);
        Ok(Ack {
            seq: voucher.seq,
            cumulative: voucher.cumulative,
            paid,
            unsettled: voucher
                .cumulative
                .checked_sub(settled.cumulative)
                .unwrap_or(Amount::ZERO),
        })
    }

    /// One settlement step: if a settlement is in flight, waits for its record and prunes what
    /// it settled; else, when a trigger fires, submits the next `SettleChannels`.
    pub async fn step<E: Runtime>(&self, shared: &Shared<E>) {
        let store = shared.store.lock().await;
        let view = store.view(&Base::Committed);
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
        match shared.mempool.submit(stx, next_nonce, min_fee) {
            Ok(_) => {
                info!(receipts = total, "settlement submitted");
                self.lock().in_flight = Some(hash);
            }
            Err(error) => warn!(%error, "cannot submit a settlement"),
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
