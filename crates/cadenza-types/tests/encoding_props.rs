//! Properties of the canonical encoding (`docs/encoding.md`):
//!
//! - round trip: `from_bytes(to_bytes(x)) == x` for every valid value of every signed type;
//! - canonical: for any bytes `b`, `from_bytes(b)` never panics, and when it succeeds
//!   `to_bytes(from_bytes(b)) == b` — checked on random bytes and on mutations (bit flips, byte
//!   changes, insertions, deletions, truncations, overwritten length fields) of valid encodings;
//! - bounds: each length-bounded field decodes at its bound and is refused one past it.
//!
//! Case counts are sized for a 2-core machine in a debug build; raise them with the
//! `PROPTEST_CASES` environment variable for a longer run.

use cadenza_types::encoding::Writer;
use cadenza_types::licence::{LICENCE_URL_MAX_LEN, Price, TERRITORIES_MAX, Territory, Uses};
use cadenza_types::tx::{HOLDERS_MAX, ISRC_MAX_LEN, SYMBOL_MAX_LEN, TEXT_MAX_LEN};
use cadenza_types::{
    AccountId, Action, Amount, AssetId, ChainId, ChannelId, ChannelUpdate, Decode, DecodeError,
    Encode, Hash, Holder, Licence, Receipt, Signature, SignedTransaction, SignedVoucher, TrackId,
    TrackMetadata, Transaction, Voucher,
};
use proptest::collection::vec;
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// Strategies. Every field is covered; sizes are bounded to keep cases fast, with the extremes
// (empty, the field's maximum) reachable.
// ---------------------------------------------------------------------------------------------

fn arb_hash() -> impl Strategy<Value = Hash> {
    prop_oneof![
        1 => Just(Hash::ZERO),
        1 => Just(Hash([0xff; 32])),
        8 => any::<[u8; 32]>().prop_map(Hash),
    ]
}

fn arb_account() -> impl Strategy<Value = AccountId> {
    arb_hash().prop_map(|h| AccountId(h.0))
}

fn arb_asset() -> impl Strategy<Value = AssetId> {
    arb_hash().prop_map(AssetId)
}

fn arb_track() -> impl Strategy<Value = TrackId> {
    arb_hash().prop_map(TrackId)
}

fn arb_channel() -> impl Strategy<Value = ChannelId> {
    arb_hash().prop_map(ChannelId)
}

fn arb_u64() -> impl Strategy<Value = u64> {
    prop_oneof![
        1 => Just(0u64),
        1 => Just(u64::MAX),
        3 => 0..100_000u64,
        5 => any::<u64>(),
    ]
}

fn arb_amount() -> impl Strategy<Value = Amount> {
    prop_oneof![
        1 => Just(0u128),
        1 => Just(u128::MAX),
        3 => 0..1_000_000u128,
        5 => any::<u128>(),
    ]
    .prop_map(Amount::new)
}

fn arb_signature() -> impl Strategy<Value = Signature> {
    proptest::array::uniform::<_, 64>(any::<u8>()).prop_map(Signature)
}

fn arb_chain_id() -> impl Strategy<Value = ChainId> {
    "[a-z0-9-]{1,32}".prop_map(|s| ChainId::new(&s).expect("the regex only makes valid ids"))
}

/// Any UTF-8 string (all of Unicode, control characters included) of at most `max` bytes.
fn arb_text(max: usize) -> impl Strategy<Value = String> {
    let chars = vec(any::<char>(), 0..=max);
    let ascii_full = Just("x".repeat(max));
    prop_oneof![
        9 => chars.prop_map(move |cs| {
            let mut s = String::new();
            for c in cs {
                if s.len() + c.len_utf8() > max {
                    break;
                }
                s.push(c);
            }
            s
        }),
        1 => ascii_full,
    ]
}

fn arb_territory() -> impl Strategy<Value = Territory> {
    "[A-Z]{2}".prop_map(|s| Territory::new(&s).expect("two upper-case letters"))
}

