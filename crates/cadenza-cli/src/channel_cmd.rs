//! The listener's payment channels: `channel open|topup|close|withdraw|show`.
//!
//! Each command reads the channel from the node first and refuses, before signing, what the
//! ledger would refuse: a channel that does not exist, one the key does not own (or, for close,
//! is not party to), a top-up of a closed channel, a withdrawal inside the challenge window, an
//! amount in another asset than the channel's, and too little balance.

use cadenza_types::{AccountId, Action, Amount, ChannelId};
use serde_json::{Value, json};

use crate::CliError;
use crate::amounts::amount_arg;
use crate::client::{ChannelDoc, parse_base_units};
use crate::wallet_cmd::{
    Chain, SendOpts, Signing, Wallet, WalletError, bad_answer, print, resolve_account,
};

/// The expiry of a channel opened without `--expiry`: 30 days of block time.
pub const DEFAULT_EXPIRY: &str = "30d";

/// Reads a duration: a whole number with a unit, `500ms`, `45s`, `90m`, `12h`, `30d`.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration: write it like 30d, 12h, 90m or 45s"))?;
    let scale: u64 = match unit.trim() {
        "ms" => 1,
        "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => {
            return Err(format!(
                "`{text}` is not a duration: give a unit, like 30d, 12h, 90m, 45s or 500ms"
            ));
        }
    };
    let ms = number
        .checked_mul(scale)
        .ok_or_else(|| format!("`{text}` is too long a duration"))?;
    if ms == 0 {
        return Err(format!("`{text}`: a channel must stay open for some time"));
    }
    Ok(ms)
}

/// A duration in words: `24 h`, `1 d 6 h`, `2.5 s`.
pub fn human_ms(ms: u64) -> String {
    const UNITS: [(u64, &str); 4] = [
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "min"),
        (1_000, "s"),
    ];
    if ms < 1_000 {
        return format!("{ms} ms");
    }
    let mut parts = Vec::new();
    let mut left = ms;
    for (size, unit) in UNITS {
        if left >= size && parts.len() < 2 {
            parts.push(format!("{} {unit}", left / size));
            left %= size;
        }
    }
    parts.join(" ")
}

/// A time in ms since the Unix epoch as `2026-11-28 02:50:00 UTC` (proleptic Gregorian).
pub fn utc(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Days to civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

/// Not a channel id, or no such channel.
fn parse_channel(text: &str) -> Result<ChannelId, WalletError> {
    text.trim().parse().map_err(|_| WalletError::BadId {
        what: "channel id",
        text: text.to_owned(),
    })
}

fn fetch(w: &Wallet, id: &ChannelId) -> Result<ChannelDoc, CliError> {
    w.client
        .channel(id)
        .map_err(WalletError::from)?
        .ok_or_else(|| {
            WalletError::Unknown {
                what: "channel",
                id: id.to_string(),
                hint: "it was never opened, or it was withdrawn; `cadenza channel open` opens one",
            }
            .into()
        })
}

fn bad(w: &Wallet, why: String) -> CliError {
    WalletError::from(bad_answer(&w.client, "the channel request", why)).into()
}

/// The channel's state in words: open, closing (in its challenge window) or closed for good.
fn state(doc: &ChannelDoc, now_ms: u64, window_ms: u64) -> (&'static str, String) {
    let closing = doc.closing_ms();
    let window_end = closing.saturating_add(window_ms);
    if now_ms < closing {
        ("open", format!("open until {}", utc(doc.expiry_ms)))
    } else if now_ms < window_end {
        (
            "closing",
            format!(
                "closed at {}; settlement window until {}, then `cadenza channel withdraw`",
                utc(closing),
                utc(window_end)
            ),
        )
    } else {
        (
            "withdrawable",
            "closed and past its settlement window: `cadenza channel withdraw` returns the rest"
                .to_owned(),
        )
    }
}

fn channel_json(s: &Chain, doc: &ChannelDoc) -> Result<Value, String> {
    let (asset, deposit) = doc.deposit.parse()?;
    let settled = parse_base_units(&doc.settled.amount)?;
    let escrow = parse_base_units(&doc.escrow.amount)?;
    let now = s.status.raw["block_time_ms"].as_u64().unwrap_or(0);
    let (state, _) = state(doc, now, s.params.challenge_window_ms);
    Ok(json!({
        "channel": doc.id, "owner": doc.owner, "provider": doc.provider,
        "deposit": s.assets.json(&asset, deposit),
        "settled": s.assets.json(&asset, settled),
        "escrow": s.assets.json(&asset, escrow),
        "settled_seq": doc.settled_seq, "expiry_ms": doc.expiry_ms, "closed_ms": doc.closed_ms,
        "window_end_ms": doc.closing_ms().saturating_add(s.params.challenge_window_ms),
        "state": state,
    }))
}

/// What `cadenza channel open` was asked to do.
pub struct OpenArgs<'a> {
    /// The provider: a did:key or a key name [default: the node's own provider].
    pub provider: Option<&'a str>,
    /// The deposit with its asset.
    pub deposit: &'a str,
    /// How long it stays open.
    pub expiry: &'a str,
    /// Fee, nonce, no-wait.
    pub send: SendOpts<'a>,
}

