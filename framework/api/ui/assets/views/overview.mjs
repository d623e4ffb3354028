// Overview: counts, the configured services, volumes by state, and capacity by zone and profile —
// what the drivers report as available (from the storage offers) and what Polly has provisioned.

import { barChart } from '../bar-chart.mjs';
import { badge, dataTable, formatGiB, h, replaceChildren } from '../dom.mjs';

const STATES = ['available', 'attached', 'removing', 'missing'];
/** Capacity is the same for every scheduler; Polly's own launcher (`polly`) always has offers. */
const CAPACITY_SCHEDULER = 'polly';

function stat(label, value, note) {
  return h(
    'div',
    { class: 'stat' },
    h('dt', {}, label),
    h('dd', {}, h('span', { class: 'stat-value' }, String(value)), note ? h('span', { class: 'muted' }, ` ${note}`) : null),
  );
}

function zoneOf(v) {
  return v.availabilityZone || 'no zone';
}

export function overviewView(panel, { store, api }) {
  let capacity = { rows: undefined, error: undefined, at: 0 };
  let loading = false;

  async function loadCapacity() {
    if (loading || Date.now() - capacity.at < 10_000) return;
    loading = true;
    try {
      const { offers } = await api.get('/v1/offers', { scheduler: CAPACITY_SCHEDULER });
      // Capacity is per (service, profile, zone): one row each, whatever the number of agents.
      const rows = new Map();
      for (const offer of offers) {
        for (const c of offer.capacity) {
          const key = `${offer.zone ?? ''}\u0000${c.service}/${c.profile}`;
          if (!rows.has(key))
            rows.set(key, {
              zone: offer.zone || 'no zone',
              profile: `${c.service}/${c.profile}`,
              available: c.availableGiB,
              total: c.totalGiB,
            });
        }
      }
      capacity = {
        rows: [...rows.values()].sort((a, b) => `${a.zone} ${a.profile}`.localeCompare(`${b.zone} ${b.profile}`)),
        error: undefined,
        at: Date.now(),
      };
    } catch (err) {
      capacity = { rows: undefined, error: err.message, at: Date.now() };
    } finally {
      loading = false;
    }
    render();
  }

  function capacityFigure() {
    if (capacity.error) return h('p', { class: 'muted' }, `Capacity: ${capacity.error}`);
    if (!capacity.rows) return h('p', { class: 'muted' }, 'Capacity: loading…');
    const known = capacity.rows.filter((r) => r.total !== undefined && r.available !== undefined);
    const unknown = capacity.rows.length - known.length;
    const fig = barChart({
      title: 'Backend capacity by zone and profile',
      series: [
        { key: 'used', name: 'In use' },
        { key: 'free', name: 'Available' },
      ],
      rows: known.map((r) => ({
        label: `${r.zone} · ${r.profile}`,
        values: { used: Math.max(0, r.total - r.available), free: r.available },
      })),
      unit: formatGiB,
      valueText: (row) => `${formatGiB(row.values.free)} free of ${formatGiB(row.values.used + row.values.free)}`,
      empty: 'No agent has offered capacity yet.',
    });
    if (unknown > 0) fig.append(h('p', { class: 'muted' }, `${unknown} profile(s) whose driver does not report capacity.`));
    return fig;
  }

  function render() {
    if (!store.loaded) {
      // Nothing read yet (or the API wants a token first): no zeros that look like data.
      replaceChildren(panel, h('h2', {}, 'Overview'), h('p', { class: 'muted' }, 'Loading… (sign in if Polly asks for a token)'));
      return;
    }
    const volumes = [...store.volumes.values()];
    const agents = store.agents;
    const activeAgents = agents.filter((a) => a.state === 'active').length;
    const tasks = store.apps.flatMap((a) => a.tasks ?? []);
    const running = tasks.filter((t) => t.state === 'TASK_RUNNING').length;

    const byState = STATES.map((s) => ({ label: s, values: { n: volumes.filter((v) => v.status === s).length } }));
    const provisioned = new Map();
    for (const v of volumes) {
      const key = `${zoneOf(v)} · ${v.service}/${v.profile ?? 'default'}`;
      provisioned.set(key, (provisioned.get(key) ?? 0) + v.size);
    }

    replaceChildren(
      panel,
      h('h2', {}, 'Overview'),
      h(
        'dl',
        { class: 'stats' },
        stat('Volumes', volumes.length),
        stat('Attached', volumes.filter((v) => v.status === 'attached').length),
        stat('Live claims', store.liveClaims.size),
        stat('Agents', `${activeAgents}/${agents.length}`, 'active'),
        stat('App tasks', `${running}/${tasks.length}`, 'running'),
      ),
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'services-heading' },
        h('h3', { id: 'services-heading' }, 'Services'),
        store.errors.get('services') ? h('p', { class: 'form-error' }, store.errors.get('services')) : null,
        dataTable({
          caption: 'Configured storage services',
          captionHidden: true,
          columns: [
            { label: 'Service', cell: (s) => h('strong', {}, s.name) },
            { label: 'Driver', cell: (s) => s.driver },
            { label: 'Mapping', cell: (s) => s.mapping },
            {
              label: 'Backend',
              // A CSI service: the plugin as it described itself (name, version, capabilities).
              cell: (s) =>
                s.csi?.plugin
                  ? h(
                      'div',
                      {},
                      h('span', {}, `${s.csi.plugin.name} ${s.csi.plugin.version}`),
                      h(
                        'ul',
                        { class: 'inline-list' },
                        s.csi.plugin.capabilities.map((c) => h('li', {}, badge(c))),
                      ),
                    )
                  : s.csi
                    ? `CSI plugin at ${s.csi.endpoint}`
                    : '',
            },
            {
              label: 'Profiles',
              cell: (s) =>
                h(
                  'ul',
                  { class: 'inline-list' },
                  s.profiles.map((p) =>
                    h('li', {}, p.name, p.type ? ` (${p.type})` : '', p.active ? '' : ' ', p.active ? null : badge('inactive')),
                  ),
                ),
            },
          ],
          rows: store.services,
          empty: 'No services configured.',
        }),
      ),
      h(
        'div',
        { class: 'grid-2' },
        h('section', { class: 'card' }, barChart({ title: 'Volumes by state', series: [{ key: 'n', name: 'Volumes' }], rows: byState })),
        h(
          'section',
          { class: 'card' },
          barChart({
            title: 'Provisioned by zone and profile',
            series: [{ key: 'gib', name: 'Provisioned' }],
            rows: [...provisioned.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([label, gib]) => ({ label, values: { gib } })),
            unit: formatGiB,
            empty: 'No volumes yet.',
          }),
        ),
      ),
      h('section', { class: 'card', id: 'capacity' }, capacityFigure()),
    );
    void loadCapacity();
  }

  return {
    render,
    /** Capacity changes with volumes: read it again on the next render. */
    invalidate() {
      capacity.at = 0;
    },
  };
}
