/**
 * The libStorage API with the admin API's tokens (no `libstorage.jwt`): every call needs a token,
 * on loopback and on a unix socket; each token keeps its scope (admin, read, scheduler:NAME).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApiAuth, createApiAuth } from '../../../../framework/api/auth/api-auth';
import { ConfigError } from '../../../../framework/config/config-loader';
import { iid, JWT_SECRET, LsFixture, makeLsFixture, signToken } from './libstorage-fixture';

const TOKENS = {
  ops: 'ops-token-0123456789abcdef',
  viewer: 'viewer-token-0123456789abcdef',
  local: 'local-agent-token-0123456789',
  other: 'other-agent-token-0123456789',
};

function adminApiAuth(): ApiAuth {
  return createApiAuth({
    host: '127.0.0.1',
    auth: 'auto',
    tokens: [
      { name: 'ops', token: TOKENS.ops, scope: 'admin' },
      { name: 'viewer', token: TOKENS.viewer, scope: 'read' },
      { name: 'local-agent', token: TOKENS.local, scope: 'scheduler:local' },
      { name: 'other-agent', token: TOKENS.other, scope: 'scheduler:other' },
    ],
  });
}

const services = [
  { name: 'local', driver: 'vfs' as const },
  { name: 'other', driver: 'vfs' as const },
];

const INVALID = { message: 'invalid security token', status: 401, error: 'invalid security token' };

describe('libStorage API with the admin API tokens', () => {
  let f: LsFixture;
  beforeEach(async () => {
    f = await makeLsFixture({ services, apiAuth: adminApiAuth() });
  });
  afterEach(async () => f.dispose());

  it('refuses anonymous and unknown callers with 401 on every route, and changes nothing', async () => {
    const v = await f.storage.storage.catalog.create({ service: 'local', name: 'keep', size: 1, schedulers: ['local'] });
    const attempts: Array<[string, string, object]> = [
      ['GET', '/', {}],
      ['GET', '/services', {}],
      ['GET', '/volumes', {}],
      ['GET', '/volumes/local', {}],
      ['POST', '/volumes/local', { body: { name: 'sneaky', size: 1 } }],
      ['POST', `/volumes/local/${v.driverVolumeId}?attach`, { headers: iid('node0') }],
      ['DELETE', `/volumes/local/${v.driverVolumeId}`, {}],
    ];
    for (const token of [undefined, 'not-a-known-token-000000']) {
      for (const [method, p, extra] of attempts) {
        const r = await f.call(method, p, { ...extra, ...(token ? { token } : {}) });
        expect([method, p, r.status]).toEqual([method, p, 401]);
        expect(r.body).toEqual(INVALID);
      }
    }
    expect(f.storage.storage.catalog.list({ service: 'local' }).map((x) => x.name)).toEqual(['keep']);
    expect(f.storage.storage.ledger.list()).toEqual([]);
  });

  it('lets a read token read everything and change nothing (403)', async () => {
    const v = await f.storage.storage.catalog.create({ service: 'local', name: 'seen', size: 1 });
    const list = await f.call('GET', '/volumes', { token: TOKENS.viewer });
    expect(list.status).toBe(200);
    expect(Object.keys(list.body.local)).toEqual([v.driverVolumeId]);
    for (const [method, p, extra] of [
      ['POST', '/volumes/local', { body: { name: 'nope', size: 1 } }],
      ['POST', `/volumes/local/${v.driverVolumeId}?attach`, { headers: iid('node0') }],
      ['DELETE', `/volumes/local/${v.driverVolumeId}`, {}],
    ] as Array<[string, string, object]>) {
      const r = await f.call(method, p, { ...extra, token: TOKENS.viewer });
      expect([method, r.status]).toEqual([method, 403]);
      expect(r.body).toMatchObject({ message: 'token "viewer" is read-only', status: 403 });
    }
    expect(f.storage.storage.catalog.list({ service: 'local' }).map((x) => x.name)).toEqual(['seen']);
    expect(f.storage.storage.ledger.list()).toEqual([]);
  });

  it('lets a scheduler token act as its own service only', async () => {
    const created = await f.call('POST', '/volumes/local', { token: TOKENS.local, body: { name: 'mine', size: 1 } });
    expect(created.status).toBe(201);
    const mine = f.storage.storage.catalog.findByName('local', 'mine')!;
    expect(mine.schedulers).toEqual(['local']);
    const hidden = await f.storage.storage.catalog.create({ service: 'local', name: 'not-offered', size: 1 });

    // Its service: only the volumes offered to it; all-services routes show only its service.
    expect(Object.keys((await f.call('GET', '/volumes/local', { token: TOKENS.local })).body)).toEqual([mine.driverVolumeId]);
    expect(Object.keys((await f.call('GET', '/volumes', { token: TOKENS.local })).body)).toEqual(['local']);
    expect(Object.keys((await f.call('GET', '/services', { token: TOKENS.local })).body)).toEqual(['local']);
    expect((await f.call('GET', `/volumes/local/${hidden.driverVolumeId}`, { token: TOKENS.local })).status).toBe(404);

    // Another service: 403, and nothing is created there.
    for (const [method, p, extra] of [
      ['GET', '/volumes/other', {}],
      ['POST', '/volumes/other', { body: { name: 'elsewhere', size: 1 } }],
      ['GET', '/services/other', {}],
    ] as Array<[string, string, object]>) {
      const r = await f.call(method, p, { ...extra, token: TOKENS.local });
      expect([method, p, r.status]).toEqual([method, p, 403]);
      expect(r.body).toMatchObject({ message: 'token "local-agent" acts as service local only', status: 403 });
    }
    expect(f.storage.storage.catalog.list({ service: 'other' })).toEqual([]);

    // Attach is a claim for its service; it is no admin, so it cannot preempt a live holder.
    const attached = await f.call('POST', `/volumes/local/${mine.driverVolumeId}?attach`, { token: TOKENS.local, headers: iid('node0') });
    expect(attached.status).toBe(200);
    expect(f.storage.storage.ledger.list({ volumeId: mine.id }).map((c) => [c.scheduler, c.state])).toEqual([['local', 'attached']]);
    const preempt = await f.call('POST', `/volumes/local/${mine.driverVolumeId}?attach`, {
      token: TOKENS.local,
      headers: iid('node1'),
      body: { force: true },
    });
    expect(preempt.status).toBe(409);
    // The admin token sees every volume and may preempt.
    expect(Object.keys((await f.call('GET', '/volumes/local', { token: TOKENS.ops })).body).sort()).toEqual(
      [hidden.driverVolumeId, mine.driverVolumeId].sort(),
    );
    const taken = await f.call('POST', `/volumes/local/${mine.driverVolumeId}?attach`, {
      token: TOKENS.ops,
      headers: iid('node1'),
      body: { force: true },
    });
    expect(taken.status).toBe(200);
  });

  it("does not show a scheduler token another service's holder, nor its async tasks", async () => {
    const shared = await f.storage.storage.catalog.create({ service: 'local', name: 'shared', size: 1, schedulers: ['local'] });
    await f.storage.storage.ledger.claim({ volumeId: shared.id, scheduler: 'marathon', admin: true, agentId: 'secret-agent', instanceId: 'secret-host' });
    const refused = await f.call('POST', `/volumes/local/${shared.driverVolumeId}?attach`, { token: TOKENS.local, headers: iid('node0') });
    expect(refused.status).toBe(409);
    expect(refused.text).not.toMatch(/secret-host|secret-agent/);
    expect(refused.body.message).toBe('volume already attached to a host: shared is held through another service');
    expect(refused.body.error).toEqual({ volumeId: shared.id });
    const asAdmin = await f.call('POST', `/volumes/local/${shared.driverVolumeId}?attach`, { token: TOKENS.ops, headers: iid('node0') });
    expect(asAdmin.status).toBe(409);
    expect(asAdmin.body.message).toMatch(/held by instance secret-host/);

    const started = await f.call('POST', '/volumes/other?async', { token: TOKENS.other, body: { name: 'async-one', size: 1 } });
    expect(started.status).toBe(202);
    const id = String(started.body.id);
    expect(Object.keys((await f.call('GET', '/tasks', { token: TOKENS.other })).body)).toEqual([id]);
    expect((await f.call('GET', '/tasks', { token: TOKENS.local })).body).toEqual({});
    expect((await f.call('GET', `/tasks/${id}`, { token: TOKENS.local })).status).toBe(404);
    expect((await f.call('GET', `/tasks/${id}`, { token: TOKENS.ops })).status).toBe(200);
  });
});

describe('libStorage auth rule', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'polly-ls-sock-'));
  });
  afterAll(async () => {
    await fs.promises.rm(dir, { recursive: true, force: true });
  });

  it('requires the admin API tokens on a unix socket too', async () => {
    const f = await makeLsFixture({ services, apiAuth: adminApiAuth(), config: { socket: path.join(dir, 'ls.sock') } });
    try {
      expect(f.address.socket).toBe(path.join(dir, 'ls.sock'));
      const anonymous = await f.call('DELETE', '/volumes/local/vfs-000001');
      expect(anonymous.status).toBe(401);
      expect(anonymous.body).toEqual(INVALID);
      expect((await f.call('GET', '/volumes', { token: TOKENS.ops })).status).toBe(200);
    } finally {
      await f.dispose();
    }
  });

  it('uses libstorage.jwt when it is set: the admin API tokens are then not accepted here', async () => {
    const f = await makeLsFixture({ services, apiAuth: adminApiAuth(), config: { jwt: { secret: JWT_SECRET, algorithm: 'HS256', services: {}, admins: [] } } });
    try {
      expect((await f.call('GET', '/volumes', { token: TOKENS.ops })).status).toBe(401);
      expect((await f.call('GET', '/volumes', { token: await signToken('agent') })).status).toBe(200);
      expect((await f.call('GET', '/volumes')).status).toBe(401);
    } finally {
      await f.dispose();
    }
  });

  it('stays open only where the admin API is open too: loopback (or a socket) without tokens', async () => {
    const openApi = createApiAuth({ host: '127.0.0.1', auth: 'auto', tokens: [] });
    const f = await makeLsFixture({ services, apiAuth: openApi });
    try {
      expect((await f.call('GET', '/volumes')).status).toBe(200);
    } finally {
      await f.dispose();
    }
    const refused = makeLsFixture({ services, apiAuth: openApi, config: { host: '0.0.0.0' } });
    await expect(refused).rejects.toThrow(ConfigError);
    await expect(makeLsFixture({ services, apiAuth: openApi, config: { host: '0.0.0.0' } })).rejects.toThrow(
      /libstorage\.host.*libstorage\.jwt.*api\.tokens/,
    );
  });
});

describe('libstorage.instances with the admin API tokens', () => {
  it("binds a token's name to the instances it may attach and detach as; an admin token acts as any", async () => {
    const f = await makeLsFixture({ services, apiAuth: adminApiAuth(), config: { instances: { local: { 'local-agent': ['node0'] } } } });
    try {
      const v = await f.storage.storage.catalog.create({ service: 'local', name: 'bound', size: 1, schedulers: ['local'] });
      const asNode1 = await f.call('POST', `/volumes/local/${v.driverVolumeId}?attach`, { token: TOKENS.local, headers: iid('node1') });
      expect(asNode1.status).toBe(403);
      expect(asNode1.body.message).toBe('subject "local-agent" may not act as instance "node1" on service local (libstorage.instances)');
      expect(f.storage.storage.ledger.list()).toEqual([]);
      expect((await f.call('POST', `/volumes/local/${v.driverVolumeId}?attach`, { token: TOKENS.local, headers: iid('node0') })).status).toBe(200);
      expect((await f.call('POST', `/volumes/local/${v.driverVolumeId}?detach`, { token: TOKENS.ops, headers: iid('node0') })).status).toBe(205);
      expect(f.storage.storage.ledger.list({ live: true })).toEqual([]);
    } finally {
      await f.dispose();
    }
  });
});
