/**
 * The local master's state machine: frameworks, agents, offers, tasks. HTTP lives in the
 * endpoint modules; this class is what they call. It follows the real master's behaviour
 * (src/master/master.cpp) for everything a scheduler can observe.
 */
import { EventEmitter } from 'node:events';
import { mesos } from '../../generated/mesos';
import type { Logger } from '../../../shared/logger';
import { silentLogger } from '../../../shared/logger';
import type { MasterLink, SimulatedAgentApi } from '../agent-link';
import { AgentRegistry, type AgentRecord } from './agent-registry';
import { Allocator, refuseSecondsOf } from './allocator';
import { Framework, FrameworkRegistry, type TaskRecord } from './framework-registry';
import { MasterRegistry } from './master-registry';
import { validateFrameworkInfo } from './framework-validation';
import { MasterIds } from './ids';
import { OfferBook, type OfferRecord } from './offer-book';
import {
  type Resource,
  add,
  allocatedTo,
  clone,
  downgradeResource,
  has,
  normalize,
  scalar,
  subtract,
  withoutAllocation,
} from './resources';
import type { SubscriptionStream } from './subscription-stream';
import { isTerminal, stateFor } from './task-states';
import { processAccept } from './accept-processor';
import { reconcileTasks } from './reconciler';

const EventType = mesos.v1.scheduler.Event.Type;
const TaskState = mesos.v1.TaskState;
const Reason = mesos.v1.TaskStatus.Reason;
const Source = mesos.v1.TaskStatus.Source;

export const MESOS_VERSION = '1.11.0';

export interface LocalMasterOptions {
  masterId?: string;
  hostname: string;
  port: number;
  heartbeatIntervalSeconds: number;
  allocationIntervalMs: number;
  offerTimeoutMs?: number;
  agentPingTimeoutMs: number;
  maxCompletedFrameworks: number;
  /** The master's health check of an agent: true while the agent answers pings. */
  pingAgent?: (agentId: string) => boolean;
  /** The registry it recovers from and writes to; default: a new one in memory. */
  registry?: MasterRegistry;
  /**
   * How long agents recovered from the registry have to re-register before they are marked
   * unreachable (--agent_reregister_timeout, default 10 minutes).
   */
  agentReregisterTimeoutMs?: number;
  logger?: Logger;
}

export const DEFAULT_AGENT_REREGISTER_TIMEOUT_MS = 10 * 60 * 1000;

/** Events for operator-API subscribers (mesos.v1.master.Event types). */
export interface MasterEvents {
  taskAdded: [TaskRecord];
  taskUpdated: [TaskRecord, mesos.v1.ITaskStatus];
  agentAdded: [AgentRecord];
  agentRemoved: [AgentRecord];
  frameworkAdded: [Framework];
  frameworkUpdated: [Framework];
  frameworkRemoved: [Framework];
}

export class LocalMaster implements MasterLink {
  readonly ids: MasterIds;
  readonly frameworks: FrameworkRegistry;
  readonly agents = new AgentRegistry();
  readonly offers = new OfferBook();
  readonly allocator = new Allocator();
  readonly registry: MasterRegistry;
  readonly events = new EventEmitter<MasterEvents>();
  readonly startTime = Date.now() / 1000;
  readonly logger: Logger;
  private allocationTimer?: NodeJS.Timeout;
  private pingTimer?: NodeJS.Timeout;
  private pendingAllocation?: NodeJS.Immediate;
  private readonly lastPong = new Map<string, number>();
  /** Agents admitted in the registry that have not re-registered with this master yet (slaves.recovered). */
  private readonly recoveredAgents = new Map<string, mesos.v1.IAgentInfo>();
  private recoveredTimer?: NodeJS.Timeout;
  private stopped = false;
  /** Counters mirroring master metrics (offers sent / rescinded ...). */
  readonly metrics = { offersSent: 0, offersRescinded: 0, offersDeclined: 0, offersAccepted: 0 };

