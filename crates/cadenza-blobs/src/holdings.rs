//! Which peers hold which blobs: the announcements providers send each other, and the bounded
//! table a provider keeps of them.
//!
//! A provider announces the blobs it holds to its peers: its whole inventory when it starts and
//! then periodically (a [`AnnounceKind::Hello`], answered with the other side's inventory, so
//! that one exchange teaches both), and each blob it newly stores as it stores it
//! ([`AnnounceKind::Have`]). The receiver records the announcer as a holder of those blobs in its
//! [`Holdings`], and asks announced holders first when it lacks a blob. An announcement is only a
//! hint: every fetched byte is still verified against the blob id, and a holder that answers
//! that it lacks the blob is forgotten for it.
//!
//! The wire form of an [`Announcement`] (one per QUIC stream, each way):
//!
//! ```text
//! version: u8 = 1
//! kind:    u8 (0 hello, 1 have, 2 reply)
//! from:    u16 big-endian length, then the announcer's PeerAddr text (UTF-8, at most 1,024 bytes)
//! count:   u32 big-endian, at most 65,536
//! held:    count blob ids of 32 bytes, strictly ascending
//! ```
//!
//! Decoding is strict (no trailing bytes, ids sorted and distinct), so every accepted message has
//! exactly one encoding.

use std::collections::HashMap;
use std::sync::Mutex;

use cadenza_types::hash::Hash;

use crate::replicate::PeerAddr;

/// Most blob ids in one announcement (2 MiB of ids). A larger inventory is announced in parts.
pub const MAX_ANNOUNCED: usize = 65_536;

/// Longest announcer address, in bytes.
pub const MAX_ADDR_LEN: usize = 1_024;

/// Largest encoded announcement.
pub const MAX_ANNOUNCEMENT_LEN: usize = 2 + 2 + MAX_ADDR_LEN + 4 + 32 * MAX_ANNOUNCED;

/// Most peers a [`Holdings`] remembers; the one heard from least recently makes room.
pub const MAX_PEERS: usize = 256;

/// Most blobs a [`Holdings`] records holders for. When full, the peer heard from least
/// recently (other than the announcer) is forgotten to make room, once per announcement; ids
/// that still do not fit are not kept.
pub const MAX_BLOBS: usize = 262_144;

/// Most holders recorded per blob; the most recent announcers are kept.
pub const MAX_HOLDERS_PER_BLOB: usize = 8;

const VERSION: u8 = 1;

/// What an announcement is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnnounceKind {
    /// The sender's inventory (or its first part), asking for the receiver's in return.
    Hello,
    /// Blobs the sender has just stored.
    Have,
    /// The answer to an announcement: for a hello, the answerer's inventory (or its first part);
    /// for a have, empty.
    Reply,
}

/// One announcement: `from` holds the blobs `held`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Announcement {
    /// What it is.
    pub kind: AnnounceKind,
    /// The announcer's address (checked against the connection's authenticated endpoint id).
    pub from: PeerAddr,
    /// Blob ids, strictly ascending, at most [`MAX_ANNOUNCED`].
    pub held: Vec<Hash>,
}

/// Why bytes are not an announcement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AnnouncementError(String);

impl Announcement {
    /// Builds an announcement of `held` (sorted and deduplicated here; at most
    /// [`MAX_ANNOUNCED`] are taken, the lowest ids).
    pub fn new(kind: AnnounceKind, from: PeerAddr, held: &[Hash]) -> Announcement {
        let mut held = held.to_vec();
        held.sort_unstable();
        held.dedup();
        held.truncate(MAX_ANNOUNCED);
        Announcement { kind, from, held }
    }

    /// The wire form.
    pub fn encode(&self) -> Vec<u8> {
        let from = self.from.as_str().as_bytes();
        let mut out = Vec::with_capacity(8 + from.len() + 32 * self.held.len());
        out.push(VERSION);
        out.push(match self.kind {
            AnnounceKind::Hello => 0,
            AnnounceKind::Have => 1,
            AnnounceKind::Reply => 2,
        });
        out.extend_from_slice(&(from.len() as u16).to_be_bytes());
        out.extend_from_slice(from);
        out.extend_from_slice(&(self.held.len() as u32).to_be_bytes());
        for id in &self.held {
            out.extend_from_slice(id.as_bytes());
        }
        out
    }

