//! Verifying a file's licence: offline from the file alone, and against what the ledger records.
//!
//! Offline ([`verify_file`]): read the tags, parse the claim, verify its EdDSA signature with the
//! issuer's `did:key`, then recompute the essence id from the audio and compare. Anyone holding
//! the file can do this with no network.
//!
//! Against the ledger ([`verify_against_track`]): a pure function of the claim and the track's
//! record (fetched by the caller, with its inclusion proof where it matters): same chain, same
//! track, same essence, same licence and ISRC, and the issuer controls the track or holds shares.

use cadenza_types::{AccountId, ChainId, Hash, Licence, TrackId};

use crate::claim::{ClaimError, LicenceClaim, SignedClaim};
use crate::error::ContentError;
use crate::essence::{Analysis, ESSENCE_VERSION, EssenceId, analyse};
use crate::tags::{LicenceFields, read_licence_tags};

/// The outcome of checking a file offline. Only [`Verdict::Valid`] means the file carries a
/// licence its issuer signed for exactly this audio.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The claim is well formed, signed by its issuer, and names this file's audio.
    Valid {
        /// The verified claim.
        claim: Box<LicenceClaim>,
        /// The file's probe, essence id and blob id.
        analysis: Analysis,
        /// Unsigned standard fields that contradict the signed claim (`isrc`, `licence_url`),
        /// which a player should not show as the licence. Empty when they agree or are absent.
        unsigned_fields_disagree: Vec<&'static str>,
    },
    /// The file's tags carry no Cadenza licence claim.
    NoClaim,
    /// The claim field is there but is not a claim in Cadenza's form.
    MalformedClaim(ClaimError),
    /// The claim's signature does not verify under its issuer's `did:key`.
    BadSignature,
    /// The claim uses an essence algorithm this build does not compute.
    UnsupportedEssenceVersion(u8),
    /// The claim is for other audio: the file's packets have been changed, or the claim was
    /// copied from another file.
    EssenceMismatch {
        /// What the claim says.
        claimed: EssenceId,
        /// What the file's audio hashes to.
        actual: EssenceId,
    },
    /// The file is not audio Cadenza can read, or its audio is damaged.
    UnreadableAudio(ContentError),
}

impl Verdict {
    /// Whether every check passed.
    pub fn is_valid(&self) -> bool {
        matches!(self, Verdict::Valid { .. })
    }

    /// A stable, machine-readable code: `valid`, or which check failed.
    pub fn code(&self) -> &'static str {
        match self {
            Verdict::Valid { .. } => "valid",
            Verdict::NoClaim => "no_claim",
            Verdict::MalformedClaim(_) => "malformed_claim",
            Verdict::BadSignature => "bad_signature",
            Verdict::UnsupportedEssenceVersion(_) => "unsupported_essence_version",
            Verdict::EssenceMismatch { .. } => "essence_mismatch",
            Verdict::UnreadableAudio(_) => "unreadable_audio",
        }
    }
}

/// Checks a file's licence claim from the file alone.
pub fn verify_file(bytes: &[u8]) -> Verdict {
    let fields = match read_licence_tags(bytes) {
        Ok(f) => f,
        Err(e) => return Verdict::UnreadableAudio(e),
    };
    let Some(compact) = fields.claim.clone() else {
        return Verdict::NoClaim;
    };
    let signed = match SignedClaim::verify(compact.trim()) {
        Ok(s) => s,
        Err(ClaimError::BadSignature) => return Verdict::BadSignature,
        Err(e) => return Verdict::MalformedClaim(e),
    };
    let claim = signed.claim().clone();
    if claim.essence_id.version != ESSENCE_VERSION {
        return Verdict::UnsupportedEssenceVersion(claim.essence_id.version);
    }
    let analysis = match analyse(bytes) {
        Ok(a) => a,
        Err(e) => return Verdict::UnreadableAudio(e),
    };
    if analysis.essence_id != claim.essence_id {
        return Verdict::EssenceMismatch {
            claimed: claim.essence_id,
            actual: analysis.essence_id,
        };
    }
    let unsigned_fields_disagree = unsigned_fields_disagree(&fields, &claim);
    Verdict::Valid {
        claim: Box::new(claim),
        analysis,
        unsigned_fields_disagree,
    }
}

