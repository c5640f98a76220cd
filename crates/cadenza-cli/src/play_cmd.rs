//! Listening: `cadenza play TRACK [--channel ID] [--out FILE|-]`.
//!
//! Finds the listener's open channel to the node's provider in the asset of the track's price
//! (or takes the one named), streams the audio with range requests, checks that the bytes are the
//! registered blob, then signs one receipt for the stream and a voucher over the channel's
//! receipt chain and sends them to the provider.
//!
//! The receipt chain's state (head, sequence number and cumulative amount of the last voucher
//! sent) is kept in the home folder, `channels/<id>.json`, written atomically; without it the
//! chain continues from what the ledger last settled.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use cadenza_types::{
    AccountId, Amount, ChannelId, ChannelUpdate, Encode as _, Hash, Receipt, ReceiptChain, TrackId,
    Voucher,
};
use serde_json::{Value, json};

use crate::CliError;
use crate::client::{ChannelDoc, ClientError, TrackDoc, parse_base_units};
use crate::track_cmd::{fetch_track, parse_track};
use crate::wallet_cmd::{Signing, Wallet, WalletError, bad_answer};

/// The size of one range request.
pub const RANGE_BYTES: u64 = 256 * 1024;
/// How many of the account's latest nonces are searched for a channel it opened.
const NONCES_SEARCHED: u64 = 256;

/// What `cadenza play` was asked to do.
pub struct PlayArgs<'a> {
    /// The track id.
    pub track: &'a str,
    /// The channel to pay from [default: found].
    pub channel: Option<&'a str>,
    /// Where the audio goes: a file, or `-` for standard output.
    pub out: Option<&'a Path>,
}

/// The receipt chain of a channel as of the last voucher this listener sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainState {
    /// The chain's head.
    pub head: Hash,
    /// The last voucher's sequence number (receipts so far).
    pub seq: u64,
    /// The last voucher's cumulative amount (base units).
    pub cumulative: u128,
}

impl ChainState {
    fn to_json(self, channel: &ChannelId) -> Value {
        json!({
            "channel": channel.to_string(),
            "head": self.head.to_hex(),
            "seq": self.seq,
            "cumulative": self.cumulative.to_string(),
        })
    }

    fn from_json(doc: &Value) -> Option<ChainState> {
        Some(ChainState {
            head: Hash::from_hex(doc["head"].as_str()?)?,
            seq: doc["seq"].as_u64()?,
            cumulative: doc["cumulative"].as_str()?.parse().ok()?,
        })
    }
}

/// Where a channel's chain state is kept.
fn state_dir(home: &Path) -> PathBuf {
    home.join("channels")
}

fn state_path(home: &Path, channel: &ChannelId) -> PathBuf {
    state_dir(home).join(format!("{channel}.json"))
}

/// The stored chain state of `channel`, if any (an unreadable file counts as none).
pub fn load_state(home: &Path, channel: &ChannelId) -> Option<ChainState> {
    let text = std::fs::read_to_string(state_path(home, channel)).ok()?;
    let doc: Value = serde_json::from_str(&text).ok()?;
    if doc["channel"].as_str() != Some(channel.to_string().as_str()) {
        return None;
    }
    ChainState::from_json(&doc)
}

