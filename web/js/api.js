// The node's HTTP API (/v1), the node-down banner and the live block stream.
//
// Every request has a timeout (long enough for a slow 3G link); a request that cannot reach the
// node marks it down, which shows the banner and polls /v1/status until the node answers again.

const TIMEOUT_MS = 20000;
const RETRY_MS = 5000;

/** An error answered by the node: `{"error": {"code", "message"}}` with an HTTP status. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** The node could not be reached. */
export class NodeDown extends Error {
  constructor(cause) {
    super(`Cannot reach the node at ${location.origin}.`);
    this.code = 'node_unreachable';
    this.cause = cause;
  }
}

const listeners = new Set();
let down = false;
let retryTimer = null;

/** Calls `f(isDown)` whenever reachability changes. */
export function onReachability(f) {
  listeners.add(f);
  return () => listeners.delete(f);
}

function setDown(value) {
  if (down === value) return;
  down = value;
  for (const f of listeners) f(down);
  clearTimeout(retryTimer);
  if (down) retryTimer = setTimeout(probe, RETRY_MS);
}

/** Checks the node now (the banner's "retry" button, and the poll while down). */
export async function probe() {
  try {
    await get('/v1/status');
  } catch {
    if (down) retryTimer = setTimeout(probe, RETRY_MS);
  }
}

export const isDown = () => down;

