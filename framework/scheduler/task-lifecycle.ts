/**
 * What happens to a task after its launch: status updates drive its record; a terminal task's claims
 * are released (detached) and its instance relaunched while wanted, after its relaunch backoff when
 * the task failed. TASK_LOST / TASK_GONE / TASK_GONE_BY_OPERATOR fence: the claims are force-released
 * with a reason, then the instance moves. When Mesos says the agent is gone, every claim on it is
 * fenced at once on the first such word (the ends of its tasks, reported one by one, join that
 * fence), and its instances move without a relaunch backoff: the agent's loss is no failure of the
 * app's. TASK_UNREACHABLE moves nothing: the holder may still be writing. A task that must
 * not run (a kill was asked for, its app is being deleted, its instance scaled away, it was replaced)
 * is killed whenever Mesos reports it alive, so a kill that crossed a launch never leaves it running.
 * A deleted app is forgotten only once it has no live task, no launch in flight and no reservation.
 */
import { mesos } from '../mesos/generated/mesos';
import { isTerminalTaskState } from '../mesos/task-state';
import type { AppRecord, TaskRecord } from './instance-tracker';
import { wantsInstance } from './instance-tracker';
import type { LauncherContext } from './launcher-context';
import type { SchedulerEvents } from './scheduler-events';
import { POLLY_ACTOR, RESOLVED, TaskResolver } from './task-resolver';

const TaskState = mesos.v1.TaskState;
const Reason = mesos.v1.TaskStatus.Reason;
/** The holder is gone for sure (or the agent is): fence its claims. */
const FENCING = new Set<number>([TaskState.TASK_LOST, TaskState.TASK_GONE, TaskState.TASK_GONE_BY_OPERATOR]);
/** Ends that count against an instance's relaunch backoff (Marathon's "limit-worthy" conditions). */
const FAILURES = new Set<number>([TaskState.TASK_FAILED, TaskState.TASK_ERROR, TaskState.TASK_FINISHED, TaskState.TASK_DROPPED, TaskState.TASK_GONE]);
/**
 * Reconciling a task ID Mesos cannot know (no app ID has a `:`) on an agent tells whether the agent
 * is gone (TASK_GONE_BY_OPERATOR) or only unreachable: how Polly learns about agents it runs nothing on.
 */
const AGENT_PROBE_PREFIX = 'polly:agent-probe:';
/** States in which a task may be running (or about to). */
const ALIVE = new Set<number>([TaskState.TASK_STAGING, TaskState.TASK_STARTING, TaskState.TASK_RUNNING]);

function hasField(message: object, field: string): boolean {
  return Object.prototype.hasOwnProperty.call(message, field);
}

/** The state of an unreachable task Polly gave up on (unreachableStrategy.expungeAfterSeconds); killed if it turns up. */
export const EXPUNGED = 'EXPUNGED';

export interface FinishOptions {
  /** Who ended it (an operator's resolve); Polly's own otherwise. */
  by?: string;
  /** Mesos' last word on its health (a task killed by its health check is unhealthy). */
  healthy?: boolean;
}

export class TaskLifecycle {
  readonly resolver: TaskResolver;
  /** Tasks whose end is being processed (claims releasing). */
  private readonly finishing = new Set<string>();
  /** Gone agents whose claims are being fenced now. */
  private readonly fencingAgents = new Map<string, Promise<void>>();
  /** When each unreachable/unknown task was last asked about. */
  readonly unreachableSince = new Map<string, number>();
  /** When each unreachable task was first reported so (for unreachableStrategy). */
  private readonly unreachableAt = new Map<string, number>();
  /** Called when a task changed in a way a rollout cares about (state, health, end). */
  onChange: (appId: string) => void = () => undefined;

