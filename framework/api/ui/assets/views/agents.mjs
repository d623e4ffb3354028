// Agents grouped by zone, each with the volumes attached to it now.

import { badge, code, formatGiB, h, replaceChildren } from '../dom.mjs';

export function agentsView(panel, { store }) {
  function render() {
    const byAgent = new Map();
    for (const v of store.volumes.values()) {
      for (const a of v.attachments) {
        if (!byAgent.has(a.agentId)) byAgent.set(a.agentId, []);
        byAgent.get(a.agentId).push({ volume: v, attachment: a });
      }
    }
    const zones = new Map();
    for (const agent of store.agents) {
      const zone = agent.zone || 'no zone';
      if (!zones.has(zone)) zones.set(zone, []);
      zones.get(zone).push(agent);
    }
    const error = store.errors.get('agents');
    replaceChildren(
      panel,
      h('h2', {}, 'Agents by zone'),
      error ? h('p', { class: 'form-error' }, `Could not read agents: ${error}`) : null,
      zones.size === 0 && !error
        ? h('p', { class: 'muted' }, 'No agent has been seen yet (agents appear when Mesos offers their resources).')
        : null,
      [...zones.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([zone, agents], i) =>
          h(
            'section',
            { class: 'zone', 'aria-labelledby': `zone-${i}` },
            h(
              'h3',
              { id: `zone-${i}` },
              `Zone ${zone}`,
              h('span', { class: 'muted' }, ` · ${agents.length} agent${agents.length === 1 ? '' : 's'}`),
            ),
            h(
              'ul',
              { class: 'cards' },
              agents.map((agent) => {
                const attached = byAgent.get(agent.agentId) ?? [];
                return h(
                  'li',
                  { class: 'card agent', dataset: { agentId: agent.agentId } },
                  h('h4', {}, agent.hostname, ' ', badge(agent.state)),
                  h('p', { class: 'muted small' }, code(agent.agentId)),
                  agent.region ? h('p', { class: 'small' }, `Region ${agent.region}`) : null,
                  agent.reason ? h('p', { class: 'small' }, agent.reason) : null,
                  attached.length
                    ? h(
                        'ul',
                        { class: 'plain-list', 'aria-label': `Volumes attached to ${agent.hostname}` },
                        attached.map(({ volume, attachment }) =>
                          h(
                            'li',
                            {},
                            h('span', {}, volume.name),
                            h('span', { class: 'muted' }, `${formatGiB(volume.size)} · ${attachment.mode}`),
                          ),
                        ),
                      )
                    : h('p', { class: 'muted small' }, 'No volumes attached.'),
                );
              }),
            ),
          ),
        ),
    );
  }
  return { render };
}
