//! What identifies a recording: the essence id over its compressed audio packets, the blob id
//! over the whole file, and the facts a player needs (format, codec, duration, rate, channels).
//!
//! The essence id must not change when someone edits the tags, so it hashes only what the
//! demuxer returns as the audio track's packets (FLAC frames, MPEG audio frames without the
//! Xing/Info frame, Ogg packets after the three Vorbis or two Opus headers, the PCM of a WAV
//! `data` chunk); tags, headers, padding and pictures are left out. The exact bytes are defined
//! in `docs/content.md` ("Essence id, version 1"); the demuxer is `symphonia`, pinned exactly,
//! because a different packetisation would be a different essence algorithm.

use std::fmt;
use std::io::Cursor;
use std::sync::LazyLock;

use cadenza_types::Hash;
use symphonia::core::codecs::audio::AudioCodecId;
use symphonia::core::codecs::audio::well_known as codecs;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::well_known as formats;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::{MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;

use crate::error::{ContentError, Result, contain_panics};

/// The version of the essence algorithm this crate computes.
pub const ESSENCE_VERSION: u8 = 1;

/// The BLAKE3 derive-key context of essence version 1, in the style of `cadenza_types::Domain`.
const ESSENCE_CONTEXT_V1: &str = "cadenza/essence/v1";

/// The first byte of the hashed message for codecs whose packets are frames: each packet is
/// hashed with its length, so moving a boundary changes the id.
const KIND_FRAMED: u8 = 1;
/// The first byte of the hashed message for PCM: the samples are hashed as one run, because
/// where the demuxer cuts a `data` chunk into packets is its own choice, not the file's.
const KIND_PCM: u8 = 2;

static ESSENCE_KEY_V1: LazyLock<[u8; 32]> =
    LazyLock::new(|| blake3::derive_key(ESSENCE_CONTEXT_V1, b""));

/// The essence id of a recording: which algorithm made it, and the hash.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EssenceId {
    /// The essence algorithm's version ([`ESSENCE_VERSION`] for ids this crate computes).
    pub version: u8,
    /// The 32-byte BLAKE3 hash; this is what the ledger stores and derives the track id from.
    pub hash: Hash,
}

impl fmt::Debug for EssenceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EssenceId(v{}:{})", self.version, self.hash)
    }
}

impl fmt::Display for EssenceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}:{}", self.version, self.hash)
    }
}

/// The container a file uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Container {
    /// Native FLAC.
    Flac,
    /// An MPEG audio elementary stream (`.mp3`), possibly with ID3 tags around it.
    Mpeg,
    /// Ogg.
    Ogg,
    /// RIFF WAVE.
    Wav,
}

impl Container {
    /// The usual name (`flac`, `mp3`, `ogg`, `wav`).
    pub fn as_str(self) -> &'static str {
        match self {
            Container::Flac => "flac",
            Container::Mpeg => "mp3",
            Container::Ogg => "ogg",
            Container::Wav => "wav",
        }
    }
}

/// The audio codec of a file's audio track.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Codec {
    /// FLAC (native or in Ogg).
    Flac,
    /// MPEG-1/2 Layer III.
    Mp3,
    /// Vorbis.
    Vorbis,
    /// Opus.
    Opus,
    /// Uncompressed PCM (integer or float).
    Pcm,
}