/// `cadenza channel open --provider DID --deposit 5CUSD [--expiry 30d]`.
pub fn open(w: &Wallet, args: &OpenArgs<'_>) -> Result<(), CliError> {
    let deposit_arg = amount_arg(args.deposit, None, None)?;
    if deposit_arg.asset.is_none() {
        return Err(crate::amounts::bad_amount(
            args.deposit,
            "say which asset, like 5CUSD or `5 CUSD`",
        )
        .into());
    }
    let expiry_ms = parse_duration(args.expiry).map_err(|why| WalletError::BadArgument {
        what: "--expiry",
        why,
    })?;
    let provider = match args.provider {
        Some(p) => Some(resolve_account(w, Some(p))?.0),
        None => None,
    };
    let s = w.signing()?;
    let provider: AccountId = match provider {
        Some(p) => p,
        None => {
            w.client
                .provider()
                .map_err(WalletError::from)?
                .ok_or(WalletError::BadArgument {
                    what: "--provider",
                    why: format!(
                        "the node at {} runs no provider: name one with --provider DID",
                        w.client.url()
                    ),
                })?
        }
    };
    let (asset, _, deposit) = deposit_arg.resolve(&s.assets, None, false)?;
    let now = s.status.raw["block_time_ms"]
        .as_u64()
        .ok_or_else(|| bad(w, "the status has no block time".into()))?;
    let expiry = now
        .checked_add(expiry_ms)
        .ok_or_else(|| WalletError::BadArgument {
            what: "--expiry",
            why: format!("`{}` is too long a duration", args.expiry),
        })?;
    let action = Action::OpenChannel {
        provider,
        asset,
        deposit,
        expiry_ms: expiry,
    };
    let sent = w.send(&s, action, &[(asset, deposit)], "the deposit", args.send)?;
    let channel = ChannelId::derive(&s.account, sent.nonce);
    let mut out = sent.out.clone();
    out["channel"] = json!(channel.to_string());
    out["owner"] = json!(s.account.to_did());
    out["provider"] = json!(provider.to_did());
    out["deposit"] = s.assets.json(&asset, deposit);
    out["expiry_ms"] = json!(expiry);
    let text = format!(
        "{} channel {channel}\n  deposit   {} to provider {}\n  expires   {}\n{}",
        if sent.committed() {
            "opened"
        } else {
            "opening"
        },
        s.assets.show(&asset, deposit),
        provider.to_did(),
        utc(expiry),
        sent.footer(&s)
    );
    print(w.json, &out, &text);
    Ok(())
}

/// The channel, checked to be the signer's.
fn owned(w: &Wallet, s: &Signing, id: &ChannelId, verb: &str) -> Result<ChannelDoc, CliError> {
    let doc = fetch(w, id)?;
    if doc.owner != s.account.to_did() {
        return Err(WalletError::NotYours {
            message: format!(
                "channel {id} belongs to {}, not to {} ({}): only its owner can {verb} it",
                doc.owner,
                s.account.to_did(),
                s.name
            ),
        }
        .into());
    }
    Ok(doc)
}

