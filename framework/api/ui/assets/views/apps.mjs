// Volume-bound apps Polly runs, each with its tasks: state, agent and the volumes they hold.

import { badge, code, dataTable, formatTime, h, replaceChildren } from '../dom.mjs';

export function appsView(panel, { store }) {
  function render() {
    const error = store.errors.get('apps');
    replaceChildren(
      panel,
      h('h2', {}, 'Apps and tasks'),
      error ? h('p', { class: 'form-error' }, `Could not read apps: ${error}`) : null,
      store.apps.length === 0 && !error
        ? h('p', { class: 'muted' }, 'No apps. Create one with `polly app run` or POST /v1/apps.')
        : null,
      store.apps.map((app, i) =>
        h(
          'section',
          { class: 'card app', 'aria-labelledby': `app-${i}`, dataset: { appId: app.id } },
          h('h3', { id: `app-${i}` }, app.id, ' ', badge(app.state)),
          h(
            'p',
            { class: 'muted small' },
            `${app.tasks.length}/${app.instances} instance${app.instances === 1 ? '' : 's'} · ${app.cpus} CPU · ${app.mem} MB` +
              (app.container?.docker?.image ? ` · ${app.container.docker.image}` : ''),
          ),
          app.waiting?.length
            ? h(
                'ul',
                { class: 'plain-list' },
                app.waiting.map((w) => h('li', {}, `Instance ${w.instance} waiting: ${w.reason}`)),
              )
            : null,
          h(
            'div',
            { class: 'table-wrap' },
            dataTable({
              caption: `Tasks of ${app.id}`,
              captionHidden: true,
              columns: [
                { label: 'Instance', cell: (t) => String(t.instance) },
                { label: 'Task', cell: (t) => code(t.id) },
                { label: 'State', cell: (t) => [badge(t.state), t.message ? h('div', { class: 'muted small' }, t.message) : null] },
                {
                  label: 'Agent',
                  cell: (t) => [t.hostname || t.agentId || '—', t.zone ? h('div', { class: 'muted small' }, t.zone) : null],
                },
                {
                  label: 'Volumes',
                  cell: (t) =>
                    t.volumes.length
                      ? h(
                          'ul',
                          { class: 'inline-list' },
                          t.volumes.map((v) => h('li', {}, `${v.name} → ${v.containerPath} (${v.mode})`)),
                        )
                      : h('span', { class: 'muted' }, 'none'),
                },
                { label: 'Updated', cell: (t) => formatTime(t.updatedAt) },
              ],
              rows: app.tasks,
              empty: 'No tasks yet.',
            }),
          ),
        ),
      ),
    );
  }
  return { render };
}
