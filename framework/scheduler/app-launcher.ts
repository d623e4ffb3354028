/**
 * Runs volume-bound apps on Mesos offers and keeps them running safely: the apps API (create,
 * scale, kill, restart, delete) over the parts that do the work — task-launcher.ts (offers →
 * claims → ACCEPT), task-lifecycle.ts (status updates, kills, task ends, fencing, backoff) and
 * task-reconciler.ts (reconciliation, adoption, periodic questions) — sharing one LauncherContext.
 *
 * Deleting, scaling down or killing never races a launch: every launch is an attempt registered
 * before its first await; those of instances no longer wanted are cancelled (stopped before their
 * ACCEPT, or killed right after it), and a deleted app is gone only once it has no live task, no
 * launch in flight, no reservation and no claim.
 *
 * Tasks Mesos cannot account for (TASK_UNKNOWN, unanswered) and operator interventions — resolving
 * a task, a claim released behind the launcher's back, a forced delete — are task-resolver.ts's.
 */
import { ConflictError } from '../errors/conflict-error';
import { NotFoundError } from '../errors/not-found-error';
import { ValidationError } from '../errors/validation-error';
import type { mesos } from '../mesos/generated/mesos';
import { Logger, silentLogger } from '../shared/logger';
import type { StorageService } from '../storage/storage-service';
import type { AgentRegistry } from './agent-registry';
import { AppRollout } from './app-rollout';
import { checkAppId, instancesProblem, MAX_INSTANCES, normaliseAppId, parseAppDefinition, type AppSpec } from './app-spec';
import { AppVolumes } from './app-volumes';
import { taskView, taskWaitReason, waitingView, type AppView, type TaskView } from './app-views';
import { wantedInstances, wantsInstance, type AppRecord, type InstanceTracker } from './instance-tracker';
import { scaledSlots } from './instance-slots';
import { LaunchAttempts } from './launch-attempts';
import { LaunchQueue } from './launch-queue';
import type { LauncherContext, LauncherStats, MesosDriver } from './launcher-context';
import type { OfferMatcher, OfferMatcherOptions } from './offer-matcher';
import { SchedulerEvents } from './scheduler-events';
import { TaskLauncher } from './task-launcher';
import { TaskLifecycle } from './task-lifecycle';
import { TaskReconciler } from './task-reconciler';
import type { DeleteOptions } from './task-resolver';

export type { MesosDriver } from './launcher-context';
export type { AppView, TaskView, TaskVolumeView } from './app-views';

export interface AppLauncherOptions {
  storage: StorageService;
  agents: AgentRegistry;
  tracker: InstanceTracker;
  /** The Mesos connection, once there is one. */
  driver: () => MesosDriver | undefined;
  /** The scheduler name volumes must be offered to; default `polly`. */
  scheduler?: string;
  logger?: Logger;
  /** Filter for offers declined while nothing is pending; default 30 s. */
  declineRefuseSeconds?: number;
  /** Filter for offers declined while instances wait; default 1 s. */
  pendingRefuseSeconds?: number;
  /** How long an unreachable task is left alone before Polly asks Mesos about it again; default 60 s. */
  unreachableTimeoutSeconds?: number;
  /** How long a task may be unaccounted for by Mesos before it is reported stranded; default 300 s. */
  unknownTaskTimeoutSeconds?: number;
  matcher?: OfferMatcherOptions;
  /** Docker volume driver name → storage service, for Marathon dvdi volumes (`scheduler.volumeDrivers`). */
  volumeDrivers?: Record<string, string>;
  /** The roles Polly subscribes with (`mesos.roles`); default `polly`. */
  roles?: string[];
}

export interface KillOptions {
  /** Also scale the app to 0 (Marathon's `?scale=true`); otherwise the killed tasks are relaunched. */
  scale?: boolean;
}

