// Studio: for artists and rights holders.
//
// Publish: an audio file dropped (or chosen) is uploaded with progress (`POST /v1/uploads`: the
// node probes it and computes its essence id); the artist sets title, price, licence terms and
// the split (holders and shares summing to exactly 100%); the page asks the node for the licence
// claim's signing input, checks that it says what was asked, signs it with the wallet's key, has
// the node embed it (`/licence`: the blob id comes back), then signs and submits RegisterTrack.
//
// Earnings: every track whose royalty shares the wallet holds (`/v1/accounts/{a}/holdings`), what
// it may claim, a chart of earnings that grows live from the node's event stream (each
// `royalties_accrued` event of a held track adds the wallet's exact share), the list of share
// holders of each track, and a claim button.

import * as api from '../api.js';
import {
  bytesToHex, encodeLicence, formatUnits, genesisAssetId, parseUnits, trackId, USES,
} from '../encoding.js';
import { busy, errorBox, h, set, short, table } from '../ui.js';
import { accountOf, submit, walletKey } from '../wallet.js';

const TOTAL_SHARES = 1000000n;
const MAX_HOLDERS = 64;
const SHARE_DECIMALS = 4; // 1,000,000 shares: a percentage with four decimals is exact.
const CHART_POINTS = 240;

export async function render(root) {
  root.append(h('h1', {}, 'Studio'));
  const key = await walletKey();
  if (!key) {
    root.append(h('section', { class: 'card' },
      h('p', {}, 'The studio publishes and claims with your wallet\u2019s key. ',
        h('a', { href: '#/wallet' }, 'Create or import a wallet'), ' first.')));
    return null;
  }
  const status = await api.status();
  const assets = await payableAssets();
  const earnings = createEarnings(key, assets);
  const publish = createPublish(key, status, assets, () => earnings.refresh());
  root.append(publish.section, earnings.section);
  await earnings.refresh();
  const off = api.onBlock((b) => earnings.onBlock(b));
  return () => {
    off();
    publish.stop();
  };
}

/** The assets a price can be set in (not royalty shares), from every page of /v1/assets. */
async function payableAssets() {
  const found = [];
  let after;
  for (let i = 0; i < 20; i++) {
    const page = await api.get(`/v1/assets?limit=200${after ? `&after=${after}` : ''}`);
    found.push(...page.items.filter((a) => a.kind?.type !== 'shares'));
    after = page.next;
    if (!after) break;
  }
  return found;
}

// ---- publishing ----------------------------------------------------------------------------------

