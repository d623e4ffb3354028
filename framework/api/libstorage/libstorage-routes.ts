/**
 * The libStorage route table (reference §1.4, v0.6.3) with the operation chosen by a query key
 * (`POST /volumes/{service}/{id}?attach`). Handlers are thin: parse, authorise, call the backend,
 * answer with libStorage's status codes (create/copy/snapshot 201, detach 205, volume delete 204,
 * snapshot delete 205 `null`). Every volume and snapshot route, reads included, takes `?async`
 * (as upstream): 202 with the Task, whose outcome `/tasks/{id}` reports to the callers that may
 * read it.
 */
import express, { NextFunction, Request, RequestHandler, Response, Router } from 'express';
import type { LsServiceInfo } from '../../../drivers/libstorage/libstorage-wire';
import { Logger, silentLogger } from '../../shared/logger';
import { POLLY_VERSION } from '../../version';
import { maskNeedsInstanceId, parseAttachmentMask } from './attachment-mask';
import { ANONYMOUS_CALLER, Caller, LibStorageAuth } from './libstorage-auth';
import type { LibStorageBackend } from './libstorage-backend';
import { LibStorageError, toLibStorageError } from './libstorage-error';
import { validateRequestBody } from './libstorage-schema';
import { readRequestContext, RequestContext } from './request-context';
import { TaskEntry, TaskRegistry } from './task-registry';

export interface LibStorageRoutesOptions {
  backend: LibStorageBackend;
  /** Undefined: auth off. */
  auth?: LibStorageAuth;
  serverName: string;
  /** For `/help/config` and `/help/env` (`?admin=<token>`): random per start. */
  adminToken: string;
  /** What `/help/config` shows (already redacted). */
  describeConfig: () => unknown;
  tasks?: TaskRegistry;
  bodyLimitBytes?: number;
  logger?: Logger;
}

type Handler = (req: Request, res: Response, ctx: RequestContext) => Promise<void> | void;

/**
 * Pretty-printed JSON, as the Go server writes it. Written on the raw response: express strips the
 * body of a 205, and libStorage sends one (the detached volume) that its clients read.
 */
export function send(res: Response, status: number, body?: unknown): void {
  res.statusCode = status;
  if (status === 204) {
    res.end();
    return;
  }
  const text = Buffer.from(`${JSON.stringify(body === undefined ? null : body, null, 2)}\n`, 'utf8');
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Content-Length', String(text.length));
  res.end(text);
}

function has(req: Request, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(req.query, key);
}

/** `?async`, `?async=true`, `?async=1`: a bare key is true, as in libStorage's query store. */
function asyncRequested(req: Request): boolean {
  if (!has(req, 'async')) return false;
  const raw = req.query.async;
  const v = String(Array.isArray(raw) ? raw[raw.length - 1] : raw)
    .trim()
    .toLowerCase();
  return v !== 'false' && v !== '0';
}

function rawBody(req: Request): string {
  return typeof req.body === 'string' ? req.body : '';
}

function param(req: Request, name: string): string {
  return String(req.params[name] ?? '');
}

/** `(name=value)`, the only filter libStorage honours; other well-formed `(k=v)` filters are ignored. */
export function parseFilter(value: unknown): { name?: string } {
  if (value === undefined) return {};
  const v = Array.isArray(value) ? String(value[value.length - 1]) : String(value);
  const m = /^\(\s*([A-Za-z][A-Za-z0-9._-]*)\s*=\s*([^()]*)\)$/.exec(v.trim());
  if (!m) throw new LibStorageError(400, 'bad filter', { filter: v.slice(0, 300), inner: "filter does not start with an '('" });
  return m[1]!.toLowerCase() === 'name' ? { name: m[2]!.trim() } : {};
}

const SECRET_NAME = /SECRET|TOKEN|KEY|PASSWORD|PASSWD|CREDENTIAL/i;

