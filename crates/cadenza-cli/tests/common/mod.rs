//! Helpers for tests that run `cadenza` node processes and talk to their HTTP API.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
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
