//! Royalty splits as an artist writes them: `--split singer=60% --split producer=40%`.
//!
//! A holder is a `did:key` or the name of a local key; a percentage has at most four decimal
//! places, so it maps exactly onto the ledger's 1,000,000 shares (1% = 10,000 shares,
//! 0.0001% = 1 share). The parts must sum to exactly 100%, name each holder once, and give each
//! at least one share. Everything is checked before anything is sent.

use cadenza_types::tx::HOLDERS_MAX;
use cadenza_types::{AccountId, Holder};

/// A track's shares, all of them.
pub const TOTAL_SHARES: u32 = 1_000_000;
/// Shares per whole percent.
const SHARES_PER_PERCENT: u32 = TOTAL_SHARES / 100;
/// Decimal places a percentage may have.
const PERCENT_DECIMALS: usize = 4;

/// Who a split names, before key names are looked up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HolderRef {
    /// A did:key.
    Account(AccountId),
    /// The name of a local key.
    Key(String),
}

/// One `--split HOLDER=PERCENT%`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    /// The text as given.
    pub text: String,
    /// Who.
    pub holder: HolderRef,
    /// How many of the 1,000,000 shares.
    pub shares: u32,
}

/// Why a split was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    /// Not `HOLDER=PERCENT%`.
    #[error("`{0}` is not a split: write it like singer=60% or did:key:z6Mk...=12.5%")]
    Malformed(String),
    /// A holder that is neither a did:key nor a key name.
    #[error(
        "`{text}` names `{holder}`, which is not a holder: {why}; a holder is a did:key like \
         did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK or the name of a key"
    )]
    BadHolder {
        /// The split.
        text: String,
        /// The holder as written.
        holder: String,
        /// What is wrong.
        why: String,
    },
    /// A percentage outside the rules.
    #[error("`{text}`: {why}")]
    BadPercent {
        /// The split.
        text: String,
        /// What is wrong.
        why: String,
    },
    /// The same holder twice.
    #[error("{0} is named in two splits; give each holder one split with their whole part")]
    Duplicate(String),
    /// The parts do not make 100%.
    #[error("the splits sum to {sum}%, not 100%: {fix}")]
    Sum {
        /// What they sum to.
        sum: String,
        /// What to change.
        fix: String,
    },
    /// No split given.
    #[error("give at least one --split, like --split singer=100%")]
    None,
    /// Too many holders.
    #[error("{0} splits: a track has at most {HOLDERS_MAX} holders")]
    TooMany(usize),
}

/// Shares as a percentage with up to four decimals, trailing zeros dropped (`12.5`).
pub fn percent(shares: u64) -> String {
    let whole = shares / u64::from(SHARES_PER_PERCENT);
    let frac = shares % u64::from(SHARES_PER_PERCENT);
    if frac == 0 {
        whole.to_string()
    } else {
        let frac = format!("{frac:04}");
        format!("{whole}.{}", frac.trim_end_matches('0'))
    }
}

/// Reads a percentage (`60%`, `12.5%`, `0.0001%`) into shares.
pub fn parse_percent(text: &str, number: &str) -> Result<u32, SplitError> {
    let bad = |why: &str| SplitError::BadPercent {
        text: text.to_owned(),
        why: why.to_owned(),
    };
    let number = number.trim();
    let Some(number) = number.strip_suffix('%') else {
        return Err(bad("give the part as a percentage, like 60% or 12.5%"));
    };
    let number = number.trim();
    if number.starts_with('-') {
        return Err(bad("a part cannot be negative"));
    }
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && frac.is_empty()) || !digits(whole) || !digits(frac) {
        return Err(bad("not a number; write the part like 60% or 12.5%"));
    }
    if frac.len() > PERCENT_DECIMALS {
        return Err(bad(
            "at most 4 decimal places (0.0001% is one of the track's 1,000,000 shares)",
        ));
    }
    let whole: u32 = if whole.is_empty() {
        0
    } else {
        whole
            .parse()
            .ok()
            .filter(|w| *w <= 100)
            .ok_or_else(|| bad("a part cannot exceed 100%"))?
    };
    let frac_shares: u32 = if frac.is_empty() {
        0
    } else {
        let pad = PERCENT_DECIMALS - frac.len();
        frac.parse::<u32>().map_err(|_| bad("not a number"))? * 10u32.pow(pad as u32)
    };
    let shares = whole * SHARES_PER_PERCENT + frac_shares;
    if shares > TOTAL_SHARES {
        return Err(bad("a part cannot exceed 100%"));
    }
    if shares == 0 {
        return Err(bad("a holder's part must be more than 0%"));
    }
    Ok(shares)
}

