//! ZIP-215 conformance of `cadenza_types::crypto`.
//!
//! Consensus needs single and batch verification to agree on every input, including the
//! adversarial ones: small-order keys and nonces, non-canonical point encodings and a
//! non-canonical `s`. ZIP-215 (<https://zips.z.cash/zip-0215>) fixes the answer for each:
//!
//! - `A` and `R` may be any encoding that decompresses, canonical or not (accepted);
//! - `s` must be canonical, `s < ℓ` (rejected otherwise);
//! - the cofactored equation `[8][s]B = [8]R + [8][k]A` decides, with
//!   `k = SHA-512(R_bytes ‖ A_bytes ‖ M)` over the bytes as given.
//!
//! So every (A, R) pair of small-order points with `s = 0` is valid, for any message: 14
//! encodings (8 canonical, 6 non-canonical) give the 196 cases of the ZIP-215 test set.
//!
//! `verify_many` always runs one batch equation over its whole input first and only falls back
//! to smaller batches and single checks if that fails, so a batch that wrongly *accepted* would
//! show as a `true` verdict for an invalid item; the rejection tests below are built so that
//! this would be caught. A batch that wrongly *rejected* valid items would be hidden by the
//! fallback, so the acceptance tests also run ed25519-zebra's batch verifier (the one
//! `verify_many` uses) directly on the whole set. Every check also runs our own batch equation
//! with remembered keys (`verify_many_with`, used at admission) and requires the same answer.

use cadenza_types::crypto::{self, SigItem, SignatureError};
use cadenza_types::{AccountId, SecretKey, Signature};
use curve25519_dalek::constants::EIGHT_TORSION;
use curve25519_dalek::edwards::CompressedEdwardsY;
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::IsIdentity;

/// ℓ = 2^252 + 27742317777372353535851937790883648493, the order of the prime-order subgroup.
const ELL_LOW: u128 = 27_742_317_777_372_353_535_851_937_790_883_648_493;

/// ℓ as 32 little-endian bytes.
fn ell_le() -> [u8; 32] {
    let mut out = [0u8; 32];
    out[..16].copy_from_slice(&ELL_LOW.to_le_bytes());
    out[31] = 0x10; // 2^252 = 2^(8·31 + 4)
    out
}

/// `a + b` over 256-bit little-endian integers; panics on overflow past 2^256.
fn add_le(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = u16::from(a[i]) + u16::from(b[i]) + carry;
        out[i] = (sum & 0xff) as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0, "256-bit overflow");
    out
}

/// The 8 canonical encodings of the 8-torsion points, then the 6 non-canonical encodings of
/// small-order points.
fn small_order_encodings() -> Vec<[u8; 32]> {
    let mut encodings: Vec<[u8; 32]> = EIGHT_TORSION
        .iter()
        .map(|p| p.compress().to_bytes())
        .collect();

    let mut p = [0xffu8; 32];
    p[0] = 0xed;
    p[31] = 0x7f;
    // y = p (≡ 0), sign bit clear and set.
    encodings.push(p);
    let mut p_sign = p;
    p_sign[31] = 0xff;
    encodings.push(p_sign);
    // y = p + 1 (≡ 1), sign bit clear and set.
    let mut p1 = p;
    p1[0] = 0xee;
    encodings.push(p1);
    let mut p1_sign = p1;
    p1_sign[31] = 0xff;
    encodings.push(p1_sign);
    // y = 1 with the sign bit set (x = 0, so the sign bit is non-canonical).
    let mut one_sign = [0u8; 32];
    one_sign[0] = 0x01;
    one_sign[31] = 0x80;
    encodings.push(one_sign);
    // y = p − 1 (≡ −1) with the sign bit set (x = 0 again).
    let mut pm1_sign = [0xffu8; 32];
    pm1_sign[0] = 0xec;
    encodings.push(pm1_sign);

    encodings
}

/// One signed statement: who, what, the signature.
type Case = (AccountId, Vec<u8>, Signature);

