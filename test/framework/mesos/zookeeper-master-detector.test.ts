import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LocalCluster } from '../../../framework/mesos/local/local-cluster';
import { SchedulerClient, SubscribedInfo } from '../../../framework/mesos/scheduler/scheduler-client';
import { masterUrlFromInfo, parseZkUrl, ZookeeperMasterDetector } from '../../../framework/mesos/zookeeper-master-detector';
import { MasterUrlError } from '../../../framework/mesos/master-detector';
import { waitFor } from '../../support/mesos-http';
import { useZooKeeperServer } from '../../support/zookeeper-server';

describe('zk:// URLs and MasterInfo', () => {
  it('parses servers and path', () => {
    expect(parseZkUrl('zk://h1:2181,h2:2181/mesos')).toEqual({ servers: 'h1:2181,h2:2181', path: '/mesos' });
    expect(parseZkUrl('zk://127.0.0.1:2181/a/b/')).toEqual({ servers: '127.0.0.1:2181', path: '/a/b' });
    expect(parseZkUrl('zk://h:2181')).toEqual({ servers: 'h:2181', path: '/mesos' });
    expect(() => parseZkUrl('zk://user:pw@h:2181/mesos')).toThrow(MasterUrlError);
    expect(() => parseZkUrl('zk://h/mesos')).toThrow(MasterUrlError);
    expect(() => parseZkUrl('http://h:5050')).toThrow(MasterUrlError);
  });

  it('builds the master URL from MasterInfo JSON', () => {
    expect(masterUrlFromInfo({ address: { hostname: 'm1', ip: '10.0.0.1', port: 5050 }, hostname: 'x', port: 1 })?.href).toBe('http://m1:5050/');
    expect(masterUrlFromInfo({ address: { ip: '10.0.0.1', port: 5050 } })?.href).toBe('http://10.0.0.1:5050/');
    expect(masterUrlFromInfo({ hostname: 'm2', port: 5051 })?.href).toBe('http://m2:5051/');
    expect(masterUrlFromInfo({})).toBeUndefined();
  });
});

describe('ZookeeperMasterDetector with local clusters', () => {
  const server = useZooKeeperServer();
  let dir: string;
  const clusters: LocalCluster[] = [];
  const cleanups: Array<() => Promise<void> | void> = [];

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'polly-zk-master-'));
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    await Promise.all(clusters.splice(0).map((c) => c.stop().catch(() => undefined)));
    await fs.rm(dir, { recursive: true, force: true });
  });

  const startCluster = async (name: string, zkPath: string): Promise<LocalCluster> => {
    const cluster = await LocalCluster.start({
      port: 0,
      workDir: path.join(dir, name),
      agents: [{ hostname: `${name}-a1`, zone: 'zone-a' }],
      heartbeatIntervalSeconds: 1,
      allocationIntervalMs: 50,
      zookeeper: { servers: server().connectString, path: zkPath, sessionTimeoutMs: 4000 },
    });
    clusters.push(cluster);
    return cluster;
  };

  it('waits for a leader, then follows leadership changes; the scheduler re-subscribes with the same framework ID', async () => {
    const zkPath = '/mesos-test-1';
    const detector = new ZookeeperMasterDetector({ url: `zk://${server().connectString}${zkPath}` });
    cleanups.push(() => detector.close());
    // No master yet: current() waits.
    let early: URL | undefined;
    void detector.current().then((u) => (early = u));
    await new Promise((r) => setTimeout(r, 300));
    expect(early).toBeUndefined();

    const a = await startCluster('a', zkPath);
    const b = await startCluster('b', zkPath);
    await waitFor(() => early !== undefined, 10_000);
    expect(early!.href).toBe(`${a.url}/`);

    const client = new SchedulerClient({
      detector,
      frameworkInfo: { user: os.userInfo().username, name: 'polly-zk-test', failover_timeout: 3600 },
      backoff: { minMs: 20, maxMs: 200 },
      heartbeatTimeoutMs: 5000,
    });
    cleanups.push(() => client.stop());
    const subscriptions: Array<SubscribedInfo & { master: string }> = [];
    client.on('subscribed', (info) => subscriptions.push({ ...info, master: client.masterUrl!.href }));
    client.start();
    await waitFor(() => subscriptions.length === 1, 20_000);
    expect(subscriptions[0].master).toBe(`${a.url}/`);
    const frameworkId = subscriptions[0].frameworkId;
    expect(a.localMaster.frameworks.get(frameworkId)).toBeDefined();

    // The leader's node goes away while that master keeps running: the client moves to b.
    await a.unregisterFromZooKeeper();
    await waitFor(() => subscriptions.length === 2, 20_000);
    expect(subscriptions[1]).toMatchObject({ master: `${b.url}/`, frameworkId });
    expect(b.localMaster.frameworks.get(frameworkId)).toBeDefined();

    // A new master registers behind b, then b stops: the client moves to c, still the same framework.
    const c = await startCluster('c', zkPath);
    await b.stop();
    await waitFor(() => subscriptions.length === 3, 20_000);
    expect(subscriptions[2]).toMatchObject({ master: `${c.url}/`, frameworkId });
  }, 90_000);
});