    /// Reads the wire form, refusing anything that is not exactly one canonical announcement.
    pub fn decode(bytes: &[u8]) -> Result<Announcement, AnnouncementError> {
        let bad = |what: &str| AnnouncementError(format!("not an announcement: {what}"));
        let mut rest = bytes;
        let mut take = |n: usize, what: &str| {
            if rest.len() < n {
                return Err(bad(&format!("ends inside {what}")));
            }
            let (head, tail) = rest.split_at(n);
            rest = tail;
            Ok(head)
        };
        let version = take(1, "the version")?[0];
        if version != VERSION {
            return Err(bad(&format!(
                "version {version}, this node reads {VERSION}"
            )));
        }
        let kind = match take(1, "the kind")?[0] {
            0 => AnnounceKind::Hello,
            1 => AnnounceKind::Have,
            2 => AnnounceKind::Reply,
            k => return Err(bad(&format!("unknown kind {k}"))),
        };
        let len = u16::from_be_bytes(take(2, "the address length")?.try_into().expect("2"));
        if usize::from(len) > MAX_ADDR_LEN {
            return Err(bad(&format!("a {len}-byte address")));
        }
        let text = std::str::from_utf8(take(usize::from(len), "the address")?)
            .map_err(|_| bad("the address is not UTF-8"))?;
        let from: PeerAddr = text
            .parse()
            .map_err(|e| bad(&format!("the address: {e}")))?;
        if from.as_str() != text {
            return Err(bad("the address is not in its canonical form"));
        }
        let count = u32::from_be_bytes(take(4, "the count")?.try_into().expect("4")) as usize;
        if count > MAX_ANNOUNCED {
            return Err(bad(&format!("{count} ids, more than {MAX_ANNOUNCED}")));
        }
        let ids = take(32 * count, "the ids")?;
        if !rest.is_empty() {
            return Err(bad("bytes after the ids"));
        }
        let held: Vec<Hash> = ids
            .chunks_exact(32)
            .map(|c| Hash(c.try_into().expect("32")))
            .collect();
        if held.windows(2).any(|w| w[0] >= w[1]) {
            return Err(bad("ids not strictly ascending"));
        }
        Ok(Announcement { kind, from, held })
    }
}

struct Peer {
    addr: PeerAddr,
    /// When last heard from, on [`Inner::clock`].
    heard: u64,
}

#[derive(Default)]
struct Inner {
    /// Slots of remembered peers (`None`: free), at most [`MAX_PEERS`].
    peers: Vec<Option<Peer>>,
    /// Blob → slots of its holders, most recent announcer last.
    by_blob: HashMap<Hash, Vec<u16>>,
    /// Counts announcements, to order peers by when they were heard from.
    clock: u64,
}

impl Inner {
    fn slot_of(&self, addr: &PeerAddr) -> Option<usize> {
        let id = addr.endpoint();
        self.peers
            .iter()
            .position(|p| p.as_ref().is_some_and(|p| p.addr.endpoint() == id))
    }

    /// The slot of `addr`, taking a free one or the least recently heard peer's when it is new.
    fn admit(&mut self, addr: &PeerAddr) -> usize {
        self.clock += 1;
        let heard = self.clock;
        if let Some(slot) = self.slot_of(addr) {
            self.peers[slot] = Some(Peer {
                addr: addr.clone(),
                heard,
            });
            return slot;
        }
        let slot = if let Some(free) = self.peers.iter().position(Option::is_none) {
            free
        } else if self.peers.len() < MAX_PEERS {
            self.peers.push(None);
            self.peers.len() - 1
        } else {
            let oldest = (0..self.peers.len())
                .min_by_key(|&i| self.peers[i].as_ref().map_or(0, |p| p.heard))
                .expect("MAX_PEERS > 0");
            self.drop_slot(oldest);
            oldest
        };
        self.peers[slot] = Some(Peer {
            addr: addr.clone(),
            heard,
        });
        slot
    }

    fn drop_slot(&mut self, slot: usize) {
        self.peers[slot] = None;
        let slot = slot as u16;
        self.by_blob.retain(|_, holders| {
            holders.retain(|&h| h != slot);
            !holders.is_empty()
        });
    }
}

/// The bounded table of which peers announced which blobs.
#[derive(Default)]
pub struct Holdings {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Holdings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (peers, blobs) = self.counts();
        f.debug_struct("Holdings")
            .field("peers", &peers)
            .field("blobs", &blobs)
            .finish()
    }
}

impl Holdings {
    /// An empty table.
    pub fn new() -> Holdings {
        Holdings::default()
    }

    /// Records that `peer` holds `held`, and that it was heard from now. Returns how many of
    /// the ids were kept (see [`MAX_BLOBS`]).
    pub fn record(&self, peer: &PeerAddr, held: &[Hash]) -> usize {
        let mut inner = self.inner.lock().expect("never poisoned");
        let slot = inner.admit(peer);
        Self::add(&mut inner, slot, held)
    }

