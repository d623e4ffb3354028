/**
 * Runs volume-bound apps on Mesos offers and keeps them running safely.
 *
 * Launch: the matcher picks an offer; the task record is persisted (LAUNCHING, task ID chosen) before
 * anything else; missing volumes are created in the agent's zone, each volume is claimed for the task
 * on that agent (scheduler `polly`), which attaches it; then one ACCEPT per offer carries RESERVE (for
 * residency) and LAUNCH. A failure before the ACCEPT releases what was claimed.
 *
 * Lifecycle: status updates drive the task records. A terminal task's claims are released (detached)
 * and its instance relaunched while wanted. TASK_LOST / TASK_GONE / TASK_GONE_BY_OPERATOR fence: the
 * claims are force-released with a reason (and, when Mesos says the agent is gone, every claim on that
 * agent), then the instance moves. TASK_UNREACHABLE moves nothing: the holder may still be writing;
 * Polly reconciles every `unreachableTimeoutSeconds` and moves only once Mesos answers that the task or
 * agent is gone. After every subscription: explicit reconciliation of every known task (LAUNCHING
 * ones included: that resolves a launch interrupted by a restart), then implicit; tasks Polly does not
 * know are adopted when they are Polly's (by ID and claims) and never launched twice; a task Polly has
 * ended that turns up running is killed.
 *
 * Tasks Mesos cannot account for (TASK_UNKNOWN, unanswered) and operator interventions — resolving
 * a task, a claim released behind the launcher's back, a forced delete — are task-resolver.ts's.
 */
import { randomUUID } from 'node:crypto';
import { ConflictError } from '../errors/conflict-error';
import { NotFoundError } from '../errors/not-found-error';
import { ValidationError } from '../errors/validation-error';
import { mesos } from '../mesos/generated/mesos';
import { Logger, silentLogger } from '../mesos/logger';
import { isLive } from '../storage/claim-record';
import type { StorageService } from '../storage/storage-service';
import type { VolumeRecord } from '../storage/volume-record';
import type { AgentRecord, AgentRegistry } from './agent-registry';
import { AppSpec, checkAppId, MAX_INSTANCES, parseAppSpec } from './app-spec';
import type { AppRecord, InstanceTracker, TaskRecord, TaskVolumeRecord } from './instance-tracker';
import { SchedulerEvents } from './scheduler-events';
import { AppVolumes } from './app-volumes';
import { taskView, taskWaitReason, type AppView, type TaskView } from './app-views';
import { POLLY_ACTOR, RESOLVED, TaskResolver, type DeleteOptions } from './task-resolver';
import { Launch, OfferMatcher, OfferMatcherOptions, PendingInstance, reservationOwner, WantedVolume } from './offer-matcher';
import { isTerminalTaskState } from '../mesos/task-state';
import { buildTaskInfo, makeTaskId, parseTaskId, VolumeMount } from './task-builder';

/** The Mesos calls the launcher makes (SchedulerClient has them all). */
export interface MesosDriver {
  readonly frameworkId: string | undefined;
  accept(offerIds: string[], operations: mesos.v1.Offer.IOperation[], filters?: mesos.v1.IFilters): Promise<void>;
  decline(offerIds: string[], filters?: mesos.v1.IFilters): Promise<void>;
  revive(roles?: string[]): Promise<void>;
  suppress(roles?: string[]): Promise<void>;
  kill(taskId: string, agentId?: string): Promise<void>;
  reconcile(tasks: { taskId: string; agentId?: string }[]): Promise<void>;
}

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
}

const TaskState = mesos.v1.TaskState;
const Reason = mesos.v1.TaskStatus.Reason;
const OpType = mesos.v1.Offer.Operation.Type;
/** The holder is gone for sure (or the agent is): fence its claims. */
const FENCING = new Set<number>([TaskState.TASK_LOST, TaskState.TASK_GONE, TaskState.TASK_GONE_BY_OPERATOR]);
/**
 * Reconciling a task ID Mesos cannot know (no app ID has a `:`) on an agent tells whether the agent
 * is gone (TASK_GONE_BY_OPERATOR) or only unreachable: how Polly learns about agents it runs nothing on.
 */
const AGENT_PROBE_PREFIX = 'polly:agent-probe:';

export type { AppView, TaskView, TaskVolumeView } from './app-views';