  constructor(readonly options: LocalMasterOptions) {
    this.ids = new MasterIds(options.masterId);
    this.frameworks = new FrameworkRegistry(options.maxCompletedFrameworks);
    this.logger = options.logger ?? silentLogger;
    this.allocationTimer = setInterval(() => this.allocate(), options.allocationIntervalMs);
    this.allocationTimer.unref();
    const pingEvery = Math.max(10, Math.floor(options.agentPingTimeoutMs / 5));
    this.pingTimer = setInterval(() => this.checkAgents(), pingEvery);
    this.pingTimer.unref();
    this.registry = options.registry ?? MasterRegistry.open();
    for (const info of this.registry.admitted()) this.recoveredAgents.set(info.id?.value ?? '', info);
    if (this.recoveredAgents.size > 0) {
      this.recoveredTimer = setTimeout(
        () => this.recoveredAgentsTimeout(),
        options.agentReregisterTimeoutMs ?? DEFAULT_AGENT_REREGISTER_TIMEOUT_MS,
      );
      this.recoveredTimer.unref();
    }
  }

  /**
   * Whether reconciliation must wait for agents: `agentId` (or, without one, any agent) is admitted
   * in the registry but has not re-registered since this master started.
   */
  isRecovering(agentId?: string): boolean {
    return agentId === undefined ? this.recoveredAgents.size > 0 : this.recoveredAgents.has(agentId);
  }

  /** AgentInfo of the agents still expected to re-register (GET_AGENTS' recovered_agents). */
  recoveredAgentInfos(): mesos.v1.IAgentInfo[] {
    return [...this.recoveredAgents.values()];
  }

  get masterId(): string {
    return this.ids.masterId;
  }

  masterInfo(): mesos.v1.IMasterInfo {
    return {
      id: this.masterId,
      // 127.0.0.1 as the in_addr the real master stores (network byte order read as a host uint32).
      ip: 0x0100007f,
      port: this.options.port,
      pid: `master@127.0.0.1:${this.options.port}`,
      hostname: this.options.hostname,
      version: MESOS_VERSION,
      address: { hostname: this.options.hostname, ip: '127.0.0.1', port: this.options.port },
    };
  }

  /** Closes every stream and timer; the agents are left to the cluster. */
  shutdown(): void {
    this.stopped = true;
    clearInterval(this.allocationTimer);
    clearInterval(this.pingTimer);
    clearTimeout(this.recoveredTimer);
    if (this.pendingAllocation) clearImmediate(this.pendingAllocation);
    this.offers.clear();
    for (const f of this.frameworks.all()) {
      if (f.failoverTimer) clearTimeout(f.failoverTimer);
      f.stream?.close();
    }
    this.events.removeAllListeners();
  }

  // ---------------------------------------------------------------- subscription

  /** SUBSCRIBE on an already-open stream (headers sent). */
  subscribe(stream: SubscriptionStream<mesos.v1.scheduler.Event>, call: mesos.v1.scheduler.Call.ISubscribe): void {
    const info = clone(call.framework_info) as mesos.v1.IFrameworkInfo;
    const suppressed = [...(call.suppressed_roles ?? [])];
    const refuse = (message: string): void => {
      stream.send({ type: EventType.ERROR, error: { message } });
      stream.close();
    };
    const error = validateFrameworkInfo(info, suppressed);
    if (error) return refuse(error);

    const requestedId = has(info, 'id') ? (info.id?.value as string) : undefined;
    if (requestedId !== undefined && this.frameworks.isCompleted(requestedId)) {
      return refuse('Framework has been removed');
    }
    const existing = requestedId !== undefined ? this.frameworks.get(requestedId) : undefined;
    const now = Date.now() / 1000;
    let framework: Framework;
    let added = false;
    if (existing) {
      if (!existing.recovered && (existing.info.principal ?? undefined) !== (has(info, 'principal') ? info.principal : undefined)) {
        return refuse("Changing framework's principal is not allowed.");
      }
      framework = existing;
      // Failover: the old stream (if any) hears about it and is closed.
      if (framework.stream?.isOpen) {
        const old = framework.stream;
        framework.stream = undefined;
        old.send({ type: EventType.ERROR, error: { message: 'Framework failed over' } });
        old.close();
      }
      if (framework.failoverTimer) clearTimeout(framework.failoverTimer);
      framework.failoverTimer = undefined;
      this.discardOffersOf(framework);
      // Immutable fields keep their old values on re-subscribe (preserveImmutableFields).
      const preserved = clone(info);
      if (!framework.recovered) {
        preserved.user = framework.info.user;
        if (has(framework.info, 'checkpoint')) preserved.checkpoint = framework.info.checkpoint;
        else delete preserved.checkpoint;
      }
      preserved.id = { value: framework.id };
      framework.info = preserved;
      framework.recovered = false;
      framework.reregisteredTime = now;
      if (framework.registeredTime === undefined) framework.registeredTime = now;
    } else {
      const id = requestedId ?? this.ids.nextFrameworkId();
      info.id = { value: id };
      framework = new Framework(id, info);
      framework.registeredTime = now;
      if (requestedId !== undefined) framework.reregisteredTime = now;
      this.frameworks.add(framework);
      added = true;
    }
    framework.stream = stream;
    framework.active = true;
    framework.unregisteredTime = undefined;
    framework.suppressedRoles = new Set(suppressed);
    framework.offerConstraints = call.offer_constraints ?? null;
    stream.onClose(() => this.streamClosed(framework, stream));

    stream.send({
      type: EventType.SUBSCRIBED,
      subscribed: {
        framework_id: { value: framework.id },
        heartbeat_interval_seconds: this.options.heartbeatIntervalSeconds,
        master_info: this.masterInfo(),
      },
    });
    stream.startHeartbeats(this.options.heartbeatIntervalSeconds * 1000, () => ({ type: EventType.HEARTBEAT }));
    this.logger.info('Framework subscribed', { frameworkId: framework.id, name: framework.info.name });
    if (requestedId !== undefined) {
      // Master::sendFrameworkUpdates: every agent learns the framework is back and resends at once
      // the updates it holds for it.
      for (const agent of this.agents.active()) agent.api.updateFramework(clone(framework.info));
    }
    this.events.emit(added ? 'frameworkAdded' : 'frameworkUpdated', framework);
    this.scheduleAllocation();
  }

