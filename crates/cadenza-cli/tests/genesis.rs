//! `cadenza genesis check` on a good and a broken genesis file.

use std::process::Command;

use serde_json::Value;

fn check(text: &str) -> (bool, Value) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("genesis.json");
    std::fs::write(&path, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cadenza"))
        .args(["--json", "genesis", "check"])
        .arg(&path)
        .output()
        .unwrap();
    (
        out.status.success(),
        serde_json::from_slice(&out.stdout).unwrap(),
    )
}

const GOOD: &str = r#"{
    "chain_id": "cadenza-local",
    "genesis_time_ms": 1767225600000,
    "assets": [
        { "symbol": "CDZ", "decimals": 9,
          "balances": { "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp": "21000000" } }
    ]
}"#;

#[test]
fn a_valid_genesis_is_summarised() {
    let (ok, doc) = check(GOOD);
    assert!(ok);
    assert_eq!(doc["valid"], true);
    assert_eq!(doc["chain_id"], "cadenza-local");
    assert_eq!(doc["assets"][0]["supply"], "21000000");
}

#[test]
fn a_broken_genesis_is_refused_with_its_reason() {
    let (ok, doc) = check(&GOOD.replace("21000000", "-5"));
    assert!(!ok);
    assert_eq!(doc["error"]["code"], "invalid_genesis");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("negative"),
        "{doc}"
    );
}
