/**
 * Issue 7, done when: the Mesos master leader changes in ZooKeeper; Polly (master: zk://…) follows
 * it and re-subscribes to the new master with the same framework ID.
 */
import path from 'node:path';
import { LocalCluster } from '../../../framework/mesos/local/local-cluster';
import type { HaPollyService } from '../../../framework/ha-polly-service';
import { waitFor } from '../../support/mesos-http';
import { useZooKeeperServer } from '../../support/zookeeper-server';
import { HaFixture, pollyFrameworks, postJson } from './ha-fixture';

jest.setTimeout(120_000);

describe('the leading Mesos master changes in ZooKeeper', () => {
  const zk = useZooKeeperServer();
  let f: HaFixture | undefined;
  let n = 0;

  afterEach(async () => {
    await f?.cleanup();
    f = undefined;
  });

  /** Two masters under one ZooKeeper path (the first registered leads) and Polly on zk://. */
  const setUp = async (): Promise<{ first: LocalCluster; second: LocalCluster; polly: HaPollyService; frameworkId: string }> => {
    f = await HaFixture.create('polly-ha-master-');
    const fixture = f;
    const mesosPath = `/mesos-${++n}`;
    const cluster = async (name: string): Promise<LocalCluster> => {
      const c = await LocalCluster.start({
        port: 0,
        workDir: path.join(fixture.dir, name),
        agents: [{ hostname: `${name}-node0`, zone: 'zone-a' }],
        heartbeatIntervalSeconds: 0.5,
        allocationIntervalMs: 50,
        zookeeper: { servers: zk().connectString, path: mesosPath, sessionTimeoutMs: 4000 },
      });
      fixture.onCleanup(() => c.stop());
      return c;
    };
    const first = await cluster('first');
    const second = await cluster('second');
    const polly = await fixture.start({ name: 'p', master: `zk://${zk().connectString}${mesosPath}`, zk: zk().connectString, zkPath: `/polly-master-${n}`, sessionTimeoutMs: 3000 });
    const frameworkId = await waitFor(() => polly.isLeader && polly.leaderService?.scheduler.isSubscribed && polly.leaderService.scheduler.frameworkId, 30_000);
    // Subscribed to the leading (first registered) master only.
    expect((await pollyFrameworks(first.url)).map((fw) => fw.id)).toEqual([frameworkId]);
    expect(await pollyFrameworks(second.url)).toEqual([]);
    return { first, second, polly, frameworkId };
  };

  const expectOn = async (cluster: LocalCluster, polly: HaPollyService, frameworkId: string): Promise<void> => {
    const fws = await waitFor(async () => {
      const all = await pollyFrameworks(cluster.url);
      return all.length === 1 && all[0].active && all[0].connected ? all : undefined;
    }, 30_000, 100);
    expect(fws[0].id).toBe(frameworkId);
    expect(polly.leaderService!.scheduler.frameworkId).toBe(frameworkId);
    await waitFor(() => polly.leaderService?.scheduler.isSubscribed, 10_000);
    // Polly keeps working against the new master.
    const created = await postJson(`${polly.apiUrl}/v1/volumes`, { service: 'local', name: 'after-change', size: 1 });
    expect(created.status).toBe(201);
  };

  it('the leading master stops: Polly re-subscribes to the next one with the same framework ID', async () => {
    const { first, second, polly, frameworkId } = await setUp();
    await first.stop();
    await expectOn(second, polly, frameworkId);
  });

  it('the leading master loses its ZooKeeper node while still running: Polly moves to the new leader', async () => {
    const { first, second, polly, frameworkId } = await setUp();
    await first.unregisterFromZooKeeper();
    await expectOn(second, polly, frameworkId);
    // The old master no longer has Polly connected.
    await waitFor(async () => (await pollyFrameworks(first.url)).every((fw) => !fw.connected), 10_000, 100);
  });
});
