// One volume: its facts, labels, schedulers (offer / revoke), attachments, and every claim it has
// had with each claim's transitions; live claims can be force-released.

import { badge, code, dataTable, formatGiB, formatTime, h, replaceChildren } from '../dom.mjs';

const LIVE = new Set(['pending', 'attaching', 'attached', 'releasing']);

function facts(v) {
  const rows = [
    ['Volume ID', code(v.id)],
    ['Service', v.service],
    ['Driver volume ID', code(v.driverVolumeId)],
    ['Status', badge(v.status)],
    ['Size', formatGiB(v.size)],
    ['Profile', v.profile ?? '—'],
    ['Type', v.type ?? '—'],
    ['IOPS', v.iops ?? '—'],
    ['Availability zone', v.availabilityZone ?? '—'],
    ['Encrypted', v.encrypted ? 'yes' : 'no'],
    ['Managed', v.managed ? 'yes' : 'no'],
    ['Created', formatTime(v.createdAt)],
    ['Updated', formatTime(v.updatedAt)],
  ];
  return h(
    'dl',
    { class: 'facts' },
    rows.map(([k, x]) => [h('dt', {}, k), h('dd', {}, x)]),
  );
}

function section(id, title, ...content) {
  return h('section', { class: 'card', 'aria-labelledby': id }, h('h3', { id }, title), content);
}

export function renderVolumeDetail(container, { volume: v, claims, claimsError, hostname, actions, back }) {
  const remove = h('button', { type: 'button', class: 'danger', id: 'volume-remove' }, 'Remove volume…');
  remove.addEventListener('click', () => actions.removeVolume(v));
  const offer = h('button', { type: 'button', class: 'secondary', id: 'volume-offer' }, 'Offer to a scheduler…');
  offer.addEventListener('click', () => actions.offerVolume(v));

  const schedulers = v.schedulers.length
    ? h(
        'ul',
        { class: 'plain-list' },
        v.schedulers.map((s) => {
          const revoke = h('button', { type: 'button', class: 'secondary small', 'aria-label': `Revoke from ${s}` }, 'Revoke…');
          revoke.addEventListener('click', () => actions.revokeVolume(v, s));
          return h('li', {}, h('span', {}, s), revoke);
        }),
      )
    : h('p', { class: 'muted' }, 'Not offered to any scheduler.');

  const labels = Object.keys(v.labels).length
    ? h(
        'dl',
        { class: 'facts' },
        Object.entries(v.labels).map(([k, x]) => [h('dt', {}, k), h('dd', {}, x)]),
      )
    : h('p', { class: 'muted' }, 'No labels.');

  const attachments = dataTable({
    caption: 'Attachments',
    captionHidden: true,
    columns: [
      { label: 'Agent', cell: (a) => hostname(a.agentId) },
      { label: 'Instance', cell: (a) => code(a.instanceId) },
      { label: 'Mode', cell: (a) => a.mode },
      { label: 'Claim', cell: (a) => code(a.claimId) },
      { label: 'Attached', cell: (a) => formatTime(a.attachedAt) },
    ],
    rows: v.attachments,
    empty: 'Not attached.',
  });

  // Attachments the backend shows that no claim accounts for: Polly never detaches them itself.
  const foreign = v.foreignAttachments?.length
    ? section(
        'detail-foreign',
        'Attached outside any claim',
        h(
          'div',
          {},
          h(
            'p',
            { class: 'muted' },
            'The backend shows these attachments but no claim accounts for them (made outside Polly, or before a restored ' +
              'backup). A task may still write through one, so Polly leaves them attached; an operator detaches one with ',
            code(`polly volume detach ${v.id} --instance ID --reason TEXT`),
            '.',
          ),
          h(
            'div',
            { class: 'table-wrap' },
            dataTable({
              caption: 'Attached outside any claim',
              captionHidden: true,
              columns: [
                { label: 'Instance', cell: (a) => code(a.instanceId) },
                { label: 'Mode', cell: (a) => (a.readOnly ? 'RO' : 'RW') },
                { label: 'Attached', cell: (a) => (a.attachedAt ? formatTime(a.attachedAt) : '—') },
                { label: 'Found', cell: (a) => formatTime(a.foundAt) },
              ],
              rows: v.foreignAttachments,
              empty: '',
            }),
          ),
        ),
      )
    : null;

  let claimsContent;
  if (claimsError) claimsContent = h('p', { class: 'form-error' }, `Could not read claims: ${claimsError}`);
  else {
    const sorted = [...(claims ?? [])].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    claimsContent = dataTable({
      caption: 'Claims, newest first',
      captionHidden: true,
      className: 'claims',
      columns: [
        { label: 'Claim', cell: (c) => code(c.id) },
        { label: 'State', cell: (c) => [badge(c.state), c.forced ? h('span', { class: 'tag' }, 'forced') : null] },
        { label: 'Scheduler', cell: (c) => c.scheduler ?? '—' },
        { label: 'Task', cell: (c) => (c.taskId ? code(c.taskId) : '—') },
        { label: 'Agent', cell: (c) => hostname(c.agentId) },
        { label: 'Mode', cell: (c) => c.mode },
        {
          label: 'History',
          cell: (c) =>
            h(
              'details',
              {},
              h('summary', {}, `${c.history.length} transition${c.history.length === 1 ? '' : 's'}`),
              h(
                'ol',
                { class: 'history' },
                c.history.map((t) =>
                  h('li', {}, h('time', { datetime: t.at }, formatTime(t.at)), ' ', badge(t.state), t.reason ? ` — ${t.reason}` : ''),
                ),
              ),
            ),
        },
        {
          label: 'Actions',
          cell: (c) => {
            if (!LIVE.has(c.state)) return c.reason ? h('span', { class: 'muted' }, c.reason) : '';
            const b = h('button', { type: 'button', class: 'danger small', 'aria-label': `Force-release claim ${c.id}` }, 'Force-release…');
            b.addEventListener('click', () => actions.forceRelease(c));
            return b;
          },
        },
      ],
      rows: sorted,
      empty: 'No claims yet.',
    });
  }

  replaceChildren(
    container,
    h('div', { class: 'panel-head' }, back, h('div', { class: 'actions' }, offer, remove)),
    h('h2', { tabindex: '-1' }, `Volume ${v.name}`),
    h(
      'div',
      { class: 'grid-2' },
      section('detail-facts', 'Facts', facts(v)),
      h('div', {}, section('detail-schedulers', 'Offered to', schedulers), section('detail-labels', 'Labels', labels)),
    ),
    section('detail-attachments', 'Attachments', h('div', { class: 'table-wrap' }, attachments)),
    foreign,
    section('detail-claims', 'Claim history', h('div', { class: 'table-wrap' }, claimsContent)),
  );
}