/// The cases as batch items.
fn sig_items(cases: &[Case]) -> Vec<SigItem<'_>> {
    cases
        .iter()
        .map(|(signer, message, signature)| SigItem {
            signer,
            message,
            signature,
        })
        .collect()
}

/// One batch equation over all `cases`, as `verify_many` runs it first (no bisection). Our own
/// equation with remembered keys (`batch_equation_holds_with`, used at admission) must give the
/// same answer, with the keys cold and warm.
fn one_batch_equation(cases: &[Case]) -> bool {
    let items = sig_items(cases);
    let zebra = crypto::batch_equation_holds(&items);
    let keys = crypto::KeyCache::new(1024);
    assert_eq!(
        crypto::batch_equation_holds_with(&items, &keys),
        zebra,
        "cold keys"
    );
    assert_eq!(
        crypto::batch_equation_holds_with(&items, &keys),
        zebra,
        "warm keys"
    );
    zebra
}

/// `verify_many`'s verdicts, checked equal to `verify_many_with`'s (cold and warm keys).
fn verdicts(cases: &[Case]) -> Vec<bool> {
    let items = sig_items(cases);
    let plain = crypto::verify_many(&items);
    let keys = crypto::KeyCache::new(1024);
    assert_eq!(crypto::verify_many_with(&items, &keys), plain, "cold keys");
    assert_eq!(crypto::verify_many_with(&items, &keys), plain, "warm keys");
    plain
}

fn key(i: u8) -> SecretKey {
    SecretKey::from_seed(*blake3::hash(&[b'k', i]).as_bytes())
}

/// A batch of honest signatures over distinct messages (several signers, one signing twice).
fn honest_cases() -> Vec<Case> {
    (0..6u8)
        .map(|i| {
            let k = key(i % 5);
            let message = format!("honest message {i}").into_bytes();
            let sig = k.sign(&message);
            (k.account(), message, sig)
        })
        .collect()
}

#[test]
fn the_fourteen_encodings_are_small_order_and_eight_are_canonical() {
    let encodings = small_order_encodings();
    assert_eq!(encodings.len(), 14);
    for (i, a) in encodings.iter().enumerate() {
        for b in &encodings[i + 1..] {
            assert_ne!(a, b, "the encodings are distinct");
        }
    }
    let canonical = &encodings[..8];
    for (i, e) in encodings.iter().enumerate() {
        let point = CompressedEdwardsY(*e)
            .decompress()
            .unwrap_or_else(|| panic!("encoding {i} ({}) decompresses", hex::encode(e)));
        assert!(point.is_small_order(), "encoding {i} is small order");
        assert!(point.mul_by_cofactor().is_identity());
        let again = point.compress().to_bytes();
        if i < 8 {
            assert_eq!(&again, e, "encoding {i} is canonical");
        } else {
            assert_ne!(&again, e, "encoding {i} is non-canonical");
            assert!(
                canonical.contains(&again),
                "encoding {i} re-encodes to one of the 8 canonical torsion encodings"
            );
        }
    }
}

#[test]
fn all_196_small_order_pairs_with_zero_s_verify_single_and_batch() {
    let encodings = small_order_encodings();
    let message = b"Zcash".to_vec();
    let mut cases: Vec<Case> = Vec::new();
    for a in &encodings {
        for r in &encodings {
            let mut sig = [0u8; 64];
            sig[..32].copy_from_slice(r);
            // s = 0: sig[32..] stays zero.
            cases.push((AccountId(*a), message.clone(), Signature(sig)));
        }
    }
    assert_eq!(cases.len(), 196);

    for (i, (signer, message, signature)) in cases.iter().enumerate() {
        assert_eq!(
            crypto::verify(signer, message, signature),
            Ok(()),
            "case {i}: A = {}, R = {}",
            hex::encode(signer.0),
            hex::encode(&signature.0[..32])
        );
    }
    assert!(verdicts(&cases).iter().all(|v| *v), "verify_many accepts");
    assert!(
        one_batch_equation(&cases),
        "one batch equation accepts all 196"
    );

    // Mixed with honest signatures, and with a 32-byte message like a tx hash.
    let tx_like = blake3::hash(b"a transaction").as_bytes().to_vec();
    let mut mixed = honest_cases();
    for (a, r) in [(0, 13), (9, 2), (13, 13), (5, 10), (11, 8)] {
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&encodings[r]);
        mixed.push((AccountId(encodings[a]), tx_like.clone(), Signature(sig)));
    }
    for (signer, message, signature) in &mixed {
        assert_eq!(crypto::verify(signer, message, signature), Ok(()));
    }
    assert!(verdicts(&mixed).iter().all(|v| *v));
    assert!(one_batch_equation(&mixed));
}

