/** JWT auth (allow/deny/invalid/expired), the per-service scheduler ACL, and `force` preemption rules. */
import { iid, JWT_SECRET, LsFixture, makeLsFixture, signToken } from './libstorage-fixture';

const services = [
  { name: 'local', driver: 'vfs' as const },
  { name: 'other', driver: 'vfs' as const },
];

describe('JWT auth', () => {
  let f: LsFixture;
  beforeEach(async () => {
    f = await makeLsFixture({
      services,
      config: {
        host: '0.0.0.0',
        jwt: {
          secret: JWT_SECRET,
          algorithm: 'HS256',
          services: { local: { allow: ['alice', 'Root'], deny: ['mallory'] } },
          admins: ['root'],
        },
      },
    });
  });
  afterEach(async () => f.dispose());

  it('refuses requests without a valid token, on every route (401 invalid security token)', async () => {
    const expired = await signToken('alice', { expiresIn: Math.floor(Date.now() / 1000) - 60 });
    const wrongKey = await signToken('alice', { secret: 'another-secret-0123456789abcdef' });
    const noNbf = await signToken('alice', { nbf: false });
    for (const token of [undefined, 'garbage', expired, wrongKey, noNbf]) {
      for (const p of ['/', '/services', '/volumes/local', '/help']) {
        const r = await f.call('GET', p, token ? { token } : {});
        expect(r.status).toBe(401);
        expect(r.body).toEqual({ message: 'invalid security token', status: 401, error: 'invalid security token' });
        expect(r.headers['libstorage-servername']).toBe('test-server-00');
      }
    }
    const basic = await f.call('GET', '/', { headers: { authorization: 'Basic abc' } });
    expect(basic.status).toBe(401);
  });

  it('applies allow and deny per service; all-services routes fail whole when one service refuses', async () => {
    const alice = await signToken('ALICE');
    const bob = await signToken('bob');
    const mallory = await signToken('mallory');
    expect((await f.call('GET', '/volumes/local', { token: alice })).status).toBe(200);
    expect((await f.call('GET', '/volumes/other', { token: alice })).status).toBe(200);
    expect((await f.call('GET', '/volumes', { token: alice })).status).toBe(200);
    // bob: not in local's allow list; other has no rules.
    expect((await f.call('GET', '/volumes/local', { token: bob })).status).toBe(401);
    expect((await f.call('GET', '/volumes/other', { token: bob })).status).toBe(200);
    expect((await f.call('GET', '/volumes', { token: bob })).status).toBe(401);
    expect((await f.call('GET', '/services', { token: bob })).status).toBe(401);
    expect((await f.call('GET', '/snapshots', { token: bob })).status).toBe(401);
    // mallory: denied on local (deny beats everything).
    expect((await f.call('POST', '/volumes/local', { token: mallory, body: { name: 'x' } })).status).toBe(401);
    expect((await f.call('GET', '/services/local', { token: mallory })).status).toBe(401);
    expect((await f.call('GET', '/', { token: mallory })).status).toBe(200);
    // Unknown service stays 404 for an authenticated caller.
    expect((await f.call('GET', '/volumes/nope', { token: alice })).status).toBe(404);
  });

  it('lets an admin subject see every volume and preempt with force; others cannot', async () => {
    const alice = await signToken('alice');
    const root = await signToken('root');
    const unoffered = await f.storage.storage.catalog.create({ service: 'local', name: 'ops-only', size: 1 });
    expect((await f.call('GET', '/volumes/local', { token: alice })).body).toEqual({});
    expect(Object.keys((await f.call('GET', '/volumes/local', { token: root })).body)).toEqual([unoffered.driverVolumeId]);

    const id = (await f.call('POST', '/volumes/local', { token: alice, body: { name: 'shared', size: 1 } })).body.id;
    expect((await f.call('POST', `/volumes/local/${id}?attach`, { token: alice, headers: iid('node0') })).status).toBe(200);
    const refused = await f.call('POST', `/volumes/local/${id}?attach`, { token: alice, headers: iid('node1'), body: { force: true } });
    expect(refused.status).toBe(409);
    expect(refused.body.message).toMatch(/volume already attached to a host.*not known to be gone/);
    const preempted = await f.call('POST', `/volumes/local/${id}?attach`, { token: root, headers: iid('node1'), body: { force: true } });
    expect(preempted.status).toBe(200);
    const claims = f.storage.storage.ledger.list({ volumeId: `local.${id}` });
    expect(claims.map((c) => [c.instanceId, c.state, c.forced === true])).toEqual(
      expect.arrayContaining([
        ['node0', 'released', true],
        ['node1', 'attached', false],
      ]),
    );
  });
});

