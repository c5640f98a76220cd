//! The BLAKE3 tree of a blob over 16 KiB chunk groups: building its outboard and verifying
//! ranges against it.
//!
//! A blob's id is the plain BLAKE3 hash of its bytes. BLAKE3 is itself a binary tree over 1 KiB
//! chunks; grouping 16 chunks into one leaf gives the same root, and storing only the hash pairs
//! of the nodes above the groups (the *outboard*) costs 64 bytes per 16 KiB (0.4%). The layout is
//! bao-tree's post-order outboard with a block size of 16 chunks (`IROH_BLOCK_SIZE`), so the same
//! bytes serve our reads and iroh-blobs' wire encoding.
//!
//! Shape: a subtree over `n > 1` groups has a left child over the largest power of two of
//! groups below `n` and a right child over the rest (BLAKE3's own rule, since groups are a power
//! of two of chunks). Post order: left subtree's pairs, right subtree's pairs, then the node's own
//! pair, so a subtree over `n` groups occupies `n - 1` consecutive pairs ending with its own.

use blake3::hazmat::{
    ChainingValue, HasherExt, Mode, merge_subtrees_non_root, merge_subtrees_root,
};

/// Bytes in one chunk group, the leaf of the stored tree.
pub const GROUP_LEN: u64 = 16 * 1024;
/// Chunk groups are 2^4 BLAKE3 chunks.
pub const GROUP_CHUNK_LOG: u8 = 4;
/// Bytes of one stored hash pair.
pub const PAIR_LEN: usize = 64;

/// Number of chunk groups of a blob of `len` bytes (an empty blob is one empty group).
pub fn n_groups(len: u64) -> u64 {
    len.div_ceil(GROUP_LEN).max(1)
}

/// Size in bytes of the outboard of a blob of `len` bytes.
pub fn outboard_len(len: u64) -> u64 {
    (n_groups(len) - 1) * PAIR_LEN as u64
}

/// The largest power of two strictly below `n` (`n >= 2`): the left child's group count.
fn left_groups(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// Hash of a subtree whose bytes are `data`, starting at group `first_group`. The root of the
/// whole blob is the plain BLAKE3 hash.
pub fn subtree_hash(first_group: u64, data: &[u8], is_root: bool) -> [u8; 32] {
    if is_root {
        *blake3::hash(data).as_bytes()
    } else {
        let mut hasher = blake3::Hasher::new();
        hasher.set_input_offset(first_group * GROUP_LEN);
        hasher.update(data);
        hasher.finalize_non_root()
    }
}

/// Hash of a parent node from its children's hashes.
pub fn parent_hash(left: &ChainingValue, right: &ChainingValue, is_root: bool) -> [u8; 32] {
    if is_root {
        *merge_subtrees_root(left, right, Mode::Hash).as_bytes()
    } else {
        merge_subtrees_non_root(left, right, Mode::Hash)
    }
}

/// Builds the post-order outboard from the non-root hashes of every group (at least two) and
/// returns the root hash.
pub fn build_outboard(group_hashes: &[[u8; 32]], outboard: &mut Vec<u8>) -> [u8; 32] {
    assert!(group_hashes.len() >= 2, "a one-group blob has no outboard");
    outboard.reserve((group_hashes.len() - 1) * PAIR_LEN);
    build(group_hashes, outboard, true)
}

fn build(hashes: &[[u8; 32]], outboard: &mut Vec<u8>, is_root: bool) -> [u8; 32] {
    if hashes.len() == 1 {
        return hashes[0];
    }
    let split = left_groups(hashes.len() as u64) as usize;
    let left = build(&hashes[..split], outboard, false);
    let right = build(&hashes[split..], outboard, false);
    outboard.extend_from_slice(&left);
    outboard.extend_from_slice(&right);
    parent_hash(&left, &right, is_root)
}

/// Checks `data`, the bytes of groups `[group_lo, group_hi)` of a blob of `blob_len` bytes,
/// against its `root` and `outboard`. Subtrees wholly inside the range are hashed in one call and
/// compared with the hash their parent holds; only the nodes on the range's two edges are read
/// from the outboard, so the cost is the hashing of `data` plus O(log n) small merges.
///
/// Fails with the first group of the first subtree whose hash did not match.
pub fn verify(
    root: &[u8; 32],
    blob_len: u64,
    outboard: &[u8],
    group_lo: u64,
    group_hi: u64,
    data: &[u8],
) -> Result<(), Mismatch> {
    let n = n_groups(blob_len);
    debug_assert!(group_lo < group_hi && group_hi <= n);
    debug_assert_eq!(
        data.len() as u64,
        (group_hi * GROUP_LEN).min(blob_len) - group_lo * GROUP_LEN
    );
    if outboard.len() as u64 != outboard_len(blob_len) {
        return Err(Mismatch { group: group_lo });
    }
    let want = Want {
        outboard,
        group_lo,
        group_hi,
        data,
    };
    want.node(0, n, 0, root, true)
}

/// A range of groups that failed verification (it holds the first group of the failing subtree).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mismatch {
    /// First group of the subtree whose hash did not match.
    pub group: u64,
}