function fileSize(bytes) {
  const n = Number(bytes);
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(0)} KiB`;
  return `${n} bytes`;
}

function decodeSegment(text) {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((text.length + 3) % 4);
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))));
}

/**
 * Checks that the claim the node asks us to sign says exactly what we asked: issuer, recording,
 * chain, track, price, uses, URL, ISRC. Throws naming the first difference.
 */
export function checkSigningInput(input, want) {
  const parts = input.split('.');
  if (parts.length !== 2) throw new Error('the node\u2019s signing input is not a JWS header and payload');
  const header = decodeSegment(parts[0]);
  const claim = decodeSegment(parts[1]);
  const checks = [
    ['algorithm', header.alg, 'EdDSA'],
    ['key id', header.kid, want.did],
    ['issuer', claim.iss, want.did],
    ['essence id', claim.essence?.id, want.essence],
    ['chain', claim.ledger?.chain, want.chain],
    ['track', claim.ledger?.track, want.track],
    ['price asset', claim.licence?.price?.asset, want.licence.price.asset],
    ['price', claim.licence?.price?.amount, String(want.licence.price.amount)],
    ['licence URL', claim.licence?.url, want.licence.url],
    ['minimum play time', claim.licence?.min_play_ms, Number(want.licence.min_play_ms)],
    ['ISRC', claim.isrc ?? null, want.isrc ?? null],
    ['uses', (claim.licence?.uses ?? []).join(','), Object.keys(USES).filter((u) => want.licence.uses & USES[u]).join(',')],
  ];
  for (const [what, got, expected] of checks) {
    if (got !== expected) throw new Error(`the claim the node prepared has another ${what} (${got}) than asked (${expected}); nothing was signed`);
  }
}

/** The split editor: rows of holder and percentage, summing to exactly 100%. */
function createSplits(me, onChange) {
  const rows = [];
  const list = h('ol', { class: 'splits', 'aria-label': 'Holders and their shares' });
  const total = h('p', { id: 'split-total', role: 'status', 'aria-live': 'polite' });
  const add = h('button', { type: 'button', class: 'secondary', onclick: () => addRow('', '') }, 'Add a holder');

  function renumber() {
    rows.forEach((r, i) => {
      r.who.setAttribute('aria-label', `Holder ${i + 1}: did:key`);
      r.pct.setAttribute('aria-label', `Holder ${i + 1}: share in percent`);
      r.remove.setAttribute('aria-label', `Remove holder ${i + 1}`);
      r.remove.disabled = rows.length === 1;
    });
    add.disabled = rows.length >= MAX_HOLDERS;
  }

  function addRow(who, pct) {
    const row = {
      who: h('input', { type: 'text', class: 'mono', value: who, placeholder: 'did:key:z6Mk…', autocomplete: 'off', spellcheck: 'false' }),
      pct: h('input', { type: 'text', inputmode: 'decimal', value: pct, placeholder: '50', class: 'pct' }),
      remove: h('button', { type: 'button', class: 'secondary' }, 'Remove'),
    };
    row.li = h('li', {}, row.who, h('span', { class: 'pct-cell' }, row.pct, h('span', { 'aria-hidden': 'true' }, '%')), row.remove);
    row.remove.addEventListener('click', () => {
      rows.splice(rows.indexOf(row), 1);
      row.li.remove();
      renumber();
      update();
    });
    row.who.addEventListener('input', update);
    row.pct.addEventListener('input', update);
    rows.push(row);
    list.append(row.li);
    renumber();
    update();
    return row;
  }

  /** The holders as the ledger takes them, or the reason they cannot be registered. */
  function read() {
    const seen = new Set();
    const holders = [];
    let sum = 0n;
    let problem = null;
    rows.forEach((r, i) => {
      let shares;
      try {
        shares = parseUnits(r.pct.value.trim().replace(/%$/, ''), SHARE_DECIMALS);
      } catch {
        problem ??= `holder ${i + 1}: “${r.pct.value}” is not a percentage with at most ${SHARE_DECIMALS} decimals`;
        return;
      }
      if (shares <= 0n) problem ??= `holder ${i + 1}: a share must be above 0%`;
      sum += shares;
      let account = null;
      try {
        account = accountOf(r.who.value);
      } catch (e) {
        problem ??= `holder ${i + 1}: ${r.who.value.trim() ? e.message : 'give a did:key'}`;
        return;
      }
      if (seen.has(account)) problem ??= `holder ${i + 1} is listed twice`;
      seen.add(account);
      holders.push({ account, shares: Number(shares) });
    });
    const pct = formatUnits(sum, SHARE_DECIMALS);
    if (!problem && sum !== TOTAL_SHARES) {
      problem = `the shares sum to ${pct}%; they must sum to exactly 100%`;
    }
    return { holders, sum, pct, problem };
  }

  function update() {
    const r = read();
    set(total, r.problem
      ? h('span', { class: 'badge bad' }, `Total ${r.pct}%`)
      : h('span', { class: 'badge ok' }, 'Total 100% ✓'),
    ' ', r.problem ?? 'The split is complete.');
    onChange?.(r);
  }

  addRow(me, '100');
  const section = h('fieldset', { class: 'split-editor' },
    h('legend', {}, 'Split: who receives the royalties'),
    h('p', { class: 'muted' }, 'Each holder gets royalty shares; together they make 100%. Shares are tokens: holders may later sell them.'),
    list, add, total);
  return { section, read, addRow, rows };
}

function createPublish(key, status, assets, onPublished) {
  const heading = h('h2', { id: 'publish-h' }, 'Publish a track');
  const fileInput = h('input', { id: 'studio-file', type: 'file', accept: 'audio/*,.flac,.mp3,.ogg,.oga,.opus,.wav' });
  const drop = h('div', { class: 'drop', id: 'drop' },
    h('p', {}, h('strong', {}, 'Drop an audio file here'), ' (FLAC, MP3, Ogg Vorbis or Opus, WAV), or choose one:'),
    h('label', { for: 'studio-file', class: 'visually-hidden' }, 'Audio file'),
    fileInput);
  const progress = h('progress', { id: 'upload-progress', max: '100', value: '0', 'aria-label': 'Upload progress', hidden: true });
  const uploadStatus = h('p', { role: 'status', 'aria-live': 'polite' });
  const out = h('div', { 'aria-live': 'polite' });

  const title = h('input', { id: 'pub-title', type: 'text', required: true, maxlength: '256', autocomplete: 'off' });
  const artist = h('input', { id: 'pub-artist', type: 'text', required: true, maxlength: '256', autocomplete: 'off' });
  const isrc = h('input', { id: 'pub-isrc', type: 'text', maxlength: '15', placeholder: 'GBAYE2400001 (optional)', autocomplete: 'off', class: 'mono' });
  const price = h('input', { id: 'pub-price', type: 'text', inputmode: 'decimal', value: '0.002', required: true });
  const payable = assets;
  const cusd = genesisAssetId('CUSD');
  const asset = h('select', { id: 'pub-asset' }, payable.map((a) => h('option', { value: a.id, selected: a.id === cusd }, a.symbol)));
  const url = h('input', { id: 'pub-url', type: 'url', value: 'https://creativecommons.org/licenses/by-nc-nd/4.0/', maxlength: '512' });
  const uses = Object.keys(USES).map((u) => h('label', { class: 'check' },
    h('input', { type: 'checkbox', name: 'uses', value: u, checked: u === 'stream' }), ` ${u}`));
  const submitButton = h('button', { type: 'submit', disabled: true }, 'Sign and register');
  let uploaded = null;
  let splitOk = false;
  let controller = null;
  const ready = () => {
    submitButton.disabled = !(uploaded && splitOk);
  };
  const splits = createSplits(key.did, (r) => {
    splitOk = !r.problem;
    ready();
  });

  async function take(file) {
    if (!file) return;
    controller?.abort();
    controller = new AbortController();
    uploaded = null;
    ready();
    set(out);
    progress.hidden = false;
    progress.value = 0;
    set(uploadStatus, `Uploading ${file.name} (${fileSize(file.size)})…`);
    try {
      const answer = await api.upload(file, {
        signal: controller.signal,
        onProgress: (sent, totalBytes) => {
          const pct = totalBytes ? Math.floor((100 * sent) / totalBytes) : 0;
          progress.value = pct;
          set(uploadStatus, `Uploading ${file.name}: ${pct}% (${fileSize(sent)} of ${fileSize(totalBytes)})`);
        },
      });
      progress.value = 100;
      uploaded = { ...answer, name: file.name };
      const p = answer.probe ?? {};
      const secs = Math.round(Number(p.duration_ms ?? 0) / 1000);
      set(uploadStatus, h('span', { class: 'badge ok' }, 'Uploaded'),
        ` ${file.name}: ${p.format ?? '?'} ${p.codec ?? ''}, ${secs} s, ${fileSize(answer.bytes)}; essence `,
        short(answer.essence.id));
      if (!title.value) title.value = file.name.replace(/\.[^.]+$/, '').slice(0, 256);
      ready();
    } catch (e) {
      if (e.name === 'AbortError') return;
      progress.hidden = true;
      set(uploadStatus, errorBox(e));
    }
  }

  fileInput.addEventListener('change', () => take(fileInput.files[0]));
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    take(e.dataTransfer?.files?.[0]);
  });

  async function register() {
    const r = splits.read();
    if (r.problem) throw new Error(r.problem);
    if (!uploaded) throw new Error('upload the audio file first');
    const picked = payable.find((a) => a.id === asset.value);
    if (!picked) throw new Error('choose the asset listeners pay in');
    let amount;
    try {
      amount = parseUnits(price.value.trim(), picked.decimals);
    } catch (e) {
      throw new Error(`price: ${e.message}`);
    }
    if (amount <= 0n) throw new Error('price: give an amount above zero');
    const isrcText = isrc.value.trim().replace(/-/g, '').toUpperCase() || null;
    if (isrcText && !/^[A-Z]{2}[A-Z0-9]{3}[0-9]{7}$/.test(isrcText)) {
      throw new Error('ISRC: 12 characters like GBAYE2400001 (country, registrant, year, number)');
    }
    let useBits = 0;
    for (const box of uses.map((l) => l.querySelector('input'))) if (box.checked) useBits |= USES[box.value];
    if (!useBits) throw new Error('allow at least one use (stream)');
    const licence = {
      price: { asset: picked.id, amount: amount.toString() },
      uses: useBits,
      territories: [],
      valid_from_ms: '0',
      valid_until_ms: null,
      url: url.value.trim(),
      min_play_ms: status.params.min_play_ms,
    };
    const essence = uploaded.essence.id;
    const track = trackId(essence);
    const body = { issuer: key.did, licence: bytesToHex(encodeLicence(licence)), isrc: isrcText };
    const step = (m) => set(out, h('p', { role: 'status' }, m));
    step('Preparing the licence claim…');
    const prepared = await api.post(`/v1/uploads/${uploaded.upload}/claim`, body);
    checkSigningInput(prepared.signing_input, { did: key.did, essence, chain: status.chain_id, track, licence, isrc: isrcText });
    const signature = await key.sign(new TextEncoder().encode(prepared.signing_input));
    step('Embedding the signed licence in the file…');
    const tagged = await api.post(`/v1/uploads/${uploaded.upload}/licence`, {
      ...body, title: title.value.trim(), artist: artist.value.trim(), signature: bytesToHex(signature),
    });
    if (tagged.track !== track) throw new Error(`the node named track ${tagged.track}, not ${track}; nothing was registered`);
    step('Registering the track on the ledger…');
    const { hash, result } = await submit({
      type: 'register_track',
      essence_id: essence,
      blob_id: tagged.blob,
      metadata: { title: title.value.trim(), artist: artist.value.trim(), isrc: isrcText },
      licence,
      holders: r.holders,
    });
    if (result.status === 'pending') {
      set(out, h('p', { class: 'notice' }, 'Sent; not committed yet. Its status: ', short(hash, { link: `#/explorer/tx/${hash}` })));
      return;
    }
    if (!result.ok) throw Object.assign(new Error(result.error?.message ?? 'the registration was refused'), { code: result.error?.code });
    set(out, h('p', { class: 'success', role: 'status' },
      `Published “${title.value.trim()}” as track `, short(track, { link: `#/explorer/track/${track}` }),
      ` in block ${result.height}. Listeners find it in `, h('a', { href: `#/listen/${encodeURIComponent(title.value.trim())}` }, 'Listen'), '.'));
    uploaded = null;
    fileInput.value = '';
    progress.hidden = true;
    set(uploadStatus);
    ready();
    onPublished?.();
  }

  const form = h('form', {
    'aria-labelledby': 'publish-h',
    onsubmit: (e) => {
      e.preventDefault();
      busy(submitButton, 'Publishing…', register).catch((err) => set(out, errorBox(err))).finally(ready);
    },
  },
  h('div', { class: 'grid2' },
    h('div', {}, h('label', { for: 'pub-title' }, 'Title'), title),
    h('div', {}, h('label', { for: 'pub-artist' }, 'Artist'), artist)),
  h('div', { class: 'grid2' },
    h('div', {}, h('label', { for: 'pub-price' }, 'Price per stream'), h('div', { class: 'row nowrap' }, price, h('label', { for: 'pub-asset', class: 'visually-hidden' }, 'Asset'), asset)),
    h('div', {}, h('label', { for: 'pub-isrc' }, 'ISRC'), isrc)),
  h('label', { for: 'pub-url' }, 'Licence URL'), url,
  h('fieldset', { class: 'uses' }, h('legend', {}, 'Allowed uses'), uses),
  h('p', { class: 'muted' }, `A stream is paid once ${Math.round(status.params.min_play_ms / 1000)} s of it are heard (this chain\u2019s minimum play time).`),
  splits.section,
  submitButton);

  const section = h('section', { class: 'card', 'aria-labelledby': 'publish-h' },
    heading, drop, progress, uploadStatus, form, out);
  return { section, splits, stop: () => controller?.abort() };
}

