// Wallet: the browser's own key (WebCrypto Ed25519 in IndexedDB), its did:key, balances with
// their proofs checked in the browser, the devnet faucet, transfers, and a passphrase-encrypted backup.

import * as api from '../api.js';
import { formatUnits, fromDid, parseUnits, stateKeys } from '../encoding.js';
import { ed25519Supported, exportBackup, forgetKey, generateKey, importBackup, saveKey } from '../keys.js';
import { busy, errorBox, fields, h, set, short, time } from '../ui.js';
import { accountOf, setWalletKey, submit, walletKey } from '../wallet.js';
import { u128le, verifiedMark } from '../verify.js';

export async function render(root) {
  root.append(h('h1', {}, 'Wallet'));
  const body = h('div', {});
  root.append(body);
  if (!(await ed25519Supported())) {
    body.append(h('p', { class: 'error' },
      'This browser cannot sign with Ed25519 in WebCrypto. Use a current Chrome, Edge, Firefox or Safari.'));
    return;
  }
  const key = await walletKey();
  if (!key) return noKey(body);
  return withKey(body, key);
}

function noKey(body) {
  const out = h('div', { 'aria-live': 'polite' });
  const create = h('button', {
    type: 'button',
    onclick: () => busy(create, 'Creating…', async () => {
      const key = await generateKey();
      await saveKey(key);
      setWalletKey(key);
      window.dispatchEvent(new HashChangeEvent('hashchange'));
    }).catch((e) => set(out, errorBox(e))),
  }, 'Create a wallet');
  set(body,
    h('section', { class: 'card', 'aria-labelledby': 'new-h' },
      h('h2', { id: 'new-h' }, 'A new wallet'),
      h('p', {}, 'Your key is made and kept in this browser; it never leaves it unless you export a backup.'),
      create),
    importForm(out),
    out);
}

function importForm(out) {
  const file = h('input', { id: 'import-file', type: 'file', accept: 'application/json,.json', required: true });
  const pass = h('input', { id: 'import-pass', type: 'password', autocomplete: 'current-password', required: true });
  const button = h('button', { type: 'submit' }, 'Import');
  const form = h('form', {
    class: 'card', 'aria-labelledby': 'import-h',
    onsubmit: (e) => {
      e.preventDefault();
      busy(button, 'Importing…', async () => {
        const text = await file.files[0].text();
        const key = await importBackup(text, pass.value);
        await saveKey(key);
        setWalletKey(key);
        window.dispatchEvent(new HashChangeEvent('hashchange'));
      }).catch((e2) => set(out, errorBox(e2)));
    },
  },
  h('h2', { id: 'import-h' }, 'Import a backup'),
  h('label', { for: 'import-file' }, 'Backup file'), file,
  h('label', { for: 'import-pass' }, 'Passphrase'), pass,
  h('p', {}, button));
  return form;
}

async function withKey(body, key) {
  const message = h('div', { 'aria-live': 'polite' });
  const balances = h('div', {}, h('p', { class: 'loading' }, 'Loading balances…'));
  const faucetArea = h('div', {});
  let status;
  let assetsById = new Map();

  async function refresh() {
    try {
      status = await api.status();
      const acct = await api.account(key.did, { proof: true });
      const list = acct.balances.length
        ? h('ul', { class: 'balances' }, acct.balances.map((b) => h('li', {},
          h('span', { class: 'amount' }, b.decimals !== undefined ? formatUnits(b.amount, b.decimals) : b.amount),
          h('span', { class: 'muted' }, b.symbol ?? short(b.asset)), ' ',
          verifiedMark(b.proof, stateKeys.balance(fromDid(key.did), b.asset), u128le(b.amount), { compact: true }))))
        : h('p', { class: 'muted' }, 'No balances yet.');
      assetsById = new Map(acct.balances.map((b) => [b.asset, b]));
      set(balances, list, fields([
        ['Nonce', String(acct.nonce)],
        ['Read at', h('a', { href: `#/explorer/block/${acct.height}` }, `block ${acct.height}`)],
        ['Details', h('a', { href: `#/explorer/account/${encodeURIComponent(key.did)}` }, 'in the explorer, with proofs')],
      ]));
      renderFaucet(acct);
    } catch (e) {
      set(balances, errorBox(e));
    }
  }

  function renderFaucet(acct) {
    const f = status?.params?.faucet;
    if (!f) return set(faucetArea);
    const drips = f.drips.map((d) => d.display ?? d.amount).join(' and ');
    const next = acct.last_faucet_ms ? Number(acct.last_faucet_ms) + Number(f.cooldown_ms) : 0;
    const button = h('button', {
      type: 'button',
      onclick: () => busy(button, 'Asking the faucet…', async () => {
        set(message);
        const { hash, result } = await submit({ type: 'faucet' });
        if (result.status === 'committed' && result.ok) {
          set(message, h('p', { class: 'success' }, `Received ${drips} in block ${result.height}. `,
            h('a', { href: `#/explorer/tx/${hash}` }, 'See the transaction')));
        } else if (result.status === 'committed') {
          set(message, errorBox(result.error));
        } else {
          set(message, h('p', { class: 'notice' }, 'Submitted; waiting for a block. ',
            h('a', { href: `#/explorer/tx/${hash}` }, 'Follow it')));
        }
        await refresh();
      }).catch((e) => set(message, errorBox(e))),
    }, `Get ${drips} from the devnet faucet`);
    set(faucetArea, h('p', {}, button),
      next > Date.now() ? h('p', { class: 'muted' }, 'The faucet gives once per ', `${Math.round(Number(f.cooldown_ms) / 1000)} s`,
        '; it may refuse until ', time(next), '.') : null);
  }

  const didText = h('code', { id: 'did' }, key.did);
  const copy = h('button', {
    type: 'button', class: 'secondary',
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(key.did);
        set(message, h('p', { class: 'success' }, 'Copied your did:key.'));
      } catch {
        set(message, errorBox(new Error('copying is not allowed here; select the text instead')));
      }
    },
  }, 'Copy');

  set(body,
    h('section', { class: 'card', 'aria-labelledby': 'acct-h' },
      h('h2', { id: 'acct-h' }, 'Your account'),
      h('p', { class: 'row' }, didText, copy),
      balances, faucetArea),
    message,
    transferForm(message, () => assetsById, refresh),
    backupSection(key, message));
  await refresh();
  const off = api.onBlock((b) => {
    if (b.txs?.length) refresh();
  });
  return off;
}