/// Reads a holder: a did:key, or the name of a key (looked up later).
pub fn parse_holder(text: &str, holder: &str) -> Result<HolderRef, SplitError> {
    let holder = holder.trim();
    if holder.starts_with("did:") {
        return AccountId::from_did(holder)
            .map(HolderRef::Account)
            .map_err(|e| SplitError::BadHolder {
                text: text.to_owned(),
                holder: holder.to_owned(),
                why: e.to_string(),
            });
    }
    if crate::keystore::valid_name(holder) {
        return Ok(HolderRef::Key(holder.to_owned()));
    }
    Err(SplitError::BadHolder {
        text: text.to_owned(),
        holder: holder.to_owned(),
        why: "neither a did:key nor a key name (a-z, 0-9, - and _)".into(),
    })
}

/// Reads one `HOLDER=PERCENT%`.
pub fn parse_split(text: &str) -> Result<Split, SplitError> {
    // A did:key has no `=`, so the last one separates the holder from the part.
    let (holder, part) = text
        .rsplit_once('=')
        .ok_or_else(|| SplitError::Malformed(text.to_owned()))?;
    if holder.trim().is_empty() {
        return Err(SplitError::Malformed(text.to_owned()));
    }
    Ok(Split {
        text: text.to_owned(),
        holder: parse_holder(text, holder)?,
        shares: parse_percent(text, part)?,
    })
}

/// Reads every split and checks that they sum to 100%; duplicates are checked by [`holders`]
/// once key names are resolved (and here among what is written the same way).
pub fn parse_splits(texts: &[String]) -> Result<Vec<Split>, SplitError> {
    if texts.is_empty() {
        return Err(SplitError::None);
    }
    if texts.len() > HOLDERS_MAX {
        return Err(SplitError::TooMany(texts.len()));
    }
    let splits: Vec<Split> = texts
        .iter()
        .map(|t| parse_split(t))
        .collect::<Result<_, _>>()?;
    for (i, a) in splits.iter().enumerate() {
        if splits[..i].iter().any(|b| b.holder == a.holder) {
            let name = match &a.holder {
                HolderRef::Account(acc) => acc.to_did(),
                HolderRef::Key(k) => format!("key `{k}`"),
            };
            return Err(SplitError::Duplicate(name));
        }
    }
    let sum: u64 = splits.iter().map(|s| u64::from(s.shares)).sum();
    if sum != u64::from(TOTAL_SHARES) {
        let fix = if sum < u64::from(TOTAL_SHARES) {
            format!(
                "{}% is not given to anyone",
                percent(u64::from(TOTAL_SHARES) - sum)
            )
        } else {
            format!(
                "{}% too much is given",
                percent(sum - u64::from(TOTAL_SHARES))
            )
        };
        return Err(SplitError::Sum {
            sum: percent(sum),
            fix,
        });
    }
    Ok(splits)
}

