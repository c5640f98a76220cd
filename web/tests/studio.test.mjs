// The studio's check of the licence claim the node prepares: the page signs only a claim that
// says exactly what the artist asked (issuer, recording, chain, track, price, uses, URL, ISRC).
// The accepting case against the real node is in the browser test (tests/e2e/app.e2e.mjs).

import assert from 'node:assert/strict';
import test from 'node:test';

import { USES } from '../js/encoding.js';
import { checkSigningInput } from '../js/pages/studio.js';

const did = 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK';
const want = {
  did,
  essence: 'ab'.repeat(32),
  chain: 'cadenza-devnet',
  track: 'cd'.repeat(32),
  isrc: 'GBAYE2400001',
  licence: {
    price: { asset: 'ef'.repeat(32), amount: '3000' },
    uses: USES.stream | USES.sync,
    url: 'https://example.org/licence',
    min_play_ms: 3000,
  },
};

const b64url = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
function input(change = (c) => c) {
  const header = { alg: 'EdDSA', typ: 'cadenza-licence+jwt', kid: did };
  const claim = change({
    iss: did,
    essence: { v: 1, id: want.essence },
    isrc: want.isrc,
    licence: {
      price: { asset: want.licence.price.asset, amount: '3000' },
      uses: ['stream', 'sync'],
      territories: [],
      valid_from_ms: 0,
      valid_until_ms: null,
      url: want.licence.url,
      min_play_ms: 3000,
    },
    ledger: { chain: want.chain, track: want.track },
  });
  return `${b64url(header)}.${b64url(claim)}`;
}

test('a claim that says what was asked is accepted', () => {
  checkSigningInput(input(), want);
});

test('a claim that differs in any term is refused, naming the term', () => {
  const cases = [
    ['price', (c) => ({ ...c, licence: { ...c.licence, price: { ...c.licence.price, amount: '30000' } } })],
    ['issuer', (c) => ({ ...c, iss: 'did:key:z6MkpTHR8VNsBxYAAWHut2Geadd9jSwuBV8xRoAnwWsdvktH' })],
    ['track', (c) => ({ ...c, ledger: { ...c.ledger, track: '00'.repeat(32) } })],
    ['chain', (c) => ({ ...c, ledger: { ...c.ledger, chain: 'cadenza-main' } })],
    ['uses', (c) => ({ ...c, licence: { ...c.licence, uses: ['stream', 'download', 'sync'] } })],
    ['ISRC', (c) => ({ ...c, isrc: null })],
    ['essence id', (c) => ({ ...c, essence: { v: 1, id: '11'.repeat(32) } })],
  ];
  for (const [what, change] of cases) {
    assert.throws(() => checkSigningInput(input(change), want), new RegExp(`another ${what} `), what);
  }
  assert.throws(() => checkSigningInput('not-a-jws', want), /not a JWS/);
});
