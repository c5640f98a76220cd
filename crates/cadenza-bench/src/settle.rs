//! The `settle` benchmark: how many stream receipts the ledger settles per second.
//!
//! Setup (not timed): a genesis with many listeners funded in a payment asset (`CUSD`, 6
//! decimals) and in `CDZ` for fees, one provider, and tracks registered with several holders
//! each and a licence priced in `CUSD` (prices that do not split evenly into fees); then one
//! channel per listener, opened to the provider.
//!
//! Off the clock, every listener signs a chain of receipts for tracks drawn by a fixed-seed
//! generator and one voucher over them; the provider packs the channel updates into
//! `SettleChannels` transactions. Timed: one `execute_block` over all of them, the whole block
//! (signatures, receipt chains, checks, fee splits, royalty credits, conservation check, sorted
//! changes). The block is executed several times against the same pre-state, which `execute_block`
//! does not modify, and the best run is reported (the median too, as an informative line): on a
//! shared machine other work only ever adds time, so the fastest run is the most reproducible
//! estimate of the cost. The references are taken the same way. Applying the changes to the
//! in-memory state and computing its Merkle root are timed separately and reported as informative
//! lines only.
//!
//! The references, measured in the same run: single-thread BLAKE3 on 96-byte messages (a receipt
//! chain step) and ed25519 batch verification (a voucher signature), see [`crate::reference`].

use std::process::ExitCode;
use std::time::{Duration, Instant};

use cadenza_ledger::testkit::{MemoryChain, Wallet};
use cadenza_ledger::{
    Block, BlockOutcome, Event, Genesis, GenesisAsset, MemoryState, Params, execute_block,
};
use cadenza_types::tx::{RECEIPTS_PER_UPDATE_MAX, UPDATES_MAX};
use cadenza_types::{
    AccountId, Action, Amount, AssetId, ChainId, ChannelId, ChannelUpdate, Hash, Holder, Licence,
    Price, Receipt, ReceiptChain, SecretKey, SignedTransaction, TrackId, TrackMetadata, Uses,
    Voucher,
};

use crate::json::{Line, Num};
use crate::reference::{self, SigSet, median, per_second};
use crate::rng::SplitMix64;

/// The benchmark's name in its output lines.
const BENCH: &str = "settle";
/// The payment asset's symbol.
const PAY_SYMBOL: &str = "CUSD";
/// The payment asset's decimals.
const PAY_DECIMALS: u8 = 6;
/// Genesis time: 2026-01-01T00:00:00Z.
const GENESIS_MS: u64 = 1_767_225_600_000;
/// The fee every transaction offers (the minimum), in CDZ base units.
const FEE: u128 = 1_000;
/// The cheapest stream, in CUSD base units (0.001 CUSD).
const PRICE_MIN: u128 = 1_000;
/// Prices are drawn from `PRICE_MIN..PRICE_MIN + PRICE_SPREAD`.
const PRICE_SPREAD: u64 = 4_000;
/// The most a listener adds on top of a track's price (some receipts pay a little more).
const TIP_MAX: u64 = 6;
/// The protocol's minimum play time, which every receipt reaches.
const MIN_PLAY_MS: u32 = 30_000;
/// How many tracks each artist registers (at least one artist).
const TRACKS_PER_ARTIST: usize = 100;
/// The pool of royalty holders that tracks draw their holders from.
const HOLDER_POOL: usize = 64;
/// Transactions per setup block.
const SETUP_BLOCK_TXS: usize = 2_000;
/// The fixed seed of the workload.
const SEED: u64 = 0xCADE_2A5E_771E;

/// The size of one run of the benchmark.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Listeners, one channel each.
    pub channels: usize,
    /// Receipts per channel, all covered by one voucher.
    pub receipts: usize,
    /// Registered tracks the receipts are drawn from.
    pub tracks: usize,
    /// Channel updates per `SettleChannels` transaction.
    pub updates_per_tx: usize,
    /// Timed executions of the settlement block, and runs of each reference (the best is
    /// reported).
    pub runs: usize,
    /// Messages hashed for the BLAKE3 reference, per run.
    pub hash_messages: usize,
    /// Signatures verified for the ed25519 reference, per run.
    pub sig_items: usize,
}

impl Default for Config {
    /// The published size: 10,000 channels × 100 receipts = 1,000,000 receipts in 100
    /// transactions over 1,000 tracks.
    fn default() -> Self {
        Config {
            channels: 10_000,
            receipts: 100,
            tracks: 1_000,
            updates_per_tx: 100,
            runs: 5,
            hash_messages: 5_000_000,
            sig_items: 10_000,
        }
    }
}