  /** Master::exited: the framework is disconnected; its failover timer starts. */
  private streamClosed(framework: Framework, stream: SubscriptionStream<mesos.v1.scheduler.Event>): void {
    if (this.stopped || framework.stream !== stream) return;
    framework.stream = undefined;
    framework.active = false;
    framework.unregisteredTime = Date.now() / 1000;
    this.discardOffersOf(framework);
    const timeoutMs = Math.max(0, Number(framework.info.failover_timeout ?? 0) * 1000);
    this.logger.info('Framework disconnected', { frameworkId: framework.id, failoverTimeoutMs: timeoutMs });
    framework.failoverTimer = setTimeout(() => {
      framework.failoverTimer = undefined;
      if (!framework.connected) this.removeFramework(framework);
    }, Math.min(timeoutMs, 2 ** 31 - 1));
    framework.failoverTimer.unref();
    this.events.emit('frameworkUpdated', framework);
  }

  /** Cuts a framework's stream as a network failure would. */
  dropStream(frameworkId: string): void {
    this.frameworks.get(frameworkId)?.stream?.destroy();
  }

  /** TEARDOWN or failover timeout: kill tasks, forget offers, close the stream (no ERROR). */
  removeFramework(framework: Framework): void {
    if (framework.failoverTimer) clearTimeout(framework.failoverTimer);
    framework.failoverTimer = undefined;
    this.discardOffersOf(framework);
    framework.active = false;
    const agentsToTell = new Set<string>();
    for (const record of [...framework.tasks.values(), ...framework.unreachableTasks.values()]) {
      agentsToTell.add(record.agentId);
      if (!isTerminal(record.task.state)) {
        const status = this.masterStatus(record, TaskState.TASK_KILLED, Reason.REASON_FRAMEWORK_REMOVED, 'Framework removed');
        this.applyStatus(record, status);
        this.events.emit('taskUpdated', record, status);
      }
      framework.completeTask(record.task.task_id.value);
    }
    for (const agentId of agentsToTell) {
      const agent = this.agents.get(agentId);
      if (agent && agent.status === 'active' && this.reachable(agentId)) agent.api.shutdownFramework(framework.id);
    }
    this.allocator.removeFramework(framework.id);
    const stream = framework.stream;
    framework.stream = undefined;
    stream?.close();
    framework.unregisteredTime = Date.now() / 1000;
    this.frameworks.complete(framework);
    this.logger.info('Framework removed', { frameworkId: framework.id });
    this.events.emit('frameworkRemoved', framework);
  }