#[test]
fn ell_is_the_group_order() {
    let ell = ell_le();
    assert_eq!(Scalar::from_bytes_mod_order(ell), Scalar::ZERO);
    assert!(bool::from(Scalar::from_canonical_bytes(ell).is_none()));
    let mut ell_minus_one = ell;
    ell_minus_one[0] -= 1;
    assert!(bool::from(
        Scalar::from_canonical_bytes(ell_minus_one).is_some()
    ));
}

/// Puts `bad` in the middle of a batch of honest signatures and checks that the single path
/// rejects it, that `verify_many` rejects exactly it (which it could not if its first,
/// whole-set batch equation had accepted), and that one batch equation over the set rejects.
fn assert_rejected_everywhere(bad: Case, why: &str) {
    assert_eq!(
        crypto::verify(&bad.0, &bad.1, &bad.2),
        Err(SignatureError::Invalid),
        "{why}: single"
    );
    let mut cases = honest_cases();
    let at = cases.len() / 2;
    cases.insert(at, bad);
    let v = verdicts(&cases);
    for (i, ok) in v.iter().enumerate() {
        assert_eq!(*ok, i != at, "{why}: verify_many verdict {i}");
    }
    assert!(!one_batch_equation(&cases), "{why}: batch equation");
    // And alone in a batch of two (the smallest batch verify_many builds).
    let pair = vec![honest_cases().remove(0), cases.remove(at)];
    assert_eq!(verdicts(&pair), vec![true, false], "{why}: pair");
}

#[test]
fn s_plus_ell_is_rejected_by_single_and_batch() {
    let k = key(42);
    let message = b"pay 5 to carol".to_vec();
    let sig = k.sign(&message);
    assert_eq!(crypto::verify(&k.account(), &message, &sig), Ok(()));

    let s: [u8; 32] = sig.0[32..].try_into().unwrap();
    let s_plus_ell = add_le(&s, &ell_le());
    // Same scalar mod ℓ, so only the canonicity rule can reject it.
    assert_eq!(
        Scalar::from_bytes_mod_order(s_plus_ell),
        Scalar::from_bytes_mod_order(s)
    );
    let mut malleated = sig;
    malleated.0[32..].copy_from_slice(&s_plus_ell);
    assert_ne!(malleated, sig);
    assert_rejected_everywhere((k.account(), message, malleated), "s + ℓ");
}

#[test]
fn s_with_the_top_bits_set_is_rejected() {
    let k = key(43);
    let message = b"top bits".to_vec();
    let mut sig = k.sign(&message);
    sig.0[63] |= 0xf0;
    assert_rejected_everywhere((k.account(), message, sig), "s[31] |= 0xf0");
}

#[test]
fn a_signature_by_another_key_is_rejected() {
    let message = b"who signed this?".to_vec();
    let sig = key(1).sign(&message);
    assert_rejected_everywhere((key(2).account(), message, sig), "another key");
}

#[test]
fn a_signature_over_another_message_is_rejected() {
    let k = key(3);
    let sig = k.sign(b"the original");
    assert_rejected_everywhere((k.account(), b"the forgery".to_vec(), sig), "other message");
}

