/**
 * The launch queue and the task indexes it stands on: one task's end re-examines its instance only,
 * a launch in flight keeps its instance out of the queue, and the tracker answers per instance, per
 * agent and per rollout without a pass over the app.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LevelStore } from '../../../framework/state/level-store';
import { parseAppSpec } from '../../../framework/scheduler/app-spec';
import { AppVolumes } from '../../../framework/scheduler/app-volumes';
import { InstanceTracker, type AppRecord, type TaskRecord } from '../../../framework/scheduler/instance-tracker';
import { LaunchAttempts } from '../../../framework/scheduler/launch-attempts';
import { LaunchQueue } from '../../../framework/scheduler/launch-queue';
import { driverFactory } from '../../../framework/storage/driver-factory';
import { ServiceRegistry } from '../../../framework/storage/service-registry';

const INSTANCES = 1000;

describe('LaunchQueue and InstanceTracker', () => {
  let dir: string;
  let store: LevelStore;
  let tracker: InstanceTracker;
  let attempts: LaunchAttempts;
  let queue: LaunchQueue;
  let seq = 0;

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'polly-launch-queue-'));
    store = new LevelStore(path.join(dir, 'state'), { sync: false });
    await store.open();
    tracker = new InstanceTracker(store);
    await tracker.load();
    attempts = new LaunchAttempts();
    const registry = new ServiceRegistry({ services: [{ name: 'local', driver: 'vfs' }], home: dir, store, createDriver: driverFactory({ durable: false }) });
    queue = new LaunchQueue(tracker, new AppVolumes(registry), (appId, i) => attempts.launching(appId, i));
  });

  afterEach(async () => {
    await store.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  async function app(id: string, instances: number, extra: Partial<AppRecord> = {}): Promise<AppRecord> {
    const now = new Date().toISOString();
    const record: AppRecord = {
      spec: parseAppSpec({
        id,
        cmd: 'sleep 1000',
        cpus: 0.01,
        mem: 1,
        instances,
        container: { volumes: [{ containerPath: 'data', mode: 'RW', external: { name: `${id}-{{instance}}`, provider: 'polly', options: { service: 'local' } } }] },
      }),
      state: 'active',
      reservations: {},
      version: 'v1',
      createdAt: now,
      updatedAt: now,
      ...extra,
    };
    await tracker.saveApp(record);
    return record;
  }

  async function task(appId: string, instance: number, agentId: string, extra: Partial<TaskRecord> = {}): Promise<TaskRecord> {
    const at = new Date(Date.UTC(2030, 0, 1, 0, 0, 0, ++seq)).toISOString();
    const record: TaskRecord = {
      id: `${appId}.${instance}.t${seq}`,
      appId,
      instance,
      state: 'TASK_RUNNING',
      agentId,
      hostname: agentId,
      volumes: [],
      terminal: false,
      version: 'v1',
      createdAt: at,
      updatedAt: at,
      ...extra,
    };
    await tracker.saveTask(record);
    return record;
  }

  const end = (t: TaskRecord, state = 'TASK_GONE_BY_OPERATOR') =>
    tracker.updateTask(t.id, (latest) => ({ ...latest!, state, terminal: true, updatedAt: new Date(Date.UTC(2030, 0, 1, 0, 0, 0, ++seq)).toISOString() }));

  it('a task end re-examines its instance only, with its last task as the previous one', async () => {
    await app('fleet', INSTANCES);
    const tasks = await Promise.all(Array.from({ length: INSTANCES }, (_, i) => task('fleet', i, 'node0')));
    queue.refresh('fleet');
    expect(queue.size).toBe(0);

    const tasksOf = jest.spyOn(tracker, 'tasksOf');
    const allLive = jest.spyOn(tracker, 'allLiveTasksOf');
    for (const t of tasks.slice(0, 500)) {
      await end(t);
      queue.refreshInstance('fleet', t.instance);
    }
    expect(tasksOf).not.toHaveBeenCalled();
    expect(allLive).not.toHaveBeenCalled();
    expect(queue.size).toBe(500);
    const waiting = queue.instances();
    expect(waiting.map((p) => p.instance)).toEqual(tasks.slice(0, 500).map((t) => t.instance));
    for (const p of waiting.slice(0, 20)) {
      expect(p.previousTaskId).toBe(tasks[p.instance].id);
      expect(p.volumes.map((v) => v.name)).toEqual([`fleet-${p.instance}`]);
    }
  });

  it('an instance with a launch in flight is not pending; it is again if the launch ends without a task', async () => {
    await app('web', 3);
    queue.refresh('web');
    expect(queue.instances().map((p) => p.key)).toEqual(['web#0', 'web#1', 'web#2']);
    queue.take('web#1');
    attempts.begin('web.1.x', 'web', 1);
    // Another instance's end refreshes the app while the launch has no task record yet.
    queue.refresh('web');
    queue.refreshInstance('web', 1);
    expect(queue.instances().map((p) => p.key)).toEqual(['web#0', 'web#2']);
    attempts.end('web.1.x');
    queue.refreshInstance('web', 1);
    expect(queue.instances().map((p) => p.key).sort()).toEqual(['web#0', 'web#1', 'web#2']);
  });

  it('a failed instance waits out its backoff, then is pending; a scale-down drops what is no longer wanted', async () => {
    const web = await app('web', 3);
    queue.refresh('web');
    queue.backoff.failed('web#2', web.spec, 'TASK_FAILED', Date.now());
    queue.refreshInstance('web', 2);
    expect(queue.has('web#2')).toBe(true);
    expect(queue.instances().map((p) => p.key)).toEqual(['web#0', 'web#1']);
    expect(queue.reasonFor('web', 2)).toMatch(/backing off after 1 failed task/);
    expect(queue.promoteDue(Date.now() + 60_000)).toEqual(['web']);
    expect(queue.instances().map((p) => p.key).sort()).toEqual(['web#0', 'web#1', 'web#2']);
    await tracker.saveApp({ ...web, spec: { ...web.spec, instances: 1 } });
    queue.refresh('web');
    expect(queue.instances().map((p) => p.key)).toEqual(['web#0']);
    expect(queue.has('web#2')).toBe(false);
  });

  it('the tracker knows the live tasks of each agent and whether a rollout has work, as tasks change', async () => {
    await app('fleet', 4);
    const [a, b, c] = await Promise.all([task('fleet', 0, 'node0'), task('fleet', 1, 'node0'), task('fleet', 2, 'node1')]);
    expect(tracker.liveTasksOn('node0').map((t) => t.id).sort()).toEqual([a.id, b.id].sort());
    expect(tracker.hasRolloutWork('fleet', 'v1')).toBe(false);
    expect(tracker.hasRolloutWork('fleet', 'v2')).toBe(true);
    await end(a);
    expect(tracker.liveTasksOn('node0').map((t) => t.id)).toEqual([b.id]);
    await tracker.updateTask(c.id, (latest) => ({ ...latest!, retiring: true }));
    expect(tracker.hasRolloutWork('fleet', 'v1')).toBe(true);
    const replacement = await task('fleet', 2, 'node1', { version: 'v1' });
    await end(c);
    expect(tracker.hasRolloutWork('fleet', 'v1')).toBe(false);
    expect(tracker.lastTaskOf('fleet', 2)?.id).toBe(c.id);
    expect(tracker.currentTask('fleet', 2)?.id).toBe(replacement.id);
    // A reload builds the same indexes from the store.
    await tracker.load();
    expect(tracker.liveTasksOn('node0').map((t) => t.id)).toEqual([b.id]);
    expect(tracker.liveTasksOn('node1').map((t) => t.id)).toEqual([replacement.id]);
    expect(tracker.hasRolloutWork('fleet', 'v1')).toBe(false);
    expect(tracker.lastTaskOf('fleet', 0)?.id).toBe(a.id);
  });

  it('keeps the ten most recent ended tasks of an app', async () => {
    await app('fleet', 30);
    const tasks = await Promise.all(Array.from({ length: 30 }, (_, i) => task('fleet', i, 'node0')));
    for (const t of tasks) await end(t);
    const kept = tracker.tasksOf('fleet').map((t) => t.id);
    expect(kept.sort()).toEqual(tasks.slice(20).map((t) => t.id).sort());
    expect(tracker.lastTaskOf('fleet', 0)).toBeUndefined();
    expect(tracker.lastTaskOf('fleet', 29)?.id).toBe(tasks[29].id);
    await tracker.removeApp('fleet');
    expect(tracker.liveTasksOn('node0')).toEqual([]);
    expect(tracker.hasRolloutWork('fleet', 'v2')).toBe(false);
  });
});
