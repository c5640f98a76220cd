// Verification of the node's state proofs in the browser: a port of Commonware's QMDB
// (`commonware-storage` =2026.10.0, `current` variant, MMR family, BLAKE3, 32-byte bitmap chunks)
// key-value proof check, `verify_key_value_proof`, as `cadenza-node`'s `store::verify_value_proof`
// runs it. The layouts and steps below follow that crate's source:
//
//   proof      = loc: varint ‖ chunk: 32 bytes ‖ range proof
//   range proof= leaves: varint ‖ inactive_peaks: varint ‖ digests: varint count ‖ 32·count
//                ‖ partial_chunk_digest: option (0x00, or 0x01 ‖ 32) ‖ ops_root: 32
//   operation  = 0xD2 ‖ varint(len key) ‖ key ‖ varint(len value) ‖ value
//   H(parts)   = BLAKE3(concatenation), leaf = H(pos_be8 ‖ op), node = H(pos_be8 ‖ left ‖ right),
//                and at the grafting height (8: 256 bits per chunk) a node whose bitmap chunk is
//                not all zero becomes H(chunk ‖ node)
//   MMR root   = H(0x00 ‖ 0x01 ‖ leaves_be8 [‖ inactive_peaks_be8] ‖ peaks bagged backward)
//   state root = H(ops_root ‖ grafted_root [‖ next_bit_be8 ‖ partial_chunk_digest])
//
// Anything malformed or inconsistent verifies as false; the function never throws on bytes.

import { blake3 } from './blake3.js';
import { concat, equalBytes } from './encoding.js';

const CHUNK_BYTES = 32;
const CHUNK_BITS = 256n;
const GRAFTING_HEIGHT = 8n;
const MAX_DIGESTS = 256; // cadenza-node's MAX_PROOF_DIGESTS
const MAX_LEAVES = 1n << 62n;
const UPDATE_CONTEXT = 0xd2;
const MMR_DOMAIN = 0;
const BACKWARD_FOLD = 1;

class Invalid extends Error {}

const H = (...parts) => blake3(concat(...parts));

