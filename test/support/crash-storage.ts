/**
 * The storage service the crash test's child runs and its parent then recovers and audits: both
 * sides must open exactly the same configuration on the same dirs, so it is built in one place.
 * Both start it the way PollyService does: the installation first (the home marker decides whether
 * the store may be created, and refuses a lost or damaged one), then the storage core.
 */
import path from 'node:path';
import { LevelStore } from '../../framework/state/level-store';
import { openInstallation } from '../../framework/state/open-installation';
import { driverFactory } from '../../framework/storage/driver-factory';
import { ServiceRegistry } from '../../framework/storage/service-registry';
import { StorageService } from '../../framework/storage/storage-service';
import type { RecoveryReport } from '../../framework/storage/storage-recovery';

export interface CrashStorage {
  store: LevelStore;
  storage: StorageService;
  /** Opens the installation (refusing lost or damaged state), then starts the storage core (recovery included). */
  start(): Promise<RecoveryReport>;
}

/** `<root>/state` (LevelDB), `<root>/home` (home marker) and `<root>/home/vfs/local` (vfs, with a short stale-lock time: children die holding it). */
export function buildCrashStorage(root: string): CrashStorage {
  const home = path.join(root, 'home');
  const store = new LevelStore(path.join(root, 'state'));
  const registry = new ServiceRegistry({
    services: [{ name: 'local', driver: 'vfs', profiles: [{ name: 'default' }] }],
    home,
    store,
    createDriver: driverFactory({ durable: false, vfsLock: { lockStaleMs: 1000 } }),
  });
  const storage = new StorageService({ store, registry, retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 } });
  return {
    store,
    storage,
    async start() {
      await openInstallation(store, { home });
      return storage.start();
    },
  };
}
