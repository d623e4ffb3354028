/**
 * Polly's libStorage-compatible API on its own listener (default 127.0.0.1:7981; TCP or a unix
 * socket; optional TLS), so REX-Ray agents configured with `libstorage.host` pointing at Polly work
 * unchanged. Middleware order (reference §1.3): server name → auth (global: JWT, or the admin
 * API's tokens; see libstorage-auth.ts) → raw body → routes (headers, service, per-service auth,
 * schema, handler) → libStorage error body.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import express, { Express } from 'express';
import { LS_HEADERS } from '../../../drivers/libstorage/libstorage-wire';
import type { LibStorageConfig } from '../../config/config-schema';
import { Logger, silentLogger } from '../../shared/logger';
import type { ServiceRegistry } from '../../storage/service-registry';
import type { StorageService } from '../../storage/storage-service';
import type { ApiAuth } from '../auth/api-auth';
import { authorizeMethod, createLibStorageAuth } from './libstorage-auth';
import { AdvertisedDriver, LibStorageBackend, PreemptPolicy } from './libstorage-backend';
import { toLibStorageError } from './libstorage-error';
import { libStorageRoutes, send } from './libstorage-routes';
import { TaskRegistry } from './task-registry';
import { closeGracefully } from '../graceful-close';

export interface LibStorageServerOptions {
  storage: StorageService;
  /** Defaults to `storage.registry`. */
  registry?: ServiceRegistry;
  config: LibStorageConfig;
  /** The admin API's auth: when it authenticates and `config.jwt` is absent, its tokens are required here too. */
  apiAuth?: ApiAuth;
  logger?: Logger;
  preempt?: PreemptPolicy;
  advertise?: Readonly<Record<string, AdvertisedDriver>>;
  /** Fixed server name (tests); default a random adjective-noun-xx per start. */
  serverName?: string;
  bodyLimitBytes?: number;
}

export interface LibStorageAddress {
  /** `tcp://host:port` or `unix:///path.sock` (REX-Ray's `libstorage.host` syntax). */
  endpoint: string;
  /** `http(s)://host:port`, or `http://localhost` for a unix socket. */
  url: string;
  host?: string;
  port?: number;
  socket?: string;
}

export interface LibStorageServer {
  readonly app: Express;
  readonly serverName: string;
  /** For `/help/config` and `/help/env`. */
  readonly adminToken: string;
  listen(): Promise<LibStorageAddress>;
  close(timeoutMs?: number): Promise<void>;
}

const ADJECTIVES = ['brave', 'calm', 'eager', 'fancy', 'gentle', 'happy', 'jolly', 'kind', 'lively', 'proud', 'quiet', 'witty'];
const NOUNS = ['badger', 'falcon', 'heron', 'lynx', 'otter', 'panda', 'raven', 'salmon', 'tiger', 'walrus', 'yak', 'zebra'];

function randomServerName(): string {
  const [a, n, x] = randomBytes(3);
  return `${ADJECTIVES[a! % ADJECTIVES.length]}-${NOUNS[n! % NOUNS.length]}-${x!.toString(16).padStart(2, '0')}`;
}

export function createLibStorageServer(options: LibStorageServerOptions): LibStorageServer {
  const { config } = options;
  const logger = options.logger ?? silentLogger;
  const auth = createLibStorageAuth(config, options.apiAuth);
  const serverName = options.serverName ?? randomServerName();
  const adminToken = randomUUID();
  const backend = new LibStorageBackend({
    storage: options.storage,
    preempt: options.preempt,
    advertise: options.advertise ?? config.advertise,
    logger,
  });
  const tasks = new TaskRegistry();
  const describeConfig = (): unknown => ({
    libstorage: {
      host: config.host,
      port: config.port,
      socket: config.socket || undefined,
      tls: Boolean(config.tls?.certFile),
      auth: !auth
        ? 'off'
        : auth.kind === 'jwt'
          ? { algorithm: config.jwt?.algorithm ?? 'HS256', services: Object.keys(config.jwt?.services ?? {}) }
          : 'api tokens',
    },
    services: backend.serviceNames().map((name) => ({ name, driver: backend.driverInfo(name) })),
  });

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  app.use((_req, res, next) => {
    res.setHeader(LS_HEADERS.serverName, serverName);
    next();
  });
  if (auth) {
    app.use((req, res, next) => {
      auth.authenticate(req.headers.authorization).then(
        (caller) => {
          res.locals.caller = caller;
          try {
            authorizeMethod(caller, req.method);
          } catch (err) {
            next(err);
            return;
          }
          next();
        },
        (err: unknown) => next(err),
      );
    });
  }
  app.use(express.text({ type: () => true, limit: options.bodyLimitBytes ?? 1024 * 1024 }));
  app.use(
    libStorageRoutes({
      backend,
      auth,
      serverName,
      adminToken,
      describeConfig,
      tasks,
      logger,
    }),
  );
  // Errors raised before the router (JWT, body limit) get the same body.
  app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    const { status, body } = toLibStorageError(err);
    send(res, status, body);
  });

  let server: http.Server | undefined;

  return {
    app,
    serverName,
    adminToken,
    async listen(): Promise<LibStorageAddress> {
      if (server) throw new Error('the libStorage server is already listening');
      const tls = config.tls?.certFile && config.tls.keyFile ? config.tls : undefined;
      const s = tls
        ? https.createServer({ cert: fs.readFileSync(tls.certFile), key: fs.readFileSync(tls.keyFile) }, app)
        : http.createServer(app);
      server = s;
      const socket = config.socket || undefined;
      if (socket) removeStaleSocket(socket);
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        const done = (): void => {
          s.off('error', reject);
          resolve();
        };
        if (socket) s.listen(socket, done);
        else s.listen(config.port, config.host, done);
      });
      let address: LibStorageAddress;
      if (socket) {
        address = { endpoint: `unix://${socket}`, url: 'http://localhost', socket };
      } else {
        const a = s.address() as AddressInfo;
        const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
        address = {
          endpoint: `tcp://${host}:${a.port}`,
          url: `${tls ? 'https' : 'http'}://${host}:${a.port}`,
          host: a.address,
          port: a.port,
        };
      }
      logger.info('libStorage API listening', { endpoint: address.endpoint, serverName, auth: auth?.kind ?? 'off', tls: Boolean(tls) });
      logger.debug('libStorage admin token for /help/config and /help/env', { adminToken });
      return address;
    },
    async close(timeoutMs = 10_000): Promise<void> {
      const s = server;
      if (!s) return;
      server = undefined;
      await closeGracefully(s, timeoutMs);
    },
  };
}

/** A socket file left by a previous run (nothing listening) is removed; anything else is kept. */
function removeStaleSocket(socket: string): void {
  try {
    if (fs.statSync(socket).isSocket()) fs.unlinkSync(socket);
  } catch {
    // absent: nothing to do
  }
}
