// The verdict on a value the node proves: checked in this browser, against the state root of the
// block the value was read at.

import * as api from './api.js';
import { bytesToHex, equalBytes, hexToBytes } from './encoding.js';
import { h, set } from './ui.js';

const roots = new Map();

/** A block's state root, fetched once per height. */
async function stateRoot(height) {
  if (!roots.has(height)) {
    roots.set(height, api.block(height).then((b) => b.state_root, (e) => {
      roots.delete(height);
      throw e;
    }));
  }
  return roots.get(height);
}

/**
 * The verdict on a served proof: the key must be the one this page asked about, the value must
 * be what the page shows (`checkValue`), and the proof must reconstruct the state root of the
 * block at the proof's height, as that block is served by /v1/blocks/{height}.
 */
export async function verify(proof, expectedKey, checkValue = () => true) {
  if (!proof) return { ok: false, why: 'the node sent no proof' };
  if (proof.key !== expectedKey) return { ok: false, why: 'the proof is for another key' };
  let same;
  try {
    same = checkValue(hexToBytes(proof.value));
  } catch (e) {
    return { ok: false, why: `the value shown cannot be checked (${e.message})` };
  }
  if (!same) return { ok: false, why: 'the proven value differs from the one shown' };
  const root = await stateRoot(proof.height);
  if (root !== proof.state_root) return { ok: false, why: `block ${proof.height} has another state root` };
  const { verifyValueProof } = await import('./proof.js');
  const ok = verifyValueProof(hexToBytes(proof.key), hexToBytes(proof.value), hexToBytes(proof.proof), hexToBytes(root));
  return ok ? { ok: true, height: proof.height } : { ok: false, why: 'the Merkle proof does not lead to the state root' };
}

/** A badge that shows the verdict once computed. */
export function verifiedMark(proof, expectedKey, checkValue, { compact = false } = {}) {
  const badge = h('span', { class: 'badge pending', role: 'status' }, 'Checking proof…');
  verify(proof, expectedKey, checkValue).then((v) => {
    badge.className = `badge ${v.ok ? 'ok' : 'bad'}`;
    set(badge, v.ok ? (compact ? '✓ verified' : `✓ Verified in this browser against block ${v.height}'s state root`) : `✗ Not verified: ${v.why}`);
    if (compact && v.ok) badge.title = `Verified in this browser against block ${v.height}'s state root`;
    badge.dataset.verified = String(v.ok);
  }, (e) => {
    badge.className = 'badge bad';
    set(badge, `✗ Not verified: ${e.message}`);
    badge.dataset.verified = 'false';
  });
  return badge;
}

export const u128le = (amount) => (bytes) => bytes.length === 16 && bytesToHex(bytes) === bytesToHex(le(BigInt(amount), 16));
function le(v, n) {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** The check that the proven value is exactly the record the page shows. */
export const sameRecord = (encode, json) => (bytes) => equalBytes(bytes, encode(json));
