/**
 * The admin and v1 HTTP API: one express app with the middleware in a fixed order —
 *
 *   request ID + access log → metrics → authenticate/authorise (401/403) → route guard (404/405)
 *   → Content-Type (415) → JSON body (400/413) → routes → the one error handler
 *
 * `listen()` binds (HTTP, or HTTPS with cert and key) and returns the address; `close()` stops
 * accepting, ends the event streams, lets in-flight requests finish within a bound, then drops
 * what is left.
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import express, { Express, Router } from 'express';
import { NotFoundError } from '../errors/not-found-error';
import { Logger, silentLogger } from '../shared/logger';
import type { StorageService } from '../storage/storage-service';
import { adminRoutes } from './admin/admin-routes';
import type { ApiAuth } from './auth/api-auth';
import type { EventJournal } from './event-journal';
import { healthRoutes, Readiness } from './health-routes';
import type { PollyMetrics } from './metrics/polly-metrics';
import { metricsRoutes } from './metrics-routes';
import { authenticate } from './middleware/authenticate';
import { requireJsonBody } from './middleware/content-type';
import { errorHandler } from './middleware/error-handler';
import { jsonBody } from './middleware/json-body';
import { accessLog, requestId } from './middleware/request-id';
import { requestMetrics } from './middleware/request-metrics';
import { routeGuard } from './middleware/route-guard';
import { RouteTable } from './route-table';
import { uiRoutes, UiRoutesOptions } from './ui/ui-routes';
import { claimsRoutes } from './v1/claims-routes';
import { eventsRoutes } from './v1/events-routes';
import { quarantineRoutes } from './v1/quarantine-routes';
import { servicesRoutes } from './v1/services-routes';
import { snapshotsRoutes } from './v1/snapshots-routes';
import { volumesRoutes } from './v1/volumes-routes';
import { closeGracefully } from './graceful-close';

export interface MountedRouter {
  /** Mount path, e.g. `/v1`. */
  path: string;
  router: Router;
}

export interface ApiServerOptions {
  storage: StorageService;
  auth: ApiAuth;
  readiness: () => Readiness;
  metrics: PollyMetrics;
  events: EventJournal;
  logger?: Logger;
  /** Mounted after Polly's own routes (e.g. the scheduler's `/v1/apps`, `/v1/agents`, `/v1/offers`). */
  routers?: MountedRouter[];
  bodyLimitBytes?: number;
  /** SSE keep-alive comment interval. */
  keepAliveMs?: number;
  /** The dashboard at `/ui` (on by default); `false` leaves it out. */
  ui?: UiRoutesOptions | false;
}

export interface ListenOptions {
  host: string;
  port: number;
  tls?: { cert: string | Buffer; key: string | Buffer } | { certFile: string; keyFile: string };
}

export interface BoundAddress {
  host: string;
  port: number;
  url: string;
}

export interface ApiServer {
  readonly app: Express;
  readonly routes: RouteTable;
  listen(options: ListenOptions): Promise<BoundAddress>;
  /** Stops accepting, ends SSE streams, waits up to `timeoutMs` for in-flight requests, then closes the rest. */
  close(timeoutMs?: number): Promise<void>;
}

function tlsMaterial(tls: NonNullable<ListenOptions['tls']>): { cert: string | Buffer; key: string | Buffer } {
  if ('certFile' in tls) return { cert: fs.readFileSync(tls.certFile), key: fs.readFileSync(tls.keyFile) };
  return tls;
}

export function createApiServer(options: ApiServerOptions): ApiServer {
  const logger = options.logger ?? silentLogger;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');

  const events = eventsRoutes(options.events, { keepAliveMs: options.keepAliveMs });
  const mounts: MountedRouter[] = [
    { path: '/', router: healthRoutes(options.readiness) },
    { path: '/', router: metricsRoutes(options.metrics) },
    { path: '/admin', router: adminRoutes(options.storage) },
    { path: '/v1', router: servicesRoutes(options.storage.registry) },
    { path: '/v1', router: quarantineRoutes(options.storage) },
    { path: '/v1', router: volumesRoutes(options.storage) },
    { path: '/v1', router: snapshotsRoutes(options.storage) },
    { path: '/v1', router: claimsRoutes(options.storage) },
    { path: '/v1', router: events.router },
    ...(options.routers ?? []),
  ];
  const routes = new RouteTable();
  for (const m of mounts) routes.addRouter(m.path, m.router);

  app.use(requestId());
  app.use(accessLog(logger));
  app.use(requestMetrics(options.metrics));
  // The dashboard's static files are public (no data in them): mounted before authentication, and
  // it answers every /ui request itself (GET/HEAD, 404, 405) so the route guard never sees them.
  if (options.ui !== false) app.use('/ui', uiRoutes(options.ui ?? {}));
  app.use(authenticate(options.auth));
  app.use(routeGuard(routes));
  app.use(requireJsonBody());
  app.use(...jsonBody(options.bodyLimitBytes ?? 1024 * 1024));
  for (const m of mounts) app.use(m.path, m.router);
  // The guard already answered unknown paths; a route that matched but did not answer ends here.
  app.use((req, _res, next) => next(new NotFoundError(`No route ${req.method} ${req.path.slice(0, 300)}`)));
  app.use(errorHandler(logger));

  let server: http.Server | undefined;
  let closing = false;

  return {
    app,
    routes,
    async listen(listen: ListenOptions): Promise<BoundAddress> {
      if (server) throw new Error('ApiServer is already listening');
      const s = listen.tls ? https.createServer(tlsMaterial(listen.tls), app) : http.createServer(app);
      server = s;
      s.on('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
        if (closing) res.setHeader('Connection', 'close');
        // A request that finishes during shutdown leaves an idle keep-alive socket: close it.
        res.on('close', () => {
          if (closing) setImmediate(() => s.closeIdleConnections());
        });
      });
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(listen.port, listen.host, () => {
          s.off('error', reject);
          resolve();
        });
      });
      const address = s.address() as AddressInfo;
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      const url = `${listen.tls ? 'https' : 'http'}://${host}:${address.port}`;
      logger.info('API listening', { url, auth: options.auth.enabled, tls: Boolean(listen.tls) });
      return { host: address.address, port: address.port, url };
    },
    async close(timeoutMs = 10_000): Promise<void> {
      const s = server;
      if (!s) return;
      server = undefined;
      closing = true;
      // SSE streams never finish on their own: end them first, then drain the rest.
      events.streams.closeAll();
      if ((await closeGracefully(s, timeoutMs)) === 'forced') {
        logger.warn('API shutdown: in-flight requests did not finish in time; closed them', { timeoutMs });
      }
      closing = false;
    },
  };
}
