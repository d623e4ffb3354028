/** Every route of reference §1.4 (v0.6.3), success and error cases, over a real StorageService. */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLibStorageServer } from '../../../../framework/api/libstorage/libstorage-server';
import { iid, lsCall, lsConfig, LsFixture, makeLsFixture } from './libstorage-fixture';

let f: LsFixture;
beforeEach(async () => {
  f = await makeLsFixture({
    services: [
      { name: 'local', driver: 'vfs', profiles: [{ name: 'default' }, { name: 'small', maxSizeGiB: 10 }] },
      { name: 'other', driver: 'vfs' },
    ],
  });
});
afterEach(async () => f.dispose());

async function create(name: string, service = 'local', extra: Record<string, unknown> = {}): Promise<string> {
  const r = await f.call('POST', `/volumes/${service}`, { body: { name, size: 1, ...extra } });
  expect(r.status).toBe(201);
  return r.body.id as string;
}

describe('every response', () => {
  it('carries Libstorage-Servername and pretty JSON, errors included', async () => {
    for (const [method, p] of [
      ['GET', '/'],
      ['GET', '/nope'],
      ['GET', '/volumes/nope'],
    ] as const) {
      const r = await f.call(method, p);
      expect(r.headers['libstorage-servername']).toBe('test-server-00');
      expect(r.headers['content-type']).toMatch(/^application\/json/);
      expect(r.text).toMatch(/\n {2}/);
    }
  });

  it('answers unknown paths, methods and operations with 404 in the error shape', async () => {
    for (const [method, p] of [
      ['GET', '/nope'],
      ['PUT', '/volumes/local'],
      ['POST', '/volumes/local/x'],
      ['POST', '/volumes'],
      ['POST', '/snapshots/local'],
      ['POST', '/snapshots/local/s?bogus'],
    ] as const) {
      const r = await f.call(method, p, { body: {} });
      expect(r.status).toBe(404);
      expect(r.body).toMatchObject({ message: '404 page not found', status: 404 });
    }
  });

  it('answers an invalid percent-encoding in the path with 400 in the error shape, like the admin API', async () => {
    for (const [method, p] of [
      ['GET', '/volumes/local/%ED%A0%80'],
      ['DELETE', '/volumes/local/%ED%A0%80'],
      ['POST', '/volumes/local/%E0%A4%A?attach'],
      ['GET', '/services/%FF'],
    ] as const) {
      const r = await f.call(method, p, { headers: iid('node0') });
      expect([method, p, r.status]).toEqual([method, p, 400]);
      expect(r.body).toEqual({ message: 'Malformed percent-encoding in the URL', status: 400, error: { field: '(path)' } });
      expect(r.headers['libstorage-servername']).toBe('test-server-00');
    }
  });

  it('answers a body nested 10,000 deep with 400, not 500', async () => {
    const deep = '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000);
    const r = await f.call('POST', '/volumes/local', { raw: `{"name":"deep","opts":${deep}}` });
    expect(r.status).toBe(400);
    expect(r.body.message).toBe('validate req schema: validation error: request body nests deeper than 64 levels');
    expect(f.storage.storage.catalog.list({ service: 'local' })).toEqual([]);
  });
});

