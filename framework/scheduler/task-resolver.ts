/**
 * Tasks Mesos cannot account for, and what an operator may do about them. Polly never moves a
 * volume on a guess: a task that is TASK_UNKNOWN, TASK_UNREACHABLE or unanswered may still be
 * writing, so its claims stay held until Mesos says it is gone. When Mesos never will (its agent
 * is lost for good, the master lost its registry), the operator decides, and is audited:
 *
 * - `resolve(taskId, reason, by)` (`polly task resolve`): the task is recorded RESOLVED, its claims
 *   are force-released, Mesos is told to kill it (in case it turns up) and its instance relaunches;
 * - a claim of a live task released by someone else (`polly claim release [--force]`, a libStorage
 *   client preempting it): an unaccounted task is resolved by that release; a task Mesos reports as
 *   running is killed, so its instance relaunches once Mesos confirms the end;
 * - deleting an app (`polly app rm`) with unaccounted tasks is refused, naming them, unless forced
 *   with a reason: then they are resolved and reservations on agents that are not active dropped.
 *
 * It also reports tasks stranded past `scheduler.unknownTaskTimeoutSeconds` (stranded-tasks.ts).
 */
import { ConflictError } from '../errors/conflict-error';
import { NotFoundError } from '../errors/not-found-error';
import { ValidationError } from '../errors/validation-error';
import { mesos } from '../mesos/generated/mesos';
import type { Logger } from '../shared/logger';
import { checkReason, type ClaimRecord } from '../storage/claim-record';
import type { AgentRegistry } from './agent-registry';
import type { AppRecord, InstanceTracker, TaskRecord } from './instance-tracker';
import type { SchedulerEvents, TaskSummary } from './scheduler-events';
import { StrandedTasks, type StrandedView } from './stranded-tasks';

/** The state of a task an operator resolved (Polly's own, like LAUNCHING). */
export const RESOLVED = 'RESOLVED';
/** `by` of Polly's own force-releases (fencing): not a release behind the launcher's back. */
export const POLLY_ACTOR = 'polly';

const TaskState = mesos.v1.TaskState;
/** Mesos has no definite word on these: the holder may be alive. */
const UNACCOUNTED_STATES = new Set(['TASK_UNKNOWN', 'TASK_UNREACHABLE']);

/** What the resolver needs of the app launcher. */
export interface ResolverHost {
  readonly tracker: InstanceTracker;
  readonly agents: AgentRegistry;
  /** Between its task record and its ACCEPT in this process. */
  launching(taskId: string): boolean;
  /** Its end is being processed already. */
  finishing(taskId: string): boolean;
  /** Asks Mesos to kill the task (`final`: it is not to be relaunched from a launch under way). */
  kill(task: TaskRecord, final: boolean): Promise<void>;
  /** Ends the task as RESOLVED: its live claims force-released by `by`, instance relaunched if wanted; returns the claim IDs. */
  finishResolved(task: TaskRecord, message: string, by: string): Promise<string[]>;
}

export interface DeleteOptions {
  force?: boolean;
  reason?: unknown;
  /** Who asks (an API token's name). */
  by?: string;
}

export class TaskResolver {
  readonly stranded: StrandedTasks;

  constructor(
    private readonly host: ResolverHost,
    private readonly events: SchedulerEvents,
    private readonly logger: Logger,
    strandedAfterMs: number,
  ) {
    this.stranded = new StrandedTasks(strandedAfterMs);
  }

  /** A status for a live task: TASK_UNKNOWN keeps it unaccounted for, anything else is an answer. */
  observe(taskId: string, state: number): void {
    if (state === TaskState.TASK_UNKNOWN) this.stranded.unknown(taskId);
    else this.stranded.heard(taskId);
  }

  /** Mesos has no definite word on the task: it may be running, or long gone. */
  unaccounted(task: TaskRecord): boolean {
    return !task.terminal && (UNACCOUNTED_STATES.has(task.state) || this.stranded.stranded(task.id) !== undefined);
  }

  strandedView(taskId: string): StrandedView | undefined {
    return this.stranded.stranded(taskId);
  }

  /** Logs and publishes the tasks that became stranded. */
  report(): void {
    for (const s of this.stranded.newlyStranded()) {
      const task = this.host.tracker.task(s.taskId);
      if (!task || task.terminal) {
        this.stranded.heard(s.taskId);
        continue;
      }
      const resolveWith = `polly task resolve ${task.id} --reason "<why you know it is not running>"`;
      this.logger.warn('task stranded: Mesos cannot account for it; its volumes stay held until it does or an operator resolves it', {
        taskId: task.id,
        appId: task.appId,
        agentId: task.agentId,
        since: s.since,
        reason: s.reason,
        resolveWith,
      });
      this.events.publish('task.stranded', { task: summary(task), since: s.since, reason: s.reason, resolveWith });
    }
  }