  /** UPDATE_FRAMEWORK: returns an error message for a 400, or undefined. */
  updateFramework(framework: Framework, call: mesos.v1.scheduler.Call.IUpdateFramework): string | undefined {
    const info = clone(call.framework_info) as mesos.v1.IFrameworkInfo;
    const suppressed = [...(call.suppressed_roles ?? [])];
    if ((info.id?.value ?? '') !== framework.id) return "'FrameworkInfo.id' is not set to the framework's ID";
    const error = validateFrameworkInfo(info, suppressed);
    if (error) return error;
    if ((info.principal ?? undefined) !== (framework.info.principal ?? undefined)) return "Changing framework's principal is not allowed.";
    if (info.user !== framework.info.user) return `Updating 'FrameworkInfo.user' is unsupported; attempted to update from '${framework.info.user}' to '${info.user}'`;
    if (Boolean(info.checkpoint) !== Boolean(framework.info.checkpoint)) {
      return `Updating 'FrameworkInfo.checkpoint' is unsupported; attempted to update from '${Boolean(framework.info.checkpoint)}' to '${Boolean(info.checkpoint)}'`;
    }
    const oldRoles = new Set(framework.roles);
    framework.info = info;
    framework.suppressedRoles = new Set(suppressed);
    if (has(call, 'offer_constraints')) framework.offerConstraints = call.offer_constraints;
    const newRoles = new Set(framework.roles);
    // Offers for removed or newly suppressed roles are rescinded.
    for (const offer of this.offers.ofFramework(framework.id)) {
      if ((oldRoles.has(offer.role) && !newRoles.has(offer.role)) || framework.suppressedRoles.has(offer.role)) {
        this.rescindOffer(offer);
      }
    }
    this.events.emit('frameworkUpdated', framework);
    this.scheduleAllocation();
    return undefined;
  }

  // ---------------------------------------------------------------- offers

  scheduleAllocation(): void {
    if (this.pendingAllocation || this.stopped) return;
    this.pendingAllocation = setImmediate(() => {
      this.pendingAllocation = undefined;
      this.allocate();
    });
  }

  /** Resources held on an agent by tasks (non-terminal) and executors. */
  usedOn(agentId: string): Resource[] {
    let used: Resource[] = [];
    for (const f of this.frameworks.all()) {
      for (const record of f.tasks.values()) {
        if (record.agentId === agentId && !isTerminal(record.task.state)) used = used.concat(record.resources);
      }
    }
    return normalize(used);
  }

  offeredOn(agentId: string): Resource[] {
    return normalize(this.offers.onAgent(agentId).flatMap((o) => o.resources));
  }

  available(agent: AgentRecord): Resource[] {
    const taken = withoutAllocation([...this.usedOn(agent.id), ...this.offeredOn(agent.id)]);
    return subtract(agent.total, taken);
  }

  allocatedTo(framework: Framework): Resource[] {
    let out: Resource[] = [];
    for (const r of framework.tasks.values()) if (!isTerminal(r.task.state)) out = out.concat(r.resources);
    return normalize(out);
  }

  offeredTo(framework: Framework): Resource[] {
    return normalize(this.offers.ofFramework(framework.id).flatMap((o) => o.resources));
  }

  allocate(): void {
    if (this.stopped) return;
    const decisions = this.allocator.allocate(
      this.frameworks.all(),
      this.agents.active(),
      (agent) => this.available(agent),
      (f) => scalar(this.allocatedTo(f), 'cpus') + scalar(this.offeredTo(f), 'cpus'),
    );
    const byFramework = new Map<Framework, OfferRecord[]>();
    for (const d of decisions) {
      const offer: OfferRecord = {
        id: this.ids.nextOfferId(),
        frameworkId: d.framework.id,
        agentId: d.agent.id,
        role: d.role,
        resources: allocatedTo(d.resources, d.role),
      };
      this.offers.add(offer);
      if (this.options.offerTimeoutMs !== undefined) {
        offer.timer = setTimeout(() => this.offerTimedOut(offer.id), this.options.offerTimeoutMs);
        offer.timer.unref();
      }
      const list = byFramework.get(d.framework) ?? [];
      list.push(offer);
      byFramework.set(d.framework, list);
    }
    for (const [framework, list] of byFramework) {
      this.metrics.offersSent += list.length;
      framework.send({ type: EventType.OFFERS, offers: { offers: list.map((o) => this.offerMessage(framework, o)) } });
    }
  }

