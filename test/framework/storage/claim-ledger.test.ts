import { DriverConflictError, DriverTransientError } from '../../../drivers/errors';
import { ConflictError, ForbiddenError, NotFoundError, UnavailableError, ValidationError } from '../../../framework/errors';
import { ClaimLedger } from '../../../framework/storage/claim-ledger';
import type { ClaimRecord } from '../../../framework/storage/claim-record';
import type { ClaimAuditEvent } from '../../../framework/storage/storage-events';
import type { VolumeRecord } from '../../../framework/storage/volume-record';
import { FaultInjector } from './faulty-driver';
import { Fixture, makeFixture, storeKeys } from './storage-fixture';

describe('ClaimLedger', () => {
  let fx: Fixture;
  let ledger: ClaimLedger;
  let faults: FaultInjector;
  let volume: VolumeRecord;
  const transitions: string[] = [];
  const audits: ClaimAuditEvent[] = [];

  const driverVolume = () => fx.drivers.get('local')!.volumeInspect(volume.driverVolumeId);
  const claimRW = (scheduler: string, agent: string, extra: Partial<Parameters<ClaimLedger['claim']>[0]> = {}) =>
    ledger.claim({ volumeId: volume.id, scheduler, agentId: agent, instanceId: `host-${agent}`, taskId: `task-${agent}`, ...extra });

  beforeEach(async () => {
    faults = new FaultInjector();
    fx = await makeFixture({ wrap: (d) => faults.wrap(d) });
    ledger = fx.storage.ledger;
    volume = await fx.storage.catalog.create({ service: 'local', name: 'vol', size: 1, schedulers: ['marathon', 'spark'] });
    transitions.length = 0;
    audits.length = 0;
    for (const s of ['pending', 'attaching', 'attached', 'releasing', 'released', 'failed'] as const) {
      fx.storage.events.on(`claim.${s}`, ({ claim }) => transitions.push(`${claim.id.slice(0, 8)}:${s}`));
    }
    fx.storage.events.on('claim.audit', (e) => audits.push(e));
  });

  afterEach(async () => {
    await fx.dispose();
  });

  test('claim → attached, release → released: every transition persisted and emitted', async () => {
    const claim = await claimRW('marathon', 'a1', { frameworkId: 'fw-1' });
    expect(claim).toMatchObject({
      state: 'attached',
      mode: 'RW',
      scheduler: 'marathon',
      frameworkId: 'fw-1',
      taskId: 'task-a1',
      agentId: 'a1',
      instanceId: 'host-a1',
    });
    expect(claim.history.map((h) => h.state)).toEqual(['pending', 'attaching', 'attached']);
    expect(await fx.store.get(`claims/${claim.id}`)).toEqual(claim);
    expect(await fx.store.get(`claims-by-volume/${volume.id}/${claim.id}`)).toBe(claim.id);
    expect((await driverVolume()).attachments.map((a) => [a.instanceId.id, a.readOnly])).toEqual([['host-a1', false]]);
    expect(fx.storage.catalog.get(volume.id)).toMatchObject({
      status: 'attached',
      attachments: [{ claimId: claim.id, instanceId: 'host-a1', agentId: 'a1', mode: 'RW' }],
    });

    const released = await ledger.release(claim.id, { reason: 'task finished' });
    expect(released).toMatchObject({ state: 'released', reason: 'task finished' });
    expect(released.forced).toBeUndefined();
    expect(released.history.map((h) => h.state)).toEqual(['pending', 'attaching', 'attached', 'releasing', 'released']);
    expect((await driverVolume()).attachments).toEqual([]);
    expect(fx.storage.catalog.get(volume.id)).toMatchObject({ status: 'available', attachments: [] });
    const id = claim.id.slice(0, 8);
    expect(transitions).toEqual([`${id}:pending`, `${id}:attaching`, `${id}:attached`, `${id}:releasing`, `${id}:released`]);
    expect(await fx.storage.intents.pending()).toEqual([]);
    // Idempotent.
    expect(await ledger.release(claim.id)).toEqual(released);
    expect(audits).toEqual([]);
  });

  test('a second RW claim is a conflict naming the holder; nothing is written', async () => {
    const first = await claimRW('marathon', 'a1');
    const keys = await storeKeys(fx.store);
    const err = (await claimRW('spark', 'a2').catch((e: unknown) => e)) as ConflictError;
    expect(err).toBeInstanceOf(ConflictError);
    expect(err.message).toContain(first.id);
    expect(err.message).toContain('task-a1');
    expect(err.message).toContain('a1');
    expect(err.details).toMatchObject({ claimId: first.id, taskId: 'task-a1', agentId: 'a1' });
    expect(await storeKeys(fx.store)).toEqual(keys);
    // The same scheduler cannot take a second writer either.
    await expect(claimRW('marathon', 'a3')).rejects.toThrow(ConflictError);
    // After release the volume can be claimed again.
    await ledger.release(first.id);
    await expect(claimRW('spark', 'a2')).resolves.toMatchObject({ state: 'attached' });
  });

  test('RO beside RO is fine; RW beside RO and RO beside RW are conflicts', async () => {
    const ro1 = await claimRW('marathon', 'a1', { mode: 'RO' });
    const ro2 = await claimRW('spark', 'a2', { mode: 'RO' });
    expect([ro1.state, ro2.state]).toEqual(['attached', 'attached']);
    expect((await driverVolume()).attachments.map((a) => a.readOnly)).toEqual([true, true]);
    await expect(claimRW('marathon', 'a3', { mode: 'RW' })).rejects.toThrow(ConflictError);
    await ledger.release(ro1.id);
    await ledger.release(ro2.id);
    await claimRW('marathon', 'a4', { mode: 'RW' });
    await expect(claimRW('spark', 'a5', { mode: 'RO' })).rejects.toThrow(ConflictError);
  });

  test('two RO claims on one instance: releasing one keeps the other attached', async () => {
    const c1 = await ledger.claim({
      volumeId: volume.id,
      scheduler: 'marathon',
      agentId: 'a1',
      instanceId: 'host-1',
      taskId: 't1',
      mode: 'RO',
    });
    const c2 = await ledger.claim({
      volumeId: volume.id,
      scheduler: 'marathon',
      agentId: 'a1',
      instanceId: 'HOST-1',
      taskId: 't2',
      mode: 'RO',
    });
    await ledger.release(c1.id);
    expect((await driverVolume()).attachments.map((a) => a.instanceId.id)).toEqual(['host-1']);
    expect(fx.storage.catalog.get(volume.id).attachments.map((a) => a.claimId)).toEqual([c2.id]);
    await ledger.release(c2.id);
    expect((await driverVolume()).attachments).toEqual([]);
  });

  test('a claim on a volume not offered to the scheduler is forbidden; admin claims bypass the ACL', async () => {
    const keys = await storeKeys(fx.store);
    await expect(claimRW('chronos', 'a1')).rejects.toThrow(ForbiddenError);
    await fx.storage.catalog.revoke(volume.id, ['spark']);
    const keys2 = await storeKeys(fx.store);
    expect(keys2).toEqual(keys);
    await expect(claimRW('spark', 'a1')).rejects.toThrow(ForbiddenError);
    expect(await storeKeys(fx.store)).toEqual(keys2);
    const admin = await ledger.claim({ volumeId: volume.id, agentId: 'a1', instanceId: 'h1' });
    expect(admin.state).toBe('attached');
    expect(admin.scheduler).toBeUndefined();
  });

  test('bad requests are refused before anything is written', async () => {
    const keys = await storeKeys(fx.store);
    await expect(ledger.claim({ volumeId: 'local.vfs-999999', scheduler: 'marathon', agentId: 'a', instanceId: 'h' })).rejects.toThrow(
      NotFoundError,
    );
    await expect(ledger.claim({ volumeId: volume.id, scheduler: 'marathon', agentId: '', instanceId: 'h' })).rejects.toThrow(
      ValidationError,
    );
    await expect(ledger.claim({ volumeId: volume.id, scheduler: 'marathon', agentId: 'a', instanceId: 'h\u0000' })).rejects.toThrow(
      ValidationError,
    );
    await expect(
      ledger.claim({ volumeId: volume.id, scheduler: 'marathon', agentId: 'a', instanceId: 'h', mode: 'XX' as 'RW' }),
    ).rejects.toThrow(ValidationError);
    await expect(ledger.claim({ volumeId: volume.id, scheduler: 'no spaces', agentId: 'a', instanceId: 'h' })).rejects.toThrow(
      ValidationError,
    );
    await expect(ledger.release('nope')).rejects.toThrow(NotFoundError);
    expect(await storeKeys(fx.store)).toEqual(keys);
  });

  test('force-release needs a reason; with one it force-detaches, marks forced and audits', async () => {
    const claim = await claimRW('marathon', 'a1');
    for (const reason of ['', '   ', undefined as unknown as string]) {
      await expect(ledger.forceRelease(claim.id, reason)).rejects.toThrow(ValidationError);
    }
    expect(ledger.get(claim.id).state).toBe('attached');
    const released = await ledger.forceRelease(claim.id, 'agent host-a1 is dead (operator ticket 42)');
    expect(released).toMatchObject({ state: 'released', forced: true, reason: 'agent host-a1 is dead (operator ticket 42)' });
    expect(await fx.store.get(`claims/${claim.id}`)).toEqual(released);
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({
      action: 'force-release',
      reason: 'agent host-a1 is dead (operator ticket 42)',
      claim: { id: claim.id },
    });
    const detach = faults.calls.filter((c) => c.op === 'volumeDetach');
    expect(detach.at(-1)!.args[2]).toEqual({ force: true });
    expect((await driverVolume()).attachments).toEqual([]);
  });

  test('releaseForTask releases the task claims; releaseForAgent fences every claim of the agent', async () => {
    const v2 = await fx.storage.catalog.create({ service: 'local', name: 'vol2', size: 1, scheduler: 'marathon' });
    const v3 = await fx.storage.catalog.create({ service: 'local', name: 'vol3', size: 1, scheduler: 'marathon' });
    const c1 = await claimRW('marathon', 'a1', { taskId: 'task-x' });
    const c2 = await ledger.claim({ volumeId: v2.id, scheduler: 'marathon', agentId: 'a1', instanceId: 'host-a1', taskId: 'task-y' });
    const c3 = await ledger.claim({ volumeId: v3.id, scheduler: 'marathon', agentId: 'a2', instanceId: 'host-a2', taskId: 'task-x2' });

    const byTask = await ledger.releaseForTask('task-x');
    expect(byTask.map((c) => [c.id, c.state])).toEqual([[c1.id, 'released']]);
    expect(await ledger.releaseForTask('task-x')).toEqual([]);

    await expect(ledger.releaseForAgent('a1', '')).rejects.toThrow(ValidationError);
    const fenced = await ledger.releaseForAgent('a1', 'Mesos removed agent a1');
    expect(fenced.map((c) => [c.id, c.state, c.forced])).toEqual([[c2.id, 'released', true]]);
    expect(audits.map((a) => a.claim.id)).toEqual([c2.id]);
    expect(ledger.get(c3.id).state).toBe('attached');
    expect(ledger.list({ live: true }).map((c) => c.id)).toEqual([c3.id]);
    expect(
      ledger
        .list({ agentId: 'a1' })
        .map((c) => c.state)
        .sort(),
    ).toEqual(['released', 'released']);
  });

  test('an attach the backend refuses leaves the claim failed and the volume consistent', async () => {
    // Attached outside Polly: the driver refuses a second writer.
    await fx.drivers.get('local')!.volumeAttach(volume.driverVolumeId, { id: 'intruder' });
    const err = await claimRW('marathon', 'a1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    const [failed] = ledger.list({ volumeId: volume.id });
    expect(failed).toMatchObject({ state: 'failed' });
    expect(failed.reason).toMatch(/attach failed/);
    expect(failed.history.map((h) => h.state)).toEqual(['pending', 'attaching', 'failed']);
    expect((await driverVolume()).attachments.map((a) => a.instanceId.id)).toEqual(['intruder']);
    expect(fx.storage.catalog.get(volume.id)).toMatchObject({ status: 'available', attachments: [] });
    expect(await fx.storage.intents.pending()).toEqual([]);
    expect(transitions.map((t) => t.split(':')[1])).toEqual(['pending', 'attaching', 'failed']);
    // A failed claim is not live: the volume can be claimed once the intruder is gone.
    await fx.drivers.get('local')!.volumeDetach(volume.driverVolumeId, { id: 'intruder' });
    await expect(claimRW('marathon', 'a1')).resolves.toMatchObject({ state: 'attached' });
  });

  test('a timed-out attach is retried under the same intent and succeeds', async () => {
    faults.add({ op: 'volumeAttach', error: new DriverTransientError('timed out'), when: 'after', times: 2 });
    const claim = await claimRW('marathon', 'a1');
    expect(claim.state).toBe('attached');
    expect(faults.calls.filter((c) => c.op === 'volumeAttach')).toHaveLength(3);
    expect((await driverVolume()).attachments).toHaveLength(1);
    expect(await fx.storage.intents.pending()).toEqual([]);
  });

  test('an attach that keeps timing out (but happened) fails the claim and is undone on the backend', async () => {
    faults.add({ op: 'volumeAttach', error: new DriverTransientError('timed out'), when: 'after', times: 3 });
    await expect(claimRW('marathon', 'a1')).rejects.toThrow(UnavailableError);
    expect(ledger.list({ volumeId: volume.id })[0].state).toBe('failed');
    expect((await driverVolume()).attachments).toEqual([]);
    expect(await fx.storage.intents.pending()).toEqual([]);
  });

  test('a detach that fails definitively leaves the claim releasing (live) until retried', async () => {
    const claim = await claimRW('marathon', 'a1');
    faults.add({ op: 'volumeDetach', error: new DriverConflictError('busy') });
    await expect(ledger.release(claim.id)).rejects.toThrow(ConflictError);
    expect(ledger.get(claim.id).state).toBe('releasing');
    await expect(claimRW('spark', 'a2')).rejects.toThrow(ConflictError);
    await expect(ledger.release(claim.id)).resolves.toMatchObject({ state: 'released' });
    expect(await fx.storage.intents.pending()).toEqual([]);
  });

  test('race: 100 concurrent RW claims from 100 schedulers → exactly one attached, 99 conflicts', async () => {
    const schedulers = Array.from({ length: 100 }, (_, i) => `sched-${i}`);
    await fx.storage.catalog.offer(volume.id, schedulers);
    const results = await Promise.allSettled(schedulers.map((s, i) => claimRW(s, `agent-${i}`)));
    const won = results.filter((r): r is PromiseFulfilledResult<ClaimRecord> => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(won[0].value.state).toBe('attached');
    expect(lost).toHaveLength(99);
    for (const r of lost) expect(r.reason).toBeInstanceOf(ConflictError);
    const attachments = (await driverVolume()).attachments;
    expect(attachments).toHaveLength(1);
    expect(attachments[0].instanceId.id).toBe(won[0].value.instanceId);
    expect(ledger.list({ volumeId: volume.id })).toHaveLength(1);
    let stored = 0;
    for await (const _ of fx.store.scan('claims/')) stored++;
    expect(stored).toBe(1);
  });

  test('live counts per agent and service, and claims per state, follow every change, a prune and a reload', async () => {
    // What the counts must equal: the same figures read from list().
    const expectCounts = (l: ClaimLedger): void => {
      const byState: Record<string, number> = {};
      for (const c of l.list()) byState[c.state] = (byState[c.state] ?? 0) + 1;
      expect(l.countByState()).toEqual(byState);
      for (const agent of ['a1', 'a2', 'a3']) {
        expect(l.liveCountOnAgent(agent, 'local')).toBe(l.list({ agentId: agent, live: true }).length);
        expect(l.liveCountOnAgent(agent, 'other')).toBe(0);
      }
    };
    const { catalog } = fx.storage;
    const more = await Promise.all(
      ['v2', 'v3', 'v4'].map((name) => catalog.create({ service: 'local', name, size: 1, schedulers: ['marathon'] })),
    );
    const on = (v: VolumeRecord, agent: string) =>
      ledger.claim({ volumeId: v.id, scheduler: 'marathon', agentId: agent, instanceId: `host-${agent}`, taskId: `t-${v.name}` });
    const first = await claimRW('marathon', 'a1');
    const second = await on(more[0], 'a1');
    await on(more[1], 'a2');
    expect(ledger.liveCountOnAgent('a1', 'local')).toBe(2);
    expectCounts(ledger);
    faults.add({ op: 'volumeAttach', error: new DriverConflictError('refused') });
    await expect(on(more[2], 'a3')).rejects.toThrow(ConflictError);
    expectCounts(ledger);
    await ledger.release(first.id);
    await ledger.forceRelease(second.id, 'agent gone');
    expect(ledger.liveCountOnAgent('a1', 'local')).toBe(0);
    expect(ledger.countByState()).toEqual({ attached: 1, released: 2, failed: 1 });
    expectCounts(ledger);
    await ledger.pruneFinished([first.id]);
    expect(ledger.countByState()).toEqual({ attached: 1, released: 1, failed: 1 });
    expectCounts(ledger);
    const again = new ClaimLedger({
      store: fx.store,
      registry: fx.registry,
      catalog,
      queue: fx.storage.queue,
      intents: fx.storage.intents,
      events: fx.storage.events,
    });
    await again.load();
    expect(again.countByState()).toEqual({ attached: 1, released: 1, failed: 1 });
    expect(again.liveCountOnAgent('a2', 'local')).toBe(1);
    expectCounts(again);
  });
});
