/**
 * The Mesos v1 scheduler driver: keeps one subscription alive (SUBSCRIBE, re-subscribe with
 * backoff, heartbeat watchdog), turns events into typed emitter events, and offers one method per
 * Call type. Layers: MesosHttpTransport → SchedulerSession → SchedulerEventStream (RecordIO
 * framing → MessageCodec) → this.
 */
import type { IncomingMessage } from 'node:http';
import { AbortedError, Backoff } from '../backoff';
import { MessageCodec, WireFormat } from '../codec';
import { mesos } from '../generated/mesos';
import { MesosHttpError } from '../http/mesos-http-error';
import { Credentials, MesosHttpTransport, TlsOptions } from '../http/mesos-http-transport';
import type { Logger } from '../../shared/logger';
import { silentLogger } from '../../shared/logger';
import type { MasterDetector } from '../master-detector';
import { TypedEmitter } from '../../shared/typed-emitter';
import { SchedulerEventStream } from './scheduler-event-stream';
import { SchedulerSession, SessionStateName } from './scheduler-session';

export interface SchedulerClientOptions {
  detector: MasterDetector;
  /** Set `.id` to resume an existing framework. */
  frameworkInfo: mesos.v1.IFrameworkInfo;
  /** Wire format of calls and events; default protobuf. */
  format?: WireFormat;
  credentials?: Credentials;
  tls?: TlsOptions;
  /** Roles to subscribe suppressed (no offers until REVIVE). */
  suppressedRoles?: string[];
  /** Heartbeats missed before the stream is dropped and re-subscribed; default 5. */
  missedHeartbeats?: number;
  /**
   * Overrides `missedHeartbeats × heartbeat_interval_seconds` as the silence after which the
   * stream is considered dead (also bounds the wait for SUBSCRIBED). Mainly for tests.
   */
  heartbeatTimeoutMs?: number;
  /** Re-subscription backoff; default 1 s .. 15 s, jittered. */
  backoff?: { minMs?: number; maxMs?: number };
  /** Default true: after the 'update' listeners ran, ACK iff status.uuid is set (same for operation updates). */
  autoAcknowledge?: boolean;
  logger?: Logger;
}

export interface SubscribedInfo {
  frameworkId: string;
  heartbeatIntervalSeconds: number;
  masterInfo: mesos.v1.MasterInfo | undefined;
  /** True when the SUBSCRIBE carried a framework ID (an existing framework was resumed). */
  resubscribed: boolean;
}

export interface SchedulerClientEvents {
  subscribed: SubscribedInfo;
  offers: mesos.v1.Offer[];
  inverseOffers: mesos.v1.InverseOffer[];
  /** The rescinded offer's ID. */
  rescind: string;
  rescindInverseOffer: string;
  update: mesos.v1.TaskStatus;
  updateOperationStatus: mesos.v1.OperationStatus;
  message: { agentId: string; executorId: string; data: Uint8Array };
  /** Agent lost (agentId only) or executor exited (with executorId and exit status). */
  failure: { agentId?: string; executorId?: string; status?: number };
  /** An ERROR event's message; the client stops right after. */
  mesosError: string;
  connected: URL;
  disconnected: { reason: string; willRetry: boolean };
  stopped: { reason: string };
  heartbeat: void;
}

export type SchedulerState = SessionStateName;

const CallType = mesos.v1.scheduler.Call.Type;
const EventType = mesos.v1.scheduler.Event.Type;
/** Mesos' fixed heartbeat interval, assumed until SUBSCRIBED says otherwise. */
const DEFAULT_HEARTBEAT_SECONDS = 15;

/** One open event stream: its decoder, watchdog, and how it ended. */
interface Connection {
  body: IncomingMessage;
  events: SchedulerEventStream;
  watchdog: NodeJS.Timeout | undefined;
  ended: boolean;
  finish(reason: string): void;
}

export class SchedulerClient extends TypedEmitter<SchedulerClientEvents> {
  private readonly detector: MasterDetector;
  private readonly transport: MesosHttpTransport;
  private readonly session: SchedulerSession;
  private readonly format: WireFormat;
  private readonly logger: Logger;
  private readonly backoff: Backoff;
  private readonly missedHeartbeats: number;
  private readonly heartbeatTimeoutMs: number | undefined;
  private readonly autoAcknowledge: boolean;
  private frameworkInfo: mesos.v1.IFrameworkInfo;
  private offerConstraints: mesos.v1.scheduler.IOfferConstraints | undefined;
  private readonly suppressedRoles: Set<string>;
  private knownFrameworkId: string | undefined;
  private abort: AbortController | undefined;
  private loop: Promise<void> | undefined;
  private connection: Connection | undefined;
  /** Whether the SUBSCRIBE in flight carried a framework ID. */
  private resuming = false;

