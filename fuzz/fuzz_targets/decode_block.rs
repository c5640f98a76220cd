//! Consensus blocks from arbitrary bytes (what a peer can send): decoding never panics, and
//! whatever decodes re-encodes to exactly the input with the same digest.
#![no_main]

use cadenza_node::block::Block;
use commonware_codec::{Decode as _, Encode as _};
use commonware_cryptography::Digestible as _;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(block) = Block::decode_cfg(bytes::Bytes::copy_from_slice(data), &()) {
        let again = block.encode();
        assert_eq!(again.as_ref(), data, "non-canonical block encoding accepted");
        let decoded = Block::decode_cfg(again, &()).expect("a re-encoded block decodes");
        assert_eq!(decoded.digest(), block.digest());
    }
});