  /** The Offer as this framework may see it (Master::offer's format downgrade). */
  offerMessage(framework: Framework, offer: OfferRecord): mesos.v1.IOffer {
    const agent = this.agents.get(offer.agentId);
    const info = agent?.info;
    let resources = offer.resources.map(clone);
    if (!framework.multiRole) resources = withoutAllocation(resources);
    if (!framework.reservationRefinement) resources = resources.map(downgradeResource);
    const message: mesos.v1.IOffer = {
      id: { value: offer.id },
      framework_id: { value: offer.frameworkId },
      agent_id: { value: offer.agentId },
      hostname: info?.hostname ?? '',
      url: {
        scheme: 'http',
        address: { hostname: info?.hostname ?? '', ip: '127.0.0.1', port: info?.port ?? 5051 },
        path: '/slave(1)',
      },
      resources,
      attributes: clone(info?.attributes ?? []),
      executor_ids: [...(framework.executors.get(offer.agentId)?.keys() ?? [])].map((value) => ({ value })),
    };
    if (info?.domain) message.domain = clone(info.domain);
    if (framework.multiRole) message.allocation_info = { role: offer.role };
    return message;
  }

  /** An offer comes back unused: forget it, optionally filter its resources. */
  recoverOffer(offer: OfferRecord, refuseSeconds: number): void {
    this.offers.remove(offer.id);
    this.allocator.refuse(offer.frameworkId, offer.role, offer.agentId, withoutAllocation(offer.resources), refuseSeconds);
  }

  rescindOffer(offer: OfferRecord): void {
    if (!this.offers.remove(offer.id)) return;
    this.metrics.offersRescinded++;
    this.frameworks.get(offer.frameworkId)?.send({ type: EventType.RESCIND, rescind: { offer_id: { value: offer.id } } });
  }

  private offerTimedOut(offerId: string): void {
    const offer = this.offers.get(offerId);
    if (!offer) return;
    this.rescindOffer(offer);
    this.scheduleAllocation();
  }

  /** Offers of a disconnected or failed-over framework are discarded (no RESCIND: the stream is gone). */
  private discardOffersOf(framework: Framework): void {
    for (const offer of this.offers.ofFramework(framework.id)) this.offers.remove(offer.id);
  }

  // ---------------------------------------------------------------- scheduler calls

  accept(framework: Framework, accept: mesos.v1.scheduler.Call.IAccept): void {
    processAccept(this, framework, accept);
    this.scheduleAllocation();
  }

  decline(framework: Framework, decline: mesos.v1.scheduler.Call.IDecline): void {
    const seconds = refuseSecondsOf(decline.filters);
    for (const id of decline.offer_ids ?? []) {
      const offer = this.offers.get(id.value);
      if (!offer || offer.frameworkId !== framework.id) {
        this.logger.debug('Ignoring DECLINE of unknown offer', { offerId: id.value });
        continue;
      }
      this.metrics.offersDeclined++;
      this.recoverOffer(offer, seconds);
    }
  }

  revive(framework: Framework, roles: readonly string[]): void {
    const target = roles.length > 0 ? roles.filter((r) => framework.roles.includes(r)) : framework.roles;
    for (const role of target) framework.suppressedRoles.delete(role);
    this.allocator.clearFilters(framework.id, roles.length > 0 ? target : undefined);
    this.scheduleAllocation();
  }

  suppress(framework: Framework, roles: readonly string[]): void {
    const target = roles.length > 0 ? roles.filter((r) => framework.roles.includes(r)) : framework.roles;
    for (const role of target) framework.suppressedRoles.add(role);
  }

  kill(framework: Framework, kill: mesos.v1.scheduler.Call.IKill): void {
    const taskId = kill.task_id.value;
    const record = framework.tasks.get(taskId);
    if (!record) {
      // Master::kill of an unknown task answers with reconciliation for it.
      reconcileTasks(this, framework, [{ task_id: { value: taskId }, agent_id: kill.agent_id ?? undefined }]);
      return;
    }
    const agent = this.agents.get(record.agentId);
    // A kill sent to an agent that does not answer is lost, as the message would be.
    if (!agent || agent.status !== 'active' || !this.reachable(agent.id)) return;
    agent.api.kill(framework.id, taskId, kill.kill_policy ?? null);
  }

  acknowledge(framework: Framework, ack: mesos.v1.scheduler.Call.IAcknowledge): void {
    const agent = this.agents.get(ack.agent_id.value);
    if (!agent || agent.status !== 'active' || !this.reachable(agent.id)) {
      this.logger.warn('Dropping acknowledgement for an unknown or disconnected agent', { agentId: ack.agent_id.value });
      return;
    }
    const taskId = ack.task_id.value;
    const uuid = ack.uuid;
    agent.api.acknowledge(framework.id, taskId, uuid);
    const record = framework.tasks.get(taskId);
    if (
      record &&
      isTerminal(record.task.status_update_state) &&
      record.task.status_update_uuid &&
      Buffer.from(record.task.status_update_uuid).equals(Buffer.from(uuid))
    ) {
      framework.completeTask(taskId);
    }
  }

