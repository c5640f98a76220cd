//! The canonical byte encoding of everything Cadenza signs, hashes or stores.
//!
//! Rules (see `docs/encoding.md` for every layout):
//! - integers are fixed-width little-endian (`u8`, `u16`, `u32`, `u64`, `u128`);
//! - `bool` is one byte, `0` or `1`;
//! - fixed-size byte arrays (keys, hashes, signatures) are written raw;
//! - byte strings and UTF-8 strings are a `u32` length then the bytes;
//! - `Option<T>` is a byte `0` (none) or `1` followed by `T`;
//! - lists are a `u32` count then the items;
//! - enums are a `u8` tag then the variant's fields in order.
//!
//! Every value has exactly one encoding: the decoder rejects other tags, booleans other than 0/1,
//! invalid UTF-8, lengths above the field's bound and trailing bytes. So `encode(decode(b)) == b`
//! whenever `decode(b)` succeeds, which the round-trip property tests check.

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ended before the value did.
    #[error("input ends early: needed {needed} more bytes")]
    UnexpectedEnd {
        /// How many more bytes were needed.
        needed: usize,
    },
    /// Bytes were left after the value.
    #[error("{0} unexpected trailing bytes after the value")]
    TrailingBytes(usize),
    /// An enum or option tag that no variant has.
    #[error("unknown tag {tag} for {what}")]
    BadTag {
        /// What was being decoded.
        what: &'static str,
        /// The tag found.
        tag: u8,
    },
    /// A length above the field's bound.
    #[error("{what} has length {len}, above its bound of {max}")]
    TooLong {
        /// What was being decoded.
        what: &'static str,
        /// The length found.
        len: u64,
        /// The bound.
        max: usize,
    },
    /// A string that is not UTF-8.
    #[error("{what} is not valid UTF-8")]
    BadUtf8 {
        /// What was being decoded.
        what: &'static str,
    },
    /// A value that is well-formed bytes but breaks a rule of its type.
    #[error("invalid {what}: {why}")]
    Invalid {
        /// What was being decoded.
        what: &'static str,
        /// The rule it breaks.
        why: &'static str,
    },
}

/// A value with a canonical encoding.
pub trait Encode {
    /// Appends the canonical encoding of `self` to `out`.
    fn encode_to(&self, out: &mut Vec<u8>);

    /// Bytes to reserve before encoding `self` (a common length, not a bound: longer
    /// encodings grow as usual), so that [`Encode::to_bytes`] makes one allocation rather than
    /// a chain of reallocations. None by default.
    fn size_hint(&self) -> usize {
        0
    }

    /// The canonical encoding of `self`.
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.size_hint());
        self.encode_to(&mut out);
        out
    }
}

/// A value that can be read back from its canonical encoding.
pub trait Decode: Sized {
    /// Reads one value from `r`.
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError>;

    /// Decodes exactly one value from `bytes`, rejecting trailing bytes.
    fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let value = Self::decode_from(&mut r)?;
        r.finish()?;
        Ok(value)
    }
}

