// Volumes: a table with search, filters and sortable columns; selecting a volume opens its detail
// (attachments, claim history, labels, schedulers) with the operator actions. Below the table,
// quarantined data: what the backends hold but their records do not explain (never deleted by
// Polly; purging one is an explicit CLI or API act, named here).

import { badge, code, formatGiB, h, replaceChildren } from '../dom.mjs';
import { renderVolumeDetail } from './volume-detail.mjs';

const STATUSES = ['available', 'attached', 'removing', 'missing'];
/** Rows drawn at most: the API may hold 100k volumes; searching narrows them down. */
const MAX_ROWS = 500;

const COLUMNS = [
  { key: 'name', label: 'Name', value: (v) => v.name.toLowerCase() },
  { key: 'service', label: 'Service', value: (v) => v.service },
  { key: 'size', label: 'Size', value: (v) => v.size },
  { key: 'zone', label: 'Zone', value: (v) => v.availabilityZone ?? '' },
  { key: 'status', label: 'Status', value: (v) => v.status },
  { key: 'attached', label: 'Attached to', value: (v) => v.attachments.length },
  { key: 'schedulers', label: 'Offered to', value: (v) => v.schedulers.join(',') },
];

function matches(v, text) {
  if (!text) return true;
  const hay = [
    v.name,
    v.id,
    v.service,
    v.availabilityZone ?? '',
    v.status,
    ...v.schedulers,
    ...Object.entries(v.labels).map(([k, x]) => `${k}=${x}`),
  ]
    .join('\n')
    .toLowerCase();
  return text
    .toLowerCase()
    .split(/\s+/)
    .filter(Boolean)
    .every((word) => hay.includes(word));
}

