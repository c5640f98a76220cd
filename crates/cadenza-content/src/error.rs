//! The errors of reading, hashing and tagging audio files.

/// A result with a [`ContentError`].
pub type Result<T> = std::result::Result<T, ContentError>;

/// Why an audio file could not be analysed or tagged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContentError {
    /// The bytes are not audio in any format Cadenza reads.
    #[error(
        "not an audio file Cadenza can read ({reason}); supported formats are FLAC, MP3, Ogg Vorbis, Ogg Opus and WAV"
    )]
    NotAudio {
        /// What the demuxer reported.
        reason: String,
    },
    /// A container Cadenza reads, but without an audio track.
    #[error("the file has no audio track; upload a file with exactly one audio stream")]
    NoAudioTrack,
    /// An audio codec outside the supported set (for example AAC in Ogg, or ADPCM in WAV).
    #[error(
        "the audio codec {codec} is not supported; re-encode the file as FLAC, MP3, Vorbis, Opus or PCM WAV"
    )]
    UnsupportedCodec {
        /// The codec, as the demuxer names it.
        codec: String,
    },
    /// The file starts as audio but its packet stream is damaged.
    #[error("the audio stream is damaged after {packets} packets ({reason}); re-export the file")]
    BrokenAudio {
        /// How many packets were read before the damage.
        packets: u64,
        /// What the demuxer reported.
        reason: String,
    },
    /// More packets than the file's size can honestly hold: a hostile or broken file.
    #[error("the file yields more than {max} packets; it is broken or hostile")]
    TooManyPackets {
        /// The bound that was crossed.
        max: u64,
    },
    /// The file's tags could not be read or written.
    #[error("the file's tags could not be read or written: {reason}")]
    Tags {
        /// What the tag library reported.
        reason: String,
    },
    /// A third-party decoder (symphonia, lofty) panicked on this file. Their panics on hostile
    /// input are bugs of theirs; we contain them and refuse the file.
    #[error(
        "the {library} library failed on this file ({detail}); the file is malformed in a way it does not handle"
    )]
    LibraryFailure {
        /// Which library.
        library: &'static str,
        /// Its panic message.
        detail: String,
    },
    /// The claim could not be signed.
    #[error("the licence claim could not be signed: {0}")]
    Claim(#[from] crate::claim::ClaimError),
    /// Writing the tags changed the audio packets: a bug in the tag writer for this file, which
    /// would leave the claim naming other audio. Nothing is written.
    #[error(
        "writing the tags changed the audio (essence {before} became {after}); the file was not tagged"
    )]
    EssenceChanged {
        /// The essence id before tagging.
        before: crate::EssenceId,
        /// The essence id after tagging.
        after: crate::EssenceId,
    },
    /// Demo audio could not be encoded.
    #[error("encoding demo audio failed: {reason}")]
    Encode {
        /// What the encoder reported.
        reason: String,
    },
    /// A licence field that cannot be written as it is.
    #[error("invalid licence field {field}: {reason}")]
    InvalidField {
        /// The field.
        field: &'static str,
        /// The rule it breaks.
        reason: &'static str,
    },
}

impl ContentError {
    /// A stable, machine-readable code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            ContentError::NotAudio { .. } => "not_audio",
            ContentError::NoAudioTrack => "no_audio_track",
            ContentError::UnsupportedCodec { .. } => "unsupported_codec",
            ContentError::BrokenAudio { .. } => "broken_audio",
            ContentError::TooManyPackets { .. } => "too_many_packets",
            ContentError::Tags { .. } => "tags",
            ContentError::LibraryFailure { .. } => "library_failure",
            ContentError::Claim(e) => e.code(),
            ContentError::EssenceChanged { .. } => "essence_changed",
            ContentError::Encode { .. } => "encode",
            ContentError::InvalidField { .. } => "invalid_field",
        }
    }
}

/// Runs `f`, turning a panic inside it into [`ContentError::LibraryFailure`].
///
/// Only code that hands hostile bytes to a third-party decoder runs under this guard; the state
/// it touches is local to the call and dropped on a panic, so nothing half-updated is observed
/// afterwards. (The panic hook still runs, so the panic is logged.)
pub(crate) fn contain_panics<T>(library: &'static str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let detail = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic without a message".to_owned());
            Err(ContentError::LibraryFailure { library, detail })
        }
    }
}
