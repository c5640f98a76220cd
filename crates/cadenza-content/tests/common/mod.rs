//! Shared helpers of the integration tests: the external tools we check our files with, and
//! the audio fixtures in every supported format.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cadenza_content::demo;

/// How to get the external tools, repeated in every failure about them.
const INSTALL_HINT: &str =
    "run scripts/install-test-tools (installs Debian's ffmpeg and PyPI's mutagen)";

/// Finds an external tool on the PATH, or fails the test saying how to install it: a missing
/// tool must never turn a test into a silent pass.
pub fn tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!("the test needs `{name}`, which is not on the PATH: {INSTALL_HINT}");
}

/// Runs a command and fails the test, with its output, unless it succeeds.
pub fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("could not start {cmd:?}: {e}; {INSTALL_HINT}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed with {}:\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Python with mutagen importable, or a failure saying how to install it.
pub fn python_with_mutagen() -> PathBuf {
    let python = tool("python3");
    let ok = Command::new(&python)
        .args(["-c", "import mutagen"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "python3 cannot import mutagen: {INSTALL_HINT}");
    python
}

/// The formats the tests cover, with their file extensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Wav,
    Flac,
    Mp3,
    Vorbis,
    Opus,
}

impl Format {
    pub const ALL: [Format; 5] = [
        Format::Wav,
        Format::Flac,
        Format::Mp3,
        Format::Vorbis,
        Format::Opus,
    ];

    pub fn extension(self) -> &'static str {
        match self {
            Format::Wav => "wav",
            Format::Flac => "flac",
            Format::Mp3 => "mp3",
            Format::Vorbis => "ogg",
            Format::Opus => "opus",
        }
    }

    /// Whether the file's tags are ID3v2 (else Vorbis comments).
    pub fn is_id3(self) -> bool {
        matches!(self, Format::Wav | Format::Mp3)
    }
}

/// An untagged file in `format`: our own encoders for WAV, FLAC and Ogg Vorbis, ffmpeg (from our
/// WAV) for MP3 and Opus, which this crate does not encode.
pub fn fixture(format: Format, dir: &Path) -> Vec<u8> {
    fixture_of(&demo::CATALOGUE[0], format, dir)
}

/// A short recording (one 4096-frame block, 93 ms) for tests that read many variants of a file.
pub const SHORT: demo::DemoTrack = demo::DemoTrack {
    title: "Blip",
    artist: "The Test Tones",
    chords: &[&[440_000, 660_000]],
    chord_ms: 80,
};

/// An untagged recording of `track` in `format`.
pub fn fixture_of(track: &demo::DemoTrack, format: Format, dir: &Path) -> Vec<u8> {
    let pcm = demo::synthesize(track);
    let wav = demo::encode_wav(&pcm).unwrap();
    match format {
        Format::Wav => wav,
        Format::Flac => demo::encode_flac(&pcm).unwrap(),
        Format::Vorbis => demo::encode_ogg_vorbis(&pcm).unwrap(),
        lossy => {
            let input = dir.join("source.wav");
            std::fs::write(&input, &wav).unwrap();
            let output = dir.join(format!("encoded.{}", lossy.extension()));
            let codec: &[&str] = match lossy {
                Format::Mp3 => &["-c:a", "libmp3lame", "-b:a", "128k"],
                _ => &["-c:a", "libopus", "-b:a", "96k"],
            };
            run(Command::new(tool("ffmpeg"))
                .args(["-v", "error", "-y", "-i"])
                .arg(&input)
                .args(codec)
                .args(["-map_metadata", "-1"])
                .arg(&output));
            std::fs::read(&output).unwrap()
        }
    }
}
