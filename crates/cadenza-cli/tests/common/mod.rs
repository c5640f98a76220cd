//! Helpers for tests that run `cadenza` node processes and talk to their HTTP API.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A node process; killed when dropped.
pub struct NodeProcess {
    pub child: Child,
    pub url: String,
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl NodeProcess {
    /// Stops the node with SIGTERM (as Ctrl-C does) and waits; returns whether it exited 0.
    pub fn terminate(mut self) -> bool {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status.success();
            }
            assert!(
                Instant::now() < deadline,
                "the node did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the node with SIGKILL and waits.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `cadenza <args> --json` and waits for the line announcing its URL.
pub fn start(home: &Path, args: &[&str], envs: &[(&str, &str)]) -> NodeProcess {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cadenza"));
    command
        .args(args)
        .arg("--json")
        .env("CADENZA_HOME", home)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in envs {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("cadenza starts");
    let stdout = child.stdout.take().expect("piped");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the node prints its address");
    let doc: Value = serde_json::from_str(&line)
        .unwrap_or_else(|e| panic!("the node's first line is JSON ({e}): {line:?}"));
    let url = doc["url"].as_str().expect("a url").to_owned();
    NodeProcess { child, url }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(40)))
        .build()
        .into()
}

/// GET `url`: the status and the JSON body.
pub fn get(url: &str) -> (u16, Value) {
    let mut response = agent().get(url).call().expect("the node answers");
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().expect("a body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// POST `body` to `url` with a content type: the status and the JSON body.
pub fn post(url: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
    let mut response = agent()
        .post(url)
        .header("content-type", content_type)
        .send(&body[..])
        .expect("the node answers");
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().expect("a body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Submits a signed transaction (as `curl -d '{"tx":"<hex>"}'` would).
pub fn submit(url: &str, stx: &cadenza_types::SignedTransaction) -> (u16, Value) {
    use cadenza_types::Encode as _;
    let body = serde_json::json!({ "tx": hex::encode(stx.to_bytes()) }).to_string();
    post(
        &format!("{url}/v1/txs"),
        "application/json",
        body.into_bytes(),
    )
}

/// Waits for the transaction to commit and returns its record.
pub fn wait_committed(url: &str, hash: &cadenza_types::Hash) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = get(&format!("{url}/v1/txs/{}?wait_ms=5000", hash.to_hex()));
        if status == 200 && body["status"] == "committed" {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "transaction {} did not commit: {status} {body}",
            hash.to_hex()
        );
    }
}

/// Waits until the node's height reaches `height`.
pub fn wait_height(url: &str, height: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = get(&format!("{url}/v1/status"));
        if status == 200 && body["height"].as_u64().unwrap_or(0) >= height {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "height {height} not reached: {body}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The devnet's chain id.
pub fn devnet_chain() -> cadenza_types::ChainId {
    cadenza_types::ChainId::new("cadenza-devnet").unwrap()
}

/// A wallet for `seed` on `chain`, paying `fee` base units per transaction.
pub fn wallet(
    seed: u8,
    chain: cadenza_types::ChainId,
    fee: u128,
) -> cadenza_ledger::testkit::Wallet {
    cadenza_ledger::testkit::Wallet::new([seed; 32], chain, cadenza_types::Amount::new(fee))
}

/// Announces a body of `len` bytes to `url` (host:port/path after `http://`), sends none of it,
/// and returns the status and JSON body of the answer: a server must refuse an oversized body
/// from its announced length, before reading it.
pub fn post_announcing(url: &str, path: &str, len: usize) -> (u16, Value) {
    use std::io::{Read as _, Write as _};
    let host = url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {text:?}"));
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    // A chunked body: take the JSON object out of it.
    let json = body
        .find('{')
        .and_then(|start| body.rfind('}').map(|end| &body[start..=end]))
        .unwrap_or("");
    (
        status,
        serde_json::from_str(json).unwrap_or(Value::String(body.to_owned())),
    )
}

/// Every committed block of the node at `url` up to `height`, rebuilt from the API's answers
/// (each checked against its digest).
pub fn fetch_blocks(url: &str, height: u64) -> Vec<cadenza_node::block::Block> {
    use cadenza_types::Decode as _;
    use commonware_cryptography::Digestible as _;
    let digest = |v: &Value| {
        let bytes: [u8; 32] = hex::decode(v.as_str().expect("hex"))
            .expect("hex")
            .try_into()
            .expect("32 bytes");
        commonware_cryptography::blake3::Digest(bytes)
    };
    (1..=height)
        .map(|h| {
            let (status, b) = get(&format!("{url}/v1/blocks/{h}?raw=true"));
            assert_eq!(status, 200, "block {h}: {b}");
            let txs = b["txs"]
                .as_array()
                .expect("txs")
                .iter()
                .map(|t| {
                    cadenza_types::SignedTransaction::from_bytes(
                        &hex::decode(t["raw"].as_str().expect("raw")).expect("hex"),
                    )
                    .expect("a transaction")
                })
                .collect();
            let block = cadenza_node::block::Block {
                height: b["height"].as_u64().expect("height"),
                parent: digest(&b["parent"]),
                timestamp_ms: b["timestamp_ms"].as_u64().expect("time"),
                proposer: cadenza_types::AccountId::from_did(b["proposer"].as_str().unwrap())
                    .expect("did"),
                txs_root: digest(&b["txs_root"]),
                state_root: digest(&b["state_root"]),
                txs,
            };
            assert_eq!(block.digest(), digest(&b["digest"]), "block {h} digest");
            block
        })
        .collect()
}

/// Replays `blocks` from `genesis` in a fresh state store (Commonware's deterministic runtime,
/// in memory): each block's execution must give the state root it carries. Audits conservation
/// on the final state and returns its root.
pub fn replay(
    genesis: &cadenza_ledger::Genesis,
    blocks: &[cadenza_node::block::Block],
) -> cadenza_node::block::Digest {
    use cadenza_node::store::{Base, StateStore, StoreConfig};
    use commonware_runtime::{
        Runner as _, Supervisor as _, buffer::paged::CacheRef, deterministic,
    };
    use std::num::{NonZeroU16, NonZeroUsize};
    let genesis = genesis.clone();
    let blocks = blocks.to_vec();
    deterministic::Runner::default().start(|context| async move {
        let config = StoreConfig {
            partition_prefix: "replay".into(),
            page_cache: CacheRef::new(
                NonZeroU16::new(4096).unwrap(),
                NonZeroUsize::new(256).unwrap(),
            ),
        };
        let mut store = StateStore::open(context.child("replay"), &config, &genesis)
            .await
            .expect("genesis opens");
        for block in &blocks {
            let executed = store
                // Nothing vouched for: every signature is verified again.
                .execute(&Base::Committed, block, &cadenza_ledger::VerifyAll)
                .await
                .expect("a committed block executes");
            assert_eq!(
                executed.pending.state_root, block.state_root,
                "replaying block {} gives another state root",
                block.height
            );
            store.commit(executed.pending).await.expect("commit");
        }
        let entries = store.committed().read().range(&[], None, usize::MAX);
        cadenza_ledger::conservation::audit(
            entries.iter().map(|(k, v)| (k.as_slice(), v.as_slice())),
        )
        .expect("conservation holds after replay");
        store.root()
    })
}

/// A small deterministic generator (splitmix64) for test schedules, seeded and printed.
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A first port for a test's listeners, in 20,000-31,999: below Linux's ephemeral range
    /// (32,768-60,999), so that no outgoing connection (the validators dial each other) is given
    /// the port between the test's check that it is free and the node's bind. CI once saw a
    /// validator fail to bind its p2p port chosen inside that range.
    pub fn port_base(&mut self) -> u16 {
        20_000 + self.below(12_000) as u16
    }
}

/// The seed of a test: `CADENZA_TEST_SEED` if set, else from the clock; printed either way.
pub fn seed(test: &str) -> u64 {
    let seed = std::env::var("CADENZA_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("{test}: seed {seed} (rerun with CADENZA_TEST_SEED={seed})");
    seed
}

/// An HTTP answer with its headers and raw body.
pub struct Raw {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Raw {
    /// A header's value (names compared without case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// GET `url` with request headers, keeping the answer's headers and bytes.
pub fn get_raw(url: &str, headers: &[(&str, &str)]) -> Raw {
    let mut request = agent().get(url);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let mut response = request.call().expect("the node answers");
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let body = response
        .body_mut()
        .with_config()
        .limit(512 * 1024 * 1024)
        .read_to_vec()
        .expect("a body");
    Raw {
        status,
        headers,
        body,
    }
}

// ---- running the `cadenza` binary as a user does -------------------------------------------------

/// The passphrase of every test keystore.
pub const PASS: &str = "correct horse battery staple";

/// Runs `cadenza args` with `home`, the passphrase and `envs` (no `CADENZA_*` inherited).
pub fn cadenza(home: &Path, envs: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cadenza"));
    cmd.args(args)
        .env("CADENZA_HOME", home)
        .env("CADENZA_PASSPHRASE", PASS)
        .env_remove("CADENZA_NODE")
        .env_remove("CADENZA_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("the cadenza binary runs")
}

/// [`cadenza`] against the node at `node`.
pub fn cadenza_at(home: &Path, node: &str, args: &[&str]) -> Output {
    cadenza(home, &[("CADENZA_NODE", node)], args)
}

/// What a command printed on stdout.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A command's status and both outputs, for assertion messages.
pub fn describe(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        stdout(out),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The one JSON document a `--json` command printed (success or not).
pub fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is one JSON document ({e}): {}", describe(out)))
}

/// The JSON document of a command that must have succeeded.
pub fn json_of(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "the command succeeds: {}",
        describe(out)
    );
    json(out)
}

/// Checks that a command succeeded; returns its output.
pub fn success(out: Output) -> Output {
    assert!(
        out.status.success(),
        "the command succeeds: {}",
        describe(&out)
    );
    out
}

/// Checks a refusal: its exit status and code; returns its message.
pub fn refused(out: &Output, status: i32, code: &str) -> String {
    assert_eq!(out.status.code(), Some(status), "{}", describe(out));
    let doc = json(out);
    assert_eq!(doc["error"]["code"], code, "{doc}");
    doc["error"]["message"]
        .as_str()
        .expect("a message")
        .to_owned()
}

/// A devnet with its data in `home/data`, its API on a free port of 127.0.0.1 and `extra`
/// arguments, started and past its first block.
pub fn devnet(home: &Path, extra: &[&str]) -> NodeProcess {
    let data = home.join("data");
    let mut args = vec![
        "devnet",
        "--data",
        data.to_str().unwrap(),
        "--http",
        "127.0.0.1:0",
    ];
    args.extend_from_slice(extra);
    let node = start(home, &args, &[]);
    wait_height(&node.url, 1);
    node
}

/// Where a listener's receipt chain stands: its head, the last voucher's seq and cumulative.
pub type ReceiptState = (cadenza_types::Hash, u64, u128);

/// Signs a receipt for one stream of `track` at `price` (heard for `played_ms`) and the voucher
/// over the extended receipt chain, sends both to the provider at `url`, checks the
/// acknowledgement and returns it.
pub fn pay_stream(
    url: &str,
    chain_id: cadenza_types::ChainId,
    listener: &cadenza_types::SecretKey,
    channel: &cadenza_types::ChannelId,
    state: &mut ReceiptState,
    (track, price, played_ms): (cadenza_types::TrackId, u128, u64),
) -> Value {
    use cadenza_types::{Amount, ChannelUpdate, Encode as _, Receipt, ReceiptChain, Voucher};
    let now = get(&format!("{url}/v1/status")).1["block_time_ms"]
        .as_u64()
        .unwrap();
    let receipt = Receipt {
        track,
        amount: Amount::new(price),
        played_ms,
        at_ms: now,
    };
    state.0 = ReceiptChain::extend(&state.0, std::slice::from_ref(&receipt));
    state.1 += 1;
    state.2 += price;
    let voucher = Voucher {
        chain_id,
        channel: *channel,
        seq: state.1,
        cumulative: Amount::new(state.2),
        head: state.0,
    }
    .sign(listener);
    let update = ChannelUpdate {
        voucher,
        receipts: vec![receipt],
    };
    let body = serde_json::json!({ "update": hex::encode(update.to_bytes()) }).to_string();
    let (code, ack) = post(
        &format!("{url}/v1/channels/{channel}/vouchers"),
        "application/json",
        body.into_bytes(),
    );
    assert_eq!(code, 200, "{ack}");
    ack
}