function transferForm(message, assets, refresh) {
  const to = h('input', { id: 'to', required: true, placeholder: 'did:key:z6Mk…', autocomplete: 'off', spellcheck: 'false' });
  const amount = h('input', { id: 'amount', required: true, inputmode: 'decimal', placeholder: '1.25' });
  const asset = h('select', { id: 'asset', required: true });
  const button = h('button', { type: 'submit' }, 'Send');
  const form = h('form', {
    class: 'card', 'aria-labelledby': 'send-h',
    onfocusin: () => {
      const current = asset.value;
      set(asset, [...assets().values()].map((b) => h('option', { value: b.asset, selected: b.asset === current }, b.symbol ?? b.asset)));
    },
    onsubmit: (e) => {
      e.preventDefault();
      busy(button, 'Sending…', async () => {
        set(message);
        const info = assets().get(asset.value);
        if (!info) throw new Error('choose an asset you hold');
        const base = parseUnits(amount.value, info.decimals ?? 0);
        if (base > BigInt(info.amount)) throw new Error(`you hold ${formatUnits(info.amount, info.decimals ?? 0)} ${info.symbol}`);
        const { hash, result } = await submit({ type: 'transfer', to: accountOf(to.value), asset: asset.value, amount: base.toString() });
        if (result.status === 'committed' && result.ok) {
          set(message, h('p', { class: 'success' }, `Sent in block ${result.height}. `, h('a', { href: `#/explorer/tx/${hash}` }, 'See the transaction')));
          form.reset();
        } else if (result.status === 'committed') set(message, errorBox(result.error));
        else set(message, h('p', { class: 'notice' }, 'Submitted; waiting for a block.'));
        await refresh();
      }).catch((e2) => set(message, errorBox(e2)));
    },
  },
  h('h2', { id: 'send-h' }, 'Send'),
  h('label', { for: 'to' }, 'To (did:key)'), to,
  h('label', { for: 'amount' }, 'Amount'), amount,
  h('label', { for: 'asset' }, 'Asset'), asset,
  h('p', {}, button));
  return form;
}

function backupSection(key, message) {
  const pass = h('input', { id: 'backup-pass', type: 'password', autocomplete: 'new-password', minlength: 8, required: true });
  const again = h('input', { id: 'backup-again', type: 'password', autocomplete: 'new-password', minlength: 8, required: true });
  const button = h('button', { type: 'submit' }, 'Download backup');
  const form = h('form', {
    'aria-labelledby': 'backup-h',
    onsubmit: (e) => {
      e.preventDefault();
      busy(button, 'Encrypting…', async () => {
        if (pass.value !== again.value) throw new Error('the two passphrases differ');
        const text = await exportBackup(key, pass.value);
        const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
        const a = h('a', { href: url, download: `cadenza-key-${key.did.slice(-8)}.json` });
        document.body.append(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10000);
        form.reset();
        set(message, h('p', { class: 'success' }, 'Backup saved. Keep the file and the passphrase apart.'));
      }).catch((e2) => set(message, errorBox(e2)));
    },
  },
  h('h2', { id: 'backup-h' }, 'Backup'),
  h('p', {}, 'The backup holds your key encrypted with a passphrase (PBKDF2-SHA-256, AES-256-GCM). Without it, clearing this browser\u2019s data loses the key.'),
  h('label', { for: 'backup-pass' }, 'Passphrase (8 characters or more)'), pass,
  h('label', { for: 'backup-again' }, 'The same passphrase again'), again,
  h('p', {}, button));
  const forget = h('button', {
    type: 'button', class: 'secondary',
    onclick: async () => {
      if (!confirm('Remove the key from this browser? Without a backup, its funds are lost.')) return;
      await forgetKey();
      setWalletKey(null);
      window.dispatchEvent(new HashChangeEvent('hashchange'));
    },
  }, 'Remove the key from this browser');
  return h('section', { class: 'card' }, form, h('h2', {}, 'Remove'), h('p', {}, forget));
}