export function libStorageRoutes(options: LibStorageRoutesOptions): Router {
  const { backend, auth } = options;
  const logger = options.logger ?? silentLogger;
  const tasks = options.tasks ?? new TaskRegistry();
  const router = express.Router({ caseSensitive: true, strict: false });
  /** Set by the server's auth middleware; anonymous when auth is off. */
  const callerOf = (res: Response): Caller => (res.locals.caller as Caller | undefined) ?? ANONYMOUS_CALLER;

  const authorize = (caller: Caller, services: string[]): void => {
    if (!auth) return;
    for (const s of services) auth.authorize(caller, s);
  };
  /** Unknown service → 404, then the service's allow/deny rules. */
  const serviceOf = (req: Request, ctx: RequestContext): string => {
    const name = param(req, 'service');
    backend.service(name);
    authorize(ctx.caller, [name]);
    return name;
  };
  /** The services an all-services route answers for (the auth decides: the caller's own, or all or nothing). */
  const allServices = (ctx: RequestContext): string[] => {
    const names = backend.serviceNames();
    return auth ? auth.servicesFor(ctx.caller, names) : names;
  };
  /**
   * One answer per service. A service that needs the caller's instance ID and has none fails the
   * whole request with 400, as the one-service route does (upstream: 500 "batch processing error").
   */
  const perService = <T>(names: string[], each: (name: string) => T): Record<string, T> => {
    const out: Record<string, T> = {};
    for (const name of names) out[name] = each(name);
    return out;
  };
  /** The caller's instance for an attach or detach on `name`: 400 without one, 403 when it may not act as it. */
  const actingInstance = (name: string, ctx: RequestContext): string => {
    const instanceId = backend.callerInstance(name, ctx, true)!;
    auth?.authorizeInstance(ctx.caller, name, instanceId);
    return instanceId;
  };
  /** Runs `work` and answers `status` with its result; with `?async`, answers 202 with its Task and lets it run on. */
  const answer = async (
    req: Request,
    res: Response,
    ctx: RequestContext,
    services: string[],
    status: number,
    work: () => Promise<unknown> | unknown,
  ): Promise<void> => {
    if (asyncRequested(req)) {
      const owner = { services, ...(ctx.caller.subject !== undefined ? { user: ctx.caller.subject } : {}) };
      send(
        res,
        202,
        tasks.run(
          owner,
          async () => work(),
          (err) => toLibStorageError(err).body,
        ),
      );
      return;
    }
    send(res, status, await work());
  };

  const route = (handler: Handler): RequestHandler => {
    return async (req: Request, res: Response, next: NextFunction) => {
      try {
        const ctx = readRequestContext(req, callerOf(res));
        res.locals.txId = ctx.tx.id;
        await handler(req, res, ctx);
      } catch (err) {
        next(err);
      }
    };
  };

  const serviceInfo = async (name: string, ctx: RequestContext, withInstance: boolean, required: boolean): Promise<LsServiceInfo> => {
    const info: LsServiceInfo = { name, driver: backend.driverInfo(name) };
    if (withInstance) {
      try {
        info.instance = await backend.instance(name, ctx);
      } catch (err) {
        if (required || !(err instanceof LibStorageError && err.message === 'missing instance ID')) throw err;
      }
    }
    return info;
  };

  // 1. root
  router.get('/', (req, res) => {
    const base = `${req.protocol}://${req.headers.host ?? 'localhost'}`;
    send(
      res,
      200,
      ['services', 'snapshots', 'tasks', 'help', 'volumes'].map((p) => `${base}/${p}`),
    );
  });

  // 2-3. services
  router.get(
    '/services',
    route(async (req, res, ctx) => {
      const out: Record<string, LsServiceInfo> = {};
      for (const name of allServices(ctx)) out[name] = await serviceInfo(name, ctx, has(req, 'instance'), false);
      send(res, 200, out);
    }),
  );
  router.get(
    '/services/:service',
    route(async (req, res, ctx) => {
      const name = serviceOf(req, ctx);
      send(res, 200, await serviceInfo(name, ctx, has(req, 'instance'), true));
    }),
  );

  // 4, 13. all volumes; detach all
  router.get(
    '/volumes',
    route(async (req, res, ctx) => {
      const mask = parseAttachmentMask(req.query.attachments);
      const filter = parseFilter(req.query.filter);
      const names = allServices(ctx);
      // Checked now, so that an async task cannot fail for a missing instance ID.
      if (maskNeedsInstanceId(mask)) for (const name of names) backend.callerInstance(name, ctx, true);
      await answer(req, res, ctx, names, 200, () => perService(names, (name) => backend.volumes(name, ctx, { mask, ...filter })));
    }),
  );
  router.post(
    '/volumes',
    route(async (req, res, ctx) => {
      if (!has(req, 'detach')) throw notFoundRoute(req);
      const body = validateRequestBody('volumeDetachRequest', rawBody(req), true);
      const names = allServices(ctx);
      perService(names, (name) => actingInstance(name, ctx));
      await answer(req, res, ctx, names, 205, async () => {
        const out: Record<string, unknown> = {};
        for (const name of names) out[name] = await backend.detachAll(name, ctx, body);
        return out;
      });
    }),
  );

  // 5, 7, 12. one service's volumes; create; detach all of the service
  router.get(
    '/volumes/:service',
    route(async (req, res, ctx) => {
      const name = serviceOf(req, ctx);
      const mask = parseAttachmentMask(req.query.attachments);
      const filter = parseFilter(req.query.filter);
      if (maskNeedsInstanceId(mask)) backend.callerInstance(name, ctx, true);
      await answer(req, res, ctx, [name], 200, () => backend.volumes(name, ctx, { mask, ...filter }));
    }),
  );
  router.post(
    '/volumes/:service',
    route(async (req, res, ctx) => {
      const name = serviceOf(req, ctx);
      if (has(req, 'detach')) {
        const body = validateRequestBody('volumeDetachRequest', rawBody(req), true);
        actingInstance(name, ctx);
        await answer(req, res, ctx, [name], 205, () => backend.detachAll(name, ctx, body));
        return;
      }
      const body = validateRequestBody('volumeCreateRequest', rawBody(req));
      await answer(req, res, ctx, [name], 201, () => backend.create(name, ctx, body));
    }),
  );

  // 6, 8-11, 14. one volume
  router.get(
    '/volumes/:service/:volumeID',
    route(async (req, res, ctx) => {
      const name = serviceOf(req, ctx);
      const mask = parseAttachmentMask(req.query.attachments);
      if (maskNeedsInstanceId(mask)) backend.callerInstance(name, ctx, true);
      await answer(req, res, ctx, [name], 200, () => backend.inspect(name, param(req, 'volumeID'), ctx, mask, has(req, 'byName')));
    }),
  );
  router.post(
    '/volumes/:service/:volumeID',
    route(async (req, res, ctx) => {
      const name = serviceOf(req, ctx);
      const id = param(req, 'volumeID');
      if (has(req, 'attach')) {
        const body = validateRequestBody('volumeAttachRequest', rawBody(req), true);
        actingInstance(name, ctx);
        await answer(req, res, ctx, [name], 200, () => backend.attach(name, id, ctx, body));
      } else if (has(req, 'detach')) {
        const body = validateRequestBody('volumeDetachRequest', rawBody(req), true);
        actingInstance(name, ctx);
        await answer(req, res, ctx, [name], 205, () => backend.detach(name, id, ctx, body));
      } else if (has(req, 'copy')) {
        const body = validateRequestBody('volumeCopyRequest', rawBody(req));
        await answer(req, res, ctx, [name], 201, () => backend.copy(name, id, ctx, body));
      } else if (has(req, 'snapshot')) {
        const body = validateRequestBody('volumeSnapshotRequest', rawBody(req));
        await answer(req, res, ctx, [name], 201, () => backend.snapshot(name, id, ctx, body));
      } else {
        throw notFoundRoute(req);
      }
    }),
  );
  router.delete(
    '/volumes/:service/:volumeID',
    route(async (req, res, ctx) => {
      const name = serviceOf(req, ctx);
      const force = has(req, 'force') && String(req.query.force) !== 'false';
      await answer(req, res, ctx, [name], 204, () => backend.remove(name, param(req, 'volumeID'), ctx, force));
    }),
  );

  // 15-20. snapshots
  router.get(
    '/snapshots',
    route(async (req, res, ctx) => {
      const names = allServices(ctx);
      await answer(req, res, ctx, names, 200, async () => {
        const out: Record<string, unknown> = {};
        for (const name of names) out[name] = await backend.snapshots(name, ctx.caller);
        return out;
      });
    }),
  );
  router.get(
    '/snapshots/:service',
    route(async (req, res, ctx) => {
      const name = serviceOf(req, ctx);
      await answer(req, res, ctx, [name], 200, () => backend.snapshots(name, ctx.caller));
    }),
  );
  router.get(
    '/snapshots/:service/:snapshotID',
    route(async (req, res, ctx) => {
      const name = serviceOf(req, ctx);
      await answer(req, res, ctx, [name], 200, () => backend.snapshotInspect(name, param(req, 'snapshotID'), ctx.caller));
    }),
  );
  router.post(
    '/snapshots/:service/:snapshotID',
    route(async (req, res, ctx) => {
      const name = serviceOf(req, ctx);
      const id = param(req, 'snapshotID');
      if (has(req, 'create')) {
        const body = validateRequestBody('volumeCreateRequest', rawBody(req));
        await answer(req, res, ctx, [name], 201, () => backend.snapshotCreateVolume(name, id, ctx, body));
      } else if (has(req, 'copy')) {
        const body = validateRequestBody('snapshotCopyRequest', rawBody(req));
        await answer(req, res, ctx, [name], 201, () => backend.snapshotCopy(name, id, ctx, body));
      } else {
        throw notFoundRoute(req);
      }
    }),
  );
  router.delete(
    '/snapshots/:service/:snapshotID',
    route(async (req, res, ctx) => {
      const name = serviceOf(req, ctx);
      await answer(req, res, ctx, [name], 205, async () => {
        await backend.snapshotRemove(name, param(req, 'snapshotID'), ctx.caller);
        return null;
      });
    }),
  );

  // 21-22. tasks
  // With auth on, a task is shown to the caller that started it, or to an admin (an all-services
  // token), and only while the caller may still use every service the task touched.
  const mayRead = (caller: Caller, entry: TaskEntry): boolean => {
    if (!auth) return true;
    const everyService = caller.admin && caller.service === undefined;
    if (!everyService && entry.task.user !== caller.subject) return false;
    try {
      for (const service of entry.services) auth.authorize(caller, service);
    } catch {
      return false;
    }
    return true;
  };
  router.get('/tasks', (_req, res) => {
    const caller = callerOf(res);
    const shown = tasks.list().filter((entry) => mayRead(caller, entry));
    send(res, 200, Object.fromEntries(shown.map(({ task }) => [String(task.id), task])));
  });
  router.get('/tasks/:taskID', (req, res, next) => {
    const id = /^\d{1,12}$/.test(param(req, 'taskID')) ? Number(param(req, 'taskID')) : NaN;
    const found = Number.isNaN(id) ? undefined : tasks.get(id);
    if (!found || !mayRead(callerOf(res), found)) {
      next(LibStorageError.notFound(param(req, 'taskID').slice(0, 100)));
      return;
    }
    send(res, 200, found.task);
  });

  // 23-25. help
  router.get('/help', (req, res) => {
    const base = `${req.protocol}://${req.headers.host ?? 'localhost'}/help`;
    send(
      res,
      200,
      ['config', 'env', 'version'].map((p) => `${base}/${p}`),
    );
  });
  router.get('/help/version', (_req, res) => send(res, 200, POLLY_VERSION));
  const adminOnly: RequestHandler = (req, _res, next) => {
    const token = typeof req.query.admin === 'string' ? req.query.admin : '';
    if (token !== options.adminToken) next(new LibStorageError(401, 'invalid admin token', { token }));
    else next();
  };
  router.get('/help/config', adminOnly, (_req, res) => send(res, 200, options.describeConfig()));
  router.get('/help/env', adminOnly, (_req, res) => {
    const env = Object.entries(process.env)
      .filter(([k]) => /^(POLLY|LIBSTORAGE)_/.test(k))
      .map(([k, v]) => `${k}=${SECRET_NAME.test(k) ? '******' : (v ?? '')}`)
      .sort();
    send(res, 200, env);
  });

  // 26-27. executors (≤ v0.6.2 clients): Polly serves no executor binaries; clients need
  // `libstorage.executor.disableDownload: true` (REX-Ray ≥ 0.9.x compile theirs in).
  router.get('/executors', (_req, res) => send(res, 200, {}));
  router.all('/executors/:name', (req, _res, next) => next(LibStorageError.notFound(param(req, 'name').slice(0, 100))));

  router.use((req, _res, next) => next(notFoundRoute(req)));
  router.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const { status, body } = toLibStorageError(err);
    if (status >= 500) {
      logger.error('libstorage request failed', {
        method: req.method,
        path: req.path.slice(0, 300),
        status,
        error: (err as Error)?.message,
        txId: res.locals.txId,
      });
    } else {
      logger.debug('libstorage request refused', {
        method: req.method,
        path: req.path.slice(0, 300),
        status,
        error: body.message,
        txId: res.locals.txId,
      });
    }
    send(res, status, body);
  });
  return router;
}

function notFoundRoute(req: Request): LibStorageError {
  return new LibStorageError(404, '404 page not found', { method: req.method, path: req.path.slice(0, 300) });
}
