// Tiny DOM builders. Data from the API only ever becomes text nodes or attribute values, never
// HTML, so nothing a volume name or label contains can run in the page.

const SVG_NS = 'http://www.w3.org/2000/svg';

function apply(el, attrs) {
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.setAttribute('class', Array.isArray(value) ? value.filter(Boolean).join(' ') : value);
    else if (key === 'text') el.textContent = String(value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2).toLowerCase(), value);
    else if (key in el && typeof value !== 'string' && el.namespaceURI !== SVG_NS) el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** `h('button', { class: 'x', onClick }, 'Label')` */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  apply(el, attrs);
  append(el, children);
  return el;
}

export function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  apply(el, attrs);
  append(el, children);
  return el;
}

export function replaceChildren(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

export function formatTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' });
}

export function formatGiB(n) {
  if (n === undefined || n === null || Number.isNaN(n)) return '—';
  return `${n >= 100 ? Math.round(n) : Math.round(n * 10) / 10} GiB`;
}

/** A status badge whose colour class comes from a fixed list, never from data. */
const BADGE_KINDS = {
  available: 'ok',
  attached: 'info',
  active: 'ok',
  running: 'ok',
  TASK_RUNNING: 'ok',
  removing: 'warn',
  releasing: 'warn',
  pending: 'warn',
  attaching: 'warn',
  TASK_STAGING: 'warn',
  TASK_STARTING: 'warn',
  LAUNCHING: 'warn',
  unreachable: 'warn',
  missing: 'danger',
  failed: 'danger',
  gone: 'danger',
  TASK_FAILED: 'danger',
  TASK_LOST: 'danger',
  released: 'muted',
};

export function badge(value) {
  const text = String(value ?? '');
  return h('span', { class: ['badge', `badge-${BADGE_KINDS[text] ?? 'muted'}`] }, text);
}

/** A table whose cells carry their column name, so narrow screens can show each row as a card. */
export function dataTable({ caption, columns, rows, empty = 'Nothing here yet.', captionHidden = false, className }) {
  const table = h(
    'table',
    { class: ['data', className] },
    caption ? h('caption', { class: captionHidden ? 'visually-hidden' : undefined }, caption) : null,
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        columns.map((c) => h('th', { scope: 'col' }, c.label)),
      ),
    ),
  );
  const body = h('tbody');
  if (rows.length === 0) body.append(h('tr', {}, h('td', { colspan: String(columns.length), class: 'empty' }, empty)));
  for (const row of rows) {
    body.append(
      h(
        'tr',
        {},
        columns.map((c) => h('td', { 'data-label': c.label }, c.cell(row))),
      ),
    );
  }
  table.append(body);
  return table;
}

export function code(text) {
  return h('code', {}, String(text ?? ''));
}
