// Listen: the catalogue, searchable by title and artist (`/v1/tracks?q=`), and a player that
// pays per stream: a channel opened on first play, then for each play that reaches the minimum
// play time a receipt and a signed voucher sent to the provider (js/player.js). The audio comes
// from `GET /v1/tracks/{id}/audio?channel=…`, served while the channel's credit lasts.

import * as api from '../api.js';
import { formatUnits } from '../encoding.js';
import { errorBox, fields, h, set, short, time } from '../ui.js';

const PAGE = 50;

function price(licence) {
  const p = licence?.price;
  if (!p) return '—';
  return p.display ?? `${p.amount} base units`;
}

function minutes(ms) {
  const s = Math.round(Number(ms) / 1000);
  return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
}

function trackItem(t, play) {
  return h('li', {},
    h('span', { class: 'title' }, t.title || 'Untitled'),
    h('span', {}, t.artist || 'Unknown artist'),
    h('p', { class: 'muted' },
      `${price(t.licence)} per stream (at least ${minutes(t.licence?.min_play_ms ?? 0)} played) · `,
      `${t.streams ?? 0} stream${t.streams === 1 ? '' : 's'}`),
    h('p', {}, h('a', { href: `#/explorer/track/${t.id}`, 'aria-label': `Details of ${t.title || 'this track'}` }, 'Details'),
      ' · ', short(t.id)),
    h('p', {}, h('button', { type: 'button', onclick: () => play(t), 'aria-label': `Play ${t.title || 'this track'} by ${t.artist || 'an unknown artist'}` }, 'Play')));
}

/** The player: one track at a time, its channel and the payments made from it. */
function createPlayer() {
  const heading = h('h2', { id: 'player-h' }, 'Player');
  const audio = h('audio', { controls: true, preload: 'none' });
  const status = h('div', { role: 'status', 'aria-live': 'polite' });
  const channelInfo = h('div', {});
  const payments = h('ol', { 'aria-label': 'Payments', class: 'payments' });
  const section = h('section', { class: 'card', 'aria-labelledby': 'player-h', hidden: true },
    heading, audio, status, channelInfo, h('h3', {}, 'Payments'), payments);
  let session = null;

  const showChannel = (state) => {
    const c = state.onChain;
    const deposit = BigInt(c.deposit.amount);
    const paid = BigInt(state.cumulative);
    const symbol = c.deposit.display?.split(' ')[1] ?? '';
    const unit = session?.decimals ?? 0;
    set(channelInfo, fields([
      ['Channel', short(state.channel, { link: `#/explorer/channel/${state.channel}` })],
      ['Deposit', `${formatUnits(deposit, unit)} ${symbol}`],
      ['Paid in this browser', `${formatUnits(paid, unit)} ${symbol} for ${state.seq} stream${state.seq === '1' ? '' : 's'}`],
      ['Remaining', `${formatUnits(deposit - paid, unit)} ${symbol}`],
    ]));
  };

  audio.addEventListener('timeupdate', () => {
    const s = session;
    if (!s || audio.paused || audio.seeking) return;
    const delta = audio.currentTime - s.lastTime;
    s.lastTime = audio.currentTime;
    if (delta > 0 && delta < 1.5) s.playedMs += delta * 1000;
    if (!s.paid && !s.paying && s.playedMs >= s.minPlayMs) pay(s);
  });
  audio.addEventListener('seeking', () => {
    if (session) session.lastTime = audio.currentTime;
  });
  audio.addEventListener('ended', () => {
    // A new play of the same track is a new stream.
    if (session) Object.assign(session, { playedMs: 0, lastTime: 0, paid: false });
  });
  audio.addEventListener('error', async () => {
    if (!session || !audio.currentSrc) return;
    const { audioProblem } = await import('../player.js');
    const why = await audioProblem(audio.currentSrc);
    set(status, h('p', { class: 'error' }, `This track cannot play: ${why ?? 'the browser could not decode it'}.`));
  });

  async function pay(s) {
    s.paying = true;
    try {
      const { payForStream } = await import('../player.js');
      const { receipt, voucher, ack } = await payForStream(s.channel, s.track, s.playedMs);
      s.paid = true;
      payments.prepend(h('li', {}, time(receipt.at_ms), ` · ${s.track.licence.price.display ?? receipt.amount} for “${s.track.title}” · `,
        `stream ${voucher.seq}, ${Math.round(Number(receipt.played_ms) / 1000)} s played · acknowledged by the provider`,
        ack?.unsettled?.display ? ` (awaiting settlement: ${ack.unsettled.display})` : ''));
      set(status, `Paid for this stream: ${s.track.licence.price.display ?? receipt.amount}.`);
      showChannel(s.channel);
    } catch (e) {
      set(status, errorBox(e));
    } finally {
      s.paying = false;
    }
  }

  async function play(track) {
    section.hidden = false;
    set(heading, `Now playing: ${track.title || 'Untitled'} — ${track.artist || 'Unknown artist'}`);
    set(status, 'Preparing…');
    audio.pause();
    try {
      const player = await import('../player.js');
      const priceAsset = await api.asset(track.licence.price.asset).catch(() => null);
      const channel = await player.channelFor(track, { onStep: (m) => set(status, m) });
      session = {
        track, channel, decimals: priceAsset?.decimals ?? 0,
        minPlayMs: await player.minPlayMs(track), playedMs: 0, lastTime: 0, paid: false, paying: false,
      };
      showChannel(channel);
      set(status, `Playing. A stream is paid after ${Math.round(session.minPlayMs / 1000)} s of listening.`);
      audio.src = player.audioUrl(track.id, channel.channel);
      await audio.play().catch((e) => {
        if (e.name === 'NotAllowedError') set(status, 'Press play to start.');
      });
    } catch (e) {
      set(status, errorBox(e));
    }
  }

  return {
    section,
    play,
    stop() {
      audio.pause();
      audio.removeAttribute('src');
      session = null;
    },
  };
}