  /** `polly task resolve`: the checks, then the resolution. */
  async resolve(taskId: string, request: { reason?: unknown; by: string }): Promise<TaskRecord> {
    const task = this.host.tracker.task(taskId);
    if (!task) throw new NotFoundError(`Task ${JSON.stringify(String(taskId).slice(0, 300))} not found`, { taskId });
    const reason = checkReason(request.reason, true)!;
    if (task.terminal) throw new ConflictError(`Task ${task.id} has ended already (${task.state})`, { taskId: task.id, state: task.state });
    if (this.host.launching(task.id) || this.host.finishing(task.id) || !this.unaccounted(task)) {
      throw new ConflictError(
        `Task ${task.id} is ${task.state} on ${task.hostname}: Mesos accounts for it, so there is nothing to resolve. ` +
          `Kill it instead (polly app kill / polly app restart ${task.appId}).`,
        { taskId: task.id, state: task.state },
      );
    }
    await this.resolveTask(task, reason, request.by);
    return this.host.tracker.task(task.id) ?? task;
  }

  /** Records the task RESOLVED (claims force-released, audited); Mesos is asked to kill it in case it turns up. */
  async resolveTask(task: TaskRecord, reason: string, by: string): Promise<void> {
    await this.host.kill(task, true);
    const claims = await this.host.finishResolved(task, `resolved by ${by}: ${reason}`, by);
    this.stranded.heard(task.id);
    this.logger.warn('task resolved by an operator', { taskId: task.id, appId: task.appId, agentId: task.agentId, by, reason, claims });
    const latest = this.host.tracker.task(task.id) ?? { ...task, state: RESOLVED };
    this.events.publish('task.audit', { task: summary(latest), action: 'resolve', reason, by, at: new Date().toISOString(), claims });
  }

  /** A claim of a live task was released by someone other than the launcher. */
  async claimReleased(claim: ClaimRecord, by: string | undefined): Promise<void> {
    if (!claim.taskId || by === POLLY_ACTOR) return;
    const task = this.host.tracker.task(claim.taskId);
    if (!task || task.terminal || this.host.finishing(task.id)) return;
    const what =
      `claim ${claim.id} of volume ${claim.volumeId} was ${claim.forced ? 'force-released' : 'released'}` +
      `${by ? ` by ${by}` : ''}${claim.reason ? `: ${claim.reason}` : ''}`;
    if (this.host.launching(task.id)) {
      // The launch sees the kill request and stops before its ACCEPT; the instance tries again.
      this.logger.warn('a launching task lost its claim; cancelling the launch', { taskId: task.id, claimId: claim.id });
      await this.host.kill(task, true);
    } else if (this.unaccounted(task)) {
      await this.resolveTask(task, what, by ?? 'unknown');
    } else {
      this.logger.warn('a running task lost its claim; killing it (its instance relaunches once Mesos confirms the end)', {
        taskId: task.id,
        claimId: claim.id,
        volumeId: claim.volumeId,
        agentId: task.agentId,
      });
      await this.host.kill(task, false);
    }
  }

  /**
   * Checks a delete before anything changes: unaccounted tasks refuse it unless forced, and a
   * forced delete needs a reason. Returns the tasks to resolve (forced) and the reason.
   */
  prepareDelete(app: AppRecord, options: DeleteOptions): { resolve: TaskRecord[]; reason?: string } {
    const unaccounted = this.host.tracker.liveTasksOf(app.spec.id).filter((t) => !this.host.finishing(t.id) && this.unaccounted(t));
    if (!options.force) {
      if (options.reason !== undefined) throw ValidationError.field('reason', 'reason goes with force (a forced delete is audited)');
      if (unaccounted.length > 0) {
        const list = unaccounted.map((t) => `${t.id} (${t.state} on ${t.hostname})`).join(', ');
        throw new ConflictError(
          `App ${app.spec.id} has tasks Mesos cannot account for: ${list}. Their volumes stay held while they may run. ` +
            `Once you know they are not running: polly task resolve <task> --reason "...", ` +
            `or polly app rm ${app.spec.id} --force --reason "..." (audited).`,
          { appId: app.spec.id, tasks: unaccounted.map((t) => t.id) },
        );
      }
      return { resolve: [] };
    }
    return { resolve: unaccounted, reason: checkReason(options.reason, true) };
  }

  /** Reservations of `app` whose agent is not active: Mesos keeps none for a gone agent, and a forced delete does not wait for the others. */
  inactiveReservations(app: AppRecord, goneOnly: boolean): Array<{ instance: string; agentId: string }> {
    return Object.entries(app.reservations)
      .filter(([, r]) => {
        const state = this.host.agents.get(r.agentId)?.state;
        return goneOnly ? state === 'gone' : state !== 'active';
      })
      .map(([instance, r]) => ({ instance, agentId: r.agentId }));
  }

  auditForceDelete(appId: string, reason: string, by: string, resolvedTasks: string[], droppedReservations: Array<{ instance: string; agentId: string }>): void {
    this.logger.warn('app deleted with --force', { appId, by, reason, resolvedTasks, droppedReservations });
    this.events.publish('app.audit', { appId, action: 'force-delete', reason, by, at: new Date().toISOString(), resolvedTasks, droppedReservations });
  }
}

function summary(task: TaskRecord): TaskSummary {
  return { id: task.id, appId: task.appId, instance: task.instance, state: task.state, agentId: task.agentId, hostname: task.hostname };
}
