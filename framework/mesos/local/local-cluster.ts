/**
 * `--master local`: an in-process, protocol-faithful Mesos master with simulated agents that run
 * tasks as real local processes. A development and test tool; production uses a real master.
 *
 * It survives restarts the way a real cluster does. Under `workDir`:
 *   master/registry.json     the master's registry: admitted, unreachable and gone agents
 *   agents/<hostname>/       each agent's work dir: sandboxes, and its checkpoint under meta/
 * A restarted cluster has a new master (new master ID) that recovers the registry; each agent keeps
 * its ID, stops the task processes the earlier run left behind, reports its checkpointed tasks as a
 * recovering agent does, and re-registers. Agents of the registry that are no longer configured are
 * marked gone (their leftover processes stopped first), as an operator decommissioning a host would.
 * stop() kills the tasks (their last updates are checkpointed and delivered after the restart);
 * agents do not unregister, so they come back under the same IDs.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { mesos } from '../generated/mesos';
import type { Logger } from '../../shared/logger';
import { silentLogger } from '../../shared/logger';
import type { MasterLink, SimulatedAgentApi } from './agent-link';
import { DEFAULT_AGENTS, parseAgentSpec, type AgentSpecInput } from './agent-spec';
import { AgentCheckpoint } from './agent/agent-checkpoint';
import { agentPluginConfigDir } from './agent/csi-plugin-configs';
import { stopLeftovers } from './agent/leftover-processes';
import { assertPathComponent } from './agent/sandbox';
import type { ImageTaskPolicy } from './agent/container-support';
import { SimulatedAgent } from './agent/simulated-agent';
import { DEFAULT_KILL_GRACE_PERIOD_MS } from './agent/task-runner';
import { LocalMaster } from './master/local-master';
import { MasterRegistry } from './master/master-registry';
import { MasterHttpServer } from './master/http-server';
import { OperatorEndpoint } from './master/operator-endpoint';
import { SchedulerEndpoint } from './master/scheduler-endpoint';
import type { Credential } from './master/http-util';
import { ZookeeperRegistration } from './zookeeper-registration';

export type { AgentSpecInput } from './agent-spec';

export interface LocalClusterOptions {
  host?: string;
  port?: number;
  workDir: string;
  agents?: AgentSpecInput[];
  heartbeatIntervalSeconds?: number;
  allocationIntervalMs?: number;
  offerTimeoutMs?: number;
  agentPingTimeoutMs?: number;
  statusUpdateRetry?: { minMs: number; maxMs: number };
  credentials?: Credential[];
  /** If set, HTTP basic auth on the operator API (/api/v1), realm mesos-master-readwrite (--authenticate_http_readwrite). */
  operatorCredentials?: { principal: string; secret: string }[];
  maxCompletedFrameworks?: number;
  /** How long agents of an earlier run have after a master restart to re-register (default 10 minutes). */
  agentReregisterTimeoutMs?: number;
  dockerVolumeResolver?: (driver: string, name: string, options: Record<string, string>) => Promise<string>;
  /** Tasks with an image or a container network: `fail` (default; the agents have no container engine) or run their command on the `host`. */
  imageTasks?: ImageTaskPolicy;
  /**
   * The agents' `--csi_plugin_config_dir` (their volume/csi isolator): an agent reads
   * `<dir>/<hostname>` when it exists, else `<dir>`. Unset: no isolator.
   */
  csiPluginConfigDir?: string;
  logger?: Logger;
  /** Register the master in ZooKeeper as Mesos does (`json.info_*` under `path`), for zk:// detection. */
  zookeeper?: { servers: string; path: string; sessionTimeoutMs?: number };
}

/** Agents hold this link for their whole life; it always points at the current master. */
class MasterRelay implements MasterLink {
  constructor(private readonly current: () => LocalMaster) {}
  statusUpdate(agentId: string, frameworkId: string, status: mesos.v1.ITaskStatus): void {
    this.current().statusUpdate(agentId, frameworkId, status);
  }
  agentRegistered(agent: SimulatedAgentApi, reregistered: boolean): void {
    this.current().agentRegistered(agent, reregistered);
  }
  agentUnregistered(agentId: string): void {
    this.current().agentUnregistered(agentId);
  }
}

