/**
 * The life of one task on the simulated agent: prepare its container (sandbox, volumes), start the
 * process, and turn what happens into task states the way the command executor does
 * (src/launcher/executor.cpp): TASK_STARTING, TASK_RUNNING once forked, then FINISHED on exit 0,
 * KILLED if a kill was requested, FAILED otherwise. A kill sends TASK_KILLING first when the
 * framework has TASK_KILLING_STATE, SIGTERM to the process group, and SIGKILL after the grace period.
 * A repeated kill may shorten the remaining grace period but never lengthen it.
 */
import { mesos } from '../../generated/mesos';
import { silentLogger, type Logger } from '../../../shared/logger';
import { HealthChecker } from './health-checker';
import type { StatusFields } from './task-status';
import { describeExit, TaskProcess, type TaskProcessExit } from './task-process';

const TaskState = mesos.v1.TaskState;
const Source = mesos.v1.TaskStatus.Source;
const Reason = mesos.v1.TaskStatus.Reason;

/** The command executor's default kill grace period (3 s, kept for backwards compatibility). */
export const DEFAULT_KILL_GRACE_PERIOD_MS = 3000;

export type TaskRunnerPhase = 'created' | 'preparing' | 'starting' | 'running' | 'terminated';

export interface TaskRunnerOptions {
  taskId: string;
  /** The task's container (nested under the executor's for task groups), for TaskStatus.container_status. */
  containerId: mesos.v1.IContainerID;
  command: mesos.v1.ICommandInfo;
  /** The task's sandbox; the process's working directory. */
  sandbox: string;
  env: Record<string, string>;
  /** Where the task's process is recorded while it runs (see leftover-processes.ts). */
  pidFile?: string;
  /** Creates the sandbox and maps volumes; a rejection fails the launch. */
  prepare(): Promise<void>;
  killPolicy?: mesos.v1.IKillPolicy | null;
  defaultGracePeriodMs: number;
  /** The framework has TASK_KILLING_STATE. */
  sendKillingState: boolean;
  /** The task's health check, run by this (command) executor once the task runs. */
  healthCheck?: mesos.v1.IHealthCheck | null;
  /** Run as this user (resolved by the agent). */
  user?: { uid: number; gid: number };
  emit(fields: StatusFields): void;
  logger?: Logger;
}

export interface KillRequest {
  /** Overrides the task's kill policy (KILL call's kill_policy). */
  killPolicy?: mesos.v1.IKillPolicy | null;
  gracePeriodMs?: number;
  /** Reason put on the resulting TASK_KILLED (e.g. REASON_FRAMEWORK_REMOVED). */
  reason?: mesos.v1.TaskStatus.Reason;
}

export class TaskRunner {
  private phaseValue: TaskRunnerPhase = 'created';
  private process?: TaskProcess;
  private killRequested = false;
  private killReason?: mesos.v1.TaskStatus.Reason;
  private pendingKill?: KillRequest;
  private escalation?: NodeJS.Timeout;
  private escalationDeadline = 0;
  private killStartedAt = 0;
  private silenced = false;
  private spawning?: Promise<TaskProcess>;
  private lostInCrash = false;
  private health?: HealthChecker;
  private killedByHealthCheck = false;
  private runningStatus?: StatusFields;
  private readonly logger: Logger;

  constructor(private readonly options: TaskRunnerOptions) {
    this.logger = options.logger ?? silentLogger;
  }

  get phase(): TaskRunnerPhase {
    return this.phaseValue;
  }

  get pid(): number | undefined {
    return this.process?.pid;
  }

  /** A kill was asked for (by KILL, framework shutdown or agent shutdown). */
  get killed(): boolean {
    return this.killRequested;
  }

  /** The task had not terminated when the agent crashed; the process is gone and nothing was reported. */
  get lost(): boolean {
    return this.lostInCrash;
  }

  start(): void {
    if (this.phaseValue !== 'created') return;
    this.phaseValue = 'preparing';
    void this.run();
  }

  kill(request: KillRequest = {}): void {
    if (this.silenced) return;
    switch (this.phaseValue) {
      case 'created':
      case 'preparing':
        // Killed before the executor got it: the agent answers, as Slave::killTask does.
        this.killRequested = true;
        this.phaseValue = 'terminated';
        this.options.emit({
          state: TaskState.TASK_KILLED,
          source: Source.SOURCE_AGENT,
          reason: request.reason ?? Reason.REASON_TASK_KILLED_DURING_LAUNCH,
          message: 'Killed before delivery to the executor',
        });
        return;
      case 'starting':
        this.killRequested = true;
        this.pendingKill = request;
        return;
      case 'running':
        this.signalKill(request);
        return;
      case 'terminated':
        return;
    }
  }

  /** The agent died: SIGKILL the process group and report nothing (the restarted agent will). */
  crash(): void {
    this.silenced = true;
    this.health?.stop();
    this.clearEscalation();
    if (this.phaseValue !== 'terminated') this.lostInCrash = true;
    this.phaseValue = 'terminated';
    if (this.process && !this.process.hasExited) this.process.signalGroup('SIGKILL');
  }

  /** Resolves once no process of this task is left running. */
  async whenStopped(): Promise<void> {
    if (this.spawning) await this.spawning.catch(() => undefined);
    if (this.process) await this.process.exited;
  }

