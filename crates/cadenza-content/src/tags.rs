//! The licence as tags inside the audio file, written and read with `lofty` (pinned exactly).
//!
//! | field | ID3v2 (MP3, WAV `ID3 ` chunk) | Vorbis comment (FLAC, Ogg Vorbis, Ogg Opus) |
//! |---|---|---|
//! | copyright | `TCOP` | `COPYRIGHT` |
//! | ISRC | `TSRC` | `ISRC` |
//! | publisher / label | `TPUB` | `LABEL` |
//! | licence URL | `WCOP` and `TXXX:LICENSE` | `LICENSE` |
//! | signed claim | `TXXX:CADENZA_LICENCE` | `CADENZA_LICENCE` |
//!
//! Writing replaces these fields and keeps every other tag. Only tags change: the audio packets,
//! and so the essence id, stay as they were.

use std::borrow::Cow;
use std::io::Cursor;

use lofty::TextEncoding;
use lofty::config::{ParseOptions, WriteOptions};
use lofty::file::{AudioFile, FileType};
use lofty::flac::FlacFile;
use lofty::id3::v2::{Frame, FrameId, Id3v2Tag, TextInformationFrame, UrlLinkFrame};
use lofty::iff::wav::WavFile;
use lofty::mpeg::MpegFile;
use lofty::ogg::tag::VorbisComments;
use lofty::ogg::{OpusFile, VorbisFile};
use lofty::probe::Probe as TagProbe;
use lofty::tag::TagExt;

use cadenza_types::{ChainId, Licence, SecretKey};

use crate::claim::{LicenceClaim, SignedClaim};
use crate::error::{ContentError, Result, contain_panics};
use crate::essence::{Analysis, analyse};

/// The ID3v2 `TXXX` description and the Vorbis comment key of the signed claim.
pub const CLAIM_FIELD: &str = "CADENZA_LICENCE";
/// The ID3v2 `TXXX` description and the Vorbis comment key of the licence URL.
pub const LICENSE_FIELD: &str = "LICENSE";
/// The longest value written to one field, in bytes (the claim is bounded more tightly).
pub const FIELD_MAX_LEN: usize = 4096;

/// The licence fields of a file, as written or as found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LicenceFields {
    /// The copyright line (`℗ 2026 Example Records`).
    pub copyright: Option<String>,
    /// The ISRC.
    pub isrc: Option<String>,
    /// The publisher or label.
    pub publisher: Option<String>,
    /// The URL of the licence's text.
    pub licence_url: Option<String>,
    /// The compact JWS of the signed claim.
    pub claim: Option<String>,
}

/// Which tag format a file takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TagFormat {
    Id3v2(FileType),
    Vorbis(FileType),
}

fn tag_format(bytes: &[u8]) -> Result<TagFormat> {
    let file_type = TagProbe::new(Cursor::new(bytes))
        .guess_file_type()
        .map_err(|e| ContentError::Tags {
            reason: e.to_string(),
        })?
        .file_type();
    match file_type {
        Some(t @ (FileType::Mpeg | FileType::Wav)) => Ok(TagFormat::Id3v2(t)),
        Some(t @ (FileType::Flac | FileType::Vorbis | FileType::Opus)) => Ok(TagFormat::Vorbis(t)),
        Some(other) => Err(ContentError::NotAudio {
            reason: format!("{other:?} files cannot carry a Cadenza licence"),
        }),
        None => Err(ContentError::NotAudio {
            reason: "no known audio signature at the start of the file".into(),
        }),
    }
}

fn tags_error(e: impl std::fmt::Display) -> ContentError {
    ContentError::Tags {
        reason: e.to_string(),
    }
}

fn parse_options() -> ParseOptions {
    ParseOptions::new().read_properties(false)
}

fn read_id3v2(bytes: &[u8], file_type: FileType) -> Result<Option<Id3v2Tag>> {
    let mut cursor = Cursor::new(bytes);
    Ok(match file_type {
        FileType::Mpeg => MpegFile::read_from(&mut cursor, parse_options())
            .map_err(tags_error)?
            .id3v2()
            .cloned(),
        _ => WavFile::read_from(&mut cursor, parse_options())
            .map_err(tags_error)?
            .id3v2()
            .cloned(),
    })
}

