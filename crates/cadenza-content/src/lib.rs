//! Cadenza's audio content: what identifies a recording, and the licence it carries.
//!
//! - [`analyse`] demuxes an audio file (FLAC, MP3, Ogg Vorbis, Ogg Opus, WAV) and returns its
//!   [`Probe`] (format, codec, duration, bitrate, sample rate, channels), its [`EssenceId`]
//!   (BLAKE3 over the compressed audio packets, so tag edits leave it unchanged) and its blob id
//!   (BLAKE3 of the whole file).
//! - [`claim`] is the signed licence claim: a compact JWS (EdDSA, issuer `did:key`) carrying the
//!   essence id, the licence terms, the ISRC and the ledger reference.
//! - [`tags`] writes the standard licence fields and the claim into the file's own tags (ID3v2 for
//!   MP3 and WAV, Vorbis comments for FLAC and Ogg) and reads them back; [`sign_and_embed`] does
//!   an upload's whole path (analyse, sign, embed, check the essence id is unchanged).
//! - [`verify`] checks a file offline, from its bytes alone, and a claim against what the ledger
//!   records for the track.
//! - [`demo`] synthesises deterministic demo recordings and encodes them as WAV and FLAC.
//!
//! The byte layouts are documented in `docs/content.md`.
//!
//! Architecture invariant: no async runtime, no network. Every function takes the file's bytes
//! and returns new bytes or a verdict; the caller owns the files, and bounds their size.

pub mod claim;
pub mod demo;
mod error;
mod essence;
pub mod tags;
pub mod verify;

pub use claim::{LedgerRef, LicenceClaim, SignedClaim};
pub use error::{ContentError, Result};
pub use essence::{
    Analysis, Codec, Container, ESSENCE_VERSION, EssenceId, Probe, analyse, blob_id, essence_id,
    probe,
};
pub use tags::{LicenceFields, Licensed, embed_licence, read_licence_tags, sign_and_embed};
pub use verify::{LedgerTrack, LedgerVerdict, Verdict, verify_against_track, verify_file};
