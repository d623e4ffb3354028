/**
 * End-to-end setup for the scheduler: a fast LocalCluster (node0, node1 in zone-a; node2 in zone-b),
 * the real storage service (vfs in a temp dir, LevelDB) and Polly's scheduler with its app launcher,
 * wired as the service wires them. `restartPolly()` stops Polly (no teardown) and starts a new one on
 * the same store, as a process restart would. `replaceCluster()` stops the cluster, wipes its work
 * dir and starts a new one on the same address: a master and agents that know nothing of Polly's
 * tasks (what happened to `--master local` before it kept its state).
 */
import fs from 'node:fs';
import path from 'node:path';
import { LocalCluster, type AgentSpecInput } from '../../../framework/mesos/local/local-cluster';
import { silentLogger } from '../../../framework/shared/logger';
import { StaticMasterDetector } from '../../../framework/mesos/master-detector';
import { AgentRegistry } from '../../../framework/scheduler/agent-registry';
import { AppLauncher, MesosDriver } from '../../../framework/scheduler/app-launcher';
import { FrameworkIdStore } from '../../../framework/scheduler/framework-id-store';
import { InstanceTracker } from '../../../framework/scheduler/instance-tracker';
import { PollyScheduler } from '../../../framework/scheduler/polly-scheduler';
import { SchedulerFacade } from '../../../framework/scheduler/scheduler-api';
import { StorageOfferBook } from '../../../framework/scheduler/storage-offers';
import { Fixture as StorageFixture, makeFixture } from '../storage/storage-fixture';
import { waitFor } from '../../support/mesos-http';

export interface Polly {
  scheduler: PollyScheduler;
  agents: AgentRegistry;
  offers: StorageOfferBook;
  tracker: InstanceTracker;
  launcher: AppLauncher;
  api: SchedulerFacade;
  detector: StaticMasterDetector;
}

export interface E2E {
  cluster: LocalCluster;
  replaceCluster(): Promise<LocalCluster>;
  storage: StorageFixture;
  polly: Polly;
  /** hostname → agent ID. */
  agentIds: Record<string, string>;
  restartPolly(options?: E2EOptions): Promise<Polly>;
  stop(): Promise<void>;
}

export interface E2EOptions {
  unreachableTimeoutSeconds?: number;
  unknownTaskTimeoutSeconds?: number;
  agentPingTimeoutMs?: number;
  beforeStart?: (p: Polly) => void;
  /** Wraps the Mesos calls the launcher makes (to lose an ACCEPT, say). */
  wrapDriver?: (driver: MesosDriver) => MesosDriver;
  /** What the local agents do with image tasks (default: fail them). */
  imageTasks?: 'fail' | 'host';
  /** The local agents, instead of node0 and node1 in zone-a and node2 in zone-b. */
  agents?: AgentSpecInput[];
}

async function startPolly(cluster: LocalCluster, storage: StorageFixture, options: E2EOptions): Promise<Polly> {
  const agents = new AgentRegistry({ services: () => storage.registry.list().map((s) => s.name) });
  const offers = new StorageOfferBook({ storage: storage.storage, agents });
  offers.start();
  const tracker = new InstanceTracker(storage.store);
  const detector = new StaticMasterDetector([cluster.url]);
  let scheduler: PollyScheduler | undefined = undefined; // read by the launcher's driver callback, assigned below
  const launcher = new AppLauncher({
    storage: storage.storage,
    agents,
    tracker,
    driver: () => {
      const client = scheduler?.mesos;
      return client && options.wrapDriver ? options.wrapDriver(client) : client;
    },
    pendingRefuseSeconds: 0.2,
    declineRefuseSeconds: 1,
    unreachableTimeoutSeconds: options.unreachableTimeoutSeconds ?? 1,
    unknownTaskTimeoutSeconds: options.unknownTaskTimeoutSeconds,
  });
  await launcher.start();
  scheduler = new PollyScheduler({
    identity: { name: 'polly', user: '', roles: ['polly'], failoverTimeoutSeconds: 3600, hostname: 'polly.test', webuiUrl: 'http://127.0.0.1:7978/ui' },
    detector,
    frameworkIds: new FrameworkIdStore(storage.store),
    logger: silentLogger,
    format: 'json',
    launcher,
    client: { backoff: { minMs: 20, maxMs: 100 } },
  });
  const polly: Polly = { scheduler, agents, offers, tracker, launcher, api: new SchedulerFacade({ agents, offers, launcher }), detector };
  options.beforeStart?.(polly);
  await scheduler.start();
  await waitFor(() => scheduler!.isSubscribed, 10000);
  return polly;
}