describe('root, services, help, tasks, executors', () => {
  it('GET / lists the collections (v0.6.3)', async () => {
    const r = await f.call('GET', '/');
    expect(r.status).toBe(200);
    const base = `http://${f.address.host}:${f.address.port}`;
    expect(r.body).toEqual(['services', 'snapshots', 'tasks', 'help', 'volumes'].map((p) => `${base}/${p}`));
  });

  it('GET /services and /services/{service} advertise vfs for vfs services; unknown → 404', async () => {
    const all = await f.call('GET', '/services');
    expect(all.status).toBe(200);
    expect(Object.keys(all.body)).toEqual(['local', 'other']);
    expect(all.body.local).toEqual({
      name: 'local',
      driver: { name: 'vfs', type: 'object', nextDevice: { ignore: true, prefix: '', pattern: '' } },
    });
    const one = await f.call('GET', '/services/other');
    expect(one.body).toEqual(all.body.other);
    const missing = await f.call('GET', '/services/nope');
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ message: 'resource not found', status: 404, error: { resourceID: 'nope' } });
  });

  it('GET /services/{service}?instance resolves the instance (id, or metadata), 400 without one', async () => {
    const byId = await f.call('GET', '/services/local?instance', { headers: iid('host-a') });
    expect(byId.body.instance).toMatchObject({ instanceID: { id: 'host-a', driver: 'vfs', service: 'local' }, providerName: 'vfs' });
    const meta = Buffer.from(JSON.stringify('host-b')).toString('base64');
    const byMeta = await f.call('GET', '/services/local?instance', { headers: { 'libstorage-instanceid': `vfs=,,${meta}` } });
    expect(byMeta.status).toBe(200);
    expect(byMeta.body.instance.instanceID.id).toBe('host-b');
    const none = await f.call('GET', '/services/local?instance');
    expect(none.status).toBe(400);
    expect(none.body).toEqual({ message: 'missing instance ID', status: 400, error: { service: 'local' } });
    // All services: instance where the caller has one.
    const all = await f.call('GET', '/services?instance', { headers: { 'Libstorage-Instanceid': 'vfs:local=host-c' } });
    expect(all.body.local.instance.instanceID.id).toBe('host-c');
    expect(all.body.other.instance).toBeUndefined();
  });

  it('GET /help, /help/version, /help/config and /help/env (admin token, else 401)', async () => {
    const help = await f.call('GET', '/help');
    expect(help.body).toHaveLength(3);
    const version = await f.call('GET', '/help/version');
    expect(typeof version.body).toBe('string');
    for (const p of ['/help/config', '/help/env']) {
      const denied = await f.call('GET', `${p}?admin=wrong`);
      expect(denied.status).toBe(401);
      expect(denied.body).toEqual({ message: 'invalid admin token', status: 401, error: { token: 'wrong' } });
      const ok = await f.call('GET', `${p}?admin=${f.server.adminToken}`);
      expect(ok.status).toBe(200);
    }
    const config = await f.call('GET', `/help/config?admin=${f.server.adminToken}`);
    expect(config.body.libstorage).toMatchObject({ port: 0, auth: 'off' });
  });

  it('GET /executors answers {} for older clients; an executor binary is 404', async () => {
    expect((await f.call('GET', '/executors')).body).toEqual({});
    expect((await f.call('GET', '/executors/lsx-linux')).status).toBe(404);
  });

  it('?async answers 202 with a Task; /tasks and /tasks/{id} report it; unknown task → 404', async () => {
    const r = await f.call('POST', '/volumes/local?async', { body: { name: 'later', size: 1 } });
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ id: expect.any(Number), state: 'running', queueTime: expect.any(Number) });
    let task;
    for (let i = 0; i < 200; i++) {
      task = (await f.call('GET', `/tasks/${r.body.id}`)).body;
      if (task.state !== 'running') break;
      await new Promise((res) => setTimeout(res, 10));
    }
    expect(task).toMatchObject({ state: 'success', result: { name: 'later', attachmentState: 3 } });
    expect(Object.keys((await f.call('GET', '/tasks')).body)).toContain(String(r.body.id));
    expect((await f.call('GET', '/tasks/999')).status).toBe(404);
    expect((await f.call('GET', '/tasks/abc')).status).toBe(404);
    const failing = await f.call('POST', '/volumes/local?async', { body: { name: 'later', size: 1 } });
    for (let i = 0; i < 200; i++) {
      task = (await f.call('GET', `/tasks/${failing.body.id}`)).body;
      if (task.state !== 'running') break;
      await new Promise((res) => setTimeout(res, 10));
    }
    expect(task).toMatchObject({ state: 'error', error: { status: 409 } });
  });

  it('?async works on every volume and snapshot route, reads included (as upstream); ?async=false does not', async () => {
    const a = await create('read-me');
    const finished = async (id: number) => {
      for (let i = 0; i < 200; i++) {
        const t = (await f.call('GET', `/tasks/${id}`)).body;
        if (t.state !== 'running') return t;
        await new Promise((res) => setTimeout(res, 10));
      }
      throw new Error(`task ${id} still running`);
    };
    for (const p of ['/volumes', '/volumes/local', `/volumes/local/${a}`, '/snapshots', '/snapshots/local']) {
      const sync = await f.call('GET', p);
      expect([p, sync.status]).toEqual([p, 200]);
      const started = await f.call('GET', `${p}?async`);
      expect([p, started.status]).toEqual([p, 202]);
      expect(await finished(started.body.id)).toMatchObject({ state: 'success', result: sync.body });
      expect((await f.call('GET', `${p}?async=false`)).status).toBe(200);
    }
    const unknown = await f.call('GET', '/volumes/local/vfs-999?async');
    expect(unknown.status).toBe(202);
    expect(await finished(unknown.body.id)).toMatchObject({ state: 'error', error: { status: 404 } });
    // Services are not task routes upstream either.
    expect((await f.call('GET', '/services?async')).status).toBe(200);
  });
});

