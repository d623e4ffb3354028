/** The v1 API over real HTTP: services, volumes, snapshots, claims, health, metrics, mounted routers. */
import { Router } from 'express';
import { NotFoundError } from '../../../../framework/errors/not-found-error';
import { ApiFixture, makeApiFixture, TOKENS } from '../api-fixture';

describe('v1 API', () => {
  let f: ApiFixture;
  beforeEach(async () => {
    const apps = Router();
    apps.get('/apps', (_req, res) => {
      res.json({ apps: [] });
    });
    apps.get('/apps/:id', (req) => {
      throw new NotFoundError(`App ${req.params.id} not found`);
    });
    apps.post('/apps/:id/kill', (_req, res) => {
      res.status(202).json({});
    });
    f = await makeApiFixture({ routers: [{ path: '/v1', router: apps }] });
  });
  afterEach(async () => {
    await f.dispose();
  });

  const createVolume = async (name: string, extra: Record<string, unknown> = {}) => {
    const res = await f.call('POST', '/v1/volumes', { body: { service: 'local', name, size: 1, ...extra } });
    expect(res.status).toBe(201);
    return res.body as { id: string; schedulers: string[]; labels: Record<string, string> };
  };

  it('services and profiles', async () => {
    const res = await f.call('GET', '/v1/services');
    expect(res.status).toBe(200);
    expect(res.body.services).toEqual([
      expect.objectContaining({
        name: 'local',
        driver: 'vfs',
        mapping: 'hostPath',
        profiles: [expect.objectContaining({ name: 'default', used: false }), expect.objectContaining({ name: 'small', maxSizeGiB: 10 })],
      }),
    ]);
    expect((await f.call('GET', '/v1/services/local/profiles/small')).body).toMatchObject({ name: 'small', active: true });
    expect((await f.call('GET', '/v1/services/nope')).status).toBe(404);
    expect((await f.call('GET', '/v1/services/local/profiles/nope')).status).toBe(404);
  });

  it('volumes: create with a profile, list with filters, get, patch, delete', async () => {
    const v = await createVolume('data-1', { profile: 'small', labels: { app: 'db' }, schedulers: ['marathon'] });
    await createVolume('data-2');
    expect((await f.call('POST', '/v1/volumes', { body: { service: 'local', name: 'big', size: 11, profile: 'small' } })).status).toBe(400);
    const list = await f.call('GET', '/v1/volumes');
    expect(list.body.volumes).toHaveLength(2);
    expect((await f.call('GET', '/v1/volumes?label=app=db')).body.volumes.map((x: { id: string }) => x.id)).toEqual([v.id]);
    expect((await f.call('GET', '/v1/volumes?scheduler=marathon')).body.volumes).toHaveLength(1);
    expect((await f.call('GET', '/v1/volumes?name=DATA-2&service=local')).body.volumes).toHaveLength(1);
    expect((await f.call('GET', '/v1/volumes?status=bogus')).status).toBe(400);
    expect((await f.call('GET', '/v1/volumes?service=nope')).status).toBe(404);
    expect((await f.call('GET', '/v1/volumes?label=novalue')).status).toBe(400);

    let res = await f.call('PATCH', `/v1/volumes/${v.id}`, { body: { labels: { app: null, tier: 'gold' }, schedulers: ['chronos'] } });
    expect(res.status).toBe(200);
    expect(res.body.labels).toEqual({ tier: 'gold' });
    expect(res.body.schedulers).toEqual(['chronos']);
    res = await f.call('PATCH', `/v1/volumes/${v.id}`, { body: { offer: ['marathon'], revoke: ['chronos'] } });
    expect(res.body.schedulers).toEqual(['marathon']);
    expect((await f.call('PATCH', `/v1/volumes/${v.id}`, { body: {} })).status).toBe(400);
    expect((await f.call('PATCH', `/v1/volumes/${v.id}`, { body: { labels: { '': 'x' } } })).status).toBe(400);
    expect((await f.call('PATCH', '/v1/volumes/local.nothere', { body: { offer: ['x'] } })).status).toBe(404);

    expect((await f.call('DELETE', `/v1/volumes/${v.id}`)).status).toBe(204);
    expect((await f.call('GET', `/v1/volumes/${v.id}`)).status).toBe(404);
  });

  it('scheduler tokens see only volumes offered to them', async () => {
    const mine = await createVolume('mine', { schedulers: ['marathon'] });
    const theirs = await createVolume('theirs', { schedulers: ['other'] });
    const list = await f.call('GET', '/v1/volumes', { token: TOKENS.marathon });
    expect(list.body.volumes.map((v: { id: string }) => v.id)).toEqual([mine.id]);
    expect((await f.call('GET', `/v1/volumes/${theirs.id}`, { token: TOKENS.marathon })).status).toBe(404);
    expect((await f.call('GET', `/v1/volumes/${mine.id}`, { token: TOKENS.marathon })).status).toBe(200);
    expect((await f.call('POST', '/v1/volumes', { token: TOKENS.marathon, body: { service: 'local', name: 'x' } })).status).toBe(403);
    expect((await f.call('DELETE', `/v1/volumes/${mine.id}`, { token: TOKENS.marathon })).status).toBe(403);
  });

  it('claims: create, conflict, release, force-release with a mandatory reason', async () => {
    const v = await createVolume('claimed', { schedulers: ['marathon'] });
    let res = await f.call('POST', '/v1/claims', {
      token: TOKENS.marathon,
      body: { volumeId: v.id, agentId: 'agent-1', instanceId: 'node0', taskId: 't1' },
    });
    expect(res.status).toBe(201);
    const claim = res.body;
    expect(claim).toMatchObject({ volumeId: v.id, scheduler: 'marathon', state: 'attached', mode: 'RW' });
    expect(res.headers.get('location')).toBe(`/v1/claims/${claim.id}`);
    // second RW claim conflicts
    res = await f.call('POST', '/v1/claims', { body: { volumeId: v.id, agentId: 'agent-2' } });
    expect(res.status).toBe(409);
    // a volume not offered to the scheduler looks absent to it
    const hidden = await createVolume('hidden');
    res = await f.call('POST', '/v1/claims', { token: TOKENS.marathon, body: { volumeId: hidden.id, agentId: 'a' } });
    expect(res.status).toBe(404);
    // an admin claiming on behalf of a scheduler is held to the ACL
    res = await f.call('POST', '/v1/claims', { body: { volumeId: hidden.id, agentId: 'a', scheduler: 'marathon' } });
    expect(res.status).toBe(403);
    res = await f.call('POST', '/v1/claims', { token: TOKENS.marathon, body: { volumeId: v.id, agentId: 'a', scheduler: 'other' } });
    expect(res.status).toBe(403);
    // lists
    expect((await f.call('GET', '/v1/claims?live=true')).body.claims).toHaveLength(1);
    expect((await f.call('GET', '/v1/claims', { token: TOKENS.other })).body.claims).toHaveLength(0);
    expect((await f.call('GET', `/v1/claims/${claim.id}`, { token: TOKENS.other })).status).toBe(404);
    expect((await f.call('GET', '/v1/claims?state=nope')).status).toBe(400);
    // force needs admin and a reason
    expect(
      (await f.call('POST', `/v1/claims/${claim.id}/release`, { token: TOKENS.marathon, body: { force: true, reason: 'x' } })).status,
    ).toBe(403);
    res = await f.call('POST', `/v1/claims/${claim.id}/release`, { body: { force: true } });
    expect(res.status).toBe(400);
    expect(res.body.details.field).toBe('reason');
    res = await f.call('POST', `/v1/claims/${claim.id}/release`, { body: { force: true, reason: 'agent died' } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ state: 'released', forced: true });
    expect((await f.call('POST', '/v1/claims/nope/release')).status).toBe(404);
    // plain release by the owner, without a body
    const second = (await f.call('POST', '/v1/claims', { token: TOKENS.marathon, body: { volumeId: v.id, agentId: 'agent-2' } })).body;
    res = await f.call('POST', `/v1/claims/${second.id}/release`, { token: TOKENS.marathon });
    expect(res.status).toBe(200);
    expect(res.body.state).toBe('released');
  });

  it("a scheduler token's 409 does not reveal another scheduler's claim, task or agent; admins and the holder still see them", async () => {
    const v = await createVolume('shared-acl', { schedulers: ['marathon', 'other'] });
    const held = await f.call('POST', '/v1/claims', {
      token: TOKENS.marathon,
      body: { volumeId: v.id, agentId: 'agent-secret', instanceId: 'node-secret', taskId: 'task-secret' },
    });
    expect(held.status).toBe(201);
    const refused = await f.call('POST', '/v1/claims', { token: TOKENS.other, body: { volumeId: v.id, agentId: 'agent-2' } });
    expect(refused.status).toBe(409);
    expect(refused.text).not.toContain(held.body.id);
    expect(refused.text).not.toMatch(/agent-secret|task-secret|node-secret/);
    expect(refused.body).toEqual({
      message: `Volume ${v.id} is held RW by another scheduler's claim; a RW claim cannot share it`,
      status: 409,
      details: { volumeId: v.id, mode: 'RW' },
    });
    const asAdmin = await f.call('POST', '/v1/claims', { body: { volumeId: v.id, agentId: 'agent-2' } });
    expect(asAdmin.status).toBe(409);
    expect(asAdmin.body.details).toMatchObject({ claimId: held.body.id, taskId: 'task-secret', agentId: 'agent-secret' });
    const asHolder = await f.call('POST', '/v1/claims', { token: TOKENS.marathon, body: { volumeId: v.id, agentId: 'agent-2' } });
    expect(asHolder.status).toBe(409);
    expect(asHolder.body.details).toMatchObject({ claimId: held.body.id, taskId: 'task-secret' });
  });

  it('snapshots through the driver', async () => {
    const v = await createVolume('snapme');
    const res = await f.call('POST', `/v1/volumes/${v.id}/snapshots`, { body: { name: 'snap-1' } });
    expect(res.status).toBe(201);
    const snap = res.body;
    expect(snap).toMatchObject({ name: 'snap-1', volumeId: v.id, service: 'local' });
    expect((await f.call('GET', '/v1/snapshots')).body.snapshots).toHaveLength(1);
    expect((await f.call('GET', `/v1/snapshots?volumeId=${v.id}`)).body.snapshots).toHaveLength(1);
    expect((await f.call('GET', `/v1/snapshots/${snap.id}`)).body.id).toBe(snap.id);
    expect((await f.call('DELETE', `/v1/snapshots/${snap.id}`)).status).toBe(204);
    expect((await f.call('GET', `/v1/snapshots/${snap.id}`)).status).toBe(404);
    expect((await f.call('POST', `/v1/volumes/${v.id}/snapshots`, { body: { name: '../x' } })).status).toBe(400);
  });

  it('health: liveness and readiness without a token; 503 when not ready', async () => {
    expect((await f.call('GET', '/health', { token: null })).body).toEqual({ status: 'ok' });
    expect((await f.call('GET', '/health/ready', { token: null })).status).toBe(200);
    f.readiness.subscribed = false;
    const res = await f.call('GET', '/health/ready', { token: null });
    expect(res.status).toBe(503);
    expect(res.body.checks).toEqual({ storeOpen: true, subscribed: false });
    expect(res.body.reasons).toEqual(['not subscribed to a Mesos master']);
    expect((await f.call('GET', '/health?ready', { token: null })).status).toBe(503);
  });

  it('metrics: counters, claims by state, driver latency, HTTP latency', async () => {
    const v = await createVolume('m');
    await f.call('POST', '/v1/claims', { body: { volumeId: v.id, agentId: 'a' } });
    f.metrics.offersReceived.inc(3);
    const res = await f.call('GET', '/metrics', { token: TOKENS.read });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(res.text).toMatch(/polly_offers_received_total 3/);
    expect(res.text).toMatch(/polly_claims\{state="attached"\} 1/);
    expect(res.text).toMatch(/polly_pending_intents 0/);
    expect(res.text).toMatch(/polly_http_request_duration_seconds_count\{method="POST",route="\/v1\/volumes",status="201"\} 1/);
    expect((await f.call('GET', '/metrics', { token: null })).status).toBe(401);
  });

  it('mounted routers: served, 405 with their methods, errors through the one handler', async () => {
    expect((await f.call('GET', '/v1/apps')).body).toEqual({ apps: [] });
    const res = await f.call('DELETE', '/v1/apps/x/kill');
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('OPTIONS, POST');
    const missing = await f.call('GET', '/v1/apps/zzz');
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ message: 'App zzz not found', status: 404 });
    expect((await f.call('POST', '/v1/apps/x/kill', { token: TOKENS.read })).status).toBe(403);
    const options = await f.call('OPTIONS', '/v1/volumes');
    expect(options.status).toBe(204);
    expect(options.headers.get('allow')).toBe('GET, HEAD, OPTIONS, POST');
  });
});
