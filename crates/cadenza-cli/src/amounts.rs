//! Amounts as people write and read them: `1.25CUSD`, `1.25 CUSD`, `0.002cusd`, or `1.25` with
//! `--asset CUSD`; shown as `1.25 CUSD`, in base units only when asked (`--raw`, `--json`).
//!
//! One parser and one printer for every command. The number is read with the asset's decimals as
//! the node lists them (`/v1/assets`), by the ledger's own rule (`Amount::parse_units`); what is
//! refused (negative, malformed, more decimals than the asset has, too large, zero where zero
//! means nothing) is refused here, with a message naming the problem, before anything is signed.

use std::collections::BTreeMap;

use cadenza_types::{Amount, AssetId, amount::ParseAmountError};
use serde_json::{Value, json};

use crate::client::{AssetDoc, ClientError, NodeClient, parse_asset_id};
use crate::wallet_cmd::WalletError;

/// Assets by id, as the node lists them.
pub struct Assets(pub BTreeMap<AssetId, AssetDoc>);

impl Assets {
    /// Every asset the node lists.
    pub fn fetch(client: &NodeClient) -> Result<Assets, ClientError> {
        let mut map = BTreeMap::new();
        for doc in client.assets()? {
            let id = parse_asset_id(&doc.id).map_err(|why| ClientError::BadAnswer {
                url: client.url().to_owned(),
                what: "the asset list".into(),
                why,
            })?;
            map.insert(id, doc);
        }
        Ok(Assets(map))
    }

    /// `amount` of `asset` in whole units with its symbol (`1.25 CUSD`), or in base units with
    /// the asset id if the asset is unknown.
    pub fn show(&self, asset: &AssetId, amount: Amount) -> String {
        show(self.0.get(asset), asset, amount)
    }

    /// `amount` of `asset` in base units, or in whole units with its symbol.
    pub fn show_maybe_raw(&self, asset: &AssetId, amount: Amount, raw: bool) -> String {
        match (raw, self.0.get(asset)) {
            (true, Some(doc)) => format!("{amount} {} base units", doc.symbol),
            _ => self.show(asset, amount),
        }
    }

    /// The JSON form: base units as a decimal string, and the display form.
    pub fn json(&self, asset: &AssetId, amount: Amount) -> Value {
        let mut value = json!({ "asset": asset.to_string(), "amount": amount.get().to_string() });
        if let Some(doc) = self.0.get(asset) {
            value["symbol"] = json!(doc.symbol);
            value["decimals"] = json!(doc.decimals);
            value["display"] = json!(self.show(asset, amount));
        }
        value
    }

