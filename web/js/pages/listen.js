// Listen (being built).
import { h } from '../ui.js';

export function render(root) {
  root.append(h('h1', {}, 'Listen'), h('p', { class: 'notice' }, 'This page is being built.'));
}
