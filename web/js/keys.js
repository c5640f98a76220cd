// The browser wallet's key: Ed25519 through WebCrypto (deterministic RFC 8032 signatures, so they
// equal the Rust ones), kept in IndexedDB, with a passphrase-encrypted backup.

import {
  bytesToHex, concat, encodeTx, encodeVoucher, hexToBytes, toDid, txHash, voucherSigningHash,
} from './encoding.js';

const subtle = globalThis.crypto.subtle;
const ED25519 = { name: 'Ed25519' };
// PKCS#8 wrapping of a raw 32-byte Ed25519 seed (RFC 8410): the only private form WebCrypto imports.
const PKCS8_PREFIX = hexToBytes('302e020100300506032b657004220420');

/** Whether this browser signs Ed25519 in WebCrypto. */
export async function ed25519Supported() {
  try {
    await subtle.generateKey(ED25519, false, ['sign', 'verify']);
    return true;
  } catch {
    return false;
  }
}

function b64urlToBytes(text) {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((text.length + 3) % 4);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

/** A wallet key: the WebCrypto private key and the 32-byte public key (hex) it signs for. */
export class Key {
  constructor(privateKey, publicKey) {
    this.privateKey = privateKey;
    this.publicKey = publicKey;
  }
  get did() {
    return toDid(this.publicKey);
  }
  /** Ed25519 over exactly these bytes (a 32-byte hash); 64 bytes. */
  async sign(message) {
    return new Uint8Array(await subtle.sign(ED25519, this.privateKey, message));
  }
  /** The 32-byte seed (only for a backup). */
  async seed() {
    const pkcs8 = new Uint8Array(await subtle.exportKey('pkcs8', this.privateKey));
    return pkcs8.subarray(pkcs8.length - 32);
  }
}

/** A new random key (extractable, so that it can be backed up). */
export async function generateKey() {
  const pair = await subtle.generateKey(ED25519, true, ['sign', 'verify']);
  const pub = new Uint8Array(await subtle.exportKey('raw', pair.publicKey));
  return new Key(pair.privateKey, bytesToHex(pub));
}

/** The key of a 32-byte seed (the RFC 8032 private key). */
export async function keyFromSeed(seed) {
  const raw = typeof seed === 'string' ? hexToBytes(seed) : seed;
  if (raw.length !== 32) throw new Error('an Ed25519 seed is 32 bytes');
  const privateKey = await subtle.importKey('pkcs8', concat(PKCS8_PREFIX, raw), ED25519, true, ['sign']);
  const jwk = await subtle.exportKey('jwk', privateKey);
  return new Key(privateKey, bytesToHex(b64urlToBytes(jwk.x)));
}

/** Signs a transaction: its hash, signature and the signed encoding (hex, for `POST /v1/txs`). */
export async function signTx(key, tx) {
  if (tx.signer !== key.publicKey) throw new Error('the transaction names another signer');
  const hash = txHash(tx);
  const signature = await key.sign(hash);
  return {
    hash: bytesToHex(hash),
    signature: bytesToHex(signature),
    signed: bytesToHex(concat(encodeTx(tx), signature)),
  };
}

/** Signs a voucher: `{voucher, signature}` (a SignedVoucher in the vectors' JSON form). */
export async function signVoucher(key, voucher) {
  const signature = await key.sign(voucherSigningHash(voucher));
  return { voucher, signature: bytesToHex(signature), encoding: bytesToHex(encodeVoucher(voucher)) };
}

// ---- backup ------------------------------------------------------------------------------------

export const BACKUP_FORMAT = 'cadenza-web-key-backup';
const ITERATIONS = 600000;

async function backupKey(passphrase, salt, iterations) {
  const material = await subtle.importKey('raw', new TextEncoder().encode(passphrase), 'PBKDF2', false, ['deriveKey']);
  return subtle.deriveKey(
    { name: 'PBKDF2', hash: 'SHA-256', salt, iterations },
    material,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  );
}

/** A JSON backup of `key`: its seed under AES-256-GCM with a PBKDF2-SHA-256 key of the passphrase. */
export async function exportBackup(key, passphrase, { iterations = ITERATIONS } = {}) {
  if (!passphrase || passphrase.length < 8) throw new Error('choose a passphrase of at least 8 characters');
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const aes = await backupKey(passphrase, salt, iterations);
  const did = key.did;
  const ciphertext = new Uint8Array(
    await subtle.encrypt({ name: 'AES-GCM', iv, additionalData: new TextEncoder().encode(did) }, aes, await key.seed()),
  );
  return JSON.stringify({
    format: BACKUP_FORMAT,
    version: 1,
    did,
    kdf: { name: 'PBKDF2-SHA-256', iterations, salt: bytesToHex(salt) },
    cipher: { name: 'AES-256-GCM', iv: bytesToHex(iv) },
    ciphertext: bytesToHex(ciphertext),
  }, null, 2);
}

/** The key in a backup; throws a clear error on a wrong passphrase or a damaged file. */
export async function importBackup(text, passphrase) {
  let b;
  try {
    b = JSON.parse(text);
  } catch {
    throw new Error('this file is not a Cadenza key backup (not JSON)');
  }
  if (b?.format !== BACKUP_FORMAT || b.version !== 1) throw new Error('this file is not a Cadenza key backup');
  const aes = await backupKey(passphrase, hexToBytes(b.kdf.salt), b.kdf.iterations);
  let seed;
  try {
    seed = new Uint8Array(await subtle.decrypt(
      { name: 'AES-GCM', iv: hexToBytes(b.cipher.iv), additionalData: new TextEncoder().encode(b.did) },
      aes,
      hexToBytes(b.ciphertext),
    ));
  } catch {
    throw new Error('wrong passphrase, or the backup is damaged');
  }
  const key = await keyFromSeed(seed);
  if (key.did !== b.did) throw new Error('the backup does not hold the key it names');
  return key;
}

// ---- IndexedDB ---------------------------------------------------------------------------------

const DB = 'cadenza-wallet';
const STORE = 'keys';

function openDb() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function withStore(mode, f) {
  const db = await openDb();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = f(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req?.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

/** The wallet's stored key, or null. The CryptoKey object itself is stored (structured clone). */
export async function loadKey() {
  const rec = await withStore('readonly', (s) => s.get('default'));
  return rec ? new Key(rec.privateKey, rec.publicKey) : null;
}

export async function saveKey(key) {
  await withStore('readwrite', (s) => s.put({ privateKey: key.privateKey, publicKey: key.publicKey }, 'default'));
}

export async function forgetKey() {
  await withStore('readwrite', (s) => s.delete('default'));
}
