// The live event feed: newest first, filterable by type. Events arrive over /v1/events.

import { code, formatTime, h, replaceChildren } from '../dom.mjs';

const MAX_EVENTS = 300;

function summary({ type, data }, hostname) {
  if (data.report && typeof data.report === 'object') {
    const parts = Object.entries(data.report).filter(([, n]) => typeof n === 'number' || typeof n === 'string');
    return ['Recovery finished: ', parts.map(([k, n]) => `${k} ${n}`).join(', ')];
  }
  if (data.volume) return [`Volume `, h('strong', {}, data.volume.name), ` (${data.volume.service}) · ${data.volume.status}`];
  if (type === 'claim.audit') return ['Claim ', code(data.claim?.id), ` ${data.action}: `, h('strong', {}, data.reason ?? '')];
  if (data.claim)
    return [
      'Claim ',
      code(data.claim.id),
      ` on ${data.claim.volumeId} · ${hostname(data.claim.agentId)}`,
      data.claim.reason ? ` — ${data.claim.reason}` : '',
    ];
  if (type === 'journal.truncated') return 'Some events were missed while disconnected; the page re-read everything.';
  return JSON.stringify(data).slice(0, 200);
}

export function eventsView(panel, { store }) {
  const hostname = (agentId) => store.agents.find((a) => a.agentId === agentId)?.hostname ?? agentId;
  const events = [];
  const filter = h('input', { type: 'search', id: 'event-filter', autocomplete: 'off', placeholder: 'e.g. claim.audit' });
  const clear = h('button', { type: 'button', class: 'secondary' }, 'Clear');
  const list = h('ol', { class: 'events', id: 'event-list', 'aria-label': 'Events, newest first' });
  const status = h('p', { class: 'muted', id: 'event-count' });
  panel.append(
    h('h2', {}, 'Live events'),
    h('div', { class: 'toolbar' }, h('div', { class: 'field' }, h('label', { for: 'event-filter' }, 'Filter by type'), filter), clear),
    status,
    list,
  );
  filter.addEventListener('input', render);
  clear.addEventListener('click', () => {
    events.length = 0;
    render();
  });

  function item(e) {
    const kind = e.type.startsWith('volume.')
      ? 'volume'
      : e.type === 'claim.audit'
        ? 'audit'
        : e.type.startsWith('claim.')
          ? 'claim'
          : 'other';
    return h(
      'li',
      { class: ['event', `event-${kind}`], dataset: { type: e.type, id: e.id } },
      h('time', { datetime: e.data.at ?? '' }, formatTime(e.data.at)),
      h('span', { class: 'event-type' }, e.type),
      h('span', { class: 'event-summary' }, summary(e, hostname)),
    );
  }

  function render() {
    const f = filter.value.trim().toLowerCase();
    const shown = events.filter((e) => !f || e.type.toLowerCase().includes(f));
    replaceChildren(list, shown.map(item));
    if (shown.length === 0) list.append(h('li', { class: 'muted' }, events.length ? 'No event matches.' : 'Waiting for events…'));
    status.textContent = `${shown.length} of ${events.length} events`;
  }

  return {
    render,
    add(e) {
      events.unshift(e);
      if (events.length > MAX_EVENTS) events.length = MAX_EVENTS;
    },
  };
}
