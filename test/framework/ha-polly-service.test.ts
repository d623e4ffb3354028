/**
 * Polly HA in one process: two instances share a real ZooKeeper and one local Mesos master. The
 * standby redirects mutations to the leader; when the leader loses its ZooKeeper session the
 * standby takes over with the same framework ID and the state the leader wrote.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../framework/config/config-loader';
import { LocalCluster } from '../../framework/mesos/local/local-cluster';
import { Logger, silentLogger } from '../../framework/shared/logger';
import { HaPollyService } from '../../framework/ha-polly-service';
import { waitFor } from '../support/mesos-http';
import { useZooKeeperServer } from '../support/zookeeper-server';

const debugLogger = (name: string): Logger => ({
  debug: () => undefined,
  info: (m, f) => console.log(name, m, JSON.stringify(f ?? {})),
  warn: (m, f) => console.log(name, 'WARN', m, JSON.stringify(f ?? {})),
  error: (m, f) => console.log(name, 'ERROR', m, JSON.stringify(f ?? {})),
});

describe('HaPollyService', () => {
  const server = useZooKeeperServer();
  let dir: string;
  let cluster: LocalCluster;
  const instances: HaPollyService[] = [];

  beforeEach(async () => {
    dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'polly-ha-'));
    cluster = await LocalCluster.start({ port: 0, workDir: path.join(dir, 'cluster'), heartbeatIntervalSeconds: 0.5, allocationIntervalMs: 50 });
  });
  afterEach(async () => {
    for (const i of instances.splice(0)) await i.stop().catch(() => undefined);
    await cluster.stop();
    await fs.promises.rm(dir, { recursive: true, force: true });
  });

  const start = async (name: string, zkPath: string): Promise<HaPollyService> => {
    const file = path.join(dir, `${name}.yml`);
    fs.writeFileSync(
      file,
      [
        `master: ${cluster.url}`,
        `home: ${path.join(dir, name)}`,
        'api: { port: 0 }',
        'libstorage: { enabled: false }',
        'mesos: { hostname: polly.test, webuiUrl: "http://polly.test/ui" }',
        `state: { backend: zookeeper, servers: "${server().connectString}", path: ${zkPath}, sessionTimeoutMs: 4000 }`,
        `services: [{ name: local, driver: vfs, vfs: { root: ${path.join(dir, 'shared-vfs')} } }]`,
      ].join('\n'),
    );
    const ha = await HaPollyService.start({ config: loadConfig({ env: {}, file }), logger: process.env.HA_DEBUG ? debugLogger(name) : silentLogger });
    instances.push(ha);
    return ha;
  };

  it('one leads, the standby redirects mutations; the standby takes over with the same framework ID', async () => {
    const a = await start('a', '/polly-ha-1');
    await waitFor(() => a.isLeader, 20_000);
    const frameworkId = await waitFor(() => a.leaderService?.scheduler.isSubscribed && a.leaderService.scheduler.frameworkId, 20_000);
    const b = await start('b', '/polly-ha-1');
    await waitFor(() => b.leaderUrl === a.advertisedUrl, 10_000);
    expect(b.role).toBe('standby');

    // The standby answers 307 to the leader; fetch follows it with the same method and body.
    const raw = await fetch(`${b.apiUrl}/v1/volumes`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(raw.status).toBe(307);
    expect(raw.headers.get('location')).toBe(`${a.advertisedUrl}/v1/volumes`);
    const created = await fetch(`${b.apiUrl}/v1/volumes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ service: 'local', name: 'data-1', size: 1 }),
    });
    expect(created.status).toBe(201);
    const volume = (await created.json()) as { id: string };
    const health = (await (await fetch(`${b.apiUrl}/health`)).json()) as { role: string; leader: string };
    expect(health).toMatchObject({ role: 'standby', leader: a.advertisedUrl });

    // The leader loses its ZooKeeper session (as if it hung or died): b leads.
    (a as unknown as { session: { close(): void } }).session.close();
    await waitFor(() => b.isLeader, 20_000);
    const resumed = await waitFor(() => b.leaderService?.scheduler.isSubscribed && b.leaderService.scheduler.frameworkId, 20_000);
    expect(resumed).toBe(frameworkId);
    const got = await fetch(`${b.apiUrl}/v1/volumes/${volume.id}`);
    expect(got.status).toBe(200);
  }, 90_000);
});
