//! Hardware references, measured in the same run as the figure they put in perspective.
//!
//! A figure alone says little: "1.2 M receipts/s" could be fast or slow depending on the machine.
//! Each benchmark therefore also measures what the machine itself can do on the primitive work
//! that bounds the figure, and reports the ratio. The references here are the two primitives of
//! settlement: the BLAKE3 rate on 96-byte messages (one receipt-chain step) and the ed25519 batch
//! verification rate (one voucher or transaction signature).

use std::hint::black_box;
use std::time::{Duration, Instant};

use cadenza_types::crypto::{SigItem, verify_many};
use cadenza_types::hash::{Domain, hash};
use cadenza_types::{AccountId, Hash, SecretKey, Signature};

use crate::rng::SplitMix64;

/// The median of some durations (the mean of the middle two for an even count).
///
/// # Panics
/// If `runs` is empty.
pub fn median(runs: &[Duration]) -> Duration {
    assert!(!runs.is_empty(), "the median of no runs");
    let mut sorted = runs.to_vec();
    sorted.sort();
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2
    }
}

/// Hashes `messages` 96-byte messages in the receipts domain, each message starting with the
/// previous hash (exactly the shape of a receipt-chain step, `H_receipts(prev ‖ receipt)`), split
/// into `threads` independent chains hashed at once on that many threads, and returns the wall
/// time.
pub fn blake3_96b_chain(messages: usize, threads: usize) -> Duration {
    let threads = threads.max(1);
    let part = messages.div_ceil(threads);
    let start = Instant::now();
    if threads == 1 {
        black_box(chain(0, messages));
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| s.spawn(move || chain(t as u8, part)))
                .collect();
            for h in handles {
                black_box(h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
            }
        });
    }
    start.elapsed()
}

/// One chain of `messages` receipt-shaped hashes, seeded by `tag`.
fn chain(tag: u8, messages: usize) -> Hash {
    let mut msg = [0u8; 96];
    for (i, b) in msg.iter_mut().enumerate() {
        *b = (i as u8).wrapping_add(tag);
    }
    let mut head = Hash::ZERO;
    for i in 0..messages as u64 {
        msg[..32].copy_from_slice(head.as_bytes());
        msg[32..40].copy_from_slice(&i.to_le_bytes());
        head = hash(Domain::Receipts, black_box(&msg));
    }
    head
}

/// Distinct (key, message, signature) triples for measuring signature verification. Messages
/// are 32 bytes, like the hashes the ledger's signatures cover.
pub struct SigSet {
    signers: Vec<AccountId>,
    messages: Vec<[u8; 32]>,
    signatures: Vec<Signature>,
}

impl SigSet {
    /// `n` triples, each from its own key, drawn from `rng`.
    pub fn new(n: usize, rng: &mut SplitMix64) -> SigSet {
        let mut set = SigSet {
            signers: Vec::with_capacity(n),
            messages: Vec::with_capacity(n),
            signatures: Vec::with_capacity(n),
        };
        for _ in 0..n {
            let key = SecretKey::from_seed(rng.bytes32());
            let message = rng.bytes32();
            set.signatures.push(key.sign(&message));
            set.signers.push(key.account());
            set.messages.push(message);
        }
        set
    }

    /// The number of triples.
    pub fn len(&self) -> usize {
        self.signers.len()
    }

    /// The triples in the form [`verify_many`] takes.
    pub fn items(&self) -> Vec<SigItem<'_>> {
        (0..self.len())
            .map(|i| SigItem {
                signer: &self.signers[i],
                message: &self.messages[i],
                signature: &self.signatures[i],
            })
            .collect()
    }
}

/// Verifies every signature of `set` with [`verify_many`], split into `threads` contiguous parts
/// verified on that many threads at once, and returns the wall time.
///
/// # Panics
/// If a signature does not verify (the set is built valid, so that is a bug).
pub fn ed25519_batch_verify(set: &SigSet, threads: usize) -> Duration {
    let items = set.items();
    let part = items.len().div_ceil(threads.max(1)).max(1);
    let start = Instant::now();
    let all_ok = if threads <= 1 {
        verify_many(&items).iter().all(|ok| *ok)
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = items
                .chunks(part)
                .map(|chunk| s.spawn(move || verify_many(chunk).iter().all(|ok| *ok)))
                .collect();
            handles
                .into_iter()
                .all(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
        })
    };
    let elapsed = start.elapsed();
    assert!(all_ok, "a reference signature failed to verify");
    elapsed
}

/// `count` items per `elapsed`, per second.
pub fn per_second(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64().max(1e-9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        let ms = Duration::from_millis;
        assert_eq!(median(&[ms(5), ms(1), ms(3)]), ms(3));
        assert_eq!(
            median(&[ms(4), ms(1), ms(3), ms(2)]),
            Duration::from_micros(2_500)
        );
    }

    #[test]
    fn references_run_at_tiny_size() {
        let mut rng = SplitMix64::new(1);
        let set = SigSet::new(6, &mut rng);
        assert_eq!(set.len(), 6);
        ed25519_batch_verify(&set, 1);
        ed25519_batch_verify(&set, 2);
        blake3_96b_chain(100, 1);
        blake3_96b_chain(100, 2);
    }
}
