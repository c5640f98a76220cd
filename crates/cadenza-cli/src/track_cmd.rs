//! Holders and artists: `shares transfer`, `claim`, `track info`, `track verify` and
//! `track publish`.
//!
//! A track's royalty split is an ordinary asset (its `shares_asset`, 1,000,000 shares, no
//! decimals), so `shares transfer` is a transfer of that asset. `claim` pays the signer its share
//! of what the track earned in one asset. `track verify` checks a file's signed licence offline
//! (from the file alone) and, unless `--offline`, against the ledger's record of the track.

use std::path::Path;

use cadenza_content::{LedgerTrack, LedgerVerdict, Verdict, verify_against_track, verify_file};
use cadenza_types::{AccountId, Action, Amount, AssetId, ChainId, Hash, TrackId};
use serde_json::{Value, json};

use crate::CliError;
use crate::amounts::bad_amount;
use crate::client::{TrackDoc, parse_asset_id};
use crate::splits::{TOTAL_SHARES, percent};
use crate::wallet_cmd::{Chain, SendOpts, Wallet, WalletError, bad_answer, print, resolve_account};

/// The largest file read by `track verify` and `track publish` (1 GiB).
pub const FILE_BYTES_MAX: u64 = 1 << 30;

pub(crate) fn parse_track(text: &str) -> Result<TrackId, WalletError> {
    text.trim().parse().map_err(|_| WalletError::BadId {
        what: "track id",
        text: text.to_owned(),
    })
}

pub(crate) fn fetch_track(w: &Wallet, id: &TrackId) -> Result<TrackDoc, CliError> {
    w.client
        .track(id)
        .map_err(WalletError::from)?
        .ok_or_else(|| {
            WalletError::Unknown {
                what: "track",
                id: id.to_string(),
                hint: "check the id (`cadenza track info ID`; the node lists tracks at /v1/tracks)",
            }
            .into()
        })
}

fn bad(w: &Wallet, what: &str, why: String) -> CliError {
    WalletError::from(bad_answer(&w.client, what, why)).into()
}

/// Reads a file for `track verify` and `track publish`, bounded.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, CliError> {
    let read = |source| CliError::Read {
        path: path.to_owned(),
        source,
    };
    let len = std::fs::metadata(path).map_err(read)?.len();
    if len > FILE_BYTES_MAX {
        return Err(CliError::Failed {
            code: "file_too_large".into(),
            message: format!(
                "{} is {len} bytes; the most a track file may be is {FILE_BYTES_MAX}",
                path.display()
            ),
            exit: 6,
            details: None,
        });
    }
    std::fs::read(path).map_err(read)
}

/// Reads a number of shares: a whole number (`250000`) or a percentage of the track (`25%`,
/// up to four decimals).
fn parse_shares(text: &str) -> Result<Amount, CliError> {
    let t = text.trim();
    if t.ends_with('%') {
        return crate::splits::parse_percent(t, t)
            .map(|s| Amount::new(u128::from(s)))
            .map_err(|e| bad_amount(text, e.to_string()).into());
    }
    let shares = Amount::parse_units(t, 0).map_err(|e| {
        let why = match e {
            cadenza_types::amount::ParseAmountError::TooPrecise { .. } => {
                "shares are whole: give a whole number, or a percentage like 12.5%".to_owned()
            }
            other => other.to_string(),
        };
        bad_amount(text, why)
    })?;
    if shares.is_zero() {
        return Err(bad_amount(text, "zero shares means nothing: give more").into());
    }
    if shares.get() > u128::from(TOTAL_SHARES) {
        return Err(bad_amount(text, "a track has only 1,000,000 shares").into());
    }
    Ok(shares)
}