  constructor(
    private readonly ctx: LauncherContext,
    events: SchedulerEvents,
    unknownTaskTimeoutMs: number,
  ) {
    this.resolver = new TaskResolver(
      {
        tracker: ctx.tracker,
        agents: ctx.agents,
        launching: (taskId) => ctx.attempts.has(taskId),
        finishing: (taskId) => this.finishing.has(taskId),
        kill: (task, final) => this.killTask(task, final),
        finishResolved: (task, message, by) => this.finishTask(task, RESOLVED, message, { by }),
      },
      events,
      ctx.logger,
      unknownTaskTimeoutMs,
    );
  }

  isFinishing(taskId: string): boolean {
    return this.finishing.has(taskId);
  }

  async onUpdate(status: mesos.v1.ITaskStatus, adopt: (status: mesos.v1.ITaskStatus) => Promise<void>): Promise<void> {
    const { ctx } = this;
    ctx.agents.observeStatus(status);
    // The first word that the agent is gone fences all its claims at once; the ends of its tasks,
    // reported one by one after this, join that fence instead of releasing claim by claim.
    if (status.agent_id?.value) this.fenceIfGone(status.agent_id.value);
    const taskId = status.task_id.value;
    if (taskId.startsWith(AGENT_PROBE_PREFIX)) return; // an agent probe's answer: the registry has taken it in
    const task = ctx.tracker.task(taskId);
    if (!task) return adopt(status);
    if (task.terminal) return this.stopIfRunning(task, status);
    if (this.finishing.has(taskId)) return;
    const state = status.state;
    this.resolver.observe(taskId, state);
    const name = TaskState[state] ?? String(state);
    const fromReconciliation = hasField(status, 'reason') && status.reason === Reason.REASON_RECONCILIATION;
    if (ctx.attempts.has(taskId) && fromReconciliation) return;
    const healthy = hasField(status, 'healthy') ? Boolean(status.healthy) : undefined;
    if (state === TaskState.TASK_UNREACHABLE || state === TaskState.TASK_UNKNOWN) {
      if (!this.unreachableSince.has(taskId)) this.unreachableSince.set(taskId, Date.now());
      if (state === TaskState.TASK_UNREACHABLE && !this.unreachableAt.has(taskId)) this.unreachableAt.set(taskId, Date.now());
      if (task.state !== name) await this.patch(task.id, { state: name, message: status.message || undefined });
      ctx.logger.warn('task unreachable: its volumes stay held until Mesos confirms it is gone', { taskId, agentId: task.agentId, state: name });
      return;
    }
    this.unreachableSince.delete(taskId);
    this.unreachableAt.delete(taskId);
    if (!isTerminalTaskState(state)) {
      const message = status.message || undefined;
      const changed = task.state !== name || (message !== undefined && task.message !== message) || (healthy !== undefined && task.healthy !== healthy);
      if (state === TaskState.TASK_RUNNING && task.state !== name) ctx.queue.backoff.started(`${task.appId}#${task.instance}`);
      if (changed) {
        const patch: Partial<TaskRecord> = { state: name, message: message ?? task.message };
        if (healthy !== undefined) patch.healthy = healthy;
        if (state === TaskState.TASK_RUNNING && task.startedAt === undefined) patch.startedAt = new Date().toISOString();
        await this.patch(task.id, patch);
        this.onChange(task.appId);
      }
      if (ALIVE.has(state) && this.mustNotRun(ctx.tracker.task(taskId) ?? task)) {
        ctx.logger.info('a task that must not run is alive; killing it', { taskId, appId: task.appId, agentId: task.agentId, state: name });
        await this.sendKill(task);
      }
      return;
    }
    await this.finishTask(task, state, status.message || undefined, { healthy });
    this.fenceIfGone(task.agentId);
  }

