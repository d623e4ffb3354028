/**
 * A small HTTP client for a libStorage server: JSON in and out, `tcp://`, `http(s)://` or
 * `unix:///path.sock` endpoints, a per-request deadline combined with the caller's AbortSignal,
 * and HTTP failures mapped to the typed driver errors:
 *
 *   404 → DriverNotFoundError · 409 → DriverConflictError · 400/401/403/413/422 → DriverInvalidError
 *   501 → DriverNotImplementedError · 408, 5xx, lost connections, timeouts → DriverTransientError
 *
 * libStorage servers answer every driver error with 500 (reference §1.7: "there is no 409"), so a
 * 500 whose message says the name exists or the volume is attached elsewhere is a conflict, one
 * that says "not implemented" is not implemented, a schema failure is invalid, and a
 * "resource not found" is not found. Only reads are retried here (`idempotent: true`); mutations
 * are retried by the storage layer under their intent key. Every request carries a
 * `Libstorage-Tx` header, as libStorage's own client sends.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { abortedError, sleep } from '../abort';
import {
  DriverConflictError,
  DriverError,
  DriverInvalidError,
  DriverNotFoundError,
  DriverNotImplementedError,
  DriverTransientError,
} from '../errors';
import { formatTransactionHeader } from './instance-id-header';
import type { LsErrorBody } from './libstorage-wire';

export interface LibStorageHttpOptions {
  /** `http(s)://host:port`, `tcp://host:port` or `unix:///path.sock`. */
  host: string;
  timeoutMs: number;
  /** Bearer token (JWT). */
  token?: string;
  /** Extra attempts for idempotent reads on transient failures. Default 2. */
  readRetries?: number;
  retryDelayMs?: number;
  /** TLS: accept self-signed certificates (tests, pinned deployments). */
  rejectUnauthorized?: boolean;
  ca?: string | Buffer;
}

export interface RequestOptions {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Reads: retried on transient failures. */
  idempotent?: boolean;
  /** What the request is about, for error messages (e.g. `volumeInspect vfs-001`). */
  what: string;
}

export interface HttpResult<T> {
  status: number;
  body: T;
  headers: http.IncomingHttpHeaders;
}

interface Endpoint {
  protocol: 'http:' | 'https:';
  hostname?: string;
  port?: number;
  socketPath?: string;
}

