/**
 * The child process of the storage bench's start-up rows: Polly's storage core on a store seeded
 * as a long-running Polly leaves it (storage-bench.ts seeds it, and runs this file compiled, with
 * no TypeScript loader), printing what it measured as one line.
 *
 * - `start`: start() timed (load + backend check + recover()), RSS and heap right after it, the
 *   heap a full GC leaves, then the probes that need a started core (scale-probes.ts).
 * - `memory`: the catalog, then the ledger, loaded with a full GC before and after each: the heap
 *   one volume and one claim hold, with every index over them.
 */
import path from 'node:path';
import { LevelStore } from '../../framework/state/level-store';
import { openStore } from '../../framework/state/schema';
import { ServiceRegistry } from '../../framework/storage/service-registry';
import { StorageService } from '../../framework/storage/storage-service';
import type { ProbeFigures } from './scale-probes';
import { StandInBackend } from './stand-in-backend';

export const CHILD_LINE = 'START_UP_CHILD ';

export interface StartFigures {
  ms: number;
  recoverMs: number;
  rssMiB: number;
  heapMiB: number;
  /** The heap after a full GC: what Polly keeps. */
  retainedHeapMiB: number;
  probes: ProbeFigures;
}

export interface MemoryFigures {
  bytesPerVolume: number;
  bytesPerClaim: number;
}

/** The store's agents: every other volume is claimed, by tasks spread over this many agents. */
export const SEEDED_AGENTS = 5000;

/** The backend as the seeding left it: volume i attached to its claim's instance when i is even. */
export function seededBackend(volumes: number): StandInBackend {
  const driver = new StandInBackend(volumes);
  for (let i = 0; i < volumes; i += 2) driver.attach(i, `host-${i % SEEDED_AGENTS}`);
  return driver;
}

function storageOn(dir: string, volumes: number): { store: LevelStore; storage: StorageService } {
  const driver = seededBackend(volumes);
  const store = new LevelStore(path.join(dir, 'state'));
  const registry = new ServiceRegistry({
    services: [{ name: 'ebs', driver: 'vfs', mapping: 'dockerVolume', dockerVolumeDriver: 'rexray' }],
    home: dir,
    store,
    createDriver: () => driver,
  });
  return { store, storage: new StorageService({ store, registry }) };
}

function fullGc(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  gc();
}

async function start(dir: string, volumes: number): Promise<StartFigures> {
  const { store, storage } = storageOn(dir, volumes);
  const started = performance.now();
  const result = await storage.start();
  const ms = performance.now() - started;
  if (result.volumesChecked !== volumes || result.claimsChecked !== volumes / 2) {
    throw new Error(`recovery checked ${result.volumesChecked} volumes and ${result.claimsChecked} claims`);
  }
  const mem = process.memoryUsage();
  fullGc();
  const retainedHeapMiB = process.memoryUsage().heapUsed / 2 ** 20;
  // Loaded only now: the probes' modules (HTTP server, scheduler) are not part of the figures above.
  const { runProbes } = await import('./scale-probes');
  const probes = await runProbes(storage, volumes);
  await storage.stop();
  await store.close();
  return { ms, recoverMs: result.durationMs, rssMiB: mem.rss / 2 ** 20, heapMiB: mem.heapUsed / 2 ** 20, retainedHeapMiB, probes };
}

async function memory(dir: string, volumes: number): Promise<MemoryFigures> {
  const { store, storage } = storageOn(dir, volumes);
  await openStore(store);
  fullGc();
  const before = process.memoryUsage().heapUsed;
  const loadedVolumes = await storage.catalog.load();
  fullGc();
  const withVolumes = process.memoryUsage().heapUsed;
  const loadedClaims = await storage.ledger.load();
  fullGc();
  const withClaims = process.memoryUsage().heapUsed;
  await store.close();
  return { bytesPerVolume: (withVolumes - before) / loadedVolumes, bytesPerClaim: (withClaims - withVolumes) / loadedClaims };
}

if (require.main === module) {
  const [mode, dir, count] = process.argv.slice(2);
  const volumes = Number(count);
  (mode === 'memory' ? memory(dir, volumes) : start(dir, volumes))
    .then((figures) => console.log(CHILD_LINE + JSON.stringify(figures)))
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}
