// A tiny horizontal (stacked) bar chart: one row per item, HTML labels and values (crisp at any
// size, read by screen readers) and an SVG bar that scales with the row. A table with the same
// numbers sits behind a <details> for anyone who prefers numbers to bars.

import { h, svg } from './dom.mjs';

/**
 * @param {{ title: string, series: { key: string, name: string }[], rows: { label: string, values: Record<string, number>, note?: string }[],
 *           unit?: (n: number) => string, empty?: string }} spec
 */
export function barChart({ title, series, rows, unit = String, empty = 'No data yet.', valueText }) {
  const id = `chart-${Math.random().toString(36).slice(2, 9)}`;
  const figure = h('figure', { class: 'chart', 'aria-labelledby': id });
  figure.append(h('figcaption', { id }, title));
  if (rows.length === 0) {
    figure.append(h('p', { class: 'muted' }, empty));
    return figure;
  }
  const totals = rows.map((r) => series.reduce((sum, s) => sum + (r.values[s.key] ?? 0), 0));
  const max = Math.max(1, ...totals);
  if (series.length > 1) {
    figure.append(
      h(
        'ul',
        { class: 'legend' },
        series.map((s, i) => h('li', {}, h('span', { class: ['swatch', `series-${i}`], 'aria-hidden': 'true' }), s.name)),
      ),
    );
  }
  const list = h('ul', { class: 'bars' });
  rows.forEach((row, r) => {
    const parts = series.map((s) => `${s.name}: ${unit(row.values[s.key] ?? 0)}`).join(', ');
    const bar = svg('svg', {
      viewBox: '0 0 100 10',
      preserveAspectRatio: 'none',
      class: 'bar',
      role: 'img',
      'aria-label': `${row.label}: ${parts}`,
    });
    bar.append(svg('rect', { x: '0', y: '0', width: '100', height: '10', class: 'track' }));
    let x = 0;
    series.forEach((s, i) => {
      const w = ((row.values[s.key] ?? 0) / max) * 100;
      if (w <= 0) return;
      bar.append(
        svg(
          'rect',
          { x: String(x), y: '0', width: String(Math.max(w, 0.5)), height: '10', class: `series-${i}` },
          svg('title', {}, `${s.name}: ${unit(row.values[s.key] ?? 0)}`),
        ),
      );
      x += w;
    });
    const value = valueText
      ? valueText(row)
      : series.length > 1
        ? series.map((s) => unit(row.values[s.key] ?? 0)).join(' / ')
        : unit(totals[r]);
    list.append(
      h(
        'li',
        {},
        h('span', { class: 'bar-label' }, row.label),
        bar,
        h('span', { class: 'bar-value' }, value, row.note ? h('span', { class: 'muted' }, ` ${row.note}`) : null),
      ),
    );
  });
  figure.append(list);
  return figure;
}