  reconcile(framework: Framework, reconcile: mesos.v1.scheduler.Call.IReconcile): void {
    reconcileTasks(this, framework, reconcile.tasks ?? []);
  }

  shutdownExecutor(framework: Framework, shutdown: mesos.v1.scheduler.Call.IShutdown): void {
    const agent = this.agents.get(shutdown.agent_id.value);
    if (!agent || agent.status !== 'active') return;
    // Killing the executor's tasks is what the simulated agent can do for a shutdown.
    for (const record of framework.tasks.values()) {
      if (record.agentId === agent.id && record.task.executor_id?.value === shutdown.executor_id.value) {
        agent.api.kill(framework.id, record.task.task_id.value, null);
      }
    }
  }

  // ---------------------------------------------------------------- tasks and updates

  /** A master-generated status (no uuid). */
  masterStatus(record: TaskRecord, state: number, reason: number, message: string): mesos.v1.ITaskStatus {
    return {
      task_id: { value: record.task.task_id.value },
      state,
      source: Source.SOURCE_MASTER,
      reason,
      message,
      agent_id: { value: record.agentId },
      timestamp: Date.now() / 1000,
    };
  }

  /** Records a status on the master's task (Master::updateTask). */
  applyStatus(record: TaskRecord, status: mesos.v1.ITaskStatus): void {
    const task = record.task;
    task.state = status.state;
    task.status_update_state = status.state;
    if (status.uuid && status.uuid.length > 0) task.status_update_uuid = status.uuid;
    else delete task.status_update_uuid;
    const statuses = task.statuses ?? [];
    // The master keeps the latest status per state change (without data, like the real one).
    const kept = clone(status);
    delete kept.data;
    statuses.push(kept);
    task.statuses = statuses;
  }

  /** Sends a master-generated update for a task (mapped for non-partition-aware frameworks). */
  sendStatus(framework: Framework, status: mesos.v1.ITaskStatus): void {
    const mapped = { ...status, state: stateFor(framework.partitionAware, status.state) };
    framework.send({ type: EventType.UPDATE, update: { status: mapped } });
  }

  addTask(framework: Framework, agent: AgentRecord, task: mesos.v1.ITaskInfo, resources: Resource[], executor?: mesos.v1.IExecutorInfo | null): TaskRecord {
    const record: TaskRecord = {
      agentId: agent.id,
      resources,
      task: {
        name: task.name,
        task_id: { value: task.task_id.value },
        framework_id: { value: framework.id },
        agent_id: { value: agent.id },
        state: TaskState.TASK_STAGING,
        resources: task.resources ?? [],
        statuses: [],
      },
    };
    if (executor) record.task.executor_id = { value: executor.executor_id.value };
    for (const field of ['labels', 'discovery', 'container', 'health_check', 'kill_policy', 'limits'] as const) {
      if (has(task, field)) (record.task as unknown as Record<string, unknown>)[field] = clone(task[field]);
    }
    if (has(task, 'command') && has(task.command, 'user')) record.task.user = task.command?.user;
    else if (has(framework.info, 'user')) record.task.user = framework.info.user;
    framework.tasks.set(task.task_id.value, record);
    this.events.emit('taskAdded', record);
    return record;
  }

  // ---------------------------------------------------------------- MasterLink (agent → master)

  statusUpdate(agentId: string, frameworkId: string, status: mesos.v1.ITaskStatus): void {
    if (this.stopped) return;
    const agent = this.agents.get(agentId);
    if (!agent || agent.status !== 'active') return;
    this.lastPong.set(agentId, Date.now());
    const framework = this.frameworks.get(frameworkId);
    if (!framework) return;
    const taskId = status.task_id.value;
    const record = framework.tasks.get(taskId);
    if (record) {
      const wasTerminal = isTerminal(record.task.state);
      this.applyStatus(record, status);
      this.events.emit('taskUpdated', record, status);
      if (!wasTerminal && isTerminal(status.state)) this.scheduleAllocation();
    }
    // Agent updates are forwarded as they are (uuid included); lost when the framework is away,
    // and the agent resends them.
    framework.send({ type: EventType.UPDATE, update: { status } });
  }

