//! Demo recordings, synthesised: a few seconds of chords, the same bytes on every machine.
//!
//! The node builds its devnet catalogue from these, so nothing is downloaded and nothing ships
//! in the repository. WAV, FLAC and Ogg Vorbis are encoded here; MP3 and Opus are not (see
//! `docs/content.md`, section 6). Synthesis is integer-only (a phase accumulator and a parabolic sine
//! approximation), so no platform's floating-point library can change a sample, and with it
//! an essence id.

use std::io::Cursor;

use crate::error::{ContentError, Result};

/// The demo sample rate.
pub const SAMPLE_RATE_HZ: u32 = 44_100;
/// The demo channel count (stereo).
pub const CHANNELS: u16 = 2;
/// Every demo recording is a whole number of these frames long, which is the FLAC block size:
/// a short last block makes some readers (symphonia among them) stop with an early end of file.
pub const BLOCK_FRAMES: usize = 4096;

/// Interleaved 16-bit PCM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pcm {
    /// Samples per second per channel.
    pub sample_rate_hz: u32,
    /// Channels per frame.
    pub channels: u16,
    /// The samples, frame by frame (left, right, left, ...).
    pub samples: Vec<i16>,
}

impl Pcm {
    /// How many frames (one sample per channel) there are.
    pub fn n_frames(&self) -> usize {
        self.samples.len() / usize::from(self.channels.max(1))
    }

    /// The playing time in milliseconds.
    pub fn duration_ms(&self) -> u64 {
        self.n_frames() as u64 * 1000 / u64::from(self.sample_rate_hz.max(1))
    }
}

/// A demo recording's score: a sequence of chords, each held for the same time.
#[derive(Clone, Copy, Debug)]
pub struct DemoTrack {
    /// The title.
    pub title: &'static str,
    /// The credited artist.
    pub artist: &'static str,
    /// The chords, each a list of note frequencies in millihertz.
    pub chords: &'static [&'static [u32]],
    /// How long each chord sounds, in milliseconds.
    pub chord_ms: u32,
}

// Equal-tempered frequencies (A4 = 440 Hz), in millihertz.
const C4: u32 = 261_626;
const D4: u32 = 293_665;
const E4: u32 = 329_628;
const F4: u32 = 349_228;
const G4: u32 = 391_995;
const A4: u32 = 440_000;
const B4: u32 = 493_883;
const C5: u32 = 523_251;
const A3: u32 = 220_000;
const G3: u32 = 195_998;
const F3: u32 = 174_614;

/// The demo catalogue: three short recordings.
pub const CATALOGUE: [DemoTrack; 3] = [
    DemoTrack {
        title: "Cadence in C",
        artist: "The Test Tones",
        chords: &[
            &[C4, E4, G4],
            &[F3, A3, C4, F4],
            &[G3, B4, D4, G4],
            &[C4, E4, G4, C5],
        ],
        chord_ms: 1000,
    },
    DemoTrack {
        title: "Minor Drift",
        artist: "The Test Tones",
        chords: &[&[A3, C4, E4], &[F3, A3, C4], &[C4, E4, G4], &[G3, B4, D4]],
        chord_ms: 1200,
    },
    DemoTrack {
        title: "Single Line",
        artist: "Sine Collective",
        chords: &[&[C4], &[D4], &[E4], &[F4], &[G4], &[A4], &[B4], &[C5]],
        chord_ms: 400,
    },
];

/// A sine approximation over one period: the phase is a full turn per 2³², the output is in
/// [-32768, 32768]. Bhaskara-style parabola, `4x(1 - |x|)` on each half-period: within 6% of
/// the sine and free of floating point.
fn parabolic_sine(phase: u32) -> i64 {
    let x = i64::from(phase >> 16) - 32_768;
    (x * (32_768 - x.abs())) >> 13
}

