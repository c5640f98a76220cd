//! Licence claims (compact JWS) from arbitrary text, and valid claims with bytes changed:
//! decoding never panics; whatever decodes re-encodes to exactly the input; a changed claim
//! never verifies.
#![no_main]

use std::sync::LazyLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cadenza_content::EssenceId;
use cadenza_content::claim::{LicenceClaim, SignedClaim, decode};
use cadenza_types::{Amount, AssetId, ChainId, Hash, Licence, Price, SecretKey, Territory, Uses};
use libfuzzer_sys::fuzz_target;

/// A valid claim the fuzzer's bytes are applied to, so mutations start past base64 and JSON.
static VALID: LazyLock<String> = LazyLock::new(|| {
    let key = SecretKey::from_seed([7; 32]);
    let claim = LicenceClaim::new(
        key.account(),
        EssenceId {
            version: 1,
            hash: Hash([1; 32]),
        },
        Licence {
            price: Price {
                asset: AssetId::genesis("cUSD"),
                amount: Amount::new(1_000),
            },
            uses: Uses::STREAM.with(Uses::REMIX),
            territories: vec![Territory::new("GB").unwrap()],
            valid_from_ms: 0,
            valid_until_ms: Some(1),
            url: "https://example.org/l".into(),
            min_play_ms: 30_000,
        },
        Some("GBAYE2600001".into()),
        ChainId::new("cadenza-devnet").unwrap(),
    );
    claim.sign(&key).unwrap().as_str().to_owned()
});

fn check(text: &str) {
    if let Ok((claim, input_len, signature)) = decode(text) {
        let again = format!(
            "{}.{}",
            claim.signing_input(),
            URL_SAFE_NO_PAD.encode(signature.0)
        );
        assert_eq!(again, text, "non-canonical claim accepted");
        assert_eq!(input_len, claim.signing_input().len());
    }
    if text != VALID.as_str() {
        // Only the one signed text verifies (the issuer signed nothing else).
        if let Ok(signed) = SignedClaim::verify(text) {
            assert_ne!(
                signed.claim().issuer,
                SecretKey::from_seed([7; 32]).account(),
                "{text}"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        if let Ok(text) = std::str::from_utf8(rest) {
            check(text);
        }
        return;
    }
    // XOR the valid claim's decoded payload with the input, then re-encode it: structured
    // changes to the JSON that keep the base64 layer intact.
    let mut parts: Vec<String> = VALID.split('.').map(str::to_owned).collect();
    let mut payload = URL_SAFE_NO_PAD.decode(&parts[1]).unwrap();
    for (i, b) in rest.iter().enumerate() {
        let at = (i * 7919 + usize::from(mode)) % payload.len();
        payload[at] ^= b;
    }
    parts[1] = URL_SAFE_NO_PAD.encode(&payload);
    check(&parts.join("."));
});