async function stopPolly(p: Polly): Promise<void> {
  p.launcher.stop();
  p.offers.stop();
  await p.scheduler.stop();
  p.detector.close();
}

export async function startE2E(options: E2EOptions = {}): Promise<E2E> {
  const storage = await makeFixture();
  const clusterOptions = (port: number) => ({
    port,
    workDir: path.join(storage.dir, 'cluster'),
    heartbeatIntervalSeconds: 0.2,
    allocationIntervalMs: 50,
    agentPingTimeoutMs: options.agentPingTimeoutMs ?? 300,
    statusUpdateRetry: { minMs: 100, maxMs: 400 },
    imageTasks: options.imageTasks,
    agents: options.agents ?? [
      { hostname: 'node0', zone: 'zone-a', region: 'region-1', resources: 'cpus:2;mem:2048;disk:10000;ports:[31000-31099]' },
      { hostname: 'node1', zone: 'zone-a', region: 'region-1', resources: 'cpus:2;mem:2048;disk:10000;ports:[31000-31099]' },
      { hostname: 'node2', zone: 'zone-b', region: 'region-1', resources: 'cpus:2;mem:2048;disk:10000;ports:[31000-31099]' },
    ],
  });
  const cluster = await LocalCluster.start(clusterOptions(0));
  const agentIds: Record<string, string> = {};
  const learnAgents = (c: LocalCluster): void => {
    for (const a of c.agents()) agentIds[a.info().hostname] = a.agentId;
  };
  learnAgents(cluster);
  const e2e: E2E = {
    cluster,
    replaceCluster: async () => {
      const port = Number(new URL(e2e.cluster.url).port);
      await e2e.cluster.stop();
      await fs.promises.rm(path.join(storage.dir, 'cluster'), { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
      e2e.cluster = await LocalCluster.start(clusterOptions(port));
      learnAgents(e2e.cluster);
      return e2e.cluster;
    },
    storage,
    agentIds,
    polly: await startPolly(cluster, storage, options),
    restartPolly: async (again = {}) => {
      await stopPolly(e2e.polly);
      e2e.polly = await startPolly(e2e.cluster, storage, { ...options, wrapDriver: undefined, ...again });
      return e2e.polly;
    },
    stop: async () => {
      await stopPolly(e2e.polly).catch(() => undefined);
      await e2e.cluster.stop().catch(() => undefined);
      await storage.close();
      await fs.promises.rm(storage.dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
    },
  };
  return e2e;
}

/** The app's task in a state, once there is one. */
export function runningTask(e: E2E, appId: string, instance = 0) {
  const t = e.polly.tracker.currentTask(appId, instance);
  return t && t.state === 'TASK_RUNNING' ? t : undefined;
}

/** A task's stdout, read from its sandbox on the simulated agent. */
export function stdoutOf(e: E2E, taskId: string, agentId: string): string {
  const agent = e.cluster.agent(agentId);
  const frameworkId = e.polly.scheduler.frameworkId!;
  const sandbox = agent?.sandboxOf(frameworkId, taskId);
  if (!sandbox) return '';
  try {
    return fs.readFileSync(path.join(sandbox, 'stdout'), 'utf8');
  } catch {
    return '';
  }
}

export function volumeApp(id: string, cmd: string, volume: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    cmd,
    cpus: 0.1,
    mem: 32,
    instances: 1,
    container: {
      type: 'MESOS',
      volumes: [{ containerPath: 'mystore', mode: 'RW', external: { name: volume, provider: 'dvdi', options: { 'dvdi/driver': 'rexray' } } }],
    },
    ...extra,
  };
}
