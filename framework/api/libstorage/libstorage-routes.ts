/**
 * The libStorage route table (reference §1.4, v0.6.3) with the operation chosen by a query key
 * (`POST /volumes/{service}/{id}?attach`). Handlers are thin: parse, authorise, call the backend,
 * answer with libStorage's status codes (create/copy/snapshot 201, detach 205, volume delete 204,
 * snapshot delete 205 `null`, `?async` 202 with the Task).
 */
import express, { NextFunction, Request, RequestHandler, Response, Router } from 'express';
import type { LsServiceInfo } from '../../../drivers/libstorage/libstorage-wire';
import { Logger, silentLogger } from '../../mesos/logger';
import { POLLY_VERSION } from '../../version';
import { parseAttachmentMask } from './attachment-mask';
import { ANONYMOUS_CALLER, Caller, LibStorageAuth } from './libstorage-auth';
import type { LibStorageBackend } from './libstorage-backend';
import { LibStorageError, toLibStorageError } from './libstorage-error';
import { validateRequestBody } from './libstorage-schema';
import { readRequestContext, RequestContext } from './request-context';
import { TaskRegistry } from './task-registry';

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
  /** Upstream's all-services failure shape (500 "batch processing error"). */
  const batch = <T>(names: string[], each: (name: string) => T): Record<string, T> => {
    const completed: Record<string, T> = {};
    for (const name of names) {
      try {
        completed[name] = each(name);
      } catch (err) {
        if (err instanceof LibStorageError && err.message === 'missing instance ID') {
          throw new LibStorageError(500, 'batch processing error', { completed: {}, inner: { msg: err.message, service: name } });
        }
        throw err;
      }
    }
    return completed;
  };
  /** Runs a mutation, or with `?async` answers 202 with its Task and lets it run on. */
  const mutation = async (
    req: Request,
    res: Response,
    ctx: RequestContext,
    status: number,
    work: () => Promise<unknown>,
  ): Promise<void> => {
    if (has(req, 'async')) {
      send(
        res,
        202,
        tasks.run(ctx.caller.subject, work, (err) => toLibStorageError(err).body),
      );
      return;
    }
    const result = await work();
    send(res, status, result);
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
    route((req, res, ctx) => {
      const mask = parseAttachmentMask(req.query.attachments);
      const filter = parseFilter(req.query.filter);
      send(
        res,
        200,
        batch(allServices(ctx), (name) => backend.volumes(name, ctx, { mask, ...filter })),
      );
    }),
  );
  router.post(
    '/volumes',
    route(async (req, res, ctx) => {
      if (!has(req, 'detach')) throw notFoundRoute(req);
      const body = validateRequestBody('volumeDetachRequest', rawBody(req), true);
      const names = allServices(ctx);
      batch(names, (name) => backend.callerInstance(name, ctx, true));
      await mutation(req, res, ctx, 205, async () => {
        const out: Record<string, unknown> = {};
        for (const name of names) out[name] = await backend.detachAll(name, ctx, body);
        return out;
      });
    }),
  );

  // 5, 7, 12. one service's volumes; create; detach all of the service
  router.get(
    '/volumes/:service',
    route((req, res, ctx) => {
      const name = serviceOf(req, ctx);
      const mask = parseAttachmentMask(req.query.attachments);
      send(res, 200, backend.volumes(name, ctx, { mask, ...parseFilter(req.query.filter) }));
    }),
  );
  router.post(
    '/volumes/:service',
    route(async (req, res, ctx) => {
      const name = serviceOf(req, ctx);
      if (has(req, 'detach')) {
        const body = validateRequestBody('volumeDetachRequest', rawBody(req), true);
        backend.callerInstance(name, ctx, true);
        await mutation(req, res, ctx, 205, () => backend.detachAll(name, ctx, body));
        return;
      }
      const body = validateRequestBody('volumeCreateRequest', rawBody(req));
      await mutation(req, res, ctx, 201, () => backend.create(name, ctx, body));
    }),
  );

  // 6, 8-11, 14. one volume
  router.get(
    '/volumes/:service/:volumeID',
    route((req, res, ctx) => {
      const name = serviceOf(req, ctx);
      const mask = parseAttachmentMask(req.query.attachments);
      send(res, 200, backend.inspect(name, param(req, 'volumeID'), ctx, mask, has(req, 'byName')));
    }),
  );
  router.post(
    '/volumes/:service/:volumeID',
    route(async (req, res, ctx) => {
      const name = serviceOf(req, ctx);
      const id = param(req, 'volumeID');
      if (has(req, 'attach')) {
        const body = validateRequestBody('volumeAttachRequest', rawBody(req), true);
        backend.callerInstance(name, ctx, true);
        await mutation(req, res, ctx, 200, () => backend.attach(name, id, ctx, body));
      } else if (has(req, 'detach')) {
        const body = validateRequestBody('volumeDetachRequest', rawBody(req), true);
        backend.callerInstance(name, ctx, true);
        await mutation(req, res, ctx, 205, () => backend.detach(name, id, ctx, body));
      } else if (has(req, 'copy')) {
        const body = validateRequestBody('volumeCopyRequest', rawBody(req));
        await mutation(req, res, ctx, 201, () => backend.copy(name, id, ctx, body));
      } else if (has(req, 'snapshot')) {
        const body = validateRequestBody('volumeSnapshotRequest', rawBody(req));
        await mutation(req, res, ctx, 201, () => backend.snapshot(name, id, ctx, body));
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
      await mutation(req, res, ctx, 204, () => backend.remove(name, param(req, 'volumeID'), ctx, force));
    }),
  );

  // 15-20. snapshots
  router.get(
    '/snapshots',
    route(async (_req, res, ctx) => {
      const out: Record<string, unknown> = {};
      for (const name of allServices(ctx)) out[name] = await backend.snapshots(name, ctx.caller);
      send(res, 200, out);
    }),
  );
  router.get(
    '/snapshots/:service',
    route(async (req, res, ctx) => send(res, 200, await backend.snapshots(serviceOf(req, ctx), ctx.caller))),
  );
  router.get(
    '/snapshots/:service/:snapshotID',
    route(async (req, res, ctx) =>
      send(res, 200, await backend.snapshotInspect(serviceOf(req, ctx), param(req, 'snapshotID'), ctx.caller)),
    ),
  );
  router.post(
    '/snapshots/:service/:snapshotID',
    route(async (req, res, ctx) => {
      const name = serviceOf(req, ctx);
      const id = param(req, 'snapshotID');
      if (has(req, 'create')) {
        const body = validateRequestBody('volumeCreateRequest', rawBody(req));
        await mutation(req, res, ctx, 201, () => backend.snapshotCreateVolume(name, id, ctx, body));
      } else if (has(req, 'copy')) {
        validateRequestBody('snapshotCopyRequest', rawBody(req));
        await mutation(req, res, ctx, 201, async () => backend.snapshotCopy());
      } else {
        throw notFoundRoute(req);
      }
    }),
  );
  router.delete(
    '/snapshots/:service/:snapshotID',
    route(async (req, res, ctx) => {
      const name = serviceOf(req, ctx);
      await mutation(req, res, ctx, 205, async () => {
        await backend.snapshotRemove(name, param(req, 'snapshotID'), ctx.caller);
        return null;
      });
    }),
  );

  // 21-22. tasks
  // A caller scoped to one service (an admin API scheduler token) sees only the tasks it started.
  const ownsTask = (caller: Caller, task: { user?: string }): boolean => caller.service === undefined || task.user === caller.subject;
  router.get('/tasks', (_req, res) => {
    const caller = callerOf(res);
    send(res, 200, Object.fromEntries(Object.entries(tasks.list()).filter(([, task]) => ownsTask(caller, task))));
  });
  router.get('/tasks/:taskID', (req, res, next) => {
    const id = /^\d{1,12}$/.test(param(req, 'taskID')) ? Number(param(req, 'taskID')) : NaN;
    const found = Number.isNaN(id) ? undefined : tasks.get(id);
    const task = found && ownsTask(callerOf(res), found) ? found : undefined;
    if (!task) {
      next(LibStorageError.notFound(param(req, 'taskID').slice(0, 100)));
      return;
    }
    send(res, 200, task);
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
