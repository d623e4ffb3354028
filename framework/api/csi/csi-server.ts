/**
 * One CSI gRPC listener (a unix socket, or TCP with mutual TLS) serving the CSI services it is
 * given. Handlers are plain async functions of (request, call context); this layer authenticates
 * the caller, times and counts every call, logs it with the IDs it names, publishes mutating calls
 * as events, and turns every thrown error into a gRPC status in one place (to-grpc-status.ts).
 *
 * A unix socket is created in a directory only its owner can enter (made 0700 when Polly creates
 * it) and is itself mode 0600: on one host, only Polly's own user (or root) can call it.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { NotImplementedError } from '../../errors/not-implemented-error';
import { UnauthorizedError } from '../../errors/unauthorized-error';
import { UnavailableError } from '../../errors/unavailable-error';
import { ValidationError } from '../../errors/validation-error';
import { toGrpcStatus } from '../../errors/to-grpc-status';
import { PollyError } from '../../errors/polly-error';
import { Logger, silentLogger } from '../../shared/logger';
import { crashPoint } from '../../storage/crash-points';
import { SCHEDULER_NAME_PATTERN } from '../../storage/volume-record';
import { CsiEndpoint, formatCsiEndpoint, grpcAddress } from './csi-endpoint';
import type { CsiRpcHistogram } from './csi-metrics';

/** Who is calling: the scheduler whose claims and volumes the call acts on. */
export interface CsiCaller {
  scheduler: string;
  transport: 'unix' | 'tls';
}

export interface CsiCallContext {
  caller: CsiCaller;
  /** `Controller/CreateVolume`. */
  method: string;
}

/** One RPC's implementation. */
export interface CsiMethod<Req = never, Res = unknown> {
  handle(request: Req, context: CsiCallContext): Promise<Res> | Res;
  /** Changes state: logged at info and published as a `csi.call` event. */
  mutating?: boolean;
  /** The IDs a request names, for logs and events (never secrets). */
  fields?(request: Req): Record<string, unknown>;
}

// Handlers take their own request types; the table erases them (each is called with what its method decodes to).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type CsiMethods = Record<string, CsiMethod<any, unknown>>;

export interface CsiEventSink {
  publish(type: string, data: Record<string, unknown>): unknown;
}

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** CAs that sign client certificates: every caller must present one. */
  caFile: string;
}

export interface CsiServerOptions {
  endpoint: CsiEndpoint;
  /** Required for TCP: callers are authenticated by their certificate's common name. */
  tls?: TlsFiles;
  /** The scheduler callers on a unix socket act as. */
  socketScheduler: string;
  logger?: Logger;
  metrics?: CsiRpcHistogram;
  events?: CsiEventSink;
}

interface Registered {
  /** `identity`, `controller`, `node` (metrics label). */
  service: string;
  definition: grpc.ServiceDefinition;
  methods: CsiMethods;
}

export class CsiServer {
  private readonly server = new grpc.Server();
  private readonly logger: Logger;
  private readonly services: Registered[] = [];
  private listening = false;
  private address = '';

  constructor(private readonly options: CsiServerOptions) {
    this.logger = options.logger ?? silentLogger;
    if (options.endpoint.kind === 'tcp' && !options.tls) {
      throw ValidationError.field('tls', `CSI over TCP (${formatCsiEndpoint(options.endpoint)}) requires TLS with client certificates`);
    }
  }

  /** The endpoint as given, with the bound port for TCP port 0. */
  get endpoint(): string {
    return this.address;
  }

  addService(service: string, definition: grpc.ServiceDefinition, methods: CsiMethods): void {
    if (this.listening) throw new Error('CSI services must be added before listen()');
    this.services.push({ service, definition, methods });
    const implementation: grpc.UntypedServiceImplementation = {};
    // Keyed by the RPC's name as the .proto spells it (`CreateVolume`).
    for (const name of Object.keys(definition)) implementation[name] = this.unary(service, name, methods[name]);
    this.server.addService(definition, implementation);
  }

