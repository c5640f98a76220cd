//! The provider's benchmarks, each against an embedded devnet-style node with a provider (the
//! same code path as `cadenza devnet`: consensus, QMDB state, HTTP API, intake log, blob store):
//!
//! - `vouchers`: channel updates acknowledged per second by `POST /v1/vouchers` (1,024 updates of
//!   1,024 channels per request, two client threads over keep-alive connections; each update is
//!   judged by the ledger's rule and fsynced before its answer). Reference, in the same run:
//!   ed25519 signatures batch-verified per second on one thread (intake verifies each batch's
//!   signatures on one thread).
//! - `stream`: `GET /v1/tracks/{id}/audio` on a 10 MiB file (every byte verified against its
//!   BLAKE3/bao tree as it leaves the store, and the stream gate asked on every request): 64 KiB
//!   ranges at random offsets, requests per second, and whole files, bytes per second, from four
//!   client threads over keep-alive connections (a lean client, [`crate::getter`], so that the
//!   servers, not the client, take most of the two cores). Reference, in the same run: Debian's
//!   nginx serving the same bytes from a file on 127.0.0.1 to the same client. The bench names
//!   the package to install when nginx is missing.

use std::net::SocketAddr;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use cadenza_ledger::testkit::{Wallet, stream_licence};
use cadenza_ledger::{Genesis, GenesisAsset, Params};
use cadenza_node::provider::ProviderConfig;
use cadenza_node::run::{NodeConfig, validator_key};
use cadenza_types::{
    Action, Amount, AssetId, ChannelId, ChannelUpdate, Encode as _, Hash, Holder, Receipt,
    ReceiptChain, SecretKey, TrackId, TrackMetadata, Voucher,
};

use crate::getter::Getter;
use crate::json::{Line, Num};
use crate::node::{Running, agent, chain_id, committed_total, hex_encode, start_node, temp_dir};
use crate::reference::{self, SigSet, per_second};
use crate::rng::SplitMix64;

const FEE: u128 = 1_000;
const PRICE: u128 = 1_000;

fn cusd() -> AssetId {
    AssetId::genesis("CUSD")
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as u64
}

/// A node with a provider, every account of `funded` holding CDZ for fees and CUSD to stream.
fn provider_node(
    name: &str,
    funded: &[cadenza_types::AccountId],
    provider: &SecretKey,
) -> Result<Running, String> {
    let mut accounts: Vec<_> = funded.to_vec();
    accounts.push(provider.account());
    let genesis = Genesis {
        chain_id: chain_id(),
        time_ms: now_ms(),
        params: Params::default(),
        assets: vec![
            GenesisAsset {
                symbol: "CDZ".into(),
                decimals: 9,
                balances: accounts
                    .iter()
                    .map(|a| (*a, Amount::new(1_000_000_000_000)))
                    .collect(),
            },
            GenesisAsset {
                symbol: "CUSD".into(),
                decimals: 6,
                balances: accounts
                    .iter()
                    .map(|a| (*a, Amount::new(1_000_000_000_000)))
                    .collect(),
            },
        ],
        faucet: None,
    };
    let key = validator_key(&[11; 32]);
    let dir = temp_dir(name);
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
        mempool_capacity: 100_000,
        worker_threads: 2,
        provider: Some(ProviderConfig {
            key: provider.clone(),
            dir: dir.0.join("provider"),
            // Settlement is not what is measured: it waits until the run is over.
            settle_interval: Duration::from_secs(3_600),
            settle_receipts: usize::MAX,
            stream_window: cadenza_node::provider::STREAM_WINDOW,
            blob_listen: None,
            blob_peers: Vec::new(),
        }),
        demo_catalogue: None,
    };
    start_node(config, dir)
}

fn post_json(agent: &ureq::Agent, url: &str, body: &str) -> Result<String, String> {
    agent
        .post(url)
        .header("content-type", "application/json")
        .send(body.as_bytes())
        .map_err(|e| e.to_string())?
        .body_mut()
        .read_to_string()
        .map_err(|e| e.to_string())
}