  onFailure(failure: { agentId?: string; executorId?: string }): void {
    const { ctx } = this;
    if (!failure.agentId || failure.executorId) return;
    ctx.agents.markLost(failure.agentId, 'FAILURE event: agent lost');
    if (ctx.agents.get(failure.agentId)?.state === 'gone') {
      // Known gone already (its tasks' updates said so): nothing to ask Mesos.
      this.fenceIfGone(failure.agentId);
      return;
    }
    // FAILURE is also sent for agents that are only unreachable: ask Mesos what happened to our tasks.
    const tasks = ctx.tracker.liveTasksOn(failure.agentId).filter((t) => !ctx.attempts.has(t.id));
    const queries =
      tasks.length > 0
        ? tasks.map((t) => ({ taskId: t.id, agentId: t.agentId }))
        : [{ taskId: `${AGENT_PROBE_PREFIX}${failure.agentId}`, agentId: failure.agentId }];
    ctx
      .driver()
      ?.reconcile(queries)
      .catch((err: Error) => ctx.logger.warn('reconcile failed', { error: err.message }));
    this.fenceIfGone(failure.agentId);
  }

  /** Whether the task must be killed when it is alive: asked to, or its app does not want its instance. */
  mustNotRun(task: TaskRecord): boolean {
    if (task.killRequested) return true;
    const app = this.ctx.tracker.app(task.appId);
    return !app || !wantsInstance(app, task.instance);
  }

  private async patch(taskId: string, patch: Partial<TaskRecord>): Promise<void> {
    await this.ctx.tracker.updateTask(taskId, (latest) => (latest && !latest.terminal ? { ...latest, ...patch, updatedAt: new Date().toISOString() } : undefined));
  }

  /**
   * Asks Mesos to kill the task; `final` records that it must not run (the launch in flight stops
   * before its ACCEPT, or kills it right after). Without `final` (a restart) its instance relaunches.
   */
  async killTask(task: TaskRecord, final = true, patch: Partial<TaskRecord> = {}): Promise<void> {
    const { ctx } = this;
    if (final || Object.keys(patch).length > 0) await this.patch(task.id, final ? { ...patch, killRequested: true } : patch);
    const attempt = ctx.attempts.get(task.id);
    if (attempt) {
      // Not launched yet, or the ACCEPT is on its way: the launch stops, or kills it once accepted.
      attempt.cancelled ??= 'a kill was asked for';
      return;
    }
    await this.sendKill(ctx.tracker.task(task.id) ?? task);
  }

  /** The instance gets a new task while this one keeps running (a start-first replacement, an unreachable task given up). */
  async retire(task: TaskRecord): Promise<void> {
    await this.patch(task.id, { retiring: true });
  }

  async sendKill(task: TaskRecord): Promise<void> {
    try {
      await this.ctx.driver()?.kill(task.id, task.agentId);
    } catch (err) {
      this.ctx.logger.warn('kill failed', { taskId: task.id, agentId: task.agentId, error: (err as Error).message });
    }
  }

  /**
   * The task is over: release (or fence) its claims, record it, relaunch its instance if wanted
   * (after its backoff when it failed). RESOLVED (an operator's word) force-releases like fencing,
   * audited as `by`. Returns the claim IDs.
   */
  async finishTask(task: TaskRecord, state: number | typeof RESOLVED | typeof EXPUNGED, message: string | undefined, options: FinishOptions = {}): Promise<string[]> {
    const { ctx } = this;
    if (this.finishing.has(task.id)) return [];
    this.finishing.add(task.id);
    this.unreachableSince.delete(task.id);
    this.unreachableAt.delete(task.id);
    this.resolver.stranded.heard(task.id);
    const by = options.by ?? POLLY_ACTOR;
    const name = typeof state === 'string' ? state : (TaskState[state] ?? String(state));
    const fence = state === RESOLVED || (typeof state === 'number' && FENCING.has(state));
    const reason = `task ${task.id} ${name}${message ? `: ${message}` : ''}`;
    const claims = ctx.storage.ledger.list({ taskId: task.id, live: true });
    let ended: TaskRecord | undefined;
    try {
      for (const claim of claims) {
        try {
          if (fence) await ctx.storage.ledger.forceRelease(claim.id, state === RESOLVED ? reason : `fenced: ${reason}`, by);
          else await ctx.storage.ledger.release(claim.id, { reason });
        } catch (err) {
          ctx.logger.error('claim release failed; will retry', { taskId: task.id, claimId: claim.id, volumeId: claim.volumeId, error: (err as Error).message });
        }
      }
      ended = await ctx.tracker.updateTask(task.id, (latest) => {
        const base = latest ?? task;
        const out: TaskRecord = { ...base, state: name, message, terminal: true, updatedAt: new Date().toISOString() };
        if (options.healthy !== undefined) out.healthy = options.healthy;
        return out;
      });
      ctx.logger.info('task ended', { taskId: task.id, appId: task.appId, instance: task.instance, agentId: task.agentId, state: name, fenced: fence });
    } finally {
      this.finishing.delete(task.id);
    }
    this.countFailure(ended ?? task, state, options.healthy, message);
    ctx.queue.refreshInstance(task.appId, task.instance);
    await this.maybeForget(task.appId);
    if (ctx.queue.size > 0) await ctx.wantOffers();
    this.onChange(task.appId);
    return claims.map((c) => c.id);
  }