export function parseEndpoint(host: string): Endpoint {
  const unix = /^unix:\/\/(\/.+)$/.exec(host);
  if (unix) return { protocol: 'http:', socketPath: unix[1]! };
  const url = new URL(host.replace(/^tcp:\/\//, 'http://'));
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new DriverInvalidError(`libstorage: unsupported host ${JSON.stringify(host)}`);
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  return { protocol: url.protocol, hostname: url.hostname.replace(/^\[|\]$/g, ''), port };
}

const CONFLICT_MESSAGE = /already (exists|attached)|in use|is held by/i;
const NOT_FOUND_MESSAGE = /resource not found|not found/i;

/** The typed driver error for an HTTP failure (exported for tests). */
export function errorForStatus(status: number, body: LsErrorBody | undefined, what: string): DriverError {
  const message = `libstorage: ${what}: ${body?.message ?? `HTTP ${status}`}`;
  const details: Record<string, unknown> = { status, ...(body?.error !== undefined ? { error: body.error } : {}) };
  const text = body?.message ?? '';
  if (status === 404) return new DriverNotFoundError(message, details);
  if (status === 409) return new DriverConflictError(message, details);
  if (status === 501) return new DriverNotImplementedError(message, details);
  if (status === 400 || status === 401 || status === 403 || status === 405 || status === 413 || status === 415 || status === 422) {
    return new DriverInvalidError(message, details);
  }
  if (status === 500) {
    if (CONFLICT_MESSAGE.test(text)) return new DriverConflictError(message, details);
    if (/not implemented/i.test(text)) return new DriverNotImplementedError(message, details);
    if (/validate req schema|invalid|bad filter|missing instance id/i.test(text)) return new DriverInvalidError(message, details);
    if (NOT_FOUND_MESSAGE.test(text)) return new DriverNotFoundError(message, details);
  }
  if (status >= 400 && status < 500 && status !== 408 && status !== 429) return new DriverInvalidError(message, details);
  return new DriverTransientError(message, details);
}

export class LibStorageHttp {
  private readonly endpoint: Endpoint;
  private readonly agent: http.Agent;

  constructor(private readonly options: LibStorageHttpOptions) {
    this.endpoint = parseEndpoint(options.host);
    this.agent =
      this.endpoint.protocol === 'https:'
        ? new https.Agent({
            keepAlive: true,
            rejectUnauthorized: options.rejectUnauthorized ?? true,
            ...(options.ca ? { ca: options.ca } : {}),
          })
        : new http.Agent({ keepAlive: true });
  }

  close(): void {
    this.agent.destroy();
  }

  async request<T>(req: RequestOptions): Promise<HttpResult<T>> {
    const attempts = req.idempotent ? 1 + (this.options.readRetries ?? 2) : 1;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once<T>(req);
      } catch (err) {
        const transient = err instanceof DriverTransientError && err.name !== 'AbortError';
        if (!transient || attempt >= attempts || req.signal?.aborted) throw err;
        await sleep((this.options.retryDelayMs ?? 100) * attempt, req.signal, req.what);
      }
    }
  }

  private once<T>(req: RequestOptions): Promise<HttpResult<T>> {
    const caller = req.signal;
    if (caller?.aborted) return Promise.reject(abortedError(req.what, caller.reason));
    const payload = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body), 'utf8');
    const headers: Record<string, string> = {
      accept: 'application/json',
      'Libstorage-Tx': formatTransactionHeader({ id: randomUUID(), created: Math.floor(Date.now() / 1000) }),
      ...(req.headers ?? {}),
    };
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    const transport = this.endpoint.protocol === 'https:' ? https : http;
    return new Promise<HttpResult<T>>((resolve, reject) => {
      let settled = false;
      const finish = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        caller?.removeEventListener('abort', onAbort);
        fn();
      };
      const r = transport.request(
        {
          ...(this.endpoint.socketPath
            ? { socketPath: this.endpoint.socketPath }
            : { hostname: this.endpoint.hostname, port: this.endpoint.port }),
          method: req.method,
          path: req.path,
          headers,
          agent: this.agent,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (err) => finish(() => reject(new DriverTransientError(`libstorage: ${req.what}: ${err.message}`))));
          res.on('end', () =>
            finish(() => {
              const status = res.statusCode ?? 0;
              const text = Buffer.concat(chunks).toString('utf8');
              let body: unknown;
              try {
                body = text.trim() === '' ? undefined : (JSON.parse(text) as unknown);
              } catch {
                body = undefined;
              }
              if (status >= 200 && status < 300) {
                resolve({ status, body: body as T, headers: res.headers });
                return;
              }
              const errorBody =
                typeof body === 'object' && body !== null && typeof (body as LsErrorBody).message === 'string'
                  ? (body as LsErrorBody)
                  : text
                    ? { message: text.trim().slice(0, 300), status }
                    : undefined;
              reject(errorForStatus(status, errorBody, req.what));
            }),
          );
        },
      );
      const onAbort = (): void => {
        finish(() => reject(abortedError(req.what, caller?.reason)));
        r.destroy();
      };
      const timer = setTimeout(() => {
        finish(() =>
          reject(new DriverTransientError(`libstorage: ${req.what}: timed out after ${this.options.timeoutMs} ms`, { timedOut: true })),
        );
        r.destroy();
      }, this.options.timeoutMs);
      caller?.addEventListener('abort', onAbort, { once: true });
      r.on('error', (err: NodeJS.ErrnoException) =>
        finish(() =>
          reject(new DriverTransientError(`libstorage: ${req.what}: ${err.code ?? ''} ${err.message}`.trim(), { code: err.code })),
        ),
      );
      if (payload) r.write(payload);
      r.end();
    });
  }
}