function be8(v) {
  const out = new Uint8Array(8);
  let x = v;
  for (let i = 7; i >= 0; i--) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

function varint(n) {
  const out = [];
  let v = BigInt(n);
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return Uint8Array.from(out);
}

class Reader {
  constructor(bytes) {
    this.b = bytes;
    this.o = 0;
  }
  take(n) {
    if (this.o + n > this.b.length) throw new Invalid('short');
    const s = this.b.subarray(this.o, this.o + n);
    this.o += n;
    return s;
  }
  // Commonware's canonical LEB128 u64: no redundant trailing zero byte, no overflow.
  varint() {
    let v = 0n;
    for (let i = 0; i < 10; i++) {
      const byte = this.take(1)[0];
      if (i === 9 && byte > 1) throw new Invalid('varint overflow');
      v |= BigInt(byte & 0x7f) << BigInt(7 * i);
      if ((byte & 0x80) === 0) {
        if (i > 0 && byte === 0) throw new Invalid('non-canonical varint');
        return v;
      }
    }
    throw new Invalid('varint too long');
  }
  bool() {
    const b = this.take(1)[0];
    if (b > 1) throw new Invalid('bad bool');
    return b === 1;
  }
  done() {
    if (this.o !== this.b.length) throw new Invalid('trailing bytes');
  }
}

/** Decodes a served proof (hex-decoded bytes). Throws `Invalid` when malformed. */
export function decodeProof(bytes) {
  const r = new Reader(bytes);
  const loc = r.varint();
  if (loc > MAX_LEAVES) throw new Invalid('location');
  const chunk = r.take(CHUNK_BYTES);
  const leaves = r.varint();
  if (leaves > MAX_LEAVES) throw new Invalid('leaves');
  const inactivePeaks = r.varint();
  const count = r.varint();
  if (count > BigInt(MAX_DIGESTS)) throw new Invalid('too many digests');
  const digests = [];
  for (let i = 0n; i < count; i++) digests.push(r.take(32));
  const partialChunkDigest = r.bool() ? r.take(32) : null;
  const opsRoot = r.take(32);
  r.done();
  return { loc, chunk, leaves, inactivePeaks, digests, partialChunkDigest, opsRoot };
}

// ---- MMR geometry ------------------------------------------------------------------------------

const popcount = (n) => {
  let c = 0n;
  for (let x = n; x > 0n; x >>= 1n) c += x & 1n;
  return c;
};
const bitLength = (n) => BigInt(n.toString(2).length) * (n > 0n ? 1n : 0n);

const locationToPosition = (loc) => 2n * loc - popcount(loc);

function positionToLocation(pos) {
  // The leaf whose position is `pos`; the inverse of 2n - popcount(n), searched near pos/2.
  let n = pos >> 1n;
  n = (pos + popcount(n)) >> 1n;
  n = (pos + popcount(n)) >> 1n;
  n = (pos + popcount(n)) >> 1n;
  for (const m of [n, n - 1n, n + 1n]) if (m >= 0n && locationToPosition(m) === pos) return m;
  throw new Invalid('not a leaf');
}

function posToHeight(pos) {
  let p = pos;
  if (p === 0n) return 0n;
  let size = (1n << bitLength(p)) - 1n;
  while (size !== 0n) {
    if (p >= size) p -= size;
    size >>= 1n;
  }
  return p;
}

/** The peaks of an MMR of `size` nodes, left to right: [pos, height]. */
function peaks(size) {
  const out = [];
  if (size === 0n) return out;
  const start = (1n << bitLength(size)) - 1n;
  let twoH = 1n << BigInt(start.toString(2).length); // 2^(trailing ones of start)
  let nodePos = start - 1n;
  while (twoH > 1n) {
    if (nodePos < size) {
      out.push([nodePos, BigInt((twoH.toString(2).length - 1) - 1)]);
      nodePos += twoH - 1n;
      continue;
    }
    twoH >>= 1n;
    nodePos -= twoH;
  }
  return out;
}

class Subtree {
  constructor(pos, height, leafStart) {
    this.pos = pos;
    this.height = height;
    this.leafStart = leafStart;
  }
  get leafEnd() {
    return this.leafStart + (1n << this.height);
  }
  isBefore(range) {
    return this.leafEnd <= range.start;
  }
  isOutside(range) {
    return this.isBefore(range) || this.leafStart >= range.end;
  }
  isInside(range) {
    return this.leafStart >= range.start && this.leafEnd <= range.end;
  }
  children() {
    const h = this.height - 1n;
    return [
      new Subtree(this.pos - (1n << this.height), h, this.leafStart),
      new Subtree(this.pos - 1n, h, this.leafStart + (1n << h)),
    ];
  }
  collectSiblings(range, out) {
    if (this.isOutside(range)) return void out.push(this.pos);
    if (this.isInside(range)) return undefined;
    if (this.height > 0n) for (const c of this.children()) c.collectSiblings(range, out);
    return undefined;
  }
}

// ---- the grafted tree's hasher (grafting::Verifier) --------------------------------------------

function nodeDigest(pos, left, right, ctx) {
  const ops = H(be8(pos), left, right);
  if (posToHeight(pos) !== GRAFTING_HEIGHT) return ops;
  const loc = positionToLocation(pos + 2n - (1n << (GRAFTING_HEIGHT + 1n)));
  const chunkIdx = loc >> GRAFTING_HEIGHT;
  if (chunkIdx >= ctx.graftableChunks) return ops;
  const local = chunkIdx - ctx.startChunk;
  if (local < 0n || local >= BigInt(ctx.chunks.length)) return ops;
  const chunk = ctx.chunks[Number(local)];
  return chunk.every((b) => b === 0) ? ops : H(chunk, ops);
}

function reconstructDigest(tree, range, ctx, state) {
  if (tree.isOutside(range)) {
    if (state.cursor >= state.siblings.length) throw new Invalid('missing digests');
    return state.siblings[state.cursor++];
  }
  if (tree.height === 0n) {
    if (state.element >= state.elements.length) throw new Invalid('missing elements');
    return H(be8(tree.pos), state.elements[state.element++]);
  }
  const [l, r] = tree.children();
  const left = reconstructDigest(l, range, ctx, state);
  const right = reconstructDigest(r, range, ctx, state);
  return nodeDigest(tree.pos, left, right, ctx);
}

/** Merkle::Proof::reconstruct_root_inner with backward-fold bagging (QMDB's ROOT_BAGGING). */
function reconstructMerkleRoot(proof, elements, startLoc, ctx) {
  const { leaves, digests } = proof;
  const inactive = proof.inactivePeaks;
  if (startLoc >= MAX_LEAVES) throw new Invalid('start');
  const range = { start: startLoc, end: startLoc + BigInt(elements.length) };
  if (range.end > leaves) throw new Invalid('end');
  // RangePlan::new
  const before = [];
  const overlapping = [];
  const after = [];
  let leafStart = 0n;
  for (const [pos, height] of peaks(locationToPosition(leaves))) {
    const peak = new Subtree(pos, height, leafStart);
    leafStart = peak.leafEnd;
    if (peak.isBefore(range)) before.push(peak);
    else if (peak.leafStart >= range.end) after.push(pos);
    else overlapping.push(peak);
  }
  if (overlapping.length === 0) throw new Invalid('no peak holds the range');
  const siblings = [];
  for (const peak of overlapping) peak.collectSiblings(range, siblings);
  // Blueprint::from_plan (backward fold)
  if (inactive > BigInt(before.length + overlapping.length + after.length)) throw new Invalid('inactive peaks');
  const firstAfter = BigInt(before.length + overlapping.length);
  const foldCount = Number(inactive < BigInt(before.length) ? inactive : BigInt(before.length));
  const foldPrefix = before.slice(0, foldCount);
  const prefixActive = before.slice(foldCount);
  const beyond = inactive > firstAfter ? inactive - firstAfter : 0n;
  const individual = Number(beyond < BigInt(after.length) ? beyond : BigInt(after.length));
  const afterPeaks = after.slice(0, individual);
  const suffixPeaks = after.slice(individual);
  // split_proof_digests
  const hasFold = foldPrefix.length > 0;
  const hasSuffix = suffixPeaks.length > 0;
  const required = (hasFold ? 1 : 0) + prefixActive.length + afterPeaks.length + (hasSuffix ? 1 : 0) + siblings.length;
  if (digests.length !== required) throw new Invalid('digest count');
  let i = 0;
  const peakDigests = [];
  if (hasFold) peakDigests.push(digests[i++]);
  for (let k = 0; k < prefixActive.length; k++) peakDigests.push(digests[i++]);
  const afterDigests = digests.slice(i, i + afterPeaks.length);
  i += afterPeaks.length;
  const suffixAcc = hasSuffix ? digests[i++] : null;
  const state = { siblings: digests.slice(i), cursor: 0, elements, element: 0 };
  for (const peak of overlapping) peakDigests.push(reconstructDigest(peak, range, ctx, state));
  peakDigests.push(...afterDigests);
  if (suffixAcc) peakDigests.push(suffixAcc);
  if (state.element !== elements.length || state.cursor !== state.siblings.length) throw new Invalid('extra digests');
  // root_with_folded_peaks
  const toFold = hasFold ? (inactive > BigInt(foldPrefix.length) ? inactive - BigInt(foldPrefix.length) : 0n) + 1n : inactive;
  const domain = Uint8Array.of(MMR_DOMAIN, BACKWARD_FOLD);
  if (peakDigests.length === 0) throw new Invalid('no peaks');
  let acc = peakDigests[0];
  let next = 1;
  for (let k = 1n; k < toFold; k++) {
    if (next >= peakDigests.length) throw new Invalid('inactive peaks');
    acc = H(acc, peakDigests[next++]);
  }
  const rest = peakDigests.slice(next);
  if (rest.length) {
    let bag = rest[rest.length - 1];
    for (let k = rest.length - 2; k >= 0; k--) bag = H(rest[k], bag);
    acc = H(acc, bag);
  }
  return inactive === 0n ? H(domain, be8(leaves), acc) : H(domain, be8(leaves), be8(inactive), acc);
}

/** The encoding of the QMDB operation that sets `key` to `value`. */
export function updateOperation(key, value) {
  return concat(Uint8Array.of(UPDATE_CONTEXT), varint(key.length), key, varint(value.length), value);
}

/**
 * Whether `proofBytes` (the API's `proof` field, hex-decoded) proves that `key` holds `value` in
 * the state whose root is `root` (32 bytes; a block's `state_root`).
 */
export function verifyValueProof(key, value, proofBytes, root) {
  try {
    const p = decodeProof(proofBytes);
    // The operation must be active: its bit in the activity bitmap is set.
    const bit = p.loc % CHUNK_BITS;
    if ((p.chunk[Number(bit / 8n)] & (1 << Number(bit % 8n))) === 0) return false;
    const startLoc = p.loc;
    const endLoc = startLoc + 1n;
    if (endLoc > p.leaves) return false;
    const startChunk = startLoc / CHUNK_BITS;
    const completeChunks = p.leaves / CHUNK_BITS;
    const nextBit = p.leaves % CHUNK_BITS;
    const hasPartial = nextBit !== 0n;
    // MMR: a complete chunk's subtree exists as soon as its last leaf does, so every complete
    // chunk is graftable and there is never a pending chunk.
    const graftableChunks = completeChunks;
    if (hasPartial) {
      if (!p.partialChunkDigest) return false;
      if (startChunk === completeChunks && !equalBytes(p.partialChunkDigest, H(p.chunk))) return false;
    } else if (p.partialChunkDigest) return false;
    const ctx = { graftableChunks, startChunk, chunks: [p.chunk] };
    const grafted = reconstructMerkleRoot(p, [updateOperation(key, value)], startLoc, ctx);
    const computed = hasPartial ? H(p.opsRoot, grafted, be8(nextBit), p.partialChunkDigest) : H(p.opsRoot, grafted);
    return equalBytes(computed, root);
  } catch (e) {
    if (e instanceof Invalid) return false;
    throw e;
  }
}