describe('scheduler ACL (auth off, loopback)', () => {
  let f: LsFixture;
  beforeEach(async () => {
    f = await makeLsFixture({ services });
  });
  afterEach(async () => f.dispose());

  it('offers a service only the volumes offered to it, everywhere (lists, inspect, snapshots, attach, remove)', async () => {
    const catalog = f.storage.storage.catalog;
    const hidden = await catalog.create({ service: 'local', name: 'hidden', size: 1, schedulers: ['marathon'] });
    const mine = (await f.call('POST', '/volumes/local', { body: { name: 'mine', size: 1 } })).body.id as string;
    const snap = await f.storage.storage.registry.get('local').driver.volumeSnapshot(hidden.driverVolumeId, 'hidden-snap');

    expect(Object.keys((await f.call('GET', '/volumes/local')).body)).toEqual([mine]);
    expect(Object.keys((await f.call('GET', '/volumes')).body.local)).toEqual([mine]);
    expect((await f.call('GET', `/volumes/local/${hidden.driverVolumeId}`)).status).toBe(404);
    expect((await f.call('GET', '/volumes/local/hidden?byName')).status).toBe(404);
    expect((await f.call('POST', `/volumes/local/${hidden.driverVolumeId}?attach`, { headers: iid('node0') })).status).toBe(404);
    expect((await f.call('DELETE', `/volumes/local/${hidden.driverVolumeId}`)).status).toBe(404);
    expect((await f.call('GET', '/snapshots/local')).body).toEqual({});
    expect((await f.call('GET', `/snapshots/local/${snap.id}`)).status).toBe(404);
    // The volume is not offered to the other service either (offers are per scheduler name).
    expect((await f.call('GET', '/volumes/other')).body).toEqual({});

    await catalog.offer(hidden.id, ['local']);
    expect(Object.keys((await f.call('GET', '/volumes/local')).body).sort()).toEqual([hidden.driverVolumeId, mine].sort());
    expect((await f.call('GET', `/snapshots/local/${snap.id}`)).status).toBe(200);
    await catalog.revoke(hidden.id, ['local']);
    expect(Object.keys((await f.call('GET', '/volumes/local')).body)).toEqual([mine]);
  });

  it('lets force preempt a fenced holder when the policy allows the volume', async () => {
    await f.dispose();
    const fenced = new Set<string>();
    f = await makeLsFixture({
      services,
      preempt: { fencedBecause: (c) => (fenced.has(c.agentId) ? `agent ${c.agentId} is gone (test)` : undefined) },
    });
    const id = (await f.call('POST', '/volumes/local', { body: { name: 'v', size: 1 } })).body.id as string;
    await f.call('POST', `/volumes/local/${id}?attach`, { headers: iid('node0') });
    expect((await f.call('POST', `/volumes/local/${id}?attach`, { headers: iid('node1') })).status).toBe(409);
    expect((await f.call('POST', `/volumes/local/${id}?attach`, { headers: iid('node1'), body: { force: true } })).status).toBe(409);
    fenced.add('node0');
    await f.storage.storage.catalog.setLabels(`local.${id}`, { 'polly.preempt': 'deny' });
    expect((await f.call('POST', `/volumes/local/${id}?attach`, { headers: iid('node1'), body: { force: true } })).status).toBe(409);
    await f.storage.storage.catalog.removeLabels(`local.${id}`, ['polly.preempt']);
    const ok = await f.call('POST', `/volumes/local/${id}?attach`, { headers: iid('node1'), body: { force: true } });
    expect(ok.status).toBe(200);
    expect(ok.body.volume.attachments.map((a: { instanceID: { id: string } }) => a.instanceID.id)).toEqual(['node1']);
  });
});

