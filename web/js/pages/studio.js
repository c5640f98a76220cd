// Studio: for artists and rights holders. Publishing (upload, split editor, licence, RegisterTrack),
// live earnings and claims come next; the signing they need is in js/encoding.js and js/keys.js.
import { h } from '../ui.js';

export function render(root) {
  root.append(
    h('h1', {}, 'Studio'),
    h('p', { class: 'notice' }, 'Publishing from the browser is being built: upload by drag and drop, a split editor ',
      '(holders and shares summing to 100%), licence terms and price, then registration on the ledger; ',
      'live earnings from the node\u2019s event stream, share holders, and claims.'),
    h('p', {}, 'Meanwhile, see every registered track in ', h('a', { href: '#/listen' }, 'Listen'),
      ' and its record, with a verified proof, in the ', h('a', { href: '#/explorer' }, 'Explorer'), '.'));
}