/// `cadenza shares transfer TRACK AMOUNT --to DID`.
pub fn shares_transfer(
    w: &Wallet,
    track: &str,
    amount: &str,
    to: &str,
    send: SendOpts<'_>,
) -> Result<(), CliError> {
    let track = parse_track(track)?;
    let shares = parse_shares(amount)?;
    let (to, _) = resolve_account(w, Some(to))?;
    let s = w.signing()?;
    let doc = fetch_track(w, &track)?;
    let asset = parse_asset_id(&doc.shares_asset).map_err(|why| bad(w, "the track", why))?;
    let sent = w.send(
        &s,
        Action::Transfer {
            to,
            asset,
            amount: shares,
        },
        &[(asset, shares)],
        "the transfer",
        send,
    )?;
    let pct = percent(u64::try_from(shares.get()).unwrap_or(0));
    let mut out = sent.out.clone();
    out["track"] = json!(track.to_string());
    out["from"] = json!(s.account.to_did());
    out["to"] = json!(to.to_did());
    out["shares"] = s.assets.json(&asset, shares);
    out["percent"] = json!(pct);
    let text = format!(
        "{} {shares} shares ({pct}%) of \"{}\" to {}\n{}",
        if sent.committed() { "sent" } else { "sending" },
        doc.title,
        to.to_did(),
        sent.footer(&s)
    );
    print(w.json, &out, &text);
    Ok(())
}

/// `cadenza claim TRACK [--asset CUSD]`.
pub fn claim(
    w: &Wallet,
    track: &str,
    asset: Option<&str>,
    send: SendOpts<'_>,
) -> Result<(), CliError> {
    let track = parse_track(track)?;
    let s = w.signing()?;
    let doc = fetch_track(w, &track)?;
    let asset: AssetId = match asset {
        Some(name) => s.assets.resolve(name)?.0,
        None => parse_asset_id(&doc.licence.price.asset).map_err(|why| bad(w, "the track", why))?,
    };
    let earned_in = doc
        .revenue_assets
        .iter()
        .any(|a| parse_asset_id(a).is_ok_and(|a| a == asset));
    let symbol = s
        .assets
        .0
        .get(&asset)
        .map_or_else(|| asset.to_string(), |d| d.symbol.clone());
    // Revenue reaches a track only through settled streams, so a track never streamed has
    // nothing to pay anyone.
    if !earned_in || doc.streams == 0 {
        return Err(WalletError::Nothing {
            message: format!(
                "\"{}\" has earned nothing in {symbol} yet, so there is nothing to claim; \
                 nothing was sent",
                doc.title
            ),
        }
        .into());
    }
    let before = w
        .client
        .balance(&s.account, &asset)
        .map_err(WalletError::from)?;
    let sent = w.send(&s, Action::Claim { track, asset }, &[], "the claim", send)?;
    let mut out = sent.out.clone();
    out["track"] = json!(track.to_string());
    out["account"] = json!(s.account.to_did());
    let text = if sent.committed() {
        let after = w
            .client
            .balance(&s.account, &asset)
            .map_err(WalletError::from)?;
        let fee_paid = crate::client::parse_base_units(sent.doc.fee_paid.as_deref().unwrap_or("0"))
            .unwrap_or(sent.fee);
        let fee_here = if asset == s.native {
            fee_paid
        } else {
            Amount::ZERO
        };
        // What arrived: the balance's change, plus the fee when it was paid in the same asset.
        // (Another transaction of this account committed meanwhile would blur it.)
        let claimed = after
            .checked_add(fee_here)
            .and_then(|x| x.checked_sub(before))
            .unwrap_or(Amount::ZERO);
        out["claimed"] = s.assets.json(&asset, claimed);
        out["balance"] = s.assets.json(&asset, after);
        format!(
            "claimed {} from \"{}\"; balance {}\n{}",
            s.assets.show(&asset, claimed),
            doc.title,
            s.assets.show(&asset, after),
            sent.footer(&s)
        )
    } else {
        format!("claiming from \"{}\"\n{}", doc.title, sent.footer(&s))
    };
    print(w.json, &out, &text);
    Ok(())
}