export class LocalCluster {
  private master: LocalMaster;
  private readonly agentMap = new Map<string, SimulatedAgent>();
  private readonly relay: MasterRelay;
  private readonly server: MasterHttpServer;
  private readonly operator: OperatorEndpoint;
  private leading: { leading: true } | { leading: false; leaderHostPort?: string } = { leading: true };
  private agentCount = 0;
  private port = 0;
  private readonly host: string;
  private readonly logger: Logger;
  private readonly registry: MasterRegistry;
  private zkRegistration: ZookeeperRegistration | undefined;

  private constructor(private readonly options: LocalClusterOptions) {
    this.host = options.host ?? '127.0.0.1';
    this.logger = options.logger ?? silentLogger;
    this.registry = MasterRegistry.open(path.join(options.workDir, 'master', 'registry.json'));
    this.master = this.newMaster();
    this.relay = new MasterRelay(() => this.master);
    const heartbeat = options.heartbeatIntervalSeconds ?? 15;
    this.operator = new OperatorEndpoint(() => this.master, heartbeat, { credentials: options.operatorCredentials, leader: () => this.leading });
    const scheduler = new SchedulerEndpoint(() => this.master, { credentials: options.credentials, leader: () => this.leading });
    this.server = new MasterHttpServer(() => this.master, scheduler, this.operator, this.logger);
  }

