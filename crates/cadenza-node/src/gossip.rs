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
//! A peer whose message does not decode, or carries a transaction that no honest validator
//! admits whatever its state (another chain, too long, a bad signature), is blocked.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use cadenza_types::{Decode as _, Encode as _, Hash, SignedTransaction};
use commonware_codec::{Copying, Decode as CodecDecode, RangeCfg, Write as _};
use commonware_p2p::{Blocker, Receiver, Recipients, Sender};
use commonware_runtime::Spawner;
use tracing::{debug, warn};

use crate::app::Shared;
use crate::block::MAX_TX_BYTES;
use crate::mempool::MempoolError;

/// The most transactions one gossip message carries.
pub const MAX_GOSSIP_TXS: usize = 1024;

/// The most bytes of encoded transactions one gossip message carries (a transaction longer than
/// this goes alone). Far below the network's message limit, which a block's size sets.
pub const MAX_GOSSIP_BYTES: usize = 1 << 20;

/// The most transactions waiting to be gossiped; past it, new admissions are not gossiped (their
/// own validator still proposes them).
pub const OUTBOX_TXS: usize = 65_536;

/// Transactions admitted here and not yet sent to the other validators.
#[derive(Debug)]
pub struct Outbox {
    enabled: bool,
    queue: Mutex<VecDeque<SignedTransaction>>,
    wake: tokio::sync::Notify,
}

impl Outbox {
    /// An outbox; a disabled one (a validator alone) keeps nothing.
    pub fn new(enabled: bool) -> Outbox {
        Outbox {
            enabled,
            queue: Mutex::new(VecDeque::new()),
            wake: tokio::sync::Notify::new(),
        }
    }

    /// Whether admissions are gossiped.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<SignedTransaction>> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `txs` for the other validators, as many as the outbox has room for.
    pub fn push(&self, txs: impl IntoIterator<Item = SignedTransaction>) {
        if !self.enabled {
            return;
        }
        let mut queue = self.lock();
        let before = queue.len();
        queue.extend(txs.into_iter().take(OUTBOX_TXS.saturating_sub(before)));
        let added = queue.len() > before;
        drop(queue);
        if added {
            self.wake.notify_one();
        }
    }

    /// The number of transactions waiting.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The next message's transactions, encoded: up to [`MAX_GOSSIP_TXS`] and
    /// [`MAX_GOSSIP_BYTES`] (at least one when any waits).
    fn take(&self) -> Vec<Vec<u8>> {
        let mut queue = self.lock();
        let mut batch = Vec::new();
        let mut bytes = 0;
        while batch.len() < MAX_GOSSIP_TXS {
            let Some(tx) = queue.front() else { break };
            let encoded = tx.to_bytes();
            if !batch.is_empty() && bytes + encoded.len() > MAX_GOSSIP_BYTES {
                break;
            }
            bytes += encoded.len();
            batch.push(encoded);
            queue.pop_front();
        }
        batch
    }
}

/// The most transaction hashes [`InBlocks`] remembers.
pub const IN_BLOCKS_REMEMBERED: usize = 65_536;

/// Transactions seen in blocks this validator verified, most recent ones: gossip that arrives
/// after a block already carried a transaction (likely while gossip waits behind a burst) need
/// not have its signature checked a second time; the block's verification did.
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

    /// Whether a verified block carried the transaction with this hash (lately).
    pub fn contains(&self, hash: &Hash) -> bool {
        self.lock().0.contains(hash)
    }
}

/// Encodes a gossip message: the transactions' canonical encodings as a Commonware-codec list.
pub fn encode(txs: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(txs.iter().map(|t| t.len() + 4).sum::<usize>() + 4);
    txs.to_vec().write(&mut out);
    out
}

/// Decodes a gossip message: at most [`MAX_GOSSIP_TXS`] transactions of at most
/// [`MAX_TX_BYTES`] each, every one canonical, nothing left over.
pub fn decode(message: &[u8]) -> Result<Vec<SignedTransaction>, String> {
    let cfg = (
        RangeCfg::from(1..=MAX_GOSSIP_TXS),
        (RangeCfg::from(0..=MAX_TX_BYTES), ()),
    );
    let encoded = <Vec<Vec<u8>> as CodecDecode>::decode_cfg(Copying(message), &cfg)
        .map_err(|e| e.to_string())?;
    encoded
        .iter()
        .map(|bytes| SignedTransaction::from_bytes(bytes).map_err(|e| e.to_string()))
        .collect()
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
        .spawn(move |_| send_loop(outbox, sender));
    context
        .child("gossip_in")
        .dedicated()
        .spawn(move |_| receive_loop(shared, receiver, blocker));
}

async fn send_loop<E, S>(shared: Arc<Shared<E>>, mut sender: S)
where
    E: commonware_storage::Context + Spawner,
    S: Sender,
{
    loop {
        shared.gossip.wake.notified().await;
        loop {
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
        let outcomes = shared.mempool.submit_many(judged);
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

    #[test]
    fn messages_round_trip_and_are_bounded() {
        let outbox = Outbox::new(true);
        let all = txs(MAX_GOSSIP_TXS as u64 + 5);
        outbox.push(all.clone());
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
        let mut flipped = encode(&first[..1]);
        let last = flipped.len() - 1;
        flipped[last] ^= 0xff;
        // A flipped signature byte still decodes (it is caught by verification); a flipped
        // length or structure byte does not.
        let mut garbage = encode(&first[..1]);
        garbage[2] ^= 0xff;
        assert!(decode(&garbage).is_err() || decode(&garbage).unwrap() != all[..1]);
        assert!(decode(&flipped).is_ok_and(|t| t[0] != all[0]));
    }

    #[test]
    fn a_disabled_or_full_outbox_keeps_what_fits() {
        let off = Outbox::new(false);
        off.push(txs(3));
        assert!(off.is_empty(), "a validator alone gossips nothing");
        let on = Outbox::new(true);
        let one = txs(1).remove(0);
        on.push(std::iter::repeat_n(one, OUTBOX_TXS + 10));
        assert_eq!(on.len(), OUTBOX_TXS, "bounded");
    }
}