/// Submits `txs` in batches and waits until the node has committed `txs.len()` more.
fn commit_all(url: &str, txs: &[cadenza_types::SignedTransaction]) -> Result<(), String> {
    let agent = agent();
    let base = committed_total(&agent, url)?;
    for chunk in txs.chunks(1_024) {
        let items: Vec<String> = chunk
            .iter()
            .map(|t| format!("\"{}\"", hex_encode(&t.to_bytes())))
            .collect();
        let answer = post_json(
            &agent,
            &format!("{url}/v1/txs/batch"),
            &format!("{{\"txs\":[{}]}}", items.join(",")),
        )?;
        if answer.contains("\"error\"") {
            return Err(format!("a set-up transaction was refused: {answer}"));
        }
    }
    let deadline = Instant::now() + Duration::from_secs(300);
    while committed_total(&agent, url)? < base + txs.len() as u64 {
        if Instant::now() > deadline {
            return Err("set-up transactions did not commit".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    for t in txs.iter().rev().take(1) {
        let mut response = agent
            .get(&format!("{url}/v1/txs/{}", t.hash().to_hex()))
            .call()
            .map_err(|e| e.to_string())?;
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| e.to_string())?;
        if !text.contains("\"ok\":true") {
            return Err(format!("a set-up transaction failed: {text}"));
        }
    }
    Ok(())
}

fn wallet(i: u64, tag: u8) -> Wallet {
    let mut seed = [tag; 32];
    seed[..8].copy_from_slice(&i.to_le_bytes());
    Wallet::new(seed, chain_id(), Amount::new(FEE))
}

/// `cadenza-bench vouchers [--channels N] [--rounds N]`.
pub fn vouchers_main(args: &[String]) -> ExitCode {
    let (mut channels, mut rounds) = (1_024usize, 16usize);
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let value = it.next().and_then(|v| v.parse().ok());
        match (arg.as_str(), value) {
            ("--channels", Some(v)) => channels = v,
            ("--rounds", Some(v)) => rounds = v,
            _ => {
                eprintln!("usage: cadenza-bench vouchers [--channels N] [--rounds N]");
                return ExitCode::from(2);
            }
        }
    }
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: a debug build; run with `cargo run --release -p cadenza-bench -- vouchers`"
        );
    }
    match vouchers(channels.clamp(1, 1_024), rounds.max(1)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vouchers bench failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn vouchers(n: usize, rounds: usize) -> Result<(), String> {
    let mut rng = SplitMix64::new(11);
    let set = SigSet::new(8_192, &mut rng);
    let batch = (0..3)
        .map(|_| reference::ed25519_batch_verify(&set, 1))
        .min()
        .expect("runs");
    let reference_rate = per_second(set.len(), batch);
    eprintln!("reference: ed25519 {reference_rate:.0}/s batch-verified on one thread");

    let provider = SecretKey::from_seed([12; 32]);
    let mut artist = wallet(0, 0xa7);
    let mut listeners: Vec<Wallet> = (0..n as u64).map(|i| wallet(i, 0x15)).collect();
    let mut funded: Vec<_> = listeners.iter().map(Wallet::account).collect();
    funded.push(artist.account());
    let node = provider_node("vouchers", &funded, &provider)?;
    let url = node.url.clone();

    eprintln!("registering a track and opening {n} channels (off the clock)");
    let essence = Hash([0x5e; 32]);
    let register = artist.sign(Action::RegisterTrack {
        essence_id: essence,
        blob_id: Hash([0x5f; 32]),
        metadata: TrackMetadata {
            title: "Bench".into(),
            artist: "Bench".into(),
            isrc: None,
        },
        licence: stream_licence(cusd(), PRICE, 30_000),
        holders: vec![Holder {
            account: artist.account(),
            shares: 1_000_000,
        }],
    });
    commit_all(&url, &[register])?;
    let track = TrackId::from_essence(&essence);
    let mut opens = Vec::with_capacity(n);
    let mut ids = Vec::with_capacity(n);
    for l in &mut listeners {
        ids.push(ChannelId::derive(&l.account(), l.nonce));
        opens.push(l.sign(Action::OpenChannel {
            provider: provider.account(),
            asset: cusd(),
            deposit: Amount::new(PRICE * (rounds as u128 + 1)),
            expiry_ms: now_ms() + 86_400_000,
        }));
    }
    commit_all(&url, &opens)?;

    eprintln!("signing {} vouchers (off the clock)", n * rounds);
    let at_ms = now_ms();
    let mut heads: Vec<Hash> = ids.iter().map(ReceiptChain::start).collect();
    // Per client thread, its requests in order: thread t takes channels t, t+2, …
    let threads = 2;
    let mut bodies: Vec<Vec<String>> = vec![Vec::new(); threads];
    for round in 1..=rounds as u64 {
        let mut parts: Vec<Vec<String>> = vec![Vec::new(); threads];
        for (i, l) in listeners.iter().enumerate() {
            let receipt = Receipt {
                track,
                amount: Amount::new(PRICE),
                played_ms: 30_000,
                at_ms,
            };
            heads[i] = ReceiptChain::extend(&heads[i], std::slice::from_ref(&receipt));
            let voucher = Voucher {
                chain_id: chain_id(),
                channel: ids[i],
                seq: round,
                cumulative: Amount::new(PRICE * u128::from(round)),
                head: heads[i],
            }
            .sign(&l.key);
            let update = ChannelUpdate {
                voucher,
                receipts: vec![receipt],
            };
            parts[i % threads].push(format!("\"{}\"", hex_encode(&update.to_bytes())));
        }
        for (t, part) in parts.into_iter().enumerate() {
            bodies[t].push(format!("{{\"updates\":[{}]}}", part.join(",")));
        }
    }

    let start = Instant::now();
    let acked: Result<Vec<usize>, String> = std::thread::scope(|s| {
        let handles: Vec<_> = bodies
            .iter()
            .map(|requests| {
                let url = url.clone();
                s.spawn(move || -> Result<usize, String> {
                    let agent = agent();
                    let mut acked = 0;
                    for body in requests {
                        let answer = post_json(&agent, &format!("{url}/v1/vouchers"), body)?;
                        if answer.contains("\"error\"") {
                            return Err(format!(
                                "an update was refused: {}",
                                &answer[..answer.len().min(400)]
                            ));
                        }
                        acked += answer.matches("\"acknowledged\":true").count();
                    }
                    Ok(acked)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("client"))
            .collect()
    });
    let elapsed = start.elapsed();
    let acked: usize = acked?.iter().sum();
    if acked != n * rounds {
        return Err(format!("{acked} of {} updates acknowledged", n * rounds));
    }
    let rate = per_second(acked, elapsed);
    eprintln!(
        "{acked} updates acknowledged (fsynced) in {:.2} s",
        elapsed.as_secs_f64()
    );
    println!(
        "{}",
        Line::against(
            "vouchers",
            "vouchers_acknowledged_per_s",
            Num::rounded(rate),
            "ed25519_batch_verify_per_s_1_thread",
            Num::rounded(reference_rate),
        )
    );
    drop(node);
    Ok(())
}

/// `cadenza-bench stream [--seconds S] [--part ranges|whole]` (10 s per server and part by
/// default).
pub fn stream_main(args: &[String]) -> ExitCode {
    let mut seconds = 10u64;
    let mut part = Part::Both;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let value = it.next().map(String::as_str);
        match (arg.as_str(), value) {
            ("--seconds", Some(v)) if v.parse::<u64>().is_ok() => {
                seconds = v.parse().expect("checked")
            }
            ("--part", Some("ranges")) => part = Part::Ranges,
            ("--part", Some("whole")) => part = Part::Whole,
            _ => {
                eprintln!("usage: cadenza-bench stream [--seconds S] [--part ranges|whole]");
                return ExitCode::from(2);
            }
        }
    }
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: a debug build; run with `cargo run --release -p cadenza-bench -- stream`"
        );
    }
    match stream(Duration::from_secs(seconds.max(1)), part) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stream bench failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A WAV of about 10 MiB (a minute of stereo 16-bit at 44.1 kHz), synthesised.
fn ten_mib_wav() -> Result<Vec<u8>, String> {
    use cadenza_content::demo::{self, DemoTrack};
    const SCORE: DemoTrack = DemoTrack {
        title: "Bench",
        artist: "Bench",
        chords: &[
            &[261_626, 329_628, 392_000],
            &[174_614, 220_000, 261_626],
            &[195_998, 246_942, 293_665],
            &[220_000, 261_626, 329_628],
        ],
        chord_ms: 15_000,
    };
    demo::encode_wav(&demo::synthesize(&SCORE)).map_err(|e| e.to_string())
}

struct Nginx {
    child: std::process::Child,
    port: u16,
    _dir: crate::node::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM lets the master stop its workers; SIGKILL would leave them running (and
        // holding this process's stdout open).
        let stopped = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .is_ok_and(|s| s.success());
        if !stopped {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

fn nginx_binary() -> Option<String> {
    ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"]
        .iter()
        .find(|p| std::path::Path::new(p).exists())
        .map(|p| (*p).to_owned())
}

/// nginx serving `bytes` as `/track` on 127.0.0.1 (two workers, like the node's two threads).
fn start_nginx(bytes: &[u8]) -> Result<Nginx, String> {
    let binary = nginx_binary().ok_or(
        "nginx is not installed: it is the reference. Install it with `sudo apt-get install nginx-light` (Debian) and run again",
    )?;
    let dir = temp_dir("nginx");
    std::fs::create_dir_all(dir.0.join("www")).map_err(|e| e.to_string())?;
    std::fs::write(dir.0.join("www/track"), bytes).map_err(|e| e.to_string())?;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        l.local_addr().map_err(|e| e.to_string())?.port()
    };
    let conf = format!(
        "daemon off; worker_processes 2; pid {d}/nginx.pid; error_log {d}/error.log;\n\
         events {{ worker_connections 1024; }}\n\
         http {{ access_log off; sendfile on; keepalive_requests 100000;\n\
           client_body_temp_path {d}/tmp; proxy_temp_path {d}/tmp; fastcgi_temp_path {d}/tmp;\n\
           uwsgi_temp_path {d}/tmp; scgi_temp_path {d}/tmp;\n\
           server {{ listen 127.0.0.1:{port}; root {d}/www; }} }}\n",
        d = dir.0.display()
    );
    std::fs::write(dir.0.join("nginx.conf"), conf).map_err(|e| e.to_string())?;
    let child = Command::new(&binary)
        .arg("-p")
        .arg(&dir.0)
        .arg("-c")
        .arg(dir.0.join("nginx.conf"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {binary}: {e}"))?;
    let nginx = Nginx {
        child,
        port,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return Err("nginx did not start listening".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(nginx)
}

/// Rounds per measurement: the two servers take turns, so that a change in the machine's load
/// during the run falls on both alike. Each round opens new connections, and which server
/// thread (or nginx worker) takes each of them is partly chance: many short rounds average it
/// out.
const ROUNDS: u32 = 10;

/// [`hammer`] on each of `urls` in turn, [`ROUNDS`] times, `time` in all for each: the mean
/// requests and bytes per second of each.
fn alternate(
    urls: [&str; 2],
    threads: usize,
    time: Duration,
    len: u64,
    range: Option<u64>,
) -> Result<[(f64, f64); 2], String> {
    let mut sums = [(0.0, 0.0); 2];
    for _ in 0..ROUNDS {
        for (url, sum) in urls.iter().zip(&mut sums) {
            let (requests, bytes) = hammer(url, threads, time / ROUNDS, len, range)?;
            sum.0 += requests / f64::from(ROUNDS);
            sum.1 += bytes / f64::from(ROUNDS);
        }
    }
    Ok(sums)
}

/// Requests per second and bytes per second from `threads` clients for `time`: each asks for
/// `range(i)` (`None`: the whole file) and checks the status and length.
fn hammer(
    url: &str,
    threads: usize,
    time: Duration,
    len: u64,
    range: Option<u64>,
) -> Result<(f64, f64), String> {
    let results: Result<Vec<(u64, u64)>, String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || -> Result<(u64, u64), String> {
                    let mut getter = Getter::connect(url)?;
                    let mut rng = SplitMix64::new(100 + t as u64);
                    let (mut requests, mut bytes) = (0u64, 0u64);
                    // One buffer for every response, as a player reuses its buffers: a fresh
                    // 10 MiB vector per response made the clients' page faults (and the
                    // allocator's state, shared with the node in this process) part of what
                    // was measured.
                    let mut body = vec![0u8; range.unwrap_or(len) as usize];
                    let start = Instant::now();
                    while start.elapsed() < time {
                        let (asked, expected, want) = match range {
                            Some(size) => {
                                let at = rng.below(len - size);
                                (Some((at, at + size - 1)), size, 206)
                            }
                            None => (None, len, 200),
                        };
                        let (status, got) = getter.get(asked, &mut body)?;
                        if status != want {
                            return Err(format!("{url}: status {status}"));
                        }
                        if got as u64 != expected {
                            return Err(format!("{url}: {got} bytes, expected {expected}"));
                        }
                        requests += 1;
                        bytes += expected;
                    }
                    Ok((requests, bytes))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("client"))
            .collect()
    });
    let results = results?;
    let requests: u64 = results.iter().map(|r| r.0).sum();
    let bytes: u64 = results.iter().map(|r| r.1).sum();
    Ok((
        requests as f64 / time.as_secs_f64(),
        bytes as f64 / time.as_secs_f64(),
    ))
}

/// Which of the two measurements to run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Both,
    Ranges,
    Whole,
}

fn stream(time: Duration, part: Part) -> Result<(), String> {
    let wav = ten_mib_wav()?;
    let provider = SecretKey::from_seed([13; 32]);
    let mut artist = wallet(1, 0xa8);
    let mut listener = wallet(2, 0x16);
    let node = provider_node("stream", &[artist.account(), listener.account()], &provider)?;
    let url = node.url.clone();
    let agent = agent();

    eprintln!(
        "uploading {} bytes and registering the track (off the clock)",
        wav.len()
    );
    let mut response = agent
        .post(&format!("{url}/v1/uploads"))
        .send(&wav[..])
        .map_err(|e| e.to_string())?;
    let staged = response
        .body_mut()
        .read_to_string()
        .map_err(|e| e.to_string())?;
    let field = |text: &str, name: &str| -> Result<String, String> {
        let key = format!("\"{name}\":\"");
        let at = text
            .find(&key)
            .ok_or_else(|| format!("no `{name}` in {text}"))?
            + key.len();
        let end = text[at..].find('"').ok_or("unterminated")? + at;
        Ok(text[at..end].to_owned())
    };
    let upload = field(&staged, "upload")?;
    let lic = stream_licence(cusd(), PRICE, 3_000);
    let terms = format!(
        "\"issuer\":\"{}\",\"licence\":\"{}\"",
        artist.account().to_did(),
        hex_encode(&lic.to_bytes())
    );
    let claim = post_json(
        &agent,
        &format!("{url}/v1/uploads/{upload}/claim"),
        &format!("{{{terms}}}"),
    )?;
    let signing_input = field(&claim, "signing_input")?;
    let signature = hex_encode(&artist.key.sign(signing_input.as_bytes()).0);
    let licensed = post_json(
        &agent,
        &format!("{url}/v1/uploads/{upload}/licence"),
        &format!("{{{terms},\"signature\":\"{signature}\"}}"),
    )?;
    let blob = Hash::from_hex(&field(&licensed, "blob")?).ok_or("a bad blob id")?;
    let essence = cadenza_content::essence_id(&wav).map_err(|e| e.to_string())?;
    let register = artist.sign(Action::RegisterTrack {
        essence_id: essence.hash,
        blob_id: blob,
        metadata: TrackMetadata {
            title: "Bench".into(),
            artist: "Bench".into(),
            isrc: None,
        },
        licence: lic,
        holders: vec![Holder {
            account: artist.account(),
            shares: 1_000_000,
        }],
    });
    let channel = ChannelId::derive(&listener.account(), listener.nonce);
    let open = listener.sign(Action::OpenChannel {
        provider: provider.account(),
        asset: cusd(),
        deposit: Amount::new(PRICE * 10),
        expiry_ms: now_ms() + 86_400_000,
    });
    commit_all(&url, &[register, open])?;
    let track = TrackId::from_essence(&essence.hash);
    let audio = format!("{url}/v1/tracks/{track}/audio?channel={channel}");
    // The file as served is the stored blob; nginx serves the same bytes.
    let mut response = agent.get(&audio).call().map_err(|e| e.to_string())?;
    let file = response
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_vec()
        .map_err(|e| e.to_string())?;
    if Hash(*blake3::hash(&file).as_bytes()) != blob {
        return Err("the served file is not the registered blob".into());
    }
    let nginx = start_nginx(&file)?;
    let reference_url = format!("http://127.0.0.1:{}/track", nginx.port);
    let len = file.len() as u64;
    let threads = 4;
    eprintln!(
        "64 KiB ranges and whole files, {threads} clients, {} s each",
        time.as_secs()
    );
    if part != Part::Whole {
        let [(ranges_ref, _), (ranges, _)] =
            alternate([&reference_url, &audio], threads, time, len, Some(65_536))?;
        println!(
            "{}",
            Line::against(
                "stream",
                "range_64k_requests_per_s",
                Num::rounded(ranges),
                "nginx_range_64k_requests_per_s",
                Num::rounded(ranges_ref),
            )
        );
    }
    if part != Part::Ranges {
        let [(_, whole_ref), (_, whole)] =
            alternate([&reference_url, &audio], threads, time, len, None)?;
        println!(
            "{}",
            Line::against(
                "stream",
                "whole_file_bytes_per_s",
                Num::rounded(whole),
                "nginx_whole_file_bytes_per_s",
                Num::rounded(whole_ref),
            )
        );
    }
    drop(nginx);
    drop(node);
    Ok(())
}
