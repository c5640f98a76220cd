//! Encrypted keystores: one JSON file per key, the secret sealed with XChaCha20-Poly1305 under a
//! key derived from a passphrase with Argon2id. The format is documented in `docs/keystore.md`.
//!
//! Everything but the ciphertext (name, account, KDF parameters, salt) is bound to it as
//! associated data, so a wrong passphrase, or any edit of the file, fails authentication: a
//! wrong passphrase is detected, never turned into a wrong key.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use argon2::{Algorithm, Argon2, Params, Version};
use cadenza_types::{AccountId, SecretKey};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// The format version written in every keystore.
pub const FORMAT_VERSION: u32 = 1;
/// The largest Argon2 memory a keystore may ask for (1 GiB), so a hostile file cannot exhaust
/// memory.
const MAX_MEMORY_KIB: u32 = 1 << 20;
/// The most Argon2 passes a keystore may ask for.
const MAX_ITERATIONS: u32 = 64;
/// The most Argon2 lanes a keystore may ask for.
const MAX_PARALLELISM: u32 = 16;

/// Why a keystore operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KeystoreError {
    /// The passphrase does not open the keystore (or the file was altered).
    #[error("wrong passphrase for key `{0}` (or the keystore file was altered)")]
    WrongPassphrase(String),
    /// No keystore with this name.
    #[error(
        "no key named `{0}`; see `cadenza keys list`, or create one with `cadenza keys new {0}`"
    )]
    NotFound(String),
    /// A keystore with this name exists.
    #[error("a key named `{0}` already exists; choose another name")]
    Exists(String),
    /// A name outside the rules.
    #[error("invalid key name `{0}`: use 1 to 64 characters of a-z, 0-9, - and _")]
    BadName(String),
    /// The file is not a keystore this version understands.
    #[error("keystore `{path}` is unreadable: {why}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// Reading or writing failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Argon2id cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfCost {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for KdfCost {
    /// 64 MiB, 3 passes, 1 lane: the OWASP recommendation for Argon2id.
    fn default() -> Self {
        KdfCost {
            memory_kib: 64 * 1024,
            iterations: 3,
            parallelism: 1,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct Kdf {
    algorithm: String,
    version: u32,
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
    salt: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct Cipher {
    algorithm: String,
    nonce: String,
    ciphertext: String,
}

/// A keystore file's contents.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Keystore {
    cadenza_keystore: u32,
    /// The key's local name.
    pub name: String,
    /// The account, as `did:key`.
    pub account: String,
    kdf: Kdf,
    cipher: Cipher,
}

/// Whether `name` is 1 to 64 characters of a-z, 0-9, - and _.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn derive_key(
    passphrase: &[u8],
    salt: &[u8],
    cost: KdfCost,
) -> Result<Zeroizing<[u8; 32]>, String> {
    let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, Some(32))
        .map_err(|e| e.to_string())?;
    let mut key = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase, salt, key.as_mut())
        .map_err(|e| e.to_string())?;
    Ok(key)
}

impl Keystore {
    /// The associated data: every field but the ciphertext, in a fixed order.
    fn aad(&self) -> Vec<u8> {
        format!(
            "cadenza/keystore/v{}\n{}\n{}\n{}:{}:{}:{}:{}:{}\n{}:{}",
            self.cadenza_keystore,
            self.name,
            self.account,
            self.kdf.algorithm,
            self.kdf.version,
            self.kdf.memory_kib,
            self.kdf.iterations,
            self.kdf.parallelism,
            self.kdf.salt,
            self.cipher.algorithm,
            self.cipher.nonce,
        )
        .into_bytes()
    }