impl Codec {
    /// The usual name (`flac`, `mp3`, `vorbis`, `opus`, `pcm`).
    pub fn as_str(self) -> &'static str {
        match self {
            Codec::Flac => "flac",
            Codec::Mp3 => "mp3",
            Codec::Vorbis => "vorbis",
            Codec::Opus => "opus",
            Codec::Pcm => "pcm",
        }
    }

    fn from_symphonia(id: AudioCodecId) -> Option<Codec> {
        // The interleaved PCM codecs a WAV `fmt ` chunk can declare.
        const PCM: [AudioCodecId; 12] = [
            codecs::CODEC_ID_PCM_S32LE,
            codecs::CODEC_ID_PCM_S24LE,
            codecs::CODEC_ID_PCM_S16LE,
            codecs::CODEC_ID_PCM_S8,
            codecs::CODEC_ID_PCM_U32LE,
            codecs::CODEC_ID_PCM_U24LE,
            codecs::CODEC_ID_PCM_U16LE,
            codecs::CODEC_ID_PCM_U8,
            codecs::CODEC_ID_PCM_F32LE,
            codecs::CODEC_ID_PCM_F64LE,
            codecs::CODEC_ID_PCM_ALAW,
            codecs::CODEC_ID_PCM_MULAW,
        ];
        match id {
            codecs::CODEC_ID_FLAC => Some(Codec::Flac),
            codecs::CODEC_ID_MP3 => Some(Codec::Mp3),
            codecs::CODEC_ID_VORBIS => Some(Codec::Vorbis),
            codecs::CODEC_ID_OPUS => Some(Codec::Opus),
            id if PCM.contains(&id) => Some(Codec::Pcm),
            _ => None,
        }
    }
}

/// What a player and a catalogue need to know about a file's audio.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    /// The container.
    pub format: Container,
    /// The audio codec.
    pub codec: Codec,
    /// The playing time, in milliseconds (rounded down).
    pub duration_ms: u64,
    /// The average bitrate of the audio packets, in bits per second (0 when the duration is 0).
    pub bitrate_bps: u64,
    /// The sample rate, in Hz (Opus always reports 48,000).
    pub sample_rate_hz: u32,
    /// The number of channels.
    pub channels: u8,
}

/// Everything [`analyse`] learns from one pass over a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Analysis {
    /// Format, codec, duration and the rest.
    pub probe: Probe,
    /// BLAKE3 over the audio packets.
    pub essence_id: EssenceId,
    /// BLAKE3 of the whole file.
    pub blob_id: Hash,
    /// How many audio packets were hashed.
    pub n_packets: u64,
    /// How many bytes of audio packets were hashed.
    pub audio_bytes: u64,
}

/// The blob id of a file: plain BLAKE3 of all its bytes (the same digest BLAKE3/bao-based
/// storage and transfer use, which is why it is not domain-separated).
pub fn blob_id(bytes: &[u8]) -> Hash {
    Hash(*blake3::hash(bytes).as_bytes())
}

/// The format, codec, duration, bitrate, sample rate and channels of an audio file.
pub fn probe(bytes: &[u8]) -> Result<Probe> {
    analyse(bytes).map(|a| a.probe)
}

/// The essence id of an audio file (see the module docs for what it covers).
pub fn essence_id(bytes: &[u8]) -> Result<EssenceId> {
    analyse(bytes).map(|a| a.essence_id)
}

/// Demuxes the whole file once and returns its probe, essence id and blob id.
///
/// Every packet of the first audio track is read, so a file damaged anywhere in its audio is
/// refused ([`ContentError::BrokenAudio`]) rather than given an id of its readable part.
///
/// A panic inside the demuxer (a bug of symphonia's on hostile input, such as an overflow on a
/// WAV `fmt ` chunk with 65,533 channels) is contained and reported as
/// [`ContentError::LibraryFailure`].
pub fn analyse(bytes: &[u8]) -> Result<Analysis> {
    contain_panics("symphonia", || analyse_unguarded(bytes))
}

