//! `cadenza keys` as a user and a script see it: keys are stored encrypted, a wrong passphrase is
//! caught by authentication, bad input is refused with a code, and `--json` is machine-readable.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const PASS: &str = "correct horse battery staple";

fn cadenza(home: &Path, passphrase: Option<&str>, args: &[&str], stdin: &str) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cadenza"));
    cmd.arg("--home").arg(home).args(args);
    cmd.env_remove("CADENZA_PASSPHRASE")
        .env_remove("CADENZA_HOME");
    if let Some(p) = passphrase {
        cmd.env("CADENZA_PASSPHRASE", p);
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("the cadenza binary runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn error_code(out: &Output) -> String {
    assert!(!out.status.success());
    json(out)["error"]["code"].as_str().unwrap().to_owned()
}

#[test]
fn a_new_key_is_stored_encrypted_and_exports_only_with_its_passphrase() {
    let home = tempfile::tempdir().unwrap();
    let created = cadenza(
        home.path(),
        Some(PASS),
        &["--json", "keys", "new", "alice"],
        "",
    );
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let created = json(&created);
    let account = created["account"].as_str().unwrap().to_owned();
    assert!(account.starts_with("did:key:z6Mk"), "{account}");

    let exported = cadenza(
        home.path(),
        Some(PASS),
        &["--json", "keys", "export", "alice"],
        "",
    );
    assert!(exported.status.success());
    let seed = json(&exported)["seed"].as_str().unwrap().to_owned();
    assert_eq!(seed.len(), 64);

    // The file holds neither the seed's hex nor its raw bytes.
    let file = std::fs::read(home.path().join("keys/alice.json")).unwrap();
    let text = String::from_utf8_lossy(&file);
    assert!(!text.contains(&seed));
    let raw = hex::decode(&seed).unwrap();
    assert!(!file.windows(32).any(|w| w == raw.as_slice()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(home.path().join("keys/alice.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // A wrong passphrase fails authentication: exit 4, and no key material printed.
    let wrong = cadenza(
        home.path(),
        Some("not the passphrase"),
        &["--json", "keys", "export", "alice"],
        "",
    );
    assert_eq!(wrong.status.code(), Some(4));
    assert_eq!(error_code(&wrong), "wrong_passphrase");
    assert!(!String::from_utf8_lossy(&wrong.stdout).contains(&seed));

    // The exported seed imports to the same account.
    let imported = cadenza(
        home.path(),
        Some(PASS),
        &["--json", "keys", "import", "alice-copy"],
        &format!("{seed}\n"),
    );
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    assert_eq!(json(&imported)["account"], account.as_str());

    let list = json(&cadenza(home.path(), None, &["--json", "keys", "list"], ""));
    let names: Vec<&str> = list["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "alice-copy"]);

    let shown = cadenza(home.path(), None, &["keys", "show", "alice"], "");
    assert!(shown.status.success());
    assert!(String::from_utf8_lossy(&shown.stdout).contains(&account));
}

#[test]
fn an_altered_keystore_fails_authentication() {
    let home = tempfile::tempdir().unwrap();
    assert!(
        cadenza(home.path(), Some(PASS), &["keys", "new", "bob"], "")
            .status
            .success()
    );
    let path = home.path().join("keys/bob.json");
    let mut store: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    // Lower the KDF cost, as an attacker who wants faster guessing would.
    store["kdf"]["iterations"] = 1.into();
    std::fs::write(&path, serde_json::to_vec(&store).unwrap()).unwrap();
    let out = cadenza(
        home.path(),
        Some(PASS),
        &["--json", "keys", "export", "bob"],
        "",
    );
    assert_eq!(error_code(&out), "wrong_passphrase");
}

#[test]
fn bad_input_is_refused_with_a_code_before_anything_is_written() {
    let home = tempfile::tempdir().unwrap();
    let keys = home.path().join("keys");
    let cases: [(&[&str], Option<&str>, &str, &str); 5] = [
        (
            &["--json", "keys", "new", "Bad Name"],
            Some(PASS),
            "",
            "bad_key_name",
        ),
        (
            &["--json", "keys", "new", "carol"],
            Some("short"),
            "",
            "weak_passphrase",
        ),
        (
            &["--json", "keys", "import", "dave"],
            Some(PASS),
            "not hex at all",
            "bad_seed",
        ),
        (
            &["--json", "keys", "import", "dave"],
            Some(PASS),
            "abcd",
            "bad_seed",
        ),
        (
            &["--json", "keys", "export", "nobody"],
            Some(PASS),
            "",
            "key_not_found",
        ),
    ];
    for (args, pass, stdin, code) in cases {
        let out = cadenza(home.path(), pass, args, stdin);
        assert_eq!(error_code(&out), code, "{args:?}");
    }
    assert!(
        !keys.exists() || std::fs::read_dir(&keys).unwrap().next().is_none(),
        "nothing was written"
    );

    assert!(
        cadenza(home.path(), Some(PASS), &["keys", "new", "erin"], "")
            .status
            .success()
    );
    let again = cadenza(
        home.path(),
        Some(PASS),
        &["--json", "keys", "new", "erin"],
        "",
    );
    assert_eq!(error_code(&again), "key_exists");
}

#[test]
fn completions_are_printed_for_common_shells() {
    let home = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let out = cadenza(home.path(), None, &["completions", shell], "");
        assert!(out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("keys"),
            "{shell}"
        );
    }
}
