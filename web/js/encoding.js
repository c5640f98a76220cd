// Cadenza's canonical encoding, domain hashes and ids, exactly as `cadenza-types` defines them
// (docs/encoding.md). Values use the JSON conventions of the test vectors: byte strings are hex,
// u64/u128 are bigint or decimal strings, u8/u16/u32 are numbers. Encoders check the decoder's
// bounds before anything is signed (the Rust encoder does not; a node would refuse the result).

import { deriveKey, keyedHash } from './blake3.js';

// ---- bytes -------------------------------------------------------------------------------------

export function hexToBytes(hex) {
  if (typeof hex !== 'string') throw new TypeError('expected a hex string');
  const h = hex.startsWith('0x') ? hex.slice(2) : hex;
  if (h.length % 2 !== 0 || /[^0-9a-fA-F]/.test(h)) throw new Error(`not hex: ${hex.slice(0, 20)}`);
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.substr(2 * i, 2), 16);
  return out;
}

export function bytesToHex(bytes) {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

const utf8 = new TextEncoder();

function bytesOf(value, len, what) {
  const b = value instanceof Uint8Array ? value : hexToBytes(value);
  if (len !== undefined && b.length !== len) throw new Error(`${what} must be ${len} bytes`);
  return b;
}

const MAX = { u8: 0xffn, u16: 0xffffn, u32: 0xffffffffn, u64: (1n << 64n) - 1n, u128: (1n << 128n) - 1n };

/** An unsigned integer as a bigint, checked against its width. */
export function uint(value, width, what = 'value') {
  let v;
  if (typeof value === 'bigint') v = value;
  else if (typeof value === 'number' && Number.isSafeInteger(value)) v = BigInt(value);
  else if (typeof value === 'string' && /^[0-9]+$/.test(value)) v = BigInt(value);
  else throw new Error(`${what} must be a whole number`);
  if (v < 0n || v > MAX[width]) throw new Error(`${what} does not fit a ${width}`);
  return v;
}

/** A growing byte buffer with the canonical encoding's primitives. */
export class Writer {
  constructor() {
    this.parts = [];
  }
  bytes(b) {
    this.parts.push(b);
    return this;
  }
  int(value, width, what) {
    let v = uint(value, width, what);
    const n = { u8: 1, u16: 2, u32: 4, u64: 8, u128: 16 }[width];
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      out[i] = Number(v & 0xffn);
      v >>= 8n;
    }
    return this.bytes(out);
  }
  u8(v, what) { return this.int(v, 'u8', what); }
  u32(v, what) { return this.int(v, 'u32', what); }
  u64(v, what) { return this.int(v, 'u64', what); }
  u128(v, what) { return this.int(v, 'u128', what); }
  fixed(value, len, what) { return this.bytes(bytesOf(value, len, what)); }
  id(value, what = 'id') { return this.fixed(value, 32, what); }
  string(text, max, what) {
    const b = utf8.encode(text);
    if (max !== undefined && b.length > max) throw new Error(`${what} is ${b.length} bytes; the limit is ${max}`);
    return this.u32(b.length).bytes(b);
  }
  option(value, put) {
    if (value === null || value === undefined) return this.u8(0);
    this.u8(1);
    put(value);
    return this;
  }
  list(items, max, what, put) {
    if (max !== undefined && items.length > max) throw new Error(`${what}: ${items.length} items; the limit is ${max}`);
    this.u32(items.length);
    for (const item of items) put(item);
    return this;
  }
  finish() {
    return concat(...this.parts);
  }
}

// ---- domains and hashes ------------------------------------------------------------------------

export const DOMAINS = {
  tx: 'cadenza/tx/v1',
  voucher: 'cadenza/voucher/v1',
  receipts: 'cadenza/receipts/v1',
  track: 'cadenza/track/v1',
  channel: 'cadenza/channel/v1',
  asset: 'cadenza/asset/v1',
  module: 'cadenza/module/v1',
  state: 'cadenza/state/v1',
  batchSeed: 'cadenza/batch-seed/v1',
};

const domainKeys = new Map();

/** The 32-byte key of a domain: BLAKE3 derive_key(context, ""). */
export function domainKey(context) {
  let key = domainKeys.get(context);
  if (!key) {
    key = deriveKey(context, new Uint8Array(0));
    domainKeys.set(context, key);
  }
  return key;
}

/** H_d(message): BLAKE3 keyed by the domain's key. */
export function domainHash(context, message) {
  return keyedHash(domainKey(context), message);
}

// ---- ids ---------------------------------------------------------------------------------------

export const moduleAccount = (name) => bytesToHex(domainHash(DOMAINS.module, utf8.encode(name)));
export const genesisAssetId = (symbol) =>
  bytesToHex(domainHash(DOMAINS.asset, concat(Uint8Array.of(0), utf8.encode(symbol))));
export const issuedAssetId = (issuer, symbol) =>
  bytesToHex(domainHash(DOMAINS.asset, concat(Uint8Array.of(1), bytesOf(issuer, 32, 'issuer'), utf8.encode(symbol))));