    /// [`Holdings::replace`] when `held` is `peer`'s whole inventory (a hello, or the answer to
    /// one), else [`Holdings::record`].
    pub fn learn(&self, peer: &PeerAddr, held: &[Hash], whole: bool) -> usize {
        if whole {
            self.replace(peer, held)
        } else {
            self.record(peer, held)
        }
    }

    /// Records that `peer` holds exactly `held` (its whole inventory, from a hello): what it
    /// announced before and no longer lists is forgotten.
    pub fn replace(&self, peer: &PeerAddr, held: &[Hash]) -> usize {
        let mut inner = self.inner.lock().expect("never poisoned");
        let slot = inner.admit(peer);
        let tag = slot as u16;
        inner.by_blob.retain(|_, holders| {
            holders.retain(|&h| h != tag);
            !holders.is_empty()
        });
        Self::add(&mut inner, slot, held)
    }

    fn add(inner: &mut Inner, slot: usize, held: &[Hash]) -> usize {
        let tag = slot as u16;
        let mut kept = 0;
        let mut evicted = false;
        for id in held {
            if inner.by_blob.len() >= MAX_BLOBS && !inner.by_blob.contains_key(id) && !evicted {
                evicted = true;
                let oldest = (0..inner.peers.len())
                    .filter(|&i| i != slot && inner.peers[i].is_some())
                    .min_by_key(|&i| inner.peers[i].as_ref().map_or(0, |p| p.heard));
                if let Some(oldest) = oldest {
                    inner.drop_slot(oldest);
                }
            }
            let full = inner.by_blob.len() >= MAX_BLOBS;
            let holders = match inner.by_blob.get_mut(id) {
                Some(holders) => holders,
                None if full => continue,
                None => inner.by_blob.entry(*id).or_default(),
            };
            let slot = tag;
            holders.retain(|&h| h != slot);
            if holders.len() == MAX_HOLDERS_PER_BLOB {
                holders.remove(0);
            }
            holders.push(slot);
            kept += 1;
        }
        kept
    }

    /// The peers that announced `id`, the most recent announcer first.
    pub fn holders(&self, id: &Hash) -> Vec<PeerAddr> {
        let inner = self.inner.lock().expect("never poisoned");
        inner.by_blob.get(id).map_or_else(Vec::new, |holders| {
            holders
                .iter()
                .rev()
                .filter_map(|&h| inner.peers[usize::from(h)].as_ref())
                .map(|p| p.addr.clone())
                .collect()
        })
    }

    /// Forgets that `peer` holds `id` (it answered that it does not).
    pub fn forget(&self, id: &Hash, peer: &PeerAddr) {
        let mut inner = self.inner.lock().expect("never poisoned");
        let Some(slot) = inner.slot_of(peer) else {
            return;
        };
        if let Some(holders) = inner.by_blob.get_mut(id) {
            holders.retain(|&h| usize::from(h) != slot);
            if holders.is_empty() {
                inner.by_blob.remove(id);
            }
        }
    }

    /// Every peer heard from, the most recent first: the ones to tell about new blobs.
    pub fn peers(&self) -> Vec<PeerAddr> {
        let inner = self.inner.lock().expect("never poisoned");
        let mut peers: Vec<&Peer> = inner.peers.iter().flatten().collect();
        peers.sort_by_key(|p| std::cmp::Reverse(p.heard));
        peers.into_iter().map(|p| p.addr.clone()).collect()
    }

