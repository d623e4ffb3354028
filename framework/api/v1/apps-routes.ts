/**
 * `/v1/apps` (Marathon app definitions run by Polly) and `/v1/tasks`. App IDs may be group paths
 * (`a/b`), so the ID is a wildcard; the action suffixes (`/tasks`, `/restart`, `/kill`) are routed
 * first. POST creates (201), PUT replaces a definition and rolls the instances (200; 201 when it
 * created the app), PATCH scales; each answers with the app, its `warnings` included.
 */
import { Request, Router } from 'express';
import { NotFoundError } from '../../errors/not-found-error';
import { ValidationError } from '../../errors/validation-error';
import type { SchedulerApi } from '../../scheduler/scheduler-api';
import type { Principal } from '../auth/principal';
import { queryBoolean, queryString } from './query';

function appId(req: Request): string {
  const raw = (req.params as Record<string, string | string[] | undefined>).id;
  const id = Array.isArray(raw) ? raw.join('/') : String(raw ?? '');
  return id;
}

export function appsRoutes(scheduler: SchedulerApi): Router {
  const router = Router();

  router.get('/apps', (_req, res) => {
    res.json({ apps: scheduler.apps() });
  });

  router.post('/apps', async (req, res) => {
    const app = await scheduler.createApp(req.body);
    res.status(201).location(`/v1/apps/${app.id}`).json(app);
  });

  router.get('/tasks', (req, res) => {
    const app = (req.query as Record<string, unknown>).app;
    if (app !== undefined && typeof app !== 'string') throw ValidationError.field('app', 'app must be given once');
    res.json({ tasks: scheduler.tasks(app) });
  });

  router.get('/apps/*id/tasks', (req, res) => {
    res.json({ tasks: scheduler.tasks(appId(req)) });
  });

  router.post('/apps/*id/restart', async (req, res) => {
    res.json(await scheduler.restartApp(appId(req)));
  });

  // Kills the app's tasks; they are relaunched. `?scale=true` also sets instances to 0 (Marathon's
  // `DELETE /v2/apps/{id}/tasks?scale=true`).
  router.post('/apps/*id/kill', async (req, res) => {
    const scale = queryBoolean(req.query as Record<string, unknown>, 'scale');
    res.json(await scheduler.killApp(appId(req), { scale }));
  });

  router.get('/apps/*id', (req, res) => {
    res.json(scheduler.app(appId(req)));
  });

  router.put('/apps/*id', async (req, res) => {
    const { app, created } = await scheduler.updateApp(appId(req), req.body);
    if (created) res.status(201).location(`/v1/apps/${app.id}`);
    res.json(app);
  });

  router.patch('/apps/*id', async (req, res) => {
    const body = req.body as unknown;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ValidationError('The body must be a JSON object');
    const extra = Object.keys(body).filter((k) => k !== 'instances');
    if (extra.length > 0) throw ValidationError.field(extra[0], `${extra[0]} cannot be changed here (only instances)`);
    if (!('instances' in body)) throw ValidationError.field('instances', 'instances is required');
    res.json(await scheduler.scaleApp(appId(req), (body as { instances: unknown }).instances));
  });

  // `?force=true&reason=...`: tasks Mesos cannot account for are resolved (audited) instead of
  // refusing the delete. 204 once the app is gone; 202 with the app while its tasks are being killed.
  router.delete('/apps/*id', async (req, res) => {
    const id = appId(req);
    const query = req.query as Record<string, unknown>;
    const force = queryBoolean(query, 'force');
    const reason = queryString(query, 'reason');
    const by = (res.locals.principal as Principal | undefined)?.name ?? 'anonymous';
    await scheduler.deleteApp(id, force || reason !== undefined ? { force, reason, by } : undefined);
    let remaining;
    try {
      remaining = scheduler.app(id);
    } catch (err) {
      if (err instanceof NotFoundError) return void res.status(204).end();
      throw err;
    }
    res.status(202).json(remaining);
  });

  return router;
}
