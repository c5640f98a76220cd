//! The devnet's demo catalogue: three recordings synthesised at start (no files shipped, nothing
//! downloaded), encoded as FLAC, Ogg Vorbis and WAV, licensed by their artists (a signed claim
//! and the standard tags embedded), stored as blobs and registered on the ledger with uneven
//! splits and prices, so the README's run command plays real, paid audio.
//!
//! The artists' keys derive from well-known seeds ([`demo_artist`]): this is a devnet, and the
//! point is that anyone can sign as a demo artist to see its earnings and claim them.

use std::sync::Arc;
use std::time::Duration;

use cadenza_content::demo::{self, CATALOGUE};
use cadenza_content::{LicenceClaim, LicenceFields};
use cadenza_ledger::query;
use cadenza_types::{
    AccountId, Action, Amount, AssetId, Holder, Licence, Price, SecretKey, TrackId, TrackMetadata,
    Transaction, Uses,
};
use tracing::info;

use crate::app::Shared;
use crate::media::Media;
use crate::validator::Runtime;

/// How many demo artists there are.
pub const DEMO_ARTISTS: usize = 4;

/// Demo artist `i`'s key (0: The Test Tones, 1: Sine Collective, 2: a producer, 3: a session
/// player), from a well-known seed.
pub fn demo_artist(i: usize) -> SecretKey {
    SecretKey::from_seed(demo_artist_seed(i))
}

/// The well-known seed of demo artist `i`'s key.
pub fn demo_artist_seed(i: usize) -> [u8; 32] {
    *blake3::hash(format!("cadenza devnet demo artist {i}").as_bytes()).as_bytes()
}

/// One demo track's terms: who registers it, its format, price (CUSD base units), ISRC and split.
struct Terms {
    controller: usize,
    format: Format,
    price: u128,
    isrc: &'static str,
    split: &'static [(usize, u32)],
}

#[derive(Clone, Copy)]
enum Format {
    Flac,
    Vorbis,
    Wav,
}

const TERMS: [Terms; 3] = [
    Terms {
        controller: 0,
        format: Format::Flac,
        price: 2_000,
        isrc: "QZDZE2600001",
        split: &[(0, 600_000), (2, 250_000), (3, 150_000)],
    },
    Terms {
        controller: 0,
        format: Format::Vorbis,
        price: 1_500,
        isrc: "QZDZE2600002",
        split: &[(0, 700_000), (2, 300_000)],
    },
    Terms {
        controller: 1,
        format: Format::Wav,
        price: 1_000,
        isrc: "QZDZE2600003",
        split: &[(1, 550_000), (0, 450_000)],
    },
];

/// The least play time of the demo licences: the tracks are a few seconds long.
pub const DEMO_MIN_PLAY_MS: u32 = 3_000;

/// Why the catalogue could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    /// Encoding, licensing or storing a recording failed.
    #[error("demo track `{title}`: {reason}")]
    Track {
        /// The title.
        title: &'static str,
        /// What failed.
        reason: String,
    },
    /// The registration was refused or did not commit.
    #[error("registering demo track `{title}`: {reason}")]
    Register {
        /// The title.
        title: &'static str,
        /// What failed.
        reason: String,
    },
}

