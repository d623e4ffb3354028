/**
 * Instruction counts for the decode bench: each contender of decode-work.ts runs in its own
 * child process under `valgrind --tool=callgrind`, and only its measured region is counted
 * (callgrind zeroes before the child's getgroups() and dumps before its getPriority()).
 * Instructions do not depend on what else the machine is doing, so these figures repeat where
 * wall-clock ones swing twofold.
 *
 * Node flags for the children, each there because without it the count moved between runs:
 * - --single-threaded: no background compilation or GC threads racing the main one;
 * - --predictable-gc-schedule and --no-incremental-marking: V8 sizes its heap and paces
 *   incremental marking by elapsed time, which under valgrind is 50× stretched and never the
 *   same; with these the GC work depends only on what was allocated (marking then happens in one
 *   step on the main thread, all of it counted);
 * - --random-seed / --hash-seed: the same hash tables and random numbers every run.
 * The JIT stays on (no --jitless): the interpreter is not what runs in production, and the
 * warm-up phase lets the optimising compiler finish before the region starts.
 *
 * Instructions are not time: a dense native loop (JSON.parse) retires more of them per cycle than
 * JIT code that allocates and chases pointers (protobufjs decoding). With `cacheSim`, callgrind
 * also simulates caches and branch prediction (twice as slow) and each count gets its usual cycle
 * estimate, Ir + 10 × (L1 misses + mispredicted branches) + 100 × last-level misses: a model, not a
 * measurement, but one that charges memory traffic.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Contender } from './decode-work';

const ROOT = path.join(__dirname, '..', '..');
const WORK = path.join(__dirname, 'decode-work.ts');
const TS_CACHE_HOOK = path.join(__dirname, 'decode-ts-cache.js');

export const CALLGRIND_NODE_FLAGS = ['--single-threaded', '--predictable-gc-schedule', '--no-incremental-marking', '--random-seed=1', '--hash-seed=1'];

/** Why instruction counts cannot be taken here, or undefined when valgrind runs. */
export function valgrindMissing(): string | undefined {
  const probe = spawnSync('valgrind', ['--version'], { encoding: 'utf8' });
  if (probe.error) return `valgrind is not installed (${probe.error.message})`;
  if (probe.status !== 0) return `valgrind --version exited with ${probe.status}`;
  return undefined;
}

/**
 * Compiles decode-work.ts and the TypeScript it imports (relative imports, followed) into
 * `dir`, for decode-ts-cache.js: loading swc itself under valgrind would cost a minute per child.
 */
export function compileWork(dir: string): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { transformSync } = require('@swc/core') as { transformSync(src: string, options: Record<string, unknown>): { code: string } };
  const pending = [WORK];
  const done = new Set<string>();
  while (pending.length > 0) {
    const file = pending.pop() as string;
    if (done.has(file)) continue;
    done.add(file);
    const source = fs.readFileSync(file, 'utf8');
    const { code } = transformSync(source, {
      filename: file,
      jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
      module: { type: 'commonjs' },
    });
    const target = path.join(dir, `${path.relative(ROOT, file)}.js`);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, code);
    for (const match of source.matchAll(/(?:from\s+|require\(\s*)'(\.\.?\/[^']+)'/g)) {
      const base = path.resolve(path.dirname(file), match[1]);
      const ts = [`${base}.ts`, path.join(base, 'index.ts')].find((candidate) => fs.existsSync(candidate));
      if (ts) pending.push(ts);
    }
  }
}

export interface RegionCost {
  instructions: number;
  /** Only with cacheSim (see the header). */
  estimatedCycles?: number;
}

/** Runs one contender under callgrind: the cost of its measured region less that of its empty one. */
export async function countRegion(options: {
  streamsDir: string;
  tsCache: string;
  contender: Contender;
  warmupEvents: number;
  events: number;
  cacheSim: boolean;
}): Promise<RegionCost> {
  const out = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'polly-callgrind-'));
  try {
    const args = [
      '--tool=callgrind',
      `--callgrind-out-file=${path.join(out, 'callgrind.out')}`,
      '--zero-before=getgroups',
      '--dump-before=getpriority',
      ...(options.cacheSim ? ['--cache-sim=yes', '--branch-sim=yes'] : []),
      process.execPath,
      ...CALLGRIND_NODE_FLAGS,
      '-r',
      TS_CACHE_HOOK,
      WORK,
      options.streamsDir,
      options.contender,
      String(options.warmupEvents),
      String(options.events),
    ];
    const { code, stdout, stderr } = await run('valgrind', args, { ...process.env, POLLY_DECODE_TS_CACHE: options.tsCache });
    if (code !== 0 || !stdout.includes(`done ${options.contender}`)) {
      throw new Error(`callgrind run of ${options.contender} failed (exit ${code}):\n${stderr.slice(-2000)}`);
    }
    // Dumps 1 and 2 are the empty region and the measured one; the end of the process writes the last.
    const totals = async (part: number): Promise<Map<string, number>> => {
      const dump = await fs.promises.readFile(path.join(out, `callgrind.out.${part}`), 'utf8').catch(() => '');
      const names = /^events: (.+)$/m.exec(dump);
      const values = /^summary: (.+)$/m.exec(dump);
      if (!/^desc: Trigger: --dump-before=getpriority/m.test(dump) || !names || !values) {
        throw new Error(`callgrind did not dump region ${part} of ${options.contender} (no getpriority call seen in this node binary?)`);
      }
      const counts = values[1].trim().split(/\s+/).map(Number);
      return new Map(names[1].trim().split(/\s+/).map((name, i) => [name, counts[i] ?? 0]));
    };
    const [empty, measured] = [await totals(1), await totals(2)];
    const cost = (...events: string[]): number => events.reduce((sum, e) => sum + (measured.get(e) ?? 0) - (empty.get(e) ?? 0), 0);
    const result: RegionCost = { instructions: cost('Ir') };
    if (options.cacheSim) {
      result.estimatedCycles = cost('Ir') + 10 * cost('I1mr', 'D1mr', 'D1mw', 'Bcm', 'Bim') + 100 * cost('ILmr', 'DLmr', 'DLmw');
    }
    return result;
  } finally {
    await fs.promises.rm(out, { recursive: true, force: true });
  }
}

/** Counts every contender `runs` times, `parallel` children at a time (counts do not depend on it). */
export async function countAll(options: {
  streamsDir: string;
  contenders: readonly Contender[];
  warmupEvents: number;
  events: number;
  runs: number;
  parallel: number;
  cacheSim: boolean;
}): Promise<Map<Contender, RegionCost[]>> {
  const tsCache = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'polly-decode-ts-'));
  try {
    compileWork(tsCache);
    const jobs = options.contenders.flatMap((contender) => Array.from({ length: options.runs }, () => contender));
    const counts = new Map<Contender, RegionCost[]>(options.contenders.map((c) => [c, []]));
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < jobs.length) {
        const contender = jobs[next++];
        const started = Date.now();
        const cost = await countRegion({ ...options, tsCache, contender });
        const cycles = cost.estimatedCycles === undefined ? '' : `, ${cost.estimatedCycles.toLocaleString('en-US')} est. cycles`;
        process.stderr.write(`  callgrind ${contender}: ${cost.instructions.toLocaleString('en-US')} instructions${cycles} (${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
        (counts.get(contender) as RegionCost[]).push(cost);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, options.parallel) }, worker));
    return counts;
  } finally {
    await fs.promises.rm(tsCache, { recursive: true, force: true });
  }
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