    /// The asset named by `name`: its id (64 hex digits) or its symbol, in any case.
    pub fn resolve(&self, name: &str) -> Result<(AssetId, AssetDoc), WalletError> {
        if let Ok(id) = parse_asset_id(name) {
            return self
                .0
                .get(&id)
                .map(|doc| (id, doc.clone()))
                .ok_or_else(|| WalletError::UnknownAsset(name.to_owned()));
        }
        let wanted = name.to_ascii_uppercase();
        let matches: Vec<_> = self
            .0
            .iter()
            .filter(|(_, doc)| doc.symbol.eq_ignore_ascii_case(&wanted))
            .collect();
        match matches.as_slice() {
            [] => Err(WalletError::UnknownAsset(name.to_owned())),
            [(id, doc)] => Ok((**id, (*doc).clone())),
            many => Err(WalletError::AmbiguousAsset {
                symbol: wanted,
                ids: many
                    .iter()
                    .map(|(id, _)| id.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }
}

/// `amount` in whole units of its asset with its symbol, or base units if the asset is unknown.
pub fn show(doc: Option<&AssetDoc>, asset: &AssetId, amount: Amount) -> String {
    match doc {
        Some(doc) => format!("{} {}", amount.display_units(doc.decimals), doc.symbol),
        None => format!("{amount} base units of asset {asset}"),
    }
}

/// Splits `1.25CUSD` / `1.25 CUSD` into the number and the symbol.
pub fn split_amount(text: &str) -> (&str, Option<&str>) {
    let text = text.trim();
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+')))
        .unwrap_or(text.len());
    let (number, rest) = text.split_at(end);
    let rest = rest.trim();
    (number, (!rest.is_empty()).then_some(rest))
}

/// The "not an amount" error.
pub fn bad_amount(text: &str, why: impl Into<String>) -> WalletError {
    WalletError::BadAmount {
        text: text.to_owned(),
        why: why.into(),
    }
}

/// Parses `number` in units of an asset with `decimals`, saying what is wrong in words.
pub fn parse_units(
    text: &str,
    number: &str,
    symbol: &str,
    decimals: u8,
) -> Result<Amount, WalletError> {
    Amount::parse_units(number, decimals).map_err(|e| match e {
        ParseAmountError::TooPrecise { decimals: 0 } => bad_amount(
            text,
            format!("{symbol} has no decimal places: give a whole number"),
        ),
        ParseAmountError::TooPrecise { decimals } => bad_amount(
            text,
            format!(
                "{symbol} has {decimals} decimal places, so the smallest amount is {} {symbol}",
                Amount::new(1).display_units(decimals)
            ),
        ),
        ParseAmountError::Overflow => bad_amount(
            text,
            format!(
                "too large: the most any {symbol} amount can be is {} {symbol}",
                Amount::new(u128::MAX).display_units(decimals)
            ),
        ),
        other => bad_amount(text, other.to_string()),
    })
}

/// An amount argument before the node is asked anything: the number and which asset it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmountArg<'a> {
    /// The text as given (named in messages).
    pub text: &'a str,
    /// The decimal number.
    pub number: &'a str,
    /// The asset's symbol or id, if the argument names one.
    pub asset: Option<&'a str>,
}

/// Reads an amount argument's form: `1.25CUSD`, `"1.25 CUSD"`, `1.25` with the symbol as the next
/// word (`symbol`) or `--asset` (`asset`). The sign and the syntax are checked now (they do not
/// depend on the asset); two different assets named at once are refused.
pub fn amount_arg<'a>(
    text: &'a str,
    symbol: Option<&'a str>,
    asset: Option<&'a str>,
) -> Result<AmountArg<'a>, WalletError> {
    let (number, suffix) = split_amount(text);
    let names: Vec<&str> = [suffix, symbol, asset].into_iter().flatten().collect();
    let asset = match names.as_slice() {
        [] => None,
        [first, rest @ ..] if rest.iter().all(|n| n.eq_ignore_ascii_case(first)) => Some(*first),
        _ => return Err(bad_amount(text, "it names two different assets")),
    };
    // 38 decimals fit in 128 bits, so only the sign and the syntax can fail here.
    if let Err(e @ (ParseAmountError::Negative | ParseAmountError::Malformed)) =
        Amount::parse_units(number, 38)
    {
        return Err(bad_amount(text, e.to_string()));
    }
    Ok(AmountArg {
        text,
        number,
        asset,
    })
}

impl AmountArg<'_> {
    /// The amount in `assets`: its asset is the one it names, else `default` (a symbol or id);
    /// zero is refused unless `zero_ok`.
    pub fn resolve(
        &self,
        assets: &Assets,
        default: Option<&str>,
        zero_ok: bool,
    ) -> Result<(AssetId, AssetDoc, Amount), WalletError> {
        let name = self.asset.or(default).ok_or_else(|| {
            bad_amount(
                self.text,
                "say which asset, like 1.25CUSD, `1.25 CUSD` or --asset CUSD",
            )
        })?;
        let (asset, doc) = assets.resolve(name)?;
        let amount = parse_units(self.text, self.number, &doc.symbol, doc.decimals)?;
        if amount.is_zero() && !zero_ok {
            return Err(bad_amount(self.text, "zero means nothing here: give more"));
        }
        Ok((asset, doc, amount))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assets() -> Assets {
        let mut map = BTreeMap::new();
        for (symbol, decimals) in [("CUSD", 6u8), ("CDZ", 9), ("SHRAB", 0)] {
            let id = AssetId::genesis(symbol);
            map.insert(
                id,
                AssetDoc {
                    id: id.to_string(),
                    symbol: symbol.into(),
                    decimals,
                },
            );
        }
        Assets(map)
    }

    fn parse(text: &str, symbol: Option<&str>, flag: Option<&str>) -> Result<u128, String> {
        let arg = amount_arg(text, symbol, flag).map_err(|e| e.to_string())?;
        arg.resolve(&assets(), None, false)
            .map(|(_, _, a)| a.get())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn every_written_form_reads_with_the_asset_decimals() {
        assert_eq!(parse("1.25cUSD", None, None), Ok(1_250_000));
        assert_eq!(parse("1.25 CUSD", None, None), Ok(1_250_000));
        assert_eq!(parse("1.25", Some("cusd"), None), Ok(1_250_000));
        assert_eq!(parse("1.25", None, Some("CUSD")), Ok(1_250_000));
        assert_eq!(parse("0.002cUSD", None, None), Ok(2_000));
        assert_eq!(parse(".5CDZ", None, None), Ok(500_000_000));
        assert_eq!(parse("7 SHRAB", None, None), Ok(7));
        assert_eq!(parse("1CUSD", None, Some("cusd")), Ok(1_000_000));
    }

    #[test]
    fn refusals_name_the_problem() {
        let err = |t: &str, s: Option<&str>, f: Option<&str>| parse(t, s, f).unwrap_err();
        assert!(err("-1CUSD", None, None).contains("negative"));
        assert!(err("1.0000001CUSD", None, None).contains("CUSD has 6 decimal places"));
        assert!(err("1.5 SHRAB", None, None).contains("no decimal places"));
        assert!(err("0CUSD", None, None).contains("zero"));
        assert!(err("1.2.3CUSD", None, None).contains("not a decimal number"));
        assert!(err("1e5CUSD", None, None).contains("no asset `e5CUSD`"));
        assert!(err("1..2CUSD", None, None).contains("not a decimal number"));
        assert!(err("1", None, None).contains("which asset"));
        assert!(err("1CUSD", None, Some("CDZ")).contains("two different assets"));
        assert!(err("1 XYZ", None, None).contains("no asset `XYZ`"));
        let too_big = format!("{}CUSD", u128::MAX);
        assert!(err(&too_big, None, None).contains("too large"));
        assert!(
            err("340282366920938463463374607431768.211456CUSD", None, None).contains("too large")
        );
    }

    #[test]
    fn zero_is_allowed_where_asked_and_amounts_print_in_whole_units() {
        let a = assets();
        let arg = amount_arg("0", None, None).unwrap();
        let (_, _, zero) = arg.resolve(&a, Some("CUSD"), true).unwrap();
        assert!(zero.is_zero());
        let cusd = AssetId::genesis("CUSD");
        assert_eq!(a.show(&cusd, Amount::new(1_250_000)), "1.25 CUSD");
        assert_eq!(
            a.show_maybe_raw(&cusd, Amount::new(1_250_000), true),
            "1250000 CUSD base units"
        );
        assert_eq!(a.json(&cusd, Amount::new(2_000))["display"], "0.002 CUSD");
        assert_eq!(a.json(&cusd, Amount::new(2_000))["amount"], "2000");
    }
}