// ---- earnings ------------------------------------------------------------------------------------

/** A step line of earnings over time, drawn as SVG, with a text summary for screen readers. */
function createChart() {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 600 205');
  svg.setAttribute('class', 'chart');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-labelledby', 'chart-desc');
  const desc = h('p', { id: 'chart-desc', class: 'muted', 'aria-live': 'polite' });
  const el = (tag, attrs) => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    return e;
  };
  function draw(points, label, format) {
    svg.replaceChildren();
    svg.append(el('line', { x1: 40, y1: 180, x2: 590, y2: 180, class: 'axis' }));
    svg.append(el('line', { x1: 40, y1: 10, x2: 40, y2: 180, class: 'axis' }));
    if (!points.length) return;
    const t0 = points[0].t;
    const t1 = Math.max(points.at(-1).t, t0 + 1);
    const vmax = points.reduce((m, p) => (p.v > m ? p.v : m), 0n) || 1n;
    const x = (t) => 40 + (550 * (t - t0)) / (t1 - t0);
    const y = (v) => 180 - Number((170n * 1000n * v) / vmax) / 1000;
    let d = `M ${x(points[0].t).toFixed(1)} ${y(points[0].v).toFixed(1)}`;
    for (const p of points.slice(1)) d += ` H ${x(p.t).toFixed(1)} V ${y(p.v).toFixed(1)}`;
    d += ` H 590`;
    svg.append(el('path', { d, class: 'line' }));
    for (const p of points) svg.append(el('circle', { cx: x(p.t).toFixed(1), cy: y(p.v).toFixed(1), r: 3, class: 'dot' }));
    const text = (x0, y0, content, anchor = 'start') => {
      const t = el('text', { x: x0, y: y0, class: 'label', 'text-anchor': anchor });
      t.textContent = content;
      svg.append(t);
    };
    text(44, 22, `${format(vmax)} ${label}`);
    text(36, 184, '0', 'end');
    const clock = (t) => new Date(t).toLocaleTimeString();
    text(40, 197, clock(t0));
    if (points.length > 1) text(590, 197, clock(points.at(-1).t), 'end');
  }
  return { svg, desc, draw };
}

