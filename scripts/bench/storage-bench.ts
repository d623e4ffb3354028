/**
 * The storage core under load, on its embedded defaults (vfs with fsync, LevelDB):
 * - claim cycles per second (create + claim + attach + release) at 1, 8 and 64 concurrent clients;
 * - start-up recovery (load + recover()) with 100,000 volumes and 50,000 claims stored: time and RSS.
 *
 * No peer runs here: the Kubernetes CSI external-provisioner's published figure (about 40
 * volumes/s with 100 workers) is quoted in the notes for scale, not measured. The 64-client row is
 * set beside the filesystem's own ceiling, measured in the same run on the same filesystem: bare
 * mkdir calls, one at a time as the vfs driver makes them (a vfs volume is a directory, so a cycle
 * needs one). Every row's directories are removed after the last row (see claim-cycles.ts).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LevelStore } from '../../framework/state/level-store';
import { openStore } from '../../framework/state/schema';
import { ServiceRegistry } from '../../framework/storage/service-registry';
import { StorageService } from '../../framework/storage/storage-service';
import { DriverNotFoundError, DriverNotImplementedError } from '../../drivers/errors';
import type { DriverVolume, InstanceId, StorageDriver } from '../../drivers/storage-driver';
import { ClaimCycleResult, measureClaimCycles } from './claim-cycles';
import { seedStoredState } from '../../test/support/stored-state';
import { BenchResult, report, round } from './bench-result';

const CYCLE_SECONDS = Number(process.env.BENCH_CYCLE_SECONDS ?? 4);
/**
 * Rounds of the three claim-cycle rows; each row reports its median. This machine's disk swings by
 * 2-4x within minutes, so rounds interleave the rows and every run is listed in the note.
 */
const CYCLE_ROUNDS = Number(process.env.BENCH_CYCLE_ROUNDS ?? 3);
const MKDIR_SECONDS = 1;
const RECOVERY_VOLUMES = Number(process.env.BENCH_RECOVERY_VOLUMES ?? 100_000);
/** `cycles`, `recovery` or both (default): run only some rows while iterating. */
const ROWS = process.env.BENCH_STORAGE_ROWS ?? 'cycles,recovery';

/**
 * Directories made per second on the filesystem holding the bench's roots, one at a time: mkdirs in
 * one parent are serialised by the kernel, and more in flight only adds spinning on its lock.
 */
async function mkdirCeiling(leftovers: string[]): Promise<number> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'polly-bench-mkdir-'));
  leftovers.push(dir); // removed with the cycle rows' directories, after the last round
  let made = 0;
  const started = performance.now();
  const deadline = started + MKDIR_SECONDS * 1000;
  // Bounded: stops at the deadline (and after at most 1,000,000 directories).
  while (made < 1_000_000 && performance.now() < deadline) await fs.mkdir(path.join(dir, `d-${made++}`));
  return made / ((performance.now() - started) / 1000);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function claimCycles(clients: number): Promise<ClaimCycleResult> {
  return measureClaimCycles({
    makeStore: (dir) => new LevelStore(path.join(dir, 'state')),
    clients,
    seconds: CYCLE_SECONDS,
    durable: process.env.BENCH_VFS_DURABLE !== '0',
    keepDir: true,
  });
}

/**
 * The backend of the recovery bench: a stand-in for a remote backend (EBS behind libStorage, say)
 * holding `count` volumes. A real backend keeps its volumes outside Polly's process, so this one
 * keeps them compactly (a name is derived from the index, attachments are one string each) and
 * builds DriverVolume objects only when asked, as a remote driver parses them from a response.
 * Until this bench used the object-per-volume MemoryDriver of the tests, whose ~38 MiB of heap
 * was counted as Polly's RSS.
 */
class StandInBackend implements StorageDriver {
  readonly name = 'stand-in';
  private readonly attachedTo: Array<string | undefined>;

