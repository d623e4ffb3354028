import { IntentLog } from '../../../framework/storage/intent-log';
import { claimKey, volumeKey } from '../../../framework/state/keys';
import type { ClaimRecord } from '../../../framework/storage/claim-record';
import type { RecoveryReport } from '../../../framework/storage/storage-recovery';
import type { VolumeRecord } from '../../../framework/storage/volume-record';
import { Fixture, makeFixture } from './storage-fixture';

/** Runs `setup` against a started fixture, then restarts on the same dirs and returns the recovery report. */
async function afterRestart(setup: (fx: Fixture) => Promise<void>): Promise<{ fx: Fixture; report: RecoveryReport }> {
  const first = await makeFixture();
  await setup(first);
  await first.close();
  const fx = await makeFixture({ dir: first.dir, start: false });
  const report = await fx.storage.start();
  return { fx, report };
}

describe('StorageRecovery', () => {
  let fx: Fixture | undefined;

  afterEach(async () => {
    await fx?.dispose();
    fx = undefined;
  });

  const vfs = (f: Fixture) => f.drivers.get('local')!;

  test('a clean store recovers with nothing to do', async () => {
    ({ fx } = await afterRestart(async (f) => {
      const v = await f.storage.catalog.create({ service: 'local', name: 'a', size: 1, scheduler: 'm' });
      await f.storage.ledger.claim({ volumeId: v.id, scheduler: 'm', agentId: 'a1', instanceId: 'h1' });
    }));
    const report = await fx.storage.recovery.recover();
    expect(report).toMatchObject({
      intentsFinished: 0,
      intentsRolledBack: 0,
      unexplainedAttachments: 0,
      missingVolumes: 0,
      claimsRepaired: 0,
      volumesChecked: 1,
      claimsChecked: 1,
    });
  });

  test('create intent: backend has the name → registered; backend does not → dropped', async () => {
    let driverId = '';
    const r = await afterRestart(async (f) => {
      const intents = new IntentLog(f.store);
      await intents.begin({
        kind: 'create',
        key: 'made',
        service: 'local',
        payload: { name: 'made', schedulers: ['m'], labels: { a: 'b' }, profile: 'default' },
      });
      driverId = (await vfs(f).volumeCreate('made', { size: 2 })).id;
      await intents.begin({ kind: 'create', key: 'never', service: 'local', payload: { name: 'never' } });
    });
    fx = r.fx;
    expect(r.report).toMatchObject({ intentsFinished: 1, intentsRolledBack: 1 });
    const v = fx.storage.catalog.findByName('local', 'made')!;
    expect(v).toMatchObject({ managed: true, driverVolumeId: driverId, schedulers: ['m'], labels: { a: 'b' }, size: 2 });
    expect(fx.storage.catalog.findByName('local', 'never')).toBeUndefined();
    expect(await fx.storage.intents.pending()).toEqual([]);
  });

  test('remove intent: the backend volume is removed again and the record deleted', async () => {
    let id = '';
    const r = await afterRestart(async (f) => {
      const v = await f.storage.catalog.create({ service: 'local', name: 'doomed', size: 1 });
      id = v.id;
      await new IntentLog(f.store).begin({
        kind: 'remove',
        key: v.id,
        service: 'local',
        volumeId: v.id,
        payload: { driverVolumeId: v.driverVolumeId },
      });
    });
    fx = r.fx;
    expect(r.report.intentsFinished).toBe(1);
    expect(fx.storage.catalog.find(id)).toBeUndefined();
    expect(await vfs(fx).volumes()).toEqual([]);
  });

  test('attach intent: a live claim is attached; a claim that is gone is detached', async () => {
    let live: ClaimRecord | undefined;
    let volume: VolumeRecord | undefined;
    const r = await afterRestart(async (f) => {
      volume = await f.storage.catalog.create({ service: 'local', name: 'att', size: 1, scheduler: 'm' });
      const other = await f.storage.catalog.create({ service: 'local', name: 'att2', size: 1, scheduler: 'm' });
      const now = new Date().toISOString();
      live = {
        id: 'c-live',
        volumeId: volume.id,
        scheduler: 'm',
        agentId: 'a1',
        instanceId: 'h1',
        mode: 'RW',
        state: 'attaching',
        createdAt: now,
        updatedAt: now,
        history: [],
      };
      await f.store.put(claimKey(live.id), live);
      const intents = new IntentLog(f.store);
      await intents.begin({
        kind: 'attach',
        key: live.id,
        service: 'local',
        volumeId: volume.id,
        claimId: live.id,
        payload: { instanceId: 'h1', mode: 'RW' },
      });
      // The driver attached for a claim whose record never got written.
      await vfs(f).volumeAttach(other.driverVolumeId, { id: 'h9' });
      await intents.begin({
        kind: 'attach',
        key: 'c-ghost',
        service: 'local',
        volumeId: other.id,
        claimId: 'c-ghost',
        payload: { instanceId: 'h9', mode: 'RW' },
      });
    });
    fx = r.fx;
    expect(r.report).toMatchObject({ intentsFinished: 1, intentsRolledBack: 1, unexplainedAttachments: 0 });
    expect(fx.storage.ledger.get('c-live').state).toBe('attached');
    expect(fx.storage.catalog.get(volume!.id).attachments.map((a) => a.claimId)).toEqual(['c-live']);
    const backend = await vfs(fx).volumes();
    expect(backend.map((dv) => dv.attachments.map((a) => a.instanceId.id))).toEqual([['h1'], []]);
  });

  test('detach intent: detached and released', async () => {
    let claimId = '';
    const r = await afterRestart(async (f) => {
      const v = await f.storage.catalog.create({ service: 'local', name: 'det', size: 1, scheduler: 'm' });
      const c = await f.storage.ledger.claim({ volumeId: v.id, scheduler: 'm', agentId: 'a1', instanceId: 'h1' });
      claimId = c.id;
      await f.store.put(claimKey(c.id), { ...c, state: 'releasing' });
      await new IntentLog(f.store).begin({
        kind: 'detach',
        key: c.id,
        service: 'local',
        volumeId: v.id,
        claimId: c.id,
        payload: { instanceId: 'h1' },
      });
    });
    fx = r.fx;
    expect(r.report.intentsFinished).toBe(1);
    expect(fx.storage.ledger.get(claimId).state).toBe('released');
    expect((await vfs(fx).volumes())[0].attachments).toEqual([]);
  });

  test('reconcile: missing volumes, unexplained attachments (reported, never detached), vanished attachments, stuck claims', async () => {
    const ids: Record<string, string> = {};
    const r = await afterRestart(async (f) => {
      const { catalog, ledger } = f.storage;
      const gone = await catalog.create({ service: 'local', name: 'gone', size: 1 });
      const orphan = await catalog.create({ service: 'local', name: 'orphan', size: 1 });
      const vanished = await catalog.create({ service: 'local', name: 'vanished', size: 1, scheduler: 'm' });
      const stuck = await catalog.create({ service: 'local', name: 'stuck', size: 1, scheduler: 'm' });
      ids.gone = gone.id;
      ids.orphan = orphan.id;
      ids.vanished = vanished.id;
      ids.stuck = stuck.id;
      await vfs(f).volumeRemove(gone.driverVolumeId); // removed behind Polly's back
      await vfs(f).volumeAttach(orphan.driverVolumeId, { id: 'rogue' }); // attached behind Polly's back
      const c = await ledger.claim({ volumeId: vanished.id, scheduler: 'm', agentId: 'a1', instanceId: 'h1' });
      ids.claim = c.id;
      await vfs(f).volumeDetach(vanished.driverVolumeId, { id: 'h1' }); // detached behind Polly's back
      const now = new Date().toISOString();
      const pending: ClaimRecord = {
        id: 'c-pending',
        volumeId: stuck.id,
        scheduler: 'm',
        agentId: 'a2',
        instanceId: 'h2',
        mode: 'RW',
        state: 'pending',
        createdAt: now,
        updatedAt: now,
        history: [],
      };
      await f.store.put(claimKey(pending.id), pending);
    });
    fx = r.fx;
    expect(r.report).toMatchObject({ missingVolumes: 1, unexplainedAttachments: 1, claimsRepaired: 2 });
    expect(r.report.actions).toContain(`volume ${ids.orphan}: attached to rogue, which no claim accounts for; left attached`);
    const { catalog, ledger } = fx.storage;
    expect(catalog.get(ids.gone).status).toBe('missing');
    expect(await fx.store.get<VolumeRecord>(volumeKey(ids.gone))).toMatchObject({ status: 'missing' });
    const backend = new Map((await vfs(fx).volumes()).map((dv) => [dv.name, dv]));
    // Attached behind Polly's back: left attached (a task may write through it), recorded on the volume.
    expect(backend.get('orphan')!.attachments.map((a) => a.instanceId.id)).toEqual(['rogue']);
    expect(catalog.get(ids.orphan).foreignAttachments).toEqual([
      { instanceId: 'rogue', readOnly: false, attachedAt: expect.any(String), foundAt: expect.any(String) },
    ]);
    expect((await fx.store.get<VolumeRecord>(volumeKey(ids.orphan)))!.foreignAttachments).toHaveLength(1);
    expect(catalog.get(ids.orphan).status).toBe('available');
    expect(ledger.get(ids.claim).state).toBe('attached');
    expect(backend.get('vanished')!.attachments.map((a) => a.instanceId.id)).toEqual(['h1']);
    expect(ledger.get('c-pending').state).toBe('failed');
    expect(r.report.actions.length).toBeGreaterThanOrEqual(4);
    // Level-triggered: a second pass only re-reports the missing volume.
    const foundAt = catalog.get(ids.orphan).foreignAttachments![0].foundAt;
    const again = await fx.storage.recovery.recover();
    expect(again).toMatchObject({ missingVolumes: 1, unexplainedAttachments: 1, claimsRepaired: 0, intentsFinished: 0 });
    expect(catalog.get(ids.orphan).foreignAttachments![0].foundAt).toBe(foundAt);
    // The missing volume cannot be claimed.
    await expect(ledger.claim({ volumeId: ids.gone, agentId: 'a', instanceId: 'h' })).rejects.toThrow(/missing/);
  });

  test('a volume missing on its backend: marked missing, its live claims left live and reported (never failed)', async () => {
    const ids: Record<string, string> = {};
    const r = await afterRestart(async (f) => {
      const { catalog, ledger } = f.storage;
      const v = await catalog.create({ service: 'local', name: 'lost', size: 1, scheduler: 'm' });
      ids.volume = v.id;
      ids.claim = (await ledger.claim({ volumeId: v.id, scheduler: 'm', agentId: 'a1', instanceId: 'h1', taskId: 't1' })).id;
      await vfs(f).volumeRemove(v.driverVolumeId, { force: true }); // gone behind Polly's back
    });
    fx = r.fx;
    const { catalog, ledger } = fx.storage;
    expect(r.report).toMatchObject({ missingVolumes: 1, claimsOnMissingVolumes: 1, claimsRepaired: 0 });
    expect(r.report.actions).toContain(
      `claim ${ids.claim} (volume ${ids.volume}, attached): the volume is missing on its backend; left live`,
    );
    expect(catalog.get(ids.volume).status).toBe('missing');
    expect(ledger.get(ids.claim).state).toBe('attached');
    expect(catalog.get(ids.volume).attachments.map((a) => a.claimId)).toEqual([ids.claim]);
    // Level-triggered: reported again, still live; the operator (or the task's end) releases it.
    const again = await fx.storage.recovery.recover();
    expect(again).toMatchObject({ claimsOnMissingVolumes: 1, claimsRepaired: 0 });
    expect(ledger.get(ids.claim).state).toBe('attached');
    expect((await ledger.forceRelease(ids.claim, 'task gone, volume lost')).state).toBe('released');
  });

  test('an attach intent on a volume missing on its backend keeps its claim live', async () => {
    const ids: Record<string, string> = {};
    const r = await afterRestart(async (f) => {
      const v = await f.storage.catalog.create({ service: 'local', name: 'gone', size: 1, scheduler: 'm' });
      ids.volume = v.id;
      const now = new Date().toISOString();
      const claim: ClaimRecord = {
        id: 'c-att',
        volumeId: v.id,
        scheduler: 'm',
        agentId: 'a1',
        instanceId: 'h1',
        mode: 'RW',
        state: 'attaching',
        createdAt: now,
        updatedAt: now,
        history: [],
      };
      await f.store.put(claimKey(claim.id), claim);
      await new IntentLog(f.store).begin({
        kind: 'attach',
        key: claim.id,
        service: 'local',
        volumeId: v.id,
        claimId: claim.id,
        payload: { driverVolumeId: v.driverVolumeId, instanceId: 'h1', mode: 'RW' },
      });
      await vfs(f).volumeRemove(v.driverVolumeId);
    });
    fx = r.fx;
    expect(fx.storage.ledger.get('c-att').state).toBe('attaching');
    expect(r.report.claimsOnMissingVolumes).toBeGreaterThanOrEqual(1);
    expect(fx.storage.catalog.get(ids.volume).status).toBe('missing');
    expect(await fx.storage.intents.pending()).toEqual([]);
  });

  test('a live claim on a volume the catalog does not have is left live and reported', async () => {
    const r = await afterRestart(async (f) => {
      const now = new Date().toISOString();
      const claim: ClaimRecord = {
        id: 'c-orphan',
        volumeId: 'local.vfs-000042',
        scheduler: 'm',
        agentId: 'a1',
        instanceId: 'h1',
        mode: 'RW',
        state: 'attached',
        createdAt: now,
        updatedAt: now,
        history: [],
      };
      await f.store.put(claimKey(claim.id), claim);
    });
    fx = r.fx;
    expect(r.report).toMatchObject({ claimsOnMissingVolumes: 1, claimsRepaired: 0 });
    expect(r.report.actions).toContain(
      'claim c-orphan (attached): volume local.vfs-000042 is not in the catalog; left live (release it when its task is gone)',
    );
    expect(fx.storage.ledger.get('c-orphan').state).toBe('attached');
    expect((await fx.storage.ledger.release('c-orphan')).state).toBe('released');
  });
});
