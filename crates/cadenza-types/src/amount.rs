//! Amounts of an asset in its base unit, with checked arithmetic only.
//!
//! `Amount` deliberately implements no `Add`/`Sub`: every operation that could overflow or go
//! below zero returns an `Option`, so the ledger has to decide what an overflow means (a rejected
//! transaction) instead of wrapping or panicking.

use std::fmt;

/// 256-bit unsigned integer for intermediate products that can exceed `u128` (accumulators, AMM
/// arithmetic). Never stored in a balance.
pub use ethnum::U256;

/// Signed 256-bit integer, for net changes of holdings when auditing conservation.
pub use ethnum::I256;

/// Basis points in one whole (100%).
pub const BPS_DENOMINATOR: u128 = 10_000;

/// A non-negative quantity of some asset, in that asset's base unit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(u128);

impl Amount {
    /// Nothing.
    pub const ZERO: Amount = Amount(0);
    /// The largest representable amount.
    pub const MAX: Amount = Amount(u128::MAX);

    /// An amount of `base_units` base units.
    pub const fn new(base_units: u128) -> Self {
        Amount(base_units)
    }

    /// The amount in base units.
    pub const fn get(self) -> u128 {
        self.0
    }

    /// Whether this is zero.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// `self + other`, or `None` on overflow.
    #[must_use]
    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount)
    }

    /// `self - other`, or `None` if it would go below zero.
    #[must_use]
    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        self.0.checked_sub(other.0).map(Amount)
    }

    /// `self * n`, or `None` on overflow.
    #[must_use]
    pub fn checked_mul(self, n: u128) -> Option<Amount> {
        self.0.checked_mul(n).map(Amount)
    }

    /// The fee of `bps` basis points on this amount, rounded down (the payer keeps the dust).
    /// Computed in 256 bits, so it never overflows; `bps` above 10,000 is capped at 100%.
    pub fn bps(self, bps: u16) -> Amount {
        let bps = u128::from(bps).min(BPS_DENOMINATOR);
        // Settlement splits every receipt with this, so the common case stays in 64 bits: when
        // the amount is at most u64::MAX / 10,000 the product fits and the floor is the same.
        const FAST_MAX: u128 = (u64::MAX / BPS_DENOMINATOR as u64) as u128;
        if self.0 <= FAST_MAX {
            return Amount(u128::from(
                self.0 as u64 * bps as u64 / BPS_DENOMINATOR as u64,
            ));
        }
        let wide = U256::from(self.0) * U256::from(bps) / U256::from(BPS_DENOMINATOR);
        Amount(wide.as_u128())
    }

    /// Formats the amount as a decimal number of whole units, e.g. `1.25` for 1,250,000 base units
    /// of an asset with 6 decimals. Trailing zeros of the fraction are dropped.
    pub fn display_units(self, decimals: u8) -> String {
        if decimals == 0 {
            return self.0.to_string();
        }
        let scale = 10u128.checked_pow(u32::from(decimals));
        let Some(scale) = scale else {
            // More decimals than u128 can scale: the integer part is zero.
            return format!("0.{:0>width$}", self.0, width = usize::from(decimals));
        };
        let whole = self.0 / scale;
        let frac = self.0 % scale;
        if frac == 0 {
            return whole.to_string();
        }
        let frac = format!("{frac:0>width$}", width = usize::from(decimals));
        format!("{whole}.{}", frac.trim_end_matches('0'))
    }

    /// Parses a decimal number of whole units (`1.25`) into base units. Rejects negative numbers,
    /// more fractional digits than the asset has, and values that do not fit.
    pub fn parse_units(text: &str, decimals: u8) -> Result<Amount, ParseAmountError> {
        let text = text.trim();
        if text.starts_with('-') {
            return Err(ParseAmountError::Negative);
        }
        let (whole, frac) = match text.split_once('.') {
            Some((w, f)) => (w, f),
            None => (text, ""),
        };
        if whole.is_empty() && frac.is_empty() {
            return Err(ParseAmountError::Malformed);
        }
        let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if !digits_ok(whole) || !digits_ok(frac) {
            return Err(ParseAmountError::Malformed);
        }
        if frac.len() > usize::from(decimals) {
            return Err(ParseAmountError::TooPrecise { decimals });
        }
        let scale = 10u128
            .checked_pow(u32::from(decimals))
            .ok_or(ParseAmountError::Overflow)?;
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| ParseAmountError::Overflow)?
        };
        let frac_scaled: u128 = if frac.is_empty() {
            0
        } else {
            let pad = u32::from(decimals) - frac.len() as u32;
            let f: u128 = frac.parse().map_err(|_| ParseAmountError::Overflow)?;
            f * 10u128.pow(pad)
        };
        whole
            .checked_mul(scale)
            .and_then(|w| w.checked_add(frac_scaled))
            .map(Amount)
            .ok_or(ParseAmountError::Overflow)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<u128> for Amount {
    fn from(base_units: u128) -> Self {
        Amount(base_units)
    }
}