function createEarnings(key, assets) {
  const heading = h('h2', { id: 'earnings-h' }, 'Earnings');
  const summary = h('p', { class: 'earned', 'aria-live': 'polite' });
  const chart = createChart();
  const log = h('ol', { class: 'payments', 'aria-label': 'Royalties as they arrive' });
  const tracksBox = h('div', {});
  const holdersBox = h('div', { 'aria-live': 'polite' });
  const out = h('div', { 'aria-live': 'polite' });
  const section = h('section', { class: 'card', 'aria-labelledby': 'earnings-h' },
    heading,
    h('p', { class: 'muted' }, 'Royalties reach a track when its provider settles paid streams. Your part follows your shares; claim it any time.'),
    summary, chart.svg, chart.desc,
    h('h3', {}, 'Your tracks'), tracksBox, out, holdersBox,
    h('h3', {}, 'As it happens'), log);

  const decimalsOf = (id) => assets.find((a) => a.id === id)?.decimals ?? 0;
  const symbolOf = (id) => assets.find((a) => a.id === id)?.symbol ?? short(id).textContent;
  let held = new Map(); // track id → holding (from the node)
  let mainAsset = genesisAssetId('CUSD');
  // Earnings in 1/1,000,000 of a base unit, exact: what was claimable when the page opened plus
  // the wallet's share of every accrual since.
  let earned = null;
  const points = [];
  let refreshing = null;

  function show() {
    const d = decimalsOf(mainAsset);
    const units = earned === null ? 0n : earned / TOTAL_SHARES;
    const text = `${formatUnits(units, d)} ${symbolOf(mainAsset)}`;
    set(summary, h('strong', { id: 'earned-total' }, text), ' earned (claimable when this page opened, plus every settlement since)');
    chart.draw(points, `${symbolOf(mainAsset)} earned`, (v) => formatUnits(v, d));
    set(chart.desc, `Earnings chart: ${points.length} point${points.length === 1 ? '' : 's'}; now ${text}.`);
  }

  function claimableOf(holding, assetId) {
    return BigInt(holding.claimable.find((c) => c.asset === assetId)?.amount ?? '0');
  }

  let openHolders = null;

  async function showHolders(track, { focus = true } = {}) {
    openHolders = track;
    set(holdersBox, h('p', { class: 'loading' }, 'Loading holders…'));
    try {
      const rows = [];
      let after;
      do {
        const page = await api.holders(track.id, { after, limit: 200 });
        rows.push(...page.items);
        after = page.next;
      } while (after && rows.length < 2000);
      set(holdersBox, h('h3', { id: 'holders-h', tabindex: '-1' }, `Holders of “${track.title}”`),
        table(`Share holders of ${track.title}`, ['Holder', 'Share', 'Claimable'], rows.map((r) => [
          short(r.account, { link: `#/explorer/account/${encodeURIComponent(r.account)}` }),
          `${r.percent}%`,
          r.claimable.map((c) => c.display ?? c.amount).join(', ') || '—',
        ])));
      if (focus) holdersBox.querySelector('h3').focus();
    } catch (e) {
      set(holdersBox, errorBox(e));
    }
  }

  async function claim(button, holding) {
    await busy(button, 'Claiming…', async () => {
      const asset = holding.track.licence.price.asset;
      const before = claimableOf(holding, asset);
      const { hash, result } = await submit({ type: 'claim', track: holding.track.id, asset });
      if (result.status === 'pending') {
        set(out, h('p', { class: 'notice' }, 'Claim sent; not committed yet: ', short(hash, { link: `#/explorer/tx/${hash}` })));
        return;
      }
      if (!result.ok) throw Object.assign(new Error(result.error?.message ?? 'the claim was refused'), { code: result.error?.code });
      set(out, h('p', { class: 'success', role: 'status' },
        `Claimed ${formatUnits(before, decimalsOf(asset))} ${symbolOf(asset)} from “${holding.track.title}” in block ${result.height}. `,
        h('a', { href: '#/wallet' }, 'See your balance'), '.'));
      await refresh();
    }).catch((e) => set(out, errorBox(e)));
  }

  async function refresh() {
    if (refreshing) return refreshing;
    refreshing = (async () => {
      try {
        // Pages over the account's balances; a handful of pages covers any real catalogue.
        const doc = { items: [] };
        let after;
        for (let i = 0; i < 20; i++) {
          const page = await api.holdings(key.did, { after });
          doc.items.push(...page.items);
          after = page.next;
          if (!after) break;
        }
        held = new Map(doc.items.map((i) => [i.track.id, i]));
        if (earned === null) {
          const first = doc.items.find((i) => i.claimable.length);
          if (first) mainAsset = first.track.licence.price.asset;
          earned = doc.items.reduce((s, i) => s + claimableOf(i, mainAsset), 0n) * TOTAL_SHARES;
          points.push({ t: Date.now(), v: earned / TOTAL_SHARES });
        }
        set(tracksBox, doc.items.length
          ? table('Your tracks', ['Track', 'Your share', 'Streams', 'Claimable', 'Actions'], doc.items.map((i) => {
            const claimButton = h('button', { type: 'button', 'aria-label': `Claim from ${i.track.title}` }, 'Claim');
            claimButton.disabled = !i.claimable.some((c) => BigInt(c.amount) > 0n);
            claimButton.addEventListener('click', () => claim(claimButton, i));
            return [
              h('a', { href: `#/explorer/track/${i.track.id}` }, i.track.title || short(i.track.id).textContent),
              `${i.percent}%`,
              String(i.track.streams),
              h('span', { class: 'claimable', dataset: { track: i.track.id } }, i.claimable.map((c) => c.display ?? c.amount).join(', ') || '—'),
              h('span', { class: 'row' }, claimButton,
                h('button', { type: 'button', class: 'secondary', 'aria-label': `Holders of ${i.track.title}`, onclick: () => showHolders(i.track) }, 'Holders')),
            ];
          }))
          : h('p', { class: 'muted' }, 'You hold no royalty shares yet. Publish a track above, or buy shares from a holder.'));
        show();
        if (openHolders) showHolders(openHolders, { focus: false });
      } catch (e) {
        set(tracksBox, errorBox(e));
      } finally {
        refreshing = null;
      }
    })();
    return refreshing;
  }

  function onBlock(b) {
    let touched = false;
    for (const tx of b.txs ?? []) {
      for (const ev of tx.events ?? []) {
        if (ev.type === 'royalties_accrued' && held.has(ev.track)) {
          touched = true;
          const holding = held.get(ev.track);
          if (ev.amount?.asset !== mainAsset || earned === null) continue;
          const mine = BigInt(ev.amount.amount) * BigInt(holding.shares);
          earned += mine;
          points.push({ t: Date.now(), v: earned / TOTAL_SHARES });
          if (points.length > CHART_POINTS) points.splice(1, 1);
          const d = decimalsOf(mainAsset);
          log.prepend(h('li', {}, `Block ${b.height}: +${formatUnits(mine / TOTAL_SHARES, d)} ${symbolOf(mainAsset)} from “${holding.track.title}” `,
            `(${ev.streams} stream${ev.streams === 1 ? '' : 's'} settled; your share ${holding.percent}%)`));
        } else if ((ev.type === 'claimed' && ev.holder === key.did)
          || (ev.type === 'transferred' && (ev.from === key.did || ev.to === key.did))
          || (ev.type === 'minted' && ev.to === key.did)) {
          touched = true;
        }
      }
    }
    if (touched) refresh();
  }

  return { section, refresh, onBlock };
}
