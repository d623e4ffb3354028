/** The original Polly admin routes over real HTTP: shapes, statuses, filters and every 4xx. */
import { ADMIN_API_VERSION } from '../../../../framework/api/admin/admin-routes';
import { POLLY_VERSION } from '../../../../framework/version';
import { ApiFixture, makeApiFixture } from '../api-fixture';

describe('admin API', () => {
  let f: ApiFixture;
  beforeEach(async () => {
    f = await makeApiFixture();
  });
  afterEach(async () => {
    await f.dispose();
  });

  const create = (body: Record<string, unknown>) => f.call('POST', '/admin/volumes', { body });

  it('GET /admin/version has the original field names', async () => {
    const res = await f.call('GET', '/admin/version');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      versionPollyAdminAPI: ADMIN_API_VERSION,
      versionPollySchedulerAPI: expect.any(String),
      versionPollyBuild: POLLY_VERSION,
    });
  });

  it('POST /admin/volumes creates: 201, Location, original shape', async () => {
    const res = await create({
      service: 'local',
      name: 'hellopersistence',
      size: 1,
      schedulers: ['marathon'],
      labels: { app: 'web' },
      fields: { tier: 'gold' },
    });
    expect(res.status).toBe(201);
    const v = res.body;
    expect(res.headers.get('location')).toBe(`/admin/volumes/${encodeURIComponent(v.volumeid)}`);
    expect(v).toEqual({
      id: expect.any(String),
      name: 'hellopersistence',
      size: 1,
      iops: 0,
      type: '',
      availabilityZone: '',
      status: 'available',
      encrypted: false,
      networkName: '',
      fields: expect.objectContaining({ tier: 'gold' }),
      attachments: [],
      volumeid: expect.stringMatching(/^local\./),
      serviceName: 'local',
      schedulers: ['marathon'],
      labels: { app: 'web' },
      managed: true,
    });
    const got = await f.call('GET', `/admin/volumes/${encodeURIComponent(v.volumeid)}`);
    expect(got.status).toBe(200);
    expect(got.body).toEqual(v);
  });

  it('lists managed volumes with the original filters; volumesall adds unmanaged ones', async () => {
    const a = (await create({ service: 'local', name: 'a', size: 1, fields: { tier: 'gold' } })).body;
    await create({ service: 'local', name: 'b', size: 2 });
    // an unmanaged volume: made on the backend directly
    await f.storage.drivers.get('local')!.volumeCreate('outside', { size: 3 });
    const all = await f.call('GET', '/admin/volumes');
    expect(all.body.map((v: { name: string }) => v.name).sort()).toEqual(['a', 'b']);
    expect((await f.call('GET', '/admin/volumes?size=2')).body.map((v: { name: string }) => v.name)).toEqual(['b']);
    expect((await f.call('GET', '/admin/volumes?serviceName=local&size=1')).body).toHaveLength(1);
    expect((await f.call('GET', '/admin/volumes?tier=gold')).body.map((v: { volumeid: string }) => v.volumeid)).toEqual([a.volumeid]);
    expect((await f.call('GET', '/admin/volumes?serviceName=nope')).body).toEqual([]);
    const everything = await f.call('GET', '/admin/volumesall');
    expect(everything.body.map((v: { name: string; managed: boolean }) => `${v.name}:${v.managed}`).sort()).toEqual([
      'a:true',
      'b:true',
      'outside:false',
    ]);
    expect((await f.call('GET', '/admin/volumesall?size=3')).body.map((v: { name: string }) => v.name)).toEqual(['outside']);
    const unmanaged = everything.body.find((v: { name: string }) => v.name === 'outside');
    expect((await f.call('GET', `/admin/volumes/${encodeURIComponent(unmanaged.volumeid)}`)).body.managed).toBe(false);
  });

  it('offers, revokes, labels and unlabels', async () => {
    const v = (await create({ service: 'local', name: 'v', size: 1 })).body;
    let res = await f.call('POST', '/admin/volumeoffer', { body: { volumeID: v.volumeid, schedulers: ['marathon', 'docker'] } });
    expect(res.status).toBe(200);
    expect(res.body.schedulers.sort()).toEqual(['docker', 'marathon']);
    res = await f.call('POST', '/admin/volumeofferrevoke', { body: { volumeID: v.volumeid, schedulers: ['docker'] } });
    expect(res.body.schedulers).toEqual(['marathon']);
    res = await f.call('POST', '/admin/volumelabel', { body: { volumeID: v.volumeid, labels: { a: '1', b: '2' } } });
    expect(res.body.labels).toEqual({ a: '1', b: '2' });
    res = await f.call('POST', '/admin/volumelabelsremove', { body: { volumeID: v.volumeid, labels: ['a', 'zzz'] } });
    expect(res.body.labels).toEqual({ b: '2' });
  });

  it('DELETE /admin/volumes/{id}: 204, then 404', async () => {
    const v = (await create({ service: 'local', name: 'gone', size: 1 })).body;
    const path = `/admin/volumes/${encodeURIComponent(v.volumeid)}`;
    expect((await f.call('DELETE', path)).status).toBe(204);
    const again = await f.call('DELETE', path);
    expect(again.status).toBe(404);
    expect(again.body).toEqual({ message: expect.any(String), status: 404, details: expect.any(Object) });
    expect((await f.call('GET', path)).status).toBe(404);
  });

  describe('errors', () => {
    it('malformed JSON → 400 with the error shape', async () => {
      const res = await f.call('POST', '/admin/volumes', { raw: '{"service": "local", ' });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ status: 400, message: expect.stringMatching(/Malformed JSON/) });
    });

    it('schema violations name the field', async () => {
      let res = await create({ service: 'local', name: 'x', size: 'big' });
      expect(res.status).toBe(400);
      expect(res.body.details.field).toBe('size');
      res = await create({ name: 'x' });
      expect(res.body.details.field).toBe('service');
      res = await create({ service: 'local', name: 'x', colour: 'red' });
      expect(res.body.details.field).toBe('colour');
      res = await f.call('POST', '/admin/volumeoffer', { body: { volumeID: 'local.x', schedulers: ['bad name!'] } });
      expect(res.status).toBe(400);
      expect(res.body.details.field).toBe('schedulers[0]');
      res = await f.call('POST', '/admin/volumelabel', { body: { volumeID: 'local.x', labels: { k: 1 } } });
      expect(res.body.details.field).toBe('labels.k');
      res = await create({ service: 'local', name: '../etc' });
      expect(res.status).toBe(400);
      res = await f.call('POST', '/admin/volumes', { raw: '[1,2]' });
      expect(res.status).toBe(400);
    });

    it('unknown service → 404; unknown volume IDs → 404', async () => {
      expect((await create({ service: 'nope', name: 'x' })).status).toBe(404);
      expect((await f.call('GET', '/admin/volumes/local.doesnotexist')).status).toBe(404);
      expect((await f.call('POST', '/admin/volumeoffer', { body: { volumeID: 'local.nothere', schedulers: ['m'] } })).status).toBe(404);
    });

    it('a volume ID that names no volume is a 404 on every route that takes one, whatever it looks like, and changes nothing', async () => {
      const kept = (await create({ service: 'local', name: 'kept', size: 1, schedulers: ['marathon'], labels: { a: '1' } })).body;
      const before = (await f.call('GET', '/admin/volumesall')).body;
      const ids = [
        'does-not-exist', // the original's `service-volume` shape
        'no-dot',
        'local.doesnotexist', // well formed, unknown
        'nosuchservice.x', // well formed, unknown service
        'local.%41', // not in canonical form (names `local.A`)
        'local.a b',
        'Local.kept',
        '.x',
        'local.',
        '...', // ('..' itself cannot travel in a URL path: clients resolve it)
        'ß.x',
        'x'.repeat(300), // longer than any volume ID
        kept.volumeid + 'x',
      ];
      for (const id of ids) {
        const routes: Array<[string, string, Record<string, unknown> | undefined]> = [
          ['GET', `/admin/volumes/${encodeURIComponent(id)}`, undefined],
          ['DELETE', `/admin/volumes/${encodeURIComponent(id)}`, undefined],
          ['POST', '/admin/volumeoffer', { volumeID: id, schedulers: ['m'] }],
          ['POST', '/admin/volumeofferrevoke', { volumeID: id, schedulers: ['marathon'] }],
          ['POST', '/admin/volumelabel', { volumeID: id, labels: { b: '2' } }],
          ['POST', '/admin/volumelabelsremove', { volumeID: id, labels: ['a'] }],
        ];
        for (const [method, path, body] of routes) {
          const res = await f.call(method, path, body ? { body } : {});
          expect({ id, method, path, status: res.status }).toEqual({ id, method, path, status: 404 });
          expect(res.body).toEqual({ message: expect.stringMatching(/^Volume ".*" not found/), status: 404, details: expect.any(Object) });
        }
      }
      expect((await f.call('GET', '/admin/volumesall')).body).toEqual(before);
    });

    it('duplicate name (case-insensitive) → 409', async () => {
      expect((await create({ service: 'local', name: 'Dup', size: 1 })).status).toBe(201);
      const res = await create({ service: 'local', name: 'dup', size: 1 });
      expect(res.status).toBe(409);
      expect(res.body.status).toBe(409);
    });

    it('wrong method → 405 with Allow; unknown route → 404 JSON', async () => {
      let res = await f.call('PUT', '/admin/volumes');
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('GET, HEAD, OPTIONS, POST');
      res = await f.call('GET', '/admin/volumeoffer');
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('OPTIONS, POST');
      res = await f.call('PATCH', '/admin/volumes/local.x');
      expect(res.headers.get('allow')).toBe('DELETE, GET, HEAD, OPTIONS');
      res = await f.call('GET', '/admin/nothing');
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ status: 404, message: expect.any(String) });
    });

    it('non-JSON bodies → 415; oversized → 413', async () => {
      let res = await f.call('POST', '/admin/volumes', {
        raw: 'service=local',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(res.status).toBe(415);
      res = await f.call('POST', '/admin/volumes', {
        raw: JSON.stringify({ service: 'local', name: 'x', labels: { k: 'v'.repeat(70000) } }),
      });
      expect(res.status).toBe(413);
    });

    it('401 without or with a bad token, 403 for read and scheduler tokens on writes', async () => {
      let res = await f.call('GET', '/admin/volumes', { token: null });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      res = await f.call('GET', '/admin/volumes', { token: 'wrong-token-000000000000' });
      expect(res.status).toBe(401);
      res = await create({ service: 'local', name: 'x' });
      expect(res.status).toBe(201);
      res = await f.call('POST', '/admin/volumes', { token: 'read-token-0123456789abcdef', body: { service: 'local', name: 'y' } });
      expect(res.status).toBe(403);
      res = await f.call('GET', '/admin/volumes', { token: 'marathon-token-0123456789abcdef' });
      expect(res.status).toBe(403);
      res = await f.call('GET', '/admin/version', { token: 'marathon-token-0123456789abcdef' });
      expect(res.status).toBe(200);
      expect((await f.call('GET', '/admin/volumes', { token: 'read-token-0123456789abcdef' })).status).toBe(200);
    });
  });
});
