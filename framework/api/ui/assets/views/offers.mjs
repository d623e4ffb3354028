// Storage offers of one scheduler: per agent, the volumes it may attach there and the capacity it
// could provision per (service, profile).

import { code, dataTable, formatGiB, h, replaceChildren } from '../dom.mjs';

export function offersView(panel, { api, actions }) {
  const input = h('input', {
    id: 'offers-scheduler',
    name: 'scheduler',
    value: 'polly',
    required: true,
    autocomplete: 'off',
    list: 'offers-scheduler-names',
  });
  const names = h('datalist', { id: 'offers-scheduler-names' });
  const show = h('button', { type: 'submit', class: 'primary' }, 'Show offers');
  const form = h(
    'form',
    { class: 'toolbar', 'aria-label': 'Choose a scheduler' },
    h('div', { class: 'field' }, h('label', { for: 'offers-scheduler' }, 'Scheduler'), input, names),
    show,
  );
  const result = h('div', { id: 'offers-result', 'aria-live': 'polite' });
  panel.append(
    h('h2', {}, 'Storage offers'),
    h(
      'p',
      { class: 'muted' },
      'What a scheduler may use on each agent: volumes offered to it in the agent’s zone and not held by a writer, and the capacity it could create.',
    ),
    form,
    result,
  );
  let seq = 0;

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void load();
  });

  async function load() {
    const scheduler = input.value.trim();
    if (!scheduler) return;
    const mine = ++seq;
    let offers;
    try {
      offers = (await api.get('/v1/offers', { scheduler })).offers;
    } catch (err) {
      if (mine === seq) replaceChildren(result, h('p', { class: 'form-error', role: 'alert' }, err.message));
      return;
    }
    if (mine !== seq) return;
    replaceChildren(
      result,
      h('h3', {}, `Offers for ${scheduler}`, h('span', { class: 'muted' }, ` · ${offers.length} agent${offers.length === 1 ? '' : 's'}`)),
      h(
        'div',
        { class: 'table-wrap' },
        dataTable({
          caption: `Storage offers for ${scheduler}`,
          captionHidden: true,
          columns: [
            { label: 'Agent', cell: (o) => [h('strong', {}, o.hostname), h('div', { class: 'muted small' }, code(o.agentId))] },
            { label: 'Zone', cell: (o) => o.zone ?? '—' },
            { label: 'Offer', cell: (o) => code(o.id) },
            {
              label: 'Volumes',
              cell: (o) =>
                o.volumes.length
                  ? h(
                      'ul',
                      { class: 'inline-list' },
                      o.volumes.map((v) => h('li', {}, `${v.name} (${formatGiB(v.size)})`)),
                    )
                  : h('span', { class: 'muted' }, 'none'),
            },
            {
              label: 'Capacity',
              cell: (o) =>
                h(
                  'ul',
                  { class: 'inline-list' },
                  o.capacity.map((c) =>
                    h(
                      'li',
                      {},
                      `${c.service}/${c.profile}: ${c.availableGiB === undefined ? 'unknown' : `${formatGiB(c.availableGiB)} free`}`,
                    ),
                  ),
                ),
            },
          ],
          rows: offers,
          empty: 'No offers: no agent is known, or nothing is offered to this scheduler.',
        }),
      ),
    );
  }

  return {
    render() {
      names.replaceChildren(...actions.schedulerOptions().map((n) => h('option', { value: n })));
      void load();
    },
  };
}