/// Synthesises a track as stereo PCM, padded with silence to a whole number of
/// [`BLOCK_FRAMES`]. Each chord has a 10 ms attack and a 60 ms release; its notes are spread
/// across the stereo field.
pub fn synthesize(track: &DemoTrack) -> Pcm {
    let rate = u64::from(SAMPLE_RATE_HZ);
    let chord_frames = (u64::from(track.chord_ms) * rate / 1000) as usize;
    let attack = (rate / 100) as usize;
    let release = (rate * 60 / 1000) as usize;
    let mut samples = Vec::with_capacity(chord_frames * track.chords.len() * 2 + BLOCK_FRAMES * 2);
    for chord in track.chords {
        let n = chord.len().max(1) as i64;
        let increments: Vec<u32> = chord
            .iter()
            .map(|mhz| ((u64::from(*mhz) << 32) / (rate * 1000)) as u32)
            .collect();
        // Pan: note i of n sits at (i + 1) / (n + 1) from left to right, in 1/256 steps.
        let pans: Vec<i64> = (0..n).map(|i| (i + 1) * 256 / (n + 1)).collect();
        let mut phases = vec![0u32; chord.len()];
        for frame in 0..chord_frames {
            // Envelope in 1/1024 steps.
            let env = if frame < attack {
                frame as i64 * 1024 / attack as i64
            } else if frame + release > chord_frames {
                (chord_frames - frame) as i64 * 1024 / release as i64
            } else {
                1024
            };
            let (mut left, mut right) = (0i64, 0i64);
            for ((phase, inc), pan) in phases.iter_mut().zip(&increments).zip(&pans) {
                let y = parabolic_sine(*phase);
                *phase = phase.wrapping_add(*inc);
                left += y * (256 - pan);
                right += y * pan;
            }
            // Full mix at 3/5 of full scale: y·pan sums to at most 32768·256·n per channel.
            let scale = |mix: i64| {
                let s = mix * env * 3 / (n * 256 * 1024 * 5) * 2;
                s.clamp(i64::from(i16::MIN), i64::from(i16::MAX)) as i16
            };
            samples.push(scale(left));
            samples.push(scale(right));
        }
    }
    let frames = samples.len() / 2;
    let padded = frames.div_ceil(BLOCK_FRAMES).max(1) * BLOCK_FRAMES;
    samples.resize(padded * 2, 0);
    Pcm {
        sample_rate_hz: SAMPLE_RATE_HZ,
        channels: CHANNELS,
        samples,
    }
}

fn encode_error(what: &str, e: impl std::fmt::Display) -> ContentError {
    ContentError::Encode {
        reason: format!("{what}: {e}"),
    }
}

