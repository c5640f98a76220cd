//! Checking a claim against the ledger's record of its track: every field that can disagree is
//! reported as the check that failed, and an agreeing record is valid.

use cadenza_content::{EssenceId, LedgerTrack, LedgerVerdict, LicenceClaim, verify_against_track};
use cadenza_types::{AssetId, ChainId, Hash, Licence, SecretKey, TrackId};

fn licence(amount: u128) -> Licence {
    cadenza_ledger::testkit::stream_licence(AssetId::genesis("cUSD"), amount, 30_000)
}

#[test]
fn each_disagreement_is_named() {
    let artist = SecretKey::from_seed([1; 32]).account();
    let label = SecretKey::from_seed([2; 32]).account();
    let chain = ChainId::new("cadenza-devnet").unwrap();
    let other_chain = ChainId::new("cadenza-testnet").unwrap();
    let essence = Hash([9; 32]);
    let track_id = TrackId::from_essence(&essence);
    let claim = LicenceClaim::new(
        artist,
        EssenceId {
            version: 1,
            hash: essence,
        },
        licence(1_000),
        Some("GBAYE2600001".into()),
        chain.clone(),
    );
    let registered = licence(1_000);
    let updated = licence(2_000);
    let record = LedgerTrack {
        chain_id: &chain,
        track_id,
        essence_id: essence,
        controller: artist,
        licence: &registered,
        isrc: Some("GBAYE2600001"),
        issuer_shares: 0,
    };
    assert_eq!(verify_against_track(&claim, &record), LedgerVerdict::Valid);

    let other_essence = Hash([8; 32]);
    let cases: Vec<(LedgerTrack<'_>, LedgerVerdict)> = vec![
        (
            LedgerTrack {
                chain_id: &other_chain,
                ..record
            },
            LedgerVerdict::WrongChain,
        ),
        (
            LedgerTrack {
                track_id: TrackId::from_essence(&other_essence),
                ..record
            },
            LedgerVerdict::WrongTrack,
        ),
        (
            LedgerTrack {
                essence_id: other_essence,
                ..record
            },
            LedgerVerdict::EssenceMismatch,
        ),
        (
            LedgerTrack {
                licence: &updated,
                ..record
            },
            LedgerVerdict::LicenceDiffers,
        ),
        (
            LedgerTrack {
                isrc: None,
                ..record
            },
            LedgerVerdict::IsrcDiffers,
        ),
        (
            LedgerTrack {
                controller: label,
                ..record
            },
            LedgerVerdict::IssuerNotAHolder,
        ),
        // A holder who is not the controller may issue the claim.
        (
            LedgerTrack {
                controller: label,
                issuer_shares: 1,
                ..record
            },
            LedgerVerdict::Valid,
        ),
    ];
    for (track, expected) in cases {
        assert_eq!(verify_against_track(&claim, &track), expected, "{track:?}");
    }
}
