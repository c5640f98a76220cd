//! Transaction gossip between validators.
//!
//! A transaction a validator admits from its users (the HTTP API, [`Shared::admit`]) is also
//! sent to every other validator on the [`crate::validator::channels::TXS`] channel, which admit
//! it to their own pools with the same checks: chain, length, signature (in one batch per
//! message), nonce and fee against their committed state. Two things follow:
//!
//! - whichever validator leads the next view proposes the transaction, not only the one its
//!   submitter reached (with round-robin leaders that one leads one view in n);
//! - the signature is verified when the transaction arrives, ahead of any block: a validator
//!   verifying a proposal finds it already admitted ([`crate::mempool::Mempool::admitted`]) and
//!   skips it, so signature checks leave the path from proposal to finalization.
//!
//! Gossip is best effort and never needed for safety or liveness: a transaction that does not
//! arrive (the outbox full, a peer offline or over its rate) is still proposed by the validator
//! that admitted it, and a block's signatures not vouched for are verified as before. Nothing
//! is relayed: validators are fully connected, and only first-hand admissions are sent.
//!
//! A peer whose message does not decode (or exceeds [`MAX_GOSSIP_BYTES`] or
//! [`MAX_GOSSIP_TXS`]), or carries a transaction that no honest validator admits whatever its
//! state (another chain, too long, a bad signature), is blocked. A transaction already
//! committed, pending here or carried by a block verified here is dropped unchecked, whatever
//! its signature: it costs nothing, so a forged copy of one blocks no one.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cadenza_types::{Hash, SignedTransaction};
use commonware_codec::{Copying, Write as _};
use commonware_p2p::{Blocker, Receiver, Recipients, Sender};
use commonware_runtime::{Clock, Spawner};
use tracing::{debug, warn};

use crate::app::Shared;
use crate::block::{MAX_BLOCK_TX_BYTES, MAX_BLOCK_TXS, MAX_TX_BYTES, read_txs};
use crate::mempool::MempoolError;

/// The most transactions one gossip message carries.
pub const MAX_GOSSIP_TXS: usize = 1024;

/// The longest gossip message, in bytes, framing included. Far below the network's message
/// limit, which a block's size sets.
pub const MAX_GOSSIP_BYTES: usize = 1 << 20;

/// The most bytes a length prefix takes (a varint of at most 32 bits).
const PREFIX_BYTES: usize = 5;

// Every transaction a block may carry fits in a message alone, and no message is longer or
// carries more than a block, which the network's message limit is sized for.
const _: () = assert!(PREFIX_BYTES + PREFIX_BYTES + MAX_TX_BYTES <= MAX_GOSSIP_BYTES);
const _: () = assert!(MAX_GOSSIP_BYTES <= MAX_BLOCK_TX_BYTES && MAX_GOSSIP_TXS <= MAX_BLOCK_TXS);

/// The most transactions waiting to be gossiped; past it (or past [`OUTBOX_BYTES`]), new
/// admissions are not gossiped (their own validator still proposes them).
pub const OUTBOX_TXS: usize = 65_536;

/// The most bytes of encoded transactions waiting to be gossiped.
pub const OUTBOX_BYTES: usize = 32 << 20;

/// How long the sender waits before each message, letting admissions gather: a trickle of small
/// admissions goes out as a few messages, not one message each, which keeps honest validators
/// far below the channel's rate ([`TXS_RATE`]) while a full message every 2 ms still carries
/// half a million transactions a second.
pub const GATHER: Duration = Duration::from_millis(2);

/// Messages per second a peer may send on the gossip channel: four times what an honest one
/// sends at most (one every [`GATHER`]).
pub const TXS_RATE: u32 = 2_000;

#[derive(Debug, Default)]
struct Queue {
    txs: VecDeque<Vec<u8>>,
    bytes: usize,
}

/// Transactions admitted here and not yet sent to the other validators, encoded.
#[derive(Debug)]
pub struct Outbox {
    enabled: bool,
    queue: Mutex<Queue>,
    wake: tokio::sync::Notify,
}

impl Outbox {
    /// An outbox; a disabled one (a validator alone) keeps nothing.
    pub fn new(enabled: bool) -> Outbox {
        Outbox {
            enabled,
            queue: Mutex::new(Queue::default()),
            wake: tokio::sync::Notify::new(),
        }
    }

