/**
 * The storage bench's start-up rows, on a store seeded as a long-running Polly leaves it (every
 * other volume held by an attached RW claim, over 5,000 agents): start-up (load + recover()) time,
 * RSS, the heap per volume and per claim, `/v1/volumes` pages, and the storage-offer book (see
 * start-up-child.ts and scale-probes.ts), at 100,000 volumes + 50,000 claims.
 *
 * With BENCH_SCALE=1 (`npm run bench -- scale`) every row is measured at 1,000,000 volumes +
 * 500,000 claims as well, in the same run, rounds interleaved (100k, 1M, 100k, 1M, ...) so both
 * sizes see the same machine, and each 1M row is set beside its 100k row: scaled ×10 for figures
 * that should grow linearly (the ratio is then the cost per item, 1M against 100k), as it is for
 * figures that should not grow at all (a page, an update). Medians; every run is listed, with the
 * load average.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LevelStore } from '../../framework/state/level-store';
import { openStore } from '../../framework/state/schema';
import { seedStoredState } from '../../test/support/stored-state';
import { BenchResult, round } from './bench-result';
// Loaded here (not used) so that its modules are compiled for the child with the others: see childArgs.
import './scale-probes';
import { CHILD_LINE, MemoryFigures, SEEDED_AGENTS, StartFigures, seededBackend } from './start-up-child';

export const SCALE = process.env.BENCH_SCALE === '1';
const SIZES = SCALE ? [100_000, 1_000_000] : [Number(process.env.BENCH_RECOVERY_VOLUMES ?? 100_000)];
const ROUNDS = Number(process.env.BENCH_START_ROUNDS ?? (SCALE ? 3 : 1));
const ROOT = path.join(__dirname, '..', '..');

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const label = (volumes: number): string => (volumes >= 1_000_000 ? `${volumes / 1_000_000}M` : `${volumes / 1000}k`);

const loadAverage = (): string =>
  os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');

/** Populates `dir/state` as a long-running Polly would have left it. */
async function seed(dir: string, volumes: number): Promise<void> {
  const store = new LevelStore(path.join(dir, 'state'));
  await openStore(store);
  const driver = seededBackend(volumes);
  // Realistic timestamps: every record and transition at its own millisecond (no string is shared by accident).
  const base = Date.now() - 30 * 86_400_000;
  const at = (ms: number): string => new Date(ms).toISOString();
  await seedStoredState({
    store,
    service: 'ebs',
    volumes,
    agents: SEEDED_AGENTS,
    volume: (i) => driver.volume(i),
    attach: (i, instanceId) => driver.attach(i, instanceId),
    time: (i, offsetMs) => at(base + i * 20 + offsetMs),
  });
  await store.close();
}

/**
 * The child runs as Polly runs in production: plain JavaScript, no TypeScript loader. The swc
 * loader this bench runs under costs ~35 MiB of RSS by itself (its native library is mapped, and
 * every module keeps its inline source map), which is not Polly's. The modules this bench has
 * loaded include every one the child loads (start-up-child.ts, scale-probes.ts and theirs), so
 * they are compiled without source maps into `build` and the child runs from there.
 * `BENCH_RECOVERY_SWC=1` keeps the loader.
 */
async function childArgs(build: string): Promise<string[]> {
  const child = path.join(__dirname, 'start-up-child.ts');
  if (process.env.BENCH_RECOVERY_SWC === '1') return [...process.execArgv, child];
  const keep = process.execArgv.filter((a, i, all) => a !== '-r' && all[i - 1] !== '-r' && !a.startsWith('--require'));
  // Resolved lazily: only this bench's parent needs swc.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { transformSync } = require('@swc/core') as typeof import('@swc/core');
  for (const file of Object.keys(require.cache)) {
    if (!file.startsWith(ROOT + path.sep) || file.includes(`${path.sep}node_modules${path.sep}`)) continue;
    const rel = path.relative(ROOT, file);
    const source = await fs.readFile(file, 'utf8');
    const code = file.endsWith('.ts')
      ? transformSync(source, { filename: file, jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } })
          .code
      : source;
    const out = path.join(build, file.endsWith('.ts') ? rel.slice(0, -3) + '.js' : rel);
    await fs.mkdir(path.dirname(out), { recursive: true });
    await fs.writeFile(out, code);
  }
  return [...keep, path.join(build, path.relative(ROOT, child).replace(/\.ts$/, '.js'))];
}