export class AppLauncher {
  private readonly tracker: InstanceTracker;
  private readonly logger: Logger;
  private readonly unreachableTimeoutMs: number;
  private readonly unknownTaskTimeoutMs: number;
  private readonly ctx: LauncherContext;
  private readonly lifecycle: TaskLifecycle;
  private readonly launcher: TaskLauncher;
  private readonly reconciler: TaskReconciler;
  private readonly rollout: AppRollout;
  /** Rollout passes per app, one at a time. */
  private readonly rolloutChains = new Map<string, Promise<void>>();
  private readonly queue: LaunchQueue;
  private readonly volumes: AppVolumes;
  private readonly roles: string[];
  private timer: NodeJS.Timeout | undefined;
  private backoffTimer: NodeJS.Timeout | undefined;
  private backoffDue: number | undefined;
  private stopped = false;
  /** Stranded tasks and audited operator interventions (`task.stranded`, `task.audit`, `app.audit`). */
  readonly events = new SchedulerEvents();
  /** Counters (bench, metrics). */
  readonly stats: LauncherStats = { offersReceived: 0, offersDeclined: 0, offersAccepted: 0, tasksLaunched: 0 };

  constructor(options: AppLauncherOptions) {
    this.tracker = options.tracker;
    this.logger = options.logger ?? silentLogger;
    this.unreachableTimeoutMs = (options.unreachableTimeoutSeconds ?? 60) * 1000;
    this.unknownTaskTimeoutMs = (options.unknownTaskTimeoutSeconds ?? 300) * 1000;
    this.volumes = new AppVolumes(options.storage.registry, options.volumeDrivers ?? { rexray: 'local', polly: 'local' });
    this.roles = options.roles ?? ['polly'];
    const attempts = new LaunchAttempts();
    this.queue = new LaunchQueue(this.tracker, this.volumes, (appId, instance) => attempts.launching(appId, instance));
    this.ctx = {
      storage: options.storage,
      agents: options.agents,
      tracker: this.tracker,
      volumes: this.volumes,
      attempts,
      queue: this.queue,
      stats: this.stats,
      scheduler: options.scheduler ?? 'polly',
      logger: this.logger,
      driver: options.driver,
      isStopped: () => this.stopped,
      wantOffers: (force) => this.wantOffers(force),
    };
    this.lifecycle = new TaskLifecycle(this.ctx, this.events, this.unknownTaskTimeoutMs);
    this.launcher = new TaskLauncher(this.ctx, this.lifecycle, {
      declineRefuseSeconds: options.declineRefuseSeconds,
      pendingRefuseSeconds: options.pendingRefuseSeconds,
      matcher: options.matcher,
    });
    this.reconciler = new TaskReconciler(this.ctx, this.lifecycle, this.unreachableTimeoutMs);
    this.rollout = new AppRollout(this.ctx, this.lifecycle);
    this.lifecycle.onChange = (appId) => this.rolloutStep(appId);
    const onError = (err: Error): void => this.logger.error('handling a released claim failed', { error: err.message });
    const storage = options.storage;
    storage.events.on('claim.released', ({ claim }) => {
      if (this.stopped) return;
      // A freed volume may unblock a waiting instance: ask for offers again.
      if (this.queue.size > 0) void this.wantOffers();
      // Forced releases are handled from their audit record, which says who.
      if (!claim.forced) this.lifecycle.resolver.claimReleased(claim, undefined).catch(onError);
    });
    storage.events.on('claim.audit', (audit) => {
      if (!this.stopped) this.lifecycle.resolver.claimReleased(audit.claim, audit.by).catch(onError);
    });
  }

  get matcher(): OfferMatcher {
    return this.launcher.matcher;
  }

