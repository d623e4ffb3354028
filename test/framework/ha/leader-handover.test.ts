/**
 * Issue 18, failover: two Polly processes on one ZooKeeper and one Mesos master.
 * - Planned (SIGTERM to the leader): the leader closes its Mesos stream and drains its writes, then
 *   resigns (removes its election node) and exits 0; the standby leads with the same framework ID.
 * - A leader that stops without dying (SIGSTOP: its ZooKeeper session outlives its silence) is
 *   replaced when its heartbeat stands still; when it runs again it finds itself deposed, serves as
 *   a standby that names the new leader, and the framework stays with the new leader.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalCluster } from '../../../framework/mesos/local/local-cluster';
import { waitFor } from '../../support/mesos-http';
import { freePort, useZooKeeperServer } from '../../support/zookeeper-server';
import { pollyFrameworks } from './ha-fixture';
import { HaClient, leadersOf, PollyProcess, readiness, withLogsOf } from './polly-process';

jest.setTimeout(180_000);

/** The `message` of each JSON log line of a process, in order. */
function messages(p: PollyProcess): string[] {
  return p
    .log()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => String((JSON.parse(line) as { message?: unknown }).message));
}

describe('leader handover between Polly processes', () => {
  const zk = useZooKeeperServer();
  let dir: string;
  let cluster: LocalCluster | undefined;
  let procs: PollyProcess[] = [];

  beforeEach(async () => {
    dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'polly-ha-handover-'));
  });
  afterEach(async () => {
    for (const p of procs) {
      try {
        if (p.running) process.kill(-p.pid, 'SIGCONT');
      } catch {
        // gone
      }
    }
    await Promise.all(procs.map((p) => p.kill()));
    procs = [];
    await cluster?.stop().catch(() => undefined);
    cluster = undefined;
    await fs.promises.rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  });

  const withLogs = (body: () => Promise<void>): Promise<void> => withLogsOf(() => procs, body);

  /** Two instances; resolves with [leader, standby] once one leads and the other names it. */
  const startPair = async (heartbeat: string): Promise<[PollyProcess, PollyProcess]> => {
    cluster = await LocalCluster.start({
      port: 0,
      workDir: path.join(dir, 'cluster'),
      heartbeatIntervalSeconds: 0.5,
      allocationIntervalMs: 50,
    });
    const zkPath = `/polly-handover-${process.pid}-${Date.now()}`;
    const ports = [await freePort(), await freePort()];
    procs = ['p0', 'p1'].map((name, i) =>
      PollyProcess.spawn({
        name,
        dir,
        port: ports[i],
        config: [
          `master: ${cluster!.url}`,
          'libstorage: { enabled: false }',
          'mesos: { hostname: polly.test, failoverTimeoutSeconds: 3600 }',
          `state: { backend: zookeeper, servers: "${zk().connectString}", path: ${zkPath}, sessionTimeoutMs: 4000, ${heartbeat} }`,
          `services: [{ name: local, driver: vfs, vfs: { root: ${path.join(dir, 'shared-vfs')} } }]`,
        ],
      }),
    );
    return waitFor(
      async () => {
        const leaders = await leadersOf(procs);
        if (leaders.length !== 1) return undefined;
        const standby = procs.find((p) => p !== leaders[0])!;
        return (await readiness(standby.url))?.body.leader === leaders[0].url
          ? ([leaders[0], standby] as [PollyProcess, PollyProcess])
          : undefined;
      },
      90_000,
      200,
    );
  };

  it('SIGTERM: the leader closes its Mesos stream, drains, resigns and exits 0; the standby leads with the same framework ID', () =>
    withLogs(async () => {
      // A heartbeat timeout far beyond the test: the leader hands over by resigning (or exiting).
      const [leader, standby] = await startPair('leaderHeartbeatMs: 1000, leaderTimeoutMs: 600000');
      const client = new HaClient(() => procs.filter((p) => p.running).map((p) => p.url));
      const before = await client.send('POST', '/v1/volumes', { service: 'local', name: 'before', size: 1 });
      expect(before.status).toBe(201);
      const [framework] = await pollyFrameworks(cluster!.url);

      await leader.stop();
      expect(await leader.exited).toEqual({ code: 0, signal: null });
      const log = messages(leader);
      const streamClosed = log.indexOf('scheduler client stopped');
      const drained = log.indexOf('Polly stopped');
      const resigned = log.findIndex((m, i) => i > drained && m === 'no longer the leader');
      expect(streamClosed).toBeGreaterThan(-1);
      expect(drained).toBeGreaterThan(streamClosed);
      expect(resigned).toBeGreaterThan(drained);

      await waitFor(async () => ((await leadersOf([standby])).length === 1 ? true : undefined), 60_000, 100);
      const after = await client.send('POST', '/v1/volumes', { service: 'local', name: 'after', size: 1 });
      expect(after).toMatchObject({ status: 201, via: standby.url });
      const volumes = (await client.send('GET', '/v1/volumes')).body as { volumes: Array<{ name: string }> };
      expect(volumes.volumes.map((v) => v.name).sort()).toEqual(['after', 'before']);
      const frameworks = await waitFor(async () => {
        const fws = await pollyFrameworks(cluster!.url);
        return fws.length === 1 && fws[0].connected ? fws : undefined;
      }, 20_000);
      expect(frameworks[0].id).toBe(framework.id);
    }));

  it('SIGSTOP: a leader whose heartbeat stands still is replaced; thawed, it steps down and names the new leader', () =>
    withLogs(async () => {
      const [leader, standby] = await startPair('leaderHeartbeatMs: 200, leaderTimeoutMs: 1000');
      const client = new HaClient(() => procs.map((p) => p.url));
      expect((await client.send('POST', '/v1/volumes', { service: 'local', name: 'before', size: 1 })).status).toBe(201);
      const [framework] = await pollyFrameworks(cluster!.url);

      process.kill(-leader.pid, 'SIGSTOP');
      try {
        await waitFor(async () => ((await leadersOf([standby])).length === 1 ? true : undefined), 60_000, 100);
        // Taken over on the heartbeat: the frozen leader's session (4 s) was still alive then.
        expect(messages(standby)).toContain(
          "the leader's heartbeat stopped: removed its election node (its writes are fenced from now on)",
        );
        // Sent to the new leader: the frozen one would hold the request until it thaws.
        const after = await new HaClient(() => [standby.url]).send('POST', '/v1/volumes', { service: 'local', name: 'after', size: 1 });
        expect(after).toMatchObject({ status: 201, via: standby.url });
      } finally {
        process.kill(-leader.pid, 'SIGCONT');
      }

      // Thawed: deposed (its node is gone), it serves as a standby naming the new leader.
      await waitFor(
        async () => {
          const r = await readiness(leader.url);
          return r?.body.status === 'standby' && r.body.leader === standby.url ? true : undefined;
        },
        60_000,
        100,
      );
      expect(messages(leader)).toContain('lost the lead: stopping the scheduler and storage');
      expect(await leadersOf(procs)).toEqual([standby]);
      const volumes = (await client.send('GET', '/v1/volumes')).body as { volumes: Array<{ name: string }> };
      expect(volumes.volumes.map((v) => v.name).sort()).toEqual(['after', 'before']);
      const frameworks = await waitFor(async () => {
        const fws = await pollyFrameworks(cluster!.url);
        return fws.length === 1 && fws[0].connected && fws[0].active ? fws : undefined;
      }, 20_000);
      expect(frameworks[0].id).toBe(framework.id);
      expect(leader.running).toBe(true);
    }));
});
