/**
 * A simulated Mesos agent for the local cluster. It runs command tasks (and task groups under a
 * default executor) as real local processes in sandboxes laid out like a real agent's, owns the
 * task states and a status update manager with the real retry/ack rules, checkpoints its identity,
 * resources, persistent volumes and (for frameworks with `checkpoint: true`) its tasks and their
 * status updates under `meta/` (agent-checkpoint.ts), and can be crashed, restarted, partitioned and
 * healed by tests.
 *
 * Recovery (a new agent object over the same work dir, after Polly stopped or was killed): it keeps
 * its agent ID, first stops every task process an earlier run left behind (leftover-processes.ts),
 * then ends each checkpointed task that had not terminated as a real agent's recovery does
 * (agent-recovery.ts); those updates queue behind the ones still unacknowledged from before and are
 * sent once it re-registers.
 *
 * Deliberate differences from a real agent (there is no containerizer here):
 * - volumes are symlinks in the sandbox, absolute container paths are re-rooted under the sandbox
 *   and read-only mode is not enforced (see sandbox.ts);
 * - no container engine: a task with a Docker or UCR image or a container network fails with
 *   REASON_CONTAINER_LAUNCH_FAILED, as on an agent without those containerizers, unless the cluster
 *   runs such commands on the host (`imageTasks: host`; container-support.ts);
 * - the fetcher copies `CommandInfo.uris` into the sandbox without a cache (fetcher.ts); users are
 *   switched only when the agent runs as root (task-user.ts); health checks are run by the command
 *   executor (health-checker.ts); no custom executors (a task with its own ExecutorInfo fails with
 *   REASON_CONTAINER_LAUNCH_FAILED);
 * - tasks get a minimal environment (task-environment.ts);
 * - crash() / restart() within one agent object keep task state in memory; a new object recovers
 *   from the checkpoint (recover());
 * - an executor never reconnects to a restarted agent: the local agent cannot re-attach to a
 *   process it did not start, so a task survives a restart only as a status update.
 */
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { mesos } from '../../generated/mesos';
import { delay } from '../../backoff';
import { silentLogger, type Logger } from '../../../shared/logger';
import type { AgentState, AgentTaskView, MasterLink, SimulatedAgentApi } from '../agent-link';
import type { AgentSpec } from '../agent-spec';
import { AgentCheckpoint, type RecoveredTask, type TaskPlacement } from './agent-checkpoint';
import { recoveredExecutor, recoveredRecord, recoveryOutcome } from './agent-recovery';
import { CheckpointedResources } from './checkpointed-resources';
import { containerFailure, uncontainable, type ImageTaskPolicy } from './container-support';
import { ContainerLaunchError } from './errors';
import { fetchUris } from './fetcher';
import { stopLeftovers } from './leftover-processes';
import { createExecutorSandbox, createNestedSandbox, executorRunDir, linkVolumes } from './sandbox';
import { StatusUpdateManager, type RetryInterval } from './status-update-manager';
import { taskEnvironment } from './task-environment';
import { taskKey, taskView, type ExecutorRecord, type TaskRecord } from './task-record';
import { DEFAULT_KILL_GRACE_PERIOD_MS, TaskRunner } from './task-runner';
import { buildTaskStatus, isTerminalState, type StatusFields } from './task-status';
import { chownTree, taskUser, type TaskUser } from './task-user';
import { resolveTaskVolumes, type DockerVolumeResolver } from './task-volumes';
import { CsiVolumeIsolator, isCsiVolume } from './csi-volume-isolator';

const TaskState = mesos.v1.TaskState;
const Source = mesos.v1.TaskStatus.Source;
const Reason = mesos.v1.TaskStatus.Reason;
const Capability = mesos.v1.FrameworkInfo.Capability.Type;

