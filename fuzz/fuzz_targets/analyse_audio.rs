//! Audio files from arbitrary bytes: analysing, reading tags and verifying never panic, and a
//! file that analyses has the blob id of its bytes.
//!
//! `cadenza-content` contains panics of the third-party decoders it drives (they become
//! `ContentError::LibraryFailure`), but libfuzzer-sys installs a panic hook that aborts before
//! any unwinding, which would report those contained panics as crashes. So this target puts the
//! standard hook back: a panic that escapes the crate is still caught by libfuzzer-sys and
//! reported as a crash, with its message.
#![no_main]

use std::sync::Once;

use cadenza_content::{analyse, blob_id, read_licence_tags, verify_file};
use libfuzzer_sys::fuzz_target;

static STANDARD_HOOK: Once = Once::new();

fuzz_target!(|data: &[u8]| {
    STANDARD_HOOK.call_once(|| drop(std::panic::take_hook()));
    if let Ok(a) = analyse(data) {
        assert_eq!(a.blob_id, blob_id(data));
    }
    let _ = read_licence_tags(data);
    let _ = verify_file(data);
});