  async listen(): Promise<string> {
    const { endpoint } = this.options;
    let credentials: grpc.ServerCredentials;
    if (endpoint.kind === 'unix') {
      await prepareSocketPath(endpoint.path);
      credentials = grpc.ServerCredentials.createInsecure();
    } else {
      const tls = this.options.tls!;
      credentials = grpc.ServerCredentials.createSsl(
        readFile(tls.caFile, 'tls.caFile'),
        [{ cert_chain: readFile(tls.certFile, 'tls.certFile'), private_key: readFile(tls.keyFile, 'tls.keyFile') }],
        true,
      );
    }
    const port = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(grpcAddress(endpoint), credentials, (err, bound) => (err ? reject(err) : resolve(bound)));
    }).catch((err: Error) => {
      throw new PollyError(`Cannot listen for CSI on ${formatCsiEndpoint(endpoint)}: ${err.message}`, {
        endpoint: formatCsiEndpoint(endpoint),
      });
    });
    if (endpoint.kind === 'unix') fs.chmodSync(endpoint.path, 0o600);
    this.listening = true;
    this.address = endpoint.kind === 'unix' ? formatCsiEndpoint(endpoint) : formatCsiEndpoint({ ...endpoint, port });
    this.logger.info('CSI listener ready', {
      endpoint: this.address,
      services: this.services.map((s) => s.service),
      scheduler: endpoint.kind === 'unix' ? this.options.socketScheduler : undefined,
    });
    return this.address;
  }

  /** Stops taking calls, lets the running ones finish for up to `graceMs`, then cuts the rest. */
  async close(graceMs = 5000): Promise<void> {
    const wasListening = this.listening;
    this.listening = false;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      timer.unref();
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    const { endpoint } = this.options;
    if (wasListening && endpoint.kind === 'unix') fs.rmSync(endpoint.path, { force: true });
  }

  private unary(service: string, rpc: string, method: CsiMethod<never, unknown> | undefined): grpc.handleUnaryCall<unknown, unknown> {
    const label = `${capitalise(service)}/${rpc}`;
    return (call, callback) => {
      const started = process.hrtime.bigint();
      let fields: Record<string, unknown> = {};
      const finish = (code: string, message?: string): void => {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        this.options.metrics?.observe({ service, method: rpc, code }, seconds);
        const entry = { method: label, code, ms: Math.round(seconds * 1e6) / 1000, ...fields, ...(message ? { error: message } : {}) };
        if (code === 'INTERNAL' || code === 'UNKNOWN') this.logger.error('CSI call failed', entry);
        else if (code !== 'OK') this.logger.warn('CSI call refused', entry);
        else if (method?.mutating) this.logger.info('CSI call', entry);
        else this.logger.debug('CSI call', entry);
        if (method?.mutating) this.options.events?.publish('csi.call', entry);
      };
      void (async () => {
        if (!method) throw new NotImplementedError(`${label} is not implemented by Polly`);
        const caller = this.callerOf(call);
        fields = { scheduler: caller.scheduler, ...safeFields(method, call.request as never) };
        if (method.mutating) crashPoint('csi', 'received');
        return method.handle(call.request as never, { caller, method: label });
      })().then(
        (response) => {
          if (method?.mutating) crashPoint('csi', 'replying');
          finish('OK');
          callback(null, response ?? {});
        },
        (err: unknown) => {
          const status = toGrpcStatus(err);
          if (status.name === 'INTERNAL')
            this.logger.error('CSI handler error', { method: label, error: (err as Error)?.stack ?? String(err) });
          finish(status.name, status.message);
          callback({ code: status.code, details: status.message } as grpc.ServiceError, null);
        },
      );
    };
  }

  private callerOf(call: grpc.ServerUnaryCall<unknown, unknown>): CsiCaller {
    if (this.options.endpoint.kind === 'unix') return { scheduler: this.options.socketScheduler, transport: 'unix' };
    const cert = call.getAuthContext().sslPeerCertificate;
    const cn = cert?.subject?.CN;
    const name = Array.isArray(cn) ? cn[0] : cn;
    if (typeof name !== 'string' || !SCHEDULER_NAME_PATTERN.test(name)) {
      throw new UnauthorizedError(
        "CSI over TCP needs a TLS client certificate whose common name (CN) is the caller's Polly scheduler name",
      );
    }
    return { scheduler: name, transport: 'tls' };
  }
}

function safeFields(method: CsiMethod<never, unknown>, request: never): Record<string, unknown> {
  try {
    return method.fields?.(request) ?? {};
  } catch {
    return {};
  }
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function readFile(file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw ValidationError.field(what, `Cannot read CSI ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/**
 * Makes the socket's directory (0700 when Polly creates it) and clears a stale socket left by a
 * process that died. A live socket (another process answers) or anything that is not a socket is
 * refused, never removed.
 */
async function prepareSocketPath(socketPath: string): Promise<void> {
  const dir = path.dirname(socketPath);
  if (!fs.existsSync(dir)) fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(socketPath);
  } catch {
    return; // nothing there
  }
  if (!stat.isSocket()) {
    throw new PollyError(`Cannot listen for CSI on ${socketPath}: it exists and is not a socket; move it away or choose another path`, {
      socket: socketPath,
    });
  }
  if (await socketAnswers(socketPath)) {
    throw new UnavailableError(`Another process is serving CSI on ${socketPath}; stop it or choose another socket path`, {
      socket: socketPath,
    });
  }
  fs.rmSync(socketPath, { force: true });
}

/** Whether something accepts connections on the socket. */
function socketAnswers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(socketPath);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
