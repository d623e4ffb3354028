/**
 * Client for the master's v1 operator API (`POST /api/v1`): synchronous queries returning the
 * decoded `mesos.v1.master.Response` sub-message, and SUBSCRIBE as a typed emitter / async
 * iterator of `mesos.v1.master.Event`s guarded by a heartbeat watchdog.
 */
import { formatOfMediaType, MessageCodec, WireFormat } from '../codec';
import { mesos } from '../generated/mesos';
import { UnexpectedResponseError } from '../http/mesos-http-error';
import { Credentials, MesosHttpTransport, MesosStreamResponse, TlsOptions } from '../http/mesos-http-transport';
import type { Logger } from '../../shared/logger';
import { silentLogger } from '../../shared/logger';
import { MasterDetector, StaticMasterDetector } from '../master-detector';
import { RecordIoDecodeStream } from '../recordio';
import { TypedEmitter } from '../../shared/typed-emitter';

export interface OperatorClientOptions {
  /** Where the master is; or give `url`. */
  detector?: MasterDetector;
  url?: string;
  /** Default protobuf. */
  format?: WireFormat;
  credentials?: Credentials;
  tls?: TlsOptions;
  /** Heartbeats a subscription may miss before it is closed as dead; default 5. */
  missedHeartbeats?: number;
  /** Overrides missedHeartbeats × heartbeat_interval_seconds (also bounds the wait for SUBSCRIBED). */
  heartbeatTimeoutMs?: number;
  logger?: Logger;
}

const CallType = mesos.v1.master.Call.Type;
const ResponseType = mesos.v1.master.Response.Type;
const EventType = mesos.v1.master.Event.Type;
const DEFAULT_HEARTBEAT_SECONDS = 15;

type Response = mesos.v1.master.Response;
/** The Response sub-messages the typed queries return (decoded messages are class instances). */
interface ResponseParts {
  get_health: mesos.v1.master.Response.GetHealth;
  get_version: mesos.v1.master.Response.GetVersion;
  get_state: mesos.v1.master.Response.GetState;
  get_frameworks: mesos.v1.master.Response.GetFrameworks;
  get_agents: mesos.v1.master.Response.GetAgents;
  get_tasks: mesos.v1.master.Response.GetTasks;
}

export class OperatorClient {
  private readonly detector: MasterDetector;
  private readonly ownsDetector: boolean;
  private readonly transport: MesosHttpTransport;
  private readonly format: WireFormat;
  private readonly callCodec: MessageCodec<mesos.v1.master.Call, mesos.v1.master.ICall>;
  private readonly logger: Logger;
  private readonly subscriptions = new Set<OperatorSubscription>();

  constructor(private readonly options: OperatorClientOptions) {
    if (options.detector) {
      this.detector = options.detector;
      this.ownsDetector = false;
    } else if (options.url) {
      this.detector = new StaticMasterDetector([options.url]);
      this.ownsDetector = true;
    } else {
      throw new Error('OperatorClient needs a detector or a url');
    }
    this.format = options.format ?? 'protobuf';
    this.logger = options.logger ?? silentLogger;
    this.callCodec = new MessageCodec(mesos.v1.master.Call, this.format);
    this.transport = new MesosHttpTransport({
      detector: this.detector,
      path: 'api/v1',
      credentials: options.credentials,
      tls: options.tls,
      logger: this.logger,
    });
  }

  getHealth(): Promise<mesos.v1.master.Response.GetHealth> {
    return this.query(CallType.GET_HEALTH, ResponseType.GET_HEALTH, 'get_health');
  }

  getVersion(): Promise<mesos.v1.master.Response.GetVersion> {
    return this.query(CallType.GET_VERSION, ResponseType.GET_VERSION, 'get_version');
  }

  getState(): Promise<mesos.v1.master.Response.GetState> {
    return this.query(CallType.GET_STATE, ResponseType.GET_STATE, 'get_state');
  }

  getFrameworks(): Promise<mesos.v1.master.Response.GetFrameworks> {
    return this.query(CallType.GET_FRAMEWORKS, ResponseType.GET_FRAMEWORKS, 'get_frameworks');
  }

  getAgents(): Promise<mesos.v1.master.Response.GetAgents> {
    return this.query(CallType.GET_AGENTS, ResponseType.GET_AGENTS, 'get_agents');
  }

  getTasks(): Promise<mesos.v1.master.Response.GetTasks> {
    return this.query(CallType.GET_TASKS, ResponseType.GET_TASKS, 'get_tasks');
  }

  /** Any operator call; resolves with the decoded Response, or undefined for an empty (202) answer. */
  async call(call: mesos.v1.master.ICall): Promise<Response | undefined> {
    const answer = await this.transport.post({
      body: this.callCodec.encode(call),
      contentType: this.callCodec.mediaType,
      accept: this.callCodec.mediaType,
    });
    if (answer.body.length === 0) return undefined;
    const format = formatOfMediaType(answer.headers['content-type']) ?? this.format;
    return new MessageCodec(mesos.v1.master.Response, format).decode(answer.body);
  }

  /** Opens an operator event stream; SUBSCRIBED (with the full state) is its first event. */
  subscribe(): OperatorSubscription {
    const subscription = new OperatorSubscription(this.format, this.options.missedHeartbeats ?? 5, this.options.heartbeatTimeoutMs, this.logger);
    this.subscriptions.add(subscription);
    subscription.on('closed', () => this.subscriptions.delete(subscription));
    this.transport
      .openStream({ body: this.callCodec.encode({ type: CallType.SUBSCRIBE }), contentType: this.callCodec.mediaType, accept: this.callCodec.mediaType })
      .then(
        (stream) => subscription.attach(stream),
        (err: Error) => subscription.fail(err),
      );
    return subscription;
  }

