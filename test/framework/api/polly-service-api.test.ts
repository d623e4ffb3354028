/** The API wired into PollyService: bound on port 0, ready once subscribed, closed by stop(); auth refused off loopback. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, ConfigError } from '../../../framework/config/config-loader';
import { LocalCluster } from '../../../framework/mesos/local/local-cluster';
import { silentLogger } from '../../../framework/mesos/logger';
import { PollyService } from '../../../framework/polly-service';
import { waitFor } from '../../support/mesos-http';

describe('PollyService API wiring', () => {
  let dir: string;
  let cluster: LocalCluster;
  let service: PollyService | undefined;

  beforeEach(async () => {
    dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'polly-api-service-'));
    cluster = await LocalCluster.start({
      port: 0,
      workDir: path.join(dir, 'cluster'),
      heartbeatIntervalSeconds: 0.2,
      allocationIntervalMs: 50,
    });
  });
  afterEach(async () => {
    await service?.stop().catch(() => undefined);
    service = undefined;
    await cluster.stop();
    await fs.promises.rm(dir, { recursive: true, force: true });
  });

  const config = (overrides: Record<string, unknown> = {}) =>
    loadConfig({
      env: {},
      file: '/dev/null',
      overrides: { master: cluster.url, home: path.join(dir, 'home'), 'api.port': 0, 'libstorage.port': 0, ...overrides },
    });

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

  it('refuses to start with auth off on a non-loopback address', async () => {
    await expect(
      PollyService.start({ config: config({ 'api.host': '0.0.0.0', 'api.auth': 'off' }), logger: silentLogger }),
    ).rejects.toThrow(ConfigError);
    await expect(PollyService.start({ config: config({ 'api.host': '0.0.0.0' }), logger: silentLogger })).rejects.toThrow(/api\.tokens/);
  });
});
