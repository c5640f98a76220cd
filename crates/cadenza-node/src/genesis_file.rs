//! The genesis file: the JSON a chain starts from, read into the ledger's [`Genesis`].
//!
//! Amounts are written as decimal strings in whole units of their asset (`"1250.5"` CDZ), so a
//! file reads the way people think about money and never loses precision in a JSON number.
//!
//! ```json
//! {
//!   "chain_id": "cadenza-devnet",
//!   "genesis_time_ms": 1767225600000,
//!   "params": { "min_fee": "0.000001", "protocol_fee_bps": 100, "provider_fee_bps": 1000 },
//!   "assets": [
//!     { "symbol": "CDZ", "decimals": 9, "balances": { "did:key:z6Mk...": "1000000" } },
//!     { "symbol": "CUSD", "decimals": 6, "balances": { "faucet": "1000000000" } }
//!   ],
//!   "faucet": { "drips": { "CDZ": "10", "CUSD": "25" }, "cooldown_ms": 3600000 }
//! }
//! ```
//!
//! The account `"faucet"` stands for the faucet's module account. Omitted parameters take the
//! ledger's defaults.

use std::collections::BTreeMap;

use cadenza_ledger::{
    Genesis, GenesisAsset, GenesisFaucet, Params, faucet_account, params::NATIVE_SYMBOL,
};
use cadenza_types::{AccountId, Amount, ChainId};
use serde::{Deserialize, Serialize};

/// Why a genesis file was refused.
#[derive(Debug, thiserror::Error)]
pub enum GenesisFileError {
    /// Not valid JSON of the expected shape.
    #[error("genesis file is not valid: {0}")]
    Json(#[from] serde_json::Error),
    /// A value breaks a rule.
    #[error("genesis file: {0}")]
    Invalid(String),
}

/// Parameters as written in the file; every field is optional.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ParamsFile {
    /// Minimum fee, in whole CDZ.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_fee: Option<String>,
    /// Protocol fee on each stream, in basis points.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_fee_bps: Option<u16>,
    /// Provider fee on each stream, in basis points.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_fee_bps: Option<u16>,
    /// Challenge window after a channel closes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub challenge_window_ms: Option<u64>,
    /// Minimum play time of a stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_play_ms: Option<u32>,
    /// Length of a play-count epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epoch_ms: Option<u64>,
    /// Most receipts per settlement transaction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_receipts_per_tx: Option<u32>,
}

/// An asset as written in the file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AssetFile {
    /// Ticker.
    pub symbol: String,
    /// Decimal places.
    pub decimals: u8,
    /// Account (`did:key:...` or `faucet`) to amount in whole units.
    #[serde(default)]
    pub balances: BTreeMap<String, String>,
}

/// The faucet as written in the file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FaucetFile {
    /// Symbol to amount in whole units, per drip.
    pub drips: BTreeMap<String, String>,
    /// Least time between two drips to one account.
    pub cooldown_ms: u64,
}

/// A genesis file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct GenesisFile {
    /// The chain id.
    pub chain_id: String,
    /// Genesis time, ms since the Unix epoch.
    pub genesis_time_ms: u64,
    /// Parameters (defaults where omitted).
    #[serde(default)]
    pub params: ParamsFile,
    /// Assets and initial balances; `CDZ` is required.
    pub assets: Vec<AssetFile>,
    /// The devnet faucet, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faucet: Option<FaucetFile>,
}

fn invalid(msg: String) -> GenesisFileError {
    GenesisFileError::Invalid(msg)
}

fn amount(text: &str, decimals: u8, what: &str) -> Result<Amount, GenesisFileError> {
    Amount::parse_units(text, decimals).map_err(|e| invalid(format!("{what}: `{text}`: {e}")))
}

fn account(text: &str) -> Result<AccountId, GenesisFileError> {
    if text == "faucet" {
        return Ok(faucet_account());
    }
    AccountId::from_did(text).map_err(|e| invalid(e.to_string()))
}

impl GenesisFile {
    /// Parses a genesis file's text.
    pub fn parse(text: &str) -> Result<GenesisFile, GenesisFileError> {
        Ok(serde_json::from_str(text)?)
    }

