//! `cadenza track publish` end to end, against the upload contract the node is getting
//! (`POST /v1/uploads`, `/v1/uploads/{id}/claim`, `/v1/uploads/{id}/licence`): until the node
//! serves it, a small stand-in on 127.0.0.1 implements those three routes with
//! `cadenza-content` (as the contract describes them) and passes every other request through to
//! a real devnet. The CLI uploads, checks the node's signing input against its own, signs it,
//! registers the track with its split and waits for the commit; the track is on the ledger with
//! its holders, and the tagged file the stand-in produced verifies offline and against the ledger.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use cadenza_content::{LicenceClaim, LicenceFields, SignedClaim};
use cadenza_types::{AccountId, AssetId, Decode as _, Licence, TrackId};
use common::*;
use serde_json::{Value, json};

const PASS: &str = "correct horse battery staple";

fn cadenza(home: &Path, node: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cadenza"))
        .args(args)
        .env("CADENZA_HOME", home)
        .env("CADENZA_PASSPHRASE", PASS)
        .env("CADENZA_NODE", node)
        .env_remove("CADENZA_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("the cadenza binary runs")
}

fn json_of(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON document")
}

/// What the stand-in keeps: uploads by id (their bytes), and the tagged files it produced.
#[derive(Default)]
struct Uploads {
    files: HashMap<String, Vec<u8>>,
    tagged: Vec<Vec<u8>>,
}

fn respond(stream: &mut TcpStream, status: u16, body: &Value) {
    let text = body.to_string();
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
}

fn error(code: &str, message: &str) -> Value {
    json!({ "error": { "code": code, "message": message } })
}

/// One of the three upload routes, as the contract describes it.
fn upload_route(path: &str, body: &[u8], state: &Mutex<Uploads>) -> (u16, Value) {
    let parts: Vec<&str> = path.trim_start_matches("/v1/uploads").split('/').collect();
    let chain = devnet_chain();
    match parts.as_slice() {
        [""] => match cadenza_content::analyse(body) {
            Err(e) => (415, error("not_audio", &e.to_string())),
            Ok(a) => {
                let id = blake3::hash(body).to_hex().to_string();
                state
                    .lock()
                    .unwrap()
                    .files
                    .insert(id.clone(), body.to_vec());
                let essence = a.essence_id;
                (
                    201,
                    json!({
                        "upload": id,
                        "essence": { "v": essence.version, "id": essence.hash.to_hex() },
                        "track": TrackId::from_essence(&essence.hash).to_string(),
                        "probe": { "format": a.probe.format.as_str() },
                        "bytes": body.len(),
                    }),
                )
            }
        },
        ["", id, step @ ("claim" | "licence")] => {
            let Some(file) = state.lock().unwrap().files.get(*id).cloned() else {
                return (404, error("unknown_upload", "no such upload"));
            };
            let req: Value = serde_json::from_slice(body).unwrap();
            let issuer = AccountId::from_did(req["issuer"].as_str().unwrap()).unwrap();
            let licence =
                Licence::from_bytes(&hex::decode(req["licence"].as_str().unwrap()).unwrap())
                    .unwrap();
            let isrc = req["isrc"].as_str().map(str::to_owned);
            let essence = cadenza_content::essence_id(&file).unwrap();
            let claim = LicenceClaim::new(issuer, essence, licence, isrc.clone(), chain);
            let input = claim.signing_input();
            if *step == "claim" {
                return (200, json!({ "signing_input": input }));
            }
            let signature = hex::decode(req["signature"].as_str().unwrap()).unwrap();
            let compact = format!(
                "{input}.{}",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signature)
            );
            let signed = match SignedClaim::verify(&compact) {
                Ok(s) => s,
                Err(e) => return (422, error("bad_signature", &e.to_string())),
            };
            let fields = LicenceFields {
                isrc,
                ..Default::default()
            };
            let tagged = cadenza_content::embed_licence(&file, &fields, &signed).unwrap();
            let blob = cadenza_content::blob_id(&tagged);
            let bytes = tagged.len();
            state.lock().unwrap().tagged.push(tagged);
            (
                201,
                json!({
                    "blob": blob.to_hex(),
                    "essence": { "v": essence.version, "id": essence.hash.to_hex() },
                    "track": TrackId::from_essence(&essence.hash).to_string(),
                    "claim": compact,
                    "bytes": bytes,
                }),
            )
        }
        _ => (404, error("unknown_route", "no such route")),
    }
}