/** Runs the child in a fresh process (the seeding's garbage and the other rows must not count). */
function runChild<T>(args: string[], mode: 'start' | 'memory', dir: string, volumes: number): T {
  const child = spawnSync(process.execPath, [...args, mode, dir, String(volumes)], {
    encoding: 'utf8',
    env: { ...process.env, NODE_PATH: path.join(ROOT, 'node_modules') },
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 16 * 1024 * 1024,
  });
  const line = (child.stdout ?? '').split('\n').find((l) => l.startsWith(CHILD_LINE));
  if (child.status !== 0 || !line) throw new Error(`start-up child (${mode}, ${volumes}) failed (exit ${child.status}): ${child.stdout}`);
  return JSON.parse(line.slice(CHILD_LINE.length)) as T;
}

interface Measured {
  volumes: number;
  starts: StartFigures[];
  memory: MemoryFigures;
}

/** One figure of every size: its row per size, the larger sizes beside the first. */
interface Figure {
  name: (volumes: number) => string;
  unit: string;
  value: (m: Measured) => number;
  digits: number;
  /** `linear`: the larger size's row is set beside the first one's scaled (per-item ratio); `flat`: beside it as it is. */
  growth: 'linear' | 'flat';
  note: (m: Measured) => string;
}

const med = (m: Measured, pick: (s: StartFigures) => number): number => median(m.starts.map(pick));
const runs = (m: Measured, pick: (s: StartFigures) => number, digits = 0): string => m.starts.map((s) => round(pick(s), digits)).join(', ');

const FIGURES: Figure[] = [
  {
    name: (v) => `start-up recovery, ${label(v)} volumes + ${label(v / 2)} claims`,
    unit: 'ms',
    value: (m) => med(m, (s) => s.ms),
    digits: 0,
    growth: 'linear',
    note: (m) =>
      `runs: ${runs(m, (s) => s.ms)} (recover() pass: ${runs(m, (s) => s.recoverMs)}; the rest is loading from LevelDB); ` +
      `target < ${m.volumes >= 1_000_000 ? '30,000' : '3,000'} ms`,
  },
  {
    name: (v) => `RSS after start-up recovery, ${label(v)} volumes`,
    unit: 'MiB',
    value: (m) => med(m, (s) => s.rssMiB),
    digits: 0,
    growth: 'linear',
    note: (m) =>
      `runs: ${runs(m, (s) => s.rssMiB)}; heap ${round(
        med(m, (s) => s.heapMiB),
        0,
      )} MiB, ${round(
        med(m, (s) => s.retainedHeapMiB),
        0,
      )} MiB after a full GC; the stand-in backend holds its volumes compactly (as a remote backend would, outside Polly); ` +
      `target < ${m.volumes >= 1_000_000 ? '2 GB' : '300 MB'}`,
  },
  {
    name: (v) => `heap per volume (catalog + indexes), ${label(v)} volumes`,
    unit: 'bytes',
    value: (m) => m.memory.bytesPerVolume,
    digits: 0,
    growth: 'flat',
    note: () => 'the catalog loaded alone, a full GC before and after',
  },
  {
    name: (v) => `heap per claim (ledger + indexes), ${label(v / 2)} claims`,
    unit: 'bytes',
    value: (m) => m.memory.bytesPerClaim,
    digits: 0,
    growth: 'flat',
    note: () => 'the ledger loaded after the catalog, a full GC before and after',
  },
  {
    name: (v) => `GET /v1/volumes?limit=100&after=<random>, ${label(v)} volumes`,
    unit: 'ms',
    value: (m) => med(m, (s) => s.probes.pageMs),
    digits: 2,
    growth: 'flat',
    note: (m) => `over HTTP, median of 40 per run; runs: ${runs(m, (s) => s.probes.pageMs, 2)}`,
  },
  {
    name: (v) => `GET /v1/volumes?zone=Z&limit=100&after=<random>, ${label(v)} volumes`,
    unit: 'ms',
    value: (m) => med(m, (s) => s.probes.zonePageMs),
    digits: 2,
    growth: 'flat',
    note: (m) => `a zone holds 1/20 of the volumes; over HTTP, median of 40 per run; runs: ${runs(m, (s) => s.probes.zonePageMs, 2)}`,
  },
  {
    name: (v) => `storage offers: indexing every volume at start, ${label(v)} volumes`,
    unit: 'ms',
    value: (m) => med(m, (s) => s.probes.offerBookStartMs),
    digits: 0,
    growth: 'linear',
    note: (m) => `10,000 agents in 20 zones; runs: ${runs(m, (s) => s.probes.offerBookStartMs)}`,
  },
  {
    name: (v) => `storage offers: reading one agent's offer, ${label(v)} volumes`,
    unit: 'ms',
    value: (m) => med(m, (s) => s.probes.offerReadMs),
    digits: 1,
    growth: 'linear',
    note: (m) =>
      `the offer lists every attachable volume in the agent's zone (${m.starts[0].probes.offerVolumes}), so it grows with them; ` +
      `runs: ${runs(m, (s) => s.probes.offerReadMs, 1)}`,
  },
  {
    name: (v) => `storage offers: update p99, ${label(v)} volumes`,
    unit: 'ms',
    value: (m) => med(m, (s) => s.probes.offerUpdateP99Ms),
    digits: 3,
    growth: 'flat',
    note: (m) =>
      `a volume turns unattachable or attachable again (as on a claim and its release): its zone's offer is rescinded and re-issued; ` +
      `p50 ${round(
        med(m, (s) => s.probes.offerUpdateP50Ms),
        3,
      )} ms; runs (p99): ${runs(m, (s) => s.probes.offerUpdateP99Ms, 3)}`,
  },
];