    /// The ledger's genesis configuration.
    pub fn to_genesis(&self) -> Result<Genesis, GenesisFileError> {
        let chain_id = ChainId::new(&self.chain_id).map_err(|e| invalid(e.to_string()))?;
        let decimals_of = |symbol: &str| {
            self.assets
                .iter()
                .find(|a| a.symbol == symbol)
                .map(|a| a.decimals)
        };
        let native_decimals = decimals_of(NATIVE_SYMBOL)
            .ok_or_else(|| invalid("the native asset CDZ must be defined".into()))?;
        let defaults = Params::default();
        let p = &self.params;
        let params = Params {
            min_fee: match &p.min_fee {
                Some(t) => amount(t, native_decimals, "params.min_fee")?,
                None => defaults.min_fee,
            },
            protocol_fee_bps: p.protocol_fee_bps.unwrap_or(defaults.protocol_fee_bps),
            provider_fee_bps: p.provider_fee_bps.unwrap_or(defaults.provider_fee_bps),
            challenge_window_ms: p
                .challenge_window_ms
                .unwrap_or(defaults.challenge_window_ms),
            min_play_ms: p.min_play_ms.unwrap_or(defaults.min_play_ms),
            epoch_ms: p.epoch_ms.unwrap_or(defaults.epoch_ms),
            max_receipts_per_tx: p
                .max_receipts_per_tx
                .unwrap_or(defaults.max_receipts_per_tx),
            faucet: None,
        };
        let mut assets = Vec::with_capacity(self.assets.len());
        for a in &self.assets {
            let mut balances = Vec::with_capacity(a.balances.len());
            for (who, how_much) in &a.balances {
                balances.push((
                    account(who)?,
                    amount(
                        how_much,
                        a.decimals,
                        &format!("{} balance of {who}", a.symbol),
                    )?,
                ));
            }
            assets.push(GenesisAsset {
                symbol: a.symbol.clone(),
                decimals: a.decimals,
                balances,
            });
        }
        let faucet = match &self.faucet {
            None => None,
            Some(f) => {
                let mut drips = Vec::with_capacity(f.drips.len());
                for (symbol, how_much) in &f.drips {
                    let decimals = decimals_of(symbol).ok_or_else(|| {
                        invalid(format!("the faucet drips `{symbol}`, which is not defined"))
                    })?;
                    drips.push((
                        symbol.clone(),
                        amount(how_much, decimals, &format!("faucet drip of {symbol}"))?,
                    ));
                }
                Some(GenesisFaucet {
                    drips,
                    cooldown_ms: f.cooldown_ms,
                })
            }
        };
        let genesis = Genesis {
            chain_id,
            time_ms: self.genesis_time_ms,
            params,
            assets,
            faucet,
        };
        // Let the ledger judge the rest (duplicate assets, symbols, overflow, parameters).
        cadenza_ledger::init_genesis(&cadenza_ledger::MemoryState::new(), &genesis)
            .map_err(|e| invalid(e.to_string()))?;
        Ok(genesis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"{
        "chain_id": "cadenza-devnet",
        "genesis_time_ms": 1767225600000,
        "params": { "min_fee": "0.000001", "min_play_ms": 5000 },
        "assets": [
            { "symbol": "CDZ", "decimals": 9,
              "balances": { "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp": "1000.5" } },
            { "symbol": "CUSD", "decimals": 6, "balances": { "faucet": "1000000" } }
        ],
        "faucet": { "drips": { "CUSD": "25" }, "cooldown_ms": 60000 }
    }"#;

    #[test]
    fn a_genesis_file_reads_in_whole_units() {
        let g = GenesisFile::parse(EXAMPLE).unwrap().to_genesis().unwrap();
        assert_eq!(g.chain_id.as_str(), "cadenza-devnet");
        assert_eq!(g.params.min_fee, Amount::new(1_000));
        assert_eq!(g.params.min_play_ms, 5_000);
        assert_eq!(
            g.params.protocol_fee_bps,
            Params::default().protocol_fee_bps
        );
        assert_eq!(g.assets[0].balances[0].1, Amount::new(1_000_500_000_000));
        assert_eq!(
            g.assets[1].balances[0],
            (faucet_account(), Amount::new(1_000_000_000_000))
        );
        assert_eq!(
            g.faucet.unwrap().drips,
            vec![("CUSD".to_owned(), Amount::new(25_000_000))]
        );
    }

    #[test]
    fn mistakes_are_named() {
        let cases = [
            (
                EXAMPLE.replace("\"1000.5\"", "\"1000.0000000001\""),
                "too many decimal places",
            ),
            (
                EXAMPLE.replace("did:key:z6MkiTBz1", "did:key:z6MkiTBz"),
                "not an ed25519 did:key",
            ),
            (EXAMPLE.replace("\"CDZ\"", "\"XYZ\""), "CDZ must be defined"),
            (
                EXAMPLE.replace("{ \"CUSD\": \"25\" }", "{ \"EUR\": \"25\" }"),
                "`EUR`, which is not defined",
            ),
            (
                EXAMPLE.replace("\"min_play_ms\"", "\"min_play\""),
                "unknown field",
            ),
            (
                EXAMPLE.replace("cadenza-devnet", "Cadenza Devnet"),
                "not a chain id",
            ),
        ];
        for (text, expected) in cases {
            let err = GenesisFile::parse(&text)
                .and_then(|f| f.to_genesis())
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{err} should mention {expected}");
        }
    }
}