  private async run(): Promise<void> {
    try {
      await this.options.prepare();
    } catch (err) {
      if (this.phaseValue !== 'preparing') return;
      this.phaseValue = 'terminated';
      this.logger.warn('Container launch failed', { taskId: this.options.taskId, error: (err as Error).message });
      this.options.emit({
        state: TaskState.TASK_FAILED,
        source: Source.SOURCE_AGENT,
        reason: Reason.REASON_CONTAINER_LAUNCH_FAILED,
        message: `Failed to launch container: ${(err as Error).message}`,
      });
      return;
    }
    if (this.phaseValue !== 'preparing') return; // killed or crashed meanwhile
    this.phaseValue = 'starting';
    this.options.emit({ state: TaskState.TASK_STARTING, source: Source.SOURCE_EXECUTOR });

    let proc: TaskProcess;
    try {
      this.spawning = TaskProcess.spawn(this.options.command, {
        cwd: this.options.sandbox,
        env: this.options.env,
        pidFile: this.options.pidFile ? { file: this.options.pidFile, taskId: this.options.taskId } : undefined,
        uid: this.options.user?.uid,
        gid: this.options.user?.gid,
      });
      proc = await this.spawning;
    } catch (err) {
      if (this.silenced) return;
      this.phaseValue = 'terminated';
      this.options.emit({
        state: this.killRequested ? TaskState.TASK_KILLED : TaskState.TASK_FAILED,
        source: Source.SOURCE_EXECUTOR,
        message: `Failed to launch command: ${(err as Error).message}`,
      });
      return;
    }
    this.process = proc;
    if (this.silenced) {
      proc.signalGroup('SIGKILL');
      return;
    }
    this.phaseValue = 'running';
    this.logger.debug('Task process started', { taskId: this.options.taskId, pid: proc.pid });
    this.runningStatus = {
      state: TaskState.TASK_RUNNING,
      source: Source.SOURCE_EXECUTOR,
      containerStatus: { container_id: this.options.containerId, executor_pid: proc.pid },
    };
    this.options.emit(this.runningStatus);
    this.startHealthCheck();
    const pendingKill = this.pendingKill;
    this.pendingKill = undefined;
    if (pendingKill) this.signalKill(pendingKill);

    const exit = await proc.exited;
    this.onExit(exit);
  }

  /** The executor's health checker: updates on health changes, a kill after too many failures. */
  private startHealthCheck(): void {
    const check = this.options.healthCheck;
    if (!check) return;
    this.health = new HealthChecker({
      check,
      cwd: this.options.sandbox,
      env: this.options.env,
      uid: this.options.user?.uid,
      gid: this.options.user?.gid,
      onHealth: (healthy, killTask) => {
        // Nothing after a kill or the end (the executor's rule).
        if (this.killRequested || this.phaseValue !== 'running' || this.silenced) return;
        this.options.emit({ ...this.runningStatus!, reason: Reason.REASON_TASK_HEALTH_CHECK_STATUS_UPDATED, healthy });
        if (killTask) {
          this.logger.info('Task failed its health check too often; killing it', { taskId: this.options.taskId });
          this.killedByHealthCheck = true;
          this.signalKill({});
        }
      },
    });
    this.health.start();
  }

  private signalKill(request: KillRequest): void {
    this.health?.stop();
    const proc = this.process;
    if (!proc) return;
    const graceMs = this.gracePeriodMs(request);
    if (this.killRequested && this.escalation) {
      // Only shorten an escalation already under way (the executor's rule for repeated kills).
      const deadline = this.killStartedAt + graceMs;
      if (deadline >= this.escalationDeadline) return;
      this.scheduleEscalation(Math.max(0, deadline - Date.now()), deadline);
      return;
    }
    if (this.killRequested && this.phaseValue === 'running' && this.killStartedAt > 0) return;
    this.killRequested = true;
    this.killReason = request.reason;
    if (this.options.sendKillingState) {
      this.options.emit({ state: TaskState.TASK_KILLING, source: Source.SOURCE_EXECUTOR });
    }
    this.killStartedAt = Date.now();
    proc.signalGroup('SIGTERM');
    this.scheduleEscalation(graceMs, this.killStartedAt + graceMs);
  }

  private scheduleEscalation(delayMs: number, deadline: number): void {
    this.clearEscalation();
    this.escalationDeadline = deadline;
    this.escalation = setTimeout(() => {
      this.escalation = undefined;
      if (this.process && !this.process.hasExited) {
        this.logger.info('Task did not terminate within its grace period; sending SIGKILL', {
          taskId: this.options.taskId,
        });
        this.process.signalGroup('SIGKILL');
      }
    }, delayMs);
  }

  private clearEscalation(): void {
    if (this.escalation) clearTimeout(this.escalation);
    this.escalation = undefined;
  }

  private gracePeriodMs(request: KillRequest): number {
    if (request.gracePeriodMs !== undefined) return request.gracePeriodMs;
    const override = request.killPolicy?.grace_period?.nanoseconds;
    if (override !== undefined && override !== null) return Math.max(0, Number(override) / 1e6);
    const own = this.options.killPolicy?.grace_period?.nanoseconds;
    if (own !== undefined && own !== null) return Math.max(0, Number(own) / 1e6);
    return this.options.defaultGracePeriodMs;
  }

  private onExit(exit: TaskProcessExit): void {
    this.health?.stop();
    this.clearEscalation();
    // Like destroying the container: nothing the task started outlives it.
    this.process?.signalGroup('SIGKILL');
    if (this.silenced) return;
    this.phaseValue = 'terminated';
    const state = exit.code === 0 ? TaskState.TASK_FINISHED : this.killRequested ? TaskState.TASK_KILLED : TaskState.TASK_FAILED;
    const fields: StatusFields = { state, source: Source.SOURCE_EXECUTOR, message: describeExit(exit) };
    if (state === TaskState.TASK_KILLED && this.killReason !== undefined) fields.reason = this.killReason;
    // A kill caused by a failing health check says so (executor.cpp: healthy false on the end).
    if (state === TaskState.TASK_KILLED && this.killedByHealthCheck) fields.healthy = false;
    this.options.emit(fields);
  }
}