  static async start(options: LocalClusterOptions): Promise<LocalCluster> {
    const cluster = new LocalCluster(options);
    await fs.promises.mkdir(options.workDir, { recursive: true });
    cluster.port = await cluster.server.listen(cluster.host, options.port ?? 5050);
    // The master learns its port only now.
    cluster.master.shutdown();
    cluster.master = cluster.newMaster();
    cluster.operator.bind(cluster.master);
    try {
      for (const input of options.agents ?? DEFAULT_AGENTS) await cluster.addAgent(input);
      await cluster.retireAbsentAgents();
      if (options.zookeeper) {
        cluster.zkRegistration = new ZookeeperRegistration({ ...options.zookeeper, logger: cluster.logger });
        await cluster.zkRegistration.register(cluster.master.masterInfo());
      }
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /** The master's `json.info_*` znode when registered in ZooKeeper. */
  get zookeeperNode(): string | undefined {
    return this.zkRegistration?.nodePath;
  }

  /** Test hook: the master's ZooKeeper node goes away (it loses its candidacy) while it keeps running. */
  async unregisterFromZooKeeper(): Promise<void> {
    await this.zkRegistration?.unregister();
  }

  get url(): string {
    return `http://${this.host}:${this.port}`;
  }

  get masterId(): string {
    return this.master.masterId;
  }

  /** The master's internals, for tests that need to look inside. */
  get localMaster(): LocalMaster {
    return this.master;
  }

  agents(): SimulatedAgentApi[] {
    return [...this.agentMap.values()];
  }

  agent(agentId: string): SimulatedAgent | undefined {
    return this.agentMap.get(agentId);
  }

  /**
   * Starts an agent in `agents/<hostname>`: with the ID it had there before (unless the master marked
   * it gone: then it registers as a new agent), after recovering what an earlier run left.
   */
  async addAgent(input: AgentSpecInput): Promise<string> {
    assertPathComponent('agent hostname', input.hostname);
    if (this.agents().some((a) => a.info().hostname === input.hostname)) {
      throw new Error(`Agent hostname '${input.hostname}' is used twice: each local agent needs its own (its work dir is agents/<hostname>)`);
    }
    const workDir = this.agentWorkDir(input.hostname);
    await fs.promises.mkdir(workDir, { recursive: true });
    let agentId = new AgentCheckpoint(workDir).latestAgentId();
    if (agentId !== undefined && this.registry.goneSince(agentId) !== undefined) {
      this.logger.warn('Agent was marked gone: it registers as a new agent', { agentId, hostname: input.hostname });
      agentId = undefined;
    }
    agentId ??= this.master.ids.nextAgentId();
    const spec = parseAgentSpec(input, { agentId, workDir, port: 5051 + this.agentCount++ });
    const agent = new SimulatedAgent(spec, this.relay, {
      statusUpdateRetry: this.options.statusUpdateRetry,
      dockerVolumeResolver: this.options.dockerVolumeResolver,
      imageTasks: this.options.imageTasks,
      ...(this.options.csiPluginConfigDir ? { csiPluginConfigDir: agentPluginConfigDir(this.options.csiPluginConfigDir, input.hostname) } : {}),
      logger: this.logger,
    });
    await agent.recover();
    this.agentMap.set(agentId, agent);
    agent.start();
    return agentId;
  }

  /** An agent's work dir, like a real agent's --work_dir on its host. */
  agentWorkDir(hostname: string): string {
    return path.join(this.options.workDir, 'agents', hostname);
  }

  crashAgent(agentId: string): void {
    this.requireAgent(agentId).crash();
  }

  partitionAgent(agentId: string): void {
    this.requireAgent(agentId).partition();
  }

  async healAgent(agentId: string): Promise<void> {
    const agent = this.requireAgent(agentId);
    if (agent.state === 'unreachable') agent.heal();
    else if (agent.state === 'stopped') agent.restart();
  }

  removeAgent(agentId: string): void {
    this.requireAgent(agentId);
    this.master.markAgentGone(agentId);
  }

  /** Master failover: a new master (new ID) on the same address; agents re-register, frameworks must re-subscribe. */
  async restartMaster(): Promise<void> {
    this.master.shutdown();
    this.master = this.newMaster();
    this.operator.bind(this.master);
    for (const agent of this.agentMap.values()) {
      // Like a real agent after a master failover: re-register and resend unacknowledged updates now.
      agent.reregister();
    }
    if (this.zkRegistration) {
      // A restarted Mesos master contends again: a new node, at the end of the line.
      await this.zkRegistration.unregister();
      await this.zkRegistration.register(this.master.masterInfo());
    }
  }

  dropStream(frameworkId: string): void {
    this.master.dropStream(frameworkId);
  }

  setLeading(leading: boolean, leaderUrl?: string): void {
    if (leading) this.leading = { leading: true };
    else this.leading = { leading: false, leaderHostPort: leaderUrl ? new URL(leaderUrl).host : undefined };
  }

  /**
   * Stops the cluster: the master first (frameworks are disconnected), then the agents kill their
   * tasks, checkpointing the updates for the next run to deliver, and keep their IDs.
   */
  async stop(): Promise<void> {
    await this.zkRegistration?.close();
    this.master.shutdown();
    this.operator.close();
    await Promise.all([...this.agentMap.values()].map((a) => a.stop()));
    await this.server.close();
  }

  /**
   * Agents of the registry this cluster does not run any more (fewer configured): what their work
   * dirs left running is stopped, and the master marks them gone, as an operator retiring a host
   * would, so frameworks learn their tasks are gone instead of waiting for them.
   */
  private async retireAbsentAgents(): Promise<void> {
    const hostnames = new Set(this.agents().map((a) => a.info().hostname ?? ''));
    let dirs: string[] = [];
    try {
      dirs = await fs.promises.readdir(path.join(this.options.workDir, 'agents'));
    } catch {
      // no agents yet
    }
    for (const dir of dirs) {
      if (hostnames.has(dir)) continue;
      const pidFiles = new AgentCheckpoint(path.join(this.options.workDir, 'agents', dir)).pidFiles();
      if (pidFiles.length === 0) continue;
      await stopLeftovers(pidFiles, { graceMs: DEFAULT_KILL_GRACE_PERIOD_MS, killWaitMs: 5000, logger: this.logger, agentId: dir });
    }
    for (const info of this.master.recoveredAgentInfos()) {
      const agentId = info.id?.value ?? '';
      this.logger.warn('Agent of an earlier run is not configured any more: marked gone', { agentId, hostname: info.hostname });
      this.master.markAgentGone(agentId);
    }
  }

  private newMaster(): LocalMaster {
    const master = new LocalMaster({
      hostname: this.host,
      port: this.port,
      heartbeatIntervalSeconds: this.options.heartbeatIntervalSeconds ?? 15,
      allocationIntervalMs: this.options.allocationIntervalMs ?? 1000,
      offerTimeoutMs: this.options.offerTimeoutMs,
      agentPingTimeoutMs: this.options.agentPingTimeoutMs ?? 75_000,
      maxCompletedFrameworks: this.options.maxCompletedFrameworks ?? 50,
      pingAgent: (agentId) => this.agentMap.get(agentId)?.state === 'running',
      registry: this.registry,
      agentReregisterTimeoutMs: this.options.agentReregisterTimeoutMs,
      logger: this.logger,
    });
    return master;
  }

  private requireAgent(agentId: string): SimulatedAgent {
    const agent = this.agentMap.get(agentId);
    if (!agent) throw new Error(`Unknown agent ${agentId}`);
    return agent;
  }
}
