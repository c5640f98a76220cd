//! ed25519 signatures under the ZIP-215 rules.
//!
//! ZIP-215 fixes exactly which signatures are valid (the cofactored equation; non-canonical point
//! encodings accepted; a non-canonical `s` rejected), so single and batch verification always
//! agree and every RFC 8032 signature, including WebCrypto's, verifies. Consensus depends on that
//! agreement: a block must be judged the same whichever path a validator takes.
//!
//! Batch verification needs random coefficients. The ledger may not draw randomness, so the
//! coefficient stream comes from BLAKE3 in XOF mode keyed by the whole batch (every key, signature
//! and message): a forger cannot choose a signature after seeing the coefficients, because changing
//! any byte of the batch changes all of them. (`ed25519-zebra` hands the coefficients out in the
//! order of its internal hash map, which may differ between processes; a verdict can depend on
//! that only with probability about 2⁻¹²⁸, and a failed batch is always re-judged signature by
//! signature.)
//!
//! Under ZIP-215 a small-order public key has valid signatures on every message that anyone can
//! produce. [`is_small_order`] lets the ledger refuse such keys as signers.

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::sync::Mutex;

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity as _, VartimeMultiscalarMul as _};
use ed25519_zebra::{SigningKey, VerificationKey, VerificationKeyBytes, batch};
use sha2::{Digest as _, Sha512};

use crate::encoding::{Decode, DecodeError, Encode, Reader};
use crate::hash::{Domain, Hasher};
use crate::ids::AccountId;

/// A 64-byte ed25519 signature (`R ‖ s`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub [u8; 64]);

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature(")?;
        for b in &self.0[..8] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "…)")
    }
}

impl Encode for Signature {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
}

impl Decode for Signature {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Signature(r.array()?))
    }
}

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The signer's bytes are not a point on the curve.
    #[error("the signer is not a valid ed25519 public key")]
    BadKey,
    /// The signature does not verify under the signer's key (this includes a non-canonical `s`).
    #[error("the signature does not verify for this signer and message")]
    Invalid,
}

/// A private signing key. Its `Debug` output never shows the key.
#[derive(Clone)]
pub struct SecretKey(SigningKey);

impl SecretKey {
    /// The key whose 32-byte seed is `seed` (RFC 8032 private key).
    pub fn from_seed(seed: [u8; 32]) -> SecretKey {
        SecretKey(SigningKey::from(seed))
    }