  /**
   * unreachableStrategy, for instances that hold no volume (a volume never moves while its holder may
   * still write): after inactiveAfterSeconds the instance gets a new task (the unreachable one is
   * retired, and killed if it comes back); after expungeAfterSeconds Polly forgets it (EXPUNGED).
   */
  async applyUnreachableStrategy(now = Date.now()): Promise<void> {
    const { ctx } = this;
    for (const [taskId, since] of [...this.unreachableAt]) {
      const task = ctx.tracker.task(taskId);
      const app = task ? ctx.tracker.app(task.appId) : undefined;
      if (!task || task.terminal || !app) {
        this.unreachableAt.delete(taskId);
        continue;
      }
      const strategy = app.spec.unreachableStrategy;
      if (strategy === undefined || strategy === 'disabled' || app.spec.residency !== undefined) continue;
      if (task.volumes.length > 0 || ctx.storage.ledger.list({ taskId, live: true }).length > 0) continue;
      const elapsed = now - since;
      if (!task.retiring && elapsed >= strategy.inactiveAfterSeconds * 1000) {
        ctx.logger.warn('unreachable task given up (unreachableStrategy): its instance gets a new task; it is killed if it comes back', {
          taskId,
          appId: task.appId,
          instance: task.instance,
          agentId: task.agentId,
        });
        await this.retire(task);
        ctx.queue.refresh(task.appId);
        await ctx.wantOffers();
      }
      const latest = ctx.tracker.task(taskId);
      if (latest?.retiring && elapsed >= strategy.expungeAfterSeconds * 1000) {
        await this.finishTask(latest, EXPUNGED, `unreachable for ${Math.round(elapsed / 1000)} s (unreachableStrategy.expungeAfterSeconds)`);
      }
    }
  }

  /** A failing instance backs off before its next launch; the log says so, with the delay. */
  private countFailure(task: TaskRecord, state: number | string, healthy: boolean | undefined, message: string | undefined): void {
    if (typeof state !== 'number' || task.killRequested || task.retiring) return;
    // Its agent is gone (Mesos removed it): the instance moves at once; that is no failure of the app's to back off from.
    if (FENCING.has(state) && this.ctx.agents.get(task.agentId)?.state === 'gone') return;
    const killedUnhealthy = state === TaskState.TASK_KILLED && healthy === false;
    if (!FAILURES.has(state) && !killedUnhealthy) return;
    const app = this.ctx.tracker.app(task.appId);
    if (!app || !wantsInstance(app, task.instance)) return;
    const cause = `${killedUnhealthy ? 'killed unhealthy' : TaskState[state]}${message ? `: ${message}` : ''}`;
    const delay = this.ctx.queue.backoff.failed(`${task.appId}#${task.instance}`, app.spec, cause.slice(0, 200));
    this.ctx.logger.warn('task failed: its instance backs off before relaunching', {
      taskId: task.id,
      appId: task.appId,
      instance: task.instance,
      agentId: task.agentId,
      state: TaskState[state],
      failures: delay.failures,
      delaySeconds: Math.round(delay.delayMs) / 1000,
    });
  }

