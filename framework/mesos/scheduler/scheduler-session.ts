/**
 * The scheduler connection as an explicit state machine (after mesos-go's httpsched):
 *
 *   disconnected --subscribe()--> subscribing --subscribed()--> subscribed
 *        ^                             |                            |
 *        +-------- disconnect() -------+----------------------------+
 *   any state --stop()--> stopped (final)
 *
 * `disconnected` accepts only SUBSCRIBE; `subscribed` stamps `framework_id` and the
 * `Mesos-Stream-Id` header on every other call and sends it to the master holding the stream.
 */
import { MessageCodec } from '../codec';
import { mesos } from '../generated/mesos';
import { MesosHttpTransport, MesosResponse, MesosStreamResponse } from '../http/mesos-http-transport';
import { NotSubscribedError, UnexpectedResponseError } from '../http/mesos-http-error';
import { AbortedError } from '../backoff';

export type SessionStateName = 'disconnected' | 'subscribing' | 'subscribed' | 'stopped';

type SessionState =
  | { name: 'disconnected' }
  | { name: 'subscribing'; stream?: MesosStreamResponse; streamId?: string; master?: URL }
  | { name: 'subscribed'; stream: MesosStreamResponse; streamId: string; master: URL; frameworkId: string }
  | { name: 'stopped' };

export class SessionStateError extends Error {
  override name = 'SessionStateError';
}

const CallType = mesos.v1.scheduler.Call.Type;

export class SchedulerSession {
  private state: SessionState = { name: 'disconnected' };

  constructor(
    private readonly transport: MesosHttpTransport,
    private readonly callCodec: MessageCodec<mesos.v1.scheduler.Call, mesos.v1.scheduler.ICall>,
    /** The media type the event stream should come in. */
    private readonly eventMediaType: string,
  ) {}

  get name(): SessionStateName {
    return this.state.name;
  }

  get streamId(): string | undefined {
    return this.state.name === 'subscribing' || this.state.name === 'subscribed' ? this.state.streamId : undefined;
  }

  get master(): URL | undefined {
    return this.state.name === 'subscribing' || this.state.name === 'subscribed' ? this.state.master : undefined;
  }

  /** disconnected → subscribing: opens the event stream. Back to disconnected if that fails. */
  async subscribe(call: mesos.v1.scheduler.ICall, signal?: AbortSignal): Promise<MesosStreamResponse> {
    if (this.state.name !== 'disconnected') {
      throw new SessionStateError(`Cannot SUBSCRIBE while ${this.state.name}`);
    }
    if (call.type !== CallType.SUBSCRIBE) throw new SessionStateError('Only SUBSCRIBE is accepted while disconnected');
    const attempt: SessionState = { name: 'subscribing' };
    this.state = attempt;
    let stream: MesosStreamResponse;
    try {
      stream = await this.transport.openStream({
        body: this.callCodec.encode(call),
        contentType: this.callCodec.mediaType,
        // Mesos picks JSON whenever JSON is acceptable, so protobuf must be asked for alone.
        accept: this.eventMediaType,
        signal,
      });
    } catch (err) {
      if (this.state === attempt) this.state = { name: 'disconnected' };
      throw err;
    }
    if (this.state !== attempt) {
      // Stopped (or reset) while the request was in flight.
      stream.close();
      throw new AbortedError('Subscription abandoned');
    }
    const contentType = stream.headers['content-type'];
    const streamId = stream.headers['mesos-stream-id'];
    const failure =
      contentType !== this.eventMediaType
        ? `expected Content-Type ${this.eventMediaType}, got ${JSON.stringify(contentType)}`
        : typeof streamId !== 'string' || streamId === ''
          ? 'no Mesos-Stream-Id header'
          : undefined;
    if (failure !== undefined) {
      stream.close();
      this.state = { name: 'disconnected' };
      throw new UnexpectedResponseError(`Unusable SUBSCRIBE response: ${failure}`, false, {
        status: stream.status,
        url: this.transport.endpoint(stream.master).href,
      });
    }
    this.state = { name: 'subscribing', stream, streamId: streamId as string, master: stream.master };
    return stream;
  }

  /** subscribing → subscribed, on the SUBSCRIBED event. */
  subscribed(frameworkId: string): void {
    const state = this.state;
    if (state.name !== 'subscribing' || !state.stream || !state.streamId || !state.master) {
      throw new SessionStateError(`Unexpected SUBSCRIBED while ${state.name}`);
    }
    this.state = { name: 'subscribed', stream: state.stream, streamId: state.streamId, master: state.master, frameworkId };
  }

  /** Any live state → disconnected; closes the stream. */
  disconnect(): void {
    if (this.state.name === 'stopped') return;
    this.closeStream();
    this.state = { name: 'disconnected' };
  }

  /** Final: closes the stream; nothing is accepted afterwards. */
  stop(): void {
    this.closeStream();
    this.state = { name: 'stopped' };
  }

  /** Sends a non-SUBSCRIBE call on the shared keep-alive connection. */
  async call(call: mesos.v1.scheduler.ICall): Promise<MesosResponse> {
    const state = this.state;
    const typeName = CallType[call.type ?? 0] ?? String(call.type);
    if (call.type === CallType.SUBSCRIBE) throw new SessionStateError('SUBSCRIBE goes through subscribe()');
    if (state.name !== 'subscribed') {
      throw new NotSubscribedError(`Cannot send ${typeName}: the scheduler is ${state.name}, not subscribed`, true);
    }
    const stamped: mesos.v1.scheduler.ICall = { ...call, framework_id: { value: state.frameworkId } };
    return this.transport.post({
      body: this.callCodec.encode(stamped),
      contentType: this.callCodec.mediaType,
      accept: this.callCodec.mediaType,
      headers: { 'Mesos-Stream-Id': state.streamId },
      master: state.master,
    });
  }

  private closeStream(): void {
    const state = this.state;
    if ((state.name === 'subscribing' || state.name === 'subscribed') && state.stream) state.stream.close();
  }
}