  constructor(readonly count: number) {
    this.attachedTo = new Array<string | undefined>(count);
  }

  static idOf(i: number): string {
    return `mem-${i + 1}`;
  }

  attach(i: number, instanceId: string): void {
    this.attachedTo[i] = instanceId;
  }

  volume(i: number): DriverVolume {
    const id = StandInBackend.idOf(i);
    const instance = this.attachedTo[i];
    return {
      id,
      name: `vol-${i}`,
      size: 1 + (i % 50),
      availabilityZone: `zone-${i % 20}`,
      fields: {},
      attachments: instance === undefined ? [] : [{ volumeId: id, instanceId: { id: instance }, readOnly: false }],
    };
  }

  private index(id: string): number {
    const i = Number(id.slice('mem-'.length)) - 1;
    if (!id.startsWith('mem-') || !Number.isInteger(i) || i < 0 || i >= this.count) throw new DriverNotFoundError(`no ${id}`);
    return i;
  }

  type(): 'block' {
    return 'block';
  }
  async init(): Promise<void> {}
  async instanceInspect(instanceId: InstanceId) {
    return { instanceId };
  }
  async volumes(): Promise<DriverVolume[]> {
    return Array.from({ length: this.count }, (_, i) => this.volume(i));
  }
  async volumeInspect(id: string): Promise<DriverVolume> {
    return this.volume(this.index(id));
  }
  async volumeInspectByName(name: string): Promise<DriverVolume | undefined> {
    const i = /^vol-(\d+)$/.exec(name) ? Number(name.slice(4)) : -1;
    return i >= 0 && i < this.count ? this.volume(i) : undefined;
  }
  async volumeAttach(id: string, instanceId: InstanceId) {
    const i = this.index(id);
    this.attachedTo[i] = instanceId.id;
    return { volume: this.volume(i) };
  }
  async volumeDetach(id: string, instanceId: InstanceId): Promise<DriverVolume> {
    const i = this.index(id);
    if (this.attachedTo[i] === instanceId.id) this.attachedTo[i] = undefined;
    return this.volume(i);
  }
  private nope = async (): Promise<never> => {
    throw new DriverNotImplementedError('stand-in backend');
  };
  volumeCreate = this.nope;
  volumeRemove = this.nope;
  volumeCreateFromSnapshot = this.nope;
  volumeCopy = this.nope;
  volumeSnapshot = this.nope;
  snapshots = this.nope;
  snapshotInspect = this.nope;
  snapshotRemove = this.nope;
  async capacity() {
    return undefined;
  }
  attachLimit(): undefined {
    return undefined;
  }
}

interface RecoveryFigures {
  ms: number;
  recoverMs: number;
  rssMiB: number;
  heapMiB: number;
}

const RECOVERY_CHILD = '--recovery-child';

/** The child: starts Polly's storage core on the seeded store, prints the figures. */
async function recoveryChild(dir: string): Promise<void> {
  const driver = new StandInBackend(RECOVERY_VOLUMES);
  for (let i = 0; i < RECOVERY_VOLUMES; i += 2) driver.attach(i, `host-${i % 5000}`);
  const store = new LevelStore(path.join(dir, 'state'));
  const registry = new ServiceRegistry({
    services: [{ name: 'ebs', driver: 'vfs', mapping: 'dockerVolume', dockerVolumeDriver: 'rexray' }],
    home: dir,
    store,
    createDriver: () => driver,
  });
  const storage = new StorageService({ store, registry });
  const started = performance.now();
  const result = await storage.start();
  const ms = performance.now() - started;
  if (result.volumesChecked !== RECOVERY_VOLUMES || result.claimsChecked !== RECOVERY_VOLUMES / 2) {
    throw new Error(`recovery checked ${result.volumesChecked} volumes and ${result.claimsChecked} claims`);
  }
  const mem = process.memoryUsage();
  if (process.env.BENCH_DEBUG_MEM) {
    const rss = async (): Promise<string> => (await fs.readFile('/proc/self/status', 'utf8')).split('\n').filter((l) => /^Rss/.test(l)).join(' ');
    console.error('before gc', JSON.stringify(mem), await rss());
    const gc = (globalThis as { gc?: () => void }).gc;
    if (gc) {
      gc();
      console.error('after gc', JSON.stringify(process.memoryUsage()), await rss());
    }
    if (process.env.BENCH_HEAP_SNAPSHOT) console.error('snapshot', (await import('node:v8')).writeHeapSnapshot(process.env.BENCH_HEAP_SNAPSHOT));
  }
  await storage.stop();
  await store.close();
  const figures: RecoveryFigures = { ms, recoverMs: result.durationMs, rssMiB: mem.rss / 2 ** 20, heapMiB: mem.heapUsed / 2 ** 20 };
  console.log(`${RECOVERY_CHILD} ${JSON.stringify(figures)}`);
}

