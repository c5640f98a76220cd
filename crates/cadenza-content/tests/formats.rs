//! Every supported format, end to end: tag a file with a signed licence, then check it with
//! readers we did not write (ffprobe, mutagen), decode it with ffmpeg, flip an audio byte,
//! re-tag it with other tools, and tamper with the claim.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cadenza_content::{
    Codec, Container, LicenceClaim, LicenceFields, Verdict, analyse, blob_id, embed_licence,
    read_licence_tags, sign_and_embed, verify_file,
};
use cadenza_types::{
    Amount, AssetId, ChainId, Licence, Price, SecretKey, Territory, TrackId, Uses,
};
use common::{Format, fixture, python_with_mutagen, run, tool};

const COPYRIGHT: &str = "℗ 2026 The Test Tones";
const ISRC: &str = "GBAYE2600001";
const PUBLISHER: &str = "Cadenza Demo Records";
const LICENCE_URL: &str = "https://creativecommons.org/licenses/by-nc/4.0/";

fn artist_key() -> SecretKey {
    SecretKey::from_seed([42; 32])
}

fn licence() -> Licence {
    Licence {
        price: Price {
            asset: AssetId::genesis("cUSD"),
            amount: Amount::new(1_000),
        },
        uses: Uses::STREAM.with(Uses::DOWNLOAD),
        territories: vec![Territory::new("GB").unwrap(), Territory::new("BR").unwrap()],
        valid_from_ms: 1_767_225_600_000,
        valid_until_ms: None,
        url: LICENCE_URL.into(),
        min_play_ms: 30_000,
    }
}

fn fields() -> LicenceFields {
    LicenceFields {
        copyright: Some(COPYRIGHT.into()),
        isrc: Some(ISRC.into()),
        publisher: Some(PUBLISHER.into()),
        licence_url: Some(LICENCE_URL.into()),
        claim: None,
    }
}

/// A file of `format`, tagged with a claim the artist signed over its essence id.
fn tagged(format: Format, dir: &Path) -> (Vec<u8>, String) {
    let raw = fixture(format, dir);
    let licensed = sign_and_embed(
        &raw,
        &fields(),
        &artist_key(),
        licence(),
        ChainId::new("cadenza-devnet").unwrap(),
    )
    .unwrap_or_else(|e| panic!("{format:?}: {e}"));
    assert_eq!(
        licensed.analysis.essence_id,
        analyse(&raw).unwrap().essence_id
    );
    assert_eq!(licensed.analysis.blob_id, blob_id(&licensed.bytes));
    assert_ne!(licensed.analysis.blob_id, blob_id(&raw));
    (licensed.bytes, licensed.claim.as_str().to_owned())
}

