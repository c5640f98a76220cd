//! Hostile bytes: whatever a file contains, analysing it, reading its tags and verifying it
//! return a value (an error is fine) and never panic. Inputs are arbitrary bytes and valid,
//! tagged files of every format with random bytes overwritten, cut or inserted.

mod common;

use std::sync::OnceLock;

use cadenza_content::claim::decode;
use cadenza_content::{
    LicenceClaim, LicenceFields, SignedClaim, analyse, embed_licence, read_licence_tags,
    verify_file,
};
use cadenza_types::{Amount, AssetId, ChainId, Licence, Price, SecretKey, Uses};
use common::{Format, SHORT, fixture_of};
use proptest::prelude::*;

/// One short tagged file per format, made once.
fn tagged_files() -> &'static [Vec<u8>] {
    static FILES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    FILES.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let key = SecretKey::from_seed([5; 32]);
        Format::ALL
            .iter()
            .map(|f| {
                let raw = fixture_of(&SHORT, *f, dir.path());
                let claim = LicenceClaim::new(
                    key.account(),
                    analyse(&raw).unwrap().essence_id,
                    Licence {
                        price: Price {
                            asset: AssetId::genesis("cUSD"),
                            amount: Amount::new(7),
                        },
                        uses: Uses::STREAM,
                        territories: vec![],
                        valid_from_ms: 0,
                        valid_until_ms: None,
                        url: "https://example.org/licence".into(),
                        min_play_ms: 30_000,
                    },
                    None,
                    ChainId::new("cadenza-devnet").unwrap(),
                );
                let fields = LicenceFields {
                    copyright: Some("© test".into()),
                    ..Default::default()
                };
                let bytes = embed_licence(&raw, &fields, &claim.sign(&key).unwrap()).unwrap();
                assert!(verify_file(&bytes).is_valid(), "{f:?}");
                bytes
            })
            .collect()
    })
}

/// A valid compact claim.
fn sample_claim() -> String {
    let key = SecretKey::from_seed([8; 32]);
    let claim = LicenceClaim::new(
        key.account(),
        cadenza_content::EssenceId {
            version: 1,
            hash: cadenza_types::Hash([3; 32]),
        },
        Licence {
            price: Price {
                asset: AssetId::genesis("cUSD"),
                amount: Amount::new(1_000),
            },
            uses: Uses::STREAM.with(Uses::SYNC),
            territories: vec![cadenza_types::Territory::new("FR").unwrap()],
            valid_from_ms: 5,
            valid_until_ms: Some(10_000),
            url: "https://example.org/licence".into(),
            min_play_ms: 30_000,
        },
        Some("FRZ039800212".into()),
        ChainId::new("cadenza-devnet").unwrap(),
    );
    claim.sign(&key).unwrap().as_str().to_owned()
}

/// Everything a provider runs on an uploaded file.
fn exercise(bytes: &[u8]) {
    let analysed = analyse(bytes);
    let _ = read_licence_tags(bytes);
    let verdict = verify_file(bytes);
    // A file that analyses has a blob id of its bytes, and a valid verdict agrees with analyse.
    if let Ok(a) = &analysed {
        assert_eq!(a.blob_id, cadenza_content::blob_id(bytes));
    }
    if let cadenza_content::Verdict::Valid { analysis, .. } = verdict {
        assert_eq!(Ok(analysis), analysed);
    }
}

#[derive(Clone, Debug)]
enum Mutation {
    Set(usize, u8),
    Truncate(usize),
    Insert(usize, Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        6 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        1 => (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..64))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        exercise(&bytes);
    }

    #[test]
    fn arbitrary_bytes_behind_a_real_magic_never_panic(
        magic in prop_oneof![
            Just(&b"fLaC"[..]), Just(&b"ID3\x04\x00"[..]), Just(&b"\xff\xfb\x90\x64"[..]),
            Just(&b"OggS\x00\x02"[..]), Just(&b"RIFF\x24\x08\x00\x00WAVEfmt "[..]),
        ],
        tail in proptest::collection::vec(any::<u8>(), 0..4096),
    ) {
        let bytes = [magic, &tail[..]].concat();
        exercise(&bytes);
    }

    #[test]
    fn damaged_real_files_never_panic(
        file_idx in 0usize..5,
        mutations in proptest::collection::vec(mutation(), 1..8),
    ) {
        let mut bytes = tagged_files()[file_idx].clone();
        for m in mutations {
            match m {
                Mutation::Set(i, b) => {
                    let len = bytes.len().max(1);
                    if let Some(x) = bytes.get_mut(i % len) { *x = b; }
                }
                Mutation::Truncate(i) => bytes.truncate(i % (bytes.len() + 1)),
                Mutation::Insert(i, b) => {
                    let at = i % (bytes.len() + 1);
                    bytes.splice(at..at, b);
                }
            }
        }
        exercise(&bytes);
    }

    #[test]
    fn any_one_character_changed_in_a_claim_fails_it(idx in any::<usize>(), c in "[A-Za-z0-9_.=-]") {
        let claim = sample_claim();
        prop_assert!(SignedClaim::verify(&claim).is_ok());
        let mut chars: Vec<char> = claim.chars().collect();
        let i = idx % chars.len();
        let new = c.chars().next().unwrap();
        prop_assume!(chars[i] != new);
        chars[i] = new;
        let changed: String = chars.into_iter().collect();
        prop_assert!(SignedClaim::verify(&changed).is_err(), "accepted {changed}");
    }

    #[test]
    fn arbitrary_claim_text_never_panics(text in ".{0,300}") {
        let _ = decode(&text);
    }
}

/// Found by the `analyse_audio` fuzz target: a WAV `fmt ` chunk declaring 65,533 channels makes
/// symphonia-format-riff 0.6.1 overflow a `u16` multiplication (`wave/chunks.rs`, block align),
/// which panics in builds with overflow checks. The file must be refused, not crash the caller.
#[test]
fn regression_wav_fmt_with_65533_channels_is_refused_not_a_panic() {
    let bytes = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        "//tSSUZGJEAAAFdBVkVmbXQgEAAAAAEA/f///wAAELECAAQAEABkYXRhAEAAAAAAAAD+//7/9P/y/+T/4P/G/8D/\
         qv+g/4r/fP9a/0j/MP8cSUQzBAAAAAAAI1RT/wT/7v7I/q7+lv56/mT+Rv4i/gL+7v3Q/br9nv12/V79Rv0w/Rb9\
         CP3Y/NL8rvy0/Ij8nPxU/Hj8OPxu/CL8bPwA/GL89vty/PL7jvzo+6bIAAAAAAAAABj9LPxk/Uj8tP/7SUQzBAAA\
         /Xz8Hv66/AAAUw4ARVQAUw8ADgAAA5T+9Ew=",
    )
    .unwrap();
    let err = analyse(&bytes).unwrap_err();
    assert!(
        matches!(err.code(), "library_failure" | "not_audio" | "broken_audio"),
        "{err}"
    );
    assert!(!verify_file(&bytes).is_valid());
}