describe('volumes', () => {
  it('POST /volumes/{service} creates (201, state 3, offered to the service); invalid bodies → 400', async () => {
    const r = await f.call('POST', '/volumes/local', { body: { name: 'data', size: 2, opts: { color: 'blue', n: 1, profile: 'small' } } });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ name: 'data', size: 2, attachmentState: 3, type: '' });
    expect(r.body.fields).toMatchObject({ color: 'blue', n: '1', 'polly.profile': 'small' });
    const record = f.storage.storage.catalog.findByName('local', 'data')!;
    expect(record.schedulers).toEqual(['local']);
    expect(record.driverVolumeId).toBe(r.body.id);

    const bad = [
      { raw: '' },
      { raw: 'not json' },
      { body: {} },
      { body: { name: 'x', bogus: 1 } },
      { body: { name: 'x', size: 'big' } },
      { body: { name: 'x', opts: 'no' } },
    ];
    for (const b of bad) {
      const res = await f.call('POST', '/volumes/local', b);
      expect(res.status).toBe(400);
      expect(res.body.message).toMatch(/^validate req schema: validation error/);
      expect(res.body.status).toBe(400);
    }
    expect((await f.call('POST', '/volumes/local', { body: { name: 'x' } })).body.message).toBeUndefined();
    // Polly's own checks: name taken (case-insensitively) → 409, bad name / size → 400, unknown service → 404.
    expect((await f.call('POST', '/volumes/local', { body: { name: 'DATA' } })).status).toBe(409);
    expect((await f.call('POST', '/volumes/local', { body: { name: '../x' } })).status).toBe(400);
    expect((await f.call('POST', '/volumes/local', { body: { name: 'y', size: 0.5 } })).status).toBe(400);
    expect((await f.call('POST', '/volumes/nope', { body: { name: 'y' } })).status).toBe(404);
  });

  it('GET /volumes, /volumes/{service}, /volumes/{service}/{id} (+byName, filter); 404s', async () => {
    const a = await create('Alpha');
    const b = await create('beta');
    const c = await create('gamma', 'other');
    const all = await f.call('GET', '/volumes');
    expect(Object.keys(all.body.local)).toHaveLength(2);
    expect(Object.keys(all.body.other)).toEqual([c]);
    expect(all.body.local[a].attachments).toBeUndefined();
    expect(all.body.local[a].attachmentState).toBeUndefined();
    const one = await f.call('GET', '/volumes/local');
    expect(Object.keys(one.body).sort()).toEqual(Object.keys(all.body.local).sort());
    const filtered = await f.call('GET', `/volumes/local?filter=${encodeURIComponent('(name=alpha)')}`);
    expect(Object.keys(filtered.body)).toEqual([a]);
    const badFilter = await f.call('GET', `/volumes/local?filter=${encodeURIComponent('bogus(')}`);
    expect(badFilter.status).toBe(400);
    expect(badFilter.body.message).toBe('bad filter');
    expect((await f.call('GET', `/volumes?filter=${encodeURIComponent('bogus(')}`)).status).toBe(400);

    expect((await f.call('GET', `/volumes/local/${a}`)).body.name).toBe('Alpha');
    expect((await f.call('GET', '/volumes/local/ALPHA?byName')).body.id).toBe(a);
    const miss = await f.call('GET', '/volumes/local/vfs-999');
    expect(miss.status).toBe(404);
    expect(miss.body).toEqual({ message: 'resource not found', status: 404, error: { resourceID: 'vfs-999' } });
    expect((await f.call('GET', '/volumes/local/nobody?byName')).status).toBe(404);
    // A volume of one service is not found through another (driver IDs are per service).
    expect((await f.call('GET', `/volumes/other/${b}`)).status).toBe(404);
    expect((await f.call('GET', '/volumes/nope')).status).toBe(404);
    // Masks needing the instance: 400, per service and across services (upstream: 500 "batch processing error").
    expect((await f.call('GET', '/volumes/local?attachments=2')).status).toBe(400);
    expect((await f.call('GET', `/volumes/local/${a}?attachments=6`)).status).toBe(400);
    const batch = await f.call('GET', '/volumes?attachments=3');
    expect(batch.status).toBe(400);
    expect(batch.body).toEqual({ message: 'missing instance ID', status: 400, error: { service: 'local' } });
  });

  it('copy (201 Volume), snapshot (201 Snapshot), errors', async () => {
    const a = await create('src');
    const copy = await f.call('POST', `/volumes/local/${a}?copy`, { body: { volumeName: 'dst' } });
    expect(copy.status).toBe(201);
    expect(copy.body).toMatchObject({ name: 'dst', attachmentState: 3 });
    expect(f.storage.storage.catalog.findByName('local', 'dst')?.schedulers).toEqual(['local']);
    expect((await f.call('POST', `/volumes/local/${a}?copy`, { body: { volumeName: 'dst' } })).status).toBe(409);
    expect((await f.call('POST', `/volumes/local/${a}?copy`, { body: {} })).status).toBe(400);
    expect((await f.call('POST', '/volumes/local/vfs-999?copy', { body: { volumeName: 'z' } })).status).toBe(404);

    const snap = await f.call('POST', `/volumes/local/${a}?snapshot`, { body: { snapshotName: 'snap1' } });
    expect(snap.status).toBe(201);
    expect(snap.body).toMatchObject({ name: 'snap1', volumeID: a, status: expect.any(String), startTime: expect.any(Number) });
    expect((await f.call('POST', `/volumes/local/${a}?snapshot`, { body: { name: 'x' } })).status).toBe(400);
    expect((await f.call('POST', '/volumes/local/vfs-999?snapshot', { body: { snapshotName: 's' } })).status).toBe(404);
  });

  it('attach (200 + attachToken), detach (205 Volume), detach all (205 map); IID required (400)', async () => {
    const a = await create('vol');
    const noIid = await f.call('POST', `/volumes/local/${a}?attach`, { body: {} });
    expect(noIid.status).toBe(400);
    expect(noIid.body).toEqual({ message: 'missing instance ID', status: 400, error: { service: 'local' } });
    const att = await f.call('POST', `/volumes/local/${a}?attach`, { body: { nextDeviceName: '/dev/xvdc' }, headers: iid('node0') });
    expect(att.status).toBe(200);
    expect(att.body.attachToken).toBe('/dev/xvdc');
    expect(att.body.volume).toMatchObject({ attachmentState: 2, attachments: [{ deviceName: '/dev/xvdc', instanceID: { id: 'node0' } }] });
    const claim = f.storage.storage.ledger.list({ volumeId: `local.${a}`, live: true })[0]!;
    expect(claim).toMatchObject({ agentId: 'node0', instanceId: 'node0', scheduler: 'local', state: 'attached', mode: 'RW' });
    // Again from the same instance: idempotent, no second claim.
    expect((await f.call('POST', `/volumes/local/${a}?attach`, { headers: iid('node0') })).status).toBe(200);
    expect(f.storage.storage.ledger.list({ volumeId: `local.${a}`, live: true })).toHaveLength(1);
    // Bad bodies.
    expect((await f.call('POST', `/volumes/local/${a}?attach`, { body: { force: 'yes' }, headers: iid('node0') })).status).toBe(400);
    expect((await f.call('POST', `/volumes/local/${a}?detach`, { body: { bogus: 1 }, headers: iid('node0') })).status).toBe(400);
    expect((await f.call('POST', `/volumes/local/${a}?detach`, { body: {} })).status).toBe(400);
    expect((await f.call('POST', '/volumes/local/vfs-999?attach', { headers: iid('node0') })).status).toBe(404);

    const det = await f.call('POST', `/volumes/local/${a}?detach`, { body: {}, headers: iid('node0') });
    expect(det.status).toBe(205);
    expect(det.body).toMatchObject({ id: a, attachmentState: 3 });
    expect(f.storage.storage.ledger.find(claim.id)?.state).toBe('released');
    // Detaching again is a no-op.
    expect((await f.call('POST', `/volumes/local/${a}?detach`, { headers: iid('node0') })).status).toBe(205);

    const b = await create('vol2');
    await f.call('POST', `/volumes/local/${a}?attach`, { headers: iid('node0') });
    await f.call('POST', `/volumes/local/${b}?attach`, { headers: iid('node0') });
    expect((await f.call('POST', '/volumes/local?detach', { body: {} })).status).toBe(400);
    const all = await f.call('POST', '/volumes/local?detach', { body: {}, headers: iid('node0') });
    expect(all.status).toBe(205);
    expect(Object.keys(all.body).sort()).toEqual([a, b].sort());
    expect(f.storage.storage.ledger.list({ live: true })).toHaveLength(0);

    await f.call('POST', `/volumes/local/${a}?attach`, { headers: iid('node0') });
    const batchMissing = await f.call('POST', '/volumes?detach', { body: {}, headers: iid('node0', 'local') });
    expect(batchMissing.status).toBe(400);
    expect(batchMissing.body.error).toEqual({ service: 'other' });
    expect(f.storage.storage.ledger.list({ live: true })).toHaveLength(1);
    const everywhere = await f.call('POST', '/volumes?detach', { body: {}, headers: iid('node0') });
    expect(everywhere.status).toBe(205);
    expect(Object.keys(everywhere.body)).toEqual(['local', 'other']);
    expect(f.storage.storage.ledger.list({ live: true })).toHaveLength(0);
  });

  it('DELETE /volumes/{service}/{id}: 204; 409 while attached; 404 when unknown', async () => {
    const a = await create('gone');
    await f.call('POST', `/volumes/local/${a}?attach`, { headers: iid('node0') });
    expect((await f.call('DELETE', `/volumes/local/${a}`)).status).toBe(409);
    // `force` is not enough without admin rights.
    expect((await f.call('DELETE', `/volumes/local/${a}?force`)).status).toBe(409);
    await f.call('POST', `/volumes/local/${a}?detach`, { headers: iid('node0') });
    const del = await f.call('DELETE', `/volumes/local/${a}`);
    expect(del.status).toBe(204);
    expect(del.text).toBe('');
    expect(f.storage.storage.catalog.findByName('local', 'gone')).toBeUndefined();
    expect((await f.call('DELETE', `/volumes/local/${a}`)).status).toBe(404);
  });
});