fn write(dir: &Path, name: &str, format: Format, bytes: &[u8]) -> PathBuf {
    let path = dir.join(format!("{name}.{}", format.extension()));
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Every tag ffprobe reports, at format and stream level, with lower-cased keys.
fn ffprobe_tags(path: &Path) -> Vec<(String, String)> {
    let out = run(Command::new(tool("ffprobe"))
        .args([
            "-v",
            "error",
            "-show_format",
            "-show_streams",
            "-of",
            "json",
        ])
        .arg(path));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut tags = Vec::new();
    let mut collect = |v: &serde_json::Value| {
        if let Some(map) = v.get("tags").and_then(|t| t.as_object()) {
            for (k, v) in map {
                tags.push((k.to_lowercase(), v.as_str().unwrap_or_default().to_owned()));
            }
        }
    };
    collect(&json["format"]);
    for s in json["streams"].as_array().into_iter().flatten() {
        collect(s);
    }
    tags
}

fn ffmpeg_decodes(path: &Path) {
    let out = run(Command::new(tool("ffmpeg"))
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "null", "-"]));
    assert!(
        out.stderr.is_empty(),
        "ffmpeg reported errors decoding {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs a Python snippet with mutagen, the file's path as `sys.argv[1]`.
fn mutagen(script: &str, path: &Path, extra: &[&str]) -> String {
    let out = run(Command::new(python_with_mutagen())
        .arg("-c")
        .arg(script)
        .arg(path)
        .args(extra));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn probe_reports_each_format() {
    let dir = tempfile::tempdir().unwrap();
    for format in Format::ALL {
        let raw = fixture(format, dir.path());
        let p = analyse(&raw).unwrap().probe;
        let (container, codec) = match format {
            Format::Wav => (Container::Wav, Codec::Pcm),
            Format::Flac => (Container::Flac, Codec::Flac),
            Format::Mp3 => (Container::Mpeg, Codec::Mp3),
            Format::Vorbis => (Container::Ogg, Codec::Vorbis),
            Format::Opus => (Container::Ogg, Codec::Opus),
        };
        assert_eq!((p.format, p.codec), (container, codec), "{format:?}");
        assert_eq!(p.channels, 2, "{format:?}");
        let rate = if format == Format::Opus {
            48_000
        } else {
            44_100
        };
        assert_eq!(p.sample_rate_hz, rate, "{format:?}");
        // The demo is 4 s of chords padded to whole 4096-frame blocks: 4.086 s.
        assert!((4_000..4_200).contains(&p.duration_ms), "{format:?}: {p:?}");
        let (lo, hi) = match format {
            Format::Wav | Format::Flac => (100_000, 1_500_000),
            _ => (40_000, 200_000),
        };
        assert!((lo..hi).contains(&p.bitrate_bps), "{format:?}: {p:?}");
        eprintln!("{format:?}: {p:?}");
    }
}

#[test]
fn other_readers_see_the_licence_fields() {
    let dir = tempfile::tempdir().unwrap();
    for format in Format::ALL {
        let (bytes, claim) = tagged(format, dir.path());
        let path = write(dir.path(), "tagged", format, &bytes);

        let tags = ffprobe_tags(&path);
        let has = |value: &str| tags.iter().any(|(_, v)| v == value);
        for value in [COPYRIGHT, ISRC, PUBLISHER, LICENCE_URL, claim.as_str()] {
            assert!(
                has(value),
                "{format:?}: ffprobe does not show {value:?}; it shows {tags:?}"
            );
        }
        assert!(
            tags.iter().any(|(k, v)| k == "copyright" && v == COPYRIGHT),
            "{format:?}: {tags:?}"
        );

        let shown = run(Command::new(tool("mutagen-inspect")).arg(&path)).stdout;
        let shown = String::from_utf8(shown).unwrap();
        let expected: Vec<String> = if format.is_id3() {
            vec![
                format!("TCOP={COPYRIGHT}"),
                format!("TSRC={ISRC}"),
                format!("TPUB={PUBLISHER}"),
                format!("WCOP={LICENCE_URL}"),
                format!("TXXX=LICENSE={LICENCE_URL}"),
                format!("TXXX=CADENZA_LICENCE={claim}"),
            ]
        } else {
            vec![
                format!("COPYRIGHT={COPYRIGHT}"),
                format!("ISRC={ISRC}"),
                format!("LABEL={PUBLISHER}"),
                format!("LICENSE={LICENCE_URL}"),
                format!("CADENZA_LICENCE={claim}"),
            ]
        };
        for line in expected {
            assert!(
                shown.lines().any(|l| l == line),
                "{format:?}: mutagen does not show {line:?}; it shows:\n{shown}"
            );
        }

        ffmpeg_decodes(&path);
        assert!(
            matches!(verify_file(&bytes), Verdict::Valid { ref unsigned_fields_disagree, .. } if unsigned_fields_disagree.is_empty()),
            "{format:?}: {:?}",
            verify_file(&bytes)
        );
        let read = read_licence_tags(&bytes).unwrap();
        assert_eq!(
            read,
            LicenceFields {
                claim: Some(claim.clone()),
                ..fields()
            },
            "{format:?}"
        );
    }
}

#[test]
fn flipping_one_audio_byte_fails_verification() {
    let dir = tempfile::tempdir().unwrap();
    for format in Format::ALL {
        let (bytes, _) = tagged(format, dir.path());
        // The middle of the file is audio in every format: tags sit at the start (ID3v2, FLAC
        // metadata, Ogg headers) or after the data (the WAV ID3 chunk), and are small.
        for offset in [bytes.len() / 2, bytes.len() / 3 + 7] {
            let mut flipped = bytes.clone();
            flipped[offset] ^= 0x01;
            let verdict = verify_file(&flipped);
            assert!(
                matches!(
                    verdict,
                    Verdict::EssenceMismatch { .. } | Verdict::UnreadableAudio(_)
                ),
                "{format:?}: flipping byte {offset} gave {verdict:?}"
            );
        }
    }
}

#[test]
fn retagging_with_other_tools_keeps_the_essence_id() {
    let dir = tempfile::tempdir().unwrap();
    for format in Format::ALL {
        let (bytes, _) = tagged(format, dir.path());
        let essence = analyse(&bytes).unwrap().essence_id;
        let path = write(dir.path(), "tagged", format, &bytes);

        // ffmpeg remuxes the container (new headers, new pages, new tag layout) around the same
        // packets.
        let remuxed = dir.path().join(format!("remuxed.{}", format.extension()));
        run(Command::new(tool("ffmpeg"))
            .args(["-v", "error", "-y", "-i"])
            .arg(&path)
            .args(["-c", "copy", "-metadata", "title=Remuxed by ffmpeg"])
            .arg(&remuxed));
        let remuxed = std::fs::read(&remuxed).unwrap();
        assert_ne!(remuxed, bytes, "{format:?}: ffmpeg changed nothing");
        assert_eq!(
            analyse(&remuxed).unwrap().essence_id,
            essence,
            "{format:?}: ffmpeg remux"
        );
        // ffmpeg carries the tags over, the claim included, except into WAV, where its muxer
        // writes only a LIST INFO chunk (docs/content.md, section 4): there the claim is gone
        // and must be embedded again.
        let verdict = verify_file(&remuxed);
        if format == Format::Wav {
            assert_eq!(verdict, Verdict::NoClaim, "{format:?}");
        } else {
            assert!(
                verdict.is_valid(),
                "{format:?} after ffmpeg remux: {verdict:?}"
            );
        }

        // mutagen edits the tags in place; the claim survives and still verifies.
        mutagen(
            "import sys, mutagen\n\
             f = mutagen.File(sys.argv[1])\n\
             if hasattr(f.tags, 'add'):\n\
             \x20   from mutagen.id3 import TIT2\n\
             \x20   f.tags.add(TIT2(encoding=3, text=['Retitled by mutagen']))\n\
             else:\n\
             \x20   f.tags['TITLE'] = ['Retitled by mutagen']\n\
             f.save()",
            &path,
            &[],
        );
        let retagged = std::fs::read(&path).unwrap();
        assert_ne!(retagged, bytes, "{format:?}: mutagen changed nothing");
        let verdict = verify_file(&retagged);
        match &verdict {
            Verdict::Valid { analysis, .. } => assert_eq!(analysis.essence_id, essence),
            other => panic!("{format:?}: after mutagen re-tagging: {other:?}"),
        }
    }
}

#[test]
fn tampering_with_the_claim_breaks_the_signature() {
    let dir = tempfile::tempdir().unwrap();
    for format in Format::ALL {
        let (bytes, claim) = tagged(format, dir.path());
        // Lower the price in the payload, keep the header and the signature.
        let mut parts: Vec<String> = claim.split('.').map(str::to_owned).collect();
        let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
        let cheaper = payload.replace(r#""amount":"1000""#, r#""amount":"1""#);
        assert_ne!(cheaper, payload);
        parts[1] = URL_SAFE_NO_PAD.encode(cheaper);
        let tampered = parts.join(".");

        let path = write(dir.path(), "tampered", format, &bytes);
        let script = "import sys, mutagen\n\
             f = mutagen.File(sys.argv[1])\n\
             if hasattr(f.tags, 'add'):\n\
             \x20   from mutagen.id3 import TXXX\n\
             \x20   f.tags.delall('TXXX:CADENZA_LICENCE')\n\
             \x20   f.tags.add(TXXX(encoding=3, desc='CADENZA_LICENCE', text=[sys.argv[2]]))\n\
             else:\n\
             \x20   f.tags['CADENZA_LICENCE'] = [sys.argv[2]]\n\
             f.save()";
        mutagen(script, &path, &[&tampered]);
        let verdict = verify_file(&std::fs::read(&path).unwrap());
        assert_eq!(verdict, Verdict::BadSignature, "{format:?}");

        // The untouched claim written back the same way verifies: the tool is not the cause.
        mutagen(script, &path, &[&claim]);
        assert!(
            verify_file(&std::fs::read(&path).unwrap()).is_valid(),
            "{format:?}"
        );

        // An edited, unsigned ISRC field does not break the claim, but the verdict names it.
        mutagen(
            "import sys, mutagen\n\
             f = mutagen.File(sys.argv[1])\n\
             if hasattr(f.tags, 'add'):\n\
             \x20   from mutagen.id3 import TSRC\n\
             \x20   f.tags.add(TSRC(encoding=3, text=['USXXX2600099']))\n\
             else:\n\
             \x20   f.tags['ISRC'] = ['USXXX2600099']\n\
             f.save()",
            &path,
            &[],
        );
        match verify_file(&std::fs::read(&path).unwrap()) {
            Verdict::Valid {
                unsigned_fields_disagree,
                ..
            } => assert_eq!(unsigned_fields_disagree, ["isrc"], "{format:?}"),
            other => panic!("{format:?}: {other:?}"),
        }
    }
}

#[test]
fn a_claim_copied_onto_other_audio_is_an_essence_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let (_, claim) = tagged(Format::Flac, dir.path());
    let other = cadenza_content::demo::encode_flac(&cadenza_content::demo::synthesize(
        &cadenza_content::demo::CATALOGUE[1],
    ))
    .unwrap();
    let signed = cadenza_content::SignedClaim::verify(&claim).unwrap();
    let copied = embed_licence(&other, &fields(), &signed).unwrap();
    assert!(matches!(
        verify_file(&copied),
        Verdict::EssenceMismatch { .. }
    ));
    assert_eq!(
        signed.claim().ledger.track_id,
        TrackId::from_essence(
            &analyse(&fixture(Format::Flac, dir.path()))
                .unwrap()
                .essence_id
                .hash
        )
    );
}

#[test]
fn untagged_audio_has_no_claim_and_non_audio_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        verify_file(&fixture(Format::Wav, dir.path())),
        Verdict::NoClaim
    );
    let text = b"This is a text file, not a recording.\n".repeat(100);
    let err = analyse(&text).unwrap_err();
    assert_eq!(err.code(), "not_audio", "{err}");
    assert!(err.to_string().contains("not an audio file"), "{err}");
    assert!(matches!(verify_file(&text), Verdict::UnreadableAudio(_)));
}