  /** Loads apps and tasks and works out what is pending. */
  async start(): Promise<void> {
    await this.tracker.load();
    for (const app of this.tracker.appList()) this.queue.refresh(app.spec.id);
    // Often enough to ask again within the unreachable timeout and report a stranded task within its own.
    const period = Math.max(50, Math.min(this.unreachableTimeoutMs, this.unknownTaskTimeoutMs, 30_000));
    this.timer = setInterval(() => void this.tick(), period);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.backoffTimer) clearTimeout(this.backoffTimer);
  }

  get pendingCount(): number {
    return this.queue.size;
  }

  // ---- Mesos events -----------------------------------------------------------------------

  async onSubscribed(): Promise<void> {
    await this.reconciler.onSubscribed(() => this.hasWork());
  }

  async onOffers(offers: readonly mesos.v1.IOffer[]): Promise<void> {
    await this.launcher.onOffers(offers, () => this.hasWork());
    this.scheduleBackoffWakeup();
  }

  onFailure(failure: { agentId?: string; executorId?: string }): void {
    this.lifecycle.onFailure(failure);
  }

  async onUpdate(status: mesos.v1.ITaskStatus): Promise<void> {
    await this.lifecycle.onUpdate(status, (s) => this.reconciler.adopt(s));
    this.scheduleBackoffWakeup();
  }

  // ---- apps ----------------------------------------------------------------------------------

  async createApp(body: unknown): Promise<AppView> {
    const { spec, warnings } = parseAppDefinition(body, this.volumes.context(this.roles));
    const now = new Date().toISOString();
    const app: AppRecord = { spec, state: 'active', reservations: {}, warnings, version: now, createdAt: now, updatedAt: now };
    const existing = this.tracker.app(spec.id);
    if (existing) {
      const deleting = existing.state === 'deleting' ? ` (being deleted: polly app get ${spec.id} shows what it waits for)` : '';
      throw new ConflictError(`App ${spec.id} already exists${deleting}`, { appId: spec.id });
    }
    if (!(await this.tracker.createApp(app))) throw new ConflictError(`App ${spec.id} already exists`, { appId: spec.id });
    this.logger.info('app created', { appId: spec.id, instances: spec.instances });
    if (warnings.length > 0) this.logger.warn('app accepted with fields Polly does not honour', { appId: spec.id, warnings });
    this.queue.refresh(spec.id);
    await this.wantOffers();
    return this.appView(spec.id);
  }

  async scaleApp(id: string, instances: unknown): Promise<AppView> {
    if (typeof instances !== 'number' || !Number.isInteger(instances) || instances < 0 || instances > MAX_INSTANCES) {
      throw ValidationError.field('instances', `instances must be an integer from 0 to ${MAX_INSTANCES}`);
    }
    const app = this.activeApp(id);
    const problem = instancesProblem(app.spec, instances);
    if (problem) throw ValidationError.field(problem.field, problem.message);
    await this.saveScaled(app, app.spec, instances);
    return this.appView(app.spec.id);
  }

  /** Saves the app with `spec` and `instances` (which instances stay: killSelection), stopping those no longer wanted. */
  private async saveScaled(app: AppRecord, spec: AppSpec, instances: number, extra: Partial<AppRecord> = {}): Promise<AppRecord> {
    const scaled: AppRecord = { ...app, ...extra, spec: { ...spec, instances }, updatedAt: new Date().toISOString() };
    const slots = scaledSlots({ ...app, spec: { ...app.spec, killSelection: spec.killSelection } }, this.tracker, instances);
    if (slots) scaled.slots = slots;
    else delete scaled.slots;
    await this.tracker.saveApp(scaled);
    await this.stopUnwanted(scaled, `scaled to ${instances}`);
    this.queue.refresh(app.spec.id);
    await this.wantOffers();
    return scaled;
  }

  /**
   * `PUT /v1/apps/{id}`: replaces the definition (a whole Marathon app, as POST takes it) and rolls the
   * instances onto it (app-rollout.ts); creates the app when there is none. A definition that differs
   * only in `instances` scales. Returns the app and whether it was created.
   */
  async updateApp(id: string, body: unknown): Promise<{ app: AppView; created: boolean }> {
    const appId = checkAppId(id);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw ValidationError.field('(body)', 'The app definition must be a JSON object');
    const given = (body as { id?: unknown }).id;
    if (given !== undefined && given !== null && (typeof given !== 'string' || normaliseAppId(given) !== appId)) {
      throw ValidationError.field('id', `id ${JSON.stringify(String(given).slice(0, 100))} is not the app's ID /${appId} (the path names the app)`);
    }
    const definition = { ...(body as Record<string, unknown>), id: `/${appId}` };
    const existing = this.tracker.app(appId);
    if (!existing) return { app: await this.createApp(definition), created: true };
    const app = this.activeApp(appId);
    const { spec, warnings } = parseAppDefinition(definition, this.volumes.context(this.roles));
    if (sameDefinition(app.spec, spec)) {
      if (spec.instances !== app.spec.instances) await this.scaleApp(appId, spec.instances);
      return { app: this.appView(appId), created: false };
    }
    const version = new Date().toISOString();
    this.logger.info('app definition replaced: rolling its instances onto it', { appId, version, instances: spec.instances });
    if (warnings.length > 0) this.logger.warn('app accepted with fields Polly does not honour', { appId, warnings });
    // Launches from the old definition stop before their ACCEPT; their instances launch from the new one.
    this.ctx.attempts.cancel(appId, 'the app definition was replaced');
    this.queue.backoff.resetApp(appId);
    await this.saveScaled(app, spec, spec.instances, { warnings, version });
    await this.rolloutStep(appId);
    return { app: this.appView(appId), created: false };
  }

  /** Kills the app's tasks: they are relaunched (after their backoff), unless `scale` sets instances to 0. */
  async killApp(id: string, options: KillOptions = {}): Promise<AppView> {
    if (options.scale) return this.scaleApp(id, 0);
    const app = this.activeApp(id);
    for (const task of this.tracker.allLiveTasksOf(app.spec.id)) await this.lifecycle.killTask(task, task.retiring === true);
    return this.appView(app.spec.id);
  }

  /** Replaces every task, as an update to the same definition does: a rollout per upgradeStrategy. */
  async restartApp(id: string): Promise<AppView> {
    const app = this.activeApp(id);
    const version = new Date().toISOString();
    this.queue.backoff.resetApp(app.spec.id);
    await this.tracker.saveApp({ ...app, version, updatedAt: version });
    this.logger.info('app restart: rolling its instances', { appId: app.spec.id, version });
    await this.rolloutStep(app.spec.id);
    return this.appView(app.spec.id);
  }

  /**
   * Kills the tasks, releases the claims, undoes reservations, then forgets the app. Tasks Mesos
   * cannot account for refuse the delete (409, nothing changes) unless `force` with a reason: then
   * they are resolved and reservations on agents that are not active dropped, audited.
   */
  async deleteApp(id: string, options: DeleteOptions = {}): Promise<void> {
    const app = this.requireApp(id);
    const resolver = this.lifecycle.resolver;
    const plan = resolver.prepareDelete(app, options);
    const by = options.by ?? 'anonymous';
    const deleting: AppRecord = { ...app, state: 'deleting', spec: { ...app.spec, instances: 0 }, updatedAt: new Date().toISOString() };
    delete deleting.slots;
    await this.tracker.saveApp(deleting);
    const resolving = new Set(plan.resolve.map((t) => t.id));
    await this.stopUnwanted(deleting, 'app deleted', resolving);
    if (plan.reason !== undefined) {
      for (const task of plan.resolve) await resolver.resolveTask(task, `app ${app.spec.id} deleted with --force: ${plan.reason}`, by);
      const current = this.tracker.app(app.spec.id);
      const dropped = current ? await this.lifecycle.dropReservations(current, resolver.inactiveReservations(current, false)) : [];
      resolver.auditForceDelete(app.spec.id, plan.reason, by, [...resolving], dropped);
    }
    this.queue.refresh(app.spec.id);
    await this.lifecycle.maybeForget(app.spec.id);
    if (this.tracker.app(app.spec.id)) await this.wantOffers();
  }

  /** Cancels the launches and kills the tasks of instances the app no longer wants. */
  private async stopUnwanted(app: AppRecord, reason: string, except: ReadonlySet<string> = new Set()): Promise<void> {
    const appId = app.spec.id;
    this.ctx.attempts.cancel(appId, reason, (a) => !wantsInstance(app, a.instance));
    for (const task of this.tracker.allLiveTasksOf(appId)) {
      if (except.has(task.id) || wantsInstance(app, task.instance)) continue;
      this.queue.backoff.reset(`${appId}#${task.instance}`);
      await this.lifecycle.killTask(task);
    }
  }

  /** `polly task resolve`: an operator says a task Mesos cannot account for is not running (audited). */
  async resolveTask(taskId: string, request: { reason?: unknown; by?: string }): Promise<TaskView> {
    const task = await this.lifecycle.resolver.resolve(taskId, { reason: request.reason, by: request.by ?? 'anonymous' });
    return this.taskView(task);
  }

  apps(): AppView[] {
    return this.tracker.appList().map((a) => this.appView(a.spec.id));
  }

  appView(id: string): AppView {
    const app = this.requireApp(id);
    const waiting: AppView['waiting'] = [];
    const resolver = this.lifecycle.resolver;
    for (const i of wantedInstances(app)) {
      const task = this.tracker.currentTask(app.spec.id, i);
      const taskWait = task ? taskWaitReason(task, resolver.strandedView(task.id)) : undefined;
      const reason = taskWait ?? (task ? undefined : this.queue.reasonFor(app.spec.id, i));
      if (reason !== undefined) waiting.push(waitingView(i, reason));
    }
    return {
      ...app.spec,
      state: app.state,
      warnings: app.warnings ?? [],
      tasks: this.tracker
        .tasksOf(app.spec.id)
        .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
        .map((t) => this.taskView(t)),
      waiting,
      reservations: app.reservations,
      createdAt: app.createdAt,
      updatedAt: app.updatedAt,
    };
  }

  tasks(appId?: string): TaskView[] {
    const list = appId === undefined ? this.tracker.allTasks() : (this.requireApp(appId), this.tracker.tasksOf(checkAppId(appId)));
    return list.sort((a, b) => b.createdAt.localeCompare(a.createdAt)).map((t) => this.taskView(t));
  }

  private taskView(task: Parameters<typeof taskView>[0]): TaskView {
    return taskView(task, task.terminal ? undefined : this.lifecycle.resolver.strandedView(task.id));
  }

  // ---- internals ---------------------------------------------------------------------------

  private requireApp(id: string): AppRecord {
    const app = this.tracker.app(checkAppId(id));
    if (!app) throw new NotFoundError(`App ${JSON.stringify(String(id).slice(0, 200))} not found`, { appId: id });
    return app;
  }

  private activeApp(id: string): AppRecord {
    const app = this.requireApp(id);
    if (app.state === 'deleting') throw new ConflictError(`App ${app.spec.id} is being deleted`, { appId: app.spec.id });
    return app;
  }

  private hasWork(): boolean {
    if (this.queue.size > 0) return true;
    return this.tracker.appList().some((a) => Object.keys(a.reservations).some((i) => !wantsInstance(a, Number(i))));
  }

  private async wantOffers(force = false): Promise<void> {
    await this.launcher.wantOffers(force);
  }

  /** Wakes up when the earliest backoff ends, to put its instance back in the queue. */
  private scheduleBackoffWakeup(): void {
    if (this.stopped) return;
    const due = this.queue.nextDue();
    if (due === undefined || due === this.backoffDue) return;
    if (this.backoffTimer) clearTimeout(this.backoffTimer);
    this.backoffDue = due;
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = undefined;
      this.backoffDue = undefined;
      if (this.stopped) return;
      if (this.queue.promoteDue().length > 0) void this.wantOffers(true);
      this.scheduleBackoffWakeup();
    }, Math.max(0, due - Date.now()) + 5);
    this.backoffTimer.unref();
  }

  /** One rollout pass for the app, after any pass under way. */
  private rolloutStep(appId: string): Promise<void> {
    const previous = this.rolloutChains.get(appId) ?? Promise.resolve();
    const next = previous
      .then(() => (this.stopped ? undefined : this.rollout.step(appId)))
      .catch((err: Error) => this.logger.error('rolling update step failed', { appId, error: err.message }));
    this.rolloutChains.set(appId, next);
    void next.finally(() => {
      if (this.rolloutChains.get(appId) === next) this.rolloutChains.delete(appId);
    });
    return next;
  }

  private async tick(): Promise<void> {
    if (this.queue.promoteDue().length > 0) await this.wantOffers(true);
    this.scheduleBackoffWakeup();
    await this.lifecycle.applyUnreachableStrategy();
    for (const app of this.tracker.appList()) if (this.rollout.inProgress(app.spec.id)) await this.rolloutStep(app.spec.id);
    await this.reconciler.tick();
  }
}

/** Whether two specs differ only in `instances` (or not at all). */
function sameDefinition(a: AppSpec, b: AppSpec): boolean {
  return JSON.stringify({ ...a, instances: 0 }) === JSON.stringify({ ...b, instances: 0 });
}
