//! The web app's own tests (`web/tests/*.test.mjs`, run by `node --test`): its encoding, hashing
//! and signing against the Rust test vectors. Skipped, with a notice, only where Node.js is not
//! installed.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn web_app_tests_pass_under_node() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let version = Command::new("node").arg("--version").output();
    let Ok(version) = version else {
        eprintln!("NOTICE: node is not installed; the web app's tests (web/tests) were NOT run");
        return;
    };
    let version = String::from_utf8_lossy(&version.stdout).trim().to_owned();
    let major: u32 = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    assert!(
        major >= 18,
        "the web app's tests need Node.js 18 or newer (WebCrypto Ed25519); found {version}"
    );
    // The files by name: how `node --test` reads a directory argument differs between versions.
    let mut files: Vec<String> = std::fs::read_dir(root.join("web/tests"))
        .expect("web/tests exists")
        .map(|e| {
            e.expect("a directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(".test.mjs"))
        .map(|name| format!("web/tests/{name}"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no web/tests/*.test.mjs");
    let output = Command::new("node")
        .arg("--test")
        .args(&files)
        .current_dir(&root)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "node --test web/tests/ failed ({version}):\n{stdout}\n{stderr}"
    );
    // Print the summary lines, so a run shows what was checked.
    for line in stdout.lines().filter(|l| l.starts_with("# ")) {
        println!("{line}");
    }
}