export function volumesView(panel, ctx) {
  const { store, actions } = ctx;
  const state = { search: '', status: '', service: '', sort: 'name', dir: 1, selected: undefined };

  const search = h('input', { type: 'search', id: 'volume-search', autocomplete: 'off', placeholder: 'name, ID, label, scheduler' });
  const status = h(
    'select',
    { id: 'volume-status' },
    h('option', { value: '' }, 'All states'),
    STATUSES.map((s) => h('option', { value: s }, s)),
  );
  const service = h('select', { id: 'volume-service' }, h('option', { value: '' }, 'All services'));
  const create = h('button', { type: 'button', class: 'primary', id: 'volume-create' }, 'Create volume…');
  search.addEventListener('input', () => {
    state.search = search.value;
    renderList();
  });
  status.addEventListener('change', () => {
    state.status = status.value;
    renderList();
  });
  service.addEventListener('change', () => {
    state.service = service.value;
    renderList();
  });
  create.addEventListener('click', async () => {
    const v = await actions.createVolume();
    if (!v) create.focus();
  });

  const headRow = h('tr');
  const sortButtons = new Map();
  for (const c of COLUMNS) {
    const button = h('button', { type: 'button', class: 'sort' }, c.label, h('span', { class: 'sort-mark', 'aria-hidden': 'true' }));
    button.addEventListener('click', () => {
      state.dir = state.sort === c.key ? -state.dir : 1;
      state.sort = c.key;
      renderList();
    });
    sortButtons.set(c.key, button);
    headRow.append(h('th', { scope: 'col', dataset: { key: c.key } }, button));
  }
  headRow.append(h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Labels')));
  const tbody = h('tbody');
  const count = h('p', { class: 'muted', role: 'status', id: 'volumes-count' });
  const table = h(
    'table',
    { class: 'data', id: 'volumes-table' },
    h('caption', { class: 'visually-hidden' }, 'Volumes (select a column heading to sort)'),
    h('thead', {}, headRow),
    tbody,
  );
  const list = h(
    'div',
    { id: 'volumes-list' },
    h('div', { class: 'panel-head' }, h('h2', {}, 'Volumes'), create),
    h(
      'div',
      { class: 'toolbar', role: 'search', 'aria-label': 'Filter volumes' },
      h('div', { class: 'field' }, h('label', { for: 'volume-search' }, 'Search'), search),
      h('div', { class: 'field' }, h('label', { for: 'volume-status' }, 'State'), status),
      h('div', { class: 'field' }, h('label', { for: 'volume-service' }, 'Service'), service),
    ),
    h('div', { class: 'table-wrap' }, table),
    count,
  );
  const quarantineCount = h('p', { class: 'muted', id: 'quarantine-count' });
  const quarantineBody = h('tbody');
  const quarantineTable = h(
    'table',
    { class: 'data', id: 'quarantine-table' },
    h('caption', { class: 'visually-hidden' }, 'Quarantined data'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Service', 'Entry', 'Was', 'Since', 'Reason', 'Where'].map((label) => h('th', { scope: 'col' }, label)),
      ),
    ),
    quarantineBody,
  );
  const quarantine = h(
    'section',
    { id: 'quarantine', 'aria-labelledby': 'quarantine-title' },
    h('h3', { id: 'quarantine-title' }, 'Quarantined data'),
    quarantineCount,
    h('div', { class: 'table-wrap' }, quarantineTable),
  );
  list.append(quarantine);
  const detail = h('div', { id: 'volume-detail', hidden: true });
  panel.append(list, detail);

  function renderQuarantine() {
    const entries = store.quarantine;
    const error = store.errors.get('quarantine');
    quarantineBody.replaceChildren(
      ...entries.map((q) =>
        h(
          'tr',
          { dataset: { quarantineId: q.id } },
          h('td', { 'data-label': 'Service' }, q.service),
          h('td', { 'data-label': 'Entry' }, code(q.id)),
          h('td', { 'data-label': 'Was' }, q.originalId ?? '—'),
          h('td', { 'data-label': 'Since' }, q.quarantinedAt ?? '—'),
          h('td', { 'data-label': 'Reason' }, q.reason),
          h('td', { 'data-label': 'Where' }, code(q.path)),
        ),
      ),
    );
    quarantineTable.hidden = entries.length === 0;
    if (error) replaceChildren(quarantineCount, `Could not read quarantined data: ${error}`);
    else if (entries.length === 0) replaceChildren(quarantineCount, 'No quarantined data.');
    else
      replaceChildren(
        quarantineCount,
        `${entries.length} quarantined ${entries.length === 1 ? 'entry' : 'entries'}: data the backends hold but their records do not explain. ` +
          'Polly never deletes it; to delete one: ',
        code('polly volume purge SERVICE ENTRY --yes'),
      );
  }

  function hostname(agentId) {
    return store.agents.find((a) => a.agentId === agentId)?.hostname ?? agentId;
  }

  function syncServices() {
    const names = store.services.map((s) => s.name);
    const have = [...service.options].slice(1).map((o) => o.value);
    if (names.join('\n') !== have.join('\n')) {
      service.replaceChildren(
        h('option', { value: '' }, 'All services'),
        names.map((n) => h('option', { value: n }, n)),
      );
      service.value = names.includes(state.service) ? state.service : '';
    }
  }

  function renderList() {
    syncServices();
    const column = COLUMNS.find((c) => c.key === state.sort);
    const all = [...store.volumes.values()];
    const rows = all
      .filter(
        (v) => (!state.status || v.status === state.status) && (!state.service || v.service === state.service) && matches(v, state.search),
      )
      .sort((a, b) => {
        const x = column.value(a);
        const y = column.value(b);
        return (typeof x === 'number' ? x - y : String(x).localeCompare(String(y))) * state.dir || a.id.localeCompare(b.id);
      });
    for (const [key, button] of sortButtons) {
      const th = button.parentElement;
      if (key === state.sort) th.setAttribute('aria-sort', state.dir > 0 ? 'ascending' : 'descending');
      else th.removeAttribute('aria-sort');
      button.querySelector('.sort-mark').textContent = key === state.sort ? (state.dir > 0 ? ' ▲' : ' ▼') : '';
    }
    tbody.replaceChildren();
    for (const v of rows.slice(0, MAX_ROWS)) {
      const open = h('button', { type: 'button', class: 'link', 'aria-label': `${v.name} (details)` }, v.name);
      open.addEventListener('click', () => select(v.id));
      tbody.append(
        h(
          'tr',
          { dataset: { volumeId: v.id } },
          h('td', { 'data-label': 'Name' }, open, h('div', { class: 'muted small' }, code(v.id))),
          h('td', { 'data-label': 'Service' }, v.service),
          h('td', { 'data-label': 'Size', class: 'num' }, formatGiB(v.size)),
          h('td', { 'data-label': 'Zone' }, v.availabilityZone ?? '—'),
          h('td', { 'data-label': 'Status' }, badge(v.status)),
          h(
            'td',
            { 'data-label': 'Attached to' },
            v.attachments.length ? v.attachments.map((a) => `${hostname(a.agentId)} (${a.mode})`).join(', ') : '—',
          ),
          h('td', { 'data-label': 'Offered to' }, v.schedulers.join(', ') || '—'),
          h(
            'td',
            { 'data-label': 'Labels' },
            Object.entries(v.labels).map(([k, x]) => h('span', { class: 'tag' }, `${k}=${x}`)),
          ),
        ),
      );
    }
    if (rows.length === 0)
      tbody.append(
        h(
          'tr',
          {},
          h('td', { colspan: String(COLUMNS.length + 1), class: 'empty' }, all.length ? 'No volume matches.' : 'No volumes yet.'),
        ),
      );
    count.textContent =
      rows.length > MAX_ROWS
        ? `Showing ${MAX_ROWS} of ${rows.length} matching volumes (${all.length} in all): refine the search.`
        : `${rows.length} of ${all.length} volumes`;
    if (store.errors.get('volumes')) count.textContent = `Could not read volumes: ${store.errors.get('volumes')}`;
    renderQuarantine();
  }

  let detailSeq = 0;
  async function renderDetail({ focus = false } = {}) {
    const seq = ++detailSeq;
    const id = state.selected;
    const volume = store.volumes.get(id);
    if (!volume) {
      replaceChildren(detail, h('p', { class: 'form-error', role: 'alert' }, `Volume ${id} no longer exists.`), backButton());
      return;
    }
    let claims;
    let claimsError;
    try {
      claims = await store.claimsOf(id);
    } catch (err) {
      claimsError = err.message;
    }
    if (seq !== detailSeq || state.selected !== id) return;
    renderVolumeDetail(detail, { volume: store.volumes.get(id) ?? volume, claims, claimsError, hostname, actions, back: backButton() });
    if (focus) detail.querySelector('h2')?.focus();
  }

  function backButton() {
    const b = h('button', { type: 'button', class: 'secondary', id: 'volume-back' }, '← All volumes');
    b.addEventListener('click', () => select(undefined));
    return b;
  }

  function select(id) {
    const previous = state.selected;
    state.selected = id;
    list.hidden = Boolean(id);
    detail.hidden = !id;
    if (id) void renderDetail({ focus: true });
    else {
      renderList();
      const row = previous && tbody.querySelector(`tr[data-volume-id="${CSS.escape(previous)}"] button.link`);
      (row || search).focus();
    }
  }

  return {
    render() {
      if (state.selected) void renderDetail();
      else renderList();
    },
    select,
  };
}
