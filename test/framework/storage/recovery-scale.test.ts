/**
 * recover() over a large stored state: one prefix scan per record kind and one `volumes()` call,
 * no per-volume driver calls. POLLY_RECOVERY_VOLUMES sets the size (default 20 000 volumes, half
 * of them claimed); prints time and RSS (no wall-clock assertion here: `npm run bench` tracks it).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LevelStore } from '../../../framework/state/level-store';
import { ServiceRegistry } from '../../../framework/storage/service-registry';
import { StorageService } from '../../../framework/storage/storage-service';
import { openStore } from '../../../framework/state/schema';
import type { DriverVolume } from '../../../drivers/storage-driver';
import { seedStoredState } from '../../support/stored-state';
import { MemoryDriver } from './memory-driver';

const VOLUMES = Number(process.env.POLLY_RECOVERY_VOLUMES ?? '20000');

test(`recover() with ${VOLUMES} volumes and ${VOLUMES / 2} claims`, async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'polly-recovery-scale-'));
  const store = new LevelStore(path.join(dir, 'state'));
  const driver = new MemoryDriver();
  try {
    await openStore(store);
    const added: DriverVolume[] = [];
    await seedStoredState({
      store,
      service: 'mem',
      volumes: VOLUMES,
      agents: 1000,
      volume: (i) => (added[i] = driver.add(`vol-${i}`, { size: 1, availabilityZone: i % 2 ? 'zone-a' : 'zone-b' })),
      attach: (i, instanceId) => added[i].attachments.push({ volumeId: added[i].id, instanceId: { id: instanceId }, readOnly: false }),
    });

    const registry = new ServiceRegistry({
      services: [{ name: 'mem', driver: 'vfs', mapping: 'dockerVolume', dockerVolumeDriver: 'polly' }],
      home: dir,
      store,
      createDriver: () => driver,
    });
    const storage = new StorageService({ store, registry });
    const rssBefore = process.memoryUsage().rss;
    const started = performance.now();
    const report = await storage.start();
    const ms = Math.round(performance.now() - started);
    const rss = Math.round(process.memoryUsage().rss / 2 ** 20);
    console.log(
      `recovery at scale: ${VOLUMES} volumes, ${VOLUMES / 2} claims: start() ${ms} ms (recover() ${report.durationMs} ms), ` +
        `RSS ${rss} MiB (was ${Math.round(rssBefore / 2 ** 20)} MiB before load)`,
    );
    expect(report).toMatchObject({
      volumesChecked: VOLUMES,
      claimsChecked: VOLUMES / 2,
      claimsRepaired: 0,
      unexplainedAttachments: 0,
      missingVolumes: 0,
    });
    expect(storage.catalog.size).toBe(VOLUMES);
    expect(storage.ledger.list({ live: true })).toHaveLength(VOLUMES / 2);
    expect(storage.catalog.list({ zone: 'zone-a' })).toHaveLength(VOLUMES / 2);
    await storage.stop();
  } finally {
    await store.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
});
