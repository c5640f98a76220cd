// Paying per stream: a payment channel with the node's provider, and for each stream that
// reaches the licence's minimum play time a receipt, the next link of the channel's receipt
// chain, and a voucher over it signed by the listener (DESIGN section 6), sent to the provider
// as one channel update (POST /v1/channels/{id}/vouchers).
//
// The chain's state (seq, cumulative, head) is kept in this browser per channel; an update that
// was signed but not acknowledged is kept too and sent again before the next one, so the chain
// the provider holds and this one never part.

import * as api from './api.js';
import {
  ReceiptChain, bytesToHex, channelId, encodeChannelUpdate, fromDid,
} from './encoding.js';
import { signVoucher } from './keys.js';
import { submit, walletKey } from './wallet.js';

const STREAMS_PER_DEPOSIT = 10n;
const CHANNEL_DAYS = 30;
const storageKey = (owner, provider, asset) => `cadenza.channel.${owner}.${provider}.${asset}`;

function load(key) {
  try {
    return JSON.parse(localStorage.getItem(key));
  } catch {
    return null;
  }
}

function save(key, state) {
  localStorage.setItem(key, JSON.stringify(state));
}

/** The provider this node runs (the devnet's validator key), as a did:key. */
export async function provider() {
  const p = await api.get('/v1/provider');
  return p.account;
}

/** The least play time that makes a stream: the licence's, and never under the chain's. */
export async function minPlayMs(track) {
  const status = await api.status();
  return Math.max(Number(track.licence.min_play_ms), Number(status.params.min_play_ms));
}

/**
 * The open channel this wallet pays `track`'s price from, opening one (a deposit of ten streams)
 * when there is none with funds left. Returns the channel's local state.
 */
export async function channelFor(track, { onStep = () => {} } = {}) {
  const key = await walletKey();
  if (!key) throw new Error('create a wallet first (Wallet page), then fund it from the faucet');
  const providerDid = await provider();
  const { asset, amount: price } = track.licence.price;
  const sk = storageKey(key.publicKey, providerDid, asset);
  let state = load(sk);
  if (state) {
    try {
      const c = await api.channel(state.channel);
      const left = BigInt(c.deposit.amount) - BigInt(state.cumulative);
      if (!c.closed_ms && left >= BigInt(price) && Number(c.expiry_ms) > Date.now() + 60000) return { ...state, storageKey: sk, onChain: c };
    } catch (e) {
      if (e.status !== 404) throw e;
    }
  }
  onStep('Opening a payment channel with the provider…');
  const deposit = BigInt(price) * STREAMS_PER_DEPOSIT;
  const { hash, result, tx } = await submit({
    type: 'open_channel',
    provider: fromDid(providerDid),
    asset,
    deposit: deposit.toString(),
    expiry_ms: String(Date.now() + CHANNEL_DAYS * 86400000),
  });
  if (result.status !== 'committed') throw new Error(`the channel is not open yet (transaction ${hash} pending)`);
  if (!result.ok) throw Object.assign(new Error(result.error?.message ?? 'the channel could not be opened'), { code: result.error?.code });
  const channel = channelId(key.publicKey, tx.nonce);
  const chain = new ReceiptChain(channel);
  state = { channel, provider: providerDid, asset, seq: '0', cumulative: '0', head: chain.head, pending: null, openedBy: hash };
  save(sk, state);
  return { ...state, storageKey: sk, onChain: await api.channel(channel) };
}

async function send(state, update) {
  return api.submitVoucher(state.channel, update.hex);
}

/**
 * Pays for one stream of `track` played for `playedMs`: the receipt, the voucher over the chain,
 * the provider's acknowledgement. Returns { receipt, voucher, ack }.
 */
export async function payForStream(state, track, playedMs) {
  const key = await walletKey();
  const status = await api.status();
  // An update signed earlier and not acknowledged goes first.
  if (state.pending) {
    await send(state, state.pending);
    Object.assign(state, state.pending.after, { pending: null });
    save(state.storageKey, strip(state));
  }
  const receipt = {
    track: track.id,
    amount: track.licence.price.amount,
    played_ms: String(Math.floor(playedMs)),
    at_ms: String(Date.now()),
  };
  const chain = new ReceiptChain(state.channel, { seq: state.seq, cumulative: state.cumulative, head: state.head });
  chain.push(receipt);
  const voucher = chain.voucher(status.chain_id);
  const signed = await signVoucher(key, voucher);
  const hex = bytesToHex(encodeChannelUpdate({ voucher: { voucher, signature: signed.signature }, receipts: [receipt] }));
  const after = { seq: chain.seq.toString(), cumulative: chain.cumulative.toString(), head: chain.head };
  state.pending = { hex, after };
  save(state.storageKey, strip(state));
  const ack = await send(state, state.pending);
  Object.assign(state, after, { pending: null });
  save(state.storageKey, strip(state));
  return { receipt, voucher: { ...voucher, seq: voucher.seq.toString(), cumulative: voucher.cumulative.toString() }, ack };
}

function strip(state) {
  const { storageKey: _k, onChain: _c, ...rest } = state;
  return rest;
}

/** The audio URL of a track, paid from `channel`: the node serves it while the channel's credit lasts. */
export const audioUrl = (trackId, channel) => `/v1/tracks/${encodeURIComponent(trackId)}/audio?channel=${encodeURIComponent(channel)}`;

/** Why the audio did not play, from the node's JSON answer (402 payment_required, 404, …). */
export async function audioProblem(url) {
  try {
    const res = await fetch(url, { headers: { range: 'bytes=0-0' } });
    if (res.ok) return null;
    const body = await res.json().catch(() => null);
    if (res.status === 402) return `the provider asks for payment first: ${body?.error?.message ?? 'payment required'}`;
    if (body?.error?.code === 'unknown_route') return 'this node does not serve audio yet';
    return body?.error?.message ?? `the node answered ${res.status}`;
  } catch {
    return 'the node is not answering';
  }
}