/// The claim as another JOSE implementation sees it: Python's `cryptography` (OpenSSL's Ed25519)
/// verifies the signature over the signing input with the key decoded from the `kid` did:key,
/// and the header and payload parse as JSON with the expected fields.
#[test]
fn an_independent_ed25519_implementation_verifies_the_claim() {
    let dir = tempfile::tempdir().unwrap();
    let (_, claim) = tagged(Format::Flac, dir.path());
    let script = r#"
import base64, json, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

def b64url(s):
    assert "=" not in s
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))

def base58btc(s):
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    n = 0
    for c in s:
        n = n * 58 + alphabet.index(c)
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return b"\x00" * (len(s) - len(s.lstrip("1"))) + raw

compact = sys.argv[1]
h, p, s = compact.split(".")
header, payload = json.loads(b64url(h)), json.loads(b64url(p))
assert header == {"alg": "EdDSA", "typ": "JWT", "kid": payload["iss"]}, header
assert header["kid"].startswith("did:key:z")
key = base58btc(header["kid"][len("did:key:z"):])
assert key[:2] == b"\xed\x01" and len(key) == 34
Ed25519PublicKey.from_public_bytes(key[2:]).verify(b64url(s), (h + "." + p).encode())
print(payload["essence"]["v"], payload["essence"]["id"], payload["isrc"],
      payload["licence"]["price"]["amount"], ",".join(payload["licence"]["uses"]))
