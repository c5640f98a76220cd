//! Golden values: the essence and blob ids of the demo recordings in WAV and FLAC (the same bytes
//! on every machine), and one signed claim byte for byte. A change here is a change of the
//! essence algorithm, of the demo audio or of the claim format: give it a new version, and
//! update `docs/content.md`, rather than editing the values.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cadenza_content::demo::{CATALOGUE, encode_flac, encode_wav, synthesize};
use cadenza_content::{EssenceId, LicenceClaim, SignedClaim, analyse};
use cadenza_types::{
    Amount, AssetId, ChainId, Hash, Licence, Price, SecretKey, Territory, TrackId, Uses,
};

/// (title, WAV essence, WAV blob, FLAC essence, FLAC blob).
const DEMO_IDS: [(&str, &str, &str, &str, &str); 3] = [
    (
        "Cadence in C",
        "5a130abcbc77b648dce094342223b8681d8ca6ce4e27330beef9b8b1c9269795",
        "39bdb3996a81c59cc7f93744b2ca64a12f927174e950e2ebe6107cf150e8ccef",
        "31f3e591fe8e0188cadb4429c0e79cb91bb56c565ccef1998fb6a5ff997aa6fa",
        "28cffbd0c5a7f49f8843a0bb6e286ed4a71ed05b490949dee475ca3bb02bf74d",
    ),
    (
        "Minor Drift",
        "9d7ccb88ad803fbe92a84835f0634350f579c629c197087fe5ffb0aa35dd8724",
        "bcdc2198afe829fd64f08945012c80a71ad469e4cdae61618002edf601ae8c5f",
        "f247c39501b8e49c67caae591520006ee2a0859e6225fd64f9f698ec0d37fd4e",
        "ae876b9a664aae4d61c78f03ffeb21038a729757dd4851f6c6fc29e2ef957003",
    ),
    (
        "Single Line",
        "211c8fe6747edd1b9fddfc3f90625cabc31168077b219db58a7bfc0cbd45ec9e",
        "1ce94c77af405bd19e7eaf3a43852e89b971ad019a3a4e28a786d6a7837269ff",
        "5a39e3fa8c4ce6fae7cb458235cabfe3aa1c9ee5a787ece3ee3b5ccc4830fcbd",
        "ccf8d1f3adbbe5b8fc13b1c95d0b2aa9f7e6a2cf00abcb3b1e99ef551417511b",
    ),
];

#[test]
fn demo_recordings_have_pinned_ids() {
    let got: Vec<(String, String, String, String, String)> = CATALOGUE
        .iter()
        .map(|track| {
            let pcm = synthesize(track);
            let wav = analyse(&encode_wav(&pcm).unwrap()).unwrap();
            let flac = analyse(&encode_flac(&pcm).unwrap()).unwrap();
            assert_eq!((wav.essence_id.version, flac.essence_id.version), (1, 1));
            (
                track.title.to_owned(),
                wav.essence_id.hash.to_hex(),
                wav.blob_id.to_hex(),
                flac.essence_id.hash.to_hex(),
                flac.blob_id.to_hex(),
            )
        })
        .collect();
    let expected: Vec<(String, String, String, String, String)> = DEMO_IDS
        .iter()
        .map(|(a, b, c, d, e)| {
            (
                a.to_string(),
                b.to_string(),
                c.to_string(),
                d.to_string(),
                e.to_string(),
            )
        })
        .collect();
    assert_eq!(got, expected, "the demo ids changed; see the module docs");
}

/// The WAV essence id recomputed from the specification alone (`docs/content.md` §2): keyed
/// BLAKE3 with the key derived from `cadenza/essence/v1`, over `0x02` and the PCM samples.
#[test]
fn the_wav_essence_is_exactly_the_specified_bytes() {
    let pcm = synthesize(&CATALOGUE[0]);
    let key = blake3::derive_key("cadenza/essence/v1", b"");
    let mut message = vec![0x02u8];
    for s in &pcm.samples {
        message.extend_from_slice(&s.to_le_bytes());
    }
    let expected = blake3::keyed_hash(&key, &message);
    let wav = encode_wav(&pcm).unwrap();
    assert_eq!(
        analyse(&wav).unwrap().essence_id.hash.0,
        *expected.as_bytes()
    );
    assert_eq!(
        analyse(&wav).unwrap().blob_id.0,
        *blake3::hash(&wav).as_bytes()
    );
}

