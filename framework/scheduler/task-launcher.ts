/**
 * Offers → launches. The matcher picks an offer for each pending instance it can place; the launch
 * is registered as an attempt at once (so a delete, scale-down or update arriving meanwhile cancels
 * it, and the launch queue does not offer the instance again); the task record is persisted
 * (LAUNCHING, task ID chosen) before anything else; missing volumes are created in the agent's zone,
 * each volume is claimed for the task on that agent (scheduler `polly`), which attaches it; then one
 * ACCEPT per offer carries RESERVE (for residency) and LAUNCH. A failure or a cancel before the
 * ACCEPT releases what was claimed; a cancel that crossed the ACCEPT kills the task as soon as the
 * ACCEPT returns.
 *
 * Many instances waiting at once (the thousand of an agent that died) are matched in bounded steps
 * of one OFFERS event, with other events handled in between, until the offers are full; what an
 * ACCEPT leaves of an offer comes straight back while instances wait, and new work clears the
 * filters of declined offers with a (throttled) REVIVE.
 */
import { csiVolumeMount } from './csi-volume-mapping';
import { randomUUID } from 'node:crypto';
import { ConflictError } from '../errors/conflict-error';
import { mesos } from '../mesos/generated/mesos';
import type { VolumeRecord } from '../storage/volume-record';
import type { AgentRecord } from './agent-registry';
import type { AppSpec } from './app-spec';
import type { TaskRecord, TaskVolumeRecord } from './instance-tracker';
import { wantsInstance } from './instance-tracker';
import type { LaunchAttempt } from './launch-attempts';
import type { LauncherContext, MesosDriver } from './launcher-context';
import { Launch, OfferMatcher, OfferMatcherOptions, reservationOwner, WantedVolume } from './offer-matcher';
import { buildTaskInfo, makeTaskId, VolumeMount } from './task-builder';
import type { TaskLifecycle } from './task-lifecycle';

const TaskState = mesos.v1.TaskState;
const OpType = mesos.v1.Offer.Operation.Type;

export interface TaskLauncherOptions {
  /** Filter for offers declined while nothing is pending; default 30 s. */
  declineRefuseSeconds?: number;
  /** Filter for offers declined while instances wait; default 1 s. */
  pendingRefuseSeconds?: number;
  matcher?: OfferMatcherOptions;
}

/** REVIVEs to clear our own offer filters (not suppressed) are at most this often; Marathon throttles its revives too. */
const REVIVE_MIN_INTERVAL_MS = 250;

/** The launch was cancelled (app deleted, scaled down, replaced, or a kill asked for). */
class LaunchCancelled extends Error {
  override name = 'LaunchCancelled';
}

interface Prepared {
  launch: Launch;
  attempt: LaunchAttempt;
  task: TaskRecord;
  taskInfo: mesos.v1.ITaskInfo;
}

export class TaskLauncher {
  readonly matcher: OfferMatcher;
  private readonly declineRefuseSeconds: number;
  private readonly pendingRefuseSeconds: number;
  private suppressed = false;
  /** Offers were declined with a filter (or an ACCEPT left resources filtered) since the last REVIVE. */
  private filtered = false;
  private revivedAt = 0;
  /** The last DECLINE, SUPPRESS or REVIVE sent: the next waits for it (`inOrder`). */
  private offerCalls: Promise<unknown> = Promise.resolve();
  /** The REVIVE a throttled `wantOffers` left for the end of the interval. */
  private reviveLater: NodeJS.Timeout | undefined;

  constructor(
    private readonly ctx: LauncherContext,
    private readonly lifecycle: TaskLifecycle,
    options: TaskLauncherOptions = {},
  ) {
    this.declineRefuseSeconds = options.declineRefuseSeconds ?? 30;
    this.pendingRefuseSeconds = options.pendingRefuseSeconds ?? 1;
    const { storage, agents, tracker } = ctx;
    const ledger = storage.ledger;
    const registry = storage.registry;
    this.matcher = new OfferMatcher(
      {
        scheduler: ctx.scheduler,
        agent: (id) => agents.get(id),
        findVolume: (service, name) => storage.catalog.findByName(service, name),
        liveClaims: (volumeId) => ledger.liveClaims(volumeId),
        claimsOnAgent: (agentId, service) => ledger.liveCountOnAgent(agentId, service),
        attachLimit: (service, agent) => {
          if (!registry.has(service)) return undefined;
          return registry.get(service).driver.attachLimit({ id: agents.instanceId(agent, service) });
        },
        placements: (appId) =>
          tracker.allLiveTasksOf(appId).flatMap((t) => {
            const agent = agents.get(t.agentId);
            return agent ? [{ ...agent }] : [];
          }),
      },
      options.matcher,
    );
  }