impl Config {
    /// A size small enough for a debug-build test.
    #[cfg(test)]
    pub fn tiny() -> Config {
        Config {
            channels: 20,
            receipts: 5,
            tracks: 12,
            updates_per_tx: 8,
            runs: 1,
            hash_messages: 1_000,
            sig_items: 8,
        }
    }

    /// Reads `--channels N --receipts M --tracks T --updates-per-tx U --runs R` (and accepts
    /// `--json`) on top of the defaults.
    pub fn parse(args: &[String]) -> Result<Config, String> {
        let mut cfg = Config::default();
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let mut value = |name: &str| -> Result<usize, String> {
                let text = it.next().ok_or(format!("{name} needs a number"))?;
                let text = text.replace('_', "");
                text.parse::<usize>()
                    .map_err(|_| format!("{name} needs a whole number, not `{text}`"))
            };
            match flag.as_str() {
                "--json" => {}
                "--channels" => cfg.channels = value("--channels")?,
                "--receipts" => cfg.receipts = value("--receipts")?,
                "--tracks" => cfg.tracks = value("--tracks")?,
                "--updates-per-tx" => cfg.updates_per_tx = value("--updates-per-tx")?,
                "--runs" => cfg.runs = value("--runs")?,
                other => return Err(format!("unknown option `{other}`")),
            }
        }
        cfg.check()?;
        Ok(cfg)
    }

    /// Refuses sizes the ledger or the workload cannot take.
    pub fn check(&self) -> Result<(), String> {
        if self.channels == 0 || self.receipts == 0 || self.tracks == 0 || self.runs == 0 {
            return Err("--channels, --receipts, --tracks and --runs must be positive".into());
        }
        if self.updates_per_tx == 0 || self.updates_per_tx > UPDATES_MAX {
            return Err(format!("--updates-per-tx must be 1 to {UPDATES_MAX}"));
        }
        if self.receipts > RECEIPTS_PER_UPDATE_MAX {
            return Err(format!(
                "--receipts must be at most {RECEIPTS_PER_UPDATE_MAX} (one channel update)"
            ));
        }
        if self.tracks > 99_999 {
            return Err("--tracks must be at most 99999 (ISRC designation codes)".into());
        }
        Ok(())
    }

    /// The receipts settled by the timed block.
    pub fn total_receipts(&self) -> usize {
        self.channels * self.receipts
    }
}

/// `count` items per second in the best of `runs` timings of `measure`.
fn rate(runs: usize, count: usize, mut measure: impl FnMut() -> Duration) -> f64 {
    let best = (0..runs.max(1))
        .map(|_| measure())
        .min()
        .unwrap_or(Duration::MAX);
    per_second(count, best)
}

/// The usage text of `settle`.
pub const USAGE: &str = "\
usage: cadenza-bench settle [--json] [--channels N] [--receipts M] [--tracks T]
                            [--updates-per-tx U] [--runs R]

Settles N channels x M receipts (default 10000 x 100 = 1,000,000 receipts over 1000
tracks, 100 channel updates per SettleChannels transaction) in one block, timed over R runs
(default 5; the best run is reported), next to the machine's BLAKE3 and ed25519 batch-verify
rates measured in the same run. JSON lines go to stdout (--json is accepted; stdout is always
JSON lines), progress to stderr.";