  /** An update for a task Polly has ended (resolved, or fenced): if it is running after all, it must not. */
  private async stopIfRunning(task: TaskRecord, status: mesos.v1.ITaskStatus): Promise<void> {
    if (isTerminalTaskState(status.state) || status.state === TaskState.TASK_UNKNOWN || status.state === TaskState.TASK_UNREACHABLE) return;
    const agentId = status.agent_id?.value ?? task.agentId;
    this.ctx.logger.warn('a task Polly has ended is reported alive; killing it', { taskId: task.id, agentId, state: TaskState[status.state], ended: task.state });
    await this.ctx
      .driver()
      ?.kill(task.id, agentId)
      .catch(() => undefined);
  }

  /** Forgets reservations (their agent is gone, or a forced delete); returns them. */
  async dropReservations(app: AppRecord, drop: Array<{ instance: string; agentId: string }>): Promise<Array<{ instance: string; agentId: string }>> {
    if (drop.length === 0) return [];
    const reservations = { ...app.reservations };
    for (const d of drop) delete reservations[d.instance];
    await this.ctx.tracker.saveApp({ ...app, reservations, updatedAt: new Date().toISOString() });
    this.ctx.logger.warn('reservations forgotten: their agents are not active', { appId: app.spec.id, reservations: drop });
    return drop;
  }

  /**
   * When Mesos says an agent is gone, every claim on it is fenced (any scheduler's), all at once
   * (ClaimLedger.releaseForAgent batches them). One fence per agent at a time; claims it could not
   * release are tried again by the next call (the reconciler's tick makes one).
   */
  fenceIfGone(agentId: string): void {
    const { ctx } = this;
    if (this.fencingAgents.has(agentId)) return;
    const agent = ctx.agents.get(agentId);
    if (agent?.state !== 'gone') return;
    if (ctx.storage.ledger.list({ agentId, live: true }).length === 0) return;
    const reason = `fenced: agent ${agent.hostname} (${agentId}) is gone: ${agent.reason ?? 'removed by Mesos'}`;
    const fence = ctx.storage.ledger
      .releaseForAgent(agentId, reason, POLLY_ACTOR)
      .then(
        (claims) => ctx.logger.info('claims of a gone agent fenced', { agentId, claims: claims.length }),
        (err: Error) => ctx.logger.error('fencing the claims of a gone agent failed; will retry', { agentId, error: err.message }),
      )
      .finally(() => this.fencingAgents.delete(agentId));
    this.fencingAgents.set(agentId, fence);
  }

  /** Gone agents that still have live claims (a fence that failed, or claims made since): fenced again. */
  fenceGoneAgents(): void {
    for (const agent of this.ctx.agents.list({ state: 'gone' })) this.fenceIfGone(agent.agentId);
  }

  /** A deleted app goes once nothing of it may run: no live task, no launch in flight, no reservation. */
  async maybeForget(appId: string): Promise<void> {
    const { ctx } = this;
    let app = ctx.tracker.app(appId);
    if (!app || app.state !== 'deleting') return;
    if (ctx.tracker.allLiveTasksOf(appId).length > 0 || ctx.attempts.ofApp(appId).length > 0) return;
    // Mesos keeps no reservation on a gone agent: no offer will ever come to undo it.
    const onGoneAgents = this.resolver.inactiveReservations(app, true);
    if (onGoneAgents.length > 0) {
      await this.dropReservations(app, onGoneAgents);
      app = ctx.tracker.app(appId)!;
    }
    if (Object.keys(app.reservations).length > 0) return;
    // Claims are released before a task is recorded terminal; a failed release is retried by the
    // reconciler, and the app waits for it (its volumes must be free before it is gone).
    const held = ctx.tracker.tasksOf(appId).some((t) => ctx.storage.ledger.list({ taskId: t.id, live: true }).length > 0);
    if (held) return;
    await ctx.tracker.removeApp(appId);
    ctx.queue.backoff.resetApp(appId);
    ctx.logger.info('app deleted', { appId });
  }
}