/// Makes the demo catalogue on a devnet, if its tracks are not registered yet (a restarted
/// devnet keeps them), and makes sure their blobs are stored. Returns the track ids.
pub async fn seed<E: Runtime>(
    shared: &Arc<Shared<E>>,
    media: &Media,
    asset: AssetId,
) -> Result<Vec<TrackId>, CatalogueError> {
    let chain_id = {
        let store = shared.state.read();
        let view = store.view();
        query::meta(&view)
            .expect("a started store has metadata")
            .chain_id
    };
    let mut ids = Vec::new();
    let mut pending = Vec::new();
    for (track, terms) in CATALOGUE.iter().zip(TERMS.iter()) {
        let key = demo_artist(terms.controller);
        let licence = Licence {
            price: Price {
                asset,
                amount: Amount::new(terms.price),
            },
            uses: Uses::STREAM,
            territories: Vec::new(),
            valid_from_ms: 0,
            valid_until_ms: None,
            url: "https://creativecommons.org/licenses/by-nc-nd/4.0/".into(),
            min_play_ms: DEMO_MIN_PLAY_MS,
        };
        let title = track.title;
        let fail = |reason: String| CatalogueError::Track { title, reason };
        let pcm = demo::synthesize(track);
        let audio = match terms.format {
            Format::Flac => demo::encode_flac(&pcm),
            Format::Vorbis => demo::encode_ogg_vorbis(&pcm),
            Format::Wav => demo::encode_wav(&pcm),
        }
        .map_err(|e| fail(e.to_string()))?;
        let analysis = cadenza_content::analyse(&audio).map_err(|e| fail(e.to_string()))?;
        let claim = LicenceClaim::new(
            key.account(),
            analysis.essence_id,
            licence.clone(),
            Some(terms.isrc.to_owned()),
            chain_id.clone(),
        );
        let signed = claim.sign(&key).map_err(|e| fail(e.to_string()))?;
        let fields = LicenceFields {
            copyright: Some(format!("℗ 2026 {}", track.artist)),
            publisher: Some("Cadenza Devnet Records".into()),
            ..LicenceFields::default()
        };
        let file = cadenza_content::embed_licence(&audio, &fields, &signed)
            .map_err(|e| fail(e.to_string()))?;
        let blob_id = media.put(file).await.map_err(|e| fail(e.message.clone()))?;
        let id = claim.ledger.track_id;
        ids.push(id);
        let registered = {
            let store = shared.state.read();
            let view = store.view();
            query::track(&view, &id).is_some()
        };
        if registered {
            continue;
        }
        let action = Action::RegisterTrack {
            essence_id: analysis.essence_id.hash,
            blob_id,
            metadata: TrackMetadata {
                title: title.to_owned(),
                artist: track.artist.to_owned(),
                isrc: Some(terms.isrc.to_owned()),
            },
            licence,
            holders: terms
                .split
                .iter()
                .map(|(i, shares)| Holder {
                    account: demo_artist(*i).account(),
                    shares: *shares,
                })
                .collect(),
        };
        pending.push((title, key, action));
    }
    // Register, one transaction per artist at a time (each waits for the last to commit so
    // nonces follow).
    for (title, key, action) in pending {
        let fail = |reason: String| CatalogueError::Register { title, reason };
        let (nonce, fee) = {
            let store = shared.state.read();
            let view = store.view();
            let params = query::params(&view).expect("parameters");
            (
                query::account(&view, &key.account()).nonce,
                params.min_fee_for(&action),
            )
        };
        let tx = Transaction {
            chain_id: chain_id.clone(),
            signer: key.account(),
            nonce,
            fee,
            action,
        }
        .sign(&key);
        let hash = shared.submit(tx).await.map_err(|e| fail(e.to_string()))?;
        let mut waited = Duration::ZERO;
        loop {
            let record = {
                let store = shared.state.read();
                let view = store.view();
                query::tx(&view, &hash)
            };
            if let Some(record) = record {
                if let Some((code, message)) = record.error {
                    return Err(fail(format!("{code}: {message}")));
                }
                info!(title, height = record.height, "demo track registered");
                break;
            }
            if waited > Duration::from_secs(30) {
                return Err(fail("it did not commit within 30 s".into()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            waited += Duration::from_millis(50);
        }
    }
    Ok(ids)
}

/// The demo artists' accounts, for a devnet genesis to fund with fees.
pub fn demo_accounts() -> Vec<AccountId> {
    (0..DEMO_ARTISTS)
        .map(|i| demo_artist(i).account())
        .collect()
}