/// The ledger's holders, with key names resolved by `lookup`; a holder reached twice (a key name
/// and its did:key) is refused.
pub fn holders<E: From<SplitError>>(
    splits: &[Split],
    mut lookup: impl FnMut(&str) -> Result<AccountId, E>,
) -> Result<Vec<Holder>, E> {
    let mut out: Vec<Holder> = Vec::with_capacity(splits.len());
    for s in splits {
        let account = match &s.holder {
            HolderRef::Account(a) => *a,
            HolderRef::Key(name) => lookup(name)?,
        };
        if out.iter().any(|h| h.account == account) {
            return Err(SplitError::Duplicate(account.to_did()).into());
        }
        out.push(Holder {
            account,
            shares: s.shares,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn did(seed: u8) -> String {
        cadenza_types::SecretKey::from_seed([seed; 32])
            .account()
            .to_did()
    }

    fn splits(texts: &[&str]) -> Result<Vec<Split>, SplitError> {
        parse_splits(&texts.iter().map(|t| t.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn percentages_map_exactly_onto_a_million_shares() {
        let p = |t: &str| parse_percent(t, t);
        assert_eq!(p("60%"), Ok(600_000));
        assert_eq!(p("12.5%"), Ok(125_000));
        assert_eq!(p("0.0001%"), Ok(1));
        assert_eq!(p("33.3333%"), Ok(333_333));
        assert_eq!(p("100%"), Ok(1_000_000));
        assert_eq!(p(".5%"), Ok(5_000));
        assert_eq!(p(" 40 %"), Ok(400_000));
        for (bad, why) in [
            ("0.00001%", "4 decimal places"),
            ("60", "percentage"),
            ("-5%", "negative"),
            ("0%", "more than 0%"),
            ("100.0001%", "exceed 100%"),
            ("250%", "exceed 100%"),
            ("1e2%", "not a number"),
            ("%", "not a number"),
            ("99999999999999999999%", "exceed 100%"),
        ] {
            let e = p(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
        assert_eq!(percent(125_000), "12.5");
        assert_eq!(percent(1), "0.0001");
        assert_eq!(percent(1_000_000), "100");
    }

    #[test]
    fn splits_sum_to_exactly_one_hundred_percent() {
        let s = splits(&["singer=60%", "producer=40%"]).unwrap();
        assert_eq!(s[0].holder, HolderRef::Key("singer".into()));
        assert_eq!((s[0].shares, s[1].shares), (600_000, 400_000));
        let alice = did(1);
        let s = splits(&[&format!("{alice}=33.3334%"), "b=33.3333%", "c=33.3333%"]).unwrap();
        assert_eq!(
            s[0].holder,
            HolderRef::Account(AccountId::from_did(&alice).unwrap())
        );
        assert_eq!(s.iter().map(|x| x.shares).sum::<u32>(), TOTAL_SHARES);

        let e = splits(&["singer=60%", "producer=30%"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the splits sum to 90%, not 100%: 10% is not given to anyone"
        );
        let e = splits(&["singer=60%", "producer=40.0001%"]).unwrap_err();
        assert!(e.to_string().contains("sum to 100.0001%"), "{e}");
        assert!(e.to_string().contains("0.0001% too much"), "{e}");
        assert_eq!(splits(&[]).unwrap_err(), SplitError::None);
    }

    #[test]
    fn duplicates_and_malformed_holders_are_refused() {
        let e = splits(&["singer=50%", "singer=50%"]).unwrap_err();
        assert!(matches!(e, SplitError::Duplicate(_)), "{e}");
        let alice = did(2);
        let e = splits(&[&format!("{alice}=50%"), &format!("{alice}=50%")]).unwrap_err();
        assert!(e.to_string().contains(&alice), "{e}");
        // A key name and its did:key are the same holder.
        let s = splits(&["alice=50%", &format!("{alice}=50%")]).unwrap();
        let account = AccountId::from_did(&alice).unwrap();
        let e = holders::<SplitError>(&s, |_| Ok(account)).unwrap_err();
        assert!(matches!(e, SplitError::Duplicate(_)), "{e}");

        let broken = &alice[..alice.len() - 1];
        let e = splits(&[&format!("{broken}=100%")]).unwrap_err();
        assert!(
            e.to_string().contains("is not a holder") && e.to_string().contains(broken),
            "{e}"
        );
        let e = splits(&["did:key:z6MkNotAKey=100%"]).unwrap_err();
        assert!(matches!(e, SplitError::BadHolder { .. }), "{e}");
        let e = splits(&["Bad Name=100%"]).unwrap_err();
        assert!(e.to_string().contains("neither a did:key"), "{e}");
        assert!(matches!(
            splits(&["singer60%"]).unwrap_err(),
            SplitError::Malformed(_)
        ));
        assert!(matches!(
            splits(&["=100%"]).unwrap_err(),
            SplitError::Malformed(_)
        ));
        let many: Vec<String> = (0..65).map(|i| format!("k{i}=1%")).collect();
        assert_eq!(parse_splits(&many).unwrap_err(), SplitError::TooMany(65));
        let h = holders::<SplitError>(&splits(&["a=100%"]).unwrap(), |_| Ok(account)).unwrap();
        assert_eq!(
            h,
            vec![Holder {
                account,
                shares: 1_000_000
            }]
        );
    }
}