fn track_json(chain: &Chain, doc: &TrackDoc, raw: bool) -> Result<(Value, String), String> {
    let (price_asset, price) = doc.licence.price.parse()?;
    let shares_asset = parse_asset_id(&doc.shares_asset)?;
    let shares_symbol = chain
        .assets
        .0
        .get(&shares_asset)
        .map_or("?", |d| d.symbol.as_str());
    let revenue: Vec<Value> = doc
        .revenue_assets
        .iter()
        .map(|a| {
            let id = parse_asset_id(a)?;
            Ok(json!({
                "asset": a,
                "symbol": chain.assets.0.get(&id).map(|d| d.symbol.clone()),
            }))
        })
        .collect::<Result<_, String>>()?;
    let out = json!({
        "track": doc.id, "title": doc.title, "artist": doc.artist, "isrc": doc.isrc,
        "controller": doc.controller, "essence_id": doc.essence_id, "blob_id": doc.blob_id,
        "licence": {
            "price": chain.assets.json(&price_asset, price),
            "uses": doc.licence.uses, "territories": doc.licence.territories,
            "valid_from_ms": doc.licence.valid_from_ms,
            "valid_until_ms": doc.licence.valid_until_ms,
            "url": doc.licence.url, "min_play_ms": doc.licence.min_play_ms,
        },
        "shares_asset": { "asset": doc.shares_asset, "symbol": shares_symbol, "total": TOTAL_SHARES },
        "revenue_assets": revenue,
        "registered_ms": doc.registered_ms,
        "streams": doc.streams,
    });
    let territories = if doc.licence.territories.is_empty() {
        "worldwide".to_owned()
    } else {
        doc.licence.territories.join(", ")
    };
    let utc = crate::channel_cmd::utc;
    let validity = match (doc.licence.valid_from_ms, doc.licence.valid_until_ms) {
        (0, None) => "no time limit".to_owned(),
        (from, None) => format!("from {}", utc(from)),
        (from, Some(until)) => format!("from {} until {}", utc(from), utc(until)),
    };
    let rows = [
        ("track", doc.id.clone()),
        ("title", doc.title.clone()),
        ("artist", doc.artist.clone()),
        ("isrc", doc.isrc.clone().unwrap_or_else(|| "-".into())),
        ("controller", doc.controller.clone()),
        (
            "price",
            format!(
                "{} per stream (at least {} s played)",
                chain.assets.show_maybe_raw(&price_asset, price, raw),
                doc.licence.min_play_ms / 1000
            ),
        ),
        ("uses", doc.licence.uses.join(", ")),
        ("where", territories),
        ("valid", validity),
        (
            "licence",
            if doc.licence.url.is_empty() {
                "-".into()
            } else {
                doc.licence.url.clone()
            },
        ),
        (
            "shares",
            format!(
                "{TOTAL_SHARES} {shares_symbol} (asset {})",
                doc.shares_asset
            ),
        ),
        ("streams", doc.streams.to_string()),
        ("registered", utc(doc.registered_ms)),
    ];
    let text = rows
        .iter()
        .map(|(label, value)| format!("{label:<11}{value}"))
        .collect::<Vec<_>>()
        .join("\n");
    Ok((out, text))
}