"#;
    let python = tool("python3");
    let has_cryptography = Command::new(&python)
        .args(["-c", "import cryptography"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        has_cryptography,
        "python3 cannot import cryptography: run scripts/install-test-tools"
    );
    let out = run(Command::new(&python).arg("-c").arg(script).arg(&claim));
    let signed = cadenza_content::SignedClaim::verify(&claim).unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        format!(
            "1 {} {ISRC} 1000 stream,download",
            signed.claim().essence_id.hash
        )
    );

    // And it refuses what we refuse: a signature over another payload.
    let mut parts: Vec<&str> = claim.split('.').collect();
    let other = URL_SAFE_NO_PAD.encode(b"{}");
    parts[1] = &other;
    let status = Command::new(&python)
        .arg("-c")
        .arg(script)
        .arg(parts.join("."))
        .output()
        .unwrap()
        .status;
    assert!(!status.success());
}

#[test]
fn unsigned_fields_come_from_the_claim_and_may_not_contradict_it() {
    let dir = tempfile::tempdir().unwrap();
    let raw = fixture(Format::Flac, dir.path());
    let key = artist_key();
    let claim = LicenceClaim::new(
        key.account(),
        analyse(&raw).unwrap().essence_id,
        licence(),
        Some(ISRC.into()),
        ChainId::new("cadenza-devnet").unwrap(),
    )
    .sign(&key)
    .unwrap();
    let only_copyright = LicenceFields {
        copyright: Some(COPYRIGHT.into()),
        ..Default::default()
    };
    let tagged = embed_licence(&raw, &only_copyright, &claim).unwrap();
    let read = read_licence_tags(&tagged).unwrap();
    assert_eq!(read.isrc.as_deref(), Some(ISRC));
    assert_eq!(read.licence_url.as_deref(), Some(LICENCE_URL));
    assert_eq!(read.publisher, None);

    let other_isrc = LicenceFields {
        isrc: Some("USXXX2600099".into()),
        ..fields()
    };
    let err = embed_licence(&raw, &other_isrc, &claim).unwrap_err();
    assert_eq!(err.code(), "invalid_field", "{err}");
    let other_url = LicenceFields {
        licence_url: Some("https://example.org/other".into()),
        ..fields()
    };
    assert_eq!(
        embed_licence(&raw, &other_url, &claim).unwrap_err().code(),
        "invalid_field"
    );
}