describe('snapshots', () => {
  it('list, inspect, create a volume from one, copy (201, the data too), remove (205 null)', async () => {
    const a = await create('base');
    const driver = f.storage.storage.registry.get('local').driver;
    const hostPath = (id: string) => driver.hostPath!({ id, name: '', size: 1, fields: {}, attachments: [] });
    await fs.writeFile(path.join(hostPath(a), 'before.txt'), 'written before the snapshot\n');
    const s = (await f.call('POST', `/volumes/local/${a}?snapshot`, { body: { snapshotName: 'nightly' } })).body;
    const all = await f.call('GET', '/snapshots');
    expect(Object.keys(all.body.local)).toEqual([s.id]);
    expect(all.body.other).toEqual({});
    expect((await f.call('GET', '/snapshots/local')).body[s.id].name).toBe('nightly');
    expect((await f.call('GET', `/snapshots/local/${s.id}`)).body.volumeID).toBe(a);
    expect((await f.call('GET', '/snapshots/local/nope')).status).toBe(404);
    expect((await f.call('GET', '/snapshots/nope')).status).toBe(404);

    const fromSnap = await f.call('POST', `/snapshots/local/${s.id}?create`, { body: { name: 'restored' } });
    expect(fromSnap.status).toBe(201);
    expect(fromSnap.body.name).toBe('restored');
    expect(f.storage.storage.catalog.findByName('local', 'restored')?.schedulers).toEqual(['local']);
    expect((await f.call('POST', `/snapshots/local/${s.id}?create`, { body: {} })).status).toBe(400);
    expect((await f.call('POST', `/snapshots/local/${s.id}?create`, { body: { name: 'restored' } })).status).toBe(409);
    expect((await f.call('POST', '/snapshots/local/nope?create', { body: { name: 'r2' } })).status).toBe(404);

    expect((await f.call('POST', `/snapshots/local/${s.id}?copy`, { body: { snapshotName: 'c' } })).status).toBe(400);
    const copy = await f.call('POST', `/snapshots/local/${s.id}?copy`, { body: { snapshotName: 'c', destinationID: '' } });
    expect(copy.status).toBe(201);
    expect(copy.body).toMatchObject({ name: 'c', volumeID: a, volumeSize: 1, status: 'online' });
    expect(copy.body.id).not.toBe(s.id);
    expect(Object.keys((await f.call('GET', '/snapshots/local')).body).sort()).toEqual([s.id, copy.body.id].sort());
    expect((await f.call('POST', '/snapshots/local/nope?copy', { body: { snapshotName: 'c2', destinationID: '' } })).status).toBe(404);
    // The copy holds the snapshot's data, not the volume's later data: a volume made from it shows it.
    await fs.writeFile(path.join(hostPath(a), 'after.txt'), 'written after the snapshot\n');
    const fromCopy = await f.call('POST', `/snapshots/local/${copy.body.id}?create`, { body: { name: 'from-copy' } });
    expect(fromCopy.status).toBe(201);
    expect(await fs.readdir(hostPath(fromCopy.body.id))).toEqual(['before.txt']);

    const del = await f.call('DELETE', `/snapshots/local/${s.id}`);
    expect(del.status).toBe(205);
    expect(del.body).toBeNull();
    expect((await f.call('DELETE', `/snapshots/local/${s.id}`)).status).toBe(404);
  });
});