export class AppLauncher {
  private readonly storage: StorageService;
  private readonly agents: AgentRegistry;
  private readonly tracker: InstanceTracker;
  private readonly driver: () => MesosDriver | undefined;
  private readonly scheduler: string;
  private readonly logger: Logger;
  private readonly declineRefuseSeconds: number;
  private readonly pendingRefuseSeconds: number;
  private readonly unreachableTimeoutMs: number;
  private readonly unknownTaskTimeoutMs: number;
  readonly matcher: OfferMatcher;
  /** `<app>#<i>` → the instance waiting for an offer. */
  private readonly pending = new Map<string, PendingInstance>();
  private pendingList: PendingInstance[] = [];
  private pendingDirty = false;
  private readonly waiting = new Map<string, string>();
  /** Tasks between their record and their ACCEPT in this process. */
  private readonly inFlight = new Set<string>();
  /** Tasks whose end is being processed (claims releasing). */
  private readonly finishing = new Set<string>();
  /** When each unreachable/unknown task was last asked about. */
  private readonly unreachableSince = new Map<string, number>();
  private suppressed = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Stranded tasks and audited operator interventions (`task.stranded`, `task.audit`, `app.audit`). */
  readonly events = new SchedulerEvents();
  private readonly resolver: TaskResolver;
  private readonly volumes: AppVolumes;
  /** Counters (bench, metrics). */
  readonly stats = { offersReceived: 0, offersDeclined: 0, offersAccepted: 0, tasksLaunched: 0 };

  constructor(options: AppLauncherOptions) {
    this.storage = options.storage;
    this.agents = options.agents;
    this.tracker = options.tracker;
    this.driver = options.driver;
    this.scheduler = options.scheduler ?? 'polly';
    this.logger = options.logger ?? silentLogger;
    this.declineRefuseSeconds = options.declineRefuseSeconds ?? 30;
    this.pendingRefuseSeconds = options.pendingRefuseSeconds ?? 1;
    this.unreachableTimeoutMs = (options.unreachableTimeoutSeconds ?? 60) * 1000;
    this.unknownTaskTimeoutMs = (options.unknownTaskTimeoutSeconds ?? 300) * 1000;
    const ledger = this.storage.ledger;
    const registry = this.storage.registry;
    this.volumes = new AppVolumes(registry);
    this.matcher = new OfferMatcher(
      {
        scheduler: this.scheduler,
        agent: (id) => this.agents.get(id),
        findVolume: (service, name) => this.storage.catalog.findByName(service, name),
        liveClaims: (volumeId) => ledger.liveClaims(volumeId),
        claimsOnAgent: (agentId, service) => ledger.liveCountOnAgent(agentId, service),
        attachLimit: (service, agent) => {
          if (!registry.has(service)) return undefined;
          return registry.get(service).driver.attachLimit({ id: this.agents.instanceId(agent, service) });
        },
        placements: (appId) =>
          this.tracker.liveTasksOf(appId).flatMap((t) => {
            const agent = this.agents.get(t.agentId);
            return agent ? [{ ...agent }] : [];
          }),
      },
      options.matcher,
    );
    this.resolver = new TaskResolver(
      {
        tracker: this.tracker,
        agents: this.agents,
        launching: (taskId) => this.inFlight.has(taskId),
        finishing: (taskId) => this.finishing.has(taskId),
        kill: (task, final) => this.killTask(task, final),
        finishResolved: (task, message, by) => this.finishTask(task, RESOLVED, message, by),
      },
      this.events,
      this.logger,
      this.unknownTaskTimeoutMs,
    );
    const onError = (err: Error): void => this.logger.error('handling a released claim failed', { error: err.message });
    this.storage.events.on('claim.released', ({ claim }) => {
      if (this.stopped) return;
      // A freed volume may unblock a waiting instance: ask for offers again.
      if (this.pending.size > 0) void this.wantOffers();
      // Forced releases are handled from their audit record, which says who.
      if (!claim.forced) this.resolver.claimReleased(claim, undefined).catch(onError);
    });
    this.storage.events.on('claim.audit', (audit) => {
      if (!this.stopped) this.resolver.claimReleased(audit.claim, audit.by).catch(onError);
    });
  }

