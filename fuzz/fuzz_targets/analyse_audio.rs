//! Audio files from arbitrary bytes: analysing, reading tags and verifying never panic, and a
//! file that analyses has the blob id of its bytes.
//!
//! Half the inputs are raw bytes; the other half are edits (offset, byte) applied to one of three
//! real tagged files (WAV, FLAC, Ogg Vorbis made by the demo encoders), so a short run already
//! reaches deep into the demuxers and tag readers without a stored corpus.
//!
//! `cadenza-content` contains panics of the third-party decoders it drives (they become
//! `ContentError::LibraryFailure`), but libfuzzer-sys installs a panic hook that aborts before
//! any unwinding, which would report those contained panics as crashes. So this target puts the
//! standard hook back: a panic that escapes the crate is still caught by libfuzzer-sys and
//! reported as a crash, with its message.
#![no_main]

use std::sync::{LazyLock, Once};

use cadenza_content::demo::{self, DemoTrack};
use cadenza_content::{
    LicenceFields, analyse, blob_id, read_licence_tags, sign_and_embed, verify_file,
};
use cadenza_types::{Amount, AssetId, ChainId, Licence, Price, SecretKey, Uses};
use libfuzzer_sys::fuzz_target;

static STANDARD_HOOK: Once = Once::new();

static SEEDS: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| {
    let blip = DemoTrack {
        title: "Blip",
        artist: "Fuzz",
        chords: &[&[440_000, 554_365]],
        chord_ms: 50,
    };
    let pcm = demo::synthesize(&blip);
    let key = SecretKey::from_seed([3; 32]);
    let licence = Licence {
        price: Price {
            asset: AssetId::genesis("cUSD"),
            amount: Amount::new(1),
        },
        uses: Uses::STREAM,
        territories: vec![],
        valid_from_ms: 0,
        valid_until_ms: None,
        url: "https://example.org/l".into(),
        min_play_ms: 30_000,
    };
    let fields = LicenceFields {
        copyright: Some("(C) fuzz".into()),
        ..LicenceFields::default()
    };
    [
        demo::encode_wav(&pcm).unwrap(),
        demo::encode_flac(&pcm).unwrap(),
        demo::encode_ogg_vorbis(&pcm).unwrap(),
    ]
    .iter()
    .map(|raw| {
        let chain = ChainId::new("cadenza-devnet").unwrap();
        sign_and_embed(raw, &fields, &key, licence.clone(), chain)
            .unwrap()
            .bytes
    })
    .collect()
});

fn check(bytes: &[u8]) {
    if let Ok(a) = analyse(bytes) {
        assert_eq!(a.blob_id, blob_id(bytes));
    }
    let _ = read_licence_tags(bytes);
    let _ = verify_file(bytes);
}

fuzz_target!(|data: &[u8]| {
    STANDARD_HOOK.call_once(|| drop(std::panic::take_hook()));
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        check(rest);
        return;
    }
    let mut file = SEEDS[usize::from(mode / 2) % SEEDS.len()].clone();
    // Each 4-byte group is an edit: a 24-bit offset (wrapped to the file) and the new byte.
    for edit in rest.chunks_exact(4) {
        let at = (usize::from(edit[0]) << 16 | usize::from(edit[1]) << 8 | usize::from(edit[2]))
            % file.len();
        file[at] = edit[3];
    }
    if rest.len() % 4 == 1 {
        // A trailing odd byte cuts the file there, for truncations.
        file.truncate(usize::from(rest[rest.len() - 1]) * file.len() / 256);
    }
    check(&file);
});
