/** The API wired into PollyService: bound on port 0, ready once subscribed, closed by stop(); auth refused off loopback. */
import { ConfigError } from '../../../framework/config/config-loader';
import { silentLogger } from '../../../framework/shared/logger';
import { PollyService } from '../../../framework/polly-service';
import { waitFor } from '../../support/mesos-http';
import { LocalPollyFixture, startLocalPollyFixture } from '../../support/local-polly';

describe('PollyService API wiring', () => {
  let fixture: LocalPollyFixture;
  let service: PollyService | undefined;

  beforeEach(async () => {
    fixture = await startLocalPollyFixture('polly-api-service-');
  });
  afterEach(async () => {
    await service?.stop().catch(() => undefined);
    service = undefined;
    await fixture.dispose();
  });

  const config = (overrides: Record<string, unknown> = {}) => fixture.config(overrides);

  it('serves the API on the bound port, ready once subscribed; stop() closes it', async () => {
    service = await PollyService.start({ config: config(), logger: silentLogger });
    expect(service.apiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await waitFor(async () => (await fetch(`${service!.apiUrl}/health/ready`)).status === 200, 10000);
    const created = await fetch(`${service.apiUrl}/v1/volumes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ service: 'local', name: 'wired', size: 1 }),
    });
    expect(created.status).toBe(201);
    const metrics = await (await fetch(`${service.apiUrl}/metrics`)).text();
    expect(metrics).toMatch(
      /polly_driver_call_duration_seconds_count\{service="local",driver="vfs",operation="volumeCreate",outcome="ok"\} 1/,
    );
    const url = service.apiUrl;
    await service.stop();
    service = undefined;
    await expect(fetch(`${url}/health`)).rejects.toThrow();
  });

  it('with api.tokens set, the libStorage API wants them too (401 for anonymous create, delete and list)', async () => {
    const admin = 'wired-admin-token-0123456789';
    service = await PollyService.start({
      config: config({ 'api.tokens': [{ name: 'ops', token: admin, scope: 'admin' }] }),
      logger: silentLogger,
    });
    const ls = service.libstorageUrl!;
    const call = (method: string, p: string, token?: string, body?: unknown) =>
      fetch(`${ls}${p}`, {
        method,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
    const created = await call('POST', '/volumes/local', admin, { name: 'guarded', size: 1 });
    expect(created.status).toBe(201);
    const id = ((await created.json()) as { id: string }).id;
    for (const [method, p, body] of [
      ['POST', '/volumes/local', { name: 'anonymous', size: 1 }],
      ['DELETE', `/volumes/local/${id}`, undefined],
      ['GET', '/volumes', undefined],
    ] as Array<[string, string, unknown]>) {
      const r = await call(method, p, undefined, body);
      expect([method, r.status]).toEqual([method, 401]);
      expect(await r.json()).toEqual({ message: 'invalid security token', status: 401, error: 'invalid security token' });
    }
    expect(service.storage.catalog.list({ service: 'local' }).map((v) => v.name)).toEqual(['guarded']);
  });

  it('answers JSON nested 10,000 deep with 400 on every route, POST /v1/apps included', async () => {
    service = await PollyService.start({ config: config(), logger: silentLogger });
    const deepObject = '{"x":'.repeat(10_000) + '1' + '}'.repeat(10_000);
    const deepArray = '['.repeat(10_000) + ']'.repeat(10_000);
    for (const [p, body] of [
      ['/v1/apps', `{"id":"/deep","cmd":"sleep 1","residency":${deepObject}}`],
      ['/v1/apps', deepArray],
      ['/v1/volumes', `{"service":"local","name":"deep","labels":${deepObject}}`],
      ['/v1/claims', deepArray],
    ]) {
      const res = await fetch(`${service.apiUrl}${p}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect([p, res.status]).toEqual([p, 400]);
      expect(await res.json()).toEqual({ message: 'The JSON body nests deeper than 64 levels', status: 400, details: { field: '(body)' } });
    }
    expect(service.storage.catalog.list()).toEqual([]);
    expect((await (await fetch(`${service.apiUrl}/v1/apps`)).json()) as unknown).toEqual({ apps: [] });
  });

  it('refuses to start with auth off on a non-loopback address', async () => {
    await expect(
      PollyService.start({ config: config({ 'api.host': '0.0.0.0', 'api.auth': 'off' }), logger: silentLogger }),
    ).rejects.toThrow(ConfigError);
    await expect(PollyService.start({ config: config({ 'api.host': '0.0.0.0' }), logger: silentLogger })).rejects.toThrow(/api\.tokens/);
  });
});