fn arb_licence() -> impl Strategy<Value = Licence> {
    (
        arb_asset(),
        arb_amount(),
        0u8..16,
        prop_oneof![9 => vec(arb_territory(), 0..6), 1 => vec(arb_territory(), TERRITORIES_MAX)],
        arb_u64(),
        proptest::option::of(arb_u64()),
        prop_oneof![4 => arb_text(64), 1 => arb_text(LICENCE_URL_MAX_LEN)],
        any::<u32>(),
    )
        .prop_map(
            |(
                asset,
                amount,
                uses,
                territories,
                valid_from_ms,
                valid_until_ms,
                url,
                min_play_ms,
            )| {
                Licence {
                    price: Price { asset, amount },
                    uses: Uses::from_bits(uses).expect("4 known bits"),
                    territories,
                    valid_from_ms,
                    valid_until_ms,
                    url,
                    min_play_ms,
                }
            },
        )
}

fn arb_receipt() -> impl Strategy<Value = Receipt> {
    (arb_track(), arb_amount(), arb_u64(), arb_u64()).prop_map(
        |(track, amount, played_ms, at_ms)| Receipt {
            track,
            amount,
            played_ms,
            at_ms,
        },
    )
}

fn arb_voucher() -> impl Strategy<Value = Voucher> {
    (
        arb_chain_id(),
        arb_channel(),
        arb_u64(),
        arb_amount(),
        arb_hash(),
    )
        .prop_map(|(chain_id, channel, seq, cumulative, head)| Voucher {
            chain_id,
            channel,
            seq,
            cumulative,
            head,
        })
}

fn arb_signed_voucher() -> impl Strategy<Value = SignedVoucher> {
    (arb_voucher(), arb_signature())
        .prop_map(|(voucher, signature)| SignedVoucher { voucher, signature })
}

fn arb_holders() -> impl Strategy<Value = Vec<Holder>> {
    let holder =
        || (arb_account(), any::<u32>()).prop_map(|(account, shares)| Holder { account, shares });
    prop_oneof![
        9 => vec(holder(), 0..5),
        1 => vec(holder(), HOLDERS_MAX),
    ]
}

fn arb_action() -> impl Strategy<Value = Action> {
    prop_oneof![
        (arb_account(), arb_asset(), arb_amount())
            .prop_map(|(to, asset, amount)| Action::Transfer { to, asset, amount }),
        (arb_text(SYMBOL_MAX_LEN), any::<u8>())
            .prop_map(|(symbol, decimals)| Action::CreateAsset { symbol, decimals }),
        (arb_asset(), arb_account(), arb_amount()).prop_map(|(asset, to, amount)| Action::Mint {
            asset,
            to,
            amount
        }),
        (arb_asset(), arb_amount()).prop_map(|(asset, amount)| Action::Burn { asset, amount }),
        Just(Action::Faucet),
        (
            arb_hash(),
            arb_hash(),
            prop_oneof![3 => arb_text(40), 1 => arb_text(TEXT_MAX_LEN)],
            prop_oneof![3 => arb_text(40), 1 => arb_text(TEXT_MAX_LEN)],
            proptest::option::of(arb_text(ISRC_MAX_LEN)),
            arb_licence(),
            arb_holders(),
        )
            .prop_map(
                |(essence_id, blob_id, title, artist, isrc, licence, holders)| {
                    Action::RegisterTrack {
                        essence_id,
                        blob_id,
                        metadata: TrackMetadata {
                            title,
                            artist,
                            isrc,
                        },
                        licence,
                        holders,
                    }
                }
            ),
        (arb_track(), arb_licence())
            .prop_map(|(track, licence)| Action::UpdateLicence { track, licence }),
        (arb_account(), arb_asset(), arb_amount(), arb_u64()).prop_map(
            |(provider, asset, deposit, expiry_ms)| Action::OpenChannel {
                provider,
                asset,
                deposit,
                expiry_ms,
            }
        ),
        (arb_channel(), arb_amount())
            .prop_map(|(channel, amount)| Action::TopUp { channel, amount }),
        arb_channel().prop_map(|channel| Action::CloseChannel { channel }),
        arb_channel().prop_map(|channel| Action::Withdraw { channel }),
        vec(
            (arb_signed_voucher(), vec(arb_receipt(), 0..4))
                .prop_map(|(voucher, receipts)| ChannelUpdate { voucher, receipts }),
            0..4,
        )
        .prop_map(|updates| Action::SettleChannels { updates }),
        (arb_track(), arb_asset()).prop_map(|(track, asset)| Action::Claim { track, asset }),
    ]
}