#[test]
fn each_failed_check_has_its_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let raw = fixture(Format::Mp3, dir.path());
    let key = artist_key();
    let essence_id = analyse(&raw).unwrap().essence_id;

    // A claim for an essence algorithm this build does not know.
    let future = cadenza_content::EssenceId {
        version: 2,
        ..essence_id
    };
    let claim = LicenceClaim::new(
        key.account(),
        future,
        licence(),
        None,
        ChainId::new("cadenza-devnet").unwrap(),
    );
    let tagged =
        embed_licence(&raw, &LicenceFields::default(), &claim.sign(&key).unwrap()).unwrap();
    assert_eq!(verify_file(&tagged), Verdict::UnsupportedEssenceVersion(2));

    // A claim field that is not a claim, written by another tool.
    let path = write(dir.path(), "garbage", Format::Mp3, &tagged);
    mutagen(
        "import sys, mutagen\n\
         from mutagen.id3 import TXXX\n\
         f = mutagen.File(sys.argv[1])\n\
         f.tags.delall('TXXX:CADENZA_LICENCE')\n\
         f.tags.add(TXXX(encoding=3, desc='CADENZA_LICENCE', text=['not.a.claim']))\n\
         f.save()",
        &path,
        &[],
    );
    let verdict = verify_file(&std::fs::read(&path).unwrap());
    assert_eq!(verdict.code(), "malformed_claim", "{verdict:?}");
}