  /** Loads apps and tasks and works out what is pending. */
  async start(): Promise<void> {
    await this.tracker.load();
    for (const app of this.tracker.appList()) this.refreshPending(app.spec.id);
    // Often enough to ask again within the unreachable timeout and report a stranded task within its own.
    const period = Math.max(50, Math.min(this.unreachableTimeoutMs, this.unknownTaskTimeoutMs, 30_000));
    this.timer = setInterval(() => void this.tick(), period);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  // ---- Mesos events -----------------------------------------------------------------------

  async onSubscribed(): Promise<void> {
    const driver = this.driver();
    if (!driver) return;
    const known = this.tracker.liveTasks().filter((t) => !this.inFlight.has(t.id));
    // Questions asked on an earlier connection will not be answered; these are (before sending:
    // an answer may arrive before the call returns).
    this.resolver.stranded.forgetUnanswered();
    for (const t of known) this.resolver.stranded.asked(t.id);
    try {
      if (known.length > 0) await driver.reconcile(known.map((t) => ({ taskId: t.id, agentId: t.agentId })));
      await driver.reconcile([]);
    } catch (err) {
      this.logger.warn('reconciliation request failed', { error: (err as Error).message });
    }
    if (this.hasWork()) await this.wantOffers(true);
  }

  async onOffers(offers: readonly mesos.v1.IOffer[]): Promise<void> {
    this.stats.offersReceived += offers.length;
    for (const offer of offers) this.agents.observeOffer(offer);
    const driver = this.driver();
    if (!driver) return;
    const rest = await this.unreserveFrom(offers, driver);
    const result = this.matcher.match(rest, this.pendingInstances());
    for (const [key, reason] of result.waiting) this.waiting.set(key, reason);
    const byOffer = new Map<mesos.v1.IOffer, Launch[]>();
    for (const launch of result.launches) {
      // Synchronously: the instance is no longer pending, whatever happens next.
      this.pending.delete(launch.instance.key);
      this.pendingDirty = true;
      this.waiting.delete(launch.instance.key);
      const list = byOffer.get(launch.offer) ?? [];
      list.push(launch);
      byOffer.set(launch.offer, list);
    }
    const declines = result.unused.map((o) => o.id.value);
    if (declines.length > 0) {
      const refuse = this.hasWork() ? this.pendingRefuseSeconds : this.declineRefuseSeconds;
      this.stats.offersDeclined += declines.length;
      driver.decline(declines, { refuse_seconds: refuse }).catch((err: Error) => this.logger.warn('decline failed', { error: err.message }));
    }
    await Promise.all([...byOffer].map(([offer, launches]) => this.launchOnOffer(offer, launches, driver)));
    if (!this.hasWork() && !this.suppressed) {
      this.suppressed = true;
      await driver.suppress().catch((err: Error) => {
        this.suppressed = false;
        this.logger.warn('suppress failed', { error: err.message });
      });
      this.logger.info('nothing pending: suppressed offers');
    }
  }

  onFailure(failure: { agentId?: string; executorId?: string }): void {
    if (!failure.agentId || failure.executorId) return;
    this.agents.markLost(failure.agentId, 'FAILURE event: agent lost');
    // FAILURE is also sent for agents that are only unreachable: ask Mesos what happened to our tasks.
    const tasks = this.tracker.liveTasks().filter((t) => t.agentId === failure.agentId && !this.inFlight.has(t.id));
    const queries =
      tasks.length > 0
        ? tasks.map((t) => ({ taskId: t.id, agentId: t.agentId }))
        : [{ taskId: `${AGENT_PROBE_PREFIX}${failure.agentId}`, agentId: failure.agentId }];
    this.driver()
      ?.reconcile(queries)
      .catch((err: Error) => this.logger.warn('reconcile failed', { error: err.message }));
    this.fenceIfGone(failure.agentId);
  }

  async onUpdate(status: mesos.v1.ITaskStatus): Promise<void> {
    this.agents.observeStatus(status);
    const taskId = status.task_id.value;
    if (taskId.startsWith(AGENT_PROBE_PREFIX)) return; // an agent probe's answer: the registry has taken it in
    const task = this.tracker.task(taskId);
    if (!task) return this.adopt(status);
    if (task.terminal) return this.stopIfRunning(task, status);
    if (this.finishing.has(taskId)) return;
    const state = status.state;
    this.resolver.observe(taskId, state);
    const name = TaskState[state] ?? String(state);
    const fromReconciliation = status.reason === Reason.REASON_RECONCILIATION;
    if (this.inFlight.has(taskId) && fromReconciliation) return;
    if (state === TaskState.TASK_UNREACHABLE || state === TaskState.TASK_UNKNOWN) {
      if (!this.unreachableSince.has(taskId)) this.unreachableSince.set(taskId, Date.now());
      if (task.state !== name) await this.saveTask({ ...task, state: name, message: status.message || undefined });
      this.logger.warn('task unreachable: its volumes stay held until Mesos confirms it is gone', { taskId, agentId: task.agentId, state: name });
      return;
    }
    this.unreachableSince.delete(taskId);
    if (!isTerminalTaskState(state)) {
      if (task.state !== name || (status.message && task.message !== status.message)) {
        await this.saveTask({ ...task, state: name, message: status.message || undefined });
      }
      return;
    }
    await this.finishTask(task, state, status.message || undefined);
    this.fenceIfGone(task.agentId);
  }

  // ---- apps ----------------------------------------------------------------------------------

  async createApp(body: unknown): Promise<AppView> {
    const spec = parseAppSpec(body);
    this.volumes.check(spec);
    const now = new Date().toISOString();
    const app: AppRecord = { spec, state: 'active', reservations: {}, createdAt: now, updatedAt: now };
    const existing = this.tracker.app(spec.id);
    if (existing) {
      const deleting = existing.state === 'deleting' ? ` (being deleted: polly app get ${spec.id} shows what it waits for)` : '';
      throw new ConflictError(`App ${spec.id} already exists${deleting}`, { appId: spec.id });
    }
    if (!(await this.tracker.createApp(app))) throw new ConflictError(`App ${spec.id} already exists`, { appId: spec.id });
    this.logger.info('app created', { appId: spec.id, instances: spec.instances });
    this.refreshPending(spec.id);
    await this.wantOffers();
    return this.appView(spec.id);
  }

  async scaleApp(id: string, instances: unknown): Promise<AppView> {
    if (typeof instances !== 'number' || !Number.isInteger(instances) || instances < 0 || instances > MAX_INSTANCES) {
      throw ValidationError.field('instances', `instances must be an integer from 0 to ${MAX_INSTANCES}`);
    }
    const app = this.activeApp(id);
    await this.tracker.saveApp({ ...app, spec: { ...app.spec, instances }, updatedAt: new Date().toISOString() });
    for (const task of this.tracker.liveTasksOf(app.spec.id)) if (task.instance >= instances) await this.killTask(task);
    this.refreshPending(app.spec.id);
    await this.wantOffers();
    return this.appView(app.spec.id);
  }

  /** Kills the app's tasks and sets its instances to 0. */
  async killApp(id: string): Promise<AppView> {
    return this.scaleApp(id, 0);
  }

  /** Kills each task; the instances relaunch (in place for residency). */
  async restartApp(id: string): Promise<AppView> {
    const app = this.activeApp(id);
    for (const task of this.tracker.liveTasksOf(app.spec.id)) await this.killTask(task, false);
    return this.appView(app.spec.id);
  }

  /**
   * Kills the tasks, releases the claims, undoes reservations, then forgets the app. Tasks Mesos
   * cannot account for refuse the delete (409, nothing changes) unless `force` with a reason: then
   * they are resolved and reservations on agents that are not active dropped, audited.
   */
  async deleteApp(id: string, options: DeleteOptions = {}): Promise<void> {
    const app = this.requireApp(id);
    const plan = this.resolver.prepareDelete(app, options);
    const by = options.by ?? 'anonymous';
    await this.tracker.saveApp({ ...app, state: 'deleting', spec: { ...app.spec, instances: 0 }, updatedAt: new Date().toISOString() });
    const resolving = new Set(plan.resolve.map((t) => t.id));
    for (const task of this.tracker.liveTasksOf(app.spec.id)) if (!resolving.has(task.id)) await this.killTask(task);
    if (plan.reason !== undefined) {
      for (const task of plan.resolve) await this.resolver.resolveTask(task, `app ${app.spec.id} deleted with --force: ${plan.reason}`, by);
      const current = this.tracker.app(app.spec.id);
      const dropped = current ? await this.dropReservations(current, this.resolver.inactiveReservations(current, false)) : [];
      this.resolver.auditForceDelete(app.spec.id, plan.reason, by, [...resolving], dropped);
    }
    this.refreshPending(app.spec.id);
    await this.maybeForget(app.spec.id);
    if (this.tracker.app(app.spec.id)) await this.wantOffers();
  }

  /** `polly task resolve`: an operator says a task Mesos cannot account for is not running (audited). */
  async resolveTask(taskId: string, request: { reason?: unknown; by?: string }): Promise<TaskView> {
    const task = await this.resolver.resolve(taskId, { reason: request.reason, by: request.by ?? 'anonymous' });
    return this.taskView(task);
  }

  apps(): AppView[] {
    return this.tracker.appList().map((a) => this.appView(a.spec.id));
  }

  appView(id: string): AppView {
    const app = this.requireApp(id);
    const waiting: AppView['waiting'] = [];
    for (let i = 0; i < app.spec.instances; i++) {
      const reason = this.waiting.get(`${app.spec.id}#${i}`);
      const task = this.tracker.currentTask(app.spec.id, i);
      const taskWait = task ? taskWaitReason(task, this.resolver.strandedView(task.id)) : undefined;
      if (taskWait) {
        waiting.push({ instance: i, reason: taskWait });
      } else if (!task && this.pending.has(`${app.spec.id}#${i}`)) {
        waiting.push({ instance: i, reason: reason ?? 'waiting: for an offer' });
      }
    }
    return {
      ...app.spec,
      state: app.state,
      tasks: this.tracker.tasksOf(app.spec.id).sort((a, b) => b.createdAt.localeCompare(a.createdAt)).map((t) => this.taskView(t)),
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

  private taskView(task: TaskRecord): TaskView {
    return taskView(task, task.terminal ? undefined : this.resolver.strandedView(task.id));
  }

  // ---- internals: pending work -------------------------------------------------------------

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

  /** Recomputes which instances of one app wait for an offer. */
  private refreshPending(appId: string): void {
    for (const key of [...this.pending.keys()]) if (key.startsWith(`${appId}#`)) this.pending.delete(key);
    this.pendingDirty = true;
    const app = this.tracker.app(appId);
    if (!app || app.state === 'deleting') return;
    const history = this.tracker.tasksOf(appId);
    for (let i = 0; i < app.spec.instances; i++) {
      if (this.tracker.currentTask(appId, i)) continue;
      const previous = history.filter((t) => t.instance === i).sort((a, b) => b.updatedAt.localeCompare(a.updatedAt))[0];
      const instance: PendingInstance = { key: `${appId}#${i}`, appId, instance: i, spec: app.spec, volumes: this.volumes.wanted(app.spec, i) };
      const reservation = app.reservations[String(i)];
      if (app.spec.residency !== undefined && reservation) instance.reservedAgentId = reservation.agentId;
      if (previous) instance.previousTaskId = previous.id;
      this.pending.set(instance.key, instance);
    }
  }

  private pendingInstances(): PendingInstance[] {
    if (this.pendingDirty) {
      this.pendingList = [...this.pending.values()];
      this.pendingDirty = false;
    }
    return this.pendingList;
  }

  /** Reservations that must be undone: deleted apps, or instances scaled away. */
  private unwantedReservations(): Map<string, Set<string>> {
    const out = new Map<string, Set<string>>();
    for (const app of this.tracker.appList()) {
      for (const [instance, r] of Object.entries(app.reservations)) {
        const i = Number(instance);
        if (app.state !== 'deleting' && i < app.spec.instances) continue;
        if (this.tracker.currentTask(app.spec.id, i)) continue;
        const set = out.get(r.agentId) ?? new Set<string>();
        set.add(`${app.spec.id}#${i}`);
        out.set(r.agentId, set);
      }
    }
    return out;
  }

  private hasWork(): boolean {
    if (this.pending.size > 0) return true;
    return this.tracker.appList().some((a) => Object.keys(a.reservations).some((i) => a.state === 'deleting' || Number(i) >= a.spec.instances));
  }

  private async wantOffers(force = false): Promise<void> {
    const driver = this.driver();
    if (!driver || this.stopped) return;
    if (!this.suppressed && !force) return;
    this.suppressed = false;
    try {
      await driver.revive();
      this.logger.info('work pending: revived offers', { pending: this.pending.size });
    } catch (err) {
      this.logger.warn('revive failed', { error: (err as Error).message });
    }
  }

  // ---- internals: launching ----------------------------------------------------------------

  private async unreserveFrom(offers: readonly mesos.v1.IOffer[], driver: MesosDriver): Promise<mesos.v1.IOffer[]> {
    const unwanted = this.unwantedReservations();
    if (unwanted.size === 0) return [...offers];
    const rest: mesos.v1.IOffer[] = [];
    for (const offer of offers) {
      const owners = unwanted.get(offer.agent_id.value);
      const resources = owners ? (offer.resources ?? []).filter((r) => owners.has(reservationOwner(r) ?? '')) : [];
      if (resources.length === 0) {
        rest.push(offer);
        continue;
      }
      try {
        await driver.accept([offer.id.value], [{ type: OpType.UNRESERVE, unreserve: { resources } }], { refuse_seconds: 0 });
        this.stats.offersAccepted++;
        const done = new Set(resources.map((r) => reservationOwner(r)!));
        for (const owner of done) {
          const [appId, instance] = [owner.slice(0, owner.lastIndexOf('#')), owner.slice(owner.lastIndexOf('#') + 1)];
          const app = this.tracker.app(appId);
          if (!app) continue;
          const reservations = { ...app.reservations };
          delete reservations[instance];
          await this.tracker.saveApp({ ...app, reservations, updatedAt: new Date().toISOString() });
          this.logger.info('reservation undone', { appId, instance, agentId: offer.agent_id.value });
          await this.maybeForget(appId);
        }
      } catch (err) {
        this.logger.warn('unreserve failed', { agentId: offer.agent_id.value, error: (err as Error).message });
      }
    }
    return rest;
  }

  private async launchOnOffer(offer: mesos.v1.IOffer, launches: Launch[], driver: MesosDriver): Promise<void> {
    const prepared = (await Promise.all(launches.map((l) => this.prepare(l)))).filter((p): p is Prepared => p !== undefined);
    if (prepared.length === 0) {
      await driver.decline([offer.id.value], { refuse_seconds: 0 }).catch(() => undefined);
      return;
    }
    const operations: mesos.v1.Offer.IOperation[] = [];
    for (const p of prepared) if (p.launch.reserve) operations.push({ type: OpType.RESERVE, reserve: { resources: p.launch.reserve } });
    operations.push({ type: OpType.LAUNCH, launch: { task_infos: prepared.map((p) => p.taskInfo) } });
    try {
      await driver.accept([offer.id.value], operations, { refuse_seconds: this.pendingRefuseSeconds });
      this.stats.offersAccepted++;
      this.stats.tasksLaunched += prepared.length;
      for (const p of prepared) {
        this.logger.info('task launched', { taskId: p.task.id, appId: p.task.appId, instance: p.task.instance, agentId: p.task.agentId });
        if (p.launch.reserve) {
          const app = this.tracker.app(p.task.appId);
          if (app) {
            await this.tracker.saveApp({
              ...app,
              reservations: { ...app.reservations, [String(p.task.instance)]: { agentId: p.task.agentId, hostname: p.task.hostname } },
              updatedAt: new Date().toISOString(),
            });
          }
        }
      }
    } catch (err) {
      // Maybe sent: reconciliation tells (TASK_GONE/DROPPED → claims released, relaunched).
      this.logger.warn('ACCEPT failed; reconciling the launched tasks', { offerId: offer.id.value, error: (err as Error).message });
      driver.reconcile(prepared.map((p) => ({ taskId: p.task.id, agentId: p.task.agentId }))).catch(() => undefined);
    } finally {
      for (const p of prepared) this.inFlight.delete(p.task.id);
    }
  }

  private async prepare(launch: Launch): Promise<Prepared | undefined> {
    const { instance, agent } = launch;
    const now = new Date().toISOString();
    const taskId = makeTaskId(instance.appId, instance.instance, randomUUID());
    let task: TaskRecord = {
      id: taskId,
      appId: instance.appId,
      instance: instance.instance,
      state: 'LAUNCHING',
      agentId: agent.agentId,
      hostname: agent.hostname,
      volumes: instance.volumes.map((v) => ({ name: v.name, service: v.service, containerPath: v.containerPath, mode: v.mode })),
      terminal: false,
      createdAt: now,
      updatedAt: now,
    };
    if (agent.zone !== undefined) task.zone = agent.zone;
    this.inFlight.add(taskId);
    try {
      // The launch intent: durable before any claim, so a restart finds (and resolves) it.
      await this.tracker.saveTask(task);
      const mounts: VolumeMount[] = [];
      const volumes: TaskVolumeRecord[] = [];
      for (const wanted of task.volumes) {
        const volume = await this.ensureVolume(wanted, instance.spec, agent);
        const claim = await this.storage.ledger.claim({
          volumeId: volume.id,
          scheduler: this.scheduler,
          frameworkId: this.driver()?.frameworkId,
          taskId,
          agentId: agent.agentId,
          instanceId: this.agents.instanceId(agent, wanted.service),
          mode: wanted.mode,
        });
        volumes.push({ ...wanted, volumeId: volume.id, claimId: claim.id });
        task = { ...task, volumes: [...volumes, ...task.volumes.slice(volumes.length)], updatedAt: new Date().toISOString() };
        await this.tracker.saveTask(task);
        if (claim.state !== 'attached') throw new ConflictError(`Volume ${volume.name} could not be attached: ${claim.reason ?? claim.state}`);
        mounts.push(this.mountFor(wanted, volume));
      }
      const current = this.tracker.task(taskId);
      if (current?.killRequested || this.stopped) throw new ConflictError('The launch was cancelled');
      const taskInfo = buildTaskInfo({
        taskId,
        agentId: agent.agentId,
        appId: instance.appId,
        instance: instance.instance,
        spec: instance.spec,
        resources: launch.resources,
        mounts,
      });
      return { launch, task, taskInfo };
    } catch (err) {
      const message = (err as Error).message;
      this.logger.warn('launch failed before ACCEPT; releasing its claims', { taskId, appId: instance.appId, agentId: agent.agentId, error: message });
      this.inFlight.delete(taskId);
      const latest = this.tracker.task(taskId) ?? task;
      await this.finishTask(latest, TaskState.TASK_DROPPED, `launch failed: ${message}`);
      this.waiting.set(instance.key, `waiting: last launch failed: ${message}`);
      return undefined;
    }
  }

  private async ensureVolume(wanted: WantedVolume, spec: AppSpec, agent: AgentRecord): Promise<VolumeRecord> {
    const existing = this.storage.catalog.findByName(wanted.service, wanted.name);
    if (existing) return existing;
    const external = spec.container?.volumes.find((v) => v.containerPath === wanted.containerPath)?.external;
    const options = external?.options ?? {};
    try {
      return await this.storage.catalog.create({
        service: wanted.service,
        name: wanted.name,
        size: external?.size,
        type: options.type,
        iops: options.iops === undefined ? undefined : Number(options.iops),
        profile: options.profile,
        availabilityZone: agent.zone,
        scheduler: this.scheduler,
        labels: { polly_app: spec.id },
      });
    } catch (err) {
      const raced = this.storage.catalog.findByName(wanted.service, wanted.name);
      if (raced) return raced;
      throw err;
    }
  }

  private mountFor(wanted: WantedVolume, volume: VolumeRecord): VolumeMount {
    const service = this.storage.registry.get(volume.service);
    if (service.definition.mapping === 'dockerVolume') {
      return { kind: 'dockerVolume', name: volume.name, containerPath: wanted.containerPath, mode: wanted.mode, driver: service.definition.dockerVolumeDriver ?? 'polly', volumeName: volume.name };
    }
    const hostPath = service.driver.hostPath!({
      id: volume.driverVolumeId,
      name: volume.name,
      size: volume.size,
      fields: { ...volume.fields },
      attachments: [],
    });
    return { kind: 'hostPath', name: volume.name, containerPath: wanted.containerPath, mode: wanted.mode, hostPath };
  }

  // ---- internals: lifecycle ----------------------------------------------------------------

  private async saveTask(task: TaskRecord): Promise<void> {
    await this.tracker.saveTask({ ...task, updatedAt: new Date().toISOString() });
  }

  private async killTask(task: TaskRecord, final = true): Promise<void> {
    if (final) await this.saveTask({ ...task, killRequested: true });
    if (this.inFlight.has(task.id)) return; // the launch sees killRequested and stops before ACCEPT
    try {
      await this.driver()?.kill(task.id, task.agentId);
    } catch (err) {
      this.logger.warn('kill failed', { taskId: task.id, error: (err as Error).message });
    }
  }

  /**
   * The task is over: release (or fence) its claims, record it, relaunch its instance if wanted.
   * RESOLVED (an operator's word) force-releases like fencing, audited as `by`. Returns the claim IDs.
   */
  private async finishTask(task: TaskRecord, state: number | typeof RESOLVED, message: string | undefined, by = POLLY_ACTOR): Promise<string[]> {
    if (this.finishing.has(task.id)) return [];
    this.finishing.add(task.id);
    this.unreachableSince.delete(task.id);
    this.resolver.stranded.heard(task.id);
    const name = state === RESOLVED ? RESOLVED : (TaskState[state] ?? String(state));
    const fence = state === RESOLVED || FENCING.has(state);
    const reason = `task ${task.id} ${name}${message ? `: ${message}` : ''}`;
    const claims = this.storage.ledger.list({ taskId: task.id, live: true });
    try {
      for (const claim of claims) {
        try {
          if (fence) await this.storage.ledger.forceRelease(claim.id, state === RESOLVED ? reason : `fenced: ${reason}`, by);
          else await this.storage.ledger.release(claim.id, { reason });
        } catch (err) {
          this.logger.error('claim release failed; will retry', { taskId: task.id, claimId: claim.id, volumeId: claim.volumeId, error: (err as Error).message });
        }
      }
      const latest = this.tracker.task(task.id) ?? task;
      await this.tracker.saveTask({ ...latest, state: name, message, terminal: true, updatedAt: new Date().toISOString() });
      this.logger.info('task ended', { taskId: task.id, appId: task.appId, instance: task.instance, agentId: task.agentId, state: name, fenced: fence });
    } finally {
      this.finishing.delete(task.id);
    }
    this.refreshPending(task.appId);
    await this.maybeForget(task.appId);
    if (this.hasWork()) await this.wantOffers();
    return claims.map((c) => c.id);
  }

  /** An update for a task Polly has ended (resolved, or fenced): if it is running after all, it must not. */
  private async stopIfRunning(task: TaskRecord, status: mesos.v1.ITaskStatus): Promise<void> {
    if (isTerminalTaskState(status.state) || status.state === TaskState.TASK_UNKNOWN || status.state === TaskState.TASK_UNREACHABLE) return;
    const agentId = status.agent_id?.value ?? task.agentId;
    this.logger.warn('a task Polly has ended is reported alive; killing it', { taskId: task.id, agentId, state: TaskState[status.state], ended: task.state });
    await this.driver()?.kill(task.id, agentId).catch(() => undefined);
  }

  /** Forgets reservations (their agent is gone, or a forced delete); returns them. */
  private async dropReservations(app: AppRecord, drop: Array<{ instance: string; agentId: string }>): Promise<Array<{ instance: string; agentId: string }>> {
    if (drop.length === 0) return [];
    const reservations = { ...app.reservations };
    for (const d of drop) delete reservations[d.instance];
    await this.tracker.saveApp({ ...app, reservations, updatedAt: new Date().toISOString() });
    this.logger.warn('reservations forgotten: their agents are not active', { appId: app.spec.id, reservations: drop });
    return drop;
  }

  /** When Mesos says an agent is gone, every claim on it is fenced (any scheduler's). */
  private fenceIfGone(agentId: string): void {
    const agent = this.agents.get(agentId);
    if (agent?.state !== 'gone') return;
    const live = this.storage.ledger.list({ agentId, live: true });
    if (live.length === 0) return;
    this.storage.ledger
      .releaseForAgent(agentId, `fenced: agent ${agent.hostname} (${agentId}) is gone: ${agent.reason ?? 'removed by Mesos'}`, POLLY_ACTOR)
      .catch((err: Error) => this.logger.error('fencing the claims of a gone agent failed', { agentId, error: err.message }));
  }

  private async maybeForget(appId: string): Promise<void> {
    let app = this.tracker.app(appId);
    if (!app || app.state !== 'deleting') return;
    if (this.tracker.liveTasksOf(appId).length > 0) return;
    // Mesos keeps no reservation on a gone agent: no offer will ever come to undo it.
    const onGoneAgents = this.resolver.inactiveReservations(app, true);
    if (onGoneAgents.length > 0) {
      await this.dropReservations(app, onGoneAgents);
      app = this.tracker.app(appId)!;
    }
    if (Object.keys(app.reservations).length > 0) return;
    await this.tracker.removeApp(appId);
    this.logger.info('app deleted', { appId });
  }

  /** Status for a task Polly has no record of: adopt it if it is ours, never launch it twice. */
  private async adopt(status: mesos.v1.ITaskStatus): Promise<void> {
    const taskId = status.task_id.value;
    const parsed = parseTaskId(taskId);
    const app = parsed ? this.tracker.app(parsed.appId) : undefined;
    const claims = this.storage.ledger.list({ taskId, live: true });
    if (isTerminalTaskState(status.state)) {
      for (const c of claims) await this.storage.ledger.release(c.id, { reason: `unknown task ${taskId} is terminal` }).catch(() => undefined);
      return;
    }
    const agentId = status.agent_id?.value;
    if (!parsed || !app || !agentId || app.state === 'deleting' || parsed.instance >= app.spec.instances || this.tracker.currentTask(app.spec.id, parsed.instance)) {
      this.logger.warn('killing a task Polly does not want', { taskId, agentId });
      await this.driver()?.kill(taskId, agentId).catch(() => undefined);
      return;
    }
    const agent = this.agents.get(agentId);
    const now = new Date().toISOString();
    const wanted = this.volumes.wanted(app.spec, parsed.instance);
    const task: TaskRecord = {
      id: taskId,
      appId: app.spec.id,
      instance: parsed.instance,
      state: TaskState[status.state] ?? String(status.state),
      agentId,
      hostname: agent?.hostname ?? agentId,
      volumes: wanted.map((w) => {
        const claim = claims.find((c) => this.storage.catalog.find(c.volumeId)?.name.toLowerCase() === w.name.toLowerCase());
        return claim ? { ...w, volumeId: claim.volumeId, claimId: claim.id } : { ...w };
      }),
      terminal: false,
      createdAt: now,
      updatedAt: now,
    };
    if (agent?.zone !== undefined) task.zone = agent.zone;
    await this.tracker.saveTask(task);
    this.logger.warn('adopted a task Polly had no record of', { taskId, appId: app.spec.id, instance: parsed.instance, agentId });
    this.refreshPending(app.spec.id);
  }

  /** Periodic: ask again about tasks that are unreachable for longer than the timeout. */
  private async tick(): Promise<void> {
    const driver = this.driver();
    if (!driver || this.stopped) return;
    const now = Date.now();
    const ask: { taskId: string; agentId: string }[] = [];
    for (const [taskId, since] of this.unreachableSince) {
      const task = this.tracker.task(taskId);
      if (!task || task.terminal) {
        this.unreachableSince.delete(taskId);
        continue;
      }
      if (now - since >= this.unreachableTimeoutMs) {
        ask.push({ taskId, agentId: task.agentId });
        this.unreachableSince.set(taskId, now);
      }
    }
    // Questions Mesos has not answered yet: ask again (the master may be waiting for agents).
    for (const taskId of this.resolver.stranded.unanswered()) {
      const task = this.tracker.task(taskId);
      if (!task || task.terminal) this.resolver.stranded.heard(taskId);
      else if (!ask.some((a) => a.taskId === taskId) && !this.inFlight.has(taskId)) ask.push({ taskId, agentId: task.agentId });
    }
    this.resolver.report();
    // Claims of finished tasks whose release failed: try again.
    for (const task of this.tracker.allTasks()) {
      if (!task.terminal) continue;
      for (const v of task.volumes) {
        const claim = v.claimId ? this.storage.ledger.find(v.claimId) : undefined;
        if (claim && isLive(claim)) await this.storage.ledger.release(claim.id, { reason: `task ${task.id} is terminal (retry)` }).catch(() => undefined);
      }
    }
    if (ask.length > 0) await driver.reconcile(ask).catch(() => undefined);
  }
}

interface Prepared {
  launch: Launch;
  task: TaskRecord;
  taskInfo: mesos.v1.ITaskInfo;
}
