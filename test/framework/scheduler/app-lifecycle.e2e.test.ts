/**
 * Volume-bound apps on the local cluster: zones, single writers, constraints, residency, unreachable
 * agents, agent removal, and a Polly restart in the middle of a launch.
 */
import { mesos } from '../../../framework/mesos/generated/mesos';
import type { MesosDriver } from '../../../framework/scheduler/app-launcher';
import { waitFor } from '../../support/mesos-http';
import { E2E, runningTask, startE2E, stdoutOf, volumeApp } from './scheduler-fixture';

jest.setTimeout(60000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function plainApp(id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id, cmd: 'sleep 1000', cpus: 0.1, mem: 32, instances: 1, ...extra };
}

/** Our running tasks as the master sees them. */
function masterTasks(e: E2E): mesos.v1.ITask[] {
  const frameworkId = e.polly.scheduler.frameworkId!;
  return e.cluster.agents().flatMap((a) => a.tasks().filter((t) => t.frameworkId === frameworkId && t.task.state === mesos.v1.TaskState.TASK_RUNNING).map((t) => t.task));
}

describe('volume-bound apps on the local cluster', () => {
  let e: E2E | undefined;

  afterEach(async () => {
    await e?.stop();
    e = undefined;
  });

  it('never attaches a volume in another zone: the app waits and says why', async () => {
    e = await startE2E();
    const { storage } = e.storage;
    await storage.catalog.create({ service: 'local', name: 'zoned', size: 1, schedulers: ['polly'], availabilityZone: 'zone-a' });
    await e.polly.api.createApp(volumeApp('zone-b-app', 'sleep 1000', 'zoned', { constraints: [['@zone', 'IS', 'zone-b']] }));
    const waiting = await waitFor(() => e!.polly.api.app('zone-b-app').waiting[0], 10000);
    expect(waiting.instance).toBe(0);
    expect(waiting.reason).toMatch(/^waiting: /);
    await sleep(500);
    expect(storage.ledger.list({})).toHaveLength(0);
    expect(e.polly.api.tasks()).toHaveLength(0);
  });

  it('runs two apps that want one RW volume one after the other, never at once', async () => {
    e = await startE2E();
    const { storage } = e.storage;
    await storage.catalog.create({ service: 'local', name: 'shared', size: 1, schedulers: ['polly'], availabilityZone: 'zone-a' });
    await e.polly.api.createApp(volumeApp('first', 'sleep 1000', 'shared'));
    const first = await waitFor(() => runningTask(e!, 'first'), 20000);
    await e.polly.api.createApp(volumeApp('second', 'sleep 1000', 'shared'));
    const waiting = await waitFor(() => e!.polly.api.app('second').waiting.find((w) => /held by task/.test(w.reason)), 10000);
    expect(waiting.reason).toBe(`waiting: volume shared is held by task ${first.id} on agent ${first.hostname}`);
    expect(runningTask(e, 'second')).toBeUndefined();
    await e.polly.api.killApp('first', { scale: true });
    const second = await waitFor(() => runningTask(e!, 'second'), 20000);
    expect(e.polly.tracker.currentTask('first', 0)).toBeUndefined();
    expect(storage.ledger.list({ live: true }).map((c) => c.taskId)).toEqual([second.id]);
  });

  it('places instances by constraint operators', async () => {
    e = await startE2E();
    const api = e.polly.api;
    await api.createApp(plainApp('unique', { instances: 3, constraints: [['hostname', 'UNIQUE']] }));
    await api.createApp(plainApp('cluster', { constraints: [['@zone', 'CLUSTER', 'zone-b']] }));
    await api.createApp(plainApp('unlike', { constraints: [['hostname', 'UNLIKE', 'node[01]']] }));
    await api.createApp(plainApp('like', { constraints: [['hostname', 'LIKE', 'node1']] }));
    await api.createApp(plainApp('attr', { constraints: [['zone', 'IS', 'zone-a'], ['@region', 'LIKE', 'region-.*']] }));
    await waitFor(() => [0, 1, 2].every((i) => runningTask(e!, 'unique', i)), 20000);
    expect(new Set([0, 1, 2].map((i) => runningTask(e!, 'unique', i)!.hostname)).size).toBe(3);
    expect((await waitFor(() => runningTask(e!, 'cluster'), 20000)).hostname).toBe('node2');
    expect((await waitFor(() => runningTask(e!, 'unlike'), 20000)).hostname).toBe('node2');
    expect((await waitFor(() => runningTask(e!, 'like'), 20000)).hostname).toBe('node1');
    expect((await waitFor(() => runningTask(e!, 'attr'), 20000)).zone).toBe('zone-a');
    // A fourth UNIQUE instance has nowhere to go.
    await api.scaleApp('unique', 4);
    const w = await waitFor(() => api.app('unique').waiting.find((x) => x.instance === 3 && /constraints/.test(x.reason)), 10000);
    expect(w.reason).toBe('waiting: no offer satisfies the constraints');
    expect(runningTask(e, 'unique', 3)).toBeUndefined();
  });

  it('moves an app to another agent of the volume zone when its agent is removed', async () => {
    e = await startE2E();
    const { storage } = e.storage;
    const volume = await storage.catalog.create({ service: 'local', name: 'mover', size: 1, schedulers: ['polly'], availabilityZone: 'zone-a' });
    await e.polly.api.createApp(volumeApp('mover', 'echo kept > mystore/f; cat mystore/f; sleep 1000', 'mover'));
    const first = await waitFor(() => runningTask(e!, 'mover'), 20000);
    e.cluster.removeAgent(first.agentId);
    const moved = await waitFor(() => {
      const t = runningTask(e!, 'mover');
      return t && t.id !== first.id ? t : undefined;
    }, 20000);
    expect(moved.agentId).not.toBe(first.agentId);
    expect(moved.zone).toBe('zone-a');
    const fenced = storage.ledger.list({ volumeId: volume.id }).find((c) => c.taskId === first.id);
    expect(fenced).toMatchObject({ state: 'released', forced: true });
    await waitFor(() => stdoutOf(e!, moved.id, moved.agentId).includes('kept'), 10000);
  });

  it('does not move a volume while its agent is unreachable, and moves it once the agent is removed', async () => {
    e = await startE2E({ unreachableTimeoutSeconds: 0.2 });
    const { storage } = e.storage;
    const volume = await storage.catalog.create({ service: 'local', name: 'partitioned', size: 1, schedulers: ['polly'], availabilityZone: 'zone-a' });
    await e.polly.api.createApp(volumeApp('part', 'sleep 1000', 'partitioned'));
    const first = await waitFor(() => runningTask(e!, 'part'), 20000);
    e.cluster.partitionAgent(first.agentId);
    await waitFor(() => e!.polly.tracker.task(first.id)?.state === 'TASK_UNREACHABLE', 10000);
    expect(e.polly.agents.get(first.agentId)?.state).toBe('unreachable');
    // Several unreachable timeouts (and re-reconciliations) later: nothing moved.
    await sleep(1200);
    expect(storage.ledger.list({ volumeId: volume.id, live: true }).map((c) => c.taskId)).toEqual([first.id]);
    expect(e.polly.tracker.liveTasksOf('part').map((t) => t.id)).toEqual([first.id]);
    expect(e.polly.api.app('part').waiting[0].reason).toMatch(/unreachable/);
    e.cluster.removeAgent(first.agentId);
    const moved = await waitFor(() => {
      const t = runningTask(e!, 'part');
      return t && t.id !== first.id ? t : undefined;
    }, 20000);
    expect(moved.agentId).not.toBe(first.agentId);
    expect(e.polly.agents.get(first.agentId)?.state).toBe('gone');
  });

  it('keeps a resident instance on its reserved agent and unreserves when the app is deleted', async () => {
    e = await startE2E();
    const api = e.polly.api;
    await api.createApp(plainApp('resident', { residency: {}, cpus: 0.5, mem: 64 }));
    const first = await waitFor(() => runningTask(e!, 'resident'), 20000);
    expect(api.app('resident').reservations['0']).toEqual({ agentId: first.agentId, hostname: first.hostname });
    const reserved = () =>
      (e!.cluster.localMaster.agents.get(first.agentId)?.total ?? []).filter((r) => (r.reservations ?? []).some((x) => x.labels?.labels?.some((l) => l.key === 'polly_app' && l.value === 'resident')));
    expect(reserved().length).toBeGreaterThan(0);
    for (let round = 0; round < 2; round++) {
      const before = runningTask(e, 'resident')!;
      await api.restartApp('resident');
      const again = await waitFor(() => {
        const t = runningTask(e!, 'resident');
        return t && t.id !== before.id ? t : undefined;
      }, 20000);
      expect(again.agentId).toBe(first.agentId);
    }
    await api.deleteApp('resident');
    await waitFor(() => api.apps().length === 0, 20000);
    expect(reserved()).toHaveLength(0);
  });

  it('resolves a launch interrupted by a restart: no duplicate task, no leaked claim', async () => {
    // The first Polly claims the volume, then "crashes" before its ACCEPT reaches Mesos.
    let lost = 0;
    e = await startE2E({
      wrapDriver: (d: MesosDriver): MesosDriver => ({
        get frameworkId() {
          return d.frameworkId;
        },
        accept: async () => {
          lost++;
        },
        decline: (ids, f) => d.decline(ids, f),
        revive: () => d.revive(),
        suppress: () => d.suppress(),
        kill: (t, a) => d.kill(t, a),
        reconcile: () => Promise.resolve(),
      }),
    });
    const { storage } = e.storage;
    await storage.catalog.create({ service: 'local', name: 'interrupted', size: 1, schedulers: ['polly'], availabilityZone: 'zone-a' });
    await e.polly.api.createApp(volumeApp('interrupted', 'sleep 1000', 'interrupted'));
    await waitFor(() => lost > 0, 20000);
    const intent = e.polly.tracker.liveTasks()[0];
    expect(intent.state).toBe('LAUNCHING');
    expect(storage.ledger.list({ live: true }).map((c) => c.taskId)).toEqual([intent.id]);

    await e.restartPolly();
    const task = await waitFor(() => runningTask(e!, 'interrupted'), 20000);
    expect(task.id).not.toBe(intent.id);
    expect(e.polly.tracker.task(intent.id)?.terminal).toBe(true);
    expect(storage.ledger.list({ live: true }).map((c) => c.taskId)).toEqual([task.id]);
    expect(masterTasks(e).map((t) => t.task_id.value)).toEqual([task.id]);

    // A restart right after the ACCEPT (task launched, Polly's record still LAUNCHING) adopts it.
    await e.restartPolly();
    await sleep(300);
    await waitFor(() => runningTask(e!, 'interrupted'), 20000);
    expect(masterTasks(e).map((t) => t.task_id.value)).toEqual([task.id]);
    expect(storage.ledger.list({ live: true }).map((c) => c.taskId)).toEqual([task.id]);
  });
});
