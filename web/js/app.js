// The app shell: hash routes, the node-down banner, the node status line.

import * as api from './api.js';
import { h, set } from './ui.js';

const ROUTES = {
  listen: { title: 'Listen', load: () => import('./pages/listen.js') },
  studio: { title: 'Studio', load: () => import('./pages/studio.js') },
  explorer: { title: 'Explorer', load: () => import('./pages/explorer.js') },
  wallet: { title: 'Wallet', load: () => import('./pages/wallet.js') },
};

const main = document.getElementById('main');
const banner = document.getElementById('banner');
const statusLine = document.getElementById('node-status');
let cleanup = null;
let generation = 0;
let firstRender = true;

/** `#/explorer/block/12` → { name: 'explorer', args: ['block', '12'] }. */
export function parseRoute(hash) {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const name = ROUTES[parts[0]] ? parts[0] : 'listen';
  return { name, args: ROUTES[parts[0]] ? parts.slice(1) : [] };
}

async function render() {
  const { name, args } = parseRoute(location.hash);
  const route = ROUTES[name];
  const mine = ++generation;
  for (const a of document.querySelectorAll('nav a[data-route]')) {
    if (a.dataset.route === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = `${route.title} · Cadenza`;
  if (cleanup) {
    try { cleanup(); } catch { /* a page's cleanup never blocks the next page */ }
    cleanup = null;
  }
  set(main, h('p', { class: 'loading' }, `Loading ${route.title}…`));
  let page;
  try {
    page = await route.load();
  } catch (e) {
    if (mine !== generation) return;
    set(main, h('h1', {}, route.title), h('p', { class: 'error', role: 'alert' },
      `This page could not be loaded (${e.message}). Check the connection to the node and reload.`));
    return;
  }
  if (mine !== generation) return;
  const container = h('div', {});
  set(main, container);
  try {
    cleanup = (await page.render(container, args)) ?? null;
  } catch (e) {
    container.append(h('p', { class: 'error', role: 'alert' }, e.message));
  }
  if (!firstRender) {
    // Move focus to the new page's heading, so keyboard and screen-reader users start there.
    const heading = main.querySelector('h1');
    if (heading) {
      heading.tabIndex = -1;
      heading.focus();
    } else main.focus();
  }
  firstRender = false;
}

function showBanner(down) {
  if (!down) {
    banner.hidden = true;
    set(banner);
    refreshStatus();
    return;
  }
  set(banner,
    h('span', {}, h('strong', {}, 'The node is not answering. '),
      `Nothing here is up to date until it is back. Start it with `, h('code', {}, 'cargo run --release -- devnet'),
      '; this page retries every few seconds.'),
    h('button', { type: 'button', class: 'secondary', onclick: () => api.probe() }, 'Retry now'));
  banner.hidden = false;
  set(statusLine, `Node at ${location.origin}: unreachable`);
}

async function refreshStatus() {
  try {
    const s = await api.status({ fresh: true });
    setStatus(s.chain_id, s.height);
  } catch {
    /* the banner says it */
  }
}

function setStatus(chain, height) {
  set(statusLine, `Chain `, h('span', { class: 'mono' }, chain), ` · height ${height} · node ${location.origin} · `,
    h('a', { href: '/v1/openapi.json' }, 'API'));
}

// The skip link moves focus without touching the hash, which holds the route.
document.querySelector('.skip')?.addEventListener('click', (e) => {
  e.preventDefault();
  main.focus();
});

api.onReachability(showBanner);
api.onBlock((b) => {
  const chain = statusLine.querySelector('.mono')?.textContent;
  if (chain) setStatus(chain, b.height);
});
window.addEventListener('hashchange', render);
refreshStatus();
render();
