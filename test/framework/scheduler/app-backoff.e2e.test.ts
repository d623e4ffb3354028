/**
 * Relaunch backoff on the local cluster (issue 15, point 2): a crash-looping command is relaunched
 * after backoffSeconds, then backoffSeconds × backoffFactor, ... up to maxLaunchDelaySeconds — never
 * at once — and the app says why it waits. Killing tasks on purpose (a restart) does not back off.
 */
import { waitFor } from '../../support/mesos-http';
import { E2E, runningTask, startE2E } from './scheduler-fixture';

jest.setTimeout(90000);

describe('relaunch backoff', () => {
  let e: E2E | undefined;

  afterEach(async () => {
    await e?.stop();
    e = undefined;
  });

  it('backs a crash-looping command off per backoffSeconds, backoffFactor and maxLaunchDelaySeconds', async () => {
    e = await startE2E();
    const api = e.polly.api;
    await api.createApp({ id: 'crasher', cmd: 'exit 3', cpus: 0.1, mem: 32, backoffSeconds: 1, backoffFactor: 2, maxLaunchDelaySeconds: 3 });
    const ended = () => e!.polly.tracker.tasksOf('crasher').filter((t) => t.terminal);
    // While it waits, it says so.
    const waiting = await waitFor(() => api.app('crasher').waiting.find((w) => /backing off/.test(w.reason)), 20000);
    expect(waiting.reason).toMatch(/^waiting: backing off after 1 failed task \(last: TASK_FAILED: .*3.*\); next launch in \d+\.\d s$/);
    await waitFor(() => ended().length >= 5, 60000);
    const tasks = e.polly.tracker
      .tasksOf('crasher')
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt))
      .slice(0, 5);
    expect(tasks.every((t) => t.state === 'TASK_FAILED' || !t.terminal)).toBe(true);
    // The gap between a task's end and the next launch: at least 1 s, 2 s, 3 s (capped), 3 s.
    const gaps = tasks.slice(1).map((t, i) => Date.parse(t.createdAt) - Date.parse(tasks[i].updatedAt));
    const wanted = [1000, 2000, 3000, 3000];
    gaps.forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual(wanted[i] - 50));
  });

  it('does not back off a restart', async () => {
    e = await startE2E();
    const api = e.polly.api;
    await api.createApp({ id: 'steady', cmd: 'sleep 1000', cpus: 0.1, mem: 32, backoffSeconds: 30, maxLaunchDelaySeconds: 60 });
    const first = await waitFor(() => runningTask(e!, 'steady'), 20000);
    await api.restartApp('steady');
    const second = await waitFor(() => {
      const t = runningTask(e!, 'steady');
      return t && t.id !== first.id ? t : undefined;
    }, 20000);
    expect(api.app('steady').waiting).toEqual([]);
    expect(second.id).not.toBe(first.id);
  });
});