export async function render(root, args) {
  const q = h('input', { id: 'q', type: 'search', name: 'q', placeholder: 'Title or artist', autocomplete: 'off', value: args[0] ?? '' });
  const results = h('div', { 'aria-live': 'polite' });
  const more = h('p', {});
  let controller = null;
  let timer = null;
  const player = createPlayer();

  async function search(after) {
    controller?.abort();
    controller = new AbortController();
    const query = q.value.trim();
    if (!after) set(results, h('p', { class: 'loading' }, 'Searching…'));
    try {
      const page = await api.tracks({ q: query || undefined, after, limit: PAGE, signal: controller.signal });
      let list = results.querySelector('ul.tracks');
      if (!after || !list) {
        list = h('ul', { class: 'tracks', 'aria-label': 'Tracks' });
        set(results, page.items.length || after ? list : h('p', { class: 'muted' },
          query ? `No track matches “${query}”.` : 'No tracks are registered on this chain yet. Publish one from the Studio.'));
      }
      for (const t of page.items) list.append(trackItem(t, player.play));
      set(more, page.next ? h('button', { type: 'button', class: 'secondary', onclick: () => search(page.next) }, 'More tracks') : null);
    } catch (e) {
      if (e.name !== 'AbortError') set(results, errorBox(e));
    }
  }

  root.append(
    h('h1', {}, 'Listen'),
    h('form', {
      role: 'search', class: 'search',
      onsubmit: (e) => {
        e.preventDefault();
        search();
      },
    },
    h('label', { for: 'q', class: 'visually-hidden' }, 'Search tracks'), q,
    h('button', { type: 'submit' }, 'Search')),
    player.section,
    results, more);
  q.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => search(), 300);
  });
  await search();
  return () => {
    clearTimeout(timer);
    controller?.abort();
    player.stop();
  };
}
