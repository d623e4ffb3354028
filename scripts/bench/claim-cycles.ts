/**
 * The claim-cycle workload shared by the storage and ZooKeeper benchmarks: `clients` concurrent
 * loops of create + claim (attach) + release on a vfs service, for `seconds`, over any Store.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Store } from '../../framework/state/store';
import { driverFactory } from '../../framework/storage/driver-factory';
import { ServiceRegistry } from '../../framework/storage/service-registry';
import { StorageService } from '../../framework/storage/storage-service';

export interface ClaimCycleOptions {
  /** The store under test, created in (or for) the given temp dir. */
  makeStore: (dir: string) => Store;
  clients: number;
  seconds: number;
  /** fsync vfs metadata (the embedded default). */
  durable: boolean;
  /**
   * Leave the run's temp dir for the caller to remove (`dir` in the result). Removing thousands of
   * volume directories makes the next run's mkdirs slower for minutes on ext4 (new inodes skip
   * recently deleted ones), so a bench with several rows removes them all after the last row.
   */
  keepDir?: boolean;
}

export interface ClaimCycleResult {
  perSecond: number;
  cycles: number;
  /** The run's temp dir: already removed unless `keepDir`. */
  dir: string;
}

export async function measureClaimCycles(options: ClaimCycleOptions): Promise<ClaimCycleResult> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'polly-bench-claims-'));
  const store = options.makeStore(dir);
  const registry = new ServiceRegistry({
    services: [{ name: 'local', driver: 'vfs' }],
    home: dir,
    store,
    createDriver: driverFactory({ durable: options.durable }),
  });
  const storage = new StorageService({ store, registry, concurrency: 64 });
  await storage.start();
  let cycles = 0;
  let elapsedMs = 0;
  const deadline = performance.now() + options.seconds * 1000;
  const started = performance.now();
  try {
    await Promise.all(
      Array.from({ length: options.clients }, async (_, c) => {
        // Bounded: each client stops at the deadline (and after at most 100,000 cycles).
        for (let i = 0; i < 100_000 && performance.now() < deadline; i++) {
          const volume = await storage.catalog.create({ service: 'local', name: `bench-${c}-${i}`, size: 1, scheduler: 'bench' });
          const claim = await storage.ledger.claim({
            volumeId: volume.id,
            scheduler: 'bench',
            taskId: `task-${c}-${i}`,
            agentId: `agent-${c % 16}`,
            instanceId: `node${c % 16}`,
            mode: 'RW',
          });
          if (claim.state !== 'attached') throw new Error(`claim ended ${claim.state}`);
          await storage.ledger.release(claim.id);
          cycles++;
        }
      }),
    );
    elapsedMs = performance.now() - started; // stopping the service is not part of the cycles
  } finally {
    await storage.stop();
    await store.close();
    if (!options.keepDir) await fs.rm(dir, { recursive: true, force: true });
  }
  return { perSecond: cycles / (elapsedMs / 1000), cycles, dir };
}