/// The unsigned standard fields that say something else than the claim: the ISRC tag, and the
/// licence URL tag. A missing field is not a disagreement.
pub fn unsigned_fields_disagree(fields: &LicenceFields, claim: &LicenceClaim) -> Vec<&'static str> {
    let mut out = Vec::new();
    if let Some(isrc) = &fields.isrc
        && claim.isrc.as_deref() != Some(isrc.trim())
    {
        out.push("isrc");
    }
    if let Some(url) = &fields.licence_url
        && url.trim() != claim.licence.url
    {
        out.push("licence_url");
    }
    out
}

/// What the ledger records for a track, as far as a claim is concerned. The caller reads it
/// from the ledger (the `Track` record under the track id, and the issuer's balance of the
/// track's share asset).
#[derive(Clone, Copy, Debug)]
pub struct LedgerTrack<'a> {
    /// The chain the record was read from.
    pub chain_id: &'a ChainId,
    /// The track's id.
    pub track_id: TrackId,
    /// The essence hash the track was registered with.
    pub essence_id: Hash,
    /// Who may update the track's licence (its registrant).
    pub controller: AccountId,
    /// The licence in force.
    pub licence: &'a Licence,
    /// The registered ISRC.
    pub isrc: Option<&'a str>,
    /// How many of the track's royalty shares the claim's issuer holds.
    pub issuer_shares: u128,
}

/// The outcome of checking a claim against the ledger's record of its track.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LedgerVerdict {
    /// The claim agrees with the ledger, and its issuer controls the track or holds shares.
    Valid,
    /// The claim names another chain.
    WrongChain,
    /// The record is for another track than the claim names.
    WrongTrack,
    /// The ledger registered other audio under this track.
    EssenceMismatch,
    /// The licence differs from the one in force (it may have been updated since the file was
    /// tagged: re-tag the file with the current terms).
    LicenceDiffers,
    /// The ISRC differs from the registered one.
    IsrcDiffers,
    /// The issuer neither controls the track nor holds any of its shares.
    IssuerNotAHolder,
}

impl LedgerVerdict {
    /// A stable, machine-readable code: `valid`, or which check failed.
    pub fn code(&self) -> &'static str {
        match self {
            LedgerVerdict::Valid => "valid",
            LedgerVerdict::WrongChain => "wrong_chain",
            LedgerVerdict::WrongTrack => "wrong_track",
            LedgerVerdict::EssenceMismatch => "essence_mismatch",
            LedgerVerdict::LicenceDiffers => "licence_differs",
            LedgerVerdict::IsrcDiffers => "isrc_differs",
            LedgerVerdict::IssuerNotAHolder => "issuer_not_a_holder",
        }
    }
}

/// Checks a (signature-verified) claim against the ledger's record of its track. The first
/// check that fails is reported.
pub fn verify_against_track(claim: &LicenceClaim, track: &LedgerTrack<'_>) -> LedgerVerdict {
    if &claim.ledger.chain_id != track.chain_id {
        return LedgerVerdict::WrongChain;
    }
    if claim.ledger.track_id != track.track_id {
        return LedgerVerdict::WrongTrack;
    }
    if claim.essence_id.hash != track.essence_id
        || TrackId::from_essence(&track.essence_id) != track.track_id
    {
        return LedgerVerdict::EssenceMismatch;
    }
    if &claim.licence != track.licence {
        return LedgerVerdict::LicenceDiffers;
    }
    if claim.isrc.as_deref() != track.isrc {
        return LedgerVerdict::IsrcDiffers;
    }
    if claim.issuer != track.controller && track.issuer_shares == 0 {
        return LedgerVerdict::IssuerNotAHolder;
    }
    LedgerVerdict::Valid
}