    /// Seals `key` under `passphrase`.
    pub fn seal(
        name: &str,
        key: &SecretKey,
        passphrase: &[u8],
        cost: KdfCost,
    ) -> Result<Keystore, KeystoreError> {
        if !valid_name(name) {
            return Err(KeystoreError::BadName(name.to_owned()));
        }
        let mut salt = [0u8; 16];
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut salt)
            .and_then(|()| getrandom::fill(&mut nonce))
            .map_err(|e| KeystoreError::Io {
                action: "drawing randomness for",
                path: PathBuf::from(name),
                source: std::io::Error::other(e.to_string()),
            })?;
        let mut store = Keystore {
            cadenza_keystore: FORMAT_VERSION,
            name: name.to_owned(),
            account: key.account().to_did(),
            kdf: Kdf {
                algorithm: "argon2id".into(),
                version: 0x13,
                memory_kib: cost.memory_kib,
                iterations: cost.iterations,
                parallelism: cost.parallelism,
                salt: hex::encode(salt),
            },
            cipher: Cipher {
                algorithm: "xchacha20-poly1305".into(),
                nonce: hex::encode(nonce),
                ciphertext: String::new(),
            },
        };
        let wrapping =
            derive_key(passphrase, &salt, cost).map_err(|why| KeystoreError::Corrupt {
                path: PathBuf::from(name),
                why,
            })?;
        let cipher = XChaCha20Poly1305::new(&chacha20poly1305::Key::from(*wrapping));
        let seed = Zeroizing::new(key.seed());
        let aad = store.aad();
        let sealed = cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: seed.as_ref(),
                    aad: &aad,
                },
            )
            .expect("sealing 32 bytes cannot fail");
        store.cipher.ciphertext = hex::encode(sealed);
        Ok(store)
    }

    /// Opens the keystore with `passphrase`. A wrong passphrase fails authentication.
    pub fn open(&self, passphrase: &[u8], path: &Path) -> Result<SecretKey, KeystoreError> {
        let corrupt = |why: &str| KeystoreError::Corrupt {
            path: path.to_owned(),
            why: why.to_owned(),
        };
        if self.cadenza_keystore != FORMAT_VERSION {
            return Err(corrupt("unknown format version"));
        }
        if self.kdf.algorithm != "argon2id"
            || self.kdf.version != 0x13
            || self.cipher.algorithm != "xchacha20-poly1305"
        {
            return Err(corrupt("unknown key derivation or cipher"));
        }
        let cost = KdfCost {
            memory_kib: self.kdf.memory_kib,
            iterations: self.kdf.iterations,
            parallelism: self.kdf.parallelism,
        };
        if cost.memory_kib > MAX_MEMORY_KIB
            || cost.iterations > MAX_ITERATIONS
            || cost.parallelism > MAX_PARALLELISM
        {
            return Err(corrupt("key derivation cost above this tool's limits"));
        }
        let salt = hex::decode(&self.kdf.salt).map_err(|_| corrupt("salt is not hex"))?;
        let nonce: [u8; 24] = hex::decode(&self.cipher.nonce)
            .ok()
            .and_then(|n| n.try_into().ok())
            .ok_or_else(|| corrupt("nonce is not 24 bytes of hex"))?;
        let sealed =
            hex::decode(&self.cipher.ciphertext).map_err(|_| corrupt("ciphertext is not hex"))?;
        let wrapping = derive_key(passphrase, &salt, cost).map_err(|why| corrupt(&why))?;
        let cipher = XChaCha20Poly1305::new(&chacha20poly1305::Key::from(*wrapping));
        let aad = self.aad();
        let seed = Zeroizing::new(
            cipher
                .decrypt(
                    &XNonce::from(nonce),
                    Payload {
                        msg: &sealed,
                        aad: &aad,
                    },
                )
                .map_err(|_| KeystoreError::WrongPassphrase(self.name.clone()))?,
        );
        let seed: [u8; 32] = seed
            .as_slice()
            .try_into()
            .map_err(|_| corrupt("sealed secret is not 32 bytes"))?;
        let key = SecretKey::from_seed(seed);
        if key.account().to_did() != self.account {
            return Err(corrupt("the sealed key does not match the account"));
        }
        Ok(key)
    }
}

/// The folder of keystores under a Cadenza home.
pub struct KeyDir {
    dir: PathBuf,
}

impl KeyDir {
    /// The keystores under `home/keys`.
    pub fn new(home: &Path) -> KeyDir {
        KeyDir {
            dir: home.join("keys"),
        }
    }

    fn path(&self, name: &str) -> Result<PathBuf, KeystoreError> {
        if !valid_name(name) {
            return Err(KeystoreError::BadName(name.to_owned()));
        }
        Ok(self.dir.join(format!("{name}.json")))
    }

    /// Reads the keystore called `name`.
    pub fn load(&self, name: &str) -> Result<(Keystore, PathBuf), KeystoreError> {
        let path = self.path(name)?;
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(KeystoreError::NotFound(name.to_owned()));
            }
            Err(source) => {
                return Err(KeystoreError::Io {
                    action: "reading",
                    path,
                    source,
                });
            }
        };
        let store: Keystore = serde_json::from_str(&text).map_err(|e| KeystoreError::Corrupt {
            path: path.clone(),
            why: e.to_string(),
        })?;
        if store.name != name || AccountId::from_did(&store.account).is_err() {
            return Err(KeystoreError::Corrupt {
                path,
                why: "name or account does not match the file".into(),
            });
        }
        Ok((store, path))
    }

    /// Writes a new keystore durably (temporary file, fsync, rename, fsync of the folder), readable
    /// by its owner only. Refuses to overwrite.
    pub fn save(&self, store: &Keystore) -> Result<PathBuf, KeystoreError> {
        let path = self.path(&store.name)?;
        if path.exists() {
            return Err(KeystoreError::Exists(store.name.clone()));
        }
        let io = |action, path: &Path| {
            let path = path.to_owned();
            move |source| KeystoreError::Io {
                action,
                path,
                source,
            }
        };
        fs::create_dir_all(&self.dir).map_err(io("creating", &self.dir))?;
        let tmp = self.dir.join(format!(".{}.json.tmp", store.name));
        let text = serde_json::to_string_pretty(store).expect("keystores serialise") + "\n";
        {
            let mut options = fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&tmp).map_err(io("creating", &tmp))?;
            file.write_all(text.as_bytes())
                .map_err(io("writing", &tmp))?;
            file.sync_all().map_err(io("syncing", &tmp))?;
        }
        fs::rename(&tmp, &path).map_err(io("renaming", &path))?;
        fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io("syncing", &self.dir))?;
        Ok(path)
    }

    /// Every keystore name, sorted.
    pub fn names(&self) -> Result<Vec<String>, KeystoreError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(KeystoreError::Io {
                    action: "listing",
                    path: self.dir.clone(),
                    source,
                });
            }
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|n| n.strip_suffix(".json"))
                    .map(str::to_owned)
            })
            .filter(|n| valid_name(n))
            .collect();
        names.sort();
        Ok(names)
    }
}
