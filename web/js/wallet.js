// The browser wallet's session: its key, and signing and submitting transactions with it.

import * as api from './api.js';
import { fromDid } from './encoding.js';
import { loadKey, signTx } from './keys.js';

let current;

/** The wallet's key (loaded once from IndexedDB), or null when there is none. */
export async function walletKey() {
  if (current === undefined) current = await loadKey();
  return current;
}

export function setWalletKey(key) {
  current = key;
}

/**
 * Signs `action` with the wallet's key at its next nonce (the node's pending nonce, so queued
 * transactions follow each other) and the chain's minimum fee unless `fee` is given, submits it,
 * and waits up to `waitMs` for the commit. Returns { hash, result, tx } where `result` is the
 * committed record (`ok`, `error`) or `{status: "pending"}`, and the transaction signed.
 */
export async function submit(action, { fee, waitMs = 15000 } = {}) {
  const key = await walletKey();
  if (!key) throw new Error('create or import a wallet key first');
  const [status, account] = await Promise.all([api.status(), api.account(key.did)]);
  const tx = {
    chain_id: status.chain_id,
    signer: key.publicKey,
    nonce: String(account.pending_nonce ?? account.nonce),
    // The faucet is fee-exempt where one exists (the ledger's `Params::min_fee_for`).
    fee: String(fee ?? (action.type === 'faucet' && status.params.faucet ? 0 : status.params.min_fee)),
    action,
  };
  const signed = await signTx(key, tx);
  const accepted = await api.submitTx(signed.signed);
  if (accepted.status === 'committed') return { hash: signed.hash, result: accepted, tx };
  const result = await api.tx(signed.hash, { waitMs });
  return { hash: signed.hash, result, tx };
}

/** The hex account of a did:key typed by a person; throws a readable error. */
export function accountOf(did) {
  try {
    return fromDid(did.trim());
  } catch (e) {
    throw new Error(`not an account: ${e.message}`);
  }
}
