// Wallet (being built).
import { h } from '../ui.js';

export function render(root) {
  root.append(h('h1', {}, 'Wallet'), h('p', { class: 'notice' }, 'This page is being built.'));
}