fn read_vorbis(bytes: &[u8], file_type: FileType) -> Result<Option<VorbisComments>> {
    let mut cursor = Cursor::new(bytes);
    Ok(match file_type {
        FileType::Flac => FlacFile::read_from(&mut cursor, parse_options())
            .map_err(tags_error)?
            .vorbis_comments()
            .cloned(),
        FileType::Vorbis => Some(
            VorbisFile::read_from(&mut cursor, parse_options())
                .map_err(tags_error)?
                .vorbis_comments()
                .clone(),
        ),
        _ => Some(
            OpusFile::read_from(&mut cursor, parse_options())
                .map_err(tags_error)?
                .vorbis_comments()
                .clone(),
        ),
    })
}

fn check_field(field: &'static str, value: &Option<String>) -> Result<()> {
    match value {
        Some(v) if v.len() > FIELD_MAX_LEN => Err(ContentError::InvalidField {
            field,
            reason: "longer than 4096 bytes",
        }),
        Some(v) if v.contains('\0') => Err(ContentError::InvalidField {
            field,
            reason: "contains a NUL character",
        }),
        Some(v) if v.is_empty() => Err(ContentError::InvalidField {
            field,
            reason: "empty; leave the field out instead",
        }),
        _ => Ok(()),
    }
}

/// Writes the licence fields and the signed claim into the file's tags and returns the new file.
///
/// `fields.claim` is ignored: the claim written is `claim`, which must be for this file's audio
/// (the caller signs it over [`crate::essence_id`] of these bytes; [`crate::verify_file`] checks
/// the result). The ISRC and licence URL fields come from the claim when they are `None`, and
/// must equal the claim's when given ([`ContentError::InvalidField`] otherwise), so the unsigned
/// fields never contradict the signed ones. Copyright and publisher are written as given; a
/// field that ends up `None` is removed.
pub fn embed_licence(bytes: &[u8], fields: &LicenceFields, claim: &SignedClaim) -> Result<Vec<u8>> {
    contain_panics("lofty", || embed_unguarded(bytes, fields, claim))
}

fn embed_unguarded(bytes: &[u8], fields: &LicenceFields, claim: &SignedClaim) -> Result<Vec<u8>> {
    check_field("copyright", &fields.copyright)?;
    check_field("isrc", &fields.isrc)?;
    check_field("publisher", &fields.publisher)?;
    check_field("licence_url", &fields.licence_url)?;
    let signed = claim.claim();
    if fields.isrc.is_some() && fields.isrc != signed.isrc {
        return Err(ContentError::InvalidField {
            field: "isrc",
            reason: "differs from the ISRC in the signed claim",
        });
    }
    if let Some(url) = &fields.licence_url
        && url != &signed.licence.url
    {
        return Err(ContentError::InvalidField {
            field: "licence_url",
            reason: "differs from the licence URL in the signed claim",
        });
    }
    let fields = LicenceFields {
        isrc: signed.isrc.clone(),
        licence_url: Some(signed.licence.url.clone()).filter(|u| !u.is_empty()),
        claim: Some(claim.as_str().to_owned()),
        ..fields.clone()
    };

    let mut out = Cursor::new(bytes.to_vec());
    match tag_format(bytes)? {
        TagFormat::Id3v2(file_type) => {
            let mut tag = read_id3v2(bytes, file_type)?.unwrap_or_default();
            set_id3v2(&mut tag, &fields);
            tag.save_to(&mut out, WriteOptions::default())
                .map_err(tags_error)?;
        }
        TagFormat::Vorbis(file_type) => {
            let mut tag = read_vorbis(bytes, file_type)?.unwrap_or_default();
            set_vorbis(&mut tag, &fields);
            tag.save_to(&mut out, WriteOptions::default())
                .map_err(tags_error)?;
        }
    }
    Ok(out.into_inner())
}

/// A file tagged with its signed licence, and what was checked on the way.
#[derive(Clone, Debug)]
pub struct Licensed {
    /// The tagged file.
    pub bytes: Vec<u8>,
    /// The tagged file's analysis (same essence id as the input; the blob id of the output).
    pub analysis: Analysis,
    /// The claim embedded.
    pub claim: SignedClaim,
}

