// Explorer (being built).
import { h } from '../ui.js';

export function render(root) {
  root.append(h('h1', {}, 'Explorer'), h('p', { class: 'notice' }, 'This page is being built.'));
}