fn arb_tx() -> impl Strategy<Value = Transaction> {
    (
        arb_chain_id(),
        arb_account(),
        arb_u64(),
        arb_amount(),
        arb_action(),
    )
        .prop_map(|(chain_id, signer, nonce, fee, action)| Transaction {
            chain_id,
            signer,
            nonce,
            fee,
            action,
        })
}

fn arb_signed_tx() -> impl Strategy<Value = SignedTransaction> {
    (arb_tx(), arb_signature()).prop_map(|(tx, signature)| SignedTransaction { tx, signature })
}

// ---------------------------------------------------------------------------------------------
// Mutations of valid encodings.
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Mutation {
    FlipBit {
        at: usize,
        bit: u8,
    },
    SetByte {
        at: usize,
        value: u8,
    },
    Insert {
        at: usize,
        value: u8,
    },
    Delete {
        at: usize,
    },
    Truncate {
        at: usize,
    },
    /// Overwrite four bytes with a little-endian u32: hits length and count fields.
    SetU32 {
        at: usize,
        value: u32,
    },
    Append {
        bytes: Vec<u8>,
    },
}

fn arb_mutation() -> impl Strategy<Value = Mutation> {
    // Positions are taken modulo the encoding's length when applied.
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::FlipBit { at, bit }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, value)| Mutation::SetByte { at, value }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, value)| Mutation::Insert { at, value }),
        any::<usize>().prop_map(|at| Mutation::Delete { at }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        (
            any::<usize>(),
            prop_oneof![Just(0u32), Just(1), Just(u32::MAX), 0u32..300, any::<u32>()]
        )
            .prop_map(|(at, value)| Mutation::SetU32 { at, value }),
        vec(any::<u8>(), 1..4).prop_map(|bytes| Mutation::Append { bytes }),
    ]
}

fn mutate(bytes: &[u8], m: &Mutation) -> Vec<u8> {
    let mut b = bytes.to_vec();
    let n = b.len();
    match *m {
        Mutation::FlipBit { at, bit } if n > 0 => b[at % n] ^= 1 << bit,
        Mutation::SetByte { at, value } if n > 0 => b[at % n] = value,
        Mutation::Insert { at, value } => b.insert(at % (n + 1), value),
        Mutation::Delete { at } if n > 0 => {
            b.remove(at % n);
        }
        Mutation::Truncate { at } => b.truncate(at % (n + 1)),
        Mutation::SetU32 { at, value } if n >= 4 => {
            let at = at % (n - 3);
            b[at..at + 4].copy_from_slice(&value.to_le_bytes());
        }
        Mutation::Append { ref bytes } => b.extend_from_slice(bytes),
        _ => {}
    }
    b
}

/// Decoding never panics (a panic fails the property) and, when it succeeds, is canonical.
fn assert_canonical<T: Encode + Decode + std::fmt::Debug>(
    bytes: &[u8],
) -> Result<(), TestCaseError> {
    if let Ok(value) = T::from_bytes(bytes) {
        prop_assert_eq!(
            hex::encode(value.to_bytes()),
            hex::encode(bytes),
            "decoded {:?} but re-encoded differently",
            value
        );
    }
    Ok(())
}

