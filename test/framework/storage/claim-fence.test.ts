/**
 * Fencing an agent's claims all at once (claim-fence.ts, through ClaimLedger.releaseForAgent), on a
 * real LevelDB store and a real vfs root: a thousand claims end released exactly once, in a few
 * store batches, with one detach per volume and one audit event per claim — whatever else releases
 * them meanwhile.
 */
import { DriverConflictError } from '../../../drivers/errors';
import { FENCE_CHUNK } from '../../../framework/storage/claim-fence';
import type { ClaimRecord } from '../../../framework/storage/claim-record';
import type { BatchOperation } from '../../../framework/state/store';
import type { ClaimAuditEvent } from '../../../framework/storage/storage-events';
import type { VolumeRecord } from '../../../framework/storage/volume-record';
import { FaultInjector } from './faulty-driver';
import { Fixture, makeFixture } from './storage-fixture';

const MANY = 1000;

describe('fencing an agent', () => {
  let fx: Fixture;
  let faults: FaultInjector;
  const audits: ClaimAuditEvent[] = [];

  beforeEach(async () => {
    faults = new FaultInjector();
    fx = await makeFixture({ wrap: (d) => faults.wrap(d) });
    audits.length = 0;
    fx.storage.events.on('claim.audit', (e) => audits.push(e));
  });

  afterEach(async () => {
    await fx.dispose();
  });

  async function volumes(prefix: string, count: number): Promise<VolumeRecord[]> {
    const out: VolumeRecord[] = [];
    for (let i = 0; i < count; i += 100) {
      const batch = Array.from({ length: Math.min(100, count - i) }, (_, j) =>
        fx.storage.catalog.create({ service: 'local', name: `${prefix}-${i + j}`, size: 1, schedulers: ['polly'] }),
      );
      out.push(...(await Promise.all(batch)));
    }
    return out;
  }

  const claimOn = (volume: VolumeRecord, agent: string, extra: { mode?: 'RW' | 'RO'; taskId?: string } = {}) =>
    fx.storage.ledger.claim({ volumeId: volume.id, scheduler: 'polly', agentId: agent, instanceId: `host-${agent}`, taskId: extra.taskId ?? `${agent}-${volume.name}`, mode: extra.mode });

  async function attachedInstances(volume: VolumeRecord): Promise<string[]> {
    return (await fx.drivers.get('local')!.volumeInspect(volume.driverVolumeId)).attachments.map((a) => a.instanceId.id).sort();
  }

  /** Counts the store batches that write claims. */
  function countClaimBatches(): { count: number } {
    const counter = { count: 0 };
    const batch = fx.store.batch.bind(fx.store);
    fx.store.batch = (ops: readonly BatchOperation[]) => {
      if (ops.some((op) => op.key.startsWith('claims/'))) counter.count++;
      return batch(ops);
    };
    return counter;
  }

  test('a thousand claims: none left live on the dead agent, each released once, in a few store batches', async () => {
    const { ledger } = fx.storage;
    const doomed = await volumes('doomed', MANY);
    const kept = await volumes('kept', 10);
    const claims: ClaimRecord[] = [];
    for (let i = 0; i < doomed.length; i += 100) claims.push(...(await Promise.all(doomed.slice(i, i + 100).map((v) => claimOn(v, 'dead')))));
    const alive = await Promise.all(kept.map((v) => claimOn(v, 'alive')));
    faults.calls.length = 0;
    const batches = countClaimBatches();

    const fence = ledger.releaseForAgent('dead', 'fenced: agent dead is gone', 'polly');
    // Everything else that may release these claims while the fence runs joins it.
    const again = ledger.releaseForAgent('dead', 'fenced again', 'polly');
    const operator = Promise.all(claims.slice(0, 50).map((c) => ledger.forceRelease(c.id, 'operator: host retired', 'ops')));
    const taskEnds = Promise.all(claims.slice(50, 100).map((c) => ledger.release(c.id, { reason: 'task gone' })));
    const byTask = Promise.all(claims.slice(100, 150).map((c) => ledger.releaseForTask(c.taskId!)));
    const [fenced, fencedAgain, byOperator, ended, forTasks] = await Promise.all([fence, again, operator, taskEnds, byTask]);

    expect(fenced).toHaveLength(MANY);
    expect(fencedAgain.map((c) => c.id)).toEqual(fenced.map((c) => c.id));
    // The joiners got the fence's records.
    const byId = new Map(fenced.map((c) => [c.id, c]));
    for (const c of [...byOperator, ...ended, ...forTasks.flat()]) expect(c).toBe(byId.get(c.id));

    expect(ledger.list({ agentId: 'dead', live: true })).toEqual([]);
    for (const c of ledger.list({ agentId: 'dead' })) {
      expect(c).toMatchObject({ state: 'released', forced: true, reason: 'fenced: agent dead is gone' });
      expect(c.history.map((h) => h.state)).toEqual(['pending', 'attaching', 'attached', 'releasing', 'released']);
    }
    // One audit event per claim, from the fence, naming who.
    expect(audits).toHaveLength(MANY);
    expect(new Set(audits.map((a) => a.claim.id)).size).toBe(MANY);
    for (const a of audits) expect(a).toMatchObject({ action: 'force-release', reason: 'fenced: agent dead is gone', by: 'polly' });
    // One detach per volume, forced; nothing else touched the backend.
    const detaches = faults.calls.filter((c) => c.op === 'volumeDetach');
    expect(detaches).toHaveLength(MANY);
    expect(new Set(detaches.map((c) => c.args[0])).size).toBe(MANY);
    for (const d of detaches) expect(d.args[2]).toEqual({ force: true });
    expect(faults.calls.filter((c) => c.op !== 'volumeDetach')).toEqual([]);
    // Two batches a chunk: the releasing records with their intents, then the outcomes.
    expect(batches.count).toBe(2 * Math.ceil(MANY / FENCE_CHUNK));
    expect(await fx.storage.intents.pending()).toEqual([]);

    for (const v of doomed.slice(0, 20)) {
      expect(await attachedInstances(v)).toEqual([]);
      expect(fx.storage.catalog.get(v.id)).toMatchObject({ status: 'available', attachments: [] });
    }
    for (const [i, v] of kept.entries()) {
      expect(await attachedInstances(v)).toEqual(['host-alive']);
      expect(ledger.get(alive[i].id).state).toBe('attached');
    }
    // The records on disk say the same after a reload.
    await ledger.load();
    expect(ledger.list({ agentId: 'dead', live: true })).toEqual([]);
    expect(ledger.list({ agentId: 'alive', live: true })).toHaveLength(kept.length);
  });

  test('claims sharing an instance are detached once; what another agent holds stays attached', async () => {
    const { ledger } = fx.storage;
    const [shared] = await volumes('shared', 1);
    const first = await claimOn(shared, 'dead', { mode: 'RO', taskId: 'reader-1' });
    const second = await claimOn(shared, 'dead', { mode: 'RO', taskId: 'reader-2' });
    const other = await claimOn(shared, 'alive', { mode: 'RO', taskId: 'reader-3' });
    faults.calls.length = 0;
    const fenced = await ledger.releaseForAgent('dead', 'fenced: agent dead is gone', 'polly');
    expect(fenced.map((c) => [c.id, c.state])).toEqual([
      [first.id, 'released'],
      [second.id, 'released'],
    ]);
    expect(faults.calls.filter((c) => c.op === 'volumeDetach').map((c) => c.args[1])).toEqual([{ id: 'host-dead' }]);
    expect(await attachedInstances(shared)).toEqual(['host-alive']);
    expect(fx.storage.catalog.get(shared.id).attachments.map((a) => a.claimId)).toEqual([other.id]);
    expect(ledger.get(other.id).state).toBe('attached');
  });

  test('a detach the backend refuses leaves that claim releasing; fencing again releases it, once', async () => {
    const { ledger } = fx.storage;
    const vs = await volumes('v', 3);
    const claims = await Promise.all(vs.map((v) => claimOn(v, 'dead')));
    faults.add({ op: 'volumeDetach', error: new DriverConflictError('backend busy') });
    await expect(ledger.releaseForAgent('dead', 'fenced: agent dead is gone', 'polly')).rejects.toThrow(/backend busy/);
    const states = claims.map((c) => ledger.get(c.id).state).sort();
    expect(states).toEqual(['released', 'released', 'releasing']);
    expect(await fx.storage.intents.pending()).toEqual([]);
    expect(audits).toHaveLength(2);
    const stuck = claims.find((c) => ledger.get(c.id).state === 'releasing')!;

    const retried = await ledger.releaseForAgent('dead', 'fenced: agent dead is gone', 'polly');
    expect(retried.map((c) => [c.id, c.state])).toEqual([[stuck.id, 'released']]);
    expect(audits.map((a) => a.claim.id).sort()).toEqual(claims.map((c) => c.id).sort());
    for (const c of claims) expect(ledger.get(c.id).history.filter((h) => h.state === 'released')).toHaveLength(1);
  });

  test('a release queued before the fence goes first; the fence leaves that claim as it is', async () => {
    const { ledger } = fx.storage;
    const vs = await volumes('v', 2);
    const [early, late] = await Promise.all(vs.map((v) => claimOn(v, 'dead')));
    const released = ledger.release(early.id, { reason: 'task finished' });
    const fenced = await ledger.releaseForAgent('dead', 'fenced: agent dead is gone', 'polly');
    expect(await released).toMatchObject({ state: 'released', reason: 'task finished' });
    expect((await released).forced).toBeUndefined();
    expect(fenced.map((c) => [c.id, c.state, c.forced])).toEqual([
      [early.id, 'released', undefined],
      [late.id, 'released', true],
    ]);
    expect(audits.map((a) => a.claim.id)).toEqual([late.id]);
    expect(faults.calls.filter((c) => c.op === 'volumeDetach')).toHaveLength(2);
  });
});
