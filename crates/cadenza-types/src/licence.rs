//! Licence terms: what a stream of a track costs and what the licence allows. The same terms are
//! stored on the ledger and embedded, signed, in the audio file.

use crate::amount::Amount;
use crate::encoding::{Decode, DecodeError, Encode, Reader, Writer};
use crate::ids::AssetId;

/// The longest licence URL, in bytes.
pub const LICENCE_URL_MAX_LEN: usize = 512;
/// The most territories a licence may list.
pub const TERRITORIES_MAX: usize = 64;

/// The uses a licence allows, as a set of flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Uses(u8);

impl Uses {
    /// Streaming (the only use the ledger settles payments for).
    pub const STREAM: Uses = Uses(1);
    /// Downloading a copy.
    pub const DOWNLOAD: Uses = Uses(1 << 1);
    /// Synchronisation with pictures (film, games, ads).
    pub const SYNC: Uses = Uses(1 << 2);
    /// Remixes and derivative works.
    pub const REMIX: Uses = Uses(1 << 3);
    const ALL_BITS: u8 = 0b1111;

    /// The empty set.
    pub const fn none() -> Uses {
        Uses(0)
    }

    /// The union of two sets.
    #[must_use]
    pub const fn with(self, other: Uses) -> Uses {
        Uses(self.0 | other.0)
    }

    /// Whether every use in `other` is allowed.
    pub const fn allows(self, other: Uses) -> bool {
        self.0 & other.0 == other.0
    }

    /// The raw flag bits.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// The set with these bits, or `None` if an unknown bit is set.
    pub const fn from_bits(bits: u8) -> Option<Uses> {
        if bits & !Self::ALL_BITS == 0 {
            Some(Uses(bits))
        } else {
            None
        }
    }
}

/// An ISO 3166-1 alpha-2 country code, upper case (`GB`, `BR`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Territory(pub [u8; 2]);

impl Territory {
    /// Checks and wraps a two-letter code.
    pub fn new(code: &str) -> Option<Territory> {
        let b = code.as_bytes();
        (b.len() == 2 && b.iter().all(u8::is_ascii_uppercase)).then(|| Territory([b[0], b[1]]))
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

/// The price of one stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Price {
    /// The asset the price is paid in; a channel must be in this asset to stream the track.
    pub asset: AssetId,
    /// The least a receipt for one stream may carry.
    pub amount: Amount,
}

/// A track's licence terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Licence {
    /// The price of one stream.
    pub price: Price,
    /// The uses allowed.
    pub uses: Uses,
    /// Where the licence applies; empty means worldwide. Informational on the ledger, which cannot
    /// see where a listener is; providers enforce it.
    pub territories: Vec<Territory>,
    /// Start of validity (block time, ms since the Unix epoch).
    pub valid_from_ms: u64,
    /// End of validity, exclusive; `None` for no end.
    pub valid_until_ms: Option<u64>,
    /// The licence's human-readable text.
    pub url: String,
    /// The least play time that makes a stream; the protocol's own minimum applies if higher.
    pub min_play_ms: u32,
}

impl Encode for Licence {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.price.asset.encode_to(out);
        self.price.amount.get().encode_to(out);
        out.push(self.uses.bits());
        out.put_len(self.territories.len());
        for t in &self.territories {
            out.extend_from_slice(&t.0);
        }
        self.valid_from_ms.encode_to(out);
        out.put_option(&self.valid_until_ms, |o, v| v.encode_to(o));
        out.put_bytes(self.url.as_bytes());
        self.min_play_ms.encode_to(out);
    }
}

impl Decode for Licence {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let asset = AssetId::decode_from(r)?;
        let amount = Amount::new(r.u128()?);
        let uses = Uses::from_bits(r.u8()?).ok_or(DecodeError::Invalid {
            what: "licence uses",
            why: "unknown use flag",
        })?;
        let territories = r.list("territories", TERRITORIES_MAX, 2, |r| {
            let code = r.array::<2>()?;
            if code.iter().all(u8::is_ascii_uppercase) {
                Ok(Territory(code))
            } else {
                Err(DecodeError::Invalid {
                    what: "territory",
                    why: "not an upper-case ISO 3166-1 alpha-2 code",
                })
            }
        })?;
        let valid_from_ms = r.u64()?;
        let valid_until_ms = r.option("licence end", Reader::u64)?;
        let url = r.string("licence url", LICENCE_URL_MAX_LEN)?;
        let min_play_ms = r.u32()?;
        Ok(Licence {
            price: Price { asset, amount },
            uses,
            territories,
            valid_from_ms,
            valid_until_ms,
            url,
            min_play_ms,
        })
    }
}