  get isSuppressed(): boolean {
    return this.suppressed;
  }

  /**
   * Work arrived: REVIVE when suppressed (or always with `force`). Also when offers were declined
   * with a filter since the last REVIVE — the agent that can run the new work may be among them —
   * but then at most every REVIVE_MIN_INTERVAL_MS (a thousand instances of a dead agent becoming
   * pending one by one make a few REVIVEs, not a thousand; a call inside the interval leaves one
   * for its end).
   */
  async wantOffers(force = false): Promise<void> {
    const { ctx } = this;
    const driver = ctx.driver();
    if (!driver || ctx.isStopped()) return;
    if (!force && !this.suppressed) {
      if (!this.filtered) return;
      const wait = this.revivedAt + REVIVE_MIN_INTERVAL_MS - Date.now();
      if (wait > 0) {
        // Too soon after the last: one REVIVE once the interval is over, if work still waits then.
        this.reviveLater ??= setTimeout(() => {
          this.reviveLater = undefined;
          if (ctx.queue.size > 0) void this.wantOffers();
        }, wait).unref();
        return;
      }
    }
    this.suppressed = false;
    this.filtered = false;
    this.revivedAt = Date.now();
    await this.inOrder(() => driver.revive()).then(
      () => ctx.logger.info('work pending: revived offers', { pending: ctx.queue.size }),
      (err: Error) => ctx.logger.warn('revive failed', { error: err.message }),
    );
  }

  /**
   * DECLINEs with their filters, SUPPRESS and REVIVE reach the master in the order Polly decided
   * them, each sent once the one before is answered: concurrent calls may be handled in any order,
   * and a SUPPRESS overtaking the REVIVE decided after it (work arrived meanwhile) would leave that
   * work with no offers coming at all.
   */
  private inOrder<T>(call: () => Promise<T>): Promise<T> {
    const sent = this.offerCalls.then(call);
    this.offerCalls = sent.catch(() => undefined);
    return sent;
  }

