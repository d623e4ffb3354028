/**
 * A simulated Mesos agent for the local cluster. It runs command tasks (and task groups under a
 * default executor) as real local processes in sandboxes laid out like a real agent's, owns the
 * task states and a status update manager with the real retry/ack rules, checkpoints its resources
 * and persistent volumes, and can be crashed, restarted, partitioned and healed by tests.
 *
 * Deliberate differences from a real agent (there is no containerizer here):
 * - volumes are symlinks in the sandbox, absolute container paths are re-rooted under the sandbox
 *   and read-only mode is not enforced (see sandbox.ts);
 * - no fetcher (`CommandInfo.uris` are ignored), no user switching, no custom executors
 *   (a task with its own ExecutorInfo fails with REASON_CONTAINER_LAUNCH_FAILED);
 * - tasks get a minimal environment: PATH and HOME from the agent, the MESOS_* variables the agent
 *   gives executors (MESOS_FRAMEWORK_ID, MESOS_EXECUTOR_ID, MESOS_DIRECTORY, MESOS_SANDBOX,
 *   MESOS_SLAVE_ID) plus MESOS_AGENT_ID and MESOS_TASK_ID for convenience, then the command's
 *   own variables;
 * - "checkpointing" of task state across crash() / restart() is the object's memory.
 */
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { mesos } from '../../generated/mesos';
import { delay } from '../../backoff';
import { silentLogger, type Logger } from '../../logger';
import type { AgentState, AgentTaskView, MasterLink, SimulatedAgentApi } from '../agent-link';
import type { AgentSpec } from '../agent-spec';
import { CheckpointedResources } from './checkpointed-resources';
import { ContainerLaunchError } from './errors';
import { createExecutorSandbox, createNestedSandbox, executorRunDir, linkVolumes } from './sandbox';
import { StatusUpdateManager, type RetryInterval } from './status-update-manager';
import { DEFAULT_KILL_GRACE_PERIOD_MS, TaskRunner } from './task-runner';
import { buildTaskStatus, isTerminalState, type StatusFields } from './task-status';
import { resolveTaskVolumes, type DockerVolumeResolver } from './task-volumes';

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
  logger?: Logger;
}

interface ExecutorRecord {
  frameworkId: string;
  executorId: string;
  containerId: string;
  runDir: string;
  /** The executor's sandbox exists (shared by the tasks of a task group). */
  ready: Promise<void>;
  tasks: Set<string>;
}

interface TaskRecord {
  key: string;
  frameworkId: string;
  info: mesos.v1.ITaskInfo;
  executor: ExecutorRecord;
  /** Only task-group tasks have an executor_id in their Task view; command tasks do not. */
  hasExecutor: boolean;
  /** Tasks launched in one LAUNCH_GROUP: a failed or killed member brings the others down. */
  group?: Set<string>;
  runner: TaskRunner;
  state: mesos.v1.TaskState;
  latest?: mesos.v1.ITaskStatus;
}

export class SimulatedAgent implements SimulatedAgentApi {
  readonly agentId: string;
  private stateValue: AgentState = 'stopped';
  private crashed = false;
  private readonly workDir: string;
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

  /** First registration with the master. */
  start(): void {
    if (this.crashed) return this.restart();
    if (this.stateValue !== 'stopped') return;
    this.stateValue = 'running';
    this.master.agentRegistered(this, false);
    this.updates.resume();
  }