/// `cadenza track info TRACK [--raw]`. With a chosen key, also how many shares it holds.
pub fn info(w: &Wallet, track: &str, raw: bool) -> Result<(), CliError> {
    let track = parse_track(track)?;
    let doc = fetch_track(w, &track)?;
    let chain = w.view()?;
    let (mut out, mut text) =
        track_json(&chain, &doc, raw).map_err(|why| bad(w, "the track", why))?;
    // The API lists no holders; the chosen key's own holding is shown when there is one.
    out["holders"] = Value::Null;
    if w.key.is_some() {
        let (me, name) = resolve_account(w, None)?;
        let shares_asset =
            parse_asset_id(&doc.shares_asset).map_err(|why| bad(w, "the track", why))?;
        let held = w
            .client
            .balance(&me, &shares_asset)
            .map_err(WalletError::from)?;
        let pct = percent(u64::try_from(held.get()).unwrap_or(0));
        out["yours"] =
            json!({ "account": me.to_did(), "shares": held.get().to_string(), "percent": pct });
        text.push_str(&format!(
            "\n{:<11}{held} shares ({pct}%) held by {} ({})",
            "yours",
            me.to_did(),
            name.unwrap_or_default()
        ));
    }
    print(w.json, &out, &text);
    Ok(())
}

/// A failed verification, as the error `cadenza track verify` exits with.
fn verdict_failed(code: &str, message: String, doc: Value) -> CliError {
    CliError::Failed {
        code: code.to_owned(),
        message,
        exit: 10,
        details: Some(json!({ "verdict": doc })),
    }
}

fn offline_words(v: &Verdict) -> String {
    match v {
        Verdict::Valid { claim, .. } => format!(
            "the file carries a licence signed by {} for exactly this audio",
            claim.issuer.to_did()
        ),
        Verdict::NoClaim => "the file carries no Cadenza licence claim".into(),
        Verdict::MalformedClaim(e) => format!("the licence claim is malformed: {e}"),
        Verdict::BadSignature => {
            "the licence claim's signature does not verify under its issuer's did:key".into()
        }
        Verdict::UnsupportedEssenceVersion(v) => {
            format!("the claim uses essence algorithm v{v}, which this build does not compute")
        }
        Verdict::EssenceMismatch { claimed, actual } => format!(
            "the claim is for other audio (claimed essence {claimed}, this file's {actual}): the \
             audio was changed or the claim copied from another file"
        ),
        Verdict::UnreadableAudio(e) => format!("not audio Cadenza can read: {e}"),
    }
}

fn ledger_words(v: LedgerVerdict) -> &'static str {
    match v {
        LedgerVerdict::Valid => {
            "the ledger's record agrees: same essence, licence and ISRC, and the issuer controls \
             the track or holds shares"
        }
        LedgerVerdict::WrongChain => "the claim names another chain than this node's",
        LedgerVerdict::WrongTrack => "the claim names another track",
        LedgerVerdict::EssenceMismatch => "the ledger registered other audio under this track",
        LedgerVerdict::LicenceDiffers => {
            "the licence differs from the one in force on the ledger (it may have been updated \
             since the file was tagged)"
        }
        LedgerVerdict::IsrcDiffers => "the ISRC differs from the registered one",
        LedgerVerdict::IssuerNotAHolder => {
            "the claim's issuer neither controls the track nor holds any of its shares"
        }
    }
}