/// Every type, on the same bytes.
fn assert_canonical_all(bytes: &[u8]) -> Result<(), TestCaseError> {
    assert_canonical::<Transaction>(bytes)?;
    assert_canonical::<SignedTransaction>(bytes)?;
    assert_canonical::<Action>(bytes)?;
    assert_canonical::<Voucher>(bytes)?;
    assert_canonical::<SignedVoucher>(bytes)?;
    assert_canonical::<Receipt>(bytes)?;
    assert_canonical::<Licence>(bytes)?;
    assert_canonical::<ChainId>(bytes)?;
    Ok(())
}

fn round_trip<T: Encode + Decode + PartialEq + std::fmt::Debug>(
    x: &T,
) -> Result<(), TestCaseError> {
    let bytes = x.to_bytes();
    prop_assert_eq!(&T::from_bytes(&bytes).expect("valid values decode"), x);
    // A strict prefix never decodes to a value of the same type, and a suffix is refused.
    if !bytes.is_empty() {
        prop_assert!(T::from_bytes(&bytes[..bytes.len() - 1]).is_err());
    }
    let mut longer = bytes.clone();
    longer.push(0);
    prop_assert_eq!(T::from_bytes(&longer), Err(DecodeError::TrailingBytes(1)));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Properties.
// ---------------------------------------------------------------------------------------------

/// `default` cases, or the number in `PROPTEST_CASES` (an explicit `with_cases` would otherwise
/// ignore that variable).
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(1024)))]

    #[test]
    fn transactions_round_trip(tx in arb_tx()) {
        round_trip(&tx)?;
        round_trip(&tx.action)?;
        // The signed form is the unsigned encoding followed by 64 signature bytes.
        let stx = SignedTransaction { tx: tx.clone(), signature: Signature([7; 64]) };
        let bytes = stx.to_bytes();
        let unsigned = tx.to_bytes();
        prop_assert_eq!(&bytes[..bytes.len() - 64], unsigned.as_slice());
        prop_assert_eq!(stx.hash(), tx.hash());
    }

    #[test]
    fn signed_transactions_round_trip(stx in arb_signed_tx()) {
        round_trip(&stx)?;
    }

    #[test]
    fn vouchers_round_trip(v in arb_voucher()) {
        round_trip(&v)?;
    }

    #[test]
    fn signed_vouchers_round_trip(sv in arb_signed_voucher()) {
        round_trip(&sv)?;
    }

    #[test]
    fn receipts_round_trip(r in arb_receipt()) {
        round_trip(&r)?;
        prop_assert_eq!(r.to_bytes().len(), 64);
        prop_assert_eq!(r.to_bytes(), r.to_array().to_vec());
    }

    #[test]
    fn licences_round_trip(l in arb_licence()) {
        round_trip(&l)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(2000)))]

    #[test]
    fn random_bytes_never_panic_and_decode_canonically(bytes in vec(any::<u8>(), 0..400)) {
        assert_canonical_all(&bytes)?;
    }

    #[test]
    fn mutated_transactions_never_panic_and_decode_canonically(
        stx in arb_signed_tx(),
        mutations in vec(arb_mutation(), 1..4),
    ) {
        let mut bytes = stx.to_bytes();
        for m in &mutations {
            bytes = mutate(&bytes, m);
        }
        assert_canonical::<SignedTransaction>(&bytes)?;
        assert_canonical::<Transaction>(&bytes)?;
        // Without the signature too, so mutations land in the last field of a Transaction.
        let mut bytes = stx.tx.to_bytes();
        for m in &mutations {
            bytes = mutate(&bytes, m);
        }
        assert_canonical::<Transaction>(&bytes)?;
        assert_canonical::<Action>(&bytes)?;
    }

    #[test]
    fn mutated_vouchers_receipts_and_licences_never_panic_and_decode_canonically(
        sv in arb_signed_voucher(),
        r in arb_receipt(),
        l in arb_licence(),
        mutations in vec(arb_mutation(), 1..4),
    ) {
        let mut sv_bytes = sv.to_bytes();
        let mut v_bytes = sv.voucher.to_bytes();
        let mut r_bytes = r.to_bytes();
        let mut l_bytes = l.to_bytes();
        for m in &mutations {
            sv_bytes = mutate(&sv_bytes, m);
            v_bytes = mutate(&v_bytes, m);
            r_bytes = mutate(&r_bytes, m);
            l_bytes = mutate(&l_bytes, m);
        }
        assert_canonical::<SignedVoucher>(&sv_bytes)?;
        assert_canonical::<Voucher>(&v_bytes)?;
        assert_canonical::<Receipt>(&r_bytes)?;
        assert_canonical::<Licence>(&l_bytes)?;
    }
}

