/**
 * WCAG 2.1 contrast of the dashboard's palette (the custom properties in styles.css): 4.5:1 for text
 * on the backgrounds it is used on (AA, normal text), 3:1 for control borders, focus rings and chart
 * bars against what surrounds them (AA, non-text contrast).
 */
import fs from 'node:fs';
import path from 'node:path';

const CSS = fs.readFileSync(path.resolve(__dirname, '../../../../framework/api/ui/assets/styles.css'), 'utf8');

function palette(css: string): Record<string, string> {
  const root = /:root\s*{([^}]*)}/.exec(css);
  if (!root) throw new Error('no :root block in styles.css');
  const vars: Record<string, string> = {};
  for (const m of root[1].matchAll(/--([a-z0-9-]+)\s*:\s*(#[0-9a-fA-F]{6})\s*;/g)) vars[m[1]] = m[2].toLowerCase();
  return vars;
}

function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5]
    .map((i) => parseInt(hex.slice(i, i + 2), 16) / 255)
    .map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

const vars = palette(CSS);

/** [foreground, background] as used in styles.css. */
const TEXT_PAIRS: Array<[string, string]> = [
  ['text', 'bg'],
  ['text', 'surface'],
  ['text', 'accent-soft'],
  ['text', 'danger-soft'],
  ['muted', 'surface'],
  ['muted', 'bg'],
  ['muted', 'danger-soft'],
  ['accent', 'surface'],
  ['accent', 'bg'],
  ['accent-text', 'accent'],
  ['danger', 'surface'],
  ['danger', 'danger-soft'],
  ['danger-text', 'danger'],
  ['ok', 'surface'],
  ['ok', 'ok-soft'],
  ['warn', 'warn-soft'],
  ['info', 'info-soft'],
  ['header-text', 'header-bg'],
  ['header-muted', 'header-bg'],
];

const NON_TEXT_PAIRS: Array<[string, string]> = [
  ['control-border', 'surface'],
  ['focus', 'surface'],
  ['focus', 'bg'],
  ['header-text', 'header-bg'],
  ['chart-0', 'surface'],
  ['chart-1', 'surface'],
];

describe('dashboard palette contrast (WCAG AA)', () => {
  it('defines every colour the checks name', () => {
    for (const name of [...TEXT_PAIRS, ...NON_TEXT_PAIRS].flat()) expect({ name, defined: name in vars }).toEqual({ name, defined: true });
  });

  it('computes ratios as WCAG defines them', () => {
    expect(contrast('#000000', '#ffffff')).toBeCloseTo(21, 5);
    expect(contrast('#ffffff', '#ffffff')).toBeCloseTo(1, 5);
    expect(contrast('#767676', '#ffffff')).toBeCloseTo(4.54, 2);
  });

  it.each(TEXT_PAIRS)('text %s on %s is at least 4.5:1', (fg, bg) => {
    expect(contrast(vars[fg], vars[bg])).toBeGreaterThanOrEqual(4.5);
  });

  it.each(NON_TEXT_PAIRS)('%s against %s is at least 3:1', (fg, bg) => {
    expect(contrast(vars[fg], vars[bg])).toBeGreaterThanOrEqual(3);
  });

  it('uses no colour literal for text outside the palette (so the checks above cover what is shown)', () => {
    const body = CSS.replace(/:root\s*{[^}]*}/, '');
    const colourDecls = [...body.matchAll(/(?:^|[;{\s])color\s*:\s*([^;]+);/g)].map((m) => m[1].trim());
    expect(colourDecls.filter((v) => !/^var\(--[a-z0-9-]+\)$|^inherit$|^currentColor$/i.test(v))).toEqual([]);
  });
});
