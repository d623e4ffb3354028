/**
 * A typed client of Polly's HTTP API for the CLI (and scripts): JSON in, JSON out, errors as
 * ApiError (with the server's message and status) or ApiConnectionError. `events()` reads the
 * server-sent event stream and resumes with Last-Event-ID when the connection drops.
 */
import { ApiConnectionError, ApiError } from './cli-errors';

export interface ApiClientOptions {
  baseUrl: string;
  token?: string;
  /** Per request; default 30 s. */
  timeoutMs?: number;
}

export interface StreamEvent {
  id?: string;
  event: string;
  data: Record<string, unknown>;
}

export interface EventsOptions {
  follow: boolean;
  lastEventId?: string;
  signal?: AbortSignal;
  /** Reconnect delay after a dropped stream (follow mode). */
  retryMs?: number;
}

export class ApiClient {
  readonly baseUrl: string;
  private readonly token?: string;
  private readonly timeoutMs: number;

  constructor(options: ApiClientOptions) {
    let url: URL;
    try {
      url = new URL(options.baseUrl);
    } catch {
      throw new ApiConnectionError(`Invalid API URL ${JSON.stringify(options.baseUrl)}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new ApiConnectionError(`The API URL must be http(s), got ${options.baseUrl}`);
    this.baseUrl = url.toString().replace(/\/+$/, '');
    this.token = options.token;
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    const h: Record<string, string> = { accept: 'application/json', ...extra };
    if (this.token) h.authorization = `Bearer ${this.token}`;
    return h;
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: this.headers(body === undefined ? {} : { 'content-type': 'application/json' }),
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new ApiConnectionError(
        `Cannot reach the Polly API at ${this.baseUrl}: ${cause?.code ?? cause?.message ?? (err as Error).message}`,
      );
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!res.ok) {
      const e = parsed as { message?: unknown; details?: unknown } | undefined;
      const message = typeof e?.message === 'string' ? e.message : `HTTP ${res.status} ${res.statusText}`;
      throw new ApiError(
        message,
        res.status,
        typeof e?.details === 'object' && e.details !== null ? (e.details as Record<string, unknown>) : undefined,
      );
    }
    return parsed as T;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }
  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }
  patch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, body);
  }
  put<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, body);
  }
  delete<T = void>(path: string): Promise<T> {
    return this.request<T>('DELETE', path);
  }

  /** Reads `/v1/events`; in follow mode reconnects (with Last-Event-ID) until `signal` aborts. */
  async events(options: EventsOptions, onEvent: (event: StreamEvent) => void): Promise<void> {
    let lastId = options.lastEventId;
    for (;;) {
      const headers = this.headers({ accept: 'text/event-stream' });
      if (lastId !== undefined) headers['last-event-id'] = lastId;
      let res: Response;
      try {
        res = await fetch(`${this.baseUrl}/v1/events${options.follow ? '' : '?follow=false'}`, { headers, signal: options.signal });
      } catch (err) {
        if (options.signal?.aborted) return;
        if (!options.follow) throw new ApiConnectionError(`Cannot reach the Polly API at ${this.baseUrl}: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, options.retryMs ?? 1000));
        continue;
      }
      if (!res.ok) {
        const e = (await res.json().catch(() => undefined)) as { message?: string } | undefined;
        throw new ApiError(e?.message ?? `HTTP ${res.status}`, res.status);
      }
      try {
        lastId = await readStream(res, lastId, onEvent);
      } catch (err) {
        if (options.signal?.aborted) return;
        if (!options.follow) throw err;
      }
      if (!options.follow || options.signal?.aborted) return;
      await new Promise((r) => setTimeout(r, options.retryMs ?? 1000));
    }
  }
}

/** Parses SSE frames; returns the last event ID seen. */
async function readStream(res: Response, lastId: string | undefined, onEvent: (event: StreamEvent) => void): Promise<string | undefined> {
  const decoder = new TextDecoder();
  let buf = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(chunk, { stream: true });
    let idx: number;
    while ((idx = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, idx);
      buf = buf.slice(idx + 2);
      let id: string | undefined;
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id') id = value;
        else if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
      }
      if (data.length === 0) continue;
      if (id !== undefined) lastId = id;
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(data.join('\n')) as Record<string, unknown>;
      } catch {
        parsed = { raw: data.join('\n') };
      }
      onEvent({ id, event, data: parsed });
    }
  }
  return lastId;
}
