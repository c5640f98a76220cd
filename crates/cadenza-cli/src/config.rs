//! The user's defaults: `<home>/config.json`.
//!
//! ```json
//! { "node": "http://127.0.0.1:7700", "key": "alice" }
//! ```
//!
//! Both fields are optional. Command-line flags and their environment variables (`--node` /
//! `CADENZA_NODE`, `--key` / `CADENZA_KEY`) win over the file; without either, the node is
//! [`DEFAULT_NODE`] and there is no default key. A missing file means no defaults; a malformed
//! one is an error rather than silently ignored, so a typo never sends money through the wrong
//! node.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The node used when neither a flag, the environment nor the config file names one.
pub const DEFAULT_NODE: &str = "http://127.0.0.1:7700";
/// The config file's name under the home folder.
pub const FILE_NAME: &str = "config.json";
/// The largest config file read.
const FILE_BYTES_MAX: u64 = 64 * 1024;

/// The defaults read from the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The node's URL.
    pub node: Option<String>,
    /// The name of the key that signs by default.
    pub key: Option<String>,
}

/// Why the config file could not be used.
#[derive(Debug, thiserror::Error)]
#[error(
    "{path}: {why}; it should look like {{\"node\": \"http://127.0.0.1:7700\", \"key\": \"alice\"}}"
)]
pub struct ConfigError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong.
    pub why: String,
}

impl Config {
    /// Reads `<home>/config.json`; no file means no defaults.
    pub fn load(home: &Path) -> Result<Config, ConfigError> {
        use std::io::Read as _;
        let path = home.join(FILE_NAME);
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(e) => {
                return Err(ConfigError {
                    path,
                    why: e.to_string(),
                });
            }
        };
        let mut text = String::new();
        file.take(FILE_BYTES_MAX + 1)
            .read_to_string(&mut text)
            .map_err(|e| ConfigError {
                path: path.clone(),
                why: e.to_string(),
            })?;
        if text.len() as u64 > FILE_BYTES_MAX {
            return Err(ConfigError {
                path,
                why: format!("larger than {FILE_BYTES_MAX} bytes"),
            });
        }
        serde_json::from_str(&text).map_err(|e| ConfigError {
            path,
            why: e.to_string(),
        })
    }
}
