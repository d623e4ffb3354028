#!/usr/bin/env node
'use strict';
// `npm run bench`: runs each benchmark in its own process (TypeScript through swc), prints one
// table and writes scripts/bench/results.json. `npm run bench -- decode` runs only matching ones and
// replaces only their rows in results.json (each row names its bench file), keeping the others.
// `npm run bench -- scale` runs the benchmarks that have 1,000,000-volume rows (they read
// BENCH_SCALE) with those rows on, each beside its 100,000-volume row; BENCH_SCALE=1 turns them on
// in any run.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..', '..');
const PREFIX = 'BENCH_RESULTS ';
const words = process.argv.slice(2);
const scale = words.includes('scale') || process.env.BENCH_SCALE === '1';
const filter = words.filter((word) => word !== 'scale');
const allBenches = fs.readdirSync(__dirname).filter((f) => f.endsWith('-bench.ts'));
const benches = allBenches
  .filter((f) => filter.length === 0 || filter.some((word) => f.includes(word)))
  .filter((f) => !words.includes('scale') || filter.length > 0 || fs.readFileSync(path.join(__dirname, f), 'utf8').includes('BENCH_SCALE'))
  .sort();

const results = [];
let failed = false;
for (const file of benches) {
  process.stderr.write(`bench: ${file} ...\n`);
  const run = spawnSync(process.execPath, ['--expose-gc', '-r', path.join(root, 'test/support/register-ts.js'), path.join(__dirname, file)], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    env: scale ? { ...process.env, BENCH_SCALE: '1' } : process.env,
    maxBuffer: 64 * 1024 * 1024,
    timeout: 20 * 60 * 1000,
  });
  const line = (run.stdout || '').split('\n').find((l) => l.startsWith(PREFIX));
  if (run.status !== 0 || !line) {
    failed = true;
    process.stderr.write(`bench: ${file} failed (exit ${run.status})\n${run.stdout || ''}`);
    continue;
  }
  results.push(...JSON.parse(line.slice(PREFIX.length)).map((row) => ({ bench: file, ...row })));
}

const fmt = (v) => (v === undefined ? '' : typeof v === 'number' ? (Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en-US') : String(v)) : String(v));
const rows = [['benchmark', 'value', 'unit', 'peer', 'peer value', 'ratio']].concat(
  results.map((r) =>
    r.skipped !== undefined
      ? [r.name, 'skipped', r.unit, '', '', '']
      : [r.name, fmt(r.value), r.unit, r.peer || '', fmt(r.peerValue), r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}x`],
  ),
);
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
for (const [n, row] of rows.entries()) {
  console.log(row.map((c, i) => (i === 1 || i === 4 || i === 5 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  '));
  if (n === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
}
for (const r of results.filter((r) => r.note || r.skipped)) console.log(`  ${r.name}: ${r.skipped !== undefined ? `skipped: ${r.skipped}` : r.note}`);
const resultsFile = path.join(__dirname, 'results.json');
const kept = earlierRows(resultsFile).filter((row) => allBenches.includes(row.bench) && !benches.includes(row.bench));
fs.writeFileSync(resultsFile, JSON.stringify([...kept, ...results], null, 2) + '\n');
console.log(`\nwrote scripts/bench/results.json (${results.length} results${kept.length > 0 ? `, ${kept.length} kept from earlier runs of other benches` : ''})`);
process.exit(failed ? 1 : 0);

/** The rows an earlier run wrote; none when the file is missing or not a list of rows. */
function earlierRows(file) {
  try {
    const rows = JSON.parse(fs.readFileSync(file, 'utf8'));
    return Array.isArray(rows) ? rows.filter((row) => row !== null && typeof row === 'object') : [];
  } catch {
    return [];
  }
}