#[test]
fn a_key_that_is_not_a_point_is_refused() {
    // Find y (small, canonical, sign bit clear) for which no x exists.
    let not_a_point = (2u8..=255)
        .map(|y| {
            let mut e = [0u8; 32];
            e[0] = y;
            e
        })
        .find(|e| CompressedEdwardsY(*e).decompress().is_none())
        .expect("some small y is not on the curve");
    let signer = AccountId(not_a_point);
    let message = b"m".to_vec();
    let sig = key(4).sign(&message);
    assert_eq!(
        crypto::verify(&signer, &message, &sig),
        Err(SignatureError::BadKey)
    );
    let mut cases = honest_cases();
    cases.push((signer, message, sig));
    let v = verdicts(&cases);
    assert_eq!(v.iter().filter(|ok| **ok).count(), cases.len() - 1);
    assert!(!v[cases.len() - 1]);
    assert!(!one_batch_equation(&cases));
}

#[test]
fn rfc8032_test_1_verifies_and_is_reproduced() {
    let secret: [u8; 32] =
        hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
            .unwrap()
            .try_into()
            .unwrap();
    let public: [u8; 32] =
        hex::decode("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
            .unwrap()
            .try_into()
            .unwrap();
    let signature: [u8; 64] = hex::decode(
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    )
    .unwrap()
    .try_into()
    .unwrap();
    let signer = AccountId(public);
    let signature = Signature(signature);
    let message: &[u8] = b"";

    assert_eq!(crypto::verify(&signer, message, &signature), Ok(()));
    let key = SecretKey::from_seed(secret);
    assert_eq!(key.account(), signer);
    assert_eq!(key.seed(), secret);
    assert_eq!(key.sign(message), signature);

    let mut cases = honest_cases();
    cases.push((signer, message.to_vec(), signature));
    assert!(verdicts(&cases).iter().all(|v| *v));
    assert!(one_batch_equation(&cases));
}

#[test]
fn is_small_order_knows_exactly_the_fourteen_encodings() {
    let computed: std::collections::BTreeSet<[u8; 32]> =
        small_order_encodings().into_iter().collect();
    assert_eq!(computed.len(), 14);
    for enc in &computed {
        assert!(
            cadenza_types::crypto::is_small_order(&AccountId(*enc)),
            "{enc:02x?}"
        );
    }
    for seed in 0..64u8 {
        let key = SecretKey::from_seed([seed; 32]).account();
        assert!(!cadenza_types::crypto::is_small_order(&key));
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    /// Random batches from a few signers (so one signer's terms are added together), some
    /// signatures spoiled: the remembered-keys path gives exactly the single verdicts, as
    /// `verify_many` does, whatever the cache held before.
    #[test]
    fn remembered_keys_give_the_single_verdicts(
        entries in proptest::collection::vec((0u8..6, proptest::prelude::any::<u16>(), 0u8..4, 0usize..64), 1..24),
        capacity in 1usize..8,
    ) {
        let keys = crypto::KeyCache::new(capacity);
        let cases: Vec<Case> = entries
            .iter()
            .map(|&(signer, message, spoil, at)| {
                let message = message.to_le_bytes().to_vec();
                let mut signature = key(signer).sign(&message);
                let mut account = key(signer).account();
                match spoil {
                    1 => signature.0[at] ^= 1,
                    2 => account = key(signer.wrapping_add(1) % 6).account(),
                    _ => {}
                }
                (account, message, signature)
            })
            .collect();
        let single: Vec<bool> = cases
            .iter()
            .map(|(a, m, s)| crypto::verify(a, m, s).is_ok())
            .collect();
        let items = sig_items(&cases);
        proptest::prop_assert_eq!(&crypto::verify_many(&items), &single);
        proptest::prop_assert_eq!(&crypto::verify_many_with(&items, &keys), &single);
        proptest::prop_assert_eq!(&crypto::verify_many_with(&items, &keys), &single);
        proptest::prop_assert!(keys.len() <= capacity);
        proptest::prop_assert_eq!(
            crypto::batch_equation_holds_with(&items, &keys),
            single.iter().all(|v| *v)
        );
    }
}
