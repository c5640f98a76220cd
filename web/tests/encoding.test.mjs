// The JavaScript encoding, hashing and signing against the Rust test vectors
// (crates/cadenza-types/testdata/vectors.json, generated and checked by cadenza-types' tests).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { blake3, keyedHash } from '../js/blake3.js';
import * as enc from '../js/encoding.js';
import { exportBackup, importBackup, keyFromSeed, signTx, signVoucher } from '../js/keys.js';

const vectors = JSON.parse(
  readFileSync(new URL('../../crates/cadenza-types/testdata/vectors.json', import.meta.url)),
);
const hex = enc.bytesToHex;
const keys = Object.fromEntries(vectors.keys.map((k) => [k.name, k]));

test('vectors file is the expected format', () => {
  assert.equal(vectors.format, 'cadenza-test-vectors');
  assert.equal(vectors.version, 1);
});

test('BLAKE3 plain hash of the empty message and of several chunks', () => {
  assert.equal(hex(blake3(new Uint8Array(0))), 'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262');
  // The official BLAKE3 test vector input (i mod 251), 1,025 bytes: two chunks.
  const input = Uint8Array.from({ length: 1025 }, (_, i) => i % 251);
  assert.equal(hex(blake3(input)), 'd00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444');
});

test('domain keys', () => {
  for (const d of vectors.domains) assert.equal(hex(enc.domainKey(d.context)), d.key, d.context);
  assert.equal(Object.keys(enc.DOMAINS).length, vectors.domains.length);
  for (const context of Object.values(enc.DOMAINS)) assert.ok(vectors.domains.some((d) => d.context === context));
});

test('domain hashes, including a multi-chunk message', () => {
  for (const d of vectors.domain_hashes) {
    const m = enc.hexToBytes(d.message);
    assert.equal(hex(enc.domainHash(d.context, m)), d.hash, `${d.context} over ${m.length} bytes`);
    assert.equal(hex(keyedHash(enc.domainKey(d.context), m)), d.hash);
  }
  assert.ok(vectors.domain_hashes.some((d) => d.message.length / 2 > 2048));
});

test('keys: public key and did:key from the seed', async () => {
  for (const k of vectors.keys) {
    const key = await keyFromSeed(k.seed);
    assert.equal(key.publicKey, k.public_key, k.name);
    assert.equal(key.did, k.did, k.name);
    assert.equal(enc.toDid(k.public_key), k.did);
    assert.equal(enc.fromDid(k.did), k.public_key);
    assert.equal(hex(await key.seed()), k.seed);
  }
  assert.throws(() => enc.fromDid('did:key:z6Mk'), /ed25519/);
  assert.throws(() => enc.fromDid('did:web:example.com'));
});

test('ids: module accounts, assets, tracks, channels', () => {
  for (const m of vectors.ids.module_accounts) {
    assert.equal(enc.moduleAccount(m.name), m.account);
    assert.equal(enc.toDid(m.account), m.did);
  }
  for (const a of vectors.ids.assets) {
    const id = a.kind === 'genesis' ? enc.genesisAssetId(a.symbol)
      : a.kind === 'issued' ? enc.issuedAssetId(a.issuer, a.symbol)
        : enc.sharesAssetId(a.track);
    assert.equal(id, a.asset_id, JSON.stringify(a));
  }
  for (const t of vectors.ids.tracks) assert.equal(enc.trackId(t.essence_id), t.track_id);
  for (const c of vectors.ids.channels) assert.equal(enc.channelId(c.owner, c.nonce), c.channel_id);
});

test('licences and receipts', () => {
  for (const l of vectors.licences) assert.equal(hex(enc.encodeLicence(l.licence)), l.encoding, l.name);
  for (const r of vectors.receipts) {
    assert.equal(hex(enc.encodeReceipt(r.receipt)), r.encoding, r.name);
    assert.equal(r.encoding.length, 128);
  }
});

