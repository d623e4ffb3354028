/**
 * A StorageService on a real LevelDB store and a real vfs root in a temp dir, for the storage tests.
 * `wrap` lets a test put a fault-injecting driver around the vfs driver.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BoundedDriver } from '../../../drivers/bounded-driver';
import type { StorageDriver } from '../../../drivers/storage-driver';
import { LevelStore } from '../../../framework/state/level-store';
import { driverFactory } from '../../../framework/storage/driver-factory';
import { ServiceDefinition, ServiceInput, ServiceRegistry } from '../../../framework/storage/service-registry';
import { StorageService, StorageServiceOptions } from '../../../framework/storage/storage-service';

export interface Fixture {
  dir: string;
  home: string;
  store: LevelStore;
  registry: ServiceRegistry;
  storage: StorageService;
  /** The (bounded) driver of each service, as the registry built it, before any wrapping. */
  drivers: Map<string, StorageDriver>;
  vfsRoot(service?: string): string;
  /** Closes everything except the directory (for a restart on the same dirs). */
  close(): Promise<void>;
  /** Closes and deletes the directory. */
  dispose(): Promise<void>;
}

export interface FixtureOptions {
  dir?: string;
  services?: ServiceInput[];
  wrap?: (driver: StorageDriver, service: ServiceDefinition) => StorageDriver;
  /** Wraps the real driver inside its BoundedDriver (the timeout then bounds what the wrapper does). */
  wrapInner?: (driver: StorageDriver, service: ServiceDefinition) => StorageDriver;
  start?: boolean;
  retry?: { attempts?: number; baseDelayMs?: number; maxDelayMs?: number };
  concurrency?: number;
  claimRetention?: StorageServiceOptions['claimRetention'];
  adoptBackends?: boolean;
  backendMarkEveryMs?: number;
}

export const DEFAULT_SERVICES: ServiceInput[] = [
  { name: 'local', driver: 'vfs', profiles: [{ name: 'default' }, { name: 'small', maxSizeGiB: 10 }] },
];

export async function makeFixture(options: FixtureOptions = {}): Promise<Fixture> {
  const dir = options.dir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'polly-storage-')));
  const home = path.join(dir, 'home');
  await fs.mkdir(home, { recursive: true });
  const store = new LevelStore(path.join(dir, 'state'));
  const base = driverFactory({ durable: false });
  const drivers = new Map<string, StorageDriver>();
  const registry = new ServiceRegistry({
    services: options.services ?? DEFAULT_SERVICES,
    home,
    store,
    createDriver: (definition) => {
      let driver = base(definition);
      if (options.wrapInner) {
        const inner = (driver as BoundedDriver).inner;
        driver = new BoundedDriver(options.wrapInner(inner, definition), { timeoutMs: definition.timeoutMs });
      }
      drivers.set(definition.name, driver);
      return options.wrap ? options.wrap(driver, definition) : driver;
    },
  });
  const storage = new StorageService({
    store,
    registry,
    retry: options.retry ?? { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 },
    concurrency: options.concurrency,
    claimRetention: options.claimRetention,
    adoptBackends: options.adoptBackends,
    backendMarkEveryMs: options.backendMarkEveryMs,
  });
  if (options.start !== false) await storage.start();
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await storage.stop().catch(() => undefined);
    await store.close().catch(() => undefined);
  };
  return {
    dir,
    home,
    store,
    registry,
    storage,
    drivers,
    vfsRoot: (service = 'local') => path.join(home, 'vfs', service),
    close,
    dispose: async () => {
      await close();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

/** Every file and directory under `root`, relative, sorted (for "nothing was written" checks). */
export async function listTree(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      out.push(r);
      if (e.isDirectory()) await walk(path.join(dir, e.name), r);
    }
  };
  await walk(root, '');
  return out.sort();
}

/** All keys of the store, sorted. */
export async function storeKeys(store: LevelStore): Promise<string[]> {
  const keys: string[] = [];
  for await (const [key] of store.scan('')) keys.push(key);
  return keys;
}