    /// Whether admissions are gossiped.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues transactions for the other validators (their canonical encodings), as many as
    /// the outbox has room for.
    pub fn push(&self, encoded: impl IntoIterator<Item = Vec<u8>>) {
        if !self.enabled {
            return;
        }
        let mut queue = self.lock();
        let mut added = false;
        for tx in encoded {
            if queue.txs.len() >= OUTBOX_TXS || queue.bytes + tx.len() > OUTBOX_BYTES {
                break;
            }
            queue.bytes += tx.len();
            queue.txs.push_back(tx);
            added = true;
        }
        drop(queue);
        if added {
            self.wake.notify_one();
        }
    }

    /// The number of transactions waiting.
    pub fn len(&self) -> usize {
        self.lock().txs.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The next message's transactions, encoded: up to [`MAX_GOSSIP_TXS`], and a message of
    /// them at most [`MAX_GOSSIP_BYTES`] long (at least one when any waits).
    fn take(&self) -> Vec<Vec<u8>> {
        let mut queue = self.lock();
        let mut batch = Vec::new();
        let mut bytes = PREFIX_BYTES;
        while batch.len() < MAX_GOSSIP_TXS {
            let Some(tx) = queue.txs.front() else { break };
            if bytes + PREFIX_BYTES + tx.len() > MAX_GOSSIP_BYTES {
                break;
            }
            bytes += PREFIX_BYTES + tx.len();
            let tx = queue.txs.pop_front().expect("a front");
            queue.bytes -= tx.len();
            batch.push(tx);
        }
        batch
    }
}

/// The most transaction hashes [`InBlocks`] remembers.
pub const IN_BLOCKS_REMEMBERED: usize = 65_536;

/// Authentic transactions seen in blocks this validator verified, most recent ones: gossip that
/// arrives after a block already carried a transaction (likely while gossip waits behind a
/// burst) need not have its signature checked a second time; the block's verification did.
/// Only transactions whose signature that verification accepted are noted (see
/// [`InBlocks::note_authentic`]): a forged copy in a block must not silence the real one's gossip.
#[derive(Debug, Default)]
pub struct InBlocks {
    inner: Mutex<(HashSet<Hash>, VecDeque<Hash>)>,
}

impl InBlocks {
    fn lock(&self) -> std::sync::MutexGuard<'_, (HashSet<Hash>, VecDeque<Hash>)> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Remembers `hashes`, forgetting the oldest past [`IN_BLOCKS_REMEMBERED`].
    pub fn note(&self, hashes: impl IntoIterator<Item = Hash>) {
        let mut guard = self.lock();
        let (set, order) = &mut *guard;
        for hash in hashes {
            if set.insert(hash) {
                order.push_back(hash);
            }
            while order.len() > IN_BLOCKS_REMEMBERED {
                if let Some(old) = order.pop_front() {
                    set.remove(&old);
                }
            }
        }
    }

    /// Remembers the transactions of a verified block's `results` whose signature its
    /// execution accepted: those that succeeded or paid a fee. One refused without a fee may be
    /// a forged copy of a transaction pending elsewhere, and is not remembered.
    pub fn note_authentic(&self, results: &[cadenza_ledger::TxOutcome]) {
        self.note(
            results
                .iter()
                .filter(|r| r.result.as_ref().map_or_else(|e| e.charges_fee(), |_| true))
                .map(|r| r.hash),
        );
    }

    /// Whether a verified block carried the authentic transaction with this hash (lately).
    pub fn contains(&self, hash: &Hash) -> bool {
        self.lock().0.contains(hash)
    }
}

/// Encodes a gossip message: the transactions' canonical encodings as a Commonware-codec list.
pub fn encode(txs: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        txs.iter().map(|t| t.len() + PREFIX_BYTES).sum::<usize>() + PREFIX_BYTES,
    );
    txs.write(&mut out);
    out
}

/// Decodes a gossip message: at most [`MAX_GOSSIP_BYTES`] long, one to [`MAX_GOSSIP_TXS`]
/// transactions of at most [`MAX_TX_BYTES`] each, every one canonical, nothing left over.
pub fn decode(message: &[u8]) -> Result<Vec<SignedTransaction>, String> {
    if message.len() > MAX_GOSSIP_BYTES {
        return Err(format!(
            "a gossip message of {} bytes, above the limit of {MAX_GOSSIP_BYTES}",
            message.len()
        ));
    }
    let mut buf = Copying(message);
    let txs = read_txs(
        &mut buf,
        1..=MAX_GOSSIP_TXS,
        MAX_GOSSIP_BYTES,
        "transaction gossip",
    )
    .map_err(|e| e.to_string())?;
    if !buf.0.is_empty() {
        return Err(format!("{} bytes after the transactions", buf.0.len()));
    }
    Ok(txs)
}

