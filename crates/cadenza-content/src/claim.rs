//! The signed licence claim embedded in an audio file: a compact JWS (RFC 7515) signed with
//! EdDSA over ed25519 (RFC 8037) by the artist's key, whose `did:key` is both the header's `kid`
//! and the payload's `iss`.
//!
//! ```text
//! BASE64URL(header) "." BASE64URL(payload) "." BASE64URL(signature)      (no padding)
//! header  = {"alg":"EdDSA","typ":"JWT","kid":"did:key:z6Mk…"}
//! payload = {"iss":"did:key:z6Mk…","essence":{"v":1,"id":"<64 hex>"},"isrc":"GBAYE2400001",
//!            "licence":{…},"ledger":{"chain":"cadenza-devnet","track":"<64 hex>"}}
//! ```
//!
//! Both JSON documents are compact, with their keys in the order shown (see `docs/content.md`
//! for the licence object). A claim is accepted only in exactly the form this module writes:
//! decoding re-encodes the header and payload and requires the same bytes, so one claim has one
//! encoding, as every signed layout in Cadenza does.
//!
//! The signature covers the ASCII signing input `BASE64URL(header) "." BASE64URL(payload)` as
//! RFC 8037 says, verified under ZIP-215 (`cadenza_types::crypto::verify`). That input starts
//! with `eyJ` and is far longer than the 32-byte domain-separated hashes the ledger's signers
//! sign, so a claim signature can never be replayed as a transaction or voucher signature.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cadenza_types::crypto::{self, is_small_order};
use cadenza_types::licence::{LICENCE_URL_MAX_LEN, TERRITORIES_MAX};
use cadenza_types::{
    AccountId, Amount, AssetId, ChainId, Hash, Licence, Price, SecretKey, Signature, Territory,
    TrackId, Uses,
};
use serde::{Deserialize, Serialize};

use crate::essence::EssenceId;

/// The longest compact claim accepted, in bytes; a real one is about 1.5 KiB, and a licence at
/// every bound (64 territories, a 512-byte URL) stays under 3 KiB.
pub const CLAIM_MAX_LEN: usize = 8 * 1024;

/// The JWS `alg` of every claim.
const ALG: &str = "EdDSA";
/// The JWS `typ` of every claim.
const TYP: &str = "JWT";

/// The uses, in the order the payload lists them, with their names.
const USE_NAMES: [(Uses, &str); 4] = [
    (Uses::STREAM, "stream"),
    (Uses::DOWNLOAD, "download"),
    (Uses::SYNC, "sync"),
    (Uses::REMIX, "remix"),
];

/// Where the track is registered: a chain and the track's id on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerRef {
    /// The chain.
    pub chain_id: ChainId,
    /// The track id, `TrackId::from_essence(essence hash)`.
    pub track_id: TrackId,
}

/// What the artist claims about a recording: who issues it, which audio, on what terms, and
/// where the track is registered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LicenceClaim {
    /// The artist or rights holder who signs the claim.
    pub issuer: AccountId,
    /// The recording's essence id.
    pub essence_id: EssenceId,
    /// The licence terms, as registered on the ledger.
    pub licence: Licence,
    /// The ISRC, 12 characters without hyphens.
    pub isrc: Option<String>,
    /// The ledger reference.
    pub ledger: LedgerRef,
}

impl LicenceClaim {
    /// A claim for the track registered on `chain_id` with this essence id; the track id is
    /// derived from the essence hash, as the ledger derives it.
    pub fn new(
        issuer: AccountId,
        essence_id: EssenceId,
        licence: Licence,
        isrc: Option<String>,
        chain_id: ChainId,
    ) -> LicenceClaim {
        let track_id = TrackId::from_essence(&essence_id.hash);
        LicenceClaim {
            issuer,
            essence_id,
            licence,
            isrc,
            ledger: LedgerRef { chain_id, track_id },
        }
    }

    /// The JWS signing input, `BASE64URL(header) "." BASE64URL(payload)`: what the issuer's key
    /// signs, for signers outside this crate (a browser's WebCrypto, a hardware key).
    pub fn signing_input(&self) -> String {
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header_json(&self.issuer)),
            URL_SAFE_NO_PAD.encode(payload_json(self))
        )
    }

    /// Signs the claim with the issuer's key.
    pub fn sign(&self, key: &SecretKey) -> Result<SignedClaim, ClaimError> {
        if key.account() != self.issuer {
            return Err(ClaimError::WrongKey);
        }
        check_fields(self)?;
        let signing_input = self.signing_input();
        let signature = key.sign(signing_input.as_bytes());
        let compact = format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.0.as_slice())
        );
        if compact.len() > CLAIM_MAX_LEN {
            return Err(ClaimError::TooLong { len: compact.len() });
        }
        Ok(SignedClaim {
            claim: self.clone(),
            compact,
        })
    }
}