/// `cadenza track verify FILE [--track ID] [--offline]`.
pub fn verify(w: &Wallet, file: &Path, track: Option<&str>, offline: bool) -> Result<(), CliError> {
    let wanted = track.map(parse_track).transpose()?;
    let bytes = read_file(file)?;
    let verdict = verify_file(&bytes);
    let mut out = json!({
        "file": file.display().to_string(),
        "offline": { "verdict": verdict.code(), "message": offline_words(&verdict) },
    });
    let mut lines = vec![format!("file      {}", file.display())];
    let Verdict::Valid {
        claim,
        analysis,
        unsigned_fields_disagree,
    } = &verdict
    else {
        out["valid"] = json!(false);
        let words = offline_words(&verdict);
        return Err(verdict_failed(
            verdict.code(),
            format!("INVALID ({}): {words}", verdict.code()),
            out,
        ));
    };
    let p = analysis.probe;
    lines.push(format!(
        "audio     {} {}, {}.{:03} s, {} Hz, {} ch",
        p.format.as_str(),
        p.codec.as_str(),
        p.duration_ms / 1000,
        p.duration_ms % 1000,
        p.sample_rate_hz,
        p.channels
    ));
    lines.push(format!("essence   {}", analysis.essence_id));
    lines.push(format!("issuer    {}", claim.issuer.to_did()));
    lines.push(format!(
        "claims    track {} on {}",
        claim.ledger.track_id, claim.ledger.chain_id
    ));
    lines.push(format!("offline   valid: {}", offline_words(&verdict)));
    out["essence_id"] = json!(analysis.essence_id.to_string());
    out["blob_id"] = json!(analysis.blob_id.to_hex());
    out["issuer"] = json!(claim.issuer.to_did());
    out["claim_track"] = json!(claim.ledger.track_id.to_string());
    out["claim_chain"] = json!(claim.ledger.chain_id.as_str());
    out["unsigned_fields_disagree"] = json!(unsigned_fields_disagree);
    if !unsigned_fields_disagree.is_empty() {
        lines.push(format!(
            "warning   unsigned tags disagree with the signed claim: {} (trust the claim)",
            unsigned_fields_disagree.join(", ")
        ));
    }
    if offline {
        out["valid"] = json!(true);
        out["ledger"] = Value::Null;
        lines.push("verdict   VALID (offline only: the ledger was not asked)".into());
        print(w.json, &out, &lines.join("\n"));
        return Ok(());
    }
    let track_id = wanted.unwrap_or(claim.ledger.track_id);
    let status = w.client.status().map_err(|e| match e {
        e @ crate::client::ClientError::Unreachable { .. } => CliError::Failed {
            code: "node_unreachable".into(),
            message: format!("{e}; or check the file alone with --offline"),
            exit: 5,
            details: None,
        },
        e => WalletError::from(e).into(),
    })?;
    let chain_id =
        ChainId::new(&status.chain_id).map_err(|e| bad(w, "the status request", e.to_string()))?;
    let Some(doc) = w.client.track(&track_id).map_err(WalletError::from)? else {
        out["valid"] = json!(false);
        out["ledger"] =
            json!({ "verdict": "unregistered", "message": "the ledger has no such track" });
        return Err(verdict_failed(
            "unregistered",
            format!(
                "INVALID (unregistered): the file's licence verifies offline, but chain {} has \
                 no track {track_id}",
                status.chain_id
            ),
            out,
        ));
    };
    let bad_track = |why: String| bad(w, "the track", why);
    let licence = doc.licence.to_licence().map_err(bad_track)?;
    let essence_id = Hash::from_hex(&doc.essence_id)
        .ok_or_else(|| bad(w, "the track", "a malformed essence id".into()))?;
    let controller =
        AccountId::from_did(&doc.controller).map_err(|e| bad(w, "the track", e.to_string()))?;
    let shares_asset = parse_asset_id(&doc.shares_asset).map_err(|why| bad(w, "the track", why))?;
    let issuer_shares = w
        .client
        .balance(&claim.issuer, &shares_asset)
        .map_err(WalletError::from)?;
    let ledger = verify_against_track(
        claim,
        &LedgerTrack {
            chain_id: &chain_id,
            track_id,
            essence_id,
            controller,
            licence: &licence,
            isrc: doc.isrc.as_deref(),
            issuer_shares: issuer_shares.get(),
        },
    );
    out["ledger"] = json!({
        "verdict": ledger.code(), "message": ledger_words(ledger), "chain_id": status.chain_id,
        "height": status.height, "track": track_id.to_string(), "title": doc.title,
        "artist": doc.artist, "issuer_shares": issuer_shares.get().to_string(),
    });
    if ledger != LedgerVerdict::Valid {
        out["valid"] = json!(false);
        return Err(verdict_failed(
            ledger.code(),
            format!("INVALID ({}): {}", ledger.code(), ledger_words(ledger)),
            out,
        ));
    }
    out["valid"] = json!(true);
    lines.push(format!(
        "ledger    valid: \"{}\" by {} on {} at height {}; {}",
        doc.title,
        doc.artist,
        status.chain_id,
        status.height,
        ledger_words(ledger)
    ));
    lines.push("verdict   VALID".into());
    print(w.json, &out, &lines.join("\n"));
    Ok(())
}

