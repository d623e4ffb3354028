/**
 * HA Polly and the installation marker, on a real ZooKeeper: instances starting together on a new
 * store end as one installation; a store that was lost is refused on every host that used it.
 */
import path from 'node:path';
import { HaPollyService } from '../../../framework/ha-polly-service';
import { LocalCluster } from '../../../framework/mesos/local/local-cluster';
import { readHomeMarker } from '../../../framework/state/home-marker';
import { readInstallation } from '../../../framework/state/installation';
import { InstallationRefusedError } from '../../../framework/state/installation-refused-error';
import { ZookeeperStore } from '../../../framework/state/zookeeper/zookeeper-store';
import { waitFor } from '../../support/mesos-http';
import { useZooKeeperServer } from '../../support/zookeeper-server';
import { HaFixture, HaInstanceOptions } from './ha-fixture';

describe('HA Polly installations', () => {
  const server = useZooKeeperServer();
  let fixture: HaFixture;
  let cluster: LocalCluster;

  beforeEach(async () => {
    fixture = await HaFixture.create('polly-ha-installation-');
    cluster = await LocalCluster.start({ port: 0, workDir: path.join(fixture.dir, 'cluster'), heartbeatIntervalSeconds: 0.5, allocationIntervalMs: 50 });
    fixture.onCleanup(() => cluster.stop());
  });
  afterEach(async () => {
    await fixture.cleanup();
  });

  const instance = (name: string, zkPath: string): HaInstanceOptions => ({
    name,
    master: cluster.url,
    zk: server().connectString,
    zkPath,
    sessionTimeoutMs: 4000,
  });

  const storeAt = async (zkPath: string): Promise<ZookeeperStore> => {
    const store = new ZookeeperStore({ servers: server().connectString, root: zkPath });
    await store.open();
    fixture.onCleanup(() => store.close());
    return store;
  };

  it('three instances starting at once on a new ZooKeeper store end with one installation ID', async () => {
    const instances = await Promise.all(['a', 'b', 'c'].map((name) => fixture.start(instance(name, '/polly-new'))));
    const store = await storeAt('/polly-new');
    const installation = await readInstallation(store);
    expect(installation?.id).toBeDefined();
    for (const name of ['a', 'b', 'c']) expect((await readHomeMarker(path.join(fixture.dir, name)))?.id).toBe(installation!.id);
    // And one of them leads it.
    await waitFor(() => instances.filter((i) => i.isLeader).length === 1, 20_000);
  });

  it('an emptied ZooKeeper store is refused on a host whose home says it used it, and nothing is initialised in its place', async () => {
    const a = await fixture.start(instance('a', '/polly-lost'));
    await waitFor(() => a.isLeader && a.leaderService?.scheduler.isSubscribed, 20_000);
    const created = await fetch(`${a.apiUrl}/v1/volumes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ service: 'local', name: 'data-1', size: 1 }),
    });
    expect(created.status).toBe(201);
    const id = (await readHomeMarker(path.join(fixture.dir, 'a')))!.id;
    await a.stop();

    // The ensemble lost the data under /polly-lost.
    const store = await storeAt('/polly-lost');
    const keys: string[] = [];
    for await (const [key] of store.scan('')) keys.push(key);
    expect(keys.length).toBeGreaterThan(2);
    for (const key of keys) await store.delete(key);

    const err = await fixture.start(instance('a', '/polly-lost')).then(
      async (ha: HaPollyService) => {
        await ha.stop();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InstallationRefusedError);
    expect((err as InstallationRefusedError).reason).toBe('store-missing');
    expect((err as Error).message).toContain(`${server().connectString}/polly-lost`);
    expect((err as Error).message).toContain(id);
    // Nothing was initialised in its place.
    expect(await readInstallation(store)).toBeUndefined();
  });
});