/// `cadenza channel topup ID AMOUNT`.
pub fn topup(w: &Wallet, id: &str, amount: &str, send: SendOpts<'_>) -> Result<(), CliError> {
    let id = parse_channel(id)?;
    let arg = amount_arg(amount, None, None)?;
    let s = w.signing()?;
    let doc = owned(w, &s, &id, "top up")?;
    let (channel_asset, _) = doc.deposit.parse().map_err(|why| bad(w, why))?;
    let (asset, _, amount) = arg.resolve(&s.assets, Some(&doc.deposit.asset), false)?;
    if asset != channel_asset {
        return Err(crate::amounts::bad_amount(
            arg.text,
            format!(
                "channel {id} holds {}; top it up in that asset",
                s.assets
                    .show(&channel_asset, Amount::ZERO)
                    .trim_start_matches("0 ")
            ),
        )
        .into());
    }
    let now = s.status.raw["block_time_ms"].as_u64().unwrap_or(0);
    if now >= doc.closing_ms() {
        return Err(WalletError::ChannelState {
            message: format!(
                "channel {id} is closed (since {}); open a new one with `cadenza channel open`",
                utc(doc.closing_ms())
            ),
        }
        .into());
    }
    let sent = w.send(
        &s,
        Action::TopUp {
            channel: id,
            amount,
        },
        &[(asset, amount)],
        "the top-up",
        send,
    )?;
    let mut out = sent.out.clone();
    out["channel"] = json!(id.to_string());
    out["amount"] = s.assets.json(&asset, amount);
    let (_, deposit) = doc.deposit.parse().map_err(|why| bad(w, why))?;
    let new_deposit = deposit.checked_add(amount).unwrap_or(deposit);
    out["deposit"] = s.assets.json(&asset, new_deposit);
    let text = format!(
        "{} {} to channel {id}: deposit {}\n{}",
        if sent.committed() { "added" } else { "adding" },
        s.assets.show(&asset, amount),
        s.assets.show(&asset, new_deposit),
        sent.footer(&s)
    );
    print(w.json, &out, &text);
    Ok(())
}

/// `cadenza channel close ID`.
pub fn close(w: &Wallet, id: &str, send: SendOpts<'_>) -> Result<(), CliError> {
    let id = parse_channel(id)?;
    let s = w.signing()?;
    let doc = fetch(w, &id)?;
    let me = s.account.to_did();
    if doc.owner != me && doc.provider != me {
        return Err(WalletError::NotYours {
            message: format!(
                "{me} ({}) is neither the owner nor the provider of channel {id}, so it cannot \
                 close it",
                s.name
            ),
        }
        .into());
    }
    let now = s.status.raw["block_time_ms"].as_u64().unwrap_or(0);
    if now >= doc.closing_ms() {
        let (_, words) = state(&doc, now, s.params.challenge_window_ms);
        return Err(WalletError::ChannelState {
            message: format!("channel {id} is already {words}"),
        }
        .into());
    }
    let sent = w.send(
        &s,
        Action::CloseChannel { channel: id },
        &[],
        "closing",
        send,
    )?;
    let mut out = sent.out.clone();
    out["channel"] = json!(id.to_string());
    let closed_at = match &sent.doc.height {
        Some(_) => w
            .client
            .channel(&id)
            .ok()
            .flatten()
            .and_then(|c| c.closed_ms),
        None => None,
    };
    let text = match closed_at {
        Some(at) => {
            let end = at.saturating_add(s.params.challenge_window_ms);
            out["closed_ms"] = json!(at);
            out["window_end_ms"] = json!(end);
            format!(
                "closed channel {id}; its provider may settle until {}, then `cadenza channel \
                 withdraw {id}` returns the rest\n{}",
                utc(end),
                sent.footer(&s)
            )
        }
        None => format!("closing channel {id}\n{}", sent.footer(&s)),
    };
    print(w.json, &out, &text);
    Ok(())
}