/// What `cadenza track publish` was asked to do.
pub struct PublishArgs<'a> {
    /// The audio file.
    pub file: &'a Path,
    /// `--split HOLDER=PERCENT%`, each.
    pub splits: &'a [String],
    /// `--price 0.002CUSD`.
    pub price: &'a str,
    /// `--title`.
    pub title: Option<&'a str>,
    /// `--artist`.
    pub artist: Option<&'a str>,
    /// `--isrc`.
    pub isrc: Option<&'a str>,
    /// `--licence-url`.
    pub licence_url: &'a str,
    /// `--allow download,sync,remix`.
    pub allow: &'a [String],
    /// Fee, nonce, no-wait (of the registration).
    pub send: SendOpts<'a>,
}

fn refused(code: &str, message: String) -> CliError {
    CliError::Failed {
        code: code.to_owned(),
        message,
        exit: 6,
        details: None,
    }
}

/// Reads an ISRC with or without hyphens (`GB-AYE-24-00001`), upper-cased.
pub fn parse_isrc(text: &str) -> Result<String, CliError> {
    let isrc: String = text
        .trim()
        .chars()
        .filter(|c| *c != '-')
        .collect::<String>()
        .to_ascii_uppercase();
    if cadenza_types::tx::valid_isrc(&isrc) {
        Ok(isrc)
    } else {
        Err(refused(
            "bad_isrc",
            format!(
                "`{text}` is not an ISRC: 12 characters, country (2 letters), registrant (3 \
                 letters or digits), year (2 digits), number (5 digits), like GB-AYE-24-00001"
            ),
        ))
    }
}

/// Everything `track publish` checks before it sends anything.
struct Checked {
    bytes: Vec<u8>,
    analysis: cadenza_content::Analysis,
    splits: Vec<crate::splits::Split>,
    isrc: Option<String>,
    uses: cadenza_types::Uses,
}

fn check_publish(args: &PublishArgs<'_>) -> Result<Checked, CliError> {
    use cadenza_types::Uses;
    let splits = crate::splits::parse_splits(args.splits)?;
    let isrc = args.isrc.map(parse_isrc).transpose()?;
    let mut uses = Uses::STREAM;
    for name in args.allow {
        uses = uses.with(match name.trim() {
            "stream" => Uses::STREAM,
            "download" => Uses::DOWNLOAD,
            "sync" => Uses::SYNC,
            "remix" => Uses::REMIX,
            other => {
                return Err(refused(
                    "bad_argument",
                    format!("--allow: `{other}` is not a use; choose from download, sync, remix"),
                ));
            }
        });
    }
    if args.licence_url.len() > cadenza_types::licence::LICENCE_URL_MAX_LEN {
        return Err(refused(
            "bad_argument",
            "--licence-url: at most 512 bytes".to_owned(),
        ));
    }
    crate::amounts::amount_arg(args.price, None, None)?;
    let bytes = read_file(args.file)?;
    let analysis = cadenza_content::analyse(&bytes).map_err(|e| {
        refused(
            "not_audio",
            format!(
                "{} is not audio Cadenza can publish ({e}); give a FLAC, MP3, Ogg or WAV file",
                args.file.display()
            ),
        )
    })?;
    Ok(Checked {
        bytes,
        analysis,
        splits,
        isrc,
        uses,
    })
}