export async function startUpRows(): Promise<BenchResult[]> {
  // BENCH_RECOVERY_DIR: seed once into <dir>/<volumes> and reuse it (while iterating on start-up).
  const reuse = process.env.BENCH_RECOVERY_DIR;
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'polly-bench-start-up-'));
  const loadBefore = loadAverage();
  try {
    const dirs = new Map<number, string>();
    for (const volumes of SIZES) {
      const dir = reuse ? path.join(reuse, String(volumes)) : path.join(work, String(volumes));
      const seeded = await fs.stat(path.join(dir, 'state')).then(
        () => true,
        () => false,
      );
      if (!seeded) {
        await fs.mkdir(dir, { recursive: true });
        process.stderr.write(`storage: seeding ${volumes} volumes ...\n`);
        await seed(dir, volumes);
      }
      dirs.set(volumes, dir);
    }
    const args = await childArgs(path.join(work, 'build'));
    const measured = new Map<number, Measured>(
      SIZES.map((volumes) => [
        volumes,
        { volumes, starts: [], memory: runChild<MemoryFigures>(args, 'memory', dirs.get(volumes)!, volumes) },
      ]),
    );
    for (let r = 0; r < ROUNDS; r++) {
      for (const volumes of SIZES) {
        process.stderr.write(`storage: start-up, ${volumes} volumes, round ${r + 1} of ${ROUNDS} ...\n`);
        measured.get(volumes)!.starts.push(runChild<StartFigures>(args, 'start', dirs.get(volumes)!, volumes));
      }
    }
    const load = `load average ${loadBefore} before, ${loadAverage()} after`;
    const rows: BenchResult[] = [];
    const [first, ...larger] = SIZES.map((v) => measured.get(v)!);
    for (const figure of FIGURES) {
      const base = figure.value(first);
      rows.push({
        name: figure.name(first.volumes),
        value: round(base, figure.digits),
        unit: figure.unit,
        note: `${figure.note(first)}; ${load}`,
      });
      for (const m of larger) {
        const value = figure.value(m);
        const scale = figure.growth === 'linear' ? m.volumes / first.volumes : 1;
        rows.push({
          name: figure.name(m.volumes),
          value: round(value, figure.digits),
          unit: figure.unit,
          peer: scale === 1 ? `${label(first.volumes)} row` : `${label(first.volumes)} row ×${scale} (linear)`,
          peerValue: round(base * scale, figure.digits),
          ratio: round(value / (base * scale)),
          note: `${figure.note(m)}; ${load}`,
        });
      }
    }
    return rows;
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}
