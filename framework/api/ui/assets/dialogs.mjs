// Modal dialogs (<dialog>): every operator action goes through one. The dialog stays open while the
// action runs and, when the API refuses, shows the API's message and lets the operator fix and retry.

import { h } from './dom.mjs';

let counter = 0;

/**
 * Opens a modal form. `onSubmit(form)` runs the action; if it throws, its message is shown in the
 * dialog (role=alert) and the dialog stays open. Resolves true once the action succeeded, false on cancel.
 * @param {{ title: string, description?: string | Node, fields?: Node[], submitLabel: string, danger?: boolean,
 *           cancellable?: boolean, onSubmit: (form: HTMLFormElement) => Promise<void>, initialError?: string }} spec
 */
export function formDialog({ title, description, fields = [], submitLabel, danger = false, cancellable = true, onSubmit, initialError }) {
  const n = ++counter;
  const titleId = `dialog-title-${n}`;
  const descId = `dialog-desc-${n}`;
  const error = h('p', { class: 'form-error', role: 'alert', id: `dialog-error-${n}` });
  const submit = h('button', { type: 'submit', class: danger ? 'danger' : 'primary' }, submitLabel);
  const cancel = cancellable ? h('button', { type: 'button', class: 'secondary' }, 'Cancel') : null;
  const form = h(
    'form',
    { novalidate: false },
    h('h2', { id: titleId }, title),
    description ? h('div', { id: descId, class: 'dialog-description' }, description) : null,
    fields,
    error,
    h('div', { class: 'dialog-actions' }, cancel, submit),
  );
  const dialog = h('dialog', { 'aria-labelledby': titleId, 'aria-describedby': description ? descId : undefined, class: 'modal' }, form);
  document.body.append(dialog);
  if (initialError) error.textContent = initialError;

  return new Promise((resolve) => {
    let done = false;
    const finish = (result) => {
      if (done) return;
      done = true;
      dialog.close();
      dialog.remove();
      resolve(result);
    };
    dialog.addEventListener('cancel', (event) => {
      if (!cancellable) event.preventDefault();
      else finish(false);
    });
    cancel?.addEventListener('click', () => finish(false));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (!form.reportValidity()) return;
      submit.disabled = true;
      form.setAttribute('aria-busy', 'true');
      error.textContent = '';
      try {
        await onSubmit(form);
        finish(true);
      } catch (err) {
        error.textContent = err?.message ?? String(err);
        submit.disabled = false;
        form.removeAttribute('aria-busy');
        (form.querySelector('[autofocus]') ?? submit).focus();
      }
    });
    dialog.showModal();
  });
}

/** A labelled control: `field('Reason', h('textarea', { name: 'reason', required: true }))`. */
export function field(label, control, hint) {
  const id = control.id || `field-${++counter}`;
  control.id = id;
  const hintId = hint ? `${id}-hint` : undefined;
  if (hintId) control.setAttribute('aria-describedby', hintId);
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, hint ? h('p', { class: 'hint', id: hintId }, hint) : null);
}

/** A yes/no confirmation for an action without inputs. */
export function confirmDialog({ title, message, confirmLabel, danger = true, run }) {
  return formDialog({ title, description: message, submitLabel: confirmLabel, danger, onSubmit: () => run() });
}