  constructor(options: SchedulerClientOptions) {
    super();
    const format = options.format ?? 'protobuf';
    this.detector = options.detector;
    this.logger = options.logger ?? silentLogger;
    this.frameworkInfo = { ...options.frameworkInfo };
    this.knownFrameworkId = options.frameworkInfo.id?.value || undefined;
    this.suppressedRoles = new Set(options.suppressedRoles ?? []);
    this.missedHeartbeats = options.missedHeartbeats ?? 5;
    this.heartbeatTimeoutMs = options.heartbeatTimeoutMs;
    this.autoAcknowledge = options.autoAcknowledge ?? true;
    this.backoff = new Backoff({ minMs: options.backoff?.minMs ?? 1000, maxMs: options.backoff?.maxMs ?? 15000, jitter: 'equal' });
    this.transport = new MesosHttpTransport({
      detector: options.detector,
      path: 'api/v1/scheduler',
      credentials: options.credentials,
      tls: options.tls,
      // A 503 is never retried here, for any call, as in Mesos' own scheduler library (it logs a
      // 503 and drops the call; src/scheduler/scheduler.cpp) and mesos-go's httpsched (it returns
      // the error to the caller). SUBSCRIBE: the re-subscribe loop's jittered backoff is its only
      // retry, so a recovering master sees one SUBSCRIBE per backoff step, not a burst. Other calls:
      // a 503 from the master holding our stream means that master is no longer leading or is
      // recovering, so the stream (and its Mesos-Stream-Id) is about to end; a retry could only be
      // refused, and what the call was for is redone after re-subscribing (reconciliation, fresh
      // offers, the agent resending unacknowledged updates). The caller gets the temporary
      // ServiceUnavailableError.
      unavailableRetries: 0,
      logger: this.logger,
    });
    this.session = new SchedulerSession(
      this.transport,
      new MessageCodec(mesos.v1.scheduler.Call, format),
      new MessageCodec(mesos.v1.scheduler.Event, format).mediaType,
    );
    this.format = format;
    this.onAckFailed = this.onAckFailed.bind(this);
    // A detector that learns of a new leading master (ZooKeeper) ends the stream to the old one,
    // so the loop re-subscribes — with the same framework ID — to the new leader.
    this.stopFollowingLeader = this.detector.onChange((url) => {
      const master = this.masterUrl;
      if (this.connection && master && master.href !== url.href) this.connection.finish(`The leading master changed to ${url.href}`);
    });
  }

  private readonly stopFollowingLeader: () => void;

  get frameworkId(): string | undefined {
    return this.knownFrameworkId;
  }

  get state(): SchedulerState {
    return this.session.name;
  }

  get masterUrl(): URL | undefined {
    return this.session.master;
  }

  get streamId(): string | undefined {
    return this.session.streamId;
  }

  /** Connects and subscribes, and keeps re-subscribing (with backoff) until stop(). */
  start(): void {
    if (this.session.name === 'stopped') throw new Error('SchedulerClient was stopped; create a new one');
    if (this.loop) return;
    const abort = new AbortController();
    this.abort = abort;
    this.loop = this.run(abort.signal).catch((err: unknown) => {
      this.halt(`Scheduler loop failed: ${(err as Error).message}`);
    });
  }

  /** Closes the stream WITHOUT teardown: the framework keeps running for its failover_timeout. */
  async stop(): Promise<void> {
    this.stopFollowingLeader();
    this.halt('stopped by client');
    await this.loop;
  }

  // ---- calls -------------------------------------------------------------------------------

  /** Removes the framework (kills all its tasks), then stops this client. */
  async teardown(): Promise<void> {
    await this.send({ type: CallType.TEARDOWN });
    this.halt('framework torn down');
    await this.loop;
  }

  accept(offerIds: string[], operations: mesos.v1.Offer.IOperation[], filters?: mesos.v1.IFilters): Promise<void> {
    return this.send({ type: CallType.ACCEPT, accept: { offer_ids: offerIds.map(idOf), operations, filters } });
  }

  decline(offerIds: string[], filters?: mesos.v1.IFilters): Promise<void> {
    return this.send({ type: CallType.DECLINE, decline: { offer_ids: offerIds.map(idOf), filters } });
  }

  /** Un-suppresses and clears filters for the roles (all roles when empty). */
  async revive(roles: string[] = []): Promise<void> {
    await this.send({ type: CallType.REVIVE, revive: { roles } });
    if (roles.length === 0) this.suppressedRoles.clear();
    else for (const role of roles) this.suppressedRoles.delete(role);
  }