/// Starts gossip: a task sending what `shared`'s outbox collects, and a task admitting what
/// peers send (on a dedicated thread where the runtime has one: verifying signatures is CPU work
/// that should not hold up consensus).
pub fn start<E, S, R, B>(
    context: &E,
    shared: Arc<Shared<E>>,
    (sender, receiver): (S, R),
    blocker: B,
) where
    E: crate::validator::Runtime,
    S: Sender,
    R: Receiver<PublicKey = S::PublicKey>,
    B: Blocker<PublicKey = S::PublicKey>,
{
    let outbox = shared.clone();
    context
        .child("gossip_out")
        .spawn(move |clock| send_loop(outbox, clock, sender));
    context
        .child("gossip_in")
        .dedicated()
        .spawn(move |_| receive_loop(shared, receiver, blocker));
}

async fn send_loop<E, C, S>(shared: Arc<Shared<E>>, clock: C, mut sender: S)
where
    E: commonware_storage::Context + Spawner,
    C: Clock,
    S: Sender,
{
    loop {
        shared.gossip.wake.notified().await;
        loop {
            // Lets admissions gather, and the runtime run other tasks between messages.
            clock.sleep(GATHER).await;
            let batch = shared.gossip.take();
            if batch.is_empty() {
                break;
            }
            let message = encode(&batch);
            let to = sender.send(Recipients::All, message, false);
            debug!(txs = batch.len(), peers = to.len(), "gossiped transactions");
        }
    }
}