/// A cursor over bytes being decoded. Every read is bounds-checked; nothing is allocated before
/// its length has been checked against both the field's bound and the bytes that remain.
pub struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }

    /// How many bytes are left.
    pub fn remaining(&self) -> usize {
        self.bytes.len()
    }

    /// Fails unless every byte has been read.
    pub fn finish(&self) -> Result<(), DecodeError> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes(self.bytes.len()))
        }
    }

    /// Takes the next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.bytes.len() < n {
            return Err(DecodeError::UnexpectedEnd {
                needed: n - self.bytes.len(),
            });
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    /// Takes a fixed-size array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// Reads a `u8`.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    /// Reads a little-endian `u16`.
    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    /// Reads a little-endian `u32`.
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// Reads a little-endian `u64`.
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// Reads a little-endian `u128`.
    pub fn u128(&mut self) -> Result<u128, DecodeError> {
        Ok(u128::from_le_bytes(self.array()?))
    }

    /// Reads a boolean, which must be 0 or 1.
    pub fn bool(&mut self, what: &'static str) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            tag => Err(DecodeError::BadTag { what, tag }),
        }
    }

    /// Reads a `u32` length and checks it against `max`.
    fn len(&mut self, what: &'static str, max: usize) -> Result<usize, DecodeError> {
        let len = self.u32()?;
        if len as usize > max {
            return Err(DecodeError::TooLong {
                what,
                len: u64::from(len),
                max,
            });
        }
        Ok(len as usize)
    }

    /// Reads a length-prefixed byte string of at most `max` bytes.
    pub fn bytes(&mut self, what: &'static str, max: usize) -> Result<&'a [u8], DecodeError> {
        let len = self.len(what, max)?;
        self.take(len)
    }

    /// Reads a length-prefixed UTF-8 string of at most `max` bytes.
    pub fn string(&mut self, what: &'static str, max: usize) -> Result<String, DecodeError> {
        let raw = self.bytes(what, max)?;
        std::str::from_utf8(raw)
            .map(str::to_owned)
            .map_err(|_| DecodeError::BadUtf8 { what })
    }

    /// Reads an optional value.
    pub fn option<T>(
        &mut self,
        what: &'static str,
        item: impl FnOnce(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<Option<T>, DecodeError> {
        match self.u8()? {
            0 => Ok(None),
            1 => item(self).map(Some),
            tag => Err(DecodeError::BadTag { what, tag }),
        }
    }

    /// Reads a counted list of at most `max` items, each at least `min_item_bytes` long (used to
    /// refuse counts that the remaining input could not possibly hold before allocating).
    pub fn list<T>(
        &mut self,
        what: &'static str,
        max: usize,
        min_item_bytes: usize,
        mut item: impl FnMut(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<Vec<T>, DecodeError> {
        let n = self.len(what, max)?;
        if n.saturating_mul(min_item_bytes.max(1)) > self.remaining() {
            return Err(DecodeError::UnexpectedEnd {
                needed: n.saturating_mul(min_item_bytes.max(1)) - self.remaining(),
            });
        }
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(item(self)?);
        }
        Ok(out)
    }
}

/// Helpers to write the canonical encoding.
pub trait Writer {
    /// Writes a length-prefixed byte string.
    fn put_bytes(&mut self, bytes: &[u8]);
    /// Writes a `u32` count.
    fn put_len(&mut self, n: usize);
    /// Writes an optional value.
    fn put_option<T>(&mut self, value: &Option<T>, item: impl FnOnce(&mut Self, &T));
}

impl Writer for Vec<u8> {
    fn put_bytes(&mut self, bytes: &[u8]) {
        self.put_len(bytes.len());
        self.extend_from_slice(bytes);
    }

    fn put_len(&mut self, n: usize) {
        let n = u32::try_from(n).expect("encoded lengths are bounded far below u32::MAX");
        self.extend_from_slice(&n.to_le_bytes());
    }

    fn put_option<T>(&mut self, value: &Option<T>, item: impl FnOnce(&mut Self, &T)) {
        match value {
            None => self.push(0),
            Some(v) => {
                self.push(1);
                item(self, v);
            }
        }
    }
}

macro_rules! impl_int {
    ($($t:ty => $read:ident),*) => {$(
        impl Encode for $t {
            fn encode_to(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
        impl Decode for $t {
            fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                r.$read()
            }
        }
    )*};
}

impl_int!(u8 => u8, u16 => u16, u32 => u32, u64 => u64, u128 => u128);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_refuses_counts_the_input_cannot_hold() {
        let mut bytes = Vec::new();
        bytes.put_len(1_000);
        let mut r = Reader::new(&bytes);
        let err = r.list("items", 10_000, 8, |r| r.u64()).unwrap_err();
        assert!(matches!(err, DecodeError::UnexpectedEnd { .. }));
        let mut r = Reader::new(&bytes);
        let err = r.list("items", 10, 8, |r| r.u64()).unwrap_err();
        assert!(matches!(err, DecodeError::TooLong { .. }));
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        assert_eq!(u32::from_bytes(&[1, 0, 0, 0]), Ok(1));
        assert_eq!(
            u32::from_bytes(&[1, 0, 0, 0, 9]),
            Err(DecodeError::TrailingBytes(1))
        );
    }
}