export interface SimulatedAgentOptions {
  /** Status update retry backoff; defaults to 10 s doubling to 10 min (src/slave/constants.hpp). */
  statusUpdateRetry?: RetryInterval;
  /** Turns a DOCKER_VOLUME source into a host path (e.g. by attaching through Polly's driver). */
  dockerVolumeResolver?: DockerVolumeResolver;
  /** Kill grace period when neither the KILL nor the task has a kill policy (default 3000 ms). */
  killGracePeriodMs?: number;
  /** How long shutdown() waits for the master to acknowledge the tasks' last updates (default 5000 ms). */
  shutdownDrainMs?: number;
  /** Recovery: how long leftover processes get between SIGTERM and SIGKILL (default: the kill grace period). */
  leftoverGraceMs?: number;
  /** Tasks with an image or a container network: `fail` them (default, as an agent without a container engine) or run their command on the `host`. */
  imageTasks?: ImageTaskPolicy;
  /** The agent's `--csi_plugin_config_dir`: runs the volume/csi isolator (csi-volume-isolator.ts). */
  csiPluginConfigDir?: string;
  logger?: Logger;
}

/** Bound on waiting for leftover processes to vanish after SIGKILL. */
const LEFTOVER_KILL_WAIT_MS = 5000;

export class SimulatedAgent implements SimulatedAgentApi {
  readonly agentId: string;
  private stateValue: AgentState = 'stopped';
  private crashed = false;
  /** The agent ran in this work dir before (recover() found its ID): it re-registers. */
  private recovered = false;
  private readonly workDir: string;
  private readonly checkpoint: AgentCheckpoint;
  private readonly logger: Logger;
  private readonly killGracePeriodMs: number;
  private readonly shutdownDrainMs: number;
  private readonly resources: CheckpointedResources;
  private readonly updates: StatusUpdateManager;
  private readonly taskRecords = new Map<string, TaskRecord>();
  private readonly executors = new Map<string, ExecutorRecord>();
  private readonly frameworks = new Map<string, mesos.v1.IFrameworkInfo>();
  private readonly removedFrameworks = new Set<string>();
  /** Task sandbox (working directory) per task key. */
  private readonly sandboxes = new Map<string, string>();
  /** The volume/csi isolator, when the agent has a CSI plugin configuration directory. */
  private readonly csi: CsiVolumeIsolator | undefined;

  constructor(
    private readonly spec: AgentSpec,
    private readonly master: MasterLink,
    private readonly options: SimulatedAgentOptions = {},
  ) {
    if (!spec.agentId) throw new TypeError('AgentSpec.agentId is required');
    if (!spec.workDir) throw new TypeError('AgentSpec.workDir is required');
    this.agentId = spec.agentId;
    this.workDir = path.resolve(spec.workDir);
    this.logger = options.logger ?? silentLogger;
    this.killGracePeriodMs = options.killGracePeriodMs ?? DEFAULT_KILL_GRACE_PERIOD_MS;
    this.shutdownDrainMs = options.shutdownDrainMs ?? 5000;
    this.resources = new CheckpointedResources(this.workDir, this.agentId, spec.resources, this.logger);
    this.checkpoint = new AgentCheckpoint(this.workDir);
    this.csi = options.csiPluginConfigDir
      ? new CsiVolumeIsolator({ workDir: this.workDir, pluginConfigDir: options.csiPluginConfigDir, logger: this.logger })
      : undefined;
    this.updates = new StatusUpdateManager({
      retry: options.statusUpdateRetry,
      logger: this.logger,
      send: (frameworkId, status) => this.sendToMaster(frameworkId, status),
      onTerminalAcknowledged: (frameworkId, taskId) => this.forgetIfTerminal(taskKey(frameworkId, taskId)),
    });
  }

  get state(): AgentState {
    return this.stateValue;
  }

  /** Unacknowledged status updates over all tasks (for tests and metrics). */
  get pendingStatusUpdates(): number {
    return this.updates.pendingCount;
  }