  /** The agent process dies: every task's process group gets SIGKILL and nothing is reported. */
  crash(): void {
    if (this.stateValue === 'stopped') return;
    this.logger.info('Agent crashed', { agentId: this.agentId });
    this.stateValue = 'stopped';
    this.crashed = true;
    this.updates.pause();
    for (const record of this.taskRecords.values()) record.runner.crash();
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
      if (!record.runner.lost || isTerminalState(record.state)) continue;
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

  /** Graceful shutdown: kill all tasks, wait for them, unregister from the master. */
  async shutdown(): Promise<void> {
    if (this.stateValue === 'stopped') return;
    const wasRunning = this.stateValue === 'running';
    const records = [...this.taskRecords.values()];
    for (const record of records) record.runner.kill({ gracePeriodMs: this.killGracePeriodMs });
    await Promise.all(records.map((r) => r.runner.whenStopped()));
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
  }

  /** Kills everything at once and stops all timers; nothing is reported (cluster teardown). */
  async destroy(): Promise<void> {
    this.stateValue = 'stopped';
    this.crashed = false;
    this.updates.clear();
    const records = [...this.taskRecords.values()];
    for (const record of records) record.runner.crash();
    await Promise.all(records.map((r) => r.runner.whenStopped()));
    this.taskRecords.clear();
    this.executors.clear();
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
    record.runner.kill({ killPolicy });
  }

  acknowledge(frameworkId: string, taskId: string, uuid: Uint8Array): void {
    if (this.stateValue !== 'running') return; // would not reach an unreachable or stopped agent
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
      record.runner.kill({ gracePeriodMs: this.killGracePeriodMs, reason: Reason.REASON_FRAMEWORK_REMOVED });
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
      task: this.taskView(record),
    }));
  }

  /** The OS process ID of a task, while it has one (tests use it to check processes). */
  taskPid(frameworkId: string, taskId: string): number | undefined {
    return this.taskRecords.get(taskKey(frameworkId, taskId))?.runner.pid;
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
    this.startTask(frameworkId, task, executor, {
      sandbox,
      containerId: { value: executor.containerId },
      hasExecutor: false,
      prepare: async () => {
        if (failure) throw failure;
        await executor.ready;
        await this.mapVolumes(task, sandbox);
      },
    });
  }

  private launchGroup(frameworkId: string, executorInfo: mesos.v1.IExecutorInfo, tasks: mesos.v1.ITaskInfo[]): void {
    const executor = this.executorFor(frameworkId, executorInfo.executor_id.value);
    const group = new Set<string>();
    for (const task of tasks) {
      const taskId = task.task_id.value;
      if (this.taskRecords.has(taskKey(frameworkId, taskId))) {
        this.logger.warn('Ignoring launch of a task that is already known', { frameworkId, taskId });
        continue;
      }
      const childContainerId = randomUUID();
      const sandbox = path.join(executor.runDir, 'containers', childContainerId);
      group.add(taskKey(frameworkId, taskId));
      this.startTask(frameworkId, task, executor, {
        sandbox,
        containerId: { value: childContainerId, parent: { value: executor.containerId } },
        hasExecutor: true,
        group,
        prepare: async () => {
          if (!task.command) throw new ContainerLaunchError('Task has no command');
          await executor.ready;
          await createNestedSandbox(executor.runDir, childContainerId, taskId);
          await this.mapVolumes(task, sandbox, executor.runDir);
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
      prepare(): Promise<void>;
    },
  ): void {
    const taskId = task.task_id.value;
    const key = taskKey(frameworkId, taskId);
    let env: Record<string, string> = {};
    let envError: Error | undefined;
    try {
      env = this.taskEnvironment(frameworkId, task, executor, launch.sandbox);
    } catch (err) {
      envError = err as Error;
    }
    const framework = this.frameworks.get(frameworkId);
    const record: TaskRecord = {
      key,
      frameworkId,
      info: task,
      executor,
      hasExecutor: launch.hasExecutor,
      group: launch.group,
      state: TaskState.TASK_STAGING,
      runner: new TaskRunner({
        taskId,
        containerId: launch.containerId,
        command: task.command ?? {},
        sandbox: launch.sandbox,
        env,
        prepare: async () => {
          if (envError) throw envError;
          await launch.prepare();
        },
        killPolicy: task.kill_policy,
        defaultGracePeriodMs: this.killGracePeriodMs,
        sendKillingState: hasCapability(framework, Capability.TASK_KILLING_STATE),
        emit: (fields) => this.report(record, fields),
        logger: this.logger,
      }),
    };
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

  private async mapVolumes(task: mesos.v1.ITaskInfo, sandbox: string, parentSandbox?: string): Promise<void> {
    const links = await resolveTaskVolumes(task, {
      sandbox,
      parentSandbox,
      dockerVolumeResolver: this.options.dockerVolumeResolver,
      persistentVolumePath: (role, id) => this.persistentVolumePath(role, id),
    });
    if (links.length > 0) await linkVolumes(sandbox, links);
  }

  private taskEnvironment(
    frameworkId: string,
    task: mesos.v1.ITaskInfo,
    executor: ExecutorRecord,
    sandbox: string,
  ): Record<string, string> {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      HOME: process.env.HOME ?? sandbox,
      MESOS_FRAMEWORK_ID: frameworkId,
      MESOS_EXECUTOR_ID: executor.executorId,
      MESOS_DIRECTORY: executor.runDir,
      MESOS_SANDBOX: sandbox,
      MESOS_SLAVE_ID: this.agentId,
      MESOS_AGENT_ID: this.agentId,
      MESOS_TASK_ID: task.task_id.value,
    };
    for (const variable of task.command?.environment?.variables ?? []) {
      const type = variable.type ?? mesos.v1.Environment.Variable.Type.VALUE;
      if (type === mesos.v1.Environment.Variable.Type.SECRET) {
        const data = variable.secret?.value?.data;
        if (!data) {
          throw new ContainerLaunchError(`Environment variable '${variable.name}': only value secrets are supported`);
        }
        env[variable.name] = Buffer.from(data).toString('utf8');
      } else {
        env[variable.name] = variable.value ?? '';
      }
    }
    return env;
  }

  // ---- status updates --------------------------------------------------------------------------

  private report(record: TaskRecord, fields: StatusFields): void {
    const status = buildTaskStatus(
      { taskId: record.info.task_id.value, agentId: this.agentId, executorId: record.executor.executorId },
      fields,
    );
    record.state = status.state;
    record.latest = status;
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
        this.taskRecords.get(key)?.runner.kill({});
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
  }

  private taskView(record: TaskRecord): mesos.v1.ITask {
    const info = record.info;
    const task: mesos.v1.ITask = {
      name: info.name,
      task_id: { value: info.task_id.value },
      framework_id: { value: record.frameworkId },
      agent_id: { value: this.agentId },
      state: record.state,
      resources: info.resources ?? [],
      statuses: record.latest ? [record.latest] : [],
    };
    if (record.hasExecutor) task.executor_id = { value: record.executor.executorId };
    const head = this.updates.pending(record.frameworkId, info.task_id.value)[0] ?? record.latest;
    if (head) {
      task.status_update_state = head.state;
      if (head.uuid) task.status_update_uuid = head.uuid;
    }
    if (info.labels) task.labels = info.labels;
    if (info.discovery) task.discovery = info.discovery;
    if (info.container) task.container = info.container;
    if (info.health_check) task.health_check = info.health_check;
    if (info.kill_policy) task.kill_policy = info.kill_policy;
    if (info.limits && Object.keys(info.limits).length > 0) task.limits = info.limits;
    return task;
  }
}

function taskKey(frameworkId: string, id: string): string {
  return `${frameworkId}\u0000${id}`;
}

function hasCapability(framework: mesos.v1.IFrameworkInfo | undefined, type: mesos.v1.FrameworkInfo.Capability.Type): boolean {
  return (framework?.capabilities ?? []).some((c) => c.type === type);
}
