/**
 * Issue 7, done when: ZooKeeper restarts; Polly reconnects and continues — it leads again, is
 * subscribed with the same framework ID, and mutations succeed.
 */
import path from 'node:path';
import { LocalCluster } from '../../../framework/mesos/local/local-cluster';
import { waitFor } from '../../support/mesos-http';
import { useZooKeeperServer } from '../../support/zookeeper-server';
import { HaFixture, pollyFrameworks, postJson } from './ha-fixture';

jest.setTimeout(120_000);

describe('a ZooKeeper restart under a running Polly', () => {
  const zk = useZooKeeperServer();
  let f: HaFixture | undefined;

  afterEach(async () => {
    // ZooKeeper up again first, so the instances can leave their election cleanly.
    await zk().startAgain();
    await f?.cleanup();
    f = undefined;
  });

  const startPolly = async (zkPath: string) => {
    f = await HaFixture.create('polly-ha-zk-restart-');
    const cluster = await LocalCluster.start({ port: 0, workDir: path.join(f.dir, 'cluster'), heartbeatIntervalSeconds: 0.5, allocationIntervalMs: 50 });
    f.onCleanup(() => cluster.stop());
    const polly = await f.start({ name: 'p', master: cluster.url, zk: zk().connectString, zkPath, sessionTimeoutMs: 3000 });
    const frameworkId = await waitFor(() => polly.isLeader && polly.leaderService?.scheduler.isSubscribed && polly.leaderService.scheduler.frameworkId, 30_000);
    const created = await postJson(`${polly.apiUrl}/v1/volumes`, { service: 'local', name: 'before', size: 1, schedulers: ['bench'] });
    expect(created.status).toBe(201);
    return { polly, cluster, frameworkId };
  };

  /**
   * Leads (still or again), subscribed with the same framework ID; a volume and a claim can be made
   * (sent as an HA client does: again while the instance says no leader is elected yet); the old
   * state is there.
   */
  const expectContinues = async ({ polly, cluster, frameworkId }: Awaited<ReturnType<typeof startPolly>>): Promise<void> => {
    const mutate = (path: string, body: unknown) =>
      waitFor(async () => {
        // Refused (between the standby's and the leader's listener): not received, send again.
        const r = await postJson(`${polly.apiUrl}${path}`, body).catch((err: { cause?: { code?: string } }) => {
          if (err.cause?.code === 'ECONNREFUSED') return undefined;
          throw err;
        });
        const message = String((r?.body as { message?: string } | undefined)?.message ?? '');
        return r && !(r.status === 503 && /No Polly leader/.test(message)) ? r : undefined;
      }, 30_000, 100);
    const after = await mutate('/v1/volumes', { service: 'local', name: 'after', size: 1, schedulers: ['bench'] });
    expect(after.status).toBe(201);
    const claim = await mutate('/v1/claims', { volumeId: (after.body as { id: string }).id, agentId: 'agent-1', scheduler: 'bench' });
    expect(claim.status).toBe(201);
    await waitFor(() => polly.isLeader && polly.leaderService?.scheduler.isSubscribed, 30_000, 50);
    expect(polly.leaderService!.scheduler.frameworkId).toBe(frameworkId);
    const list = (await (await fetch(`${polly.apiUrl}/v1/volumes`)).json()) as { volumes: Array<{ name: string }> };
    expect(list.volumes.map((v) => v.name).sort()).toEqual(['after', 'before']);
    // The master sees one polly framework, the same one, subscribed.
    const fws = await waitFor(async () => {
      const all = await pollyFrameworks(cluster.url);
      return all.length === 1 && all[0].active && all[0].connected ? all : undefined;
    }, 10_000, 100);
    expect(fws[0].id).toBe(frameworkId);
  };

  it('a quick restart: reconnects and keeps working with the same framework', async () => {
    const running = await startPolly('/polly-restart-quick');
    await zk().restart();
    await expectContinues(running);
  });

  it('down long enough for the leader to step down: leads again once ZooKeeper is back', async () => {
    const running = await startPolly('/polly-restart-long');
    const deposed = new Promise<void>((resolve) => running.polly.once('deposed', () => resolve()));
    await zk().stop();
    // Disconnected beyond the step-down time (2/3 of the session timeout): it stops leading at once.
    await deposed;
    await waitFor(() => running.polly.role === 'standby', 20_000, 50);
    expect(running.polly.leaderService).toBeUndefined();
    // Still answering as a standby while ZooKeeper is away (no leader to redirect to: 503).
    const health = (await (await fetch(`${running.polly.apiUrl}/health`)).json()) as { role: string; leader: string | null };
    expect(health).toMatchObject({ role: 'standby', leader: null });
    const refused = await postJson(`${running.polly.apiUrl}/v1/volumes`, { service: 'local', name: 'meanwhile', size: 1 });
    expect(refused.status).toBe(503);
    await zk().startAgain();
    await expectContinues(running);
  });
});