fn analyse_unguarded(bytes: &[u8]) -> Result<Analysis> {
    let source = Cursor::new(bytes);
    let stream = MediaSourceStream::new(Box::new(source), MediaSourceStreamOptions::default());
    let mut reader = symphonia::default::get_probe()
        .probe(
            &Hint::new(),
            stream,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| ContentError::NotAudio {
            reason: e.to_string(),
        })?;

    let format = match reader.format_info().format {
        formats::FORMAT_ID_FLAC => Container::Flac,
        formats::FORMAT_ID_MP3 => Container::Mpeg,
        formats::FORMAT_ID_OGG => Container::Ogg,
        formats::FORMAT_ID_WAVE => Container::Wav,
        _ => {
            return Err(ContentError::NotAudio {
                reason: format!("unexpected container {}", reader.format_info().short_name),
            });
        }
    };
    let track = reader
        .default_track(TrackType::Audio)
        .ok_or(ContentError::NoAudioTrack)?
        .clone();
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or(ContentError::NoAudioTrack)?
        .clone();
    let codec =
        Codec::from_symphonia(params.codec).ok_or_else(|| ContentError::UnsupportedCodec {
            codec: format!("{:?}", params.codec),
        })?;
    let sample_rate_hz =
        params
            .sample_rate
            .filter(|r| *r > 0)
            .ok_or(ContentError::BrokenAudio {
                packets: 0,
                reason: "no sample rate".into(),
            })?;
    let channels = params
        .channels
        .as_ref()
        .map(|c| c.count())
        .filter(|n| (1..=u8::MAX as usize).contains(n))
        .ok_or(ContentError::BrokenAudio {
            packets: 0,
            reason: "no channel layout".into(),
        })? as u8;

    let kind = if codec == Codec::Pcm {
        KIND_PCM
    } else {
        KIND_FRAMED
    };
    let mut hasher = blake3::Hasher::new_keyed(&ESSENCE_KEY_V1);
    hasher.update(&[kind]);

    // Every packet holds at least one byte of the file, except for rare empty ones; twice the
    // file's length (plus slack for tiny files) is a bound no honest demux reaches, and stops a
    // demuxer that would loop on hostile input.
    let max_packets = 2 * bytes.len() as u64 + 64;
    let mut n_packets: u64 = 0;
    let mut audio_bytes: u64 = 0;
    let mut packet_frames: u64 = 0;
    loop {
        let packet = match reader.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(e) => {
                return Err(ContentError::BrokenAudio {
                    packets: n_packets,
                    reason: e.to_string(),
                });
            }
        };
        if packet.track_id != track.id {
            continue;
        }
        n_packets += 1;
        if n_packets > max_packets {
            return Err(ContentError::TooManyPackets { max: max_packets });
        }
        if kind == KIND_FRAMED {
            let len = u32::try_from(packet.data.len()).map_err(|_| ContentError::BrokenAudio {
                packets: n_packets,
                reason: "a packet above 4 GiB".into(),
            })?;
            hasher.update(&len.to_le_bytes());
        }
        hasher.update(&packet.data);
        audio_bytes += packet.data.len() as u64;
        packet_frames = packet_frames.saturating_add(packet.dur.get());
    }
    if n_packets == 0 {
        return Err(ContentError::BrokenAudio {
            packets: 0,
            reason: "the audio track has no packets".into(),
        });
    }

    let duration_ms = duration_ms(&track, packet_frames, sample_rate_hz);
    let bitrate_bps = (u128::from(audio_bytes) * 8 * 1000)
        .checked_div(u128::from(duration_ms))
        .map_or(0, |b| u64::try_from(b).unwrap_or(u64::MAX));
    Ok(Analysis {
        probe: Probe {
            format,
            codec,
            duration_ms,
            bitrate_bps,
            sample_rate_hz,
            channels,
        },
        essence_id: EssenceId {
            version: ESSENCE_VERSION,
            hash: Hash(*hasher.finalize().as_bytes()),
        },
        blob_id: blob_id(bytes),
        n_packets,
        audio_bytes,
    })
}

/// The playing time: the track's declared duration where the container has one, else the sum
/// of the packets' durations (both in the track's time base, else in samples).
fn duration_ms(
    track: &symphonia::core::formats::Track,
    packet_frames: u64,
    sample_rate_hz: u32,
) -> u64 {
    let units = track
        .duration
        .map(|d| d.get())
        .filter(|d| *d > 0)
        .unwrap_or(packet_frames);
    let from_time_base = track.time_base.and_then(|tb| {
        tb.calc_duration(symphonia::core::units::Duration::new(units))
            .map(|t| t.as_millis())
    });
    let ms = from_time_base
        .unwrap_or_else(|| i128::from(units) * 1000 / i128::from(sample_rate_hz.max(1)));
    u64::try_from(ms).unwrap_or(0)
}