  close(): void {
    for (const subscription of [...this.subscriptions]) subscription.close();
    this.transport.close();
    if (this.ownsDetector) this.detector.close();
  }

  private async query<F extends keyof ResponseParts>(
    callType: mesos.v1.master.Call.Type,
    responseType: mesos.v1.master.Response.Type,
    field: F,
  ): Promise<ResponseParts[F]> {
    const response = await this.call({ type: callType });
    const part = response?.[field];
    if (!response || response.type !== responseType || !part) {
      throw new UnexpectedResponseError(
        `Operator ${CallType[callType]} answered ${response ? ResponseType[response.type] : 'nothing'} without ${field}`,
        false,
      );
    }
    return part as ResponseParts[F];
  }
}

export interface OperatorSubscriptionEvents {
  /** The first event's state snapshot. */
  subscribed: mesos.v1.master.Response.GetState;
  /** Every event, SUBSCRIBED and HEARTBEAT included. */
  event: mesos.v1.master.Event;
  /** Why the stream ended; `error` is set unless close() was called. */
  closed: { reason: string; error?: Error };
}

/** One operator event stream. Iterate it, or listen to it; it does not reconnect by itself. */
export class OperatorSubscription extends TypedEmitter<OperatorSubscriptionEvents> implements AsyncIterable<mesos.v1.master.Event> {
  private readonly codec: MessageCodec<mesos.v1.master.Event, mesos.v1.master.IEvent>;
  private stream: MesosStreamResponse | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private done: { reason: string; error?: Error } | undefined;
  /** Events not yet taken by an iterator, and iterators waiting for one. */
  private readonly queue: mesos.v1.master.Event[] = [];
  private readonly waiting: { resolve(r: IteratorResult<mesos.v1.master.Event>): void; reject(e: Error): void }[] = [];
  private iterating = false;

  /** @internal created by OperatorClient.subscribe() */
  constructor(
    format: WireFormat,
    private readonly missedHeartbeats: number,
    private readonly heartbeatTimeoutMs: number | undefined,
    private readonly logger: Logger,
  ) {
    super();
    this.codec = new MessageCodec(mesos.v1.master.Event, format);
    this.onRecord = this.onRecord.bind(this);
  }

  get closed(): boolean {
    return this.done !== undefined;
  }

  /** @internal */
  attach(stream: MesosStreamResponse): void {
    if (this.done) {
      stream.close();
      return;
    }
    this.stream = stream;
    const records = new RecordIoDecodeStream();
    this.arm(this.heartbeatTimeoutMs ?? this.missedHeartbeats * DEFAULT_HEARTBEAT_SECONDS * 1000);
    records.on('data', this.onRecord);
    records.on('error', (err: Error) => this.fail(err));
    records.on('end', () => this.fail(new Error('Operator event stream ended')));
    stream.body.on('error', (err: Error) => this.fail(err));
    stream.body.on('close', () => {
      if (!stream.body.complete) this.fail(new Error('Operator event stream connection closed'));
    });
    stream.body.pipe(records);
  }

  /** @internal ends the subscription with an error. */
  fail(error: Error): void {
    this.finish({ reason: error.message, error });
  }

  close(): void {
    this.finish({ reason: 'closed by client' });
  }

  [Symbol.asyncIterator](): AsyncIterator<mesos.v1.master.Event> {
    this.iterating = true;
    return {
      next: () => {
        const event = this.queue.shift();
        if (event) return Promise.resolve({ value: event, done: false });
        if (this.done) {
          return this.done.error ? Promise.reject(this.done.error) : Promise.resolve({ value: undefined, done: true });
        }
        return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
      },
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  private onRecord(record: Buffer): void {
    let event: mesos.v1.master.Event;
    try {
      event = this.codec.decode(record);
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    this.watchdog?.refresh();
    if (event.type === EventType.SUBSCRIBED) {
      const seconds = event.subscribed?.heartbeat_interval_seconds ?? DEFAULT_HEARTBEAT_SECONDS;
      this.arm(this.heartbeatTimeoutMs ?? Math.max(1, this.missedHeartbeats * seconds * 1000));
      try {
        this.emit('subscribed', (event.subscribed?.get_state ?? new mesos.v1.master.Response.GetState()) as mesos.v1.master.Response.GetState);
      } catch (err) {
        this.logger.error('operator subscription listener threw', { error: (err as Error).message });
      }
    }
    const waiter = this.waiting.shift();
    if (waiter) waiter.resolve({ value: event, done: false });
    else if (this.iterating) this.queue.push(event);
    try {
      this.emit('event', event);
    } catch (err) {
      this.logger.error('operator subscription listener threw', { error: (err as Error).message });
    }
  }

  private arm(timeoutMs: number): void {
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => this.fail(new Error(`No operator event for ${timeoutMs} ms (heartbeats missed)`)), timeoutMs);
  }

  private finish(done: { reason: string; error?: Error }): void {
    if (this.done) return;
    this.done = done;
    if (this.watchdog) clearTimeout(this.watchdog);
    this.stream?.close();
    for (const waiter of this.waiting.splice(0)) {
      if (done.error) waiter.reject(done.error);
      else waiter.resolve({ value: undefined, done: true });
    }
    this.emit('closed', done);
  }
}
