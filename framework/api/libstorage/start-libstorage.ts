/**
 * The one call the composition root makes: start Polly's libStorage API from the config (or not,
 * when `libstorage.enabled` is false) and get back something to stop.
 */
import type { LibStorageConfig } from '../../config/config-schema';
import type { ApiAuth } from '../auth/api-auth';
import { Logger, silentLogger } from '../../shared/logger';
import type { StorageService } from '../../storage/storage-service';
import type { PreemptPolicy } from './libstorage-backend';
import { createLibStorageServer, LibStorageAddress, LibStorageServer } from './libstorage-server';

export interface LibStorageDeps {
  storage: StorageService;
  /** The admin API's auth: its tokens are required here too when `libstorage.jwt` is absent. */
  apiAuth?: ApiAuth;
  logger?: Logger;
  /** Who `force` may preempt (wire the scheduler's knowledge of gone agents/tasks in here). */
  preempt?: PreemptPolicy;
}

export interface RunningLibStorage {
  server: LibStorageServer;
  address: LibStorageAddress;
  stop(timeoutMs?: number): Promise<void>;
}

/** Starts the libStorage API; undefined when it is disabled. */
export async function startLibStorage(deps: LibStorageDeps, config: LibStorageConfig): Promise<RunningLibStorage | undefined> {
  if (!config.enabled) return undefined;
  const logger = deps.logger ?? silentLogger;
  const server = createLibStorageServer({
    storage: deps.storage,
    config,
    ...(deps.apiAuth ? { apiAuth: deps.apiAuth } : {}),
    logger: logger.child?.({ component: 'libstorage' }) ?? logger,
    ...(deps.preempt ? { preempt: deps.preempt } : {}),
  });
  const address = await server.listen();
  return { server, address, stop: (timeoutMs) => server.close(timeoutMs) };
}