  /** Offers arrived: undo unwanted reservations, place pending instances, decline the rest. */
  async onOffers(offers: readonly mesos.v1.IOffer[], hasWork: () => boolean): Promise<void> {
    const { ctx } = this;
    ctx.stats.offersReceived += offers.length;
    for (const offer of offers) ctx.agents.observeOffer(offer);
    const driver = ctx.driver();
    if (!driver) return;
    const rest = await this.unreserveFrom(offers, driver);
    const round = this.matcher.startRound(rest);
    const byOffer = new Map<mesos.v1.IOffer, Array<Promise<Prepared | undefined>>>();
    for (;;) {
      const step = this.matcher.continueRound(round, ctx.queue.instances());
      for (const [key, reason] of step.waiting) ctx.queue.setWaiting(key, reason);
      for (const launch of step.launches) {
        // Synchronously: the instance is no longer pending, and its launch is an attempt (prepare
        // registers it before its first await), whatever happens next.
        ctx.queue.take(launch.instance.key);
        const preparing = this.prepare(launch);
        // Awaited with its offer's others once the round is over; not an unhandled rejection before that.
        preparing.catch(() => undefined);
        const list = byOffer.get(launch.offer) ?? [];
        list.push(preparing);
        byOffer.set(launch.offer, list);
      }
      // Many instances waiting (an agent's worth after it died): the offers take as many as fit, in
      // bounded steps with other events handled in between.
      if (!step.more || ctx.isStopped()) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    const declines = this.matcher.unusedOf(round).map((o) => o.id.value);
    if (declines.length > 0) {
      const refuse = hasWork() ? this.pendingRefuseSeconds : this.declineRefuseSeconds;
      ctx.stats.offersDeclined += declines.length;
      if (refuse > 0) this.filtered = true;
      this.inOrder(() => driver.decline(declines, { refuse_seconds: refuse })).catch((err: Error) => ctx.logger.warn('decline failed', { error: err.message }));
    }
    await Promise.all([...byOffer].map(([offer, prepares]) => this.launchOnOffer(offer, prepares, driver)));
    if (!hasWork() && !this.suppressed) {
      this.suppressed = true;
      await this.inOrder(() => driver.suppress()).catch((err: Error) => {
        this.suppressed = false;
        ctx.logger.warn('suppress failed', { error: err.message });
      });
      ctx.logger.info('nothing pending: suppressed offers');
    }
  }

  /** Reservations that must be undone: deleted apps, or instances scaled away. */
  private unwantedReservations(): Map<string, Set<string>> {
    const { tracker } = this.ctx;
    const out = new Map<string, Set<string>>();
    for (const app of tracker.appList()) {
      for (const [instance, r] of Object.entries(app.reservations)) {
        const i = Number(instance);
        if (wantsInstance(app, i)) continue;
        if (tracker.currentTask(app.spec.id, i)) continue;
        const set = out.get(r.agentId) ?? new Set<string>();
        set.add(`${app.spec.id}#${i}`);
        out.set(r.agentId, set);
      }
    }
    return out;
  }

  private async unreserveFrom(offers: readonly mesos.v1.IOffer[], driver: MesosDriver): Promise<mesos.v1.IOffer[]> {
    const { ctx } = this;
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
        ctx.stats.offersAccepted++;
        const done = new Set(resources.map((r) => reservationOwner(r)!));
        for (const owner of done) {
          const [appId, instance] = [owner.slice(0, owner.lastIndexOf('#')), owner.slice(owner.lastIndexOf('#') + 1)];
          const app = ctx.tracker.app(appId);
          if (!app) continue;
          const reservations = { ...app.reservations };
          delete reservations[instance];
          await ctx.tracker.saveApp({ ...app, reservations, updatedAt: new Date().toISOString() });
          ctx.logger.info('reservation undone', { appId, instance, agentId: offer.agent_id.value });
          await this.lifecycle.maybeForget(appId);
        }
      } catch (err) {
        ctx.logger.warn('unreserve failed', { agentId: offer.agent_id.value, error: (err as Error).message });
      }
    }
    return rest;
  }

  private async launchOnOffer(offer: mesos.v1.IOffer, prepares: Array<Promise<Prepared | undefined>>, driver: MesosDriver): Promise<void> {
    const { ctx } = this;
    const prepared: Prepared[] = [];
    for (const p of await Promise.all(prepares)) if (p) prepared.push(p);
    // A cancel that came while the others prepared: drop it here, before the ACCEPT.
    const going: Prepared[] = [];
    for (const p of prepared) {
      if (p.attempt.cancelled === undefined) going.push(p);
      else await this.dropBeforeAccept(p, p.attempt.cancelled);
    }
    if (going.length === 0) {
      await driver.decline([offer.id.value], { refuse_seconds: 0 }).catch(() => undefined);
      return;
    }
    const operations: mesos.v1.Offer.IOperation[] = [];
    for (const p of going) if (p.launch.reserve) operations.push({ type: OpType.RESERVE, reserve: { resources: p.launch.reserve } });
    operations.push({ type: OpType.LAUNCH, launch: { task_infos: going.map((p) => p.taskInfo) } });
    for (const p of going) p.attempt.accepted = true;
    // What the tasks leave of the offer is filtered briefly — unless instances are waiting (more
    // became pending while these launches prepared): then it comes straight back for them.
    const refuse = ctx.queue.size > 0 ? 0 : this.pendingRefuseSeconds;
    try {
      await driver.accept([offer.id.value], operations, { refuse_seconds: refuse });
      if (refuse > 0) this.filtered = true;
      ctx.stats.offersAccepted++;
      ctx.stats.tasksLaunched += going.length;
      for (const p of going) {
        ctx.logger.info('task launched', { taskId: p.task.id, appId: p.task.appId, instance: p.task.instance, agentId: p.task.agentId });
        if (p.launch.reserve) {
          const app = ctx.tracker.app(p.task.appId);
          if (app) {
            await ctx.tracker.saveApp({
              ...app,
              reservations: { ...app.reservations, [String(p.task.instance)]: { agentId: p.task.agentId, hostname: p.task.hostname } },
              updatedAt: new Date().toISOString(),
            });
          }
        }
      }
    } catch (err) {
      // Maybe sent: reconciliation tells (TASK_GONE/DROPPED → claims released, relaunched).
      ctx.logger.warn('ACCEPT failed; reconciling the launched tasks', { offerId: offer.id.value, error: (err as Error).message });
      driver.reconcile(going.map((p) => ({ taskId: p.task.id, agentId: p.task.agentId }))).catch(() => undefined);
    } finally {
      for (const p of going) ctx.attempts.end(p.task.id);
    }
    // Cancelled while the ACCEPT was on its way: Mesos knows the task now, so a KILL reaches it.
    for (const p of going) {
      if (p.attempt.cancelled === undefined) continue;
      ctx.logger.info('launch cancelled while its ACCEPT was sent; killing the task', { taskId: p.task.id, appId: p.task.appId, reason: p.attempt.cancelled });
      await this.lifecycle.killTask(ctx.tracker.task(p.task.id) ?? p.task, true);
    }
    for (const appId of new Set(going.map((p) => p.task.appId))) await this.lifecycle.maybeForget(appId);
  }

  /** Why the launch must stop now (cancelled, or its app no longer wants the instance). */
  private stopReason(attempt: LaunchAttempt): string | undefined {
    if (attempt.cancelled !== undefined) return attempt.cancelled;
    if (this.ctx.isStopped()) return 'Polly is stopping';
    const app = this.ctx.tracker.app(attempt.appId);
    if (!app || !wantsInstance(app, attempt.instance)) return 'the app no longer wants this instance';
    if (this.ctx.tracker.task(attempt.taskId)?.killRequested) return 'a kill was asked for';
    return undefined;
  }

  private checkGoing(attempt: LaunchAttempt): void {
    const reason = this.stopReason(attempt);
    if (reason !== undefined) {
      attempt.cancelled ??= reason;
      throw new LaunchCancelled(reason);
    }
  }

  private async prepare(launch: Launch): Promise<Prepared | undefined> {
    const { ctx } = this;
    const { instance, agent } = launch;
    const taskId = makeTaskId(instance.appId, instance.instance, randomUUID());
    // Before any await: from here a delete or scale-down sees (and cancels) this launch.
    const attempt = ctx.attempts.begin(taskId, instance.appId, instance.instance);
    const now = new Date().toISOString();
    const task: TaskRecord = {
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
    if (instance.version !== undefined) task.version = instance.version;
    const ports = launch.hostPorts.filter((p): p is number => p !== undefined);
    if (ports.length > 0) task.ports = ports;
    let recorded = false;
    try {
      this.checkGoing(attempt);
      // The launch intent: durable before any claim, so a restart finds (and resolves) it.
      await ctx.tracker.saveTask(task);
      recorded = true;
      const mounts: VolumeMount[] = [];
      const volumes: TaskVolumeRecord[] = [];
      for (const [i, wanted] of task.volumes.entries()) {
        this.checkGoing(attempt);
        const volume = await this.ensureVolume(instance.volumes[i], instance.spec, agent);
        this.checkGoing(attempt);
        const claim = await ctx.storage.ledger.claim({
          volumeId: volume.id,
          scheduler: ctx.scheduler,
          frameworkId: ctx.driver()?.frameworkId,
          taskId,
          agentId: agent.agentId,
          instanceId: ctx.agents.instanceId(agent, wanted.service),
          mode: wanted.mode,
        });
        volumes.push({ ...wanted, volumeId: volume.id, claimId: claim.id });
        const recordedVolumes = [...volumes];
        await ctx.tracker.updateTask(taskId, (latest) =>
          latest && !latest.terminal ? { ...latest, volumes: [...recordedVolumes, ...latest.volumes.slice(recordedVolumes.length)], updatedAt: new Date().toISOString() } : undefined,
        );
        if (claim.state !== 'attached') throw new ConflictError(`Volume ${volume.name} could not be attached: ${claim.reason ?? claim.state}`);
        mounts.push(this.mountFor(wanted, volume));
      }
      this.checkGoing(attempt);
      const taskInfo = buildTaskInfo({
        taskId,
        agentId: agent.agentId,
        hostname: agent.hostname,
        appId: instance.appId,
        instance: instance.instance,
        spec: instance.spec,
        version: instance.version,
        resources: launch.resources,
        hostPorts: launch.hostPorts,
        mounts,
      });
      return { launch, attempt, task: ctx.tracker.task(taskId) ?? task, taskInfo };
    } catch (err) {
      const cancelled = err instanceof LaunchCancelled;
      const message = (err as Error).message;
      if (!recorded) {
        ctx.attempts.end(taskId);
        if (!cancelled) ctx.logger.error('launch failed before its record was written', { taskId, appId: instance.appId, error: message });
        ctx.queue.refreshInstance(instance.appId, instance.instance);
        await this.lifecycle.maybeForget(instance.appId);
        return undefined;
      }
      await this.dropBeforeAccept({ launch, attempt, task }, cancelled ? message : undefined, cancelled ? undefined : message);
      return undefined;
    }
  }

  /** Ends a launch that never reached Mesos: claims released, recorded TASK_DROPPED. */
  private async dropBeforeAccept(p: Pick<Prepared, 'launch' | 'attempt' | 'task'>, cancelled: string | undefined, failure?: string): Promise<void> {
    const { ctx } = this;
    const { task, launch } = p;
    ctx.attempts.end(task.id);
    if (cancelled !== undefined) {
      ctx.logger.info('launch cancelled before its ACCEPT; releasing its claims', { taskId: task.id, appId: task.appId, agentId: task.agentId, reason: cancelled });
      await ctx.tracker.updateTask(task.id, (latest) => (latest && !latest.terminal ? { ...latest, killRequested: true } : undefined));
    } else {
      ctx.logger.warn('launch failed before ACCEPT; releasing its claims', { taskId: task.id, appId: task.appId, agentId: task.agentId, error: failure });
    }
    const latest = ctx.tracker.task(task.id) ?? task;
    await this.lifecycle.finishTask(latest, TaskState.TASK_DROPPED, cancelled !== undefined ? `launch cancelled: ${cancelled}` : `launch failed: ${failure}`);
    if (failure !== undefined && ctx.queue.has(launch.instance.key)) ctx.queue.setWaiting(launch.instance.key, `waiting: last launch failed: ${failure}`);
  }

  private async ensureVolume(wanted: WantedVolume, spec: AppSpec, agent: AgentRecord): Promise<VolumeRecord> {
    const { storage } = this.ctx;
    if (!storage.registry.has(wanted.service)) {
      throw new ConflictError(`volume ${wanted.name} is on storage service ${JSON.stringify(wanted.service)}, which is not configured`);
    }
    const existing = storage.catalog.findByName(wanted.service, wanted.name);
    if (existing) return existing;
    const create = wanted.create ?? {};
    try {
      return await storage.catalog.create({
        service: wanted.service,
        name: wanted.name,
        size: create.size,
        type: create.type,
        iops: create.iops,
        fsType: create.fsType,
        encrypted: create.encrypted,
        profile: create.profile,
        fields: create.fields,
        availabilityZone: agent.zone,
        scheduler: this.ctx.scheduler,
        labels: { polly_app: spec.id },
      });
    } catch (err) {
      const raced = storage.catalog.findByName(wanted.service, wanted.name);
      if (raced) return raced;
      throw err;
    }
  }

  private mountFor(wanted: WantedVolume, volume: VolumeRecord): VolumeMount {
    const service = this.ctx.storage.registry.get(volume.service);
    if (service.definition.mapping === 'csi') return csiVolumeMount(wanted, volume, service);
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
}
