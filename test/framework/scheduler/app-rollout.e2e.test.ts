/**
 * Replacing an app's definition (PUT /v1/apps/:id, `polly app update`) and restarting it on the local
 * cluster (issue 15, point 5 and the strategies): an instance with an RW volume is replaced stop-first
 * and its volume never has two holders; an instance without one starts its new task before the old
 * one stops; killSelection picks which instances a scale-down stops; unreachableStrategy replaces an
 * unreachable instance that holds no volume, and the old task is killed when it comes back.
 */
import { mesos } from '../../../framework/mesos/generated/mesos';
import { waitFor } from '../../support/mesos-http';
import { E2E, runningTask, startE2E, stdoutOf } from './scheduler-fixture';

jest.setTimeout(90000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Tasks of an app any agent runs (or is about to run). */
function aliveOnAgents(e: E2E, appId: string): mesos.v1.ITask[] {
  const frameworkId = e.polly.scheduler.frameworkId;
  const alive = new Set([mesos.v1.TaskState.TASK_STAGING, mesos.v1.TaskState.TASK_STARTING, mesos.v1.TaskState.TASK_RUNNING, mesos.v1.TaskState.TASK_KILLING]);
  return e.cluster
    .agents()
    .flatMap((a) => a.tasks())
    .filter((t) => t.frameworkId === frameworkId && alive.has(t.task.state) && t.task.task_id.value.startsWith(`${appId}.`))
    .map((t) => t.task);
}

function rwApp(cmd: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: '/db',
    cmd,
    cpus: 0.1,
    mem: 32,
    portDefinitions: [],
    container: { type: 'MESOS', volumes: [{ containerPath: 'data', mode: 'RW', external: { name: 'db-data', provider: 'polly', options: { service: 'local' } } }] },
    ...extra,
  };
}

describe('rolling updates and restarts', () => {
  let e: E2E | undefined;

  afterEach(async () => {
    await e?.stop();
    e = undefined;
  });

  it('PUT rolls an app with an RW volume stop-first: never two holders, the data carries over', async () => {
    e = await startE2E();
    const api = e.polly.api;
    const { ledger } = e.storage.storage;
    await api.createApp(rwApp('echo v1 >> data/log && echo wrote; sleep 1000'));
    const first = await waitFor(() => runningTask(e!, 'db'), 20000);
    // TASK_RUNNING comes at fork: wait until the first task has written before replacing it.
    await waitFor(() => stdoutOf(e!, first.id, first.agentId).includes('wrote'), 10000);
    let maxAlive = 0;
    let maxHolders = 0;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        maxAlive = Math.max(maxAlive, aliveOnAgents(e!, 'db').length);
        maxHolders = Math.max(maxHolders, ledger.list({ live: true }).length);
        await sleep(5);
      }
    })();
    const { app, created } = await api.updateApp('/db', rwApp('cat data/log; echo v2 >> data/log; sleep 1000'));
    expect(created).toBe(false);
    const second = await waitFor(() => {
      const t = runningTask(e!, 'db');
      return t && t.id !== first.id ? t : undefined;
    }, 30000);
    await waitFor(() => stdoutOf(e!, second.id, second.agentId).includes('v1'), 10000);
    watching = false;
    await watcher;
    expect(maxAlive).toBe(1);
    expect(maxHolders).toBe(1);
    expect(second.version).not.toBe(first.version);
    expect(second.version).toBe(e.polly.tracker.app('db')!.version);
    expect(e.polly.tracker.task(first.id)).toMatchObject({ terminal: true, state: 'TASK_KILLED' });
    expect(app.cmd).toBe('cat data/log; echo v2 >> data/log; sleep 1000');
    // The same definition again changes nothing.
    await api.updateApp('db', rwApp('cat data/log; echo v2 >> data/log; sleep 1000'));
    await sleep(300);
    expect(runningTask(e, 'db')?.id).toBe(second.id);
  });

  it('starts the new task of an instance without volumes before stopping the old one, and restarts the same way', async () => {
    e = await startE2E();
    const api = e.polly.api;
    await api.createApp({ id: 'web', cmd: 'sleep 1000', cpus: 0.1, mem: 32, instances: 2 });
    await waitFor(() => runningTask(e!, 'web', 0) && runningTask(e!, 'web', 1), 20000);
    const before = [runningTask(e, 'web', 0)!, runningTask(e, 'web', 1)!];
    await api.restartApp('web');
    const after = await waitFor(() => {
      const now = [runningTask(e!, 'web', 0), runningTask(e!, 'web', 1)];
      return now.every((t) => t && !before.some((b) => b.id === t.id)) && aliveOnAgents(e!, 'web').length === 2 ? now : undefined;
    }, 30000);
    // maximumOverCapacity 1: each new task was running before the old task of its instance ended.
    for (const old of before) {
      const ended = await waitFor(() => (e!.polly.tracker.task(old.id)?.terminal ? e!.polly.tracker.task(old.id) : undefined), 10000);
      expect(ended).toMatchObject({ terminal: true, state: 'TASK_KILLED' });
      const successor = after.find((t) => t!.instance === old.instance)!;
      expect(Date.parse(successor.startedAt!)).toBeLessThanOrEqual(Date.parse(ended.updatedAt));
    }
  });

  it('scales down by killSelection: OLDEST_FIRST keeps the youngest instance, YOUNGEST_FIRST the oldest', async () => {
    e = await startE2E();
    const api = e.polly.api;
    for (const [id, selection] of [
      ['old-first', 'OLDEST_FIRST'],
      ['young-first', 'YOUNGEST_FIRST'],
    ] as const) {
      await api.createApp({ id, cmd: 'sleep 1000', cpus: 0.1, mem: 32, instances: 1, killSelection: selection });
      await waitFor(() => runningTask(e!, id, 0), 20000);
      await sleep(50);
      await api.scaleApp(id, 3);
      await waitFor(() => [0, 1, 2].every((i) => runningTask(e!, id, i)), 20000);
      await api.scaleApp(id, 1);
      await waitFor(() => e!.polly.tracker.allLiveTasksOf(id).length === 1, 20000);
      const left = e.polly.tracker.allLiveTasksOf(id)[0];
      if (selection === 'OLDEST_FIRST') expect(left.instance).not.toBe(0);
      else expect(left.instance).toBe(0);
      expect(api.app(id).instances).toBe(1);
      expect(api.app(id).waiting).toEqual([]);
    }
  });

  it('unreachableStrategy: an unreachable instance without volumes gets a new task; the old one is killed when it comes back', async () => {
    e = await startE2E({ unreachableTimeoutSeconds: 0.2 });
    const api = e.polly.api;
    await api.createApp({ id: 'stateless', cmd: 'sleep 1000', cpus: 0.1, mem: 32, unreachableStrategy: { inactiveAfterSeconds: 0, expungeAfterSeconds: 0 } });
    const first = await waitFor(() => runningTask(e!, 'stateless'), 20000);
    e.cluster.partitionAgent(first.agentId);
    const replacement = await waitFor(() => {
      const t = runningTask(e!, 'stateless');
      return t && t.id !== first.id ? t : undefined;
    }, 20000);
    expect(replacement.agentId).not.toBe(first.agentId);
    await waitFor(() => e!.polly.tracker.task(first.id)?.state === 'EXPUNGED', 10000);
    expect(e.polly.tracker.task(first.id)?.terminal).toBe(true);
    await e.cluster.healAgent(first.agentId);
    await waitFor(() => aliveOnAgents(e!, 'stateless').length === 1, 20000);
    expect(aliveOnAgents(e, 'stateless')[0].task_id.value).toBe(replacement.id);
  });
});