/// A claim with a signature that verified, and its compact form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedClaim {
    claim: LicenceClaim,
    compact: String,
}

impl SignedClaim {
    /// The claim.
    pub fn claim(&self) -> &LicenceClaim {
        &self.claim
    }

    /// The compact JWS, as stored in the tag.
    pub fn as_str(&self) -> &str {
        &self.compact
    }

    /// Parses a compact JWS and verifies its signature with the issuer's `did:key`.
    ///
    /// Structure is checked first (so a broken claim is [`ClaimError::Malformed`]), then the
    /// signature ([`ClaimError::BadSignature`]).
    pub fn verify(compact: &str) -> Result<SignedClaim, ClaimError> {
        let (claim, signing_input_len, signature) = decode(compact)?;
        if is_small_order(&claim.issuer) {
            // Under ZIP-215 anyone can sign for a small-order key: it proves nothing.
            return Err(ClaimError::BadSignature);
        }
        crypto::verify(
            &claim.issuer,
            &compact.as_bytes()[..signing_input_len],
            &signature,
        )
        .map_err(|_| ClaimError::BadSignature)?;
        Ok(SignedClaim {
            claim,
            compact: compact.to_owned(),
        })
    }
}

/// Why a claim was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    /// Longer than [`CLAIM_MAX_LEN`].
    #[error("the claim is {len} bytes, above the bound of {CLAIM_MAX_LEN}")]
    TooLong {
        /// Its length.
        len: usize,
    },
    /// Not a claim in the one form Cadenza writes.
    #[error("malformed licence claim: {0}")]
    Malformed(String),
    /// Well formed, but the signature does not verify under the issuer's key.
    #[error("the licence claim's signature does not verify under its issuer's did:key")]
    BadSignature,
    /// [`LicenceClaim::sign`] was given a key that is not the issuer's.
    #[error("the signing key is not the claim's issuer; sign with the issuer's key")]
    WrongKey,
}

impl ClaimError {
    /// A stable, machine-readable code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            ClaimError::TooLong { .. } => "claim_too_long",
            ClaimError::Malformed(_) => "claim_malformed",
            ClaimError::BadSignature => "claim_bad_signature",
            ClaimError::WrongKey => "claim_wrong_key",
        }
    }
}

