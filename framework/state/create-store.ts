/**
 * The store the configuration asks for: embedded LevelDB under `home` (default), or ZooKeeper
 * (`state.backend: zookeeper`, `state.servers`, `state.path`) for several Polly instances. The
 * store is returned closed; the caller opens it.
 */
import path from 'node:path';
import type { PollyConfig } from '../config/config-schema';
import { ConfigError } from '../config/config-loader';
import type { Logger } from '../shared/logger';
import { LevelStore } from './level-store';
import type { Store } from './store';
import type { ZkSession } from '../shared/zookeeper/zk-session';
import { ZookeeperStore } from './zookeeper/zookeeper-store';

export interface CreateStoreOptions {
  logger?: Logger;
  /** Share this ZooKeeper session (leader election uses the same one) instead of opening one. */
  session?: ZkSession;
}

export function createStore(config: Pick<PollyConfig, 'state'>, home: string, options: CreateStoreOptions = {}): Store {
  const state = config.state;
  if (state.backend === 'zookeeper') {
    if (!options.session && !state.servers.trim()) {
      throw new ConfigError('state.backend is zookeeper but state.servers is empty: set it to host:2181[,host:2181...]');
    }
    return new ZookeeperStore({
      servers: state.servers.trim(),
      session: options.session,
      root: state.path,
      sessionTimeoutMs: state.sessionTimeoutMs,
      logger: options.logger,
    });
  }
  return new LevelStore(path.join(home, 'state'), { logger: options.logger });
}