/// Why a decimal amount could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseAmountError {
    /// The text is negative.
    #[error("amounts cannot be negative")]
    Negative,
    /// The text is not a decimal number.
    #[error("not a decimal number; write it like 12 or 1.25")]
    Malformed,
    /// The text has more fractional digits than the asset.
    #[error("too many decimal places: this asset has {decimals}")]
    TooPrecise {
        /// The asset's number of decimals.
        decimals: u8,
    },
    /// The value does not fit in 128 bits.
    #[error("amount too large")]
    Overflow,
}

/// `a * b / d` rounded down, computed in 256 bits; `None` if `d` is zero or the result does not
/// fit in `u128`.
pub fn mul_div(a: u128, b: u128, d: u128) -> Option<u128> {
    if d == 0 {
        return None;
    }
    let q = U256::from(a) * U256::from(b) / U256::from(d);
    u128::try_from(q).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_round_trip() {
        assert_eq!(Amount::new(1_250_000).display_units(6), "1.25");
        assert_eq!(Amount::new(7).display_units(6), "0.000007");
        assert_eq!(Amount::new(3_000_000).display_units(6), "3");
        assert_eq!(Amount::parse_units("1.25", 6), Ok(Amount::new(1_250_000)));
        assert_eq!(Amount::parse_units(".5", 1), Ok(Amount::new(5)));
        assert_eq!(
            Amount::parse_units("-1", 6),
            Err(ParseAmountError::Negative)
        );
        assert_eq!(
            Amount::parse_units("0.0000001", 6),
            Err(ParseAmountError::TooPrecise { decimals: 6 })
        );
        assert_eq!(
            Amount::parse_units("1e3", 6),
            Err(ParseAmountError::Malformed)
        );
        assert_eq!(
            Amount::parse_units("340282366920938463463374607431768211456", 0),
            Err(ParseAmountError::Overflow)
        );
    }

    proptest::proptest! {
        #[test]
        fn bps_matches_wide_arithmetic_everywhere(a: u128, shift in 0u32..128, b: u16) {
            let a = a >> shift;
            let capped = u128::from(b).min(BPS_DENOMINATOR);
            let wide = U256::from(a) * U256::from(capped) / U256::from(BPS_DENOMINATOR);
            proptest::prop_assert_eq!(Amount::new(a).bps(b).get(), wide.as_u128());
        }
    }

    #[test]
    fn bps_rounds_down_without_overflow() {
        let fast_max = u128::from(u64::MAX / 10_000);
        for a in [fast_max - 1, fast_max, fast_max + 1] {
            let wide = U256::from(a) * U256::from(9_999u32) / U256::from(10_000u32);
            assert_eq!(Amount::new(a).bps(9_999).get(), wide.as_u128());
        }
        assert_eq!(Amount::new(999).bps(250), Amount::new(24));
        assert_eq!(Amount::MAX.bps(10_000), Amount::MAX);
        assert_eq!(Amount::MAX.bps(5_000), Amount::new(u128::MAX / 2));
    }
}