export const sharesAssetId = (track) =>
  bytesToHex(domainHash(DOMAINS.asset, concat(Uint8Array.of(2), bytesOf(track, 32, 'track'))));
export const trackId = (essenceId) => bytesToHex(domainHash(DOMAINS.track, bytesOf(essenceId, 32, 'essence id')));
export const channelId = (owner, nonce) =>
  bytesToHex(domainHash(DOMAINS.channel, new Writer().id(owner, 'owner').u64(nonce, 'nonce').finish()));

// ---- chain id, licence, receipts, vouchers -----------------------------------------------------

function chainId(w, id) {
  if (!/^[a-z0-9-]{1,32}$/.test(id)) throw new Error('a chain id is 1 to 32 of a-z, 0-9 and -');
  return w.string(id);
}

export const USES = { stream: 1, download: 2, sync: 4, remix: 8 };

function licence(w, l) {
  if ((l.uses & ~0x0f) !== 0) throw new Error('licence uses: only bits 0 to 3 may be set');
  w.id(l.price.asset, 'price asset').u128(l.price.amount, 'price').u8(l.uses, 'uses');
  w.list(l.territories, 64, 'territories', (t) => {
    if (!/^[A-Z]{2}$/.test(t)) throw new Error(`territory ${t}: two letters A-Z`);
    w.bytes(utf8.encode(t));
  });
  w.u64(l.valid_from_ms, 'valid_from_ms');
  w.option(l.valid_until_ms, (v) => w.u64(v, 'valid_until_ms'));
  w.string(l.url, 512, 'licence URL');
  return w.u32(l.min_play_ms, 'min_play_ms');
}

export const encodeLicence = (l) => licence(new Writer(), l).finish();

function receipt(w, r) {
  return w.id(r.track, 'track').u128(r.amount, 'amount').u64(r.played_ms, 'played_ms').u64(r.at_ms, 'at_ms');
}

/** A receipt's 64-byte encoding. */
export const encodeReceipt = (r) => receipt(new Writer(), r).finish();

/** h0 of a channel's receipt chain. */
export const chainStart = (channel) => domainHash(DOMAINS.receipts, bytesOf(channel, 32, 'channel'));

/** The next head: H_receipts(head ‖ receipt). */
export const chainNext = (head, r) => domainHash(DOMAINS.receipts, concat(bytesOf(head, 32, 'head'), encodeReceipt(r)));

/** A channel's receipt chain: seq, cumulative and head after the receipts given so far. */
export class ReceiptChain {
  constructor(channel, { seq = 0n, cumulative = 0n, head } = {}) {
    this.channel = bytesToHex(bytesOf(channel, 32, 'channel'));
    this.seq = BigInt(seq);
    this.cumulative = BigInt(cumulative);
    this.head = head ? bytesToHex(bytesOf(head, 32, 'head')) : bytesToHex(chainStart(channel));
  }
  push(r) {
    this.head = bytesToHex(chainNext(this.head, r));
    this.seq += 1n;
    this.cumulative += uint(r.amount, 'u128', 'amount');
    return this;
  }
  voucher(chain_id) {
    return { chain_id, channel: this.channel, seq: this.seq, cumulative: this.cumulative, head: this.head };
  }
}

function voucher(w, v) {
  chainId(w, v.chain_id);
  return w.id(v.channel, 'channel').u64(v.seq, 'seq').u128(v.cumulative, 'cumulative').id(v.head, 'head');
}

export const encodeVoucher = (v) => voucher(new Writer(), v).finish();
export const voucherSigningHash = (v) => domainHash(DOMAINS.voucher, encodeVoucher(v));

function signedVoucher(w, sv) {
  return voucher(w, sv.voucher).fixed(sv.signature, 64, 'signature');
}

/** One channel update: signed voucher ‖ receipts; what `POST /v1/channels/{id}/vouchers` takes. */
function channelUpdate(w, u) {
  signedVoucher(w, u.voucher);
  return w.list(u.receipts, 100000, 'receipts', (r) => receipt(w, r));
}

export const encodeChannelUpdate = (u) => channelUpdate(new Writer(), u).finish();

// ---- transactions ------------------------------------------------------------------------------

export const ACTION_TAGS = {
  transfer: 0,
  create_asset: 1,
  mint: 2,
  burn: 3,
  faucet: 4,
  register_track: 5,
  update_licence: 6,
  open_channel: 7,
  top_up: 8,
  close_channel: 9,
  withdraw: 10,
  settle_channels: 11,
  claim: 12,
};