    /// How many peers are remembered, and for how many blobs a holder is known.
    pub fn counts(&self) -> (usize, usize) {
        let inner = self.inner.lock().expect("never poisoned");
        (inner.peers.iter().flatten().count(), inner.by_blob.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(n: u8) -> PeerAddr {
        PeerAddr::of_secret(&[n; 32], &["127.0.0.1:4000".parse().unwrap()])
    }

    fn id(n: u32) -> Hash {
        let mut h = [0u8; 32];
        h[..4].copy_from_slice(&n.to_be_bytes());
        Hash(h)
    }

    #[test]
    fn an_announcement_round_trips_and_only_its_one_encoding_decodes() {
        let a = Announcement::new(AnnounceKind::Hello, peer(1), &[id(3), id(1), id(3)]);
        assert_eq!(a.held, vec![id(1), id(3)], "sorted, deduplicated");
        let bytes = a.encode();
        assert_eq!(Announcement::decode(&bytes).unwrap(), a);
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(Announcement::decode(&trailing).is_err());
        assert!(Announcement::decode(&bytes[..bytes.len() - 1]).is_err());
        // Swapping the two ids makes them descending: refused.
        let mut swapped = bytes.clone();
        let n = swapped.len();
        let (head, tail) = swapped[n - 64..].split_at_mut(32);
        head.swap_with_slice(tail);
        assert!(
            Announcement::decode(&swapped)
                .unwrap_err()
                .0
                .contains("ascending")
        );
        let mut other_version = bytes;
        other_version[0] = 2;
        assert!(Announcement::decode(&other_version).is_err());
    }

    #[test]
    fn holders_are_the_latest_announcers_and_are_forgotten_on_request() {
        let table = Holdings::new();
        assert_eq!(table.record(&peer(1), &[id(1), id(2)]), 2);
        table.record(&peer(2), &[id(2)]);
        assert_eq!(table.holders(&id(2)), vec![peer(2), peer(1)]);
        assert_eq!(table.holders(&id(1)), vec![peer(1)]);
        // The same endpoint at another socket is the same peer, at its new address.
        let moved = PeerAddr::of_secret(&[1; 32], &["127.0.0.1:4001".parse().unwrap()]);
        table.record(&moved, &[id(2)]);
        assert_eq!(table.holders(&id(2)), vec![moved.clone(), peer(2)]);
        assert_eq!(table.holders(&id(1)), vec![moved.clone()]);
        table.forget(&id(2), &moved);
        assert_eq!(table.holders(&id(2)), vec![peer(2)]);
        table.forget(&id(2), &peer(2));
        assert!(table.holders(&id(2)).is_empty());
        assert_eq!(table.counts(), (2, 1));
        assert_eq!(table.peers(), vec![moved, peer(2)]);
    }

    #[test]
    fn a_hello_replaces_what_its_sender_announced_and_a_full_table_makes_room() {
        let table = Holdings::new();
        table.record(&peer(1), &[id(1), id(2)]);
        table.record(&peer(2), &[id(1)]);
        table.replace(&peer(1), &[id(2), id(3)]);
        assert_eq!(
            table.holders(&id(1)),
            vec![peer(2)],
            "peer 1 no longer lists it"
        );
        assert_eq!(table.holders(&id(2)), vec![peer(1)]);
        assert_eq!(table.holders(&id(3)), vec![peer(1)]);
        // A table filled by one peer makes room for another's new blob by forgetting the peer
        // heard from least recently.
        let many: Vec<Hash> = (10..10 + MAX_BLOBS as u32).map(id).collect();
        table.replace(&peer(3), &many);
        assert_eq!(table.counts().1, MAX_BLOBS);
        assert_eq!(table.record(&peer(4), &[id(5)]), 1);
        assert_eq!(table.holders(&id(5)), vec![peer(4)]);
        assert!(
            table.holders(&id(1)).is_empty(),
            "peer 2, heard first, made room"
        );
    }

    #[test]
    fn the_table_stays_within_its_bounds() {
        let table = Holdings::new();
        for n in 0..(MAX_HOLDERS_PER_BLOB as u8 + 3) {
            table.record(&peer(n), &[id(0)]);
        }
        let holders = table.holders(&id(0));
        assert_eq!(holders.len(), MAX_HOLDERS_PER_BLOB);
        assert_eq!(
            holders[0],
            peer(MAX_HOLDERS_PER_BLOB as u8 + 2),
            "latest first"
        );
        // Peers beyond the bound push out the one heard from least recently, with its entries.
        let only_first = id(7);
        table.record(&peer(0), &[only_first]);
        let first_heard = table.peers().last().cloned().unwrap();
        assert_eq!(first_heard, peer(1));
        for n in 0..MAX_PEERS as u32 {
            let mut secret = [9u8; 32];
            secret[..4].copy_from_slice(&n.to_be_bytes());
            let p = PeerAddr::of_secret(&secret, &["127.0.0.1:4000".parse().unwrap()]);
            table.record(&p, &[]);
        }
        assert_eq!(table.counts().0, MAX_PEERS);
        assert!(
            table.holders(&only_first).is_empty(),
            "peer 0 was pushed out"
        );
        // Blobs beyond the bound are not recorded.
        let many: Vec<Hash> = (1..=MAX_BLOBS as u32 + 10).map(id).collect();
        let kept = table.record(&peer(1), &many);
        assert_eq!(table.counts().1, MAX_BLOBS);
        assert!(kept < many.len());
    }
}
