/**
 * The storage core with a CSI-backed service `disks` (drivers/csi against the plugin on
 * `pluginSocket`, zones under topology.polly.io/zone), as the CSI backend crash test's child runs it
 * and its parent recovers and audits it: one place, so both sides open the same thing.
 */
import path from 'node:path';
import { LevelStore } from '../../framework/state/level-store';
import { driverFactory } from '../../framework/storage/driver-factory';
import { ServiceRegistry } from '../../framework/storage/service-registry';
import { StorageService } from '../../framework/storage/storage-service';

export function buildCsiBackendStorage(root: string, pluginSocket: string): { store: LevelStore; storage: StorageService } {
  const store = new LevelStore(path.join(root, 'state'));
  const registry = new ServiceRegistry({
    services: [
      {
        name: 'disks',
        driver: 'csi',
        csi: { endpoint: `unix://${pluginSocket}`, topologyKey: 'topology.polly.io/zone', parameters: { service: 'local' } },
      },
    ],
    home: path.join(root, 'home'),
    store,
    createDriver: driverFactory({}),
  });
  return { store, storage: new StorageService({ store, registry, retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 } }) };
}

/** One storage operation of the crash test, by name (the volume, snapshot and claim are named after `name`). */
export async function runCsiBackendOperation(storage: StorageService, op: string, name: string): Promise<void> {
  const volume = (): ReturnType<StorageService['catalog']['get']> => {
    const found = storage.catalog.findByName('disks', name);
    if (!found) throw new Error(`no volume ${name}`);
    return found;
  };
  switch (op) {
    case 'create':
      await storage.catalog.create({ service: 'disks', name, size: 1, availabilityZone: 'zone-a', scheduler: 'polly' });
      return;
    case 'publish':
      await storage.ledger.claim({
        volumeId: volume().id,
        scheduler: 'polly',
        taskId: `task-${name}`,
        agentId: 'agent-n1',
        instanceId: 'n1',
      });
      return;
    case 'unpublish':
      for (const claim of storage.ledger.liveClaims(volume().id)) await storage.ledger.release(claim.id, { reason: 'task finished' });
      return;
    case 'delete':
      await storage.catalog.remove(volume().id);
      return;
    case 'snapshot':
      await storage.snapshots.create(volume(), `snap-${name}`);
      return;
    default:
      throw new Error(`unknown operation ${op}`);
  }
}
