/**
 * A fast local cluster in a temp dir plus the config a PollyService needs to run against it
 * (API and libStorage on port 0, home in the temp dir). Tests start and stop the service themselves.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PollyConfig } from '../../framework/config/config-schema';
import { loadConfig } from '../../framework/config/config-loader';
import { LocalCluster, type LocalClusterOptions } from '../../framework/mesos/local/local-cluster';

export interface LocalPollyFixture {
  dir: string;
  cluster: LocalCluster;
  /** Config for a PollyService on this cluster; `overrides` are dotted keys, as CLI flags give them. */
  config(overrides?: Record<string, unknown>): PollyConfig;
  dispose(): Promise<void>;
}

export async function startLocalPollyFixture(prefix = 'polly-service-', clusterOptions: Partial<LocalClusterOptions> = {}): Promise<LocalPollyFixture> {
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), prefix));
  const cluster = await LocalCluster.start({
    port: 0,
    workDir: path.join(dir, 'cluster'),
    heartbeatIntervalSeconds: 0.2,
    allocationIntervalMs: 50,
    ...clusterOptions,
  });
  const empty = path.join(dir, 'empty.yml');
  fs.writeFileSync(empty, '');
  return {
    dir,
    cluster,
    config: (overrides = {}) =>
      loadConfig({
        env: {},
        file: empty,
        overrides: { master: cluster.url, home: path.join(dir, 'home'), 'api.port': 0, 'libstorage.port': 0, ...overrides },
      }),
    dispose: async () => {
      await cluster.stop();
      await fs.promises.rm(dir, { recursive: true, force: true, maxRetries: 5 });
    },
  };
}