  info(): mesos.v1.IAgentInfo {
    const info: mesos.v1.IAgentInfo = {
      id: { value: this.agentId },
      hostname: this.spec.hostname,
      port: this.spec.port,
      resources: this.resources.total,
      attributes: this.spec.attributes,
    };
    if (this.spec.domain) info.domain = this.spec.domain;
    return info;
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  /**
   * Before start() on a work dir used before: stops the task processes earlier runs left behind
   * (any agent ID this work dir had), then takes back this agent's checkpointed tasks and reports
   * those that had not terminated (see the file comment). Throws AgentCheckpointError on a
   * checkpoint it cannot read.
   */
  async recover(): Promise<void> {
    this.checkpoint.emptyTrash();
    const running = await stopLeftovers(this.checkpoint.pidFiles(), {
      graceMs: this.options.leftoverGraceMs ?? this.killGracePeriodMs,
      killWaitMs: LEFTOVER_KILL_WAIT_MS,
      logger: this.logger,
      agentId: this.agentId,
    });
    // No container of an earlier run survives: the CSI volumes they used are unpublished.
    await this.csi?.recover();
    if (this.checkpoint.latestAgentId() !== this.agentId) return;
    this.recovered = true;
    const tasks = this.checkpoint.recoverTasks(this.agentId);
    for (const task of tasks) this.adoptRecovered(task, running.has(this.checkpoint.pidFile(task.placement)));
    this.logger.info('Agent recovered', { agentId: this.agentId, tasks: tasks.length, killed: running.size });
  }

  /** Registration with the master: a re-registration when the agent recovered an earlier run. */
  start(): void {
    if (this.crashed) return this.restart();
    if (this.stateValue !== 'stopped') return;
    this.checkpoint.recordAgent(this.info());
    this.stateValue = 'running';
    this.master.agentRegistered(this, this.recovered);
    this.updates.resume();
  }

  /** The agent process dies: every task's process group gets SIGKILL and nothing is reported. */
  crash(): void {
    if (this.stateValue === 'stopped') return;
    this.logger.info('Agent crashed', { agentId: this.agentId });
    this.stateValue = 'stopped';
    this.crashed = true;
    this.updates.pause();
    for (const record of this.taskRecords.values()) record.runner?.crash();
  }

  /**
   * The agent comes back after crash(): like a real agent recovering with checkpointing, its
   * executors are gone, so each task that had not terminated ends with an agent-generated update
   * (TASK_FAILED, or TASK_KILLED if a kill was under way; reason REASON_EXECUTOR_TERMINATED), queued
   * behind any updates still unacknowledged from before the crash. Then it re-registers and
   * resumes sending.
   */
  restart(): void {
    if (!this.crashed) return this.start();
    this.crashed = false;
    for (const record of [...this.taskRecords.values()]) {
      if (!record.runner?.lost || isTerminalState(record.state)) continue;
      if (record.containerId !== undefined) void this.csi?.cleanup(record.containerId);
      this.report(record, {
        state: record.runner.killed ? TaskState.TASK_KILLED : TaskState.TASK_FAILED,
        source: Source.SOURCE_AGENT,
        reason: Reason.REASON_EXECUTOR_TERMINATED,
        message: 'Abnormal executor termination: unknown container',
      });
    }
    this.stateValue = 'running';
    this.master.agentRegistered(this, true);
    this.updates.resume();
  }

  /** The network between agent and master breaks: tasks keep running, updates are held. */
  partition(): void {
    if (this.stateValue !== 'running') return;
    this.stateValue = 'unreachable';
    this.updates.pause();
  }

  /** The network is back: re-register, then resend every unacknowledged update. */
  heal(): void {
    if (this.stateValue !== 'unreachable') return;
    this.stateValue = 'running';
    this.master.agentRegistered(this, true);
    this.updates.resume();
  }

  /**
   * A new leading master was detected (master failover): re-register and resend every
   * unacknowledged update now, as the real agent resumes its status update manager.
   */
  reregister(): void {
    if (this.stateValue !== 'running') return;
    this.master.agentRegistered(this, true);
    this.updates.resume();
  }

  /**
   * A framework (re-)subscribed with the master (UpdateFrameworkMessage): keep its new info and
   * resend every unacknowledged update now, as Slave::updateFramework resumes its update manager.
   */
  updateFramework(framework: mesos.v1.IFrameworkInfo): void {
    const frameworkId = framework.id?.value;
    if (!frameworkId || this.stateValue !== 'running' || !this.frameworks.has(frameworkId)) return;
    this.frameworks.set(frameworkId, framework);
    if (framework.checkpoint) this.recordFramework(framework);
    this.updates.resume();
  }

  /**
   * The local cluster stops (Polly is stopping): every task is killed (SIGTERM, SIGKILL after the
   * grace period) and its last updates stay checkpointed, unacknowledged, for the agent of the next
   * run to deliver. Unlike shutdown() the agent does not unregister: it keeps its ID.
   */
  async stop(): Promise<void> {
    if (this.stateValue === 'stopped' && !this.crashed) return;
    const records = [...this.taskRecords.values()];
    for (const record of records) record.runner?.kill({ gracePeriodMs: this.killGracePeriodMs });
    await Promise.all(records.map((r) => r.runner?.whenStopped()));
    await this.csi?.idle();
    this.csi?.close();
    this.stateValue = 'stopped';
    this.crashed = false;
    this.updates.clear();
    this.taskRecords.clear();
    this.executors.clear();
    await this.checkpoint.idle();
  }

  /** Graceful shutdown: kill all tasks, wait for them, unregister from the master. */
  async shutdown(): Promise<void> {
    if (this.stateValue === 'stopped') return;
    const wasRunning = this.stateValue === 'running';
    const records = [...this.taskRecords.values()];
    for (const record of records) record.runner?.kill({ gracePeriodMs: this.killGracePeriodMs });
    await Promise.all(records.map((r) => r.runner?.whenStopped()));
    await this.csi?.idle();
    // Only the head of a task's updates is in flight: a TASK_KILLED can wait behind a TASK_RUNNING
    // not yet acknowledged. The manager keeps sending until acknowledged, so give it a bounded
    // moment before unregistering rather than dropping the tasks' last words.
    const drainUntil = Date.now() + this.shutdownDrainMs;
    while (wasRunning && this.updates.pendingCount > 0 && Date.now() < drainUntil) await delay(10);
    this.stateValue = 'stopped';
    if (wasRunning) this.master.agentUnregistered(this.agentId);
    this.updates.clear();
    this.taskRecords.clear();
    this.executors.clear();
    await this.checkpoint.idle();
  }

  /** Kills everything at once and stops all timers; nothing is reported (cluster teardown). */
  async destroy(): Promise<void> {
    this.stateValue = 'stopped';
    this.crashed = false;
    this.updates.clear();
    const records = [...this.taskRecords.values()];
    for (const record of records) record.runner?.crash();
    await Promise.all(records.map((r) => r.runner?.whenStopped()));
    // Teardown leaves no published CSI volume behind (its plugin may be gone: failures are logged).
    await Promise.all(records.map((r) => (r.containerId !== undefined ? this.csi?.cleanup(r.containerId) : undefined)));
    await this.csi?.idle();
    this.csi?.close();
    this.taskRecords.clear();
    this.executors.clear();
    await this.checkpoint.idle();
  }

  // ---- master → agent --------------------------------------------------------------------------

  launch(framework: mesos.v1.IFrameworkInfo, tasks: mesos.v1.ITaskInfo[], executor?: mesos.v1.IExecutorInfo | null): void {
    if (this.stateValue !== 'running') {
      this.logger.warn('Dropping launch: agent is not running', { agentId: this.agentId, state: this.stateValue });
      return;
    }
    const frameworkId = framework.id?.value;
    if (!frameworkId) throw new TypeError('launch needs a FrameworkInfo with an id');
    this.frameworks.set(frameworkId, framework);
    if (framework.checkpoint) this.recordFramework(framework);
    this.removedFrameworks.delete(frameworkId);
    this.updates.restoreFramework(frameworkId);
    if (executor) {
      this.launchGroup(frameworkId, executor, tasks);
    } else {
      for (const task of tasks) this.launchCommandTask(frameworkId, task);
    }
  }

  kill(frameworkId: string, taskId: string, killPolicy?: mesos.v1.IKillPolicy | null): void {
    if (this.stateValue !== 'running') return;
    const record = this.taskRecords.get(taskKey(frameworkId, taskId));
    if (!record) {
      // The master answers kills of unknown tasks; nothing to do here.
      this.logger.debug('Kill for unknown task', { frameworkId, taskId });
      return;
    }
    record.runner?.kill({ killPolicy });
  }

  acknowledge(frameworkId: string, taskId: string, uuid: Uint8Array): void {
    if (this.stateValue !== 'running') return; // would not reach an unreachable or stopped agent
    const record = this.taskRecords.get(taskKey(frameworkId, taskId));
    const head = this.updates.pending(frameworkId, taskId)[0];
    // On disk first: acknowledging the terminal update forgets the task and its records.
    if (record?.checkpointed && record.placement && head?.uuid && Buffer.from(head.uuid).equals(Buffer.from(uuid))) {
      this.persist(record, (p) => this.checkpoint.recordAck(p, uuid));
    }
    this.updates.acknowledge(frameworkId, taskId, uuid);
  }

  shutdownFramework(frameworkId: string): void {
    if (this.stateValue !== 'running') return;
    this.removedFrameworks.add(frameworkId);
    this.updates.removeFramework(frameworkId);
    for (const record of [...this.taskRecords.values()]) {
      if (record.frameworkId !== frameworkId) continue;
      if (isTerminalState(record.state)) {
        this.forget(record);
        continue;
      }
      record.runner?.kill({ gracePeriodMs: this.killGracePeriodMs, reason: Reason.REASON_FRAMEWORK_REMOVED });
    }
    this.frameworks.delete(frameworkId);
  }

  checkpointResources(total: mesos.v1.IResource[]): void {
    try {
      this.resources.update(total);
    } catch (err) {
      this.logger.error('Failed to checkpoint resources', { agentId: this.agentId, error: (err as Error).message });
      throw err;
    }
  }

  persistentVolumePath(role: string, persistenceId: string): string {
    return this.resources.volumePath(role, persistenceId);
  }

  tasks(): AgentTaskView[] {
    return [...this.taskRecords.values()].map((record) => ({
      frameworkId: record.frameworkId,
      task: taskView(this.agentId, record, this.updates.pending(record.frameworkId, record.info.task_id.value)[0]),
    }));
  }

  frameworkInfo(frameworkId: string): mesos.v1.IFrameworkInfo | undefined {
    return this.frameworks.get(frameworkId);
  }

  /** The OS process ID of a task, while it has one (tests use it to check processes). */
  taskPid(frameworkId: string, taskId: string): number | undefined {
    return this.taskRecords.get(taskKey(frameworkId, taskId))?.runner?.pid;
  }

  /** The sandbox directory of a task (its working directory). */
  sandboxOf(frameworkId: string, taskId: string): string | undefined {
    return this.sandboxes.get(taskKey(frameworkId, taskId));
  }

  // ---- launching -------------------------------------------------------------------------------

  private launchCommandTask(frameworkId: string, task: mesos.v1.ITaskInfo): void {
    const taskId = task.task_id.value;
    if (this.taskRecords.has(taskKey(frameworkId, taskId))) {
      this.logger.warn('Ignoring launch of a task that is already known', { frameworkId, taskId });
      return;
    }
    // The command executor's ID is the task ID.
    const executor = this.executorFor(frameworkId, taskId);
    const sandbox = executor.runDir;
    let failure: Error | undefined;
    if (task.executor) failure = new ContainerLaunchError('Custom executors are not supported by the local agent');
    else if (!task.command) failure = new ContainerLaunchError('Task has no command');
    else failure = containerFailure(task, this.options.imageTasks ?? 'fail', this.logger, this.agentId);
    if (!failure && this.options.imageTasks === 'host' && uncontainable(task) && !task.command?.value && (task.command?.arguments ?? []).length > 0) {
      // Run on the host, the image's entrypoint is unknown: the first argument is the executable.
      task = { ...task, command: { ...task.command, value: task.command!.arguments![0] } };
    }
    this.startTask(frameworkId, task, executor, {
      sandbox,
      containerId: { value: executor.containerId },
      hasExecutor: false,
      placement: { agentId: this.agentId, frameworkId, executorId: executor.executorId, containerId: executor.containerId, taskId },
      prepare: async (user) => {
        if (failure) throw failure;
        await executor.ready;
        await this.mapVolumes(task, sandbox, executor.containerId);
        const uris = task.command?.uris ?? [];
        if (uris.length > 0) await fetchUris(uris, sandbox, user);
      },
    });
  }

  private launchGroup(frameworkId: string, executorInfo: mesos.v1.IExecutorInfo, tasks: mesos.v1.ITaskInfo[]): void {
    const executor = this.executorFor(frameworkId, executorInfo.executor_id.value);
    const fresh = tasks.filter((task) => {
      const known = this.taskRecords.has(taskKey(frameworkId, task.task_id.value));
      if (known) this.logger.warn('Ignoring launch of a task that is already known', { frameworkId, taskId: task.task_id.value });
      return !known;
    });
    const group = new Set(fresh.map((task) => taskKey(frameworkId, task.task_id.value)));
    const groupIds = fresh.map((task) => task.task_id.value);
    for (const task of fresh) {
      const taskId = task.task_id.value;
      const childContainerId = randomUUID();
      const sandbox = path.join(executor.runDir, 'containers', childContainerId);
      this.startTask(frameworkId, task, executor, {
        sandbox,
        containerId: { value: childContainerId, parent: { value: executor.containerId } },
        hasExecutor: true,
        group,
        groupIds,
        placement: { agentId: this.agentId, frameworkId, executorId: executor.executorId, containerId: executor.containerId, childContainerId, taskId },
        prepare: async () => {
          if (!task.command) throw new ContainerLaunchError('Task has no command');
          await executor.ready;
          await createNestedSandbox(executor.runDir, childContainerId, taskId);
          await this.mapVolumes(task, sandbox, childContainerId, executor.runDir);
        },
      });
    }
  }

  private startTask(
    frameworkId: string,
    task: mesos.v1.ITaskInfo,
    executor: ExecutorRecord,
    launch: {
      sandbox: string;
      containerId: mesos.v1.IContainerID;
      hasExecutor: boolean;
      group?: Set<string>;
      groupIds?: string[];
      placement: TaskPlacement;
      prepare(user?: TaskUser): Promise<void>;
    },
  ): void {
    const taskId = task.task_id.value;
    const key = taskKey(frameworkId, taskId);
    let env: Record<string, string> = {};
    let envError: Error | undefined;
    let user: TaskUser | undefined;
    try {
      user = taskUser(task.command?.user);
    } catch (err) {
      envError = err as Error;
    }
    try {
      env = taskEnvironment(task, {
        agentId: this.agentId,
        frameworkId,
        executorId: executor.executorId,
        executorDir: executor.runDir,
        sandbox: launch.sandbox,
      });
    } catch (err) {
      envError = err as Error;
    }
    const framework = this.frameworks.get(frameworkId);
    let placement: TaskPlacement | undefined = launch.placement;
    let pidFile: string | undefined;
    try {
      pidFile = this.checkpoint.pidFile(placement);
    } catch {
      // IDs unusable as paths: the sandbox cannot be made either, so the launch fails in prepare().
      placement = undefined;
    }
    const record: TaskRecord = {
      key,
      frameworkId,
      info: task,
      executor,
      hasExecutor: launch.hasExecutor,
      group: launch.group,
      state: TaskState.TASK_STAGING,
      placement,
      checkpointed: placement !== undefined && framework?.checkpoint === true,
      containerId: launch.containerId.value,
    };
    // Checkpointed before anything runs, as the real agent does before launching.
    if (record.checkpointed) this.persist(record, (p) => this.checkpoint.recordTask(p, task, { sandbox: launch.sandbox, group: launch.groupIds }));
    record.runner = new TaskRunner({
      taskId,
      containerId: launch.containerId,
      command: task.command ?? {},
      sandbox: launch.sandbox,
      env,
      pidFile,
      prepare: async () => {
        if (envError) throw envError;
        await launch.prepare(user);
        if (user) await chownTree(launch.sandbox, user);
      },
      healthCheck: task.health_check,
      user: user ? { uid: user.uid, gid: user.gid } : undefined,
      killPolicy: task.kill_policy,
      defaultGracePeriodMs: this.killGracePeriodMs,
      sendKillingState: hasCapability(framework, Capability.TASK_KILLING_STATE),
      emit: (fields) => this.reportAfterIsolation(record, fields),
      logger: this.logger,
    });
    this.taskRecords.set(key, record);
    this.sandboxes.set(key, launch.sandbox);
    executor.tasks.add(key);
    this.logger.info('Launching task', { agentId: this.agentId, frameworkId, taskId, sandbox: launch.sandbox });
    record.runner.start();
  }

  /** The executor (and its container) a task runs under; reused while it still has tasks. */
  private executorFor(frameworkId: string, executorId: string): ExecutorRecord {
    const key = taskKey(frameworkId, executorId);
    const existing = this.executors.get(key);
    if (existing) return existing;
    const containerId = randomUUID();
    let runDir: string;
    let ready: Promise<void>;
    try {
      runDir = executorRunDir(this.workDir, { agentId: this.agentId, frameworkId, executorId, containerId });
      ready = createExecutorSandbox(runDir);
    } catch (err) {
      // An ID unusable as a directory name: every task of this executor fails to launch.
      runDir = path.join(this.workDir, 'invalid');
      ready = Promise.reject(err);
    }
    ready.catch(() => undefined);
    const record: ExecutorRecord = { frameworkId, executorId, containerId, runDir, ready, tasks: new Set() };
    this.executors.set(key, record);
    return record;
  }

  private async mapVolumes(task: mesos.v1.ITaskInfo, sandbox: string, containerId: string, parentSandbox?: string): Promise<void> {
    const csiTargets = await this.csi?.prepare(containerId, task.container?.volumes ?? []);
    const links = await resolveTaskVolumes(task, {
      sandbox,
      parentSandbox,
      dockerVolumeResolver: this.options.dockerVolumeResolver,
      ...(csiTargets ? { csiTargets } : {}),
      persistentVolumePath: (role, id) => this.persistentVolumePath(role, id),
    });
    if (links.length > 0) await linkVolumes(sandbox, links);
  }

  // ---- status updates --------------------------------------------------------------------------

  /**
   * A task's update; a terminal one waits until the volume/csi isolator has cleaned the container's
   * CSI volumes up (unpublished, unstaged), so the scheduler's ControllerUnpublishVolume, which
   * the terminal update sets off, comes after the node's unpublish, as CSI orders them.
   */
  private reportAfterIsolation(record: TaskRecord, fields: StatusFields): void {
    const containerId = record.containerId;
    const csi = this.csi;
    if (!csi || !isTerminalState(fields.state) || containerId === undefined || !(record.info.container?.volumes ?? []).some(isCsiVolume)) {
      this.report(record, fields);
      return;
    }
    void csi.cleanup(containerId).finally(() => this.report(record, fields));
  }

  private report(record: TaskRecord, fields: StatusFields): void {
    const status = buildTaskStatus(
      { taskId: record.info.task_id.value, agentId: this.agentId, executorId: record.executor.executorId },
      fields,
    );
    record.state = status.state;
    record.latest = status;
    // On disk before it is sent: a restarted agent resends what was never acknowledged.
    if (record.checkpointed) this.persist(record, (p) => this.checkpoint.recordUpdate(p, status));
    this.updates.update(record.frameworkId, status);
    if (!isTerminalState(status.state)) return;
    if (this.removedFrameworks.has(record.frameworkId)) {
      // Nobody will acknowledge it: the update was sent once, the task is done with.
      this.forget(record);
      return;
    }
    if (
      record.group &&
      (status.state === TaskState.TASK_FAILED || status.state === TaskState.TASK_KILLED) &&
      this.stateValue === 'running'
    ) {
      // The default executor kills the rest of a task group when one task fails or is killed.
      for (const key of record.group) {
        if (key === record.key) continue;
        this.taskRecords.get(key)?.runner?.kill({});
      }
    }
  }

  /**
   * Like a message to the master: delivered after the current call returns, so the master never
   * sees a status update re-entrantly from inside its own call into the agent (e.g. an ack).
   */
  private sendToMaster(frameworkId: string, status: mesos.v1.ITaskStatus): void {
    queueMicrotask(() => {
      if (this.stateValue !== 'running') return; // still pending: resent on heal/restart
      try {
        this.master.statusUpdate(this.agentId, frameworkId, status);
      } catch (err) {
        this.logger.error('Master failed to take a status update', {
          agentId: this.agentId,
          taskId: status.task_id.value,
          error: err instanceof Error ? err.message : String(err),
        });
      }
    });
  }

  private forgetIfTerminal(key: string): void {
    const record = this.taskRecords.get(key);
    if (record && isTerminalState(record.state)) this.forget(record);
  }

  private forget(record: TaskRecord): void {
    this.taskRecords.delete(record.key);
    this.sandboxes.delete(record.key);
    record.executor.tasks.delete(record.key);
    if (record.executor.tasks.size === 0) {
      this.executors.delete(taskKey(record.frameworkId, record.executor.executorId));
    }
    // The task's checkpoint goes with it (sandboxes stay, as the real agent keeps them until GC).
    this.persist(record, (p) => this.checkpoint.forgetTask(p));
  }

  // ---- checkpoint and recovery -----------------------------------------------------------------

  private recordFramework(framework: mesos.v1.IFrameworkInfo): void {
    try {
      this.checkpoint.recordFramework(this.agentId, framework);
    } catch (err) {
      this.logger.error('Failed to checkpoint a framework', { agentId: this.agentId, frameworkId: framework.id?.value, error: (err as Error).message });
    }
  }

  /** A checkpoint write for one task; a failure is logged (the task goes on, as on a non-strict agent). */
  private persist(record: TaskRecord, write: (placement: TaskPlacement) => void): void {
    if (!record.placement) return;
    try {
      write(record.placement);
    } catch (err) {
      this.logger.error('Failed to checkpoint a task', {
        agentId: this.agentId,
        frameworkId: record.frameworkId,
        taskId: record.info.task_id.value,
        error: (err as Error).message,
      });
    }
  }

  /** Takes back a checkpointed task (agent-recovery.ts); `killed`: recover() found its process running. */
  private adoptRecovered(task: RecoveredTask, killed: boolean): void {
    const { frameworkId, executorId } = task.placement;
    const executorKey = taskKey(frameworkId, executorId);
    const executor = this.executors.get(executorKey) ?? recoveredExecutor(this.workDir, task);
    this.executors.set(executorKey, executor);
    this.frameworks.set(frameworkId, task.framework);
    const record = recoveredRecord(task, executor);
    this.taskRecords.set(record.key, record);
    this.sandboxes.set(record.key, task.sandbox);
    executor.tasks.add(record.key);
    for (const status of task.pending) this.updates.update(frameworkId, status);
    const outcome = recoveryOutcome(task, killed);
    if (outcome === 'forget') this.forget(record);
    else if (outcome !== 'keep') this.report(record, outcome.end);
  }
}

function hasCapability(framework: mesos.v1.IFrameworkInfo | undefined, type: mesos.v1.FrameworkInfo.Capability.Type): boolean {
  return (framework?.capabilities ?? []).some((c) => c.type === type);
}
