//! Signed vouchers and receipts from arbitrary bytes: decoding never panics, and whatever decodes
//! re-encodes to exactly the input.
#![no_main]

use cadenza_types::{Decode, Encode, Receipt, SignedVoucher};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = SignedVoucher::from_bytes(data) {
        assert_eq!(v.to_bytes(), data, "non-canonical voucher encoding accepted");
        let _ = v.voucher.signing_hash();
    }
    if let Ok(r) = Receipt::from_bytes(data) {
        assert_eq!(r.to_bytes(), data, "non-canonical receipt encoding accepted");
    }
});
