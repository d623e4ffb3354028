/**
 * The storage service the crash test's child runs and its parent then recovers and audits: both
 * sides must open exactly the same configuration on the same dirs, so it is built in one place.
 */
import path from 'node:path';
import { LevelStore } from '../../framework/state/level-store';
import { driverFactory } from '../../framework/storage/driver-factory';
import { ServiceRegistry } from '../../framework/storage/service-registry';
import { StorageService } from '../../framework/storage/storage-service';

/** `<root>/state` (LevelDB) and `<root>/home/vfs/local` (vfs, with a short stale-lock time: children die holding it). */
export function buildCrashStorage(root: string): { store: LevelStore; storage: StorageService } {
  const store = new LevelStore(path.join(root, 'state'));
  const registry = new ServiceRegistry({
    services: [{ name: 'local', driver: 'vfs', profiles: [{ name: 'default' }] }],
    home: path.join(root, 'home'),
    store,
    createDriver: driverFactory({ durable: false, vfsLock: { lockStaleMs: 1000 } }),
  });
  const storage = new StorageService({ store, registry, retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 } });
  return { store, storage };
}