describe('preemption label, tasks and instances under JWT auth', () => {
  let f: LsFixture;
  const jwt = {
    secret: JWT_SECRET,
    algorithm: 'HS256' as const,
    services: { other: { allow: [], deny: ['bob'] } },
    admins: ['root'],
  };
  afterEach(async () => f.dispose());

  it('refuses an admin force on a volume labelled polly.preempt=deny; takes it without the label, audited with the subject', async () => {
    f = await makeLsFixture({ services, config: { host: '0.0.0.0', jwt } });
    const alice = await signToken('alice');
    const root = await signToken('root');
    const id = (await f.call('POST', '/volumes/local', { token: alice, body: { name: 'labelled', size: 1 } })).body.id as string;
    expect((await f.call('POST', `/volumes/local/${id}?attach`, { token: alice, headers: iid('node0') })).status).toBe(200);
    await f.storage.storage.catalog.setLabels(`local.${id}`, { 'polly.preempt': 'deny' });
    const refused = await f.call('POST', `/volumes/local/${id}?attach`, { token: root, headers: iid('node1'), body: { force: true } });
    expect(refused.status).toBe(409);
    expect(refused.body.message).toMatch(/labelled polly\.preempt=deny; force never preempts it/);
    expect(f.storage.storage.ledger.list({ live: true }).map((c) => c.instanceId)).toEqual(['node0']);

    await f.storage.storage.catalog.removeLabels(`local.${id}`, ['polly.preempt']);
    const audits: string[] = [];
    f.storage.storage.events.on('claim.audit', (e) => audits.push(e.reason));
    expect((await f.call('POST', `/volumes/local/${id}?attach`, { token: root, headers: iid('node1'), body: { force: true } })).status).toBe(200);
    expect(audits).toEqual(['preempted through the libStorage API by subject root as instance node1: admin force']);
  });

  it("shows a task only to its subject (and admins), and only while it may use the task's service", async () => {
    f = await makeLsFixture({ services, config: { host: '0.0.0.0', jwt } });
    const [alice, bob, carol, root] = await Promise.all(['alice', 'bob', 'carol', 'root'].map((s) => signToken(s)));
    const started = await f.call('POST', '/volumes/other?async', { token: alice, body: { name: 'secret-name', size: 1 } });
    expect(started.status).toBe(202);
    const id = String(started.body.id);
    let task;
    for (let i = 0; i < 200; i++) {
      task = (await f.call('GET', `/tasks/${id}`, { token: alice })).body;
      if (task.state !== 'running') break;
      await new Promise((res) => setTimeout(res, 10));
    }
    expect(task).toMatchObject({ state: 'success', user: 'alice', result: { name: 'secret-name' } });
    // bob is denied on `other`: neither the list nor the task; carol is another subject.
    for (const token of [bob, carol]) {
      expect(Object.keys((await f.call('GET', '/tasks', { token })).body)).toEqual([]);
      expect((await f.call('GET', `/tasks/${id}`, { token })).status).toBe(404);
    }
    expect(Object.keys((await f.call('GET', '/tasks', { token: root })).body)).toEqual([id]);
    expect(Object.keys((await f.call('GET', '/tasks', { token: alice })).body)).toEqual([id]);
  });

  it('binds subjects to the instances they may attach and detach as (libstorage.instances); admins act as any', async () => {
    f = await makeLsFixture({
      services,
      config: { host: '0.0.0.0', jwt, instances: { local: { alice: ['node0'], bob: ['NODE1'] } } },
    });
    const [alice, bob, carol, root] = await Promise.all(['alice', 'bob', 'carol', 'root'].map((s) => signToken(s)));
    const id = (await f.call('POST', '/volumes/local', { token: alice, body: { name: 'bound', size: 1 } })).body.id as string;
    const released: string[] = [];
    f.storage.storage.events.on('claim.released', ({ claim }) => released.push(claim.reason ?? ''));

    // bob may act as node1 only: attaching as node0 is 403; carol has no instance at all.
    const asNode0 = await f.call('POST', `/volumes/local/${id}?attach`, { token: bob, headers: iid('node0') });
    expect(asNode0.status).toBe(403);
    expect(asNode0.body).toMatchObject({
      message: 'subject "bob" may not act as instance "node0" on service local (libstorage.instances)',
      error: { service: 'local', instanceId: 'node0', subject: 'bob', allowed: ['node1'] },
    });
    expect((await f.call('POST', `/volumes/local/${id}?attach`, { token: carol, headers: iid('node0') })).status).toBe(403);
    expect(f.storage.storage.ledger.list()).toEqual([]);

    // alice attaches as node0; bob cannot release it by sending node0's instance ID (one volume or all).
    expect((await f.call('POST', `/volumes/local/${id}?attach`, { token: alice, headers: iid('node0') })).status).toBe(200);
    expect((await f.call('POST', `/volumes/local/${id}?detach`, { token: bob, headers: iid('node0') })).status).toBe(403);
    expect((await f.call('POST', '/volumes/local?detach', { token: bob, headers: iid('node0'), body: {} })).status).toBe(403);
    // Across services bob is refused whole (denied on `other`); carol, allowed everywhere, is bound to nothing on `local`.
    expect((await f.call('POST', '/volumes?detach', { token: bob, headers: iid('node0'), body: {} })).status).toBe(401);
    expect((await f.call('POST', '/volumes?detach', { token: carol, headers: iid('node0'), body: {} })).status).toBe(403);
    expect(f.storage.storage.ledger.list({ live: true }).map((c) => [c.instanceId, c.state])).toEqual([['node0', 'attached']]);
    // Services without bindings are unchanged: bob may name any instance on `other`.
    const onOther = (await f.call('POST', '/volumes/other', { token: alice, body: { name: 'free', size: 1 } })).body.id as string;
    expect((await f.call('POST', `/volumes/other/${onOther}?attach`, { token: bob, headers: iid('node7') })).status).toBe(401);
    expect((await f.call('POST', `/volumes/other/${onOther}?attach`, { token: carol, headers: iid('node7') })).status).toBe(200);

    // alice detaches as herself; the claim's history names the subject and the instance.
    expect((await f.call('POST', `/volumes/local/${id}?detach`, { token: alice, headers: iid('node0') })).status).toBe(205);
    expect(released).toEqual(['detached through the libStorage API by subject alice as instance node0']);
    // An admin acts as any instance.
    expect((await f.call('POST', `/volumes/local/${id}?attach`, { token: root, headers: iid('node5') })).status).toBe(200);
  });
});

describe('libstorage.instances needs auth', () => {
  it('is a ConfigError without jwt or api tokens', async () => {
    await expect(makeLsFixture({ services, config: { instances: { local: { alice: ['node0'] } } } })).rejects.toThrow(
      /libstorage\.instances binds token subjects to instance IDs, but the libStorage API has no authentication/,
    );
  });
});
