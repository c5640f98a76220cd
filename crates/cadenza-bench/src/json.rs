//! The one output format of every benchmark: one JSON object per line on stdout (DESIGN §10).
//!
//! A headline line carries a figure, its value, the reference it is compared with, the
//! reference's value measured in the same run, and `ratio = value / reference_value`:
//!
//! ```text
//! {"bench":"settle","figure":"receipts_per_s","value":1234567,"reference":"blake3_96B_hashes_per_s","reference_value":7000000,"ratio":0.176}
//! ```
//!
//! An informative line (a phase time, a count) has only `bench`, `figure` and `value`. Lines are
//! written by hand: names are plain identifiers chosen in this crate, and numbers are finite
//! (anything else is printed as `null`), so no escaping or JSON library is needed.

use std::fmt;

/// A number as it will be printed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Num {
    /// A count or a rate rounded to a whole number.
    Int(u64),
    /// A value printed with a fixed number of decimals.
    Fixed(f64, usize),
}

impl Num {
    /// A rate or other large quantity, rounded to the nearest integer.
    pub fn rounded(x: f64) -> Num {
        if x.is_finite() && x >= 0.0 && x < u64::MAX as f64 {
            Num::Int(x.round() as u64)
        } else {
            Num::Fixed(x, 0)
        }
    }

    /// A ratio: three decimals, or more when needed to show three significant digits.
    pub fn ratio(x: f64) -> Num {
        let decimals = if x.is_finite() && x > 0.0 && x < 1.0 {
            let magnitude = x.log10().floor() as i64; // -1 for 0.176, -4 for 0.000412
            (2 - magnitude).clamp(3, 12) as usize
        } else {
            3
        };
        Num::Fixed(x, decimals)
    }

    /// A duration in milliseconds, to the microsecond.
    pub fn millis(d: std::time::Duration) -> Num {
        Num::Fixed(d.as_secs_f64() * 1_000.0, 3)
    }

    /// The value as a float.
    pub fn as_f64(self) -> f64 {
        match self {
            Num::Int(v) => v as f64,
            Num::Fixed(v, _) => v,
        }
    }
}

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Num::Int(v) => write!(f, "{v}"),
            Num::Fixed(v, decimals) if v.is_finite() => write!(f, "{v:.decimals$}"),
            Num::Fixed(..) => f.write_str("null"),
        }
    }
}

/// One output line.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    /// The benchmark (`settle`).
    pub bench: &'static str,
    /// What is measured (`receipts_per_s`).
    pub figure: String,
    /// Its value.
    pub value: Num,
    /// The reference it is compared with and that reference's value, for headline lines.
    pub reference: Option<(String, Num)>,
}

impl Line {
    /// An informative line: a figure without a reference.
    pub fn info(bench: &'static str, figure: &str, value: Num) -> Line {
        Line {
            bench,
            figure: figure.to_owned(),
            value,
            reference: None,
        }
    }

    /// A headline line: a figure against a reference measured in the same run.
    pub fn against(
        bench: &'static str,
        figure: &str,
        value: Num,
        reference: &str,
        reference_value: Num,
    ) -> Line {
        Line {
            bench,
            figure: figure.to_owned(),
            value,
            reference: Some((reference.to_owned(), reference_value)),
        }
    }

    /// `value / reference_value`, for headline lines.
    pub fn ratio(&self) -> Option<f64> {
        self.reference
            .as_ref()
            .map(|(_, r)| self.value.as_f64() / r.as_f64())
    }
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            r#"{{"bench":"{}","figure":"{}","value":{}"#,
            self.bench, self.figure, self.value
        )?;
        if let (Some((name, reference_value)), Some(ratio)) = (&self.reference, self.ratio()) {
            write!(
                f,
                r#","reference":"{name}","reference_value":{reference_value},"ratio":{}"#,
                Num::ratio(ratio)
            )?;
        }
        f.write_str("}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headline_line_has_the_design_shape() {
        let line = Line::against(
            "settle",
            "receipts_per_s",
            Num::Int(1_234_567),
            "blake3_96B_hashes_per_s",
            Num::Int(7_000_000),
        );
        assert_eq!(
            line.to_string(),
            r#"{"bench":"settle","figure":"receipts_per_s","value":1234567,"reference":"blake3_96B_hashes_per_s","reference_value":7000000,"ratio":0.176}"#
        );
    }

    #[test]
    fn numbers_print_as_json() {
        assert_eq!(Num::ratio(0.000_412_3).to_string(), "0.000412");
        assert_eq!(Num::ratio(12.345_6).to_string(), "12.346");
        assert_eq!(Num::Fixed(f64::NAN, 3).to_string(), "null");
        assert_eq!(Num::rounded(2.5e6).to_string(), "2500000");
        let line = Line::info("settle", "execute_block_ms", Num::Fixed(812.5, 3));
        assert_eq!(
            line.to_string(),
            r#"{"bench":"settle","figure":"execute_block_ms","value":812.500}"#
        );
    }
}