/** A JSON request to the node. */
export async function request(method, path, { body, timeoutMs = TIMEOUT_MS, signal } = {}) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(new DOMException('timed out', 'TimeoutError')), timeoutMs);
  signal?.addEventListener('abort', () => ctl.abort(signal.reason), { once: true });
  let response;
  try {
    response = await fetch(path, {
      method,
      signal: ctl.signal,
      headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    clearTimeout(timer);
    if (signal?.aborted) throw e;
    setDown(true);
    throw new NodeDown(e);
  }
  let json;
  try {
    json = await response.json();
  } catch (e) {
    clearTimeout(timer);
    if (signal?.aborted) throw e;
    if (e?.name === 'AbortError' || e?.name === 'TimeoutError') {
      setDown(true);
      throw new NodeDown(e);
    }
    throw new ApiError(response.status, 'bad_answer', `the node answered ${response.status} without JSON`);
  }
  clearTimeout(timer);
  setDown(false);
  if (!response.ok) {
    throw new ApiError(response.status, json?.error?.code ?? 'http_error', json?.error?.message ?? `HTTP ${response.status}`);
  }
  return json;
}

export const get = (path, opts) => request('GET', path, opts);
export const post = (path, body, opts) => request('POST', path, { ...opts, body });

// ---- typed calls ---------------------------------------------------------------------------------

const enc = encodeURIComponent;
let statusCache = null;

/** /v1/status (chain id, height, parameters); the chain id and parameters are cached. */
export async function status({ fresh = false } = {}) {
  if (!statusCache || fresh) statusCache = await get('/v1/status');
  return statusCache;
}

export const account = (did, { proof = false } = {}) => get(`/v1/accounts/${enc(did)}${proof ? '?proof=true' : ''}`);
export const balance = (did, asset, { proof = false } = {}) =>
  get(`/v1/accounts/${enc(did)}/balances/${enc(asset)}${proof ? '?proof=true' : ''}`);
export const assets = () => get('/v1/assets');
export const asset = (id, { proof = false } = {}) => get(`/v1/assets/${enc(id)}${proof ? '?proof=true' : ''}`);
export const tracks = ({ q, after, limit, signal } = {}) => {
  const p = new URLSearchParams();
  if (q) p.set('q', q);
  if (after) p.set('after', after);
  if (limit) p.set('limit', String(limit));
  const qs = p.toString();
  return get(`/v1/tracks${qs ? `?${qs}` : ''}`, { signal });
};
export const track = (id, { proof = false } = {}) => get(`/v1/tracks/${enc(id)}${proof ? '?proof=true' : ''}`);
export const channel = (id, { proof = false } = {}) => get(`/v1/channels/${enc(id)}${proof ? '?proof=true' : ''}`);
export const block = (height, { raw = false } = {}) => get(`/v1/blocks/${enc(String(height))}${raw ? '?raw=true' : ''}`);
export const tx = (hash, { waitMs = 0, proof = false } = {}) => {
  const p = new URLSearchParams();
  if (waitMs) p.set('wait_ms', String(waitMs));
  if (proof) p.set('proof', 'true');
  const qs = p.toString();
  return get(`/v1/txs/${enc(hash)}${qs ? `?${qs}` : ''}`, { timeoutMs: TIMEOUT_MS + waitMs });
};
export const holders = (trackId, { after, limit } = {}) => {
  const p = new URLSearchParams();
  if (after) p.set('after', after);
  if (limit) p.set('limit', String(limit));
  const qs = p.toString();
  return get(`/v1/tracks/${enc(trackId)}/holders${qs ? `?${qs}` : ''}`);
};
export const holdings = (did, { after } = {}) => get(`/v1/accounts/${enc(did)}/holdings${after ? `?after=${enc(after)}` : ''}`);
export const submitTx = (signedHex) => post('/v1/txs', { tx: signedHex });

// ---- uploads -------------------------------------------------------------------------------------

const UPLOAD_TIMEOUT_MS = 10 * 60 * 1000;

/**
 * Sends an audio file to `POST /v1/uploads` (XMLHttpRequest, which reports upload progress:
 * `onProgress(sent, total)`). Resolves with the node's answer (upload id, essence id, probe);
 * rejects with an ApiError carrying the node's code, or NodeDown.
 */
export function upload(file, { onProgress, signal } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/v1/uploads');
    xhr.timeout = UPLOAD_TIMEOUT_MS;
    xhr.setRequestHeader('content-type', 'application/octet-stream');
    xhr.setRequestHeader('accept', 'application/json');
    xhr.responseType = 'text';
    xhr.upload.addEventListener('progress', (e) => onProgress?.(e.loaded, e.lengthComputable ? e.total : file.size));
    xhr.addEventListener('load', () => {
      let json = null;
      try {
        json = JSON.parse(xhr.responseText);
      } catch {
        /* judged below */
      }
      setDown(false);
      if (xhr.status >= 200 && xhr.status < 300 && json) resolve(json);
      else reject(new ApiError(xhr.status, json?.error?.code ?? 'http_error', json?.error?.message ?? `the upload failed with HTTP ${xhr.status}`));
    });
    const failed = (why) => () => {
      if (why === 'abort') return reject(new DOMException('the upload was cancelled', 'AbortError'));
      setDown(true);
      reject(new NodeDown(new Error(why)));
    };
    xhr.addEventListener('error', failed('network error'));
    xhr.addEventListener('timeout', failed('timed out'));
    xhr.addEventListener('abort', failed('abort'));
    signal?.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(file);
  });
}
export const submitVoucher = (channelId, updateHex) => post(`/v1/channels/${enc(channelId)}/vouchers`, { update: updateHex });

// ---- live blocks ---------------------------------------------------------------------------------

const blockListeners = new Set();
let source = null;

/** Calls `f(block)` for each committed block (from /v1/events); returns an unsubscribe function. */
export function onBlock(f) {
  blockListeners.add(f);
  if (!source && typeof EventSource !== 'undefined') {
    source = new EventSource('/v1/events');
    source.addEventListener('block', (e) => {
      setDown(false);
      let b;
      try {
        b = JSON.parse(e.data);
      } catch {
        return;
      }
      for (const g of blockListeners) g(b);
    });
    // The browser reconnects by itself; a status probe tells whether the node is down.
    source.addEventListener('error', () => probe());
  }
  return () => blockListeners.delete(f);
}
