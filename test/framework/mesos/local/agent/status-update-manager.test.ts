import { mesos } from '../../../../../framework/mesos/generated/mesos';
import { StatusUpdateManager } from '../../../../../framework/mesos/local/agent/status-update-manager';
import { buildTaskStatus } from '../../../../../framework/mesos/local/agent/task-status';
import { waitFor } from './agent-test-kit';

const TaskState = mesos.v1.TaskState;

function status(taskId: string, state: mesos.v1.TaskState): mesos.v1.ITaskStatus {
  return buildTaskStatus({ taskId, agentId: 'a1', executorId: taskId }, { state, source: mesos.v1.TaskStatus.Source.SOURCE_EXECUTOR });
}

describe('StatusUpdateManager', () => {
  let manager: StatusUpdateManager | undefined;
  afterEach(() => manager?.clear());

  function make(sent: { fw: string; status: mesos.v1.ITaskStatus }[], forgotten: string[] = []): StatusUpdateManager {
    manager = new StatusUpdateManager({
      retry: { minMs: 30, maxMs: 120 },
      send: (fw, s) => sent.push({ fw, status: s }),
      onTerminalAcknowledged: (_fw, taskId) => forgotten.push(taskId),
    });
    return manager;
  }

  it('sends only the head of a task stream and resends it (same uuid) until acknowledged', async () => {
    const sent: { fw: string; status: mesos.v1.ITaskStatus }[] = [];
    const m = make(sent);
    m.resume();
    const starting = status('t1', TaskState.TASK_STARTING);
    const running = status('t1', TaskState.TASK_RUNNING);
    m.update('fw', starting);
    m.update('fw', running);
    expect(sent).toHaveLength(1);
    await waitFor('three sends of the head', () => sent.length >= 3);
    expect(sent.every((s) => s.status === starting)).toBe(true);
    expect(m.pendingCount).toBe(2);

    expect(m.acknowledge('fw', 't1', starting.uuid!)).toBe(true);
    expect(sent[sent.length - 1].status).toBe(running);
    expect(m.pending('fw', 't1')).toEqual([running]);
  });

  it('ignores an acknowledgement whose uuid does not match the update in flight', () => {
    const sent: { fw: string; status: mesos.v1.ITaskStatus }[] = [];
    const m = make(sent);
    m.resume();
    const starting = status('t1', TaskState.TASK_STARTING);
    const running = status('t1', TaskState.TASK_RUNNING);
    m.update('fw', starting);
    m.update('fw', running);
    expect(m.acknowledge('fw', 't1', running.uuid!)).toBe(false);
    expect(m.acknowledge('fw', 't1', new Uint8Array(16))).toBe(false);
    expect(m.acknowledge('other', 't1', starting.uuid!)).toBe(false);
    expect(m.pending('fw', 't1')).toEqual([starting, running]);
  });

  it('backs off exponentially up to the maximum interval', async () => {
    const times: number[] = [];
    manager = new StatusUpdateManager({
      retry: { minMs: 20, maxMs: 80 },
      send: () => times.push(Date.now()),
      onTerminalAcknowledged: () => undefined,
    });
    manager.resume();
    manager.update('fw', status('t1', TaskState.TASK_RUNNING));
    await waitFor('six sends', () => times.length >= 6);
    const gaps = times.slice(1).map((t, i) => t - times[i]);
    // 20, 40, 80, 80, 80 ms: the later gaps are never shorter than the cap (timers only run late).
    expect(gaps[2]).toBeGreaterThanOrEqual(75);
    expect(gaps[4]).toBeGreaterThanOrEqual(75);
  });

  it('keeps streams of different tasks independent and reports acknowledged terminal updates', () => {
    const sent: { fw: string; status: mesos.v1.ITaskStatus }[] = [];
    const forgotten: string[] = [];
    const m = make(sent, forgotten);
    m.resume();
    const a = status('a', TaskState.TASK_FINISHED);
    const b = status('b', TaskState.TASK_RUNNING);
    m.update('fw', a);
    m.update('fw', b);
    expect(sent.map((s) => s.status)).toEqual([a, b]);
    m.acknowledge('fw', 'b', b.uuid!);
    expect(forgotten).toEqual([]);
    m.acknowledge('fw', 'a', a.uuid!);
    expect(forgotten).toEqual(['a']);
    expect(m.pendingCount).toBe(0);
  });

  it('holds updates while paused and resends them on resume', () => {
    const sent: { fw: string; status: mesos.v1.ITaskStatus }[] = [];
    const m = make(sent);
    const running = status('t1', TaskState.TASK_RUNNING);
    m.update('fw', running); // starts paused
    expect(sent).toHaveLength(0);
    m.resume();
    expect(sent).toHaveLength(1);
    m.pause();
    m.resume();
    expect(sent.map((s) => s.status)).toEqual([running, running]);
  });

  it('sends updates of a removed framework once and keeps nothing', () => {
    const sent: { fw: string; status: mesos.v1.ITaskStatus }[] = [];
    const m = make(sent);
    m.resume();
    m.update('fw', status('t1', TaskState.TASK_RUNNING));
    m.removeFramework('fw');
    expect(m.pendingCount).toBe(0);
    m.update('fw', status('t1', TaskState.TASK_KILLED));
    expect(sent).toHaveLength(2);
    expect(m.pendingCount).toBe(0);
  });

  it('copes with a master that acknowledges synchronously inside send', () => {
    const sent: mesos.v1.ITaskStatus[] = [];
    manager = new StatusUpdateManager({
      retry: { minMs: 30, maxMs: 120 },
      send: (fw, s) => {
        sent.push(s);
        manager!.acknowledge(fw, s.task_id.value, s.uuid!);
      },
      onTerminalAcknowledged: () => undefined,
    });
    manager.resume();
    manager.update('fw', status('t1', TaskState.TASK_STARTING));
    manager.update('fw', status('t1', TaskState.TASK_RUNNING));
    manager.update('fw', status('t1', TaskState.TASK_FINISHED));
    expect(sent.map((s) => s.state)).toEqual([TaskState.TASK_STARTING, TaskState.TASK_RUNNING, TaskState.TASK_FINISHED]);
    expect(manager.pendingCount).toBe(0);
  });
});
