// confirm.js - a confirmation that says, in visible text, everything an action destroys, with the
// action and a way out as buttons (keyboard: focus lands on "Keep"; Escape keeps).
import {h} from './dom.js';

/**
 * Shows the question after anchor (an element of the page) and resolves to true (confirmed) or
 * false. text: the question, naming what goes; action: the confirming button's words.
 */
export function confirmInline(anchor, {text, action = 'Delete', keep = 'Keep it'}) {
  return new Promise((resolve) => {
    const yes = h('button', {type: 'button', class: 'danger small'}, action);
    const no = h('button', {type: 'button', class: 'small'}, keep);
    const box = h('div', {class: 'confirm', role: 'alertdialog', 'aria-label': 'Confirm', tabindex: '-1'},
      h('p', {class: 'confirm-text'}, text), h('div', {class: 'actions'}, yes, no));
    const done = (v) => {
      box.remove();
      anchor.disabled = false;
      if (!v) anchor.focus();
      resolve(v);
    };
    yes.addEventListener('click', () => done(true));
    no.addEventListener('click', () => done(false));
    box.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') done(false);
    });
    anchor.disabled = true;
    anchor.after(box);
    no.focus();
  });
}