/// `cadenza channel withdraw ID`.
pub fn withdraw(w: &Wallet, id: &str, send: SendOpts<'_>) -> Result<(), CliError> {
    let id = parse_channel(id)?;
    let s = w.signing()?;
    let doc = owned(w, &s, &id, "withdraw from")?;
    let now = s.status.raw["block_time_ms"].as_u64().unwrap_or(0);
    let window_end = doc
        .closing_ms()
        .saturating_add(s.params.challenge_window_ms);
    if now < window_end {
        let message = if now < doc.closing_ms() {
            format!(
                "channel {id} is still open: close it first (`cadenza channel close {id}`), then \
                 withdraw after its settlement window ({})",
                human_ms(s.params.challenge_window_ms)
            )
        } else {
            format!(
                "channel {id} is in its settlement window until {}; withdraw after that",
                utc(window_end)
            )
        };
        return Err(WalletError::ChannelState { message }.into());
    }
    let (asset, refund) = doc.escrow.parse().map_err(|why| bad(w, why))?;
    let sent = w.send(
        &s,
        Action::Withdraw { channel: id },
        &[],
        "the withdrawal",
        send,
    )?;
    let mut out = sent.out.clone();
    out["channel"] = json!(id.to_string());
    out["refund"] = s.assets.json(&asset, refund);
    let text = format!(
        "{} {} from channel {id} to {}\n{}",
        if sent.committed() {
            "withdrew"
        } else {
            "withdrawing"
        },
        s.assets.show(&asset, refund),
        s.account.to_did(),
        sent.footer(&s)
    );
    print(w.json, &out, &text);
    Ok(())
}

/// `cadenza channel show ID [--raw]`.
pub fn show(w: &Wallet, id: &str, raw: bool) -> Result<(), CliError> {
    let id = parse_channel(id)?;
    let doc = fetch(w, &id)?;
    let s = w.view()?;
    let out = channel_json(&s, &doc).map_err(|why| bad(w, why))?;
    let (asset, deposit) = doc.deposit.parse().map_err(|why| bad(w, why))?;
    let amount = |field: &crate::client::AmountField| {
        parse_base_units(&field.amount)
            .map(|a| s.assets.show_maybe_raw(&asset, a, raw))
            .unwrap_or_else(|_| field.amount.clone())
    };
    let now = s.status.raw["block_time_ms"].as_u64().unwrap_or(0);
    let (_, words) = state(&doc, now, s.params.challenge_window_ms);
    let text = format!(
        "channel   {id}\nowner     {}\nprovider  {}\ndeposit   {}\nsettled   {} ({} receipt{})\nescrow    {}\nstate     {words}",
        doc.owner,
        doc.provider,
        s.assets.show_maybe_raw(&asset, deposit, raw),
        amount(&doc.settled),
        doc.settled_seq,
        if doc.settled_seq == 1 { "" } else { "s" },
        amount(&doc.escrow),
    );
    print(w.json, &out, &text);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_need_a_unit() {
        assert_eq!(parse_duration("30d"), Ok(30 * 86_400_000));
        assert_eq!(parse_duration("12h"), Ok(12 * 3_600_000));
        assert_eq!(parse_duration("90m"), Ok(90 * 60_000));
        assert_eq!(parse_duration("45s"), Ok(45_000));
        assert_eq!(parse_duration("500ms"), Ok(500));
        assert!(parse_duration("30").unwrap_err().contains("unit"));
        assert!(parse_duration("-1d").is_err());
        assert!(parse_duration("0s").unwrap_err().contains("some time"));
        assert!(parse_duration("99999999999999999999d").is_err());
    }

    #[test]
    fn durations_print_in_words() {
        assert_eq!(human_ms(500), "500 ms");
        assert_eq!(human_ms(2_000), "2 s");
        assert_eq!(human_ms(86_400_000), "1 d");
        assert_eq!(human_ms(30 * 3_600_000 + 5_000), "1 d 6 h");
    }

    #[test]
    fn times_print_in_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_795_833_000_000), "2026-11-28 02:30:00 UTC");
    }
}