// ---------------------------------------------------------------------------------------------
// Bounds: each length-bounded field decodes at its bound and is refused one past it. The encoder
// does not check bounds (see docs/encoding.md), which is what lets these tests build the
// over-long values.
// ---------------------------------------------------------------------------------------------

fn sample_licence() -> Licence {
    Licence {
        price: Price {
            asset: AssetId(Hash([3; 32])),
            amount: Amount::new(2_500),
        },
        uses: Uses::STREAM,
        territories: vec![],
        valid_from_ms: 0,
        valid_until_ms: None,
        url: String::new(),
        min_play_ms: 30_000,
    }
}

fn tx_with(action: Action) -> Transaction {
    Transaction {
        chain_id: ChainId::new("cadenza-devnet").unwrap(),
        signer: AccountId([1; 32]),
        nonce: 0,
        fee: Amount::ZERO,
        action,
    }
}

fn register(title: String, artist: String, isrc: Option<String>, holders: usize) -> Action {
    Action::RegisterTrack {
        essence_id: Hash([4; 32]),
        blob_id: Hash([5; 32]),
        metadata: TrackMetadata {
            title,
            artist,
            isrc,
        },
        licence: sample_licence(),
        holders: vec![
            Holder {
                account: AccountId([6; 32]),
                shares: 1,
            };
            holders
        ],
    }
}

fn assert_bound(what: &str, at_bound: &Transaction, past_bound: &Transaction) {
    assert_eq!(
        Transaction::from_bytes(&at_bound.to_bytes()).as_ref(),
        Ok(at_bound),
        "{what} at its bound"
    );
    let err = Transaction::from_bytes(&past_bound.to_bytes()).unwrap_err();
    assert!(
        matches!(err, DecodeError::TooLong { .. }),
        "{what} past its bound: {err:?}"
    );
}

