//! Signed transactions from arbitrary bytes: decoding never panics, and whatever decodes
//! re-encodes to exactly the input (the encoding is canonical).
#![no_main]

use cadenza_types::{Decode, Encode, SignedTransaction};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(stx) = SignedTransaction::from_bytes(data) {
        assert_eq!(stx.to_bytes(), data, "non-canonical transaction encoding accepted");
        let _ = stx.hash();
    }
});