/// The claim of `docs/content.md`'s example for the first demo recording in FLAC, signed by the
/// key with seed 0x01…01: its header, its payload, and the compact JWS.
const CLAIM_HEADER: &str = r#"{"alg":"EdDSA","typ":"JWT","kid":"did:key:z6Mkon3Necd6NkkyfoGoHxid2znGc59LU3K7mubaRcFbLfLX"}"#;
const CLAIM_PAYLOAD: &str = r#"{"iss":"did:key:z6Mkon3Necd6NkkyfoGoHxid2znGc59LU3K7mubaRcFbLfLX","essence":{"v":1,"id":"31f3e591fe8e0188cadb4429c0e79cb91bb56c565ccef1998fb6a5ff997aa6fa"},"isrc":"GBAYE2600001","licence":{"price":{"asset":"d155b5adbc37276eec6f335e8028ba33810c64c9f288061cc219951aa4eee8ea","amount":"1000"},"uses":["stream","download"],"territories":["GB","BR"],"valid_from_ms":1767225600000,"valid_until_ms":null,"url":"https://creativecommons.org/licenses/by-nc/4.0/","min_play_ms":30000},"ledger":{"chain":"cadenza-devnet","track":"efd6486749d7182e311205eb350d93fd7f648f8c63068da90d90f6fddd74a5d3"}}"#;
const CLAIM: &str = concat!(
    "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCIsImtpZCI6ImRpZDprZXk6ejZNa29uM05lY2Q2TmtreWZvR29IeGlkMn",
    "puR2M1OUxVM0s3bXViYVJjRmJMZkxYIn0.eyJpc3MiOiJkaWQ6a2V5Ono2TWtvbjNOZWNkNk5ra3lmb0dvSHhpZDJ6",
    "bkdjNTlMVTNLN211YmFSY0ZiTGZMWCIsImVzc2VuY2UiOnsidiI6MSwiaWQiOiIzMWYzZTU5MWZlOGUwMTg4Y2FkYj",
    "Q0MjljMGU3OWNiOTFiYjU2YzU2NWNjZWYxOTk4ZmI2YTVmZjk5N2FhNmZhIn0sImlzcmMiOiJHQkFZRTI2MDAwMDEi",
    "LCJsaWNlbmNlIjp7InByaWNlIjp7ImFzc2V0IjoiZDE1NWI1YWRiYzM3Mjc2ZWVjNmYzMzVlODAyOGJhMzM4MTBjNj",
    "RjOWYyODgwNjFjYzIxOTk1MWFhNGVlZThlYSIsImFtb3VudCI6IjEwMDAifSwidXNlcyI6WyJzdHJlYW0iLCJkb3du",
    "bG9hZCJdLCJ0ZXJyaXRvcmllcyI6WyJHQiIsIkJSIl0sInZhbGlkX2Zyb21fbXMiOjE3NjcyMjU2MDAwMDAsInZhbG",
    "lkX3VudGlsX21zIjpudWxsLCJ1cmwiOiJodHRwczovL2NyZWF0aXZlY29tbW9ucy5vcmcvbGljZW5zZXMvYnktbmMv",
    "NC4wLyIsIm1pbl9wbGF5X21zIjozMDAwMH0sImxlZGdlciI6eyJjaGFpbiI6ImNhZGVuemEtZGV2bmV0IiwidHJhY2",
    "siOiJlZmQ2NDg2NzQ5ZDcxODJlMzExMjA1ZWIzNTBkOTNmZDdmNjQ4ZjhjNjMwNjhkYTkwZDkwZjZmZGRkNzRhNWQz",
    "In19.402_JaaiTFEVoYXMPDzMsy0jBSbWj0plfn0lSHNg7gSVduKOTL6lASpn9NlCZN3zsZK5MWCkqX-AHtzz5DhJB",
    "Q",
);

#[test]
fn a_claim_is_pinned_byte_for_byte() {
    let key = SecretKey::from_seed([1; 32]);
    let essence = Hash::from_hex(DEMO_IDS[0].3).unwrap_or(Hash([0; 32]));
    let claim = LicenceClaim::new(
        key.account(),
        EssenceId {
            version: 1,
            hash: essence,
        },
        Licence {
            price: Price {
                asset: AssetId::genesis("cUSD"),
                amount: Amount::new(1_000),
            },
            uses: Uses::STREAM.with(Uses::DOWNLOAD),
            territories: vec![Territory::new("GB").unwrap(), Territory::new("BR").unwrap()],
            valid_from_ms: 1_767_225_600_000,
            valid_until_ms: None,
            url: "https://creativecommons.org/licenses/by-nc/4.0/".into(),
            min_play_ms: 30_000,
        },
        Some("GBAYE2600001".into()),
        ChainId::new("cadenza-devnet").unwrap(),
    );
    assert_eq!(claim.ledger.track_id, TrackId::from_essence(&essence));
    let signed = claim.sign(&key).unwrap();
    let part = |i: usize| {
        let b64 = signed.as_str().split('.').nth(i).unwrap();
        String::from_utf8(base64::Engine::decode(&URL_SAFE_NO_PAD, b64).unwrap()).unwrap()
    };
    assert_eq!(part(0), CLAIM_HEADER);
    assert_eq!(part(1), CLAIM_PAYLOAD);
    assert_eq!(signed.as_str(), CLAIM);
    assert_eq!(SignedClaim::verify(CLAIM).unwrap().claim(), &claim);
}
