/**
 * The Hello Polly walk-through, end to end on the local cluster: a volume follows its app from node0
 * to node1 with its data, and when node1 is removed Polly fences the volume and moves the app back to
 * an agent in the volume's zone.
 */
import { waitFor } from '../../support/mesos-http';
import { E2E, runningTask, startE2E, stdoutOf, volumeApp } from './scheduler-fixture';

jest.setTimeout(60000);

describe('Hello Polly', () => {
  let e: E2E;

  beforeEach(async () => {
    e = await startE2E();
  });

  afterEach(async () => {
    await e?.stop();
  });

  it('moves a volume with its data between agents and fences it when its agent is removed', async () => {
    const { storage } = e.storage;
    const volume = await storage.catalog.create({ service: 'local', name: 'hellopersistence', size: 1, schedulers: ['polly'], availabilityZone: 'zone-a' });
    const api = () => e.polly.api;

    await api().createApp(volumeApp('/temp01', 'echo hello-polly > mystore/myfile && echo written && sleep 1000', 'hellopersistence', { constraints: [['hostname', 'LIKE', 'node0']] }));
    const first = await waitFor(() => runningTask(e, 'temp01'), 20000);
    expect(first.hostname).toBe('node0');
    // TASK_RUNNING comes at fork: wait until the command has written the file before killing it.
    await waitFor(() => stdoutOf(e, first.id, first.agentId).includes('written'), 10000);
    expect(first.volumes[0]).toMatchObject({ name: 'hellopersistence', volumeId: volume.id, mode: 'RW', containerPath: 'mystore' });
    expect(storage.ledger.list({ volumeId: volume.id, live: true })).toHaveLength(1);

    await api().killApp('temp01', { scale: true });
    await waitFor(() => storage.ledger.list({ volumeId: volume.id, live: true }).length === 0, 20000);
    await api().deleteApp('temp01');
    await waitFor(() => api().apps().length === 0, 20000);

    await api().createApp(
      volumeApp('temp01', 'ls mystore > listing && cat mystore/myfile && sleep 1000', 'hellopersistence', { constraints: [['hostname', 'LIKE', 'node1']] }),
    );
    const second = await waitFor(() => runningTask(e, 'temp01'), 20000);
    expect(second.hostname).toBe('node1');
    await waitFor(() => stdoutOf(e, second.id, second.agentId).includes('hello-polly'), 10000);

    // Node1 is removed: Mesos says its task is gone; Polly fences the claim held there.
    const node1 = e.agentIds.node1;
    e.cluster.removeAgent(node1);
    await waitFor(() => storage.ledger.list({ volumeId: volume.id, live: true }).length === 0, 20000);
    const fenced = storage.ledger.list({ volumeId: volume.id }).find((c) => c.agentId === node1 && c.forced);
    expect(fenced).toMatchObject({ state: 'released', forced: true });
    expect(fenced?.reason).toMatch(/fenced/);
    // The agent-gone notice can fence the claim a moment before the task's own update arrives.
    await waitFor(() => api().app('temp01').tasks.find((t) => t.id === second.id)?.state === 'TASK_GONE_BY_OPERATOR', 10000);
    // Its constraint pins it to node1, which is gone: it waits, and says so.
    // ("waiting: for an offer" until the next offers have been matched against it.)
    await waitFor(() => /constraints/.test(api().app('temp01').waiting[0]?.reason ?? ''), 10000);
    expect(api().app('temp01').waiting).toHaveLength(1);

    // Redeployed without the node1 constraint it runs again in the volume's zone (node0), data intact.
    await api().deleteApp('temp01');
    await waitFor(() => api().apps().length === 0, 20000);
    await api().createApp(volumeApp('temp01', 'cat mystore/myfile && sleep 1000', 'hellopersistence'));
    const moved = await waitFor(() => runningTask(e, 'temp01'), 20000);
    expect(moved.hostname).toBe('node0');
    await waitFor(() => stdoutOf(e, moved.id, moved.agentId).includes('hello-polly'), 10000);
  });
});
