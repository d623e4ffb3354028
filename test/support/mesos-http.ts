/**
 * Raw HTTP helpers for talking to a Mesos master in tests: a SUBSCRIBE that yields decoded
 * RecordIO events, and `call()` posting one scheduler Call. Plain node:http, no client library.
 */
import http from 'node:http';
import { mesos } from '../../framework/mesos/generated/mesos';
import { MessageCodec, MEDIA_TYPES, type WireFormat } from '../../framework/mesos/codec';
import { RecordIoDecoder } from '../../framework/mesos/recordio';

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

/** One POST with exactly the headers given (nothing added but Host and Content-Length). */
export function post(url: string, path: string, body: Buffer | string, headers: Record<string, string>, method = 'POST'): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const u = new URL(path, url);
    const payload = typeof body === 'string' ? Buffer.from(body) : body;
    const req = http.request(
      { method, host: u.hostname, port: u.port, path: u.pathname + u.search, headers: { ...headers, 'Content-Length': String(payload.length) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const all = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: all, text: all.toString('utf8') });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

export function encodeCall(call: mesos.v1.scheduler.ICall, format: WireFormat): Buffer {
  return new MessageCodec(mesos.v1.scheduler.Call, format).encode(call);
}

export interface CallOptions {
  format?: WireFormat;
  streamId?: string;
  headers?: Record<string, string>;
  path?: string;
}

/** Posts a scheduler Call; returns status and body. */
export function call(url: string, message: mesos.v1.scheduler.ICall, options: CallOptions = {}): Promise<HttpResult> {
  const format = options.format ?? 'json';
  const headers: Record<string, string> = { 'Content-Type': MEDIA_TYPES[format], ...(options.headers ?? {}) };
  if (options.streamId) headers['Mesos-Stream-Id'] = options.streamId;
  return post(url, options.path ?? '/api/v1/scheduler', encodeCall(message, format), headers);
}

export type SchedulerEvent = mesos.v1.scheduler.Event;

/** An open subscription: events are queued as they arrive; `next` takes them in order. */
export class EventStream {
  private readonly queue: SchedulerEvent[] = [];
  private waiters: (() => void)[] = [];
  ended = false;
  error?: Error;

  constructor(
    readonly status: number,
    readonly headers: http.IncomingHttpHeaders,
    readonly streamId: string,
    private readonly res: http.IncomingMessage,
    private readonly req: http.ClientRequest,
    format: WireFormat,
  ) {
    const decoder = new RecordIoDecoder();
    const codec = new MessageCodec(mesos.v1.scheduler.Event, format);
    res.on('data', (chunk: Buffer) => {
      for (const record of decoder.push(chunk)) this.queue.push(codec.decode(record));
      this.wake();
    });
    const end = (): void => {
      this.ended = true;
      this.wake();
    };
    res.on('end', end);
    res.on('close', end);
    res.on('error', (err) => {
      this.error = err;
      end();
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Events received so far and not yet taken. */
  get pending(): readonly SchedulerEvent[] {
    return this.queue;
  }

  /**
   * Takes the first queued event matching `accept` (others stay queued for later calls), or
   * throws after `timeoutMs`. Heartbeats are skipped unless asked for.
   */
  async next(accept: (e: SchedulerEvent) => boolean = (e) => e.type !== mesos.v1.scheduler.Event.Type.HEARTBEAT, timeoutMs = 5000): Promise<SchedulerEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.queue.findIndex(accept);
      if (index >= 0) return this.queue.splice(index, 1)[0];
      if (this.ended) throw new Error('Event stream ended');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('Timed out waiting for an event');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** The next event of a type. */
  nextOfType(type: mesos.v1.scheduler.Event.Type, timeoutMs = 5000): Promise<SchedulerEvent> {
    return this.next((e) => e.type === type, timeoutMs);
  }

  /** Resolves when the server ends the stream. */
  async closed(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) {
      if (Date.now() > deadline) throw new Error('Stream did not close');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.req.destroy();
    this.res.destroy();
  }
}

export interface SubscribeOptions {
  format?: WireFormat;
  accept?: string | null;
  streamId?: string;
  suppressedRoles?: string[];
  headers?: Record<string, string>;
}

/**
 * SUBSCRIBE. A 200 gives an EventStream; anything else rejects with the HttpResult attached
 * as `(err as SubscribeRefused).result`.
 */
export class SubscribeRefused extends Error {
  constructor(readonly result: HttpResult) {
    super(`SUBSCRIBE answered ${result.status}: ${result.text}`);
  }
}

export function subscribe(url: string, frameworkInfo: mesos.v1.IFrameworkInfo, options: SubscribeOptions = {}): Promise<EventStream> {
  const format = options.format ?? 'json';
  const message: mesos.v1.scheduler.ICall = {
    type: mesos.v1.scheduler.Call.Type.SUBSCRIBE,
    subscribe: { framework_info: frameworkInfo, suppressed_roles: options.suppressedRoles },
  };
  if (frameworkInfo.id) message.framework_id = frameworkInfo.id;
  const body = encodeCall(message, format);
  const headers: Record<string, string> = { 'Content-Type': MEDIA_TYPES[format], 'Content-Length': String(body.length), ...(options.headers ?? {}) };
  if (options.accept !== null) headers.Accept = options.accept ?? MEDIA_TYPES[format];
  if (options.streamId) headers['Mesos-Stream-Id'] = options.streamId;
  return new Promise((resolve, reject) => {
    const u = new URL('/api/v1/scheduler', url);
    const req = http.request({ method: 'POST', host: u.hostname, port: u.port, path: u.pathname, headers, agent: false }, (res) => {
      if (res.statusCode !== 200) {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const all = Buffer.concat(chunks);
          reject(new SubscribeRefused({ status: res.statusCode ?? 0, headers: res.headers, body: all, text: all.toString('utf8') }));
        });
        return;
      }
      const streamId = String(res.headers['mesos-stream-id'] ?? '');
      const ct: WireFormat = res.headers['content-type'] === MEDIA_TYPES.protobuf ? 'protobuf' : 'json';
      resolve(new EventStream(200, res.headers, streamId, res, req, ct));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Polls until `check` returns a value other than undefined/false. */
export async function waitFor<T>(check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 5000, everyMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error('Condition not met in time');
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