/// Encodes PCM as a 16-bit WAV file.
pub fn encode_wav(pcm: &Pcm) -> Result<Vec<u8>> {
    let spec = hound::WavSpec {
        channels: pcm.channels,
        sample_rate: pcm.sample_rate_hz,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut out = Cursor::new(Vec::new());
    let mut writer = hound::WavWriter::new(&mut out, spec).map_err(|e| encode_error("WAV", e))?;
    for s in &pcm.samples {
        writer
            .write_sample(*s)
            .map_err(|e| encode_error("WAV", e))?;
    }
    writer.finalize().map_err(|e| encode_error("WAV", e))?;
    Ok(out.into_inner())
}

/// Encodes PCM as a 16-bit FLAC file with fixed 4096-frame blocks. The PCM must be a whole
/// number of blocks long (as [`synthesize`] makes it); other lengths are refused.
pub fn encode_flac(pcm: &Pcm) -> Result<Vec<u8>> {
    use flacenc::component::BitRepr;
    use flacenc::error::Verify;

    if pcm.channels == 0 || !pcm.samples.len().is_multiple_of(usize::from(pcm.channels)) {
        return Err(ContentError::InvalidField {
            field: "pcm",
            reason: "the samples are not whole frames",
        });
    }
    if pcm.n_frames() == 0 || !pcm.n_frames().is_multiple_of(BLOCK_FRAMES) {
        return Err(ContentError::InvalidField {
            field: "pcm",
            reason: "FLAC demo audio must be a whole number of 4096-frame blocks",
        });
    }
    let mut config = flacenc::config::Encoder::default();
    config.block_size = BLOCK_FRAMES;
    let config = config
        .into_verified()
        .map_err(|(_, e)| encode_error("FLAC", e))?;
    let samples: Vec<i32> = pcm.samples.iter().map(|s| i32::from(*s)).collect();
    let source = flacenc::source::MemSource::from_samples(
        &samples,
        usize::from(pcm.channels),
        16,
        pcm.sample_rate_hz as usize,
    );
    let stream = flacenc::encode_with_fixed_block_size(&config, source, BLOCK_FRAMES)
        .map_err(|e| encode_error("FLAC", e))?;
    let mut sink = flacenc::bitsink::ByteSink::new();
    stream
        .write(&mut sink)
        .map_err(|e| encode_error("FLAC", format!("{e:?}")))?;
    Ok(sink.into_inner())
}

/// The Ogg stream serial of every demo file: fixed, so the same PCM gives the same bytes.
const OGG_SERIAL: i32 = 0x0CAD_E42A;

/// Encodes PCM as Ogg Vorbis (libvorbis' default quality-based VBR, quality 0.5), with a fixed
/// stream serial. libvorbis computes in floating point, so the bytes are the same on every run
/// of one build, but another CPU architecture may produce other packets, and so another essence
/// id; the WAV and FLAC encodings are the same everywhere.
pub fn encode_ogg_vorbis(pcm: &Pcm) -> Result<Vec<u8>> {
    use std::num::{NonZeroU8, NonZeroU32};

    let channels = u8::try_from(pcm.channels)
        .ok()
        .and_then(NonZeroU8::new)
        .ok_or(ContentError::InvalidField {
            field: "pcm",
            reason: "Vorbis takes 1 to 255 channels",
        })?;
    let rate = NonZeroU32::new(pcm.sample_rate_hz).ok_or(ContentError::InvalidField {
        field: "pcm",
        reason: "the sample rate is 0",
    })?;
    let mut encoder =
        vorbis_rs::VorbisEncoderBuilder::new_with_serial(rate, channels, Vec::new(), OGG_SERIAL)
            .build()
            .map_err(|e| encode_error("Ogg Vorbis", e))?;
    let n_channels = usize::from(pcm.channels);
    for block in pcm.samples.chunks(n_channels * 1024) {
        let planar: Vec<Vec<f32>> = (0..n_channels)
            .map(|c| {
                block
                    .iter()
                    .skip(c)
                    .step_by(n_channels)
                    .map(|s| f32::from(*s) / 32_768.0)
                    .collect()
            })
            .collect();
        encoder
            .encode_audio_block(&planar)
            .map_err(|e| encode_error("Ogg Vorbis", e))?;
    }
    encoder.finish().map_err(|e| encode_error("Ogg Vorbis", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parabolic_sine_has_the_shape_of_a_sine() {
        assert_eq!(parabolic_sine(0), 0);
        assert_eq!(parabolic_sine(1 << 31), 0);
        // A quarter turn past -π is -π/2: the minimum; three quarters is the maximum.
        assert_eq!(parabolic_sine(1 << 30), -32_768);
        assert_eq!(parabolic_sine(3 << 30), 32_768);
    }

    #[test]
    fn synthesis_is_deterministic_padded_and_not_silent() {
        let a = synthesize(&CATALOGUE[0]);
        let b = synthesize(&CATALOGUE[0]);
        assert_eq!(a, b);
        assert_eq!(a.n_frames() % BLOCK_FRAMES, 0);
        assert!(a.duration_ms() >= 4000);
        let peak = a.samples.iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!(peak > 10_000, "peak {peak}");
        assert_ne!(synthesize(&CATALOGUE[1]).samples, a.samples);
    }

    #[test]
    fn every_encoding_is_reproducible_and_reads_back_as_the_same_audio() {
        let pcm = synthesize(&CATALOGUE[2]);
        type Encoder = fn(&Pcm) -> Result<Vec<u8>>;
        let encoders: [(Encoder, crate::Codec); 3] = [
            (encode_wav, crate::Codec::Pcm),
            (encode_flac, crate::Codec::Flac),
            (encode_ogg_vorbis, crate::Codec::Vorbis),
        ];
        for (encode, codec) in encoders {
            let bytes = encode(&pcm).unwrap();
            assert_eq!(encode(&pcm).unwrap(), bytes, "{codec:?}");
            let p = crate::probe(&bytes).unwrap();
            assert_eq!(p.codec, codec);
            assert_eq!((p.sample_rate_hz, p.channels), (SAMPLE_RATE_HZ, 2));
            assert_eq!(p.duration_ms, pcm.duration_ms(), "{codec:?}");
        }
    }

    #[test]
    fn flac_refuses_a_partial_last_block() {
        let mut pcm = synthesize(&CATALOGUE[2]);
        pcm.samples.truncate(pcm.samples.len() - 2);
        assert_eq!(encode_flac(&pcm).unwrap_err().code(), "invalid_field");
    }
}
