//! The `node` benchmark: signed transfers committed per second by a devnet, with a client on
//! loopback, and finality latency with four validators on loopback under load.
//!
//! Throughput: a one-validator node (the devnet's code path: consensus, QMDB state, HTTP API) is
//! embedded in this process with its data in a temporary folder. Off the clock, `ACCOUNTS`
//! funded accounts each sign `TXS_PER_ACCOUNT` transfers. Timed: from the first batch posted to
//! `POST /v1/txs/batch` (1,024 transactions per request, two client threads over keep-alive
//! connections) until the node's `cadenza_txs_committed_total` counts every transaction as
//! committed (fsynced). Afterwards every account's nonce and a sample of transaction records are
//! checked: each transfer committed and succeeded.
//!
//! Finality: four validators (each its own tokio runtime, authenticated p2p on 127.0.0.1) in
//! this process; transfers are posted to all four while validator 0's `cadenza_finality_ms`
//! histogram records, for every block it commits, the time from the block's proposal (its
//! timestamp) to its commit there. The median and p99 are read from the histogram (the upper
//! bound of the bucket holding the quantile, so never an underestimate). Two loads: every
//! transfer posted at once (the rate reported is what the four sustained, admission included),
//! then, on the same network, a steady load of half that rate for five seconds (requests of 64
//! transfers, each posted at its time, to the validators in turn).
//!
//! The reference, measured in the same run: ed25519 signatures verified per second, one at a
//! time and in batches, on the machine's two threads (the devnet verifies each signature once,
//! at admission; its blocks find them vouched for by the mempool).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use cadenza_ledger::testkit::Wallet;
use cadenza_ledger::{Genesis, GenesisAsset, Params, native_asset};
use cadenza_node::run::{NodeConfig, run_until, validator_key};
use cadenza_types::{Action, Amount, ChainId, Encode as _, SignedTransaction};

use crate::json::{Line, Num};
use crate::reference::{self, SigSet, per_second};
use crate::rng::SplitMix64;

const BENCH: &str = "node";
const FEE: u128 = 1_000;
const BATCH: usize = 1_024;

struct Options {
    accounts: usize,
    txs_per_account: usize,
    finality_txs: usize,
}

fn options(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        accounts: 2_048,
        txs_per_account: 64,
        finality_txs: 40_000,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| -> Result<usize, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{name} takes a whole number"))
        };
        match arg.as_str() {
            "--accounts" => o.accounts = value("--accounts")?,
            "--txs-per-account" => o.txs_per_account = value("--txs-per-account")?.min(200),
            "--finality-txs" => o.finality_txs = value("--finality-txs")?,
            "-h" | "--help" => {
                return Err(
                    "options: --accounts N (2048) --txs-per-account N (64, at most 200) \
                     --finality-txs N (40000)"
                        .into(),
                );
            }
            other => return Err(format!("unknown option `{other}`")),
        }
    }
    Ok(o)
}

