// The browser's QMDB proof check (js/proof.js) against proofs made by cadenza-node's store,
// each with the Rust verdict (fixtures/proofs.json, written and checked by
// crates/cadenza-node/tests/web.rs): the same verdict on every valid and every tampered proof.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { hexToBytes } from '../js/encoding.js';
import { decodeProof, verifyValueProof } from '../js/proof.js';

const fixtures = JSON.parse(readFileSync(new URL('./fixtures/proofs.json', import.meta.url)));

test('fixtures hold valid and tampered proofs', () => {
  assert.equal(fixtures.format, 'cadenza-web-proof-fixtures');
  assert.ok(fixtures.cases.filter((c) => c.valid).length >= 10);
  assert.ok(fixtures.cases.filter((c) => !c.valid).length >= 6);
});

for (const c of fixtures.cases) {
  test(`${c.name}: ${c.valid ? 'verifies' : 'does not verify'}, as in Rust`, () => {
    const verdict = verifyValueProof(hexToBytes(c.key), hexToBytes(c.value), hexToBytes(c.proof), hexToBytes(c.root));
    assert.equal(verdict, c.valid);
  });
}

test('proofs span grafted chunks and several peaks', () => {
  const leaves = fixtures.cases.filter((c) => c.valid).map((c) => decodeProof(hexToBytes(c.proof)).leaves);
  assert.ok(leaves.some((l) => l > 256n), 'a log longer than one bitmap chunk');
  assert.ok(new Set(leaves.map(String)).size >= 3, 'several log sizes');
});

test('garbage never throws and never verifies', () => {
  const key = hexToBytes('0b');
  const root = new Uint8Array(32);
  for (const bytes of [new Uint8Array(0), new Uint8Array(40), Uint8Array.from({ length: 200 }, (_, i) => i * 37), new Uint8Array(12).fill(0xff)]) {
    assert.equal(verifyValueProof(key, key, bytes, root), false);
  }
});
