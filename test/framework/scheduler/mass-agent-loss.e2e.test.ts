/**
 * An agent holding many volume-bound instances dies, on the local cluster with the real storage
 * core: every claim on it is fenced (force-released once, audited, by Polly), every instance gets
 * one new task on the other agent of its zone, with no relaunch backoff, a handful of REVIVEs and
 * SUPPRESS once all run again.
 */
import { mesos } from '../../../framework/mesos/generated/mesos';
import type { MesosDriver } from '../../../framework/scheduler/app-launcher';
import type { ClaimAuditEvent } from '../../../framework/storage/storage-events';
import { waitFor } from '../../support/mesos-http';
import { E2E, startE2E } from './scheduler-fixture';

jest.setTimeout(120_000);

const INSTANCES = 60;
const AGENT = 'cpus:4;mem:4096;disk:10000;ports:[31000-31099]';

/** `instances` of `exec sleep`, each with its own RW volume, kept in zone-a. */
function fleet(id: string, instances: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    cmd: 'exec sleep 1000',
    cpus: 0.01,
    mem: 1,
    instances,
    portDefinitions: [],
    constraints: [['@zone', 'CLUSTER', 'zone-a']],
    container: { type: 'MESOS', volumes: [{ containerPath: 'data', mode: 'RW', external: { name: `${id}-{{instance}}`, provider: 'polly', size: 1 } }] },
    ...extra,
  };
}

/** Instances of the app with a running task on the agent. */
function runningOn(e: E2E, appId: string, agentId: string): number {
  return e.polly.tracker.liveTasksOf(appId).filter((t) => t.agentId === agentId && t.state === 'TASK_RUNNING').length;
}

describe('mass agent loss', () => {
  let e: E2E | undefined;
  const calls: string[] = [];

  const counting = (d: MesosDriver): MesosDriver => ({
    get frameworkId() {
      return d.frameworkId;
    },
    accept: (...args) => d.accept(...args),
    decline: (...args) => d.decline(...args),
    revive: (...args) => (calls.push('revive'), d.revive(...args)),
    suppress: (...args) => (calls.push('suppress'), d.suppress(...args)),
    kill: (...args) => d.kill(...args),
    reconcile: (...args) => (calls.push(`reconcile ${args[0].length}`), d.reconcile(...args)),
  });

  afterEach(async () => {
    await e?.stop();
    e = undefined;
    calls.length = 0;
  });

  async function fleetOnNode0(extra: Record<string, unknown> = {}): Promise<{ e: E2E; node0: string; node1: string }> {
    const started = await startE2E({
      wrapDriver: counting,
      agents: [
        { hostname: 'node0', zone: 'zone-a', region: 'region-1', resources: AGENT },
        { hostname: 'node2', zone: 'zone-b', region: 'region-1', resources: AGENT },
      ],
    });
    e = started;
    const node0 = started.agentIds.node0;
    await started.polly.api.createApp(fleet('fleet', INSTANCES, extra));
    await waitFor(() => runningOn(started, 'fleet', node0) === INSTANCES, 60_000);
    const node1 = await started.cluster.addAgent({ hostname: 'node1', zone: 'zone-a', region: 'region-1', resources: AGENT });
    return { e: started, node0, node1 };
  }

  it('fences every claim of a gone agent once and relaunches every instance in its zone', async () => {
    const { e, node0, node1 } = await fleetOnNode0();
    const { ledger } = e.storage.storage;
    const held = ledger.list({ agentId: node0, live: true });
    expect(held).toHaveLength(INSTANCES);
    const audits: ClaimAuditEvent[] = [];
    e.storage.storage.events.on('claim.audit', (a) => audits.push(a));
    calls.length = 0;

    e.cluster.removeAgent(node0);
    await waitFor(() => runningOn(e, 'fleet', node1) === INSTANCES, 60_000);

    expect(ledger.list({ agentId: node0, live: true })).toEqual([]);
    for (const c of ledger.list({ agentId: node0 })) {
      expect(c).toMatchObject({ state: 'released', forced: true });
      expect(c.reason).toMatch(/^fenced: agent node0 \(.*\) is gone/);
      expect(c.history.filter((h) => h.state === 'released')).toHaveLength(1);
    }
    expect(audits.map((a) => a.claim.id).sort()).toEqual(held.map((c) => c.id).sort());
    for (const a of audits) expect(a.by).toBe('polly');
    // One new task per instance, on node1, each holding its instance's volume.
    const live = e.polly.tracker.liveTasksOf('fleet');
    expect(live).toHaveLength(INSTANCES);
    expect(new Set(live.map((t) => t.instance)).size).toBe(INSTANCES);
    for (const t of live) {
      expect(t).toMatchObject({ agentId: node1, zone: 'zone-a' });
      expect(ledger.list({ taskId: t.id, live: true }).map((c) => e.storage.storage.catalog.get(c.volumeId).name)).toEqual([`fleet-${t.instance}`]);
    }
    // Mesos said the agent is gone: nothing to reconcile; a few REVIVEs, not one per instance; quiet again.
    expect(calls.filter((c) => c.startsWith('reconcile'))).toEqual([]);
    expect(calls.filter((c) => c === 'revive').length).toBeLessThanOrEqual(10);
    await waitFor(() => calls.at(-1) === 'suppress', 10_000);
    expect(e.polly.api.app('fleet').waiting).toEqual([]);
  });

  it('relaunches the instances of an agent Mesos removed (TASK_GONE) without a relaunch backoff', async () => {
    // A failure would hold each instance back for 5 minutes.
    const { e, node0, node1 } = await fleetOnNode0({ backoffSeconds: 300 });
    const gone: string[] = [];
    e.polly.scheduler.mesos!.on('update', (s) => {
      if (s.state === mesos.v1.TaskState.TASK_GONE && s.reason === mesos.v1.TaskStatus.Reason.REASON_AGENT_REMOVED) gone.push(s.task_id.value);
    });
    e.cluster.localMaster.agentUnregistered(node0);
    await waitFor(() => runningOn(e, 'fleet', node1) === INSTANCES, 60_000);
    expect(gone).toHaveLength(INSTANCES);
    expect(e.storage.storage.ledger.list({ agentId: node0, live: true })).toEqual([]);
    expect(e.polly.api.app('fleet').waiting).toEqual([]);
  });
});
