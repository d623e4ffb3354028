/**
 * The storage core under load, on its embedded defaults (vfs with fsync, LevelDB):
 * - claim cycles per second (create + claim + attach + release) at 1, 8 and 64 concurrent clients;
 * - start-up recovery (load + recover()) with 100,000 volumes and 50,000 claims stored: time and RSS.
 *
 * No peer runs here: the Kubernetes CSI external-provisioner's published figure (about 40
 * volumes/s with 100 workers) is quoted in the notes for scale, not measured.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LevelStore } from '../../framework/state/level-store';
import { claimByVolumeKey, claimKey, volumeKey } from '../../framework/state/keys';
import { openStore } from '../../framework/state/schema';
import type { BatchOperation } from '../../framework/state/store';
import type { ClaimRecord } from '../../framework/storage/claim-record';
import { driverFactory } from '../../framework/storage/driver-factory';
import { ServiceRegistry } from '../../framework/storage/service-registry';
import { StorageService } from '../../framework/storage/storage-service';
import { formatVolumeId } from '../../framework/storage/volume-id';
import { volumeFromDriver } from '../../framework/storage/volume-record';
import { MemoryDriver } from '../../test/framework/storage/memory-driver';
import { BenchResult, report, round } from './bench-result';

const CYCLE_SECONDS = Number(process.env.BENCH_CYCLE_SECONDS ?? 4);
const RECOVERY_VOLUMES = Number(process.env.BENCH_RECOVERY_VOLUMES ?? 100_000);

async function claimCycles(clients: number): Promise<{ perSecond: number; cycles: number }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'polly-bench-claims-'));
  const store = new LevelStore(path.join(dir, 'state'));
  const registry = new ServiceRegistry({
    services: [{ name: 'local', driver: 'vfs' }],
    home: dir,
    store,
    createDriver: driverFactory({ durable: process.env.BENCH_VFS_DURABLE !== "0" }),
  });
  const storage = new StorageService({ store, registry, concurrency: 64 });
  await storage.start();
  let cycles = 0;
  const deadline = performance.now() + CYCLE_SECONDS * 1000;
  const started = performance.now();
  try {
    await Promise.all(
      Array.from({ length: clients }, async (_, c) => {
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
  } finally {
    await storage.stop();
    await store.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
  return { perSecond: cycles / ((performance.now() - started) / 1000), cycles };
}

async function recovery(): Promise<{ ms: number; recoverMs: number; rssMiB: number; heapMiB: number }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'polly-bench-recovery-'));
  const driver = new MemoryDriver();
  try {
    // Populate the store as a long-running Polly would have left it.
    const seed = new LevelStore(path.join(dir, 'state'));
    await openStore(seed);
    const now = new Date().toISOString();
    let ops: BatchOperation[] = [];
    for (let i = 0; i < RECOVERY_VOLUMES; i++) {
      const dv = driver.add(`vol-${i}`, { size: 1 + (i % 50), availabilityZone: `zone-${i % 20}` });
      const id = formatVolumeId('ebs', dv.id);
      const record = volumeFromDriver(id, 'ebs', dv, { managed: true, schedulers: ['marathon', 'polly'], now });
      if (i % 2 === 0) {
        const claim: ClaimRecord = {
          id: `claim-${i}`,
          volumeId: id,
          scheduler: 'marathon',
          taskId: `task-${i}`,
          agentId: `agent-${i % 5000}`,
          instanceId: `host-${i % 5000}`,
          mode: 'RW',
          state: 'attached',
          createdAt: now,
          updatedAt: now,
          history: [
            { state: 'pending', at: now },
            { state: 'attaching', at: now },
            { state: 'attached', at: now },
          ],
        };
        dv.attachments.push({ volumeId: dv.id, instanceId: { id: claim.instanceId }, readOnly: false });
        record.status = 'attached';
        record.attachments = [{ claimId: claim.id, instanceId: claim.instanceId, agentId: claim.agentId, mode: 'RW', attachedAt: now }];
        ops.push({ type: 'put', key: claimKey(claim.id), value: claim }, { type: 'put', key: claimByVolumeKey(id, claim.id), value: claim.id });
      }
      ops.push({ type: 'put', key: volumeKey(id), value: record });
      if (ops.length >= 3000) {
        await seed.batch(ops);
        ops = [];
      }
    }
    await seed.batch(ops);
    await seed.close();
    (globalThis as { gc?: () => void }).gc?.();

    // A fresh process state as far as Polly is concerned: new store handle, new service.
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
    await storage.stop();
    await store.close();
    return { ms, recoverMs: result.durationMs, rssMiB: mem.rss / 2 ** 20, heapMiB: mem.heapUsed / 2 ** 20 };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const results: BenchResult[] = [];
  for (const clients of [1, 8, 64]) {
    const { perSecond, cycles } = await claimCycles(clients);
    results.push({
      name: `claim cycles, ${clients} client${clients > 1 ? 's' : ''} (vfs + LevelDB)`,
      value: round(perSecond, 0),
      unit: 'cycles/s',
      note: clients === 64 ? `${cycles} cycles of create + claim + attach + release in ${CYCLE_SECONDS} s; target >= 1,000/s; CSI external-provisioner publishes ~40 volumes/s at 100 workers (not measured here)` : undefined,
    });
  }
  const rec = await recovery();
  results.push({ name: `start-up recovery, ${RECOVERY_VOLUMES / 1000}k volumes + ${RECOVERY_VOLUMES / 2000}k claims`, value: round(rec.ms, 0), unit: 'ms', note: `recover() pass ${rec.recoverMs} ms, the rest is loading from LevelDB; target < 3,000 ms` });
  results.push({ name: 'RSS after start-up recovery', value: round(rec.rssMiB, 0), unit: 'MiB', note: `heap ${round(rec.heapMiB, 0)} MiB; includes the in-memory test driver holding ${RECOVERY_VOLUMES} volumes; target < 300 MB` });
  report(results);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