pub fn main(args: &[String]) -> ExitCode {
    let o = match options(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    // The node's logs, when asked for (RUST_LOG=cadenza_node=debug shows each block's timing).
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .try_init();
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: a debug build; run with `cargo run --release -p cadenza-bench -- node`"
        );
    }

    // The reference: ed25519 verification on both threads, one at a time and in batches.
    let mut rng = SplitMix64::new(7);
    let set = SigSet::new(8_192, &mut rng);
    let single = (0..3).map(|_| single_verify(&set)).min().expect("runs");
    let batch = (0..3)
        .map(|_| reference::ed25519_batch_verify(&set, 2))
        .min()
        .expect("runs");
    let single_rate = per_second(set.len(), single);
    let batch_rate = per_second(set.len(), batch);
    eprintln!(
        "reference: ed25519 {single_rate:.0}/s one at a time, {batch_rate:.0}/s in batches (2 threads)"
    );

    let tps = match throughput(&o) {
        Ok(tps) => tps,
        Err(e) => {
            eprintln!("throughput run failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    for (reference, rate) in [
        ("ed25519_verify_per_s_2_threads", single_rate),
        ("ed25519_batch_verify_per_s_2_threads", batch_rate),
    ] {
        println!(
            "{}",
            Line::against(
                BENCH,
                "devnet_committed_transfers_per_s",
                Num::rounded(tps),
                reference,
                Num::rounded(rate),
            )
        );
    }

    match finality(&o) {
        Ok(f) => {
            for (figure, value) in [
                ("four_validators_load_transfers_per_s", Num::rounded(f.load)),
                ("four_validators_finality_p50_ms_at_most", Num::Int(f.p50)),
                ("four_validators_finality_p99_ms_at_most", Num::Int(f.p99)),
                (
                    "four_validators_paced_load_transfers_per_s",
                    Num::rounded(f.paced_load),
                ),
                (
                    "four_validators_paced_finality_p50_ms_at_most",
                    Num::Int(f.paced_p50),
                ),
                (
                    "four_validators_paced_finality_p99_ms_at_most",
                    Num::Int(f.paced_p99),
                ),
            ] {
                println!("{}", Line::info(BENCH, figure, value));
            }
        }
        Err(e) => {
            eprintln!("finality run failed: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

fn single_verify(set: &SigSet) -> Duration {
    let items = set.items();
    let start = Instant::now();
    std::thread::scope(|s| {
        for chunk in items.chunks(items.len().div_ceil(2)) {
            s.spawn(move || {
                for it in chunk {
                    cadenza_types::crypto::verify(it.signer, it.message, it.signature)
                        .expect("valid reference signature");
                }
            });
        }
    });
    start.elapsed()
}

pub(crate) fn chain_id() -> ChainId {
    ChainId::new("cadenza-bench").expect("valid")
}

pub(crate) fn wallets(n: usize, offset: usize) -> Vec<Wallet> {
    (0..n)
        .map(|i| {
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&((i + offset) as u64).to_le_bytes());
            seed[8] = 0xbe;
            Wallet::new(seed, chain_id(), Amount::new(FEE))
        })
        .collect()
}

fn genesis(accounts: &[Wallet]) -> Genesis {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as u64;
    Genesis {
        chain_id: chain_id(),
        time_ms: now,
        params: Params::default(),
        assets: vec![GenesisAsset {
            symbol: "CDZ".into(),
            decimals: 9,
            balances: accounts
                .iter()
                .map(|w| (w.account(), Amount::new(1_000_000_000_000)))
                .collect(),
        }],
        faucet: None,
    }
}

/// Signs `per_account` transfers for every wallet, ordered nonce level by nonce level, as hex
/// batches of [`BATCH`].
fn sign_batches(wallets: &mut [Wallet], per_account: usize) -> Vec<String> {
    sign_batches_of(wallets, per_account, BATCH)
}

/// [`sign_batches`] in batches of `batch` transactions.
fn sign_batches_of(wallets: &mut [Wallet], per_account: usize, batch: usize) -> Vec<String> {
    let n = wallets.len();
    let mut txs: Vec<SignedTransaction> = Vec::with_capacity(n * per_account);
    for _ in 0..per_account {
        for i in 0..n {
            let to = wallets[(i + 1) % n].account();
            txs.push(wallets[i].sign(Action::Transfer {
                to,
                asset: native_asset(),
                amount: Amount::new(1),
            }));
        }
    }
    txs.chunks(batch)
        .map(|chunk| {
            let items: Vec<String> = chunk
                .iter()
                .map(|t| format!("\"{}\"", hex_encode(&t.to_bytes())))
                .collect();
            format!("{{\"txs\":[{}]}}", items.join(","))
        })
        .collect()
}

pub(crate) fn hex_encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// The node's `/metrics` text.
fn metrics(agent: &ureq::Agent, url: &str) -> Result<String, String> {
    agent
        .get(&format!("{url}/metrics"))
        .call()
        .map_err(|e| e.to_string())?
        .body_mut()
        .read_to_string()
        .map_err(|e| e.to_string())
}

pub(crate) fn committed_total(agent: &ureq::Agent, url: &str) -> Result<u64, String> {
    let text = metrics(agent, url)?;
    text.lines()
        .find_map(|l| l.strip_prefix("cadenza_txs_committed_total "))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| "no cadenza_txs_committed_total in /metrics".to_owned())
}

/// Posts one batch to `url`; returns the number of its transactions refused.
fn post_batch(agent: &ureq::Agent, url: &str, body: &str) -> usize {
    let mut response = agent
        .post(&format!("{url}/v1/txs/batch"))
        .header("content-type", "application/json")
        .send(body.as_bytes())
        .expect("the node answers");
    let text = response.body_mut().read_to_string().expect("a body");
    text.matches("\"error\"").count()
}

/// Posts `batches` from `threads` client threads; returns the number of transactions refused.
fn post_all(url: &str, batches: &[String], threads: usize) -> usize {
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let agent = agent();
                    let mut refused = 0;
                    for body in batches.iter().skip(t).step_by(threads) {
                        refused += post_batch(&agent, url, body);
                    }
                    refused
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("client")).sum()
    })
}

