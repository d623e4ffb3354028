/**
 * Tasks Mesos cannot account for, end to end on the local cluster: the cluster is replaced by one
 * that knows nothing of Polly's tasks (TASK_UNKNOWN), or its agent never comes back to a restarted
 * master (no answer). Polly holds the volumes, reports the task stranded, and the operator's
 * resolve, force-release or forced delete unblocks the app — audited with who and why.
 */
import { ConflictError } from '../../../framework/errors/conflict-error';
import { ValidationError } from '../../../framework/errors/validation-error';
import type { ClaimAuditEvent } from '../../../framework/storage/storage-events';
import type { AppAuditEvent, TaskAuditEvent, TaskStrandedEvent } from '../../../framework/scheduler/scheduler-events';
import { waitFor } from '../../support/mesos-http';
import { E2E, runningTask, startE2E, volumeApp } from './scheduler-fixture';

jest.setTimeout(60000);

interface Recorded {
  stranded: TaskStrandedEvent[];
  taskAudits: TaskAuditEvent[];
  appAudits: AppAuditEvent[];
  claimAudits: ClaimAuditEvent[];
}

describe('tasks Mesos cannot account for', () => {
  let e: E2E | undefined;
  let seen: Recorded;

  afterEach(async () => {
    await e?.stop();
    e = undefined;
  });

  /** An app on a fresh RW volume, running; then a cluster that knows nothing of its task. */
  async function unknownTask(appId: string): Promise<{ taskId: string; claimId: string; volumeId: string }> {
    e = await startE2E({ unknownTaskTimeoutSeconds: 1 });
    seen = { stranded: [], taskAudits: [], appAudits: [], claimAudits: [] };
    e.polly.launcher.events.on('task.stranded', (x) => seen.stranded.push(x));
    e.polly.launcher.events.on('task.audit', (x) => seen.taskAudits.push(x));
    e.polly.launcher.events.on('app.audit', (x) => seen.appAudits.push(x));
    e.storage.storage.events.on('claim.audit', (x) => seen.claimAudits.push(x));
    const volume = await e.storage.storage.catalog.create({ service: 'local', name: `${appId}-data`, size: 1, schedulers: ['polly'], availabilityZone: 'zone-a' });
    await e.polly.api.createApp(volumeApp(appId, 'sleep 1000', volume.name));
    const task = await waitFor(() => runningTask(e!, appId), 20000);
    const [claim] = e.storage.storage.ledger.list({ taskId: task.id, live: true });
    await e.replaceCluster();
    await waitFor(() => e!.polly.tracker.task(task.id)?.state === 'TASK_UNKNOWN', 20000);
    return { taskId: task.id, claimId: claim.id, volumeId: volume.id };
  }

  const liveClaims = (volumeId: string) => e!.storage.storage.ledger.liveClaims(volumeId);

  it('holds the volume of an unknown task, reports it stranded, and the operator resolves it (audited); the app runs again', async () => {
    const { taskId, claimId, volumeId } = await unknownTask('lost');
    const api = e!.polly.api;
    expect(api.app('lost').waiting[0].reason).toMatch(/is unknown to Mesos; its volumes stay held/);
    expect(liveClaims(volumeId).map((c) => c.id)).toEqual([claimId]);

    const stranded = await waitFor(() => seen.stranded.find((s) => s.task.id === taskId), 10000);
    expect(stranded.resolveWith).toBe(`polly task resolve ${taskId} --reason "<why you know it is not running>"`);
    const view = api.app('lost');
    expect(view.waiting[0].reason).toMatch(new RegExp(`task ${taskId} on node\\d is stranded since .*polly task resolve ${taskId}`));
    expect(view.tasks.find((t) => t.id === taskId)?.stranded?.since).toBe(stranded.since);
    expect(liveClaims(volumeId).map((c) => c.id)).toEqual([claimId]);

    // Bad requests change nothing.
    await expect(api.resolveTask(taskId, { by: 'ops' })).rejects.toThrow(ValidationError);
    await expect(api.resolveTask('no-such-task', { reason: 'x', by: 'ops' })).rejects.toThrow(/not found/);

    const resolved = await api.resolveTask(taskId, { reason: 'the node was wiped', by: 'ops' });
    expect(resolved.state).toBe('RESOLVED');
    expect(seen.taskAudits).toEqual([
      expect.objectContaining({ action: 'resolve', by: 'ops', reason: 'the node was wiped', claims: [claimId], task: expect.objectContaining({ id: taskId, state: 'RESOLVED' }) }),
    ]);
    expect(seen.claimAudits.find((a) => a.claim.id === claimId)).toMatchObject({ by: 'ops', reason: expect.stringContaining('resolved by ops: the node was wiped') });

    const next = await waitFor(() => runningTask(e!, 'lost'), 20000);
    expect(next.id).not.toBe(taskId);
    expect(liveClaims(volumeId).map((c) => c.taskId)).toEqual([next.id]);
    // A task Mesos accounts for is not resolved: kill it instead.
    await expect(api.resolveTask(next.id, { reason: 'x', by: 'ops' })).rejects.toThrow(ConflictError);
    await expect(api.resolveTask(taskId, { reason: 'again', by: 'ops' })).rejects.toThrow(/has ended already/);
  });

  it('a forced release of an unknown task claim unblocks its app', async () => {
    const { taskId, claimId, volumeId } = await unknownTask('released');
    await e!.storage.storage.ledger.forceRelease(claimId, 'host decommissioned', 'ops');
    const next = await waitFor(() => runningTask(e!, 'released'), 20000);
    expect(e!.polly.tracker.task(taskId)).toMatchObject({ state: 'RESOLVED', terminal: true });
    expect(seen.taskAudits).toEqual([expect.objectContaining({ by: 'ops', reason: expect.stringContaining(`claim ${claimId}`) })]);
    expect(seen.taskAudits[0].reason).toContain('host decommissioned');
    expect(liveClaims(volumeId).map((c) => c.taskId)).toEqual([next.id]);
  });

  it('app rm refuses while a task is unaccounted for and changes nothing; --force resolves it and the app is gone; it can be created again', async () => {
    const { taskId, claimId, volumeId } = await unknownTask('doomed');
    const api = e!.polly.api;
    await expect(api.deleteApp('doomed')).rejects.toThrow(ConflictError);
    await expect(api.deleteApp('doomed')).rejects.toThrow(new RegExp(`${taskId} \\(TASK_UNKNOWN on node\\d\\).*--force --reason`));
    expect(api.app('doomed').state).toBe('active');
    await expect(api.deleteApp('doomed', { force: true, by: 'ops' })).rejects.toThrow(ValidationError);
    await expect(api.deleteApp('doomed', { reason: 'no force', by: 'ops' })).rejects.toThrow(ValidationError);
    expect(api.app('doomed').state).toBe('active');
    expect(liveClaims(volumeId).map((c) => c.id)).toEqual([claimId]);

    await api.deleteApp('doomed', { force: true, reason: 'cluster rebuilt', by: 'ops' });
    await waitFor(() => e!.polly.tracker.app('doomed') === undefined, 20000);
    expect(liveClaims(volumeId)).toEqual([]);
    expect(seen.appAudits).toEqual([expect.objectContaining({ appId: 'doomed', action: 'force-delete', by: 'ops', reason: 'cluster rebuilt', resolvedTasks: [taskId] })]);
    expect(seen.taskAudits.map((a) => a.task.id)).toEqual([taskId]);

    await e!.polly.api.createApp(volumeApp('doomed', 'sleep 1000', 'doomed-data'));
    const again = await waitFor(() => runningTask(e!, 'doomed'), 20000);
    expect(liveClaims(volumeId).map((c) => c.taskId)).toEqual([again.id]);
  });

  it('a running task whose claim is force-released is killed and its instance relaunched', async () => {
    e = await startE2E({ unknownTaskTimeoutSeconds: 1 });
    const volume = await e.storage.storage.catalog.create({ service: 'local', name: 'taken', size: 1, schedulers: ['polly'], availabilityZone: 'zone-a' });
    await e.polly.api.createApp(volumeApp('victim', 'sleep 1000', 'taken'));
    const first = await waitFor(() => runningTask(e!, 'victim'), 20000);
    const [claim] = e.storage.storage.ledger.list({ taskId: first.id, live: true });
    await e.storage.storage.ledger.forceRelease(claim.id, 'operator test', 'ops');
    const next = await waitFor(() => {
      const t = runningTask(e!, 'victim');
      return t && t.id !== first.id ? t : undefined;
    }, 20000);
    expect(e.polly.tracker.task(first.id)).toMatchObject({ terminal: true, state: 'TASK_KILLED' });
    expect(e.storage.storage.ledger.liveClaims(volume.id).map((c) => c.taskId)).toEqual([next.id]);
  });

  it('a task whose agent never re-registers with a restarted master gets no answer and is reported stranded', async () => {
    e = await startE2E({ unknownTaskTimeoutSeconds: 1 });
    const stranded: TaskStrandedEvent[] = [];
    e.polly.launcher.events.on('task.stranded', (x) => stranded.push(x));
    await e.polly.api.createApp({ id: 'quiet', cmd: 'sleep 1000', cpus: 0.1, mem: 32, instances: 1 });
    const task = await waitFor(() => runningTask(e!, 'quiet'), 20000);
    e.cluster.crashAgent(task.agentId);
    await e.cluster.restartMaster();
    const report = await waitFor(() => stranded.find((s) => s.task.id === task.id), 20000);
    expect(report.reason).toMatch(/has not answered reconciliation/);
    expect(e.polly.tracker.task(task.id)?.terminal).toBe(false);
  });
});