  /** Stops offers for the roles (all roles when empty); remembered across re-subscriptions. */
  async suppress(roles: string[] = []): Promise<void> {
    await this.send({ type: CallType.SUPPRESS, suppress: { roles } });
    for (const role of roles.length > 0 ? roles : this.frameworkRoles()) this.suppressedRoles.add(role);
  }

  kill(taskId: string, agentId?: string, killPolicy?: mesos.v1.IKillPolicy): Promise<void> {
    return this.send({
      type: CallType.KILL,
      kill: { task_id: idOf(taskId), agent_id: agentId === undefined ? undefined : idOf(agentId), kill_policy: killPolicy },
    });
  }

  shutdown(executorId: string, agentId: string): Promise<void> {
    return this.send({ type: CallType.SHUTDOWN, shutdown: { executor_id: idOf(executorId), agent_id: idOf(agentId) } });
  }

  acknowledge(agentId: string, taskId: string, uuid: Uint8Array): Promise<void> {
    return this.send({ type: CallType.ACKNOWLEDGE, acknowledge: { agent_id: idOf(agentId), task_id: idOf(taskId), uuid } });
  }

  acknowledgeOperationStatus(agentId: string, resourceProviderId: string | undefined, uuid: Uint8Array, operationId: string): Promise<void> {
    return this.send({
      type: CallType.ACKNOWLEDGE_OPERATION_STATUS,
      acknowledge_operation_status: {
        agent_id: idOf(agentId),
        resource_provider_id: resourceProviderId === undefined ? undefined : idOf(resourceProviderId),
        uuid,
        operation_id: idOf(operationId),
      },
    });
  }

  /** Explicit reconciliation for the listed tasks; implicit (every known task) when the list is empty. */
  reconcile(tasks: { taskId: string; agentId?: string }[]): Promise<void> {
    return this.send({
      type: CallType.RECONCILE,
      reconcile: {
        tasks: tasks.map((t) => ({ task_id: idOf(t.taskId), agent_id: t.agentId === undefined ? undefined : idOf(t.agentId) })),
      },
    });
  }

  reconcileOperations(ops: { operationId: string; agentId?: string; resourceProviderId?: string }[]): Promise<void> {
    return this.send({
      type: CallType.RECONCILE_OPERATIONS,
      reconcile_operations: {
        operations: ops.map((o) => ({
          operation_id: idOf(o.operationId),
          agent_id: o.agentId === undefined ? undefined : idOf(o.agentId),
          resource_provider_id: o.resourceProviderId === undefined ? undefined : idOf(o.resourceProviderId),
        })),
      },
    });
  }

  message(agentId: string, executorId: string, data: Uint8Array): Promise<void> {
    return this.send({ type: CallType.MESSAGE, message: { agent_id: idOf(agentId), executor_id: idOf(executorId), data } });
  }

  request(requests: mesos.v1.IRequest[]): Promise<void> {
    return this.send({ type: CallType.REQUEST, request: { requests } });
  }

  acceptInverseOffers(ids: string[], filters?: mesos.v1.IFilters): Promise<void> {
    return this.send({ type: CallType.ACCEPT_INVERSE_OFFERS, accept_inverse_offers: { inverse_offer_ids: ids.map(idOf), filters } });
  }

  declineInverseOffers(ids: string[], filters?: mesos.v1.IFilters): Promise<void> {
    return this.send({ type: CallType.DECLINE_INVERSE_OFFERS, decline_inverse_offers: { inverse_offer_ids: ids.map(idOf), filters } });
  }

  /**
   * Changes FrameworkInfo (and suppressed roles / offer constraints) synchronously; the new values
   * are also used for later re-subscriptions.
   */
  async updateFramework(
    frameworkInfo: mesos.v1.IFrameworkInfo,
    suppressedRoles?: string[],
    offerConstraints?: mesos.v1.scheduler.IOfferConstraints,
  ): Promise<void> {
    const info: mesos.v1.IFrameworkInfo = { ...frameworkInfo, id: this.knownFrameworkId ? idOf(this.knownFrameworkId) : frameworkInfo.id };
    await this.send({
      type: CallType.UPDATE_FRAMEWORK,
      update_framework: { framework_info: info, suppressed_roles: suppressedRoles ?? [], offer_constraints: offerConstraints },
    });
    this.frameworkInfo = { ...info };
    this.suppressedRoles.clear();
    for (const role of suppressedRoles ?? []) this.suppressedRoles.add(role);
    this.offerConstraints = offerConstraints;
  }