    /// The 32-byte seed, for encrypted keystores only.
    pub fn seed(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The account this key signs for.
    pub fn account(&self) -> AccountId {
        let vk = VerificationKey::from(&self.0);
        let bytes: [u8; 32] = vk.into();
        AccountId(bytes)
    }

    /// Signs `message`.
    pub fn sign(&self, message: &[u8]) -> Signature {
        Signature(self.0.sign(message).to_bytes())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(for {}, redacted)", self.account())
    }
}

/// Verifies one signature under ZIP-215.
pub fn verify(
    signer: &AccountId,
    message: &[u8],
    signature: &Signature,
) -> Result<(), SignatureError> {
    let vk = VerificationKey::try_from(signer.0).map_err(|_| SignatureError::BadKey)?;
    let sig = ed25519_zebra::Signature::from_bytes(&signature.0);
    vk.verify(&sig, message)
        .map_err(|_| SignatureError::Invalid)
}

/// The 14 encodings of the 8 points of small order: each point's canonical encoding, plus the
/// non-canonical ones (`y + p` where `y < 19`, i.e. y = 0 and y = 1, with either sign bit; and the
/// "negative zero" sign bit on the two points with x = 0, y = 1 and y = −1).
const SMALL_ORDER_ENCODINGS: [[u8; 32]; 14] = {
    const fn enc(first: u8, middle: u8, last: u8) -> [u8; 32] {
        let mut b = [middle; 32];
        b[0] = first;
        b[31] = last;
        b
    }
    const fn hex(s: &[u8; 64]) -> [u8; 32] {
        const fn nibble(c: u8) -> u8 {
            match c {
                b'0'..=b'9' => c - b'0',
                _ => c - b'a' + 10,
            }
        }
        let mut out = [0u8; 32];
        let mut i = 0;
        while i < 32 {
            out[i] = nibble(s[2 * i]) << 4 | nibble(s[2 * i + 1]);
            i += 1;
        }
        out
    }
    [
        enc(0x01, 0x00, 0x00), // identity (y = 1)
        enc(0xec, 0xff, 0x7f), // order 2 (y = -1)
        enc(0x00, 0x00, 0x00), // order 4 (y = 0)
        enc(0x00, 0x00, 0x80), // order 4 (y = 0, other x)
        hex(b"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
        hex(b"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85"),
        hex(b"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
        hex(b"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa"),
        enc(0xed, 0xff, 0x7f), // y = p (≡ 0)
        enc(0xed, 0xff, 0xff), // y = p (≡ 0), sign bit set
        enc(0xee, 0xff, 0x7f), // y = p + 1 (≡ 1)
        enc(0xee, 0xff, 0xff), // y = p + 1 (≡ 1), sign bit set
        enc(0x01, 0x00, 0x80), // y = 1, sign bit set
        enc(0xec, 0xff, 0xff), // y = -1, sign bit set
    ]
};

/// Whether `key` encodes a point of small order, for which anyone can forge signatures under
/// ZIP-215. Such keys control nothing and are refused as transaction signers.
pub fn is_small_order(key: &AccountId) -> bool {
    SMALL_ORDER_ENCODINGS.contains(&key.0)
}

/// One entry of a batch: who signed, what, and the signature.
#[derive(Clone, Copy, Debug)]
pub struct SigItem<'a> {
    /// The signer.
    pub signer: &'a AccountId,
    /// The signed message.
    pub message: &'a [u8],
    /// The signature.
    pub signature: &'a Signature,
}

/// Verifies many signatures and says which are valid, in input order.
///
/// The whole set is first checked with one batch equation; only if that fails is it split in
/// halves, recursively, so a block with one bad signature costs a few extra batches rather than a
/// full one-by-one pass. The verdict for each item is exactly what [`verify`] would say.
pub fn verify_many(items: &[SigItem<'_>]) -> Vec<bool> {
    let mut verdicts = vec![false; items.len()];
    verify_range(items, &mut verdicts, &batch_equation_holds);
    verdicts
}

/// [`verify_many`], with the signers' keys decompressed once and remembered in `keys`: for a
/// node that verifies batch after batch from the same accounts (admission), decompressing the
/// keys is about a quarter of the work. The batch equation is ZIP-215's cofactored equation, as
/// ed25519-zebra's ([`batch_equation_holds_with`]); only the order in which the coefficients are
/// drawn differs, so a batch verdict can differ only with probability about 2⁻¹²⁸ (as between
/// two runs of zebra's, module doc), and a failed batch is re-judged signature by signature
/// either way: the per-signature verdicts are those of [`verify`].
pub fn verify_many_with(items: &[SigItem<'_>], keys: &KeyCache) -> Vec<bool> {
    let mut verdicts = vec![false; items.len()];
    verify_range(items, &mut verdicts, &|items| {
        batch_equation_holds_with(items, keys)
    });
    verdicts
}

/// Signers' public keys, decompressed once and remembered (see [`verify_many_with`]). Holds at
/// most its capacity; when full it starts afresh. A key that is not a point is not remembered.
/// What it holds is exactly what decompression gives, so it never changes a verdict.
pub struct KeyCache {
    points: Mutex<HashMap<[u8; 32], EdwardsPoint>>,
    capacity: usize,
}

impl fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyCache")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl KeyCache {
    /// An empty cache that holds at most `capacity` keys.
    pub fn new(capacity: usize) -> KeyCache {
        KeyCache {
            points: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// How many keys it holds.
    pub fn len(&self) -> usize {
        self.points.lock().expect("never poisoned").len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The point of each key (`None`: not a point), decompressing those not yet held outside
    /// the lock.
    fn points(&self, keys: &[&[u8; 32]]) -> Vec<Option<EdwardsPoint>> {
        let mut found: Vec<Option<EdwardsPoint>> = {
            let held = self.points.lock().expect("never poisoned");
            keys.iter().map(|k| held.get(*k).copied()).collect()
        };
        // Each missing key decompressed once, however many of the batch's signatures are its.
        let mut fresh: HashMap<[u8; 32], Option<EdwardsPoint>> = HashMap::new();
        for (key, point) in keys.iter().zip(&mut found) {
            if point.is_none() {
                *point = *fresh
                    .entry(**key)
                    .or_insert_with(|| CompressedEdwardsY(**key).decompress());
            }
        }
        let fresh: Vec<([u8; 32], EdwardsPoint)> = fresh
            .into_iter()
            .filter_map(|(key, point)| Some((key, point?)))
            .collect();
        if !fresh.is_empty() {
            let mut held = self.points.lock().expect("never poisoned");
            if held.len() + fresh.len() > self.capacity {
                held.clear();
            }
            held.extend(fresh.into_iter().take(self.capacity));
        }
        found
    }
}

/// [`batch_equation_holds`], with the signers' points from `keys`: the cofactored ZIP-215 batch
/// equation `[8]([-Σ zᵢsᵢ]B + Σ [zᵢ]Rᵢ + Σ [zᵢkᵢ]Aᵢ) = 0`, with `kᵢ = SHA-512(Rᵢ ‖ Aᵢ ‖ Mᵢ)`
/// over the encodings as given (non-canonical ones accepted), a non-canonical `s` refused, the
/// terms of one signer's signatures added into one, and the coefficients `zᵢ` (128 bits each)
/// drawn in input order from the stream seeded as [`batch_equation_holds`] seeds it (which
/// draws them in its hash map's order instead).
pub fn batch_equation_holds_with(items: &[SigItem<'_>], keys: &KeyCache) -> bool {
    let mut coefficients = batch_seed(items);
    let signers: Vec<&[u8; 32]> = items.iter().map(|it| &it.signer.0).collect();
    let points = keys.points(&signers);
    let mut slot_of: HashMap<&[u8; 32], usize> = HashMap::with_capacity(items.len());
    let (mut a_points, mut a_coeffs) = (Vec::new(), Vec::new());
    let mut r_points = Vec::with_capacity(items.len());
    let mut r_coeffs = Vec::with_capacity(items.len());
    let mut b_coeff = Scalar::ZERO;
    for (it, a) in items.iter().zip(points) {
        let Some(a) = a else { return false };
        let r_bytes: [u8; 32] = it.signature.0[..32].try_into().expect("32 bytes");
        let s_bytes: [u8; 32] = it.signature.0[32..].try_into().expect("32 bytes");
        let Some(r) = CompressedEdwardsY(r_bytes).decompress() else {
            return false;
        };
        let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes)) else {
            return false;
        };
        let digest: [u8; 64] = Sha512::new()
            .chain_update(r_bytes)
            .chain_update(it.signer.0)
            .chain_update(it.message)
            .finalize()
            .into();
        let k = Scalar::from_bytes_mod_order_wide(&digest);
        let mut z = [0u8; 16];
        coefficients.fill(&mut z);
        let z = Scalar::from(u128::from_le_bytes(z));
        b_coeff -= z * s;
        r_points.push(r);
        r_coeffs.push(z);
        let slot = *slot_of.entry(&it.signer.0).or_insert_with(|| {
            a_points.push(a);
            a_coeffs.push(Scalar::ZERO);
            a_points.len() - 1
        });
        a_coeffs[slot] += z * k;
    }
    let check = EdwardsPoint::vartime_multiscalar_mul(
        std::iter::once(&b_coeff)
            .chain(a_coeffs.iter())
            .chain(r_coeffs.iter()),
        std::iter::once(&ED25519_BASEPOINT_POINT)
            .chain(a_points.iter())
            .chain(r_points.iter()),
    );
    check.mul_by_cofactor().is_identity()
}

/// Below this size, a failed batch is finished one signature at a time.
const SPLIT_BELOW: usize = 8;

fn verify_range(
    items: &[SigItem<'_>],
    verdicts: &mut [bool],
    batch_holds: &dyn Fn(&[SigItem<'_>]) -> bool,
) {
    if items.is_empty() {
        return;
    }
    if items.len() == 1 {
        let it = items[0];
        verdicts[0] = verify(it.signer, it.message, it.signature).is_ok();
        return;
    }
    if batch_holds(items) {
        verdicts.iter_mut().for_each(|v| *v = true);
        return;
    }
    if items.len() < SPLIT_BELOW {
        for (it, v) in items.iter().zip(verdicts.iter_mut()) {
            *v = verify(it.signer, it.message, it.signature).is_ok();
        }
        return;
    }
    let mid = items.len() / 2;
    let (left_items, right_items) = items.split_at(mid);
    let (left_v, right_v) = verdicts.split_at_mut(mid);
    verify_range(left_items, left_v, batch_holds);
    verify_range(right_items, right_v, batch_holds);
}

/// Whether one batch equation, with coefficients derived from the batch itself, accepts every
/// signature in `items` at once. [`verify_many`] starts with this and bisects when it fails;
/// exposed so the batch path can be tested on its own.
pub fn batch_equation_holds(items: &[SigItem<'_>]) -> bool {
    let mut verifier = batch::Verifier::new();
    for it in items {
        let sig = ed25519_zebra::Signature::from_bytes(&it.signature.0);
        verifier.queue((VerificationKeyBytes::from(it.signer.0), sig, it.message));
    }
    verifier
        .verify(CoefficientStream(batch_seed(items)))
        .is_ok()
}

/// The coefficient stream of a batch: BLAKE3 in XOF mode over every key, signature and message.
fn batch_seed(items: &[SigItem<'_>]) -> blake3::OutputReader {
    let mut seed = Hasher::new(Domain::BatchSeed);
    for it in items {
        seed.update(it.signer.as_bytes())
            .update(&it.signature.0)
            .update(&(it.message.len() as u64).to_le_bytes())
            .update(it.message);
    }
    seed.finalize_xof()
}

/// A deterministic stream of batch coefficients: BLAKE3 output keyed by the batch contents.
struct CoefficientStream(blake3::OutputReader);

impl rand_core::TryRng for CoefficientStream {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.0.fill(&mut b);
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.0.fill(&mut b);
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.0.fill(dst);
        Ok(())
    }
}

impl rand_core::TryCryptoRng for CoefficientStream {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_and_single_agree_and_find_the_bad_one() {
        let keys: Vec<SecretKey> = (0..40u8).map(|i| SecretKey::from_seed([i; 32])).collect();
        let accounts: Vec<AccountId> = keys.iter().map(SecretKey::account).collect();
        let messages: Vec<Vec<u8>> = (0..40u8).map(|i| vec![i; 1 + i as usize]).collect();
        let mut sigs: Vec<Signature> = keys.iter().zip(&messages).map(|(k, m)| k.sign(m)).collect();
        sigs[17].0[5] ^= 1;
        sigs[33] = keys[0].sign(&messages[33]);
        let items: Vec<SigItem<'_>> = (0..40)
            .map(|i| SigItem {
                signer: &accounts[i],
                message: &messages[i],
                signature: &sigs[i],
            })
            .collect();
        let verdicts = verify_many(&items);
        for (i, v) in verdicts.iter().enumerate() {
            assert_eq!(*v, i != 17 && i != 33, "item {i}");
            assert_eq!(*v, verify(&accounts[i], &messages[i], &sigs[i]).is_ok());
        }
        // With the keys remembered: the same verdicts, cold and warm, and within the bound.
        let keys = KeyCache::new(32);
        assert_eq!(verify_many_with(&items, &keys), verdicts);
        assert!(keys.len() <= 32 && !keys.is_empty());
        assert_eq!(verify_many_with(&items, &keys), verdicts);
        assert!(batch_equation_holds_with(&items[..17], &keys));
        assert!(!batch_equation_holds_with(&items[..18], &keys));
    }

    #[test]
    fn secret_key_debug_is_redacted() {
        let key = SecretKey::from_seed([7; 32]);
        let shown = format!("{key:?}");
        assert!(shown.contains("redacted"));
        assert!(!shown.contains("0707"));
    }
}
