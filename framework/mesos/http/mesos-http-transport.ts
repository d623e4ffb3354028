/**
 * HTTP for the Mesos v1 APIs, and nothing about scheduler semantics: POSTs a body with exact
 * headers to the current master, follows 307s to the leader by hand (telling the detector),
 * retries 503 as often as its owner allows (the operator client: a few times; the scheduler client:
 * never, see there), and maps every failure to a typed MesosHttpError.
 *
 * Ordinary calls share one keep-alive agent; a streaming call (SUBSCRIBE) gets a connection of
 * its own, because the master requires other calls to use a different connection than the stream.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { AbortedError, Backoff, BackoffOptions, delay } from '../backoff';
import type { Logger } from '../../shared/logger';
import { silentLogger } from '../../shared/logger';
import type { MasterDetector } from '../master-detector';
import { errorFromResponse, MesosHttpError, networkError, RedirectError } from './mesos-http-error';

export interface Credentials {
  principal: string;
  secret: string;
}

export interface TlsOptions {
  ca?: string | Buffer;
  rejectUnauthorized?: boolean;
}

export interface MesosHttpTransportOptions {
  detector: MasterDetector;
  /** API path beneath the master base URL, e.g. `api/v1/scheduler` or `api/v1`. */
  path: string;
  credentials?: Credentials;
  tls?: TlsOptions;
  /** 307 hops followed for one request before giving up (default 5). */
  maxRedirects?: number;
  /** 503 answers retried for one request before giving up (default 3; 0: the caller owns every retry). */
  unavailableRetries?: number;
  unavailableBackoff?: BackoffOptions;
  /** Time to wait for response headers (and, for ordinary calls, the body); default 30 s. */
  requestTimeoutMs?: number;
  /** Largest ordinary (non-streaming) response body accepted; default 256 MiB. */
  maxBodyBytes?: number;
  logger?: Logger;
}

export interface MesosRequest {
  body: Buffer;
  /** Exactly `application/json` or `application/x-protobuf`; never with parameters. */
  contentType: string;
  accept?: string;
  headers?: Record<string, string>;
  /** Send to this master instead of asking the detector (calls pinned to the subscription's master). */
  master?: URL;
  signal?: AbortSignal;
}

export interface MesosResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The master base URL that answered (after redirects). */
  master: URL;
}

export interface MesosStreamResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The response body; read it as a byte stream. */
  body: http.IncomingMessage;
  master: URL;
  /** Ends the stream and its connection. */
  close(): void;
}

export class MesosHttpTransport {
  private readonly detector: MasterDetector;
  private readonly path: string;
  private readonly authorization: string | undefined;
  private readonly tls: TlsOptions;
  private readonly maxRedirects: number;
  private readonly unavailableRetries: number;
  private readonly unavailableBackoff: BackoffOptions;
  private readonly requestTimeoutMs: number;
  private readonly maxBodyBytes: number;
  private readonly logger: Logger;
  private readonly httpAgent = new http.Agent({ keepAlive: true });
  private readonly httpsAgent: https.Agent;

  constructor(options: MesosHttpTransportOptions) {
    this.detector = options.detector;
    this.path = options.path.replace(/^\/+/, '');
    this.authorization = options.credentials
      ? 'Basic ' + Buffer.from(`${options.credentials.principal}:${options.credentials.secret}`, 'utf8').toString('base64')
      : undefined;
    this.tls = options.tls ?? {};
    this.maxRedirects = options.maxRedirects ?? 5;
    this.unavailableRetries = options.unavailableRetries ?? 3;
    this.unavailableBackoff = options.unavailableBackoff ?? { minMs: 200, maxMs: 2000 };
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.maxBodyBytes = options.maxBodyBytes ?? 256 * 1024 * 1024;
    this.logger = options.logger ?? silentLogger;
    this.httpsAgent = new https.Agent({ keepAlive: true, ...this.tlsRequestOptions() });
  }

  /** An ordinary call: resolves with any 2xx answer (body read completely), rejects with a MesosHttpError otherwise. */
  async post(request: MesosRequest): Promise<MesosResponse> {
    const { response, master } = await this.exchange(request, false);
    const body = await this.readBody(response, master);
    return { status: response.statusCode ?? 0, headers: response.headers, body, master };
  }

  /** A streaming call: resolves once a 200 arrives, with the body still flowing. */
  async openStream(request: MesosRequest): Promise<MesosStreamResponse> {
    const { response, master } = await this.exchange(request, true);
    if (response.statusCode !== 200) {
      response.destroy();
      throw errorFromResponse(response.statusCode ?? 0, '', this.endpoint(master).href);
    }
    return {
      status: 200,
      headers: response.headers,
      body: response,
      master,
      close: () => {
        response.destroy();
        response.socket?.destroy();
      },
    };
  }

  /** Closes the idle keep-alive connections. */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  /** The API URL under a master base URL. */
  endpoint(master: URL): URL {
    return new URL(this.path, master);
  }