/// Everything an artist's upload needs, in one call: analyse the file, sign a claim over its
/// essence id with the artist's key, embed it with the standard fields, and check that the
/// tagged file has the same essence id (so the claim names exactly its audio).
///
/// The ISRC comes from `fields.isrc`; the licence URL tag from `licence.url`.
pub fn sign_and_embed(
    bytes: &[u8],
    fields: &LicenceFields,
    key: &SecretKey,
    licence: Licence,
    chain_id: ChainId,
) -> Result<Licensed> {
    let before = analyse(bytes)?;
    let claim = LicenceClaim::new(
        key.account(),
        before.essence_id,
        licence,
        fields.isrc.clone(),
        chain_id,
    )
    .sign(key)?;
    let tagged = embed_licence(bytes, fields, &claim)?;
    let after = analyse(&tagged)?;
    if after.essence_id != before.essence_id {
        return Err(ContentError::EssenceChanged {
            before: before.essence_id,
            after: after.essence_id,
        });
    }
    Ok(Licensed {
        bytes: tagged,
        analysis: after,
        claim,
    })
}

fn frame_id(id: &'static str) -> FrameId<'static> {
    FrameId::Valid(Cow::Borrowed(id))
}

fn set_id3v2(tag: &mut Id3v2Tag, f: &LicenceFields) {
    let texts = [
        ("TCOP", &f.copyright),
        ("TSRC", &f.isrc),
        ("TPUB", &f.publisher),
    ];
    for (id, value) in texts {
        let _ = tag.remove(&frame_id(id)).count();
        if let Some(v) = value {
            tag.insert(Frame::Text(TextInformationFrame::new(
                frame_id(id),
                TextEncoding::UTF8,
                v.clone(),
            )));
        }
    }
    let _ = tag.remove(&frame_id("WCOP")).count();
    let user_texts = [(LICENSE_FIELD, &f.licence_url), (CLAIM_FIELD, &f.claim)];
    for (description, value) in user_texts {
        tag.remove_user_text(description);
        if let Some(v) = value {
            tag.insert_user_text(description.to_owned(), v.clone());
        }
    }
    if let Some(url) = &f.licence_url {
        tag.insert(Frame::Url(UrlLinkFrame::new(frame_id("WCOP"), url.clone())));
    }
}

fn set_vorbis(tag: &mut VorbisComments, f: &LicenceFields) {
    let fields = [
        ("COPYRIGHT", &f.copyright),
        ("ISRC", &f.isrc),
        ("LABEL", &f.publisher),
        (LICENSE_FIELD, &f.licence_url),
        (CLAIM_FIELD, &f.claim),
    ];
    for (key, value) in fields {
        let _ = tag.remove(key).count();
        if let Some(v) = value {
            tag.insert(key.to_owned(), v.clone());
        }
    }
}

/// Reads the licence fields and the claim (unverified) from a file's tags.
pub fn read_licence_tags(bytes: &[u8]) -> Result<LicenceFields> {
    contain_panics("lofty", || read_unguarded(bytes))
}

fn read_unguarded(bytes: &[u8]) -> Result<LicenceFields> {
    let owned = |s: Option<&str>| s.map(str::to_owned);
    match tag_format(bytes)? {
        TagFormat::Id3v2(file_type) => {
            let Some(tag) = read_id3v2(bytes, file_type)? else {
                return Ok(LicenceFields::default());
            };
            let licence_url =
                tag.get_user_text(LICENSE_FIELD)
                    .or_else(|| match tag.get(&frame_id("WCOP")) {
                        Some(Frame::Url(u)) => Some(u.url()),
                        _ => None,
                    });
            Ok(LicenceFields {
                copyright: owned(tag.get_text(&frame_id("TCOP"))),
                isrc: owned(tag.get_text(&frame_id("TSRC"))),
                publisher: owned(tag.get_text(&frame_id("TPUB"))),
                licence_url: owned(licence_url),
                claim: owned(tag.get_user_text(CLAIM_FIELD)),
            })
        }
        TagFormat::Vorbis(file_type) => {
            let Some(tag) = read_vorbis(bytes, file_type)? else {
                return Ok(LicenceFields::default());
            };
            Ok(LicenceFields {
                copyright: owned(tag.get("COPYRIGHT")),
                isrc: owned(tag.get("ISRC")),
                publisher: owned(tag.get("LABEL")),
                licence_url: owned(tag.get(LICENSE_FIELD)),
                claim: owned(tag.get(CLAIM_FIELD)),
            })
        }
    }
}