const ROOT = path.join(__dirname, '..', '..');

/**
 * The start-up child runs as Polly runs in production: plain JavaScript, no TypeScript loader. The
 * swc loader this bench runs under costs ~35 MiB of RSS by itself (its native library is mapped,
 * and every module keeps its inline source map), which is not Polly's. The modules this file has
 * loaded are exactly the child's (it is the same file), so they are recompiled without source maps
 * into `<dir>/build` and the child runs from there. `BENCH_RECOVERY_SWC=1` keeps the loader.
 */
async function childArgs(dir: string): Promise<string[]> {
  const keep = process.execArgv.filter((a, i, all) => a !== '-r' && all[i - 1] !== '-r' && !a.startsWith('--require'));
  if (process.env.BENCH_RECOVERY_SWC === '1') return [...process.execArgv, __filename];
  // Resolved lazily: only this bench's parent needs swc.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { transformSync } = require('@swc/core') as typeof import('@swc/core');
  const build = path.join(dir, 'build');
  for (const file of Object.keys(require.cache)) {
    if (!file.startsWith(ROOT + path.sep) || file.includes(`${path.sep}node_modules${path.sep}`)) continue;
    const rel = path.relative(ROOT, file);
    const source = await fs.readFile(file, 'utf8');
    const code = file.endsWith('.ts')
      ? transformSync(source, { filename: file, jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } }).code
      : source;
    const out = path.join(build, file.endsWith('.ts') ? rel.slice(0, -3) + '.js' : rel);
    await fs.mkdir(path.dirname(out), { recursive: true });
    await fs.writeFile(out, code);
  }
  return [...keep, path.join(build, path.relative(ROOT, __filename).replace(/\.ts$/, '.js'))];
}

/** Populates the store as a long-running Polly would have left it. */
async function seedRecovery(dir: string, driver: StandInBackend): Promise<void> {
  const seed = new LevelStore(path.join(dir, 'state'));
  await openStore(seed);
  // Realistic timestamps: every record and transition at its own millisecond (no string is shared by accident).
  const base = Date.now() - 30 * 86_400_000;
  const at = (ms: number): string => new Date(ms).toISOString();
  await seedStoredState({
    store: seed,
    service: 'ebs',
    volumes: RECOVERY_VOLUMES,
    agents: 5000,
    volume: (i) => driver.volume(i),
    attach: (i, instanceId) => driver.attach(i, instanceId),
    time: (i, offsetMs) => at(base + i * 20 + offsetMs),
  });
  await seed.close();
}