/// The `settle` subcommand: parses its arguments, runs, prints JSON lines.
pub fn main(args: &[String]) -> ExitCode {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let cfg = match Config::parse(args) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("cadenza-bench settle: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&cfg, &mut |msg| eprintln!("[settle] {msg}")) {
        Ok(lines) => {
            for line in lines {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cadenza-bench settle: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A chain ready for the timed block: tracks registered, channels open.
struct World {
    chain: MemoryChain,
    chain_id: ChainId,
    provider: Wallet,
    listeners: Vec<Wallet>,
    channels: Vec<ChannelId>,
    /// Each track and its price in CUSD base units.
    tracks: Vec<(TrackId, u128)>,
}

/// The seed of the `index`-th key of a kind of participant.
fn seed(kind: u8, index: usize) -> [u8; 32] {
    let mut s = [0u8; 32];
    s[0] = kind;
    s[1..9].copy_from_slice(&(index as u64).to_le_bytes());
    s[31] = 0xbe;
    s
}

/// Executes `txs` as setup blocks and fails unless every transaction succeeds.
fn execute_all(
    chain: &mut MemoryChain,
    txs: Vec<SignedTransaction>,
    what: &str,
) -> Result<(), String> {
    let mut txs = txs.into_iter().peekable();
    while txs.peek().is_some() {
        let block: Vec<_> = txs.by_ref().take(SETUP_BLOCK_TXS).collect();
        let results = chain.execute(block);
        if let Some((i, bad)) = results.iter().enumerate().find(|(_, o)| o.result.is_err()) {
            return Err(format!("{what}: transaction {i} refused: {:?}", bad.result));
        }
    }
    Ok(())
}

fn build_world(cfg: &Config, rng: &mut SplitMix64) -> Result<World, String> {
    let chain_id = ChainId::new("cadenza-bench").map_err(|e| e.to_string())?;
    let fee = Amount::new(FEE);
    let pay = AssetId::genesis(PAY_SYMBOL);

    let listeners: Vec<Wallet> = (0..cfg.channels)
        .map(|i| Wallet::new(seed(1, i), chain_id.clone(), fee))
        .collect();
    let provider = Wallet::new(seed(2, 0), chain_id.clone(), fee);
    let artist_count = cfg.tracks.div_ceil(TRACKS_PER_ARTIST);
    let mut artists: Vec<Wallet> = (0..artist_count)
        .map(|i| Wallet::new(seed(3, i), chain_id.clone(), fee))
        .collect();
    let holders: Vec<AccountId> = (0..HOLDER_POOL)
        .map(|i| SecretKey::from_seed(seed(4, i)).account())
        .collect();
    let proposer = SecretKey::from_seed(seed(5, 0)).account();

    // Enough escrow for every receipt at the highest price and tip, and some left over.
    let max_paid = PRICE_MIN + u128::from(PRICE_SPREAD) + u128::from(TIP_MAX);
    let deposit = max_paid * cfg.receipts as u128;
    let cdz_each = Amount::new(FEE * 1_000_000);
    let mut cdz: Vec<(AccountId, Amount)> =
        listeners.iter().map(|w| (w.account(), cdz_each)).collect();
    cdz.push((provider.account(), cdz_each));
    cdz.extend(artists.iter().map(|w| (w.account(), cdz_each)));
    let cusd: Vec<(AccountId, Amount)> = listeners
        .iter()
        .map(|w| (w.account(), Amount::new(deposit + 1_000_000)))
        .collect();

    let per_tx = (cfg.updates_per_tx * cfg.receipts) as u32;
    let params = Params {
        min_fee: fee,
        protocol_fee_bps: 150,
        provider_fee_bps: 1_250,
        min_play_ms: MIN_PLAY_MS,
        max_receipts_per_tx: Params::default().max_receipts_per_tx.max(per_tx),
        ..Params::default()
    };
    let genesis = Genesis {
        chain_id: chain_id.clone(),
        time_ms: GENESIS_MS,
        params,
        assets: vec![
            GenesisAsset {
                symbol: cadenza_ledger::params::NATIVE_SYMBOL.to_owned(),
                decimals: 6,
                balances: cdz,
            },
            GenesisAsset {
                symbol: PAY_SYMBOL.to_owned(),
                decimals: PAY_DECIMALS,
                balances: cusd,
            },
        ],
        faucet: None,
    };
    let mut chain = MemoryChain::new(&genesis, proposer);

    // Tracks: several holders each, shares that do not split evenly, prices that do not split
    // evenly into the fees.
    let mut tracks = Vec::with_capacity(cfg.tracks);
    let mut txs = Vec::with_capacity(cfg.tracks);
    for i in 0..cfg.tracks {
        let price = PRICE_MIN + u128::from(rng.below(PRICE_SPREAD));
        let holder_count = 2 + rng.index(4);
        let mut chosen: Vec<AccountId> = Vec::with_capacity(holder_count);
        while chosen.len() < holder_count {
            let h = holders[rng.index(holders.len())];
            if !chosen.contains(&h) {
                chosen.push(h);
            }
        }
        let each = cadenza_ledger::TOTAL_SHARES / holder_count as u32;
        let first = cadenza_ledger::TOTAL_SHARES - each * (holder_count as u32 - 1);
        let holders: Vec<Holder> = chosen
            .iter()
            .enumerate()
            .map(|(k, account)| Holder {
                account: *account,
                shares: if k == 0 { first } else { each },
            })
            .collect();
        let essence_id = Hash(rng.bytes32());
        tracks.push((TrackId::from_essence(&essence_id), price));
        let artist = &mut artists[i / TRACKS_PER_ARTIST];
        txs.push(artist.sign(Action::RegisterTrack {
            essence_id,
            blob_id: Hash(rng.bytes32()),
            metadata: TrackMetadata {
                title: format!("Bench track {i}"),
                artist: format!("Bench artist {}", i / TRACKS_PER_ARTIST),
                isrc: Some(format!("ZZBEN26{i:05}")),
            },
            licence: Licence {
                price: Price {
                    asset: pay,
                    amount: Amount::new(price),
                },
                uses: Uses::STREAM,
                territories: Vec::new(),
                valid_from_ms: 0,
                valid_until_ms: None,
                url: "https://cadenza.example/licences/stream-v1".to_owned(),
                min_play_ms: 0,
            },
            holders,
        }));
    }
    execute_all(&mut chain, txs, "registering tracks")?;

    // One channel per listener, to the provider.
    let expiry_ms = GENESIS_MS + 90 * 24 * 3_600 * 1_000;
    let mut listeners = listeners;
    let mut channels = Vec::with_capacity(cfg.channels);
    let mut txs = Vec::with_capacity(cfg.channels);
    for listener in &mut listeners {
        channels.push(ChannelId::derive(&listener.account(), listener.nonce));
        txs.push(listener.sign(Action::OpenChannel {
            provider: provider.account(),
            asset: pay,
            deposit: Amount::new(deposit),
            expiry_ms,
        }));
    }
    execute_all(&mut chain, txs, "opening channels")?;

    Ok(World {
        chain,
        chain_id,
        provider,
        listeners,
        channels,
        tracks,
    })
}

/// Every listener's receipts and voucher, packed into the provider's settlement transactions.
fn build_settlement(
    cfg: &Config,
    world: &mut World,
    rng: &mut SplitMix64,
) -> (Vec<SignedTransaction>, u128) {
    let mut updates = Vec::with_capacity(cfg.channels);
    let mut grand_total: u128 = 0;
    for (listener, channel) in world.listeners.iter().zip(&world.channels) {
        let mut head = ReceiptChain::start(channel);
        let mut cumulative: u128 = 0;
        let mut at_ms = GENESIS_MS + rng.below(3_600_000);
        let receipts: Vec<Receipt> = (0..cfg.receipts)
            .map(|_| {
                let (track, price) = world.tracks[rng.index(world.tracks.len())];
                let tip = if rng.below(4) == 0 {
                    u128::from(rng.below(TIP_MAX + 1))
                } else {
                    0
                };
                let played_ms = u64::from(MIN_PLAY_MS) + rng.below(240_000);
                let receipt = Receipt {
                    track,
                    amount: Amount::new(price + tip),
                    played_ms,
                    at_ms,
                };
                at_ms += played_ms + rng.below(5_000);
                cumulative += price + tip;
                head = ReceiptChain::next(&head, &receipt);
                receipt
            })
            .collect();
        grand_total += cumulative;
        let voucher = Voucher {
            chain_id: world.chain_id.clone(),
            channel: *channel,
            seq: cfg.receipts as u64,
            cumulative: Amount::new(cumulative),
            head,
        }
        .sign(&listener.key);
        updates.push(ChannelUpdate { voucher, receipts });
    }
    let mut txs = Vec::with_capacity(cfg.channels.div_ceil(cfg.updates_per_tx));
    let mut updates = updates.into_iter().peekable();
    while updates.peek().is_some() {
        let chunk: Vec<ChannelUpdate> = updates.by_ref().take(cfg.updates_per_tx).collect();
        txs.push(
            world
                .provider
                .sign(Action::SettleChannels { updates: chunk }),
        );
    }
    (txs, grand_total)
}

/// Fails unless every transaction succeeded and the events account for every channel, receipt
/// and unit paid.
fn check_outcome(cfg: &Config, outcome: &BlockOutcome, expected_paid: u128) -> Result<(), String> {
    if let Some((i, bad)) = outcome
        .results
        .iter()
        .enumerate()
        .find(|(_, o)| o.result.is_err())
    {
        return Err(format!(
            "settlement transaction {i} refused: {:?}",
            bad.result
        ));
    }
    let mut settled = 0usize;
    let mut paid: u128 = 0;
    let mut streams: u64 = 0;
    for event in outcome.results.iter().flat_map(|o| &o.events) {
        match event {
            Event::ChannelSettled { paid: p, .. } => {
                settled += 1;
                paid += p.get();
            }
            Event::RoyaltiesAccrued { streams: s, .. } => streams += s,
            _ => {}
        }
    }
    if settled != cfg.channels || paid != expected_paid || streams != cfg.total_receipts() as u64 {
        return Err(format!(
            "events do not add up: {settled} channels settled (expected {}), {paid} paid \
             (expected {expected_paid}), {streams} streams (expected {})",
            cfg.channels,
            cfg.total_receipts()
        ));
    }
    Ok(())
}

/// Runs the benchmark at size `cfg`, reporting progress through `progress`, and returns the
/// output lines.
pub fn run(cfg: &Config, progress: &mut dyn FnMut(&str)) -> Result<Vec<Line>, String> {
    cfg.check()?;
    let mut rng = SplitMix64::new(SEED);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());

    let start = Instant::now();
    progress(&format!(
        "setup: genesis with {} listeners, {} tracks, {} channels",
        cfg.channels, cfg.tracks, cfg.channels
    ));
    let mut world = build_world(cfg, &mut rng)?;
    progress(&format!("setup done in {:.1?}", start.elapsed()));

    let start = Instant::now();
    let (txs, expected_paid) = build_settlement(cfg, &mut world, &mut rng);
    let tx_count = txs.len();
    progress(&format!(
        "signed {} receipts in {} vouchers and {} SettleChannels transactions in {:.1?}",
        cfg.total_receipts(),
        cfg.channels,
        tx_count,
        start.elapsed()
    ));
    let block = Block {
        height: world.chain.height() + 1,
        time_ms: world.chain.next_time_ms,
        proposer: world.chain.proposer,
        txs,
    };

    // Timed: the whole block, several times against the same (untouched) pre-state.
    let mut times = Vec::with_capacity(cfg.runs);
    let mut last: Option<BlockOutcome> = None;
    for run in 0..cfg.runs {
        drop(last.take());
        let start = Instant::now();
        let outcome = execute_block(&world.chain.state, &block)
            .map_err(|e| format!("execute_block refused the block: {e}"))?;
        let elapsed = start.elapsed();
        check_outcome(cfg, &outcome, expected_paid)?;
        progress(&format!(
            "run {}/{}: execute_block {:.1?} ({:.0} receipts/s)",
            run + 1,
            cfg.runs,
            elapsed,
            per_second(cfg.total_receipts(), elapsed)
        ));
        times.push(elapsed);
        last = Some(outcome);
    }
    let outcome = last.expect("at least one run");
    let best = times.iter().min().copied().unwrap_or(Duration::MAX);
    let middle = median(&times);
    let receipts_per_s = per_second(cfg.total_receipts(), best);

    // Informative: applying the changes and the state root (not part of the figure).
    let changed_keys = outcome.changes.len();
    let mut state: MemoryState = world.chain.state.clone();
    let start = Instant::now();
    state.apply(outcome.changes);
    let apply = start.elapsed();
    let start = Instant::now();
    let root = state.root();
    let root_time = start.elapsed();
    progress(&format!(
        "apply {apply:.1?} ({changed_keys} keys), root {root_time:.1?} over {} entries ({})",
        state.len(),
        &root.to_hex()[..16]
    ));
    drop(state);
    drop(block);
    drop(world);

    // References, in the same run.
    progress(&format!(
        "reference: BLAKE3 over {} chained 96-byte messages, {} runs on 1 and on {threads} threads",
        cfg.hash_messages, cfg.runs
    ));
    let hashes_per_s = rate(cfg.runs, cfg.hash_messages, || {
        reference::blake3_96b_chain(cfg.hash_messages, 1)
    });
    let hashes_all_threads_per_s = rate(cfg.runs, cfg.hash_messages, || {
        reference::blake3_96b_chain(cfg.hash_messages, threads)
    });
    progress(&format!(
        "reference: ed25519 batch verification of {} distinct signatures, {} runs on 1 and on \
         {threads} threads",
        cfg.sig_items, cfg.runs
    ));
    let set = SigSet::new(cfg.sig_items, &mut rng);
    let sigs_per_s = rate(cfg.runs, set.len(), || {
        reference::ed25519_batch_verify(&set, 1)
    });
    let sigs_all_threads_per_s = rate(cfg.runs, set.len(), || {
        reference::ed25519_batch_verify(&set, threads)
    });
    progress(&format!(
        "references (best of runs): {hashes_per_s:.0} hashes/s on 1 thread, \
         {hashes_all_threads_per_s:.0} on {threads}; {sigs_per_s:.0} signatures/s on 1 thread, \
         {sigs_all_threads_per_s:.0} on {threads}"
    ));

    let value = Num::rounded(receipts_per_s);
    Ok(vec![
        Line::against(
            BENCH,
            "receipts_per_s",
            value,
            "blake3_96B_hashes_per_s",
            Num::rounded(hashes_per_s),
        ),
        Line::against(
            BENCH,
            "receipts_per_s",
            value,
            "ed25519_batch_verify_per_s",
            Num::rounded(sigs_per_s),
        ),
        Line::info(BENCH, "execute_block_ms", Num::millis(best)),
        Line::info(BENCH, "execute_block_median_ms", Num::millis(middle)),
        Line::info(BENCH, "timed_runs", Num::Int(cfg.runs as u64)),
        Line::info(BENCH, "receipts", Num::Int(cfg.total_receipts() as u64)),
        Line::info(BENCH, "channels", Num::Int(cfg.channels as u64)),
        Line::info(BENCH, "txs", Num::Int(tx_count as u64)),
        Line::info(BENCH, "changed_keys", Num::Int(changed_keys as u64)),
        Line::info(BENCH, "state_apply_ms", Num::millis(apply)),
        Line::info(BENCH, "state_root_ms", Num::millis(root_time)),
        Line::info(
            BENCH,
            "blake3_96B_hashes_all_threads_per_s",
            Num::rounded(hashes_all_threads_per_s),
        ),
        Line::info(
            BENCH,
            "ed25519_batch_verify_all_threads_per_s",
            Num::rounded(sigs_all_threads_per_s),
        ),
        Line::info(BENCH, "threads", Num::Int(threads as u64)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settles_a_tiny_block_end_to_end() {
        let cfg = Config::tiny();
        let mut log = Vec::new();
        let lines = run(&cfg, &mut |m| log.push(m.to_owned())).expect("the bench runs");
        assert!(log.iter().any(|m| m.contains("execute_block")));
        let parsed: Vec<serde_json::Value> = lines
            .iter()
            .map(|l| serde_json::from_str(&l.to_string()).expect("each line is JSON"))
            .collect();
        let headline: Vec<&serde_json::Value> = parsed
            .iter()
            .filter(|v| v["figure"] == "receipts_per_s")
            .collect();
        assert_eq!(headline.len(), 2);
        let references: Vec<&str> = headline
            .iter()
            .map(|v| v["reference"].as_str().expect("a reference name"))
            .collect();
        assert_eq!(
            references,
            ["blake3_96B_hashes_per_s", "ed25519_batch_verify_per_s"]
        );
        for v in &parsed {
            let obj = v.as_object().expect("an object");
            assert_eq!(obj["bench"], "settle");
            assert!(obj["figure"].is_string());
            assert!(obj["value"].is_number(), "{v}");
            if obj.contains_key("reference") {
                let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
                assert_eq!(keys.len(), 6);
                for k in ["reference", "reference_value", "ratio"] {
                    assert!(keys.contains(&k));
                }
                assert!(obj["reference_value"].as_f64().is_some_and(|r| r > 0.0));
                assert!(obj["ratio"].as_f64().is_some_and(|r| r > 0.0));
            }
        }
        let receipts = parsed
            .iter()
            .find(|v| v["figure"] == "receipts")
            .expect("a receipts line");
        assert_eq!(receipts["value"], 100);
        let txs = parsed
            .iter()
            .find(|v| v["figure"] == "txs")
            .expect("a txs line");
        assert_eq!(txs["value"], 3);
    }

    #[test]
    fn options_parse_and_are_checked() {
        let args = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        let cfg = Config::parse(&args("--json --channels 50 --receipts 1_000")).unwrap();
        assert_eq!((cfg.channels, cfg.receipts), (50, 1_000));
        assert_eq!(cfg.tracks, Config::default().tracks);
        assert!(Config::parse(&args("--channels")).is_err());
        assert!(Config::parse(&args("--channels x")).is_err());
        assert!(Config::parse(&args("--receipts 0")).is_err());
        assert!(Config::parse(&args("--frobnicate")).is_err());
    }
}
