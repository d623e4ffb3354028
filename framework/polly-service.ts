/**
 * Wires one Polly process together from its configuration: state store, Mesos master (a real
 * one, or the local development cluster) and the Polly framework. The CLI stays thin; this is
 * the composition root.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { PollyConfig } from './config/config-schema';
import { ConfigError } from './config/config-loader';
import type { Logger } from './mesos/logger';
import { MasterDetector, StaticMasterDetector } from './mesos/master-detector';
import { LocalCluster } from './mesos/local/local-cluster';
import type { AgentSpecInput } from './mesos/local/agent-spec';
import { LevelStore } from './state/level-store';
import { openStore } from './state/schema';
import type { Store } from './state/store';
import { FrameworkIdStore } from './scheduler/framework-id-store';
import { PollyScheduler } from './scheduler/polly-scheduler';

export interface PollyServiceOptions {
  config: PollyConfig;
  logger: Logger;
  /** Called when the process should end (e.g. another Polly took over the framework). */
  onFatal?: (reason: string) => void;
}

/** `node0, node1` in zone-a and `node2` in zone-b, and so on: two zones whatever the count. */
export function localAgents(count: number): AgentSpecInput[] {
  return Array.from({ length: count }, (_, i) => ({
    hostname: `node${i}`,
    zone: i % 3 === 2 ? 'zone-b' : 'zone-a',
    region: 'region-1',
  }));
}

export class PollyService {
  private constructor(
    readonly config: PollyConfig,
    readonly store: Store,
    readonly scheduler: PollyScheduler,
    readonly cluster: LocalCluster | undefined,
    private readonly detector: MasterDetector,
    private readonly logger: Logger,
  ) {}

  static async start(options: PollyServiceOptions): Promise<PollyService> {
    const { config, logger } = options;
    fs.mkdirSync(config.home, { recursive: true, mode: 0o700 });
    const store = new LevelStore(path.join(config.home, 'state'));
    await store.open();
    let cluster: LocalCluster | undefined;
    try {
      await openStore(store, { logger });
      let masters: string[];
      if (config.master === 'local') {
        cluster = await LocalCluster.start({
          host: config.local.host,
          port: config.local.port,
          workDir: path.join(config.home, 'local-cluster'),
          agents: localAgents(config.local.agents),
          heartbeatIntervalSeconds: config.local.heartbeatIntervalSeconds,
          allocationIntervalMs: config.local.allocationIntervalMs,
          logger: logger.child?.({ component: 'local-cluster' }) ?? logger,
        });
        logger.info('local Mesos cluster started (development and test use only)', {
          master: cluster.url,
          agents: cluster.agents().map((a) => a.info().hostname),
        });
        masters = [cluster.url];
      } else if (config.master.startsWith('zk://')) {
        throw new ConfigError('master: zk:// detection is not available in this build; list the masters as http://host:5050,http://host2:5050');
      } else {
        masters = config.master.split(',').map((s) => s.trim()).filter(Boolean);
      }
      const detector = new StaticMasterDetector(masters);
      const webuiUrl = config.mesos.webuiUrl || `http://${config.api.host}:${config.api.port}/ui`;
      const scheduler = new PollyScheduler({
        identity: {
          name: config.mesos.frameworkName,
          user: config.mesos.user,
          roles: config.mesos.roles,
          principal: config.mesos.principal || undefined,
          failoverTimeoutSeconds: config.mesos.failoverTimeoutSeconds,
          hostname: config.mesos.hostname,
          webuiUrl,
        },
        detector,
        frameworkIds: new FrameworkIdStore(store),
        logger,
        format: config.mesos.format,
        credentials: config.mesos.principal && config.mesos.secret ? { principal: config.mesos.principal, secret: config.mesos.secret } : undefined,
        tls: config.mesos.tls.caFile
          ? { ca: fs.readFileSync(config.mesos.tls.caFile), rejectUnauthorized: config.mesos.tls.rejectUnauthorized }
          : { rejectUnauthorized: config.mesos.tls.rejectUnauthorized },
        missedHeartbeats: config.mesos.missedHeartbeats,
        declineRefuseSeconds: config.mesos.declineRefuseSeconds,
        onFatal: options.onFatal,
      });
      await scheduler.start();
      return new PollyService(config, store, scheduler, cluster, detector, logger);
    } catch (err) {
      await cluster?.stop().catch(() => undefined);
      await store.close().catch(() => undefined);
      throw err;
    }
  }

  /** Stops cleanly: the Mesos stream is closed without tearing the framework down. */
  async stop(): Promise<void> {
    this.logger.info('stopping Polly');
    await this.scheduler.stop();
    this.detector.close();
    if (this.cluster) await this.cluster.stop();
    await this.store.close();
    this.logger.info('Polly stopped');
  }
}