async function recovery(): Promise<RecoveryFigures> {
  // BENCH_RECOVERY_DIR: seed once into that directory and reuse it (while iterating on start-up).
  const reuse = process.env.BENCH_RECOVERY_DIR;
  const dir = reuse ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'polly-bench-recovery-')));
  const seeded = reuse !== undefined && (await fs.stat(path.join(dir, 'state')).then(() => true, () => false));
  try {
    if (!seeded) await seedRecovery(dir, new StandInBackend(RECOVERY_VOLUMES));
    // Start-up is measured in a fresh process, as Polly would start: the seeding above (its
    // garbage, LevelDB's write buffers) and the claim-cycle rows must not count in its RSS.
    const child = spawnSync(process.execPath, [...(await childArgs(dir)), RECOVERY_CHILD, dir], {
      encoding: 'utf8',
      env: { ...process.env, NODE_PATH: path.join(ROOT, 'node_modules') },
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 16 * 1024 * 1024,
    });
    const line = (child.stdout ?? '').split('\n').find((l) => l.startsWith(RECOVERY_CHILD));
    if (child.status !== 0 || !line) throw new Error(`recovery child failed (exit ${child.status}): ${child.stdout}`);
    return JSON.parse(line.slice(RECOVERY_CHILD.length + 1)) as RecoveryFigures;
  } finally {
    if (reuse === undefined) await fs.rm(dir, { recursive: true, force: true });
    else await fs.rm(path.join(dir, 'build'), { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const results: BenchResult[] = [];
  const leftovers: string[] = [];
  const clientCounts = ROWS.includes('cycles') ? [1, 8, 64] : [];
  const runs = new Map<number, number[]>(clientCounts.map((c) => [c, []]));
  const ceilings: number[] = [];
  for (let round = 0; round < CYCLE_ROUNDS; round++) {
    for (const clients of clientCounts) {
      const { perSecond, dir } = await claimCycles(clients);
      leftovers.push(dir);
      runs.get(clients)!.push(perSecond);
    }
    if (clientCounts.length > 0) ceilings.push(await mkdirCeiling(leftovers));
  }
  for (const clients of clientCounts) {
    const perSecond = median(runs.get(clients)!);
    const listed = runs
      .get(clients)!
      .map((v) => round(v, 0))
      .join(', ');
    const row: BenchResult = {
      name: `claim cycles, ${clients} client${clients > 1 ? 's' : ''} (vfs + LevelDB)`,
      value: round(perSecond, 0),
      unit: 'cycles/s',
      note: `median of ${CYCLE_ROUNDS} runs of ${CYCLE_SECONDS} s: ${listed}`,
    };
    if (clients === 64) {
      const ceiling = median(ceilings);
      Object.assign(row, {
        peer: 'bare mkdir, same fs, one at a time',
        peerValue: round(ceiling, 0),
        ratio: round(perSecond / ceiling),
        note: `${row.note} (mkdir: ${ceilings.map((v) => round(v, 0)).join(', ')}); target >= 1,000/s. Each cycle of create + claim + attach + release makes one directory (the volume), so the filesystem's mkdir rate beside it is the ceiling on this machine. CSI external-provisioner publishes ~40 volumes/s at 100 workers (not measured here)`,
      });
    }
    results.push(row);
  }
  for (const dir of leftovers) await fs.rm(dir, { recursive: true, force: true });
  if (!ROWS.includes('recovery')) {
    report(results);
    return;
  }
  const rec = await recovery();
  results.push({ name: `start-up recovery, ${RECOVERY_VOLUMES / 1000}k volumes + ${RECOVERY_VOLUMES / 2000}k claims`, value: round(rec.ms, 0), unit: 'ms', note: `recover() pass ${rec.recoverMs} ms, the rest is loading from LevelDB; target < 3,000 ms` });
  results.push({ name: 'RSS after start-up recovery', value: round(rec.rssMiB, 0), unit: 'MiB', note: `heap ${round(rec.heapMiB, 0)} MiB; the stand-in backend holds its ${RECOVERY_VOLUMES} volumes compactly (as a remote backend would, outside Polly); target < 300 MB` });
  report(results);
}

(process.argv[2] === RECOVERY_CHILD ? recoveryChild(process.argv[3]) : main()).catch((err) => {
  console.error(err);
  process.exit(1);
});