/// Serves one request: the upload routes here, everything else from the devnet at `upstream`.
fn serve(mut stream: TcpStream, upstream: &str, state: &Mutex<Uploads>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let mut words = line.split_whitespace();
    let method = words.next().unwrap_or("").to_owned();
    let target = words.next().unwrap_or("").to_owned();
    let mut length = 0usize;
    let mut content_type = "application/json".to_owned();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).unwrap();
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((k, v)) = header.split_once(':') {
            match k.to_ascii_lowercase().as_str() {
                "content-length" => length = v.trim().parse().unwrap(),
                "content-type" => content_type = v.trim().to_owned(),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    if target.starts_with("/v1/uploads") && method == "POST" {
        let (status, doc) = upload_route(&target, &body, state);
        respond(&mut stream, status, &doc);
        return;
    }
    let (status, doc) = if method == "POST" {
        post(&format!("{upstream}{target}"), &content_type, body)
    } else {
        get(&format!("{upstream}{target}"))
    };
    respond(&mut stream, status, &doc);
}

/// Starts the stand-in in front of `upstream`; returns its URL.
fn stand_in(upstream: String, state: Arc<Mutex<Uploads>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let upstream = upstream.clone();
            let state = state.clone();
            let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
            std::thread::spawn(move || serve(stream, &upstream, &state));
        }
    });
    url
}

#[test]
fn publish_uploads_signs_registers_and_the_tagged_file_verifies() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    let node = start(
        home.path(),
        &[
            "devnet",
            "--data",
            data.to_str().unwrap(),
            "--http",
            "127.0.0.1:0",
        ],
        &[],
    );
    wait_height(&node.url, 1);
    let state = Arc::new(Mutex::new(Uploads::default()));
    let url = stand_in(node.url.clone(), state.clone());
    let run = |args: &[&str]| cadenza(home.path(), &url, args);
    let singer = json_of(&run(&["keys", "new", "singer", "--json"]))["account"]
        .as_str()
        .unwrap()
        .to_owned();
    let producer = cadenza_types::SecretKey::from_seed([7; 32])
        .account()
        .to_did();
    json_of(&run(&["faucet", "--key", "singer", "--json"]));

    let pcm = cadenza_content::demo::synthesize(&cadenza_content::demo::CATALOGUE[1]);
    let song = home.path().join("minor-drift.wav");
    std::fs::write(&song, cadenza_content::demo::encode_wav(&pcm).unwrap()).unwrap();
    let split = format!("{producer}=40%");
    let published = json_of(&run(&[
        "track",
        "publish",
        song.to_str().unwrap(),
        "--split",
        "singer=60%",
        "--split",
        &split,
        "--price",
        "0.002cUSD",
        "--isrc",
        "GB-AYE-24-00002",
        "--artist",
        "The Test Tones",
        "--licence-url",
        "https://example.org/licence",
        "--key",
        "singer",
        "--json",
    ]));
    assert_eq!(published["ok"], true, "{published}");
    assert_eq!(published["title"], "minor-drift");
    let track = published["track"].as_str().unwrap().to_owned();
    let essence = cadenza_content::essence_id(&std::fs::read(&song).unwrap()).unwrap();
    assert_eq!(track, TrackId::from_essence(&essence.hash).to_string());

    // On the ledger: the metadata, the price, and the split as shares.
    let (status, doc) = get(&format!("{}/v1/tracks/{track}", node.url));
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["artist"], "The Test Tones");
    assert_eq!(doc["isrc"], "GBAYE2400002");
    assert_eq!(doc["licence"]["price"]["amount"], "2000");
    assert_eq!(doc["controller"], singer.as_str());
    let shares: AssetId = doc["shares_asset"].as_str().unwrap().parse().unwrap();
    for (did, expected) in [(&singer, "600000"), (&producer, "400000")] {
        let (_, b) = get(&format!("{}/v1/accounts/{did}/balances/{shares}", node.url));
        assert_eq!(b["amount"], expected, "{did}: {b}");
    }
    assert_eq!(
        published["blob_id"], doc["blob_id"],
        "the registered blob is the tagged file"
    );

    // The tagged file verifies offline and against the ledger.
    let tagged = state
        .lock()
        .unwrap()
        .tagged
        .last()
        .cloned()
        .expect("a tagged file");
    let tagged_path = home.path().join("tagged.wav");
    std::fs::write(&tagged_path, &tagged).unwrap();
    let verdict = json_of(&cadenza(
        home.path(),
        &node.url,
        &["track", "verify", tagged_path.to_str().unwrap(), "--json"],
    ));
    assert_eq!(verdict["valid"], true, "{verdict}");
    assert_eq!(verdict["ledger"]["verdict"], "valid", "{verdict}");

    // Publishing it again is refused before anything is uploaded.
    let uploads = state.lock().unwrap().files.len();
    let out = run(&[
        "track",
        "publish",
        song.to_str().unwrap(),
        "--split",
        "singer=100%",
        "--price",
        "0.002cUSD",
        "--key",
        "singer",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(6));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["error"]["code"], "track_exists", "{doc}");
    assert_eq!(state.lock().unwrap().files.len(), uploads);
    assert!(node.terminate());
}