/// Stores `state` for `channel`: written to a temporary file, synced, then renamed over the old.
pub fn save_state(home: &Path, channel: &ChannelId, state: ChainState) -> std::io::Result<()> {
    let dir = state_dir(home);
    std::fs::create_dir_all(&dir)?;
    let path = state_path(home, channel);
    let tmp = dir.join(format!(".{channel}.json.tmp"));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(state.to_json(channel).to_string().as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &path)?;
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The chain state to continue from: the stored one unless the ledger has settled further.
fn chain_state(home: &Path, id: &ChannelId, doc: &ChannelDoc) -> Result<ChainState, String> {
    let settled = parse_base_units(&doc.settled.amount)?.get();
    let on_chain = ChainState {
        head: match &doc.head {
            Some(h) => Hash::from_hex(h).ok_or_else(|| format!("`{h}` is not a chain head"))?,
            None if doc.settled_seq == 0 => ReceiptChain::start(id),
            None => return Err("the channel has no receipt chain head".into()),
        },
        seq: doc.settled_seq,
        cumulative: settled,
    };
    Ok(match load_state(home, id) {
        Some(stored) if stored.seq >= on_chain.seq => stored,
        _ => on_chain,
    })
}

fn failed(code: &str, message: String, exit: u8) -> CliError {
    CliError::Failed {
        code: code.into(),
        message,
        exit,
        details: None,
    }
}

fn bad(w: &Wallet, what: &str, why: String) -> CliError {
    WalletError::from(bad_answer(&w.client, what, why)).into()
}

/// A channel that can pay for this stream, with what it has left.
struct Usable {
    id: ChannelId,
    doc: ChannelDoc,
    state: ChainState,
    left: u128,
}

/// Whether `doc` is an open channel of `me` to `provider` in the price's asset; its chain state
/// and what is left in it.
fn usable(
    home: &Path,
    id: ChannelId,
    doc: ChannelDoc,
    me: &AccountId,
    provider: &AccountId,
    price: &crate::client::AmountField,
    now: u64,
) -> Result<Result<Usable, String>, String> {
    if doc.owner != me.to_did() {
        return Ok(Err(format!("it belongs to {}", doc.owner)));
    }
    if doc.provider != provider.to_did() {
        return Ok(Err(format!(
            "it pays provider {}, not this node's ({})",
            doc.provider,
            provider.to_did()
        )));
    }
    if doc.deposit.asset != price.asset {
        return Ok(Err("it holds another asset than the track's price".into()));
    }
    if now >= doc.closing_ms() {
        return Ok(Err("it is closed".into()));
    }
    let state = chain_state(home, &id, &doc)?;
    let deposit = parse_base_units(&doc.deposit.amount)?.get();
    let left = deposit.saturating_sub(state.cumulative);
    Ok(Ok(Usable {
        id,
        doc,
        state,
        left,
    }))
}

/// Streams the track's audio a range at a time into `sink`; returns its length and BLAKE3.
fn stream(
    w: &Wallet,
    track: &TrackId,
    channel: &ChannelId,
    sink: &mut dyn std::io::Write,
) -> Result<(u64, Hash), CliError> {
    let path = format!("/v1/tracks/{track}/audio?channel={channel}");
    let what = "the audio request";
    let mut hasher = blake3::Hasher::new();
    let mut start = 0u64;
    let mut total: Option<u64> = None;
    loop {
        let end = start + RANGE_BYTES - 1;
        let (status, range, body) = match w.client.get_range(&path, start, end, what) {
            Ok(x) => x,
            Err(ClientError::Api {
                status: 402,
                code,
                message,
                ..
            }) => {
                return Err(failed(
                    &code,
                    format!(
                        "the provider refuses to stream on channel {channel}: {message}. Pay what \
                         it is owed for the earlier stream (a voucher), or top it up with \
                         `cadenza channel topup {channel} AMOUNT`, or open another with `cadenza \
                         channel open --deposit AMOUNT`"
                    ),
                    8,
                ));
            }
            Err(e) => return Err(WalletError::from(e).into()),
        };
        let write = |sink: &mut dyn std::io::Write, bytes: &[u8]| {
            sink.write_all(bytes).map_err(|e| {
                failed(
                    "io",
                    format!("cannot write the audio: {e}; nothing was paid"),
                    1,
                )
            })
        };
        if status == 200 {
            hasher.update(&body);
            write(sink, &body)?;
            return Ok((body.len() as u64, Hash(*hasher.finalize().as_bytes())));
        }
        // `bytes a-b/total`
        let range = range.ok_or_else(|| bad(w, what, "a 206 without Content-Range".into()))?;
        let parsed = range
            .strip_prefix("bytes ")
            .and_then(|r| r.split_once('/'))
            .and_then(|(span, len)| {
                let (a, b) = span.split_once('-')?;
                Some((
                    a.parse::<u64>().ok()?,
                    b.parse::<u64>().ok()?,
                    len.parse::<u64>().ok()?,
                ))
            });
        let Some((a, b, len)) = parsed else {
            return Err(bad(w, what, format!("a Content-Range of `{range}`")));
        };
        if a != start || b < a || b - a + 1 != body.len() as u64 || total.is_some_and(|t| t != len)
        {
            return Err(bad(
                w,
                what,
                format!(
                    "asked for bytes {start}-{end}, got `{range}` and {} bytes",
                    body.len()
                ),
            ));
        }
        total = Some(len);
        hasher.update(&body);
        write(sink, &body)?;
        start = b + 1;
        if start >= len {
            return Ok((len, Hash(*hasher.finalize().as_bytes())));
        }
    }
}

/// `cadenza play TRACK [--channel ID] [--out FILE|-]`.
pub fn play(w: &Wallet, args: &PlayArgs<'_>) -> Result<(), CliError> {
    let track = parse_track(args.track)?;
    let wanted = args
        .channel
        .map(|c| {
            c.trim()
                .parse::<ChannelId>()
                .map_err(|_| WalletError::BadId {
                    what: "channel id",
                    text: c.to_owned(),
                })
        })
        .transpose()?;
    let to_stdout = match args.out {
        Some(p) => p == Path::new("-"),
        None => {
            use std::io::IsTerminal as _;
            if std::io::stdout().is_terminal() {
                return Err(WalletError::BadArgument {
                    what: "--out",
                    why: "say where the audio goes: --out FILE, or --out - to pipe it to a player"
                        .into(),
                }
                .into());
            }
            true
        }
    };
    let home = w
        .config_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let doc: TrackDoc = fetch_track(w, &track)?;
    let price = doc.licence.price.clone();
    let (price_asset, price_amount) = price.parse().map_err(|why| bad(w, "the track", why))?;
    let s: Signing = w.signing()?;
    let provider = w
        .client
        .provider()
        .map_err(WalletError::from)?
        .ok_or_else(|| {
            failed(
                "not_a_provider",
                format!(
                    "the node at {} serves no audio (it runs no provider); point --node at one \
                     that does",
                    w.client.url()
                ),
                6,
            )
        })?;
    let now = s.status.raw["block_time_ms"]
        .as_u64()
        .ok_or_else(|| bad(w, "the status request", "no block time".into()))?;
    let price_words = s.assets.show(&price_asset, price_amount);
    let symbol = price_words
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_owned();
    let open_hint = format!(
        "`cadenza channel open --deposit {}{symbol}`",
        s.assets
            .show(
                &price_asset,
                Amount::new(price_amount.get().saturating_mul(10))
            )
            .split(' ')
            .next()
            .unwrap_or("1")
    );
    let pick = |id: ChannelId, d: ChannelDoc| {
        usable(&home, id, d, &s.account, &provider, &price, now)
            .map_err(|why| bad(w, "the channel request", why))
    };
    let chosen = match wanted {
        Some(id) => {
            let d = w
                .client
                .channel(&id)
                .map_err(WalletError::from)?
                .ok_or_else(|| WalletError::Unknown {
                    what: "channel",
                    id: id.to_string(),
                    hint: "it was never opened, or it was withdrawn; `cadenza channel open` opens one",
                })?;
            match pick(id, d)? {
                Ok(u) => u,
                Err(why) => {
                    return Err(WalletError::ChannelState {
                        message: format!(
                            "channel {id} cannot pay for this stream: {why}; open one with {open_hint}"
                        ),
                    }
                    .into());
                }
            }
        }
        None => {
            let mut ids: Vec<ChannelId> = Vec::new();
            let nonce = w
                .client
                .account(&s.account)
                .map_err(WalletError::from)?
                .nonce;
            for n in (nonce.saturating_sub(NONCES_SEARCHED)..nonce).rev() {
                ids.push(ChannelId::derive(&s.account, n));
            }
            if let Ok(entries) = std::fs::read_dir(state_dir(&home)) {
                for e in entries.flatten() {
                    let name = e.file_name().to_string_lossy().into_owned();
                    if let Some(id) = name
                        .strip_suffix(".json")
                        .and_then(|x| x.parse::<ChannelId>().ok())
                        && !ids.contains(&id)
                    {
                        ids.push(id);
                    }
                }
            }
            let mut short: Option<Usable> = None;
            let mut found = None;
            for id in ids {
                let Some(d) = w.client.channel(&id).map_err(WalletError::from)? else {
                    continue;
                };
                if let Ok(u) = pick(id, d)? {
                    if u.left >= price_amount.get() {
                        found = Some(u);
                        break;
                    }
                    if short.is_none() {
                        short = Some(u);
                    }
                }
            }
            match (found, short) {
                (Some(u), _) => u,
                (None, Some(u)) => {
                    return Err(WalletError::ChannelState {
                        message: format!(
                            "channel {} has {} left, less than the track's price {price_words}; \
                             top it up with `cadenza channel topup {} AMOUNT` or open another \
                             with {open_hint}",
                            u.id,
                            s.assets.show(&price_asset, Amount::new(u.left)),
                            u.id
                        ),
                    }
                    .into());
                }
                (None, None) => {
                    return Err(WalletError::ChannelState {
                        message: format!(
                            "{} ({}) has no open channel to the provider {} in {symbol}; open \
                             one with {open_hint}",
                            s.account.to_did(),
                            s.name,
                            provider.to_did()
                        ),
                    }
                    .into());
                }
            }
        }
    };
    if chosen.left < price_amount.get() {
        return Err(WalletError::ChannelState {
            message: format!(
                "channel {} has {} left, less than the track's price {price_words}; top it up \
                 with `cadenza channel topup {} AMOUNT`",
                chosen.id,
                s.assets.show(&price_asset, Amount::new(chosen.left)),
                chosen.id
            ),
        }
        .into());
    }
    let channel = chosen.id;
    // Open the key before streaming, so a wrong passphrase costs no stream.
    let key = w.open_key(&s)?;

    // Stream.
    let out_name = match args.out {
        Some(p) if !to_stdout => p.display().to_string(),
        _ => "-".to_owned(),
    };
    let (bytes, hash) = if to_stdout {
        let stdout = std::io::stdout();
        let mut lock = stdout.lock();
        let r = stream(w, &track, &channel, &mut lock)?;
        let _ = lock.flush();
        r
    } else {
        let path = args.out.expect("a file when not stdout");
        let mut file = std::fs::File::create(path).map_err(|source| CliError::Read {
            path: path.to_owned(),
            source,
        })?;
        let r = stream(w, &track, &channel, &mut file)?;
        file.sync_all().map_err(|source| CliError::Read {
            path: path.to_owned(),
            source,
        })?;
        r
    };
    if !hash.to_hex().eq_ignore_ascii_case(&doc.blob_id) {
        return Err(failed(
            "wrong_audio",
            format!(
                "the provider served {bytes} bytes whose BLAKE3 is {}, not the track's blob {}; \
                 nothing was paid",
                hash.to_hex(),
                doc.blob_id
            ),
            8,
        ));
    }

    // Pay: one receipt, one voucher over the chain.
    let at_ms = w.client.status().map_err(WalletError::from)?.raw["block_time_ms"]
        .as_u64()
        .unwrap_or(now);
    let played_ms = u64::from(doc.licence.min_play_ms.max(s.params.min_play_ms));
    let receipt = Receipt {
        track,
        amount: price_amount,
        played_ms,
        at_ms,
    };
    let prev = chosen.state;
    let next = ChainState {
        head: ReceiptChain::extend(&prev.head, std::slice::from_ref(&receipt)),
        seq: prev.seq + 1,
        cumulative: prev
            .cumulative
            .checked_add(price_amount.get())
            .ok_or_else(|| bad(w, "the channel request", "the cumulative overflows".into()))?,
    };
    let voucher = Voucher {
        chain_id: s.chain_id.clone(),
        channel,
        seq: next.seq,
        cumulative: Amount::new(next.cumulative),
        head: next.head,
    }
    .sign(&key);
    let update = ChannelUpdate {
        voucher,
        receipts: vec![receipt],
    };
    let body = json!({ "update": hex::encode(update.to_bytes()) }).to_string();
    let ack = w
        .client
        .post(
            &format!("/v1/channels/{channel}/vouchers"),
            "application/json",
            body.as_bytes(),
            "the voucher",
        )
        .map_err(WalletError::from)?;
    if ack["seq"].as_u64() != Some(next.seq) {
        return Err(bad(
            w,
            "the voucher",
            format!("acknowledged {} instead of seq {}", ack["seq"], next.seq),
        ));
    }
    save_state(&home, &channel, next).map_err(|e| {
        failed(
            "io",
            format!(
                "paid, but cannot store channel {channel}'s receipt chain in {}: {e}",
                state_path(&home, &channel).display()
            ),
            1,
        )
    })?;
    let deposit = parse_base_units(&chosen.doc.deposit.amount)
        .map_err(|why| bad(w, "the channel request", why))?
        .get();
    let left = deposit.saturating_sub(next.cumulative);
    let paid_words = s.assets.show(&price_asset, price_amount);
    let left_words = s.assets.show(&price_asset, Amount::new(left));
    let out = json!({
        "track": track.to_string(),
        "title": doc.title,
        "artist": doc.artist,
        "channel": channel.to_string(),
        "out": out_name,
        "bytes": bytes,
        "blob": hash.to_hex(),
        "paid": s.assets.json(&price_asset, price_amount),
        "left": s.assets.json(&price_asset, Amount::new(left)),
        "seq": next.seq,
        "cumulative": s.assets.json(&price_asset, Amount::new(next.cumulative)),
        "played_ms": played_ms,
    });
    let text = format!(
        "paid {paid_words} for \"{}\"; channel {channel} has {left_words} left",
        doc.title
    );
    let shown = if w.json { out.to_string() } else { text };
    if to_stdout {
        eprintln!("{shown}");
    } else {
        println!("{shown}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_state_survives_a_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let id = ChannelId::derive(&cadenza_types::SecretKey::from_seed([7; 32]).account(), 3);
        assert_eq!(load_state(dir.path(), &id), None);
        let state = ChainState {
            head: ReceiptChain::start(&id),
            seq: 4,
            cumulative: 8_000,
        };
        save_state(dir.path(), &id, state).unwrap();
        assert_eq!(load_state(dir.path(), &id), Some(state));
        let other = ChannelId::derive(&cadenza_types::SecretKey::from_seed([8; 32]).account(), 0);
        std::fs::copy(state_path(dir.path(), &id), state_path(dir.path(), &other)).unwrap();
        assert_eq!(
            load_state(dir.path(), &other),
            None,
            "a file names its channel"
        );
    }
}
