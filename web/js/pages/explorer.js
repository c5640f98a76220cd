// Explorer: blocks, transactions, accounts, tracks and channels. Every value read from the state
// comes with a Merkle proof (`?proof=true`); the page checks it here, in the browser, against
// the state root of the block it was read at (js/verify.js, js/proof.js), and marks it verified
// or not.

import * as api from '../api.js';
import { fromDid, stateKeys } from '../encoding.js';
import * as records from '../records.js';
import { errorBox, fields, h, set, short, table, time } from '../ui.js';
import { sameRecord, u128le, verifiedMark } from '../verify.js';

const LATEST = 10;
const link = {
  block: (height) => `#/explorer/block/${height}`,
  tx: (hash) => `#/explorer/tx/${hash}`,
  account: (did) => `#/explorer/account/${encodeURIComponent(did)}`,
  track: (id) => `#/explorer/track/${id}`,
  channel: (id) => `#/explorer/channel/${id}`,
  asset: (id) => `#/explorer/asset/${id}`,
};

const amountText = (a) => (a ? a.display ?? `${a.amount} (${short(a.asset).textContent})` : '—');

// ---- views ---------------------------------------------------------------------------------------

async function home(root) {
  const q = h('input', { id: 'lookup', type: 'search', placeholder: 'Height, hash, did:key, track, channel or asset id', autocomplete: 'off', spellcheck: 'false' });
  const out = h('div', {});
  // Not a live region: a devnet commits several blocks a second, too many to announce.
  const blocks = h('div', {}, h('p', { class: 'loading' }, 'Loading the latest blocks…'));
  root.append(h('h1', {}, 'Explorer'),
    h('form', {
      role: 'search', class: 'search',
      onsubmit: (e) => {
        e.preventDefault();
        lookup(q.value.trim(), out);
      },
    }, h('label', { for: 'lookup', class: 'visually-hidden' }, 'Look up'), q, h('button', { type: 'submit' }, 'Go')),
    out,
    h('h2', {}, 'Latest blocks'), blocks);
  let latest = [];
  function draw() {
    set(blocks, table('Latest blocks', ['Height', 'Time', 'Transactions', 'State root'], latest.map((b) => [
      h('a', { href: link.block(b.height) }, String(b.height)), time(b.timestamp_ms), String(b.txs.length), short(b.state_root),
    ])));
  }
  try {
    const top = await api.block('latest');
    const heights = [];
    for (let i = 1; i < LATEST && top.height - i >= 0; i++) heights.push(top.height - i);
    const older = await Promise.all(heights.map((x) => api.block(x).catch(() => null)));
    latest = [top, ...older.filter(Boolean)];
    draw();
  } catch (e) {
    set(blocks, errorBox(e));
  }
  // Redrawn at most once a second, however fast blocks come.
  let timer = null;
  const off = api.onBlock((b) => {
    latest = [b, ...latest.filter((x) => x.height !== b.height)].slice(0, LATEST);
    timer ??= setTimeout(() => {
      timer = null;
      draw();
    }, 1000);
  });
  return () => {
    clearTimeout(timer);
    off();
  };
}

async function lookup(text, out) {
  set(out);
  if (/^[0-9]+$/.test(text)) return void (location.hash = link.block(text));
  if (text.startsWith('did:key:')) return void (location.hash = link.account(text));
  const hex = text.replace(/^0x/, '').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) return set(out, errorBox(new Error('enter a block height, a did:key or a 64-digit hex id')));
  const tries = [['tx', api.tx], ['track', api.track], ['channel', api.channel], ['asset', api.asset]];
  for (const [kind, f] of tries) {
    try {
      await f(hex);
      location.hash = link[kind](hex);
      return undefined;
    } catch (e) {
      if (e.status !== 404) return set(out, errorBox(e));
    }
  }
  return set(out, errorBox(new Error('nothing on this chain has that id')));
}

