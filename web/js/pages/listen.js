// Listen: the catalogue, searchable by title and artist (`/v1/tracks?q=`). Playback with
// per-stream payment arrives with the node's audio endpoint.

import * as api from '../api.js';
import { errorBox, h, set, short } from '../ui.js';

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

function trackItem(t) {
  return h('li', {},
    h('span', { class: 'title' }, t.title || 'Untitled'),
    h('span', {}, t.artist || 'Unknown artist'),
    h('p', { class: 'muted' },
      `${price(t.licence)} per stream (at least ${minutes(t.licence?.min_play_ms ?? 0)} played) · `,
      `${t.streams ?? 0} stream${t.streams === 1 ? '' : 's'}`),
    h('p', {}, h('a', { href: `#/explorer/track/${t.id}`, 'aria-label': `Details of ${t.title || 'this track'}` }, 'Details'),
      ' · ', short(t.id)));
}

export async function render(root, args) {
  const q = h('input', { id: 'q', type: 'search', name: 'q', placeholder: 'Title or artist', autocomplete: 'off', value: args[0] ?? '' });
  const results = h('div', { 'aria-live': 'polite' });
  const more = h('p', {});
  let controller = null;
  let timer = null;

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
      for (const t of page.items) list.append(trackItem(t));
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
    results, more);
  q.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => search(), 300);
  });
  await search();
  return () => {
    clearTimeout(timer);
    controller?.abort();
  };
}