#[test]
fn length_bounds_are_exact() {
    let s = |n: usize| "a".repeat(n);
    assert_bound(
        "symbol",
        &tx_with(Action::CreateAsset {
            symbol: s(SYMBOL_MAX_LEN),
            decimals: 6,
        }),
        &tx_with(Action::CreateAsset {
            symbol: s(SYMBOL_MAX_LEN + 1),
            decimals: 6,
        }),
    );
    assert_bound(
        "title",
        &tx_with(register(s(TEXT_MAX_LEN), s(0), None, 1)),
        &tx_with(register(s(TEXT_MAX_LEN + 1), s(0), None, 1)),
    );
    assert_bound(
        "artist",
        &tx_with(register(s(0), s(TEXT_MAX_LEN), None, 1)),
        &tx_with(register(s(0), s(TEXT_MAX_LEN + 1), None, 1)),
    );
    assert_bound(
        "isrc",
        &tx_with(register(s(1), s(1), Some(s(ISRC_MAX_LEN)), 1)),
        &tx_with(register(s(1), s(1), Some(s(ISRC_MAX_LEN + 1)), 1)),
    );
    assert_bound(
        "holders",
        &tx_with(register(s(1), s(1), None, HOLDERS_MAX)),
        &tx_with(register(s(1), s(1), None, HOLDERS_MAX + 1)),
    );
    let with_licence = |l: Licence| {
        tx_with(Action::UpdateLicence {
            track: TrackId(Hash([9; 32])),
            licence: l,
        })
    };
    let territories = |n: usize| Licence {
        territories: vec![Territory::new("GB").unwrap(); n],
        ..sample_licence()
    };
    assert_bound(
        "territories",
        &with_licence(territories(TERRITORIES_MAX)),
        &with_licence(territories(TERRITORIES_MAX + 1)),
    );
    let url = |n: usize| Licence {
        url: s(n),
        ..sample_licence()
    };
    assert_bound(
        "licence url",
        &with_licence(url(LICENCE_URL_MAX_LEN)),
        &with_licence(url(LICENCE_URL_MAX_LEN + 1)),
    );

    // Chain ids: 32 characters decode, 33 are refused (by the length bound), as are characters
    // outside a-z, 0-9 and '-', and the empty id.
    let mut bytes = Vec::new();
    bytes.put_bytes("a".repeat(32).as_bytes());
    assert!(ChainId::from_bytes(&bytes).is_ok());
    for bad in [
        "a".repeat(33),
        "Cadenza".to_owned(),
        String::new(),
        "a b".to_owned(),
    ] {
        let mut bytes = Vec::new();
        bytes.put_bytes(bad.as_bytes());
        assert!(ChainId::from_bytes(&bytes).is_err(), "chain id {bad:?}");
    }
}

#[test]
fn counts_beyond_the_input_are_refused_before_allocating() {
    // A settlement claiming 4,096 channel updates (the bound) in a few bytes, and one claiming
    // u32::MAX.
    for count in [4_096u32, u32::MAX] {
        let mut bytes = tx_with(Action::Faucet).to_bytes();
        *bytes.last_mut().unwrap() = 11; // SettleChannels
        bytes.extend_from_slice(&count.to_le_bytes());
        assert!(Transaction::from_bytes(&bytes).is_err());
    }
}

#[test]
fn non_canonical_tags_and_flags_are_refused() {
    let base = tx_with(register(
        "t".into(),
        "a".into(),
        Some("GBAYE2400001".into()),
        1,
    ));
    let bytes = base.to_bytes();
    assert_eq!(Transaction::from_bytes(&bytes).as_ref(), Ok(&base));

    // The action tag: 13 and above do not exist.
    let tag_at = 4 + "cadenza-devnet".len() + 32 + 8 + 16;
    assert_eq!(bytes[tag_at], 5);
    for tag in [13u8, 0x80, 0xff] {
        let mut b = bytes.clone();
        b[tag_at] = tag;
        assert!(matches!(
            Transaction::from_bytes(&b),
            Err(DecodeError::BadTag { what: "action", .. })
        ));
    }

    // The ISRC option byte: only 0 and 1.
    let isrc_at = tag_at + 1 + 32 + 32 + (4 + 1) + (4 + 1);
    assert_eq!(bytes[isrc_at], 1);
    let mut b = bytes.clone();
    b[isrc_at] = 2;
    assert!(matches!(
        Transaction::from_bytes(&b),
        Err(DecodeError::BadTag { what: "isrc", .. })
    ));

    // Licence uses: only the 4 low bits.
    let uses_at = isrc_at + 1 + 4 + 12 + 32 + 16;
    assert_eq!(bytes[uses_at], Uses::STREAM.bits());
    let mut b = bytes.clone();
    b[uses_at] = 0x10;
    assert!(matches!(
        Transaction::from_bytes(&b),
        Err(DecodeError::Invalid {
            what: "licence uses",
            ..
        })
    ));

    // Invalid UTF-8 in the title.
    let title_at = tag_at + 1 + 32 + 32 + 4;
    let mut b = bytes.clone();
    b[title_at] = 0xff;
    assert!(matches!(
        Transaction::from_bytes(&b),
        Err(DecodeError::BadUtf8 { what: "title" })
    ));
}