async function blockView(root, height) {
  root.append(h('h1', {}, `Block ${height}`));
  const b = await api.block(height);
  root.append(h('section', { class: 'card' }, fields([
    ['Height', String(b.height)],
    ['Time', time(b.timestamp_ms)],
    ['Digest', h('span', { class: 'mono' }, b.digest)],
    ['Parent', b.height > 0 ? h('a', { class: 'mono', href: link.block(b.height - 1) }, b.parent) : h('span', { class: 'mono' }, b.parent)],
    ['State root', h('span', { class: 'mono' }, b.state_root)],
    b.proposer ? ['Proposer', h('span', { class: 'mono' }, b.proposer)] : null,
  ])),
  h('nav', { 'aria-label': 'Blocks', class: 'row' },
    b.height > 0 ? h('a', { href: link.block(b.height - 1) }, '← Previous block') : null,
    h('a', { href: link.block(b.height + 1) }, 'Next block →')),
  h('h2', {}, `Transactions (${b.txs.length})`),
  b.txs.length ? table(`Transactions of block ${b.height}`, ['Hash', 'Action', 'Signer', 'Nonce', 'Fee'], b.txs.map((t) => [
    short(t.hash, { link: link.tx(t.hash) }), t.action, short(t.signer, { link: link.account(t.signer) }), String(t.nonce), t.fee,
  ])) : h('p', { class: 'muted' }, 'No transactions.'));
}

async function txView(root, hash) {
  root.append(h('h1', {}, 'Transaction'));
  const t = await api.tx(hash, { proof: true });
  if (t.status !== 'committed') {
    root.append(h('p', { class: 'notice' }, 'Pending: not in a block yet. This page does not refresh by itself; reload it in a moment.'));
    return;
  }
  const inBlock = await api.block(t.height).then((b) => b.txs.find((x) => x.hash === hash), () => null);
  root.append(h('section', { class: 'card' },
    h('p', {}, verifiedMark(t.proof, stateKeys.tx(hash), sameRecord(records.txRecord, t))),
    fields([
      ['Hash', h('span', { class: 'mono' }, hash)],
      ['Result', t.ok ? h('span', { class: 'badge ok' }, 'ok') : h('span', { class: 'badge bad' }, `${t.error?.code}: ${t.error?.message}`)],
      ['Block', [h('a', { href: link.block(t.height) }, `${t.height}`), ` (position ${t.index})`]],
      inBlock ? ['Action', inBlock.action] : null,
      inBlock ? ['Signer', short(inBlock.signer, { link: link.account(inBlock.signer) })] : null,
      inBlock ? ['Nonce', String(inBlock.nonce)] : null,
      ['Fee paid', `${t.fee_paid} base units of CDZ`],
    ])));
}

async function accountView(root, did) {
  root.append(h('h1', {}, 'Account'));
  const account = fromDid(did);
  const a = await api.account(did, { proof: true });
  root.append(h('section', { class: 'card' },
    fields([
      ['did:key', h('span', { class: 'mono' }, a.account)],
      ['Public key', h('span', { class: 'mono' }, account)],
      ['Nonce', [String(a.nonce), ' ', a.proof ? verifiedMark(a.proof, stateKeys.account(account), sameRecord(records.accountRecord, a)) : h('span', { class: 'muted' }, '(no record yet)')]],
      ['Last faucet drip', a.last_faucet_ms ? time(a.last_faucet_ms) : '—'],
      ['Read at', h('a', { href: link.block(a.height) }, `block ${a.height}`)],
    ])),
  h('h2', {}, 'Balances'),
  a.balances.length ? table('Balances', ['Asset', 'Amount', 'Proof'], a.balances.map((b) => [
    h('a', { href: link.asset(b.asset) }, b.symbol ?? short(b.asset).textContent),
    b.display ?? b.amount,
    verifiedMark(b.proof, stateKeys.balance(account, b.asset), u128le(b.amount)),
  ])) : h('p', { class: 'muted' }, 'No balances.'));
}

