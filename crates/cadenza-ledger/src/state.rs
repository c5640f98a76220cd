//! State access: the trait the ledger reads through, the change sets it produces, and an
//! in-memory store with a Merkle root for tests and tools.
//!
//! The ledger never writes to a store. `execute_block` reads through [`StateView`] and returns a
//! [`ChangeSet`]; the caller applies it (atomically, in the persistent store). That keeps the
//! ledger free of IO and lets any key-value store with a commitment scheme sit behind it.

use std::collections::{BTreeMap, HashMap};

use cadenza_types::hash::{Domain, Hash, Hasher};

/// Read access to the ledger's key-value state.
pub trait StateView {
    /// The value stored under `key`, if any.
    fn get(&self, key: &[u8]) -> Option<Vec<u8>>;
}

/// The writes of a block, sorted by key: `Some(value)` to set, `None` to delete.
pub type ChangeSet = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// Writes layered over a base view, used for a block and for each transaction inside it.
#[derive(Default, Debug, Clone)]
pub(crate) struct Overlay {
    writes: HashMap<Vec<u8>, Option<Vec<u8>>>,
}

impl Overlay {
    /// `Some(Some(v))` if this overlay set the key, `Some(None)` if it deleted it, `None` if it
    /// did not touch it.
    pub(crate) fn lookup(&self, key: &[u8]) -> Option<&Option<Vec<u8>>> {
        self.writes.get(key)
    }

    pub(crate) fn set(&mut self, key: Vec<u8>, value: Option<Vec<u8>>) {
        self.writes.insert(key, value);
    }

    /// Moves every write of `other` into `self` (later writes win).
    pub(crate) fn absorb(&mut self, other: Overlay) {
        if self.writes.is_empty() {
            self.writes = other.writes;
        } else {
            self.writes.extend(other.writes);
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Vec<u8>, &Option<Vec<u8>>)> {
        self.writes.iter()
    }

    pub(crate) fn into_changes(self) -> ChangeSet {
        self.writes.into_iter().collect()
    }
}

/// An in-memory state: a sorted map with a Merkle root. Serves tests, benchmarks and tools; the
/// node's persistent store implements [`StateView`] over disk.
#[derive(Default, Clone, Debug, PartialEq, Eq)]
pub struct MemoryState {
    entries: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl MemoryState {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies a block's changes.
    pub fn apply(&mut self, changes: ChangeSet) {
        for (k, v) in changes {
            match v {
                Some(v) => {
                    self.entries.insert(k, v);
                }
                None => {
                    self.entries.remove(&k);
                }
            }
        }
    }

    /// Every entry, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.entries
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_slice()))
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the state is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The Merkle root of the state: a binary tree over the entries in key order, leaves
    /// `H_state(0x00 ‖ len(key) as u32 LE ‖ key ‖ value)`, inner nodes `H_state(0x01 ‖ left ‖ right)`,
    /// an odd node carried up unchanged, and `H_state("")` for the empty state.
    pub fn root(&self) -> Hash {
        let mut level: Vec<Hash> = self
            .entries
            .iter()
            .map(|(k, v)| {
                let mut h = Hasher::new(Domain::State);
                h.update(&[0])
                    .update(&(k.len() as u32).to_le_bytes())
                    .update(k)
                    .update(v);
                h.finalize()
            })
            .collect();
        if level.is_empty() {
            return Hasher::new(Domain::State).finalize();
        }
        while level.len() > 1 {
            level = level
                .chunks(2)
                .map(|pair| match pair {
                    [l, r] => {
                        let mut h = Hasher::new(Domain::State);
                        h.update(&[1]).update(l.as_bytes()).update(r.as_bytes());
                        h.finalize()
                    }
                    [one] => *one,
                    _ => unreachable!("chunks(2) yields one or two"),
                })
                .collect();
        }
        level[0]
    }
}

impl StateView for MemoryState {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.entries.get(key).cloned()
    }
}