describe('headers', () => {
  it('reads headers case-insensitively, keeps repeated instance IDs apart, refuses malformed ones', async () => {
    const a = await create('h');
    // Two instance-ID headers (one per driver); the vfs one applies. Commas inside must survive.
    const two = await f.call('POST', `/volumes/local/${a}?attach`, {
      headers: { 'LIBSTORAGE-INSTANCEID': ['ebs=i-123,region=east', 'vfs=node7,zone=a'] },
    });
    expect(two.status).toBe(200);
    expect(two.body.volume.attachments[0].instanceID.id).toBe('node7');
    const bad = await f.call('GET', '/volumes/local', { headers: { 'libstorage-instanceid': 'garbage' } });
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ message: 'invalid InstanceID', status: 400, error: { value: 'garbage' } });
    const badMeta = await f.call('GET', '/volumes/local', { headers: { 'libstorage-instanceid': 'vfs=,,%%%notbase64json' } });
    expect(badMeta.status).toBe(400);
    const badDevices = await f.call('GET', '/volumes/local', { headers: { 'libstorage-localdevices': 'nonsense' } });
    expect(badDevices.status).toBe(400);
    expect(badDevices.body.message).toBe('invalid LocalDevices');
    const badTx = await f.call('GET', '/volumes/local', { headers: { 'libstorage-tx': 'nope' } });
    expect(badTx.status).toBe(400);
    expect(badTx.body.message).toBe('invalid transaction');
    const okTx = await f.call('GET', '/volumes/local', {
      headers: { 'Libstorage-Tx': 'txID=3f6b1f8e-4a8d-4b61-9a1e-7d2b0c6f1a22, txCR=1500000000' },
    });
    expect(okTx.status).toBe(200);
  });

  it('fills mount points from Libstorage-Localdevices under mask bit 4', async () => {
    const a = await create('dev');
    await f.call('POST', `/volumes/local/${a}?attach`, { body: { nextDeviceName: '/dev/xvdb' }, headers: iid('node0') });
    const r = await f.call('GET', `/volumes/local/${a}?attachments=7`, {
      headers: { ...iid('node0'), 'Libstorage-Localdevices': 'vfs=/dev/xvda::/,/dev/xvdb::/mnt/data' },
    });
    expect(r.body.attachments[0]).toMatchObject({ deviceName: '/dev/xvdb', mountPoint: '/mnt/data' });
  });
});

describe('listeners', () => {
  it('serves on a unix socket', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'polly-ls-sock-'));
    const socket = path.join(dir, 'ls.sock');
    const server = createLibStorageServer({ storage: f.storage.storage, config: lsConfig({ socket }) });
    try {
      const address = await server.listen();
      expect(address.endpoint).toBe(`unix://${socket}`);
      const r = await lsCall(address, 'GET', '/services');
      expect(Object.keys(r.body)).toEqual(['local', 'other']);
    } finally {
      await server.close(1000);
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses to start without auth off loopback', () => {
    expect(() => createLibStorageServer({ storage: f.storage.storage, config: lsConfig({ host: '0.0.0.0' }) })).toThrow(/not a loopback/);
  });
});