/// `cadenza track publish FILE --split singer=60% --split producer=40% --price 0.002CUSD`:
/// checks everything (audio, splits, price, ISRC, balance for the fee), uploads the file,
/// signs the licence claim the node embeds, registers the track and waits for the commit.
pub fn publish(w: &Wallet, args: &PublishArgs<'_>) -> Result<(), CliError> {
    use cadenza_types::{Licence, Price, TrackMetadata};
    let checked = check_publish(args)?;
    let price_arg = crate::amounts::amount_arg(args.price, None, None)?;
    if price_arg.asset.is_none() {
        return Err(bad_amount(args.price, "say which asset, like 0.002CUSD").into());
    }
    let s = w.signing()?;
    let holders = crate::splits::holders(&checked.splits, |name| -> Result<AccountId, CliError> {
        Ok(resolve_account(w, Some(name))?.0)
    })?;
    let (price_asset, _, price) = price_arg.resolve(&s.assets, None, false)?;
    let title = match args.title {
        Some(t) => t.trim().to_owned(),
        None => args
            .file
            .file_stem()
            .map(|x| x.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let artist = args
        .artist
        .map_or_else(|| s.name.clone(), |a| a.trim().to_owned());
    for (what, text) in [("--title", &title), ("--artist", &artist)] {
        if text.is_empty() || text.len() > cadenza_types::tx::TEXT_MAX_LEN {
            return Err(refused("bad_argument", format!("{what}: 1 to 256 bytes")));
        }
    }
    let licence = Licence {
        price: Price {
            asset: price_asset,
            amount: price,
        },
        uses: checked.uses,
        territories: vec![],
        valid_from_ms: 0,
        valid_until_ms: None,
        url: args.licence_url.to_owned(),
        min_play_ms: s.params.min_play_ms,
    };
    let essence = checked.analysis.essence_id;
    let track_id = TrackId::from_essence(&essence.hash);
    if w.client
        .track(&track_id)
        .map_err(WalletError::from)?
        .is_some()
    {
        return Err(refused(
            "track_exists",
            format!(
                "this recording is already registered as track {track_id} \
                 (`cadenza track info {track_id}`)"
            ),
        ));
    }
    let metadata = TrackMetadata {
        title: title.clone(),
        artist: artist.clone(),
        isrc: checked.isrc.clone(),
    };
    // The registration's fee must be covered before the upload starts.
    let placeholder = Action::RegisterTrack {
        essence_id: essence.hash,
        blob_id: checked.analysis.blob_id,
        metadata: metadata.clone(),
        licence: licence.clone(),
        holders: holders.clone(),
    };
    w.check_funds(&s, &placeholder, &[], "the registration", args.send)?;
    let key = w.open_key(&s)?;

    // Upload.
    use std::io::IsTerminal as _;
    let progress = !w.json && std::io::stderr().is_terminal();
    if !w.json {
        eprintln!(
            "uploading {} ({} bytes, {} {})",
            args.file.display(),
            checked.bytes.len(),
            checked.analysis.probe.format.as_str(),
            checked.analysis.probe.codec.as_str()
        );
    }
    let up = w
        .client
        .upload("/v1/uploads", &checked.bytes, "the upload", progress)
        .map_err(WalletError::from)?;
    let upload = up["upload"].as_str().unwrap_or_default().to_owned();
    if upload.len() != 64 || !upload.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad(w, "the upload", format!("no upload id in {up}")));
    }
    if up["essence"]["id"].as_str() != Some(essence.hash.to_hex().as_str()) {
        return Err(bad(
            w,
            "the upload",
            format!(
                "the node computed another essence id ({}) than this file's ({})",
                up["essence"]["id"], essence
            ),
        ));
    }

    // The claim: the node's signing input must be the one computed here.
    let licence_hex = hex::encode(cadenza_types::Encode::to_bytes(&licence));
    let issuer = s.account.to_did();
    let claim = cadenza_content::LicenceClaim::new(
        s.account,
        essence,
        licence.clone(),
        checked.isrc.clone(),
        s.chain_id.clone(),
    );
    let local_input = claim.signing_input();
    let body = json!({ "issuer": issuer, "licence": licence_hex, "isrc": checked.isrc });
    let answer = w
        .client
        .post(
            &format!("/v1/uploads/{upload}/claim"),
            "application/json",
            body.to_string().as_bytes(),
            "the licence claim",
        )
        .map_err(WalletError::from)?;
    if answer["signing_input"].as_str() != Some(local_input.as_str()) {
        return Err(bad(
            w,
            "the licence claim",
            "its signing input differs from the claim computed here; nothing was signed".into(),
        ));
    }
    let signature = key.sign(local_input.as_bytes());
    let body = json!({
        "issuer": issuer, "licence": licence_hex, "isrc": checked.isrc,
        "title": title, "artist": artist, "signature": hex::encode(signature.0),
    });
    let tagged = w
        .client
        .post(
            &format!("/v1/uploads/{upload}/licence"),
            "application/json",
            body.to_string().as_bytes(),
            "the licence",
        )
        .map_err(WalletError::from)?;
    let blob_id = tagged["blob"]
        .as_str()
        .and_then(Hash::from_hex)
        .ok_or_else(|| bad(w, "the licence", format!("no blob id in {tagged}")))?;
    if tagged["track"].as_str() != Some(track_id.to_string().as_str()) {
        return Err(bad(
            w,
            "the licence",
            format!("it names track {} instead of {track_id}", tagged["track"]),
        ));
    }

    // Register.
    let action = Action::RegisterTrack {
        essence_id: essence.hash,
        blob_id,
        metadata,
        licence,
        holders: holders.clone(),
    };
    let sent = w.send_signed(&s, action, &key, args.send)?;
    let mut out = sent.out.clone();
    out["track"] = json!(track_id.to_string());
    out["essence_id"] = json!(essence.to_string());
    out["blob_id"] = json!(blob_id.to_hex());
    out["upload"] = json!(upload);
    out["title"] = json!(title);
    out["artist"] = json!(artist);
    out["price"] = s.assets.json(&price_asset, price);
    out["holders"] = json!(
        holders
            .iter()
            .map(|h| json!({ "account": h.account.to_did(), "shares": h.shares, "percent": percent(u64::from(h.shares)) }))
            .collect::<Vec<_>>()
    );
    out["claim"] = tagged["claim"].clone();
    let split_words: Vec<String> = holders
        .iter()
        .map(|h| format!("{} {}%", h.account.to_did(), percent(u64::from(h.shares))))
        .collect();
    let text = format!(
        "{} track {track_id}\n  \"{title}\" by {artist}, {} per stream\n  split     {}\n{}",
        if sent.committed() {
            "published"
        } else {
            "publishing"
        },
        s.assets.show(&price_asset, price),
        split_words.join(", "),
        sent.footer(&s)
    );
    print(w.json, &out, &text);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isrcs_read_with_or_without_hyphens() {
        assert_eq!(parse_isrc("GB-AYE-24-00001").unwrap(), "GBAYE2400001");
        assert_eq!(parse_isrc("gbaye2400001").unwrap(), "GBAYE2400001");
        for bad in ["XX-1", "GB-AYE-24-0000A", "1BAYE2400001", ""] {
            let e = parse_isrc(bad).unwrap_err();
            assert!(e.to_string().contains("is not an ISRC"), "{bad}: {e}");
        }
    }

    #[test]
    fn shares_are_whole_or_a_percentage() {
        assert_eq!(parse_shares("250000").unwrap().get(), 250_000);
        assert_eq!(parse_shares("12.5%").unwrap().get(), 125_000);
        assert_eq!(parse_shares("0.0001%").unwrap().get(), 1);
        for (bad, why) in [
            ("1.5", "whole"),
            ("0", "zero"),
            ("-3", "negative"),
            ("1000001", "only 1,000,000"),
            ("0.00001%", "4 decimal places"),
            ("abc", "not a decimal number"),
        ] {
            let e = parse_shares(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
