//! Providers' blob announcements from arbitrary bytes (they arrive from any peer that dials in):
//! decoding never panics, and whatever decodes re-encodes to exactly the input.
#![no_main]

use cadenza_blobs::holdings::Announcement;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = Announcement::decode(data) {
        assert_eq!(a.encode(), data, "non-canonical announcement accepted");
    }
});
