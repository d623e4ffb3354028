/** The agents, offers and apps routes over real HTTP, on a bare express app with the shared error mapping. */
import express, { NextFunction, Request, Response } from 'express';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { NotFoundError } from '../../../../framework/errors/not-found-error';
import { toHttpError } from '../../../../framework/errors/to-http-error';
import { agentsRoutes } from '../../../../framework/api/v1/agents-routes';
import { appsRoutes } from '../../../../framework/api/v1/apps-routes';
import { offersRoutes } from '../../../../framework/api/v1/offers-routes';
import { parseAppSpec } from '../../../../framework/scheduler/app-spec';
import type { AppView } from '../../../../framework/scheduler/app-launcher';
import type { SchedulerApi } from '../../../../framework/scheduler/scheduler-api';

function fakeScheduler(): SchedulerApi & { calls: string[] } {
  const apps = new Map<string, AppView>();
  const calls: string[] = [];
  const get = (id: string): AppView => {
    const app = apps.get(id.replace(/^\//, ''));
    if (!app) throw new NotFoundError(`App ${id} not found`);
    return app;
  };
  return {
    calls,
    agents: () => [
      {
        agentId: 'A0',
        hostname: 'node0',
        zone: 'zone-a',
        attributes: {},
        state: 'active',
        firstSeenAt: '',
        updatedAt: '',
        instanceIds: { local: 'node0' },
      },
    ],
    agent: (id) => {
      if (id !== 'A0') throw new NotFoundError(`Agent ${id} not found`);
      return fakeScheduler().agents()[0];
    },
    offers: ({ scheduler, agentId }) => [
      { id: `${scheduler}-A0-1`, scheduler, agentId: agentId ?? 'A0', hostname: 'node0', volumes: [], capacity: [], issuedAt: '' },
    ],
    apps: () => [...apps.values()],
    app: (id) => get(id),
    createApp: async (body) => {
      const spec = parseAppSpec(body);
      const view: AppView = { ...spec, state: 'active', warnings: [], tasks: [], waiting: [], reservations: {}, createdAt: '', updatedAt: '' };
      apps.set(spec.id, view);
      return view;
    },
    updateApp: async (id, body) => {
      calls.push(`update ${id}`);
      const created = !apps.has(id.replace(/^\//, ''));
      const spec = parseAppSpec({ ...(body as object), id });
      const view: AppView = { ...spec, state: 'active', warnings: [], tasks: [], waiting: [], reservations: {}, createdAt: '', updatedAt: '' };
      apps.set(spec.id, view);
      return { app: view, created };
    },
    scaleApp: async (id, n) => {
      calls.push(`scale ${id} ${String(n)}`);
      return get(id);
    },
    killApp: async (id) => {
      calls.push(`kill ${id}`);
      return get(id);
    },
    restartApp: async (id) => {
      calls.push(`restart ${id}`);
      return get(id);
    },
    deleteApp: async (id) => {
      get(id);
      apps.delete(id);
    },
    tasks: (appId) => {
      if (appId !== undefined) get(appId);
      return [];
    },
  };
}

describe('scheduler routes', () => {
  let server: Server;
  let base: string;
  let scheduler: ReturnType<typeof fakeScheduler>;

  beforeEach(async () => {
    scheduler = fakeScheduler();
    const app = express();
    app.use(express.json());
    app.use('/v1', agentsRoutes(scheduler), offersRoutes(scheduler), appsRoutes(scheduler));
    app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
      const { status, body } = toHttpError(err);
      res.status(status).json(body);
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });

  afterEach(async () => {
    await new Promise((r) => server.close(r));
  });

  const json = (method: string, path: string, body?: unknown) =>
    fetch(base + path, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  it('lists agents and offers; offers need a scheduler', async () => {
    expect(await (await json('GET', '/agents')).json()).toMatchObject({ agents: [{ agentId: 'A0' }] });
    expect((await json('GET', '/agents/A0')).status).toBe(200);
    expect((await json('GET', '/agents/nope')).status).toBe(404);
    const offers = await json('GET', '/offers?scheduler=polly&agent=A0');
    expect(await offers.json()).toMatchObject({ offers: [{ id: 'polly-A0-1', scheduler: 'polly', agentId: 'A0' }] });
    const missing = await json('GET', '/offers');
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ status: 400, details: { field: 'scheduler' } });
  });

  it('creates, reads, scales, restarts, kills and deletes apps with group IDs', async () => {
    const created = await json('POST', '/apps', { id: '/group/web', cmd: 'sleep 1' });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe('/v1/apps/group/web');
    expect(await (await json('GET', '/apps/group/web')).json()).toMatchObject({ id: 'group/web', instances: 1 });
    expect((await json('GET', '/apps')).status).toBe(200);
    expect((await json('PATCH', '/apps/group/web', { instances: 3 })).status).toBe(200);
    expect((await json('POST', '/apps/group/web/restart')).status).toBe(200);
    expect((await json('POST', '/apps/group/web/kill')).status).toBe(200);
    expect(await (await json('GET', '/apps/group/web/tasks')).json()).toEqual({ tasks: [] });
    expect(scheduler.calls).toEqual(['scale group/web 3', 'restart group/web', 'kill group/web']);
    expect((await json('DELETE', '/apps/group/web')).status).toBe(204);
    expect((await json('GET', '/apps/group/web')).status).toBe(404);
    expect(await (await json('GET', '/tasks')).json()).toEqual({ tasks: [] });
  });

  it('answers bad app bodies with 400 naming the field', async () => {
    const res = await json('POST', '/apps', {
      id: 'x',
      cmd: 'y',
      container: { volumes: [{ containerPath: 'd', external: { name: 'a/b', provider: 'polly' } }] },
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ details: { field: 'container.volumes[0].external.name' } });
    expect((await json('PATCH', '/apps/x', { cmd: 'z' })).status).toBe(400);
  });
});
