// Small DOM helpers. Text from the node is always set as text (never as HTML).

/** Builds an element: h('a', {href: '#'}, 'text', child, …). `on*` attributes become listeners. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces an element's content. */
export function set(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** The first 8 and last 6 characters of a long id, with the whole id as its title. */
export function short(id, { link } = {}) {
  const text = id.length > 20 ? `${id.slice(0, id.startsWith('did:key:') ? 16 : 8)}…${id.slice(-6)}` : id;
  const attrs = { class: 'mono', title: id };
  return link ? h('a', { ...attrs, href: link }, text) : h('span', attrs, text);
}

/** A definition list from [label, value] pairs (values may be nodes). */
export function fields(pairs) {
  return h('dl', { class: 'fields' }, pairs.filter(Boolean).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v ?? '—')]));
}

/** A table; `rows` are arrays of cells, labelled with the column headers on narrow screens. */
export function table(caption, headers, rows) {
  return h('table', { class: 'stack' },
    h('caption', { class: 'visually-hidden' }, caption),
    h('thead', {}, h('tr', {}, headers.map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c, i) => h('td', { 'data-label': headers[i] }, c))))));
}

export function time(ms) {
  if (ms === null || ms === undefined) return '—';
  const d = new Date(Number(ms));
  return h('time', { datetime: d.toISOString() }, d.toLocaleString());
}

/** An error box for a failed action or request. */
export function errorBox(error) {
  const code = error?.code ? ` (${error.code})` : '';
  return h('p', { class: 'error', role: 'alert' }, `${error?.message ?? error}${code}`);
}

/** The accessible "busy" state of a button while `work` runs. */
export async function busy(button, label, work) {
  const old = button.textContent;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  button.textContent = label;
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    button.textContent = old;
  }
}