test('receipt chains', () => {
  for (const c of vectors.receipt_chains) {
    assert.equal(hex(enc.chainStart(c.channel)), c.h0, c.name);
    const chain = new enc.ReceiptChain(c.channel);
    for (const link of c.links) {
      assert.equal(hex(enc.encodeReceipt(link.receipt)), link.encoding);
      assert.equal(hex(enc.concat(enc.hexToBytes(chain.head), enc.encodeReceipt(link.receipt))), link.message);
      chain.push(link.receipt);
      assert.equal(chain.head, link.head);
    }
    assert.equal(chain.seq.toString(), c.seq);
    assert.equal(chain.cumulative.toString(), c.cumulative);
    assert.equal(chain.head, c.head);
  }
});

test('vouchers: encoding, signing hash and signature', async () => {
  for (const v of vectors.vouchers) {
    assert.equal(hex(enc.encodeVoucher(v.voucher)), v.encoding, v.name);
    assert.equal(hex(enc.voucherSigningHash(v.voucher)), v.signing_hash, v.name);
    const key = await keyFromSeed(keys[v.key].seed);
    assert.equal(key.publicKey, v.signer);
    const signed = await signVoucher(key, v.voucher);
    assert.equal(signed.signature, v.signature, v.name);
    assert.equal(signed.encoding + signed.signature, v.signed_encoding);
  }
});

test('transactions: every action, encoding, hash, signature and signed encoding', async () => {
  const seen = new Set();
  for (const t of vectors.transactions) {
    seen.add(t.tx.action.type);
    const encoding = enc.encodeTx(t.tx);
    assert.equal(hex(encoding), t.encoding, t.name);
    assert.equal(encoding[4 + t.tx.chain_id.length + 32 + 8 + 16], t.action_tag, t.name);
    assert.equal(hex(enc.txHash(t.tx)), t.hash, t.name);
    const key = await keyFromSeed(keys[t.key].seed);
    const signed = await signTx(key, t.tx);
    assert.equal(signed.hash, t.hash);
    assert.equal(signed.signature, t.signature, t.name);
    assert.equal(signed.signed, t.signed_encoding, t.name);
  }
  assert.deepEqual([...seen].sort(), Object.keys(enc.ACTION_TAGS).sort(), 'a vector for every action');
});

test('channel updates as a provider receives them', () => {
  const settle = vectors.transactions.find((t) => t.tx.action.type === 'settle_channels' && t.tx.action.updates.length);
  const update = settle.tx.action.updates[0];
  const bytes = hex(enc.encodeChannelUpdate(update));
  // The update is the SettleChannels payload after its tag and count.
  assert.ok(settle.encoding.includes(bytes));
});

test('bounds are checked before signing', () => {
  const base = vectors.transactions[0].tx;
  assert.throws(() => enc.encodeTx({ ...base, chain_id: 'Cadenza' }), /chain id/);
  assert.throws(() => enc.encodeTx({ ...base, nonce: '18446744073709551616' }), /u64/);
  assert.throws(() => enc.encodeTx({ ...base, fee: '-1' }), /whole number/);
  assert.throws(() => enc.encodeTx({ ...base, action: { type: 'create_asset', symbol: 'X'.repeat(13), decimals: 2 } }), /limit/);
  assert.throws(() => enc.encodeTx({ ...base, action: { type: 'nope' } }), /unknown action/);
});

test('amounts in whole units', () => {
  assert.equal(enc.formatUnits('1250000', 6), '1.25');
  assert.equal(enc.formatUnits(100n, 0), '100');
  assert.equal(enc.parseUnits('1.25', 6), 1250000n);
  assert.throws(() => enc.parseUnits('1.2345678', 6), /decimal places/);
  assert.throws(() => enc.parseUnits('-1', 6));
});

test('key backup: round trip, wrong passphrase refused', async () => {
  const key = await keyFromSeed(keys.alice.seed);
  const backup = await exportBackup(key, 'correct horse', { iterations: 1000 });
  assert.ok(!backup.includes(keys.alice.seed), 'the seed is not in the backup in the clear');
  const back = await importBackup(backup, 'correct horse');
  assert.equal(back.did, keys.alice.did);
  await assert.rejects(importBackup(backup, 'wrong horse!'), /wrong passphrase/);
  await assert.rejects(importBackup('{"format":"x"}', 'whatever1'), /not a Cadenza key backup/);
});