async function trackView(root, id) {
  root.append(h('h1', {}, 'Track'));
  const t = await api.track(id, { proof: true });
  const l = t.licence;
  root.append(h('section', { class: 'card' },
    h('p', {}, verifiedMark(t.proof, stateKeys.track(id), sameRecord(records.trackRecord, t))),
    fields([
      ['Title', t.title],
      ['Artist', t.artist],
      ['ISRC', t.isrc ?? '—'],
      ['Track id', h('span', { class: 'mono' }, t.id)],
      ['Controller', short(t.controller, { link: link.account(t.controller) })],
      ['Essence id', h('span', { class: 'mono' }, t.essence_id)],
      ['Blob id', h('span', { class: 'mono' }, t.blob_id)],
      ['Royalty shares', h('a', { class: 'mono', href: link.asset(t.shares_asset) }, short(t.shares_asset).textContent)],
      ['Streams', [String(t.streams), h('span', { class: 'muted' }, ' (a separate record, not covered by this proof)')]],
      ['Registered', time(t.registered_ms)],
    ])),
  h('h2', {}, 'Licence'),
  h('section', { class: 'card' }, fields([
    ['Price per stream', amountText(l.price)],
    ['Uses', l.uses.join(', ') || 'none'],
    ['Territories', l.territories.length ? l.territories.join(', ') : 'worldwide'],
    ['Valid', [time(l.valid_from_ms), ' to ', l.valid_until_ms ? time(l.valid_until_ms) : 'no end']],
    ['Minimum play', `${Number(l.min_play_ms) / 1000} s`],
    ['Terms', l.url ? h('a', { href: l.url, rel: 'noopener noreferrer' }, l.url) : '—'],
  ])));
}

async function channelView(root, id) {
  root.append(h('h1', {}, 'Channel'));
  const c = await api.channel(id, { proof: true });
  root.append(h('section', { class: 'card' },
    h('p', {}, verifiedMark(c.proof, stateKeys.channel(id), sameRecord(records.channelRecord, c))),
    fields([
      ['Channel id', h('span', { class: 'mono' }, c.id)],
      ['Listener', short(c.owner, { link: link.account(c.owner) })],
      ['Provider', short(c.provider, { link: link.account(c.provider) })],
      ['Deposit', amountText(c.deposit)],
      ['Settled', amountText(c.settled)],
      ['In escrow', amountText(c.escrow)],
      ['Settled receipts', String(c.settled_seq)],
      ['Receipt chain head', h('span', { class: 'mono' }, c.head)],
      ['Expires', time(c.expiry_ms)],
      ['Closed', c.closed_ms ? time(c.closed_ms) : 'open'],
    ])));
}

async function assetView(root, id) {
  root.append(h('h1', {}, 'Asset'));
  const a = await api.asset(id, { proof: true });
  root.append(h('section', { class: 'card' },
    h('p', {}, verifiedMark(a.proof, stateKeys.asset(id), sameRecord(records.assetRecord, a))),
    fields([
      ['Symbol', a.symbol],
      ['Id', h('span', { class: 'mono' }, a.id)],
      ['Kind', a.kind?.type === 'shares' ? ['royalty shares of ', h('a', { href: link.track(a.kind.track) }, 'a track')] : a.kind?.type],
      ['Decimals', String(a.decimals)],
      ['Issuer', a.issuer ? short(a.issuer, { link: link.account(a.issuer) }) : '—'],
      ['Supply', a.supply],
    ])));
}

const VIEWS = { block: blockView, tx: txView, account: accountView, track: trackView, channel: channelView, asset: assetView };

export async function render(root, args) {
  const [kind, id] = args;
  const view = VIEWS[kind];
  if (!view || !id) return home(root);
  root.append(h('p', {}, h('a', { href: '#/explorer' }, '← Explorer')));
  try {
    return await view(root, id);
  } catch (e) {
    root.append(errorBox(e));
    return undefined;
  }
}
