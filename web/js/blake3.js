// BLAKE3 (https://github.com/BLAKE3-team/BLAKE3-specs), written for Cadenza from the
// specification: one-shot hashing of a whole message with a 32-byte output, in the three modes
// Cadenza uses (hash, keyed_hash, derive_key). Messages are small (transactions, receipts,
// vouchers), so clarity wins over speed; the node tests check it against the Rust vectors.

const IV = new Uint32Array([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);
const PERM = [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8];
const CHUNK_START = 1;
const CHUNK_END = 2;
const PARENT = 4;
const ROOT = 8;
const KEYED_HASH = 16;
const DERIVE_KEY_CONTEXT = 32;
const DERIVE_KEY_MATERIAL = 64;
const BLOCK_LEN = 64;
const CHUNK_LEN = 1024;

const rotr = (x, n) => (x >>> n) | (x << (32 - n));

function g(s, a, b, c, d, mx, my) {
  s[a] = (s[a] + s[b] + mx) | 0;
  s[d] = rotr(s[d] ^ s[a], 16);
  s[c] = (s[c] + s[d]) | 0;
  s[b] = rotr(s[b] ^ s[c], 12);
  s[a] = (s[a] + s[b] + my) | 0;
  s[d] = rotr(s[d] ^ s[a], 8);
  s[c] = (s[c] + s[d]) | 0;
  s[b] = rotr(s[b] ^ s[c], 7);
}

// The compression function; returns the first 8 words (the chaining value).
function compress(cv, block, counter, blockLen, flags) {
  const s = new Uint32Array(16);
  s.set(cv, 0);
  s.set(IV.subarray(0, 4), 8);
  s[12] = counter % 0x100000000;
  s[13] = Math.floor(counter / 0x100000000);
  s[14] = blockLen;
  s[15] = flags;
  let m = Uint32Array.from(block);
  for (let round = 0; round < 7; round++) {
    g(s, 0, 4, 8, 12, m[0], m[1]);
    g(s, 1, 5, 9, 13, m[2], m[3]);
    g(s, 2, 6, 10, 14, m[4], m[5]);
    g(s, 3, 7, 11, 15, m[6], m[7]);
    g(s, 0, 5, 10, 15, m[8], m[9]);
    g(s, 1, 6, 11, 12, m[10], m[11]);
    g(s, 2, 7, 8, 13, m[12], m[13]);
    g(s, 3, 4, 9, 14, m[14], m[15]);
    if (round < 6) m = Uint32Array.from(PERM, (i) => m[i]);
  }
  const out = new Uint32Array(8);
  for (let i = 0; i < 8; i++) out[i] = s[i] ^ s[i + 8];
  return out;
}

function blockWords(bytes, offset, len) {
  const w = new Uint32Array(16);
  for (let i = 0; i < len; i++) w[i >> 2] |= bytes[offset + i] << (8 * (i & 3));
  return w;
}

// One chunk (at most 1,024 bytes): its chaining value, or the root output when `root`.
function chunkCV(bytes, offset, len, counter, key, flags, root) {
  let cv = key;
  const blocks = Math.max(1, Math.ceil(len / BLOCK_LEN));
  for (let b = 0; b < blocks; b++) {
    const start = b * BLOCK_LEN;
    const blockLen = Math.min(BLOCK_LEN, len - start);
    let f = flags;
    if (b === 0) f |= CHUNK_START;
    if (b === blocks - 1) f |= CHUNK_END | (root ? ROOT : 0);
    cv = compress(cv, blockWords(bytes, offset + start, blockLen), counter, blockLen, f);
  }
  return cv;
}

function parentCV(left, right, key, flags, root) {
  const block = new Uint32Array(16);
  block.set(left, 0);
  block.set(right, 8);
  return compress(key, block, 0, BLOCK_LEN, flags | PARENT | (root ? ROOT : 0));
}

// The left subtree holds the largest power-of-two number of whole chunks that leaves at least
// one byte for the right.
function leftLen(len) {
  const fullChunks = Math.floor((len - 1) / CHUNK_LEN);
  let p = 1;
  while (p * 2 <= fullChunks) p *= 2;
  return p * CHUNK_LEN;
}

function subtree(bytes, offset, len, counter, key, flags, root) {
  if (len <= CHUNK_LEN) return chunkCV(bytes, offset, len, counter, key, flags, root);
  const l = leftLen(len);
  const left = subtree(bytes, offset, l, counter, key, flags, false);
  const right = subtree(bytes, offset + l, len - l, counter + l / CHUNK_LEN, key, flags, false);
  return parentCV(left, right, key, flags, root);
}

function wordsToBytes(words) {
  const out = new Uint8Array(32);
  for (let i = 0; i < 8; i++) {
    out[4 * i] = words[i] & 0xff;
    out[4 * i + 1] = (words[i] >>> 8) & 0xff;
    out[4 * i + 2] = (words[i] >>> 16) & 0xff;
    out[4 * i + 3] = (words[i] >>> 24) & 0xff;
  }
  return out;
}

function hashWith(message, key, flags) {
  return wordsToBytes(subtree(message, 0, message.length, 0, key, flags, true));
}

/** BLAKE3 of `message` (Uint8Array), 32 bytes. */
export function blake3(message) {
  return hashWith(message, IV, 0);
}

/** BLAKE3 keyed hash of `message` under a 32-byte `key`, 32 bytes. */
export function keyedHash(key, message) {
  if (key.length !== 32) throw new Error('a BLAKE3 key is 32 bytes');
  return hashWith(message, blockWords(key, 0, 32).subarray(0, 8), KEYED_HASH);
}

/** BLAKE3 derive_key(context, material), 32 bytes. */
export function deriveKey(context, material) {
  const contextKey = hashWith(new TextEncoder().encode(context), IV, DERIVE_KEY_CONTEXT);
  return hashWith(material, blockWords(contextKey, 0, 32).subarray(0, 8), DERIVE_KEY_MATERIAL);
}