  /** The master base URL of an API URL (the inverse of `endpoint`). */
  masterOf(url: URL): URL {
    const base = new URL(url.href);
    base.search = '';
    base.hash = '';
    base.pathname = url.pathname.endsWith('/' + this.path)
      ? url.pathname.slice(0, url.pathname.length - this.path.length)
      : '/';
    return base;
  }

  private async exchange(
    request: MesosRequest,
    streaming: boolean,
  ): Promise<{ response: http.IncomingMessage; master: URL }> {
    let master = request.master ?? (await this.detector.current(request.signal));
    let url = this.endpoint(master);
    let hops = 0;
    let unavailable = 0;
    let backoff: Backoff | undefined;
    for (;;) {
      let response: http.IncomingMessage;
      try {
        response = await this.send(url, request, streaming);
      } catch (err) {
        if (request.signal?.aborted) throw new AbortedError();
        this.detector.failed(master);
        throw networkError(err, url.href);
      }
      const status = response.statusCode ?? 0;
      if (status === 307) {
        response.resume();
        const location = response.headers.location;
        if (!location) throw new RedirectError(`Mesos master at ${url.href} answered 307 without a Location`, true, { status, url: url.href });
        if (++hops > this.maxRedirects) {
          throw new RedirectError(`Too many redirects (more than ${this.maxRedirects}) from ${url.href}`, true, { status, url: url.href });
        }
        let next: URL;
        try {
          // Mesos sends a protocol-relative Location (`//leader:5050/api/v1/scheduler`).
          next = new URL(location, url);
        } catch {
          throw new RedirectError(`Unusable redirect Location ${JSON.stringify(location)} from ${url.href}`, true, { status, url: url.href });
        }
        this.logger.debug('following redirect to the leading master', { from: url.href, to: next.href });
        url = next;
        master = this.masterOf(next);
        this.detector.redirected(master);
        continue;
      }
      if (status === 503 && unavailable < this.unavailableRetries) {
        const body = (await this.readBody(response, master).catch(() => Buffer.alloc(0))).toString('utf8');
        unavailable++;
        backoff ??= new Backoff(this.unavailableBackoff);
        const waitMs = backoff.next();
        this.logger.debug('master unavailable, retrying', { url: url.href, body, attempt: unavailable, waitMs });
        await delay(waitMs, request.signal);
        continue;
      }
      const ok = streaming ? status === 200 : status >= 200 && status < 300;
      if (ok) return { response, master };
      const body = await this.readBody(response, master).catch(() => Buffer.alloc(0));
      throw errorFromResponse(status, body.toString('utf8'), url.href);
    }
  }

  private send(url: URL, request: MesosRequest, streaming: boolean): Promise<http.IncomingMessage> {
    const headers: http.OutgoingHttpHeaders = {
      'Content-Type': request.contentType,
      'Content-Length': request.body.length,
      ...request.headers,
    };
    if (request.accept !== undefined) headers['Accept'] = request.accept;
    if (this.authorization !== undefined) headers['Authorization'] = this.authorization;
    const secure = url.protocol === 'https:';
    const options: https.RequestOptions = {
      method: 'POST',
      headers,
      signal: request.signal,
      // A subscription owns its connection; everything else shares the keep-alive pool.
      agent: streaming ? false : secure ? this.httpsAgent : this.httpAgent,
      ...(secure ? this.tlsRequestOptions() : {}),
    };
    return new Promise((resolve, reject) => {
      const req = (secure ? https : http).request(url, options, (response) => {
        req.setTimeout(0);
        resolve(response);
      });
      req.setTimeout(this.requestTimeoutMs, () => {
        req.destroy(new Error(`no response within ${this.requestTimeoutMs} ms`));
      });
      req.on('error', reject);
      req.end(request.body);
    });
  }

  private readBody(response: http.IncomingMessage, master: URL): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const timer = setTimeout(() => response.destroy(new Error(`response body not complete within ${this.requestTimeoutMs} ms`)), this.requestTimeoutMs);
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > this.maxBodyBytes) {
          response.destroy(new Error(`response body larger than ${this.maxBodyBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      response.on('end', () => {
        clearTimeout(timer);
        resolve(Buffer.concat(chunks, size));
      });
      response.on('error', (err) => {
        clearTimeout(timer);
        reject(err instanceof MesosHttpError ? err : networkError(err, this.endpoint(master).href));
      });
      response.on('aborted', () => {
        clearTimeout(timer);
        reject(networkError(new Error('response aborted'), this.endpoint(master).href));
      });
    });
  }

  private tlsRequestOptions(): https.AgentOptions {
    const options: https.AgentOptions = {};
    if (this.tls.ca !== undefined) options.ca = this.tls.ca;
    if (this.tls.rejectUnauthorized !== undefined) options.rejectUnauthorized = this.tls.rejectUnauthorized;
    return options;
  }
}