fn malformed(why: impl Into<String>) -> ClaimError {
    ClaimError::Malformed(why.into())
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderJson {
    alg: String,
    typ: String,
    kid: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PayloadJson {
    iss: String,
    essence: EssenceJson,
    isrc: Option<String>,
    licence: LicenceJson,
    ledger: LedgerJson,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EssenceJson {
    v: u8,
    id: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LicenceJson {
    price: PriceJson,
    uses: Vec<String>,
    territories: Vec<String>,
    valid_from_ms: u64,
    valid_until_ms: Option<u64>,
    url: String,
    min_play_ms: u32,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceJson {
    asset: String,
    /// A decimal string: a `u128` does not fit a JSON number that every reader handles exactly.
    amount: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LedgerJson {
    chain: String,
    track: String,
}

fn header_json(issuer: &AccountId) -> String {
    let header = HeaderJson {
        alg: ALG.to_owned(),
        typ: TYP.to_owned(),
        kid: issuer.to_did(),
    };
    serde_json::to_string(&header).unwrap_or_default()
}

fn payload_json(claim: &LicenceClaim) -> String {
    let l = &claim.licence;
    let payload = PayloadJson {
        iss: claim.issuer.to_did(),
        essence: EssenceJson {
            v: claim.essence_id.version,
            id: claim.essence_id.hash.to_hex(),
        },
        isrc: claim.isrc.clone(),
        licence: LicenceJson {
            price: PriceJson {
                asset: l.price.asset.0.to_hex(),
                amount: l.price.amount.get().to_string(),
            },
            uses: USE_NAMES
                .iter()
                .filter(|(u, _)| l.uses.allows(*u))
                .map(|(_, name)| (*name).to_owned())
                .collect(),
            territories: l
                .territories
                .iter()
                .map(|t| t.as_str().to_owned())
                .collect(),
            valid_from_ms: l.valid_from_ms,
            valid_until_ms: l.valid_until_ms,
            url: l.url.clone(),
            min_play_ms: l.min_play_ms,
        },
        ledger: LedgerJson {
            chain: claim.ledger.chain_id.as_str().to_owned(),
            track: claim.ledger.track_id.0.to_hex(),
        },
    };
    serde_json::to_string(&payload).unwrap_or_default()
}

/// The rules a claim's fields follow, checked when signing and when decoding.
fn check_fields(claim: &LicenceClaim) -> Result<(), ClaimError> {
    let l = &claim.licence;
    if l.url.len() > LICENCE_URL_MAX_LEN {
        return Err(malformed("the licence URL is longer than 512 bytes"));
    }
    if l.territories.len() > TERRITORIES_MAX {
        return Err(malformed("the licence lists more than 64 territories"));
    }
    if let Some(isrc) = &claim.isrc
        && !cadenza_types::tx::valid_isrc(isrc)
    {
        return Err(malformed(
            "the ISRC must be 12 characters like GBAYE2400001 (no hyphens)",
        ));
    }
    if claim.ledger.track_id != TrackId::from_essence(&claim.essence_id.hash) {
        return Err(malformed(
            "the ledger track id is not the one derived from the essence id",
        ));
    }
    Ok(())
}

/// Decodes a compact claim without checking its signature: the claim, the length of the
/// signing input, and the signature. Every failure is [`ClaimError::Malformed`] or
/// [`ClaimError::TooLong`]; exposed for the fuzz target.
pub fn decode(compact: &str) -> Result<(LicenceClaim, usize, Signature), ClaimError> {
    if compact.len() > CLAIM_MAX_LEN {
        return Err(ClaimError::TooLong { len: compact.len() });
    }
    let mut parts = compact.split('.');
    let (Some(h64), Some(p64), Some(s64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed("a compact JWS has exactly three parts"));
    };
    let b64 = |what: &str, text: &str| {
        URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|e| malformed(format!("the {what} is not unpadded base64url: {e}")))
    };
    let header_bytes = b64("header", h64)?;
    let payload_bytes = b64("payload", p64)?;
    let signature_bytes = b64("signature", s64)?;

    let header: HeaderJson = serde_json::from_slice(&header_bytes)
        .map_err(|e| malformed(format!("the header is not the claim header: {e}")))?;
    if header.alg != ALG || header.typ != TYP {
        return Err(malformed(
            "the header must say alg EdDSA and typ JWT, nothing else",
        ));
    }
    let kid = AccountId::from_did(&header.kid)
        .map_err(|e| malformed(format!("the header's kid: {e}")))?;

    let p: PayloadJson = serde_json::from_slice(&payload_bytes)
        .map_err(|e| malformed(format!("the payload is not a licence claim: {e}")))?;
    let issuer = AccountId::from_did(&p.iss).map_err(|e| malformed(format!("the issuer: {e}")))?;
    if issuer != kid {
        return Err(malformed("the header's kid and the payload's iss differ"));
    }
    let hex32 = |what: &str, text: &str| {
        // Only the lower-case form that `Hash::to_hex` writes.
        Hash::from_hex(text)
            .filter(|h| h.to_hex() == text)
            .ok_or_else(|| malformed(format!("the {what} is not 64 lower-case hex digits")))
    };
    let essence_id = EssenceId {
        version: p.essence.v,
        hash: hex32("essence id", &p.essence.id)?,
    };
    let l = &p.licence;
    let amount: u128 = l
        .price
        .amount
        .parse()
        .map_err(|_| malformed("the price amount is not a decimal u128"))?;
    let mut uses = Uses::none();
    for name in &l.uses {
        let (u, _) = USE_NAMES
            .iter()
            .find(|(_, n)| n == name)
            .ok_or_else(|| malformed(format!("unknown use {name:?}")))?;
        uses = uses.with(*u);
    }
    let territories = l
        .territories
        .iter()
        .map(|t| Territory::new(t).ok_or_else(|| malformed(format!("bad territory {t:?}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let licence = Licence {
        price: Price {
            asset: AssetId(hex32("price asset", &l.price.asset)?),
            amount: Amount::new(amount),
        },
        uses,
        territories,
        valid_from_ms: l.valid_from_ms,
        valid_until_ms: l.valid_until_ms,
        url: l.url.clone(),
        min_play_ms: l.min_play_ms,
    };
    let chain_id =
        ChainId::new(&p.ledger.chain).map_err(|e| malformed(format!("the ledger chain: {e}")))?;
    let claim = LicenceClaim {
        issuer,
        essence_id,
        licence,
        isrc: p.isrc.clone(),
        ledger: LedgerRef {
            chain_id,
            track_id: TrackId(hex32("ledger track id", &p.ledger.track)?),
        },
    };
    check_fields(&claim)?;
    // One claim, one encoding: anything but the exact bytes we would write is refused (key
    // order, spacing, escapes, duplicate or unordered uses, an amount with leading zeros).
    if header_bytes != header_json(&claim.issuer).as_bytes()
        || payload_bytes != payload_json(&claim).as_bytes()
    {
        return Err(malformed(
            "the header or payload is not in the canonical compact form",
        ));
    }
    let signature: [u8; 64] = signature_bytes
        .try_into()
        .map_err(|_| malformed("the signature is not 64 bytes"))?;
    Ok((claim, h64.len() + 1 + p64.len(), Signature(signature)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(key: &SecretKey) -> LicenceClaim {
        LicenceClaim::new(
            key.account(),
            EssenceId {
                version: 1,
                hash: Hash([7; 32]),
            },
            Licence {
                price: Price {
                    asset: AssetId::genesis("cUSD"),
                    amount: Amount::new(u128::MAX),
                },
                uses: Uses::STREAM.with(Uses::REMIX),
                territories: vec![Territory::new("GB").unwrap(), Territory::new("BR").unwrap()],
                valid_from_ms: 1,
                valid_until_ms: Some(2),
                url: "https://creativecommons.org/licenses/by/4.0/ \"quoted\" \u{e9}".into(),
                min_play_ms: 30_000,
            },
            Some("GBAYE2400001".into()),
            ChainId::new("cadenza-devnet").unwrap(),
        )
    }

    #[test]
    fn sign_then_verify_round_trips() {
        let key = SecretKey::from_seed([3; 32]);
        let claim = sample(&key);
        let signed = claim.sign(&key).unwrap();
        let back = SignedClaim::verify(signed.as_str()).unwrap();
        assert_eq!(back.claim(), &claim);
        assert_eq!(back.as_str(), signed.as_str());
        let header = URL_SAFE_NO_PAD
            .decode(signed.as_str().split('.').next().unwrap())
            .unwrap();
        assert_eq!(
            String::from_utf8(header).unwrap(),
            format!(
                r#"{{"alg":"EdDSA","typ":"JWT","kid":"{}"}}"#,
                key.account().to_did()
            )
        );
    }

    #[test]
    fn another_key_cannot_sign_for_the_issuer() {
        let key = SecretKey::from_seed([3; 32]);
        let claim = sample(&key);
        assert_eq!(
            claim.sign(&SecretKey::from_seed([4; 32])),
            Err(ClaimError::WrongKey)
        );
    }

    #[test]
    fn a_signature_by_another_key_is_refused() {
        let key = SecretKey::from_seed([3; 32]);
        let claim = sample(&key);
        let signed = claim.sign(&key).unwrap();
        let input = signed.as_str().rsplit_once('.').unwrap().0;
        let forged = SecretKey::from_seed([9; 32]).sign(input.as_bytes());
        let text = format!("{input}.{}", URL_SAFE_NO_PAD.encode(forged.0));
        assert_eq!(SignedClaim::verify(&text), Err(ClaimError::BadSignature));
    }

    #[test]
    fn non_canonical_payloads_are_refused_even_when_signed() {
        let key = SecretKey::from_seed([3; 32]);
        let claim = sample(&key);
        let header = URL_SAFE_NO_PAD.encode(header_json(&claim.issuer));
        // The same claim with a space added: valid JSON, same meaning, not canonical.
        let payload = payload_json(&claim).replacen(':', ": ", 1);
        let input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(payload));
        let sig = key.sign(input.as_bytes());
        let text = format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.0));
        assert!(matches!(
            SignedClaim::verify(&text),
            Err(ClaimError::Malformed(_))
        ));
    }

    #[test]
    fn a_track_id_not_derived_from_the_essence_is_refused() {
        let key = SecretKey::from_seed([3; 32]);
        let mut claim = sample(&key);
        claim.ledger.track_id = TrackId(Hash([1; 32]));
        assert!(matches!(claim.sign(&key), Err(ClaimError::Malformed(_))));
    }
}