  private async send(call: mesos.v1.scheduler.ICall): Promise<void> {
    await this.session.call(call);
  }

  // ---- subscription loop -------------------------------------------------------------------

  private async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      let reason: string;
      try {
        reason = await this.subscribeAndStream(signal);
      } catch (err) {
        if (signal.aborted || err instanceof AbortedError) break;
        if (err instanceof MesosHttpError && !err.temporary) {
          // 400/401/403/406/415/...: retrying would only repeat the refusal.
          this.halt(`Subscription refused: ${err.message}`);
          break;
        }
        reason = `Subscription failed: ${(err as Error).message}`;
      }
      if (signal.aborted) break;
      this.session.disconnect();
      this.logger.warn('scheduler disconnected; will re-subscribe', { reason, frameworkId: this.knownFrameworkId });
      this.emit('disconnected', { reason, willRetry: true });
      try {
        await this.backoff.wait(signal);
      } catch {
        break;
      }
    }
  }

  /** Opens one subscription and resolves with the reason it ended. */
  private async subscribeAndStream(signal: AbortSignal): Promise<string> {
    const call = this.subscribeCall();
    this.resuming = call.framework_id != null;
    const stream = await this.session.subscribe(call, signal);
    this.logger.info('subscription stream open', { master: stream.master.href, streamId: this.session.streamId });
    this.emit('connected', stream.master);
    return new Promise<string>((resolve) => {
      const connection: Connection = {
        body: stream.body,
        events: new SchedulerEventStream(this.format, {
          event: (event) => this.onEvent(event, connection),
          end: (reason) => connection.finish(reason),
        }),
        watchdog: undefined,
        ended: false,
        finish: (reason: string) => {
          if (connection.ended) return;
          connection.ended = true;
          if (connection.watchdog) clearTimeout(connection.watchdog);
          if (this.connection === connection) this.connection = undefined;
          connection.events.close();
          stream.close();
          resolve(reason);
        },
      };
      this.connection = connection;
      this.armWatchdog(connection, this.heartbeatTimeoutMs ?? this.missedHeartbeats * DEFAULT_HEARTBEAT_SECONDS * 1000);
      stream.body.on('error', (err: Error) => connection.finish(`Event stream failed: ${err.message}`));
      stream.body.on('close', () => {
        // A clean end reaches the decoder first; a close without it means the connection broke.
        if (!stream.body.complete) connection.finish('Event stream connection closed');
      });
      connection.events.consume(stream.body);
    });
  }

  private subscribeCall(): mesos.v1.scheduler.ICall {
    const id = this.knownFrameworkId ? idOf(this.knownFrameworkId) : undefined;
    // Re-subscription must set both Call.framework_id and framework_info.id (the master checks they match).
    const frameworkInfo: mesos.v1.IFrameworkInfo = { ...this.frameworkInfo, id };
    return {
      type: CallType.SUBSCRIBE,
      framework_id: id,
      subscribe: {
        framework_info: frameworkInfo,
        suppressed_roles: [...this.suppressedRoles],
        offer_constraints: this.offerConstraints,
      },
    };
  }

  private armWatchdog(connection: Connection, timeoutMs: number): void {
    if (connection.watchdog) clearTimeout(connection.watchdog);
    connection.watchdog = setTimeout(() => {
      connection.finish(`No event from the master for ${timeoutMs} ms (heartbeats missed)`);
    }, timeoutMs);
  }

  private onEvent(event: mesos.v1.scheduler.Event, connection: Connection): void {
    if (this.connection !== connection) return;
    // Any event proves the stream is alive; refresh() re-arms the timer without a new closure.
    connection.watchdog?.refresh();
    try {
      this.dispatch(event, connection);
    } catch (err) {
      this.logger.error('scheduler event listener threw', { type: EventType[event.type], error: (err as Error).message });
    }
  }

  private dispatch(event: mesos.v1.scheduler.Event, connection: Connection): void {
    switch (event.type) {
      case EventType.SUBSCRIBED:
        return this.onSubscribed(event.subscribed, connection);
      case EventType.HEARTBEAT:
        this.emit('heartbeat');
        return;
      case EventType.OFFERS:
        this.emit('offers', (event.offers?.offers ?? []) as mesos.v1.Offer[]);
        return;
      case EventType.INVERSE_OFFERS:
        this.emit('inverseOffers', (event.inverse_offers?.inverse_offers ?? []) as mesos.v1.InverseOffer[]);
        return;
      case EventType.RESCIND:
        if (event.rescind) this.emit('rescind', event.rescind.offer_id.value);
        return;
      case EventType.RESCIND_INVERSE_OFFER:
        if (event.rescind_inverse_offer) this.emit('rescindInverseOffer', event.rescind_inverse_offer.inverse_offer_id.value);
        return;
      case EventType.UPDATE:
        if (event.update) this.onUpdate(event.update.status as mesos.v1.TaskStatus);
        return;
      case EventType.UPDATE_OPERATION_STATUS:
        if (event.update_operation_status) this.onOperationUpdate(event.update_operation_status.status as mesos.v1.OperationStatus);
        return;
      case EventType.MESSAGE:
        if (event.message) {
          this.emit('message', {
            agentId: event.message.agent_id.value,
            executorId: event.message.executor_id.value,
            data: event.message.data,
          });
        }
        return;
      case EventType.FAILURE: {
        const f = event.failure;
        this.emit('failure', {
          agentId: f?.agent_id?.value ?? undefined,
          executorId: f?.executor_id?.value ?? undefined,
          status: f?.status ?? undefined,
        });
        return;
      }
      case EventType.ERROR: {
        const message = event.error?.message ?? 'unknown error';
        this.logger.error('Mesos master sent ERROR; stopping', { message, frameworkId: this.knownFrameworkId });
        try {
          this.emit('mesosError', message);
        } finally {
          // Never re-subscribe after ERROR: "Framework failed over" means another instance owns it now.
          this.halt(message);
        }
        return;
      }
      default:
        this.logger.debug('ignoring unknown scheduler event', { type: event.type });
    }
  }

  private onSubscribed(subscribed: mesos.v1.scheduler.Event.ISubscribed | null | undefined, connection: Connection): void {
    if (!subscribed) return connection.finish('SUBSCRIBED event without content');
    if (this.session.name !== 'subscribing') {
      this.logger.warn('ignoring SUBSCRIBED outside of subscribing', { state: this.session.name });
      return;
    }
    const frameworkId = subscribed.framework_id.value;
    this.knownFrameworkId = frameworkId;
    this.session.subscribed(frameworkId);
    this.backoff.reset();
    const heartbeatIntervalSeconds = subscribed.heartbeat_interval_seconds ?? DEFAULT_HEARTBEAT_SECONDS;
    this.armWatchdog(connection, this.heartbeatTimeoutMs ?? Math.max(1, this.missedHeartbeats * heartbeatIntervalSeconds * 1000));
    this.logger.info('subscribed', { frameworkId, heartbeatIntervalSeconds, resubscribed: this.resuming });
    this.emit('subscribed', {
      frameworkId,
      heartbeatIntervalSeconds,
      masterInfo: (subscribed.master_info ?? undefined) as mesos.v1.MasterInfo | undefined,
      resubscribed: this.resuming,
    });
  }

  private onUpdate(status: mesos.v1.TaskStatus): void {
    try {
      this.emit('update', status);
    } finally {
      // Only agent-generated updates carry a uuid; master-generated ones must not be ACKed.
      if (this.autoAcknowledge && status.uuid && status.uuid.length > 0 && status.agent_id) {
        this.acknowledge(status.agent_id.value, status.task_id.value, status.uuid).catch(this.onAckFailed);
      }
    }
  }

  private onOperationUpdate(status: mesos.v1.OperationStatus): void {
    try {
      this.emit('updateOperationStatus', status);
    } finally {
      const uuid = status.uuid?.value;
      if (this.autoAcknowledge && uuid && uuid.length > 0 && status.agent_id && status.operation_id) {
        this.acknowledgeOperationStatus(
          status.agent_id.value,
          status.resource_provider_id?.value ?? undefined,
          uuid,
          status.operation_id.value,
        ).catch(this.onAckFailed);
      }
    }
  }

  private onAckFailed(err: unknown): void {
    // The agent resends unacknowledged updates, so a lost ACK is retried naturally.
    this.logger.warn('acknowledgement failed', { error: (err as Error).message });
  }

  private frameworkRoles(): string[] {
    const roles = this.frameworkInfo.roles ?? [];
    return roles.length > 0 ? roles : [this.frameworkInfo.role ?? '*'];
  }

  /** Stops for good (idempotent): closes the stream and the connections, emits 'stopped'. */
  private halt(reason: string): void {
    if (this.session.name === 'stopped') return;
    const wasConnected = this.connection !== undefined;
    this.session.stop();
    this.abort?.abort();
    this.connection?.finish(reason);
    this.transport.close();
    this.logger.info('scheduler client stopped', { reason, frameworkId: this.knownFrameworkId });
    if (wasConnected) this.emit('disconnected', { reason, willRetry: false });
    this.emit('stopped', { reason });
  }
}

function idOf(value: string): { value: string } {
  return { value };
}