pub(crate) struct Running {
    pub(crate) url: String,
    stop: Option<futures::channel::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

pub(crate) struct TempDir(pub(crate) PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn start_node(config: NodeConfig, dir: TempDir) -> Result<Running, String> {
    let (started_tx, started_rx) = mpsc::channel();
    let (stop, stopped) = futures::channel::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let result = run_until(
            config,
            move |s| {
                let _ = started_tx.send(s.http);
            },
            async move {
                let _ = stopped.await;
            },
        );
        if let Err(e) = result {
            eprintln!("node failed: {e}");
        }
    });
    let http: SocketAddr = started_rx
        .recv_timeout(Duration::from_secs(120))
        .map_err(|_| "the node did not start".to_owned())?;
    Ok(Running {
        url: format!("http://{http}"),
        stop: Some(stop),
        thread: Some(thread),
        _dir: dir,
    })
}

pub(crate) fn temp_dir(name: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!("cadenza-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    TempDir(dir)
}

fn throughput(o: &Options) -> Result<f64, String> {
    let mut wallets = wallets(o.accounts, 0);
    let genesis = genesis(&wallets);
    eprintln!(
        "signing {} transfers from {} accounts (off the clock)",
        o.accounts * o.txs_per_account,
        o.accounts
    );
    let batches = sign_batches(&mut wallets, o.txs_per_account);
    let total = (o.accounts * o.txs_per_account) as u64;
    let key = validator_key(&[9; 32]);
    let dir = temp_dir("devnet");
    let config = NodeConfig {
        data_dir: dir.0.clone(),
        key: key.clone(),
        peers: vec![(
            cadenza_node::run::public_key(&key),
            SocketAddr::from(([127, 0, 0, 1], 0)),
        )],
        p2p_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        http_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        genesis,
        mempool_capacity: 400_000,
        worker_threads: 2,
        provider: None,
        demo_catalogue: None,
    };
    let node = start_node(config, dir)?;
    let agent = agent();
    let base = committed_total(&agent, &node.url)?;

    let start = Instant::now();
    let url = node.url.clone();
    let poster = std::thread::spawn(move || post_all(&url, &batches, 2));
    let mut last_report = Instant::now();
    loop {
        let done = committed_total(&agent, &node.url)? - base;
        if done >= total {
            break;
        }
        if last_report.elapsed() > Duration::from_secs(2) {
            eprintln!(
                "  {done}/{total} committed after {:.1} s",
                start.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
        if start.elapsed() > Duration::from_secs(600) {
            return Err(format!("only {done} of {total} committed in 10 minutes"));
        }
        // `/metrics` is a long text on a 2-core machine shared with the node: look every
        // 25 ms (under 1% of a run of several seconds).
        std::thread::sleep(Duration::from_millis(25));
    }
    let elapsed = start.elapsed();
    let refused = poster.join().map_err(|_| "client panicked")?;
    if refused > 0 {
        return Err(format!("{refused} transactions refused at admission"));
    }
    // Every account's transfers committed and succeeded.
    for w in wallets.iter().step_by((o.accounts / 64).max(1)) {
        let mut r = agent
            .get(&format!(
                "{}/v1/accounts/{}",
                node.url,
                w.account().to_did()
            ))
            .call()
            .map_err(|e| e.to_string())?;
        let text = r.body_mut().read_to_string().map_err(|e| e.to_string())?;
        let want = format!("\"nonce\":{}", o.txs_per_account);
        if !text.contains(&want) {
            return Err(format!(
                "account {} is not at nonce {}: {text}",
                w.account(),
                o.txs_per_account
            ));
        }
    }
    let tps = per_second(total as usize, elapsed);
    eprintln!("devnet: {total} transfers committed in {elapsed:.2?}: {tps:.0} tx/s");
    Ok(tps)
}

/// Finality at validator 0 of four, under load: (p50 bound, p99 bound, load in tx/s).
/// What the finality run measured: the load the four validators sustained when given all
/// transfers at once, and finality (p50, p99) then; and finality under a steady load of half
/// that rate (the load posted, p50, p99).
struct Finality {
    load: f64,
    p50: u64,
    p99: u64,
    paced_load: f64,
    paced_p50: u64,
    paced_p99: u64,
}

/// Transactions per request in the paced run: small, so that the load arrives steadily.
const PACED_BATCH: usize = 64;

/// How long the paced run posts.
const PACED_TIME: Duration = Duration::from_secs(5);

fn finality(o: &Options) -> Result<Finality, String> {
    let per_account = 20;
    let accounts = (o.finality_txs / per_account).max(1);
    let mut wallets = wallets(accounts, 1_000_000);
    let genesis = genesis(&wallets);
    let batches = sign_batches(&mut wallets, per_account);
    let total = (accounts * per_account) as u64;
    let keys: Vec<_> = (0..4u8).map(|i| validator_key(&[i + 1; 32])).collect();
    let ports: Vec<u16> = (0..4)
        .map(|_| {
            std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .map_err(|e| e.to_string())
        })
        .collect::<Result<_, _>>()?;
    let peers: Vec<_> = keys
        .iter()
        .zip(&ports)
        .map(|(k, p)| {
            (
                cadenza_node::run::public_key(k),
                SocketAddr::from(([127, 0, 0, 1], *p)),
            )
        })
        .collect();
    let mut nodes = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let dir = temp_dir(&format!("validator-{i}"));
        nodes.push(start_node(
            NodeConfig {
                data_dir: dir.0.clone(),
                key: key.clone(),
                peers: peers.clone(),
                p2p_listen: peers[i].1,
                http_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
                genesis: genesis.clone(),
                mempool_capacity: 200_000,
                worker_threads: 1,
                provider: None,
                demo_catalogue: None,
            },
            dir,
        )?);
    }
    let agent = agent();
    // Wait for the network to finalize.
    let deadline = Instant::now() + Duration::from_secs(60);
    while histogram(&agent, &nodes[0].url)?.1 < 3 {
        if Instant::now() > deadline {
            return Err("four validators did not finalize within a minute".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let (before, _) = histogram(&agent, &nodes[0].url)?;
    let base = committed_total(&agent, &nodes[0].url)?;
    let start = Instant::now();
    let urls: Vec<String> = nodes.iter().map(|n| n.url.clone()).collect();
    let poster = std::thread::spawn(move || {
        std::thread::scope(|s| {
            for (i, url) in urls.iter().enumerate() {
                let mine: Vec<String> = batches.iter().skip(i).step_by(4).cloned().collect();
                s.spawn(move || post_all(url, &mine, 1));
            }
        })
    });
    loop {
        let done = committed_total(&agent, &nodes[0].url)? - base;
        if done >= total {
            break;
        }
        if start.elapsed() > Duration::from_secs(600) {
            return Err(format!("only {done} of {total} committed in 10 minutes"));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let load = per_second(total as usize, start.elapsed());
    poster.join().map_err(|_| "client panicked")?;
    let (after, _) = histogram(&agent, &nodes[0].url)?;
    let counts = difference(&after, &before);
    let blocks = counts.last().map_or(0, |(_, c)| *c);
    eprintln!("four validators: {total} transfers in {blocks} blocks at {load:.0} tx/s");

    // The same network under a steady load of half that rate: small batches, each posted at
    // its time, to the four validators in turn, for `PACED_TIME`.
    let rate = (load / 2.0).max(100.0);
    let rounds = ((rate * PACED_TIME.as_secs_f64()) / accounts as f64).ceil() as usize;
    let paced = sign_batches_of(&mut wallets, rounds.max(1), PACED_BATCH);
    let paced_total = (accounts * rounds.max(1)) as u64;
    let interval = Duration::from_secs_f64(PACED_BATCH as f64 / rate);
    let (before, _) = histogram(&agent, &nodes[0].url)?;
    let base = committed_total(&agent, &nodes[0].url)?;
    let urls: Vec<String> = nodes.iter().map(|n| n.url.clone()).collect();
    let start = Instant::now();
    let client = agent.clone();
    let poster = std::thread::spawn(move || -> usize {
        let agent = client;
        let mut refused = 0;
        for (k, body) in paced.iter().enumerate() {
            let due = start + interval * k as u32;
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
            refused += post_batch(&agent, &urls[k % urls.len()], body);
        }
        refused
    });
    loop {
        let done = committed_total(&agent, &nodes[0].url)? - base;
        if done >= paced_total {
            break;
        }
        if start.elapsed() > Duration::from_secs(600) {
            return Err(format!(
                "paced: only {done} of {paced_total} committed in 10 minutes"
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let posting = start.elapsed();
    let refused = poster.join().map_err(|_| "client panicked")?;
    if refused > 0 {
        return Err(format!("paced: {refused} transfers refused"));
    }
    let (after, _) = histogram(&agent, &nodes[0].url)?;
    let paced_counts = difference(&after, &before);
    let paced_blocks = paced_counts.last().map_or(0, |(_, c)| *c);
    eprintln!(
        "four validators, paced: {paced_total} transfers posted at {rate:.0} tx/s, all committed \
         after {:.1} s, in {paced_blocks} blocks",
        posting.as_secs_f64()
    );
    Ok(Finality {
        load,
        p50: quantile(&counts, 0.5),
        p99: quantile(&counts, 0.99),
        paced_load: rate,
        paced_p50: quantile(&paced_counts, 0.5),
        paced_p99: quantile(&paced_counts, 0.99),
    })
}

/// The histogram counts between two readings.
fn difference(after: &[(u64, u64)], before: &[(u64, u64)]) -> Vec<(u64, u64)> {
    after
        .iter()
        .zip(before)
        .map(|((bound, a), (_, b))| (*bound, a - b))
        .collect()
}

/// The cumulative finality histogram at `url` (bucket bound, count), and the block count.
fn histogram(agent: &ureq::Agent, url: &str) -> Result<(Vec<(u64, u64)>, u64), String> {
    let text = metrics(agent, url)?;
    let mut buckets = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("cadenza_finality_ms_bucket{le=\"") {
            let (bound, count) = rest.split_once("\"} ").ok_or("malformed bucket")?;
            let bound = if bound == "+Inf" {
                u64::MAX
            } else {
                bound.parse().map_err(|_| "malformed bound")?
            };
            buckets.push((bound, count.trim().parse().map_err(|_| "malformed count")?));
        }
    }
    let total = buckets.last().map_or(0, |(_, c)| *c);
    Ok((buckets, total))
}

/// The upper bound of the bucket holding quantile `q` of a cumulative histogram.
fn quantile(cumulative: &[(u64, u64)], q: f64) -> u64 {
    let total = cumulative.last().map_or(0, |(_, c)| *c);
    let rank = (q * total as f64).ceil() as u64;
    cumulative
        .iter()
        .find(|(_, c)| *c >= rank.max(1))
        .map_or(u64::MAX, |(b, _)| *b)
}

#[cfg(test)]
mod tests {
    use super::quantile;

    #[test]
    fn quantiles_are_bucket_upper_bounds() {
        let h = [(10, 0), (20, 50), (50, 99), (100, 100), (u64::MAX, 100)];
        assert_eq!(quantile(&h, 0.5), 20);
        assert_eq!(quantile(&h, 0.99), 50);
        assert_eq!(quantile(&h, 1.0), 100);
    }
}