  agentRegistered(api: SimulatedAgentApi, reregistered: boolean): void {
    if (this.stopped) return;
    const info = api.info();
    const id = api.agentId;
    const now = Date.now() / 1000;
    const existing = this.agents.get(id);
    this.lastPong.set(id, Date.now());
    const record: AgentRecord = existing ?? {
      id,
      api,
      info,
      total: normalize(info.resources ?? []),
      status: 'active',
      registeredTime: now,
    };
    record.api = api;
    record.info = info;
    record.total = normalize(withoutAllocation(info.resources ?? []));
    const wasKnown = existing !== undefined && existing.status !== 'gone';
    record.status = 'active';
    record.unreachableTime = undefined;
    if (reregistered || existing) record.reregisteredTime = now;
    const recovered = this.recoveredAgents.delete(id);
    this.registry.admit(info);
    this.agents.set(record);
    this.adoptAgentTasks(record, recovered);
    this.logger.info(reregistered ? 'Agent re-registered' : 'Agent registered', { agentId: id, hostname: info.hostname, recovered });
    if (!wasKnown) this.events.emit('agentAdded', record);
    this.scheduleAllocation();
  }

  /**
   * Tasks an agent reports on (re-)registration become known again. A task that was unreachable is
   * reported to its framework as it is now ("Unreachable agent re-reregistered", REASON_AGENT_REREGISTERED),
   * as Master::__reregisterSlave does for agents that were not recovered from the registry.
   */
  private adoptAgentTasks(agent: AgentRecord, recovered = false): void {
    for (const view of agent.api.tasks()) {
      let framework = this.frameworks.get(view.frameworkId);
      if (!framework) {
        if (this.frameworks.isCompleted(view.frameworkId)) {
          agent.api.shutdownFramework(view.frameworkId);
          continue;
        }
        // Recovered framework: known from its tasks (and the agent's FrameworkInfo) until it re-subscribes.
        const info = agent.api.frameworkInfo(view.frameworkId);
        framework = new Framework(view.frameworkId, info ? clone(info) : { user: '', name: '', id: { value: view.frameworkId } });
        framework.recovered = true;
        this.frameworks.add(framework);
        this.events.emit('frameworkAdded', framework);
      }
      const taskId = view.task.task_id.value;
      const unreachable = framework.unreachableTasks.get(taskId);
      if (unreachable) {
        framework.unreachableTasks.delete(taskId);
        unreachable.task = clone(view.task);
        framework.tasks.set(taskId, unreachable);
        this.events.emit('taskUpdated', unreachable, { task_id: { value: taskId }, state: view.task.state });
        if (!recovered && framework.connected) {
          const status: mesos.v1.ITaskStatus = {
            task_id: { value: taskId },
            state: view.task.state,
            source: mesos.v1.TaskStatus.Source.SOURCE_MASTER,
            reason: Reason.REASON_AGENT_REREGISTERED,
            message: 'Unreachable agent re-reregistered',
            agent_id: { value: agent.id },
            timestamp: Date.now() / 1000,
          };
          if (view.task.executor_id) status.executor_id = { value: view.task.executor_id.value };
          this.sendStatus(framework, status);
        }
        continue;
      }
      if (framework.tasks.has(taskId)) {
        const known = framework.tasks.get(taskId) as TaskRecord;
        known.task = clone(view.task);
        continue;
      }
      if (framework.completedTasks.some((t) => t.task.task_id.value === taskId && t.agentId === agent.id)) {
        // Marked LOST while the agent was away (not partition-aware): the task must not live on.
        agent.api.kill(framework.id, taskId, null);
        continue;
      }
      const task = clone(view.task);
      const resources = (task.resources ?? []).map((r) => (has(r, 'allocation_info') ? r : { ...r, allocation_info: { role: framework!.roles[0] ?? '*' } }));
      const record: TaskRecord = { agentId: agent.id, resources, task };
      framework.tasks.set(taskId, record);
      this.events.emit('taskAdded', record);
    }
  }

  agentUnregistered(agentId: string): void {
    const agent = this.agents.get(agentId);
    if (!agent || agent.status === 'gone') return;
    this.registry.remove(agentId);
    this.removeAgentTasks(agent, 'gone', TaskState.TASK_GONE, Reason.REASON_AGENT_REMOVED, 'Agent unregistered');
  }