struct Want<'a> {
    outboard: &'a [u8],
    group_lo: u64,
    group_hi: u64,
    data: &'a [u8],
}

impl Want<'_> {
    /// Verifies the subtree over groups `[first, first + n)`, whose pairs start at pair index
    /// `base`, against `expected`.
    fn node(
        &self,
        first: u64,
        n: u64,
        base: u64,
        expected: &[u8; 32],
        is_root: bool,
    ) -> Result<(), Mismatch> {
        let end = first + n;
        if self.group_lo <= first && end <= self.group_hi {
            let from = ((first - self.group_lo) * GROUP_LEN) as usize;
            let to = (((end - self.group_lo) * GROUP_LEN) as usize).min(self.data.len());
            let got = subtree_hash(first, &self.data[from..to], is_root);
            if &got == expected {
                return Ok(());
            }
            if n == 1 {
                return Err(Mismatch { group: first });
            }
            // A wide subtree failed: descend through the outboard to name the first bad group
            // (the error path only, so hashing its groups again costs nothing that matters).
        }
        // Partly covered (or failed above), so it spans more than one group and has a pair.
        debug_assert!(n >= 2);
        let slot = ((base + n - 2) as usize) * PAIR_LEN;
        let pair = &self.outboard[slot..slot + PAIR_LEN];
        let mut left = [0u8; 32];
        let mut right = [0u8; 32];
        left.copy_from_slice(&pair[..32]);
        right.copy_from_slice(&pair[32..]);
        if &parent_hash(&left, &right, is_root) != expected {
            return Err(Mismatch { group: first });
        }
        let split = left_groups(n);
        if self.group_lo < first + split {
            self.node(first, split, base, &left, false)?;
        }
        if self.group_hi > first + split {
            self.node(first + split, n - split, base + split - 1, &right, false)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups_of(data: &[u8]) -> Vec<[u8; 32]> {
        data.chunks(GROUP_LEN as usize)
            .enumerate()
            .map(|(i, g)| subtree_hash(i as u64, g, false))
            .collect()
    }

    #[test]
    fn outboard_matches_bao_tree_and_root_matches_blake3() {
        for len in [
            GROUP_LEN + 1,
            2 * GROUP_LEN,
            3 * GROUP_LEN - 7,
            5 * GROUP_LEN,
            100 * GROUP_LEN + 3,
        ] {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let mut ob = Vec::new();
            let root = build_outboard(&groups_of(&data), &mut ob);
            assert_eq!(&root, blake3::hash(&data).as_bytes(), "len {len}");
            let reference = bao_tree::io::outboard::PostOrderMemOutboard::create(
                &data,
                bao_tree::BlockSize::from_chunk_log(GROUP_CHUNK_LOG),
            );
            assert_eq!(ob, reference.data, "len {len}");
            assert_eq!(ob.len() as u64, outboard_len(len));
            let n = n_groups(len);
            for lo in 0..n {
                for hi in lo + 1..=n.min(lo + 4) {
                    let bytes =
                        &data[(lo * GROUP_LEN) as usize..((hi * GROUP_LEN).min(len)) as usize];
                    assert_eq!(verify(&root, len, &ob, lo, hi, bytes), Ok(()));
                }
            }
        }
    }
}