async fn receive_loop<E, R, B>(shared: Arc<Shared<E>>, mut receiver: R, mut blocker: B)
where
    E: commonware_storage::Context + Spawner,
    R: Receiver,
    B: Blocker<PublicKey = R::PublicKey>,
{
    while let Ok((peer, message)) = receiver.recv().await {
        let txs = match decode(message.as_ref()) {
            Ok(txs) => txs,
            Err(error) => {
                warn!(%peer, %error, "undecodable transaction gossip; blocking the peer");
                blocker.block(peer.clone());
                continue;
            }
        };
        let count = txs.len();
        // What is committed, pending here, or carried by a block verified here costs no
        // signature check.
        let judged: Vec<_> = shared
            .judge(txs)
            .into_iter()
            .filter(|(tx, next_nonce, _)| {
                let hash = tx.hash();
                tx.tx.nonce >= *next_nonce
                    && !shared.mempool.contains(&hash)
                    && !shared.in_blocks.contains(&hash)
            })
            .collect();
        // On the admission threads when the node has them: gossip and clients' submissions
        // then share those few threads rather than adding threads that compete with consensus.
        let outcomes = match &shared.admission {
            Some(pool) => {
                let admitting = shared.clone();
                match pool
                    .run(move || admitting.mempool.submit_many(judged))
                    .await
                {
                    Ok(outcomes) => outcomes,
                    Err(error) => {
                        warn!(%peer, %error, "gossiped transactions were not admitted");
                        continue;
                    }
                }
            }
            None => shared.mempool.submit_many(judged),
        };
        let forged = outcomes.iter().any(|outcome| {
            matches!(
                outcome,
                Err(MempoolError::BadSignature
                    | MempoolError::WrongChain { .. }
                    | MempoolError::TooLarge { .. })
            )
        });
        if forged {
            warn!(%peer, "gossiped a transaction no validator admits; blocking the peer");
            blocker.block(peer.clone());
        }
        let admitted = outcomes.iter().filter(|o| o.is_ok()).count();
        debug!(%peer, txs = count, admitted, "admitted gossiped transactions");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mempool::tests::txs;
    use cadenza_types::Encode as _;

    fn encoded(txs: &[SignedTransaction]) -> Vec<Vec<u8>> {
        txs.iter().map(|tx| tx.to_bytes()).collect()
    }

    #[test]
    fn messages_round_trip_and_are_bounded() {
        let outbox = Outbox::new(true);
        let all = txs(MAX_GOSSIP_TXS as u64 + 5);
        outbox.push(encoded(&all));
        let first = outbox.take();
        assert_eq!(
            first.len(),
            MAX_GOSSIP_TXS,
            "a message carries at most the cap"
        );
        let decoded = decode(&encode(&first)).expect("decodes");
        assert_eq!(decoded, all[..MAX_GOSSIP_TXS].to_vec());
        assert_eq!(outbox.take().len(), 5, "the rest goes next");
        assert!(outbox.take().is_empty());

        let message = encode(&first);
        assert!(decode(&message[..message.len() - 1]).is_err(), "truncated");
        let mut longer = message.clone();
        longer.push(0);
        assert!(decode(&longer).is_err(), "trailing bytes");
        assert!(decode(&encode(&[])).is_err(), "an empty message");

        // One transaction more than the cap, or a message above the byte limit, is refused.
        let mut over = first.clone();
        over.push(over[0].clone());
        assert!(decode(&encode(&over)).is_err(), "above the count cap");
        let huge = vec![0u8; MAX_TX_BYTES];
        let long: Vec<Vec<u8>> =
            std::iter::repeat_n(huge, MAX_GOSSIP_BYTES / MAX_TX_BYTES + 1).collect();
        let error = decode(&encode(&long)).expect_err("above the byte limit");
        assert!(error.contains("above the limit"), "{error}");

        // A flipped signature byte still decodes (verification catches it); a transaction
        // whose bytes are not a canonical transaction does not.
        let mut flipped = encode(&first[..1]);
        let last = flipped.len() - 1;
        flipped[last] ^= 0xff;
        assert!(decode(&flipped).is_ok_and(|t| t.len() == 1 && t[0] != all[0]));
        let mut malformed = first[0].clone();
        malformed.push(0);
        assert!(decode(&encode(&[malformed])).is_err(), "a malformed tx");
    }

    #[test]
    fn take_keeps_each_message_under_the_byte_limit() {
        let outbox = Outbox::new(true);
        // Transactions as long as a block allows: a message holds only a few.
        let long = vec![7u8; MAX_TX_BYTES];
        outbox.push(std::iter::repeat_n(long, 40));
        let mut sent = 0;
        loop {
            let batch = outbox.take();
            if batch.is_empty() {
                break;
            }
            assert!(encode(&batch).len() <= MAX_GOSSIP_BYTES);
            assert!(batch.len() < 40);
            sent += batch.len();
        }
        assert_eq!(sent, 40, "everything goes, in several messages");
    }

    #[test]
    fn only_authentic_transactions_of_a_block_are_remembered() {
        use cadenza_ledger::{TxError, TxOutcome};
        let outcome = |byte: u8, result: Result<(), TxError>| TxOutcome {
            hash: Hash([byte; 32]),
            result,
            fee_paid: cadenza_types::Amount::ZERO,
            events: Vec::new(),
        };
        let blocks = InBlocks::default();
        blocks.note_authentic(&[
            outcome(1, Ok(())),
            outcome(2, Err(TxError::BadSignature)),
            outcome(
                3,
                Err(TxError::StaleNonce {
                    expected: 2,
                    found: 1,
                }),
            ),
            outcome(4, Err(TxError::ZeroAmount)),
        ]);
        assert!(blocks.contains(&Hash([1; 32])), "succeeded");
        assert!(!blocks.contains(&Hash([2; 32])), "forged");
        assert!(!blocks.contains(&Hash([3; 32])), "not checked");
        assert!(blocks.contains(&Hash([4; 32])), "paid its fee");
    }

    #[test]
    fn a_disabled_or_full_outbox_keeps_what_fits() {
        let off = Outbox::new(false);
        off.push(encoded(&txs(3)));
        assert!(off.is_empty(), "a validator alone gossips nothing");
        let on = Outbox::new(true);
        let one = txs(1).remove(0).to_bytes();
        on.push(std::iter::repeat_n(one, OUTBOX_TXS + 10));
        assert_eq!(on.len(), OUTBOX_TXS, "bounded by count");
        let bytes = Outbox::new(true);
        bytes.push(std::iter::repeat_n(vec![0u8; MAX_TX_BYTES], OUTBOX_TXS));
        assert_eq!(bytes.len(), OUTBOX_BYTES / MAX_TX_BYTES, "bounded by bytes");
    }
}