  /** Operator MARK_AGENT_GONE (also of an agent known only from the registry). */
  markAgentGone(agentId: string): void {
    const agent = this.agents.get(agentId);
    if (!agent) {
      if (this.recoveredAgents.delete(agentId) || this.registry.unreachableSince(agentId) !== undefined) {
        this.registry.markGone(agentId, Date.now() / 1000);
        this.logger.warn('Agent marked gone (known from the registry only)', { agentId });
      }
      return;
    }
    if (agent.status === 'gone') return;
    this.registry.markGone(agentId, Date.now() / 1000);
    if (agent.status === 'active') {
      for (const f of this.frameworks.all()) {
        if ([...f.tasks.values()].some((t) => t.agentId === agentId)) agent.api.shutdownFramework(f.id);
      }
    }
    this.removeAgentTasks(agent, 'gone', TaskState.TASK_GONE_BY_OPERATOR, Reason.REASON_AGENT_REMOVED_BY_OPERATOR, 'Agent marked gone by operator');
  }

  /** Health check failed: the agent is unreachable (Master::markUnreachable). */
  markUnreachable(agentId: string): void {
    const agent = this.agents.get(agentId);
    if (!agent || agent.status !== 'active') return;
    this.removeAgentTasks(agent, 'unreachable', TaskState.TASK_UNREACHABLE, Reason.REASON_AGENT_REMOVED, `Agent ${agent.info.hostname} is unreachable`);
  }

  private removeAgentTasks(agent: AgentRecord, status: 'gone' | 'unreachable', state: number, reason: number, message: string): void {
    agent.status = status;
    if (status === 'unreachable') {
      agent.unreachableTime = Date.now() / 1000;
      this.registry.markUnreachable(agent.id, agent.unreachableTime);
    }
    for (const offer of this.offers.onAgent(agent.id)) this.rescindOffer(offer);
    for (const framework of this.frameworks.all()) {
      for (const record of [...framework.tasks.values(), ...framework.unreachableTasks.values()]) {
        if (record.agentId !== agent.id) continue;
        const taskId = record.task.task_id.value;
        if (isTerminal(record.task.state)) {
          framework.completeTask(taskId);
          continue;
        }
        const mapped = stateFor(framework.partitionAware, state);
        const taskStatus = this.masterStatus(record, mapped, reason, message);
        if (mapped === TaskState.TASK_UNREACHABLE) taskStatus.unreachable_time = { nanoseconds: Math.round(Date.now() * 1e6) };
        this.applyStatus(record, taskStatus);
        this.events.emit('taskUpdated', record, taskStatus);
        if (mapped === TaskState.TASK_UNREACHABLE) {
          framework.tasks.delete(taskId);
          framework.unreachableTasks.set(taskId, record);
        } else {
          framework.completeTask(taskId);
        }
        framework.send({ type: EventType.UPDATE, update: { status: taskStatus } });
      }
    }
    for (const framework of this.frameworks.all()) {
      framework.send({ type: EventType.FAILURE, failure: { agent_id: { value: agent.id } } });
    }
    this.logger.warn(`Agent ${status}`, { agentId: agent.id });
    this.events.emit('agentRemoved', agent);
  }

  /** Master::recoveredSlavesTimeout: agents of the registry that did not come back are unreachable. */
  private recoveredAgentsTimeout(): void {
    this.recoveredTimer = undefined;
    const now = Date.now() / 1000;
    for (const [agentId, info] of this.recoveredAgents) {
      this.registry.markUnreachable(agentId, now);
      this.logger.warn('Agent did not re-register after the master restarted; marked unreachable', { agentId, hostname: info.hostname });
    }
    this.recoveredAgents.clear();
  }

  private reachable(agentId: string): boolean {
    return this.options.pingAgent ? this.options.pingAgent(agentId) : true;
  }

  private checkAgents(): void {
    const now = Date.now();
    for (const agent of this.agents.active()) {
      if (this.reachable(agent.id)) {
        this.lastPong.set(agent.id, now);
        continue;
      }
      const last = this.lastPong.get(agent.id) ?? now;
      if (now - last >= this.options.agentPingTimeoutMs) this.markUnreachable(agent.id);
    }
  }

  /** Speculative operations change the agent's total; the agent checkpoints it. */
  checkpoint(agent: AgentRecord, total: Resource[]): void {
    agent.total = normalize(total);
    agent.api.checkpointResources(agent.total.map(clone));
  }

  /** Shared helper for ACCEPT: what stays reserved/used etc. */
  totalWith(agent: AgentRecord, removed: Resource[], added: Resource[]): Resource[] {
    return add(subtract(agent.total, withoutAllocation(removed)), withoutAllocation(added));
  }
}