function action(w, a) {
  const tag = ACTION_TAGS[a.type];
  if (tag === undefined) throw new Error(`unknown action ${a.type}`);
  w.u8(tag);
  switch (a.type) {
    case 'transfer':
      return w.id(a.to, 'to').id(a.asset, 'asset').u128(a.amount, 'amount');
    case 'create_asset':
      return w.string(a.symbol, 12, 'symbol').u8(a.decimals, 'decimals');
    case 'mint':
      return w.id(a.asset, 'asset').id(a.to, 'to').u128(a.amount, 'amount');
    case 'burn':
      return w.id(a.asset, 'asset').u128(a.amount, 'amount');
    case 'faucet':
      return w;
    case 'register_track': {
      w.id(a.essence_id, 'essence id').id(a.blob_id, 'blob id');
      w.string(a.metadata.title, 256, 'title').string(a.metadata.artist, 256, 'artist');
      w.option(a.metadata.isrc, (isrc) => w.string(isrc, 12, 'ISRC'));
      licence(w, a.licence);
      return w.list(a.holders, 64, 'holders', (h) => w.id(h.account, 'holder').u32(h.shares, 'shares'));
    }
    case 'update_licence':
      return licence(w.id(a.track, 'track'), a.licence);
    case 'open_channel':
      return w.id(a.provider, 'provider').id(a.asset, 'asset').u128(a.deposit, 'deposit').u64(a.expiry_ms, 'expiry_ms');
    case 'top_up':
      return w.id(a.channel, 'channel').u128(a.amount, 'amount');
    case 'close_channel':
    case 'withdraw':
      return w.id(a.channel, 'channel');
    case 'settle_channels':
      return w.list(a.updates, 4096, 'channel updates', (u) => channelUpdate(w, u));
    case 'claim':
      return w.id(a.track, 'track').id(a.asset, 'asset');
  }
  throw new Error('unreachable');
}

/** A transaction's canonical encoding. */
export function encodeTx(tx) {
  const w = new Writer();
  chainId(w, tx.chain_id);
  w.id(tx.signer, 'signer').u64(tx.nonce, 'nonce').u128(tx.fee, 'fee');
  return action(w, tx.action).finish();
}

/** The transaction hash: the tx id and the message that is signed. */
export const txHash = (tx) => domainHash(DOMAINS.tx, encodeTx(tx));

// ---- did:key -----------------------------------------------------------------------------------

const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

export function base58btc(bytes) {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  let s = '';
  while (n > 0n) {
    s = B58[Number(n % 58n)] + s;
    n /= 58n;
  }
  for (const b of bytes) {
    if (b !== 0) break;
    s = '1' + s;
  }
  return s;
}

export function base58btcDecode(text) {
  let n = 0n;
  for (const c of text) {
    const i = B58.indexOf(c);
    if (i < 0) throw new Error('not base58');
    n = n * 58n + BigInt(i);
  }
  const out = [];
  while (n > 0n) {
    out.unshift(Number(n & 0xffn));
    n >>= 8n;
  }
  for (const c of text) {
    if (c !== '1') break;
    out.unshift(0);
  }
  return Uint8Array.from(out);
}

/** An account's did:key: "did:key:z" ‖ base58btc(0xed 0x01 ‖ key). */
export const toDid = (publicKey) => 'did:key:z' + base58btc(concat(Uint8Array.of(0xed, 0x01), bytesOf(publicKey, 32, 'public key')));

/** The 32-byte account of a did:key (hex); throws on anything else. */
export function fromDid(did) {
  if (!did.startsWith('did:key:z')) throw new Error('a did:key starts with did:key:z');
  const b = base58btcDecode(did.slice(9));
  if (b.length !== 34 || b[0] !== 0xed || b[1] !== 0x01) throw new Error('not an ed25519 did:key');
  return bytesToHex(b.subarray(2));
}

// ---- state keys (cadenza-ledger records.rs) ----------------------------------------------------

export const stateKeys = {
  account: (account) => '01' + account,
  balance: (account, asset) => '02' + account + asset,
  asset: (asset) => '03' + asset,
  track: (track) => '04' + track,
  channel: (channel) => '06' + channel,
  tx: (hash) => '0c' + hash,
};

// ---- amounts -----------------------------------------------------------------------------------

/** Base units as whole units with `decimals` places, trailing zeros trimmed: 1250000, 6 → "1.25". */
export function formatUnits(amount, decimals) {
  const v = BigInt(amount);
  const d = 10n ** BigInt(decimals);
  const whole = v / d;
  const frac = (v % d).toString().padStart(decimals, '0').replace(/0+$/, '');
  return frac ? `${whole}.${frac}` : `${whole}`;
}

/** "1.25" with `decimals` places → base units (bigint); refuses more precision than the asset. */
export function parseUnits(text, decimals) {
  const m = /^\s*([0-9]+)(?:\.([0-9]*))?\s*$/.exec(text);
  if (!m) throw new Error('an amount is a positive number like 1.25');
  const frac = m[2] || '';
  if (frac.length > decimals) throw new Error(`this asset has ${decimals} decimal places`);
  return uint(BigInt(m[1]) * 10n ** BigInt(decimals) + BigInt(frac.padEnd(decimals, '0') || '0'), 'u128', 'amount');
}
