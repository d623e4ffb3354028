/**
 * Backend attachments no claim accounts for: recovery reports them and leaves them attached (a task
 * may write through one); the drivers' own refusal of a conflicting read-write attach keeps the
 * single-writer rule (vfs directly, and libstorage against a real Polly libStorage server); an
 * operator detaches one explicitly, audited.
 */
import { DriverConflictError } from '../../../drivers/errors';
import { VfsDriver } from '../../../drivers/vfs/vfs-driver';
import { AgentRegistry } from '../../../framework/scheduler/agent-registry';
import { StorageOfferBook } from '../../../framework/scheduler/storage-offers';
import type { StorageEventMap } from '../../../framework/storage/storage-events';
import { offer } from '../scheduler/offer-fixtures';
import { iid, LsFixture, makeLsFixture, makeRemoteFixture } from '../api/libstorage/libstorage-fixture';
import { Fixture, makeFixture } from './storage-fixture';

describe('foreign attachments', () => {
  let fx: Fixture | undefined;
  afterEach(async () => {
    await fx?.dispose();
    fx = undefined;
  });

  /** A started fixture with volume `shared` attached RW to `rogue` behind Polly's back, then restarted (recovery ran). */
  async function withRogueAttachment(): Promise<{
    fx: Fixture;
    volumeId: string;
    events: Array<StorageEventMap['volume.unexplained-attachment']>;
  }> {
    const first = await makeFixture();
    const v = await first.storage.catalog.create({ service: 'local', name: 'shared', size: 1, scheduler: 'm' });
    await first.drivers.get('local')!.volumeAttach(v.driverVolumeId, { id: 'rogue' });
    await first.close();
    const restarted = await makeFixture({ dir: first.dir, start: false });
    const events: Array<StorageEventMap['volume.unexplained-attachment']> = [];
    restarted.storage.events.on('volume.unexplained-attachment', (e) => events.push(e));
    const report = await restarted.storage.start();
    expect(report.unexplainedAttachments).toBe(1);
    return { fx: restarted, volumeId: v.id, events };
  }

  test('the vfs driver refuses a read-write attach (and a read-only one) while a writer is attached elsewhere', async () => {
    fx = await makeFixture();
    const driver = fx.drivers.get('local')!;
    const v = await fx.storage.catalog.create({ service: 'local', name: 'one', size: 1 });
    await driver.volumeAttach(v.driverVolumeId, { id: 'rogue' });
    await expect(driver.volumeAttach(v.driverVolumeId, { id: 'h1' })).rejects.toBeInstanceOf(DriverConflictError);
    await expect(driver.volumeAttach(v.driverVolumeId, { id: 'h1' }, { readOnly: true })).rejects.toBeInstanceOf(DriverConflictError);
    // Another process on the same root sees the same.
    const other = new VfsDriver({ root: fx.vfsRoot(), durable: false });
    await expect(other.volumeAttach(v.driverVolumeId, { id: 'h2' })).rejects.toBeInstanceOf(DriverConflictError);
    await other.close();
    expect((await driver.volumeInspect(v.driverVolumeId)).attachments.map((a) => a.instanceId.id)).toEqual(['rogue']);
  });

  test('recovery records the attachment on the volume, publishes it once, and never detaches it; a claim elsewhere is refused', async () => {
    const r = await withRogueAttachment();
    fx = r.fx;
    const { catalog, ledger, recovery } = fx.storage;
    const driver = fx.drivers.get('local')!;
    const volume = catalog.get(r.volumeId);
    expect(volume.foreignAttachments).toEqual([expect.objectContaining({ instanceId: 'rogue', readOnly: false })]);
    expect(r.events).toEqual([
      { volume: expect.objectContaining({ id: r.volumeId }), attachment: expect.objectContaining({ instanceId: 'rogue' }) },
    ]);
    // A second pass re-reports it, publishes nothing new, writes nothing.
    const again = await recovery.recover();
    expect(again.unexplainedAttachments).toBe(1);
    expect(r.events).toHaveLength(1);
    expect(catalog.get(r.volumeId)).toBe(volume);

    // The single-writer rule holds through the driver: a claim on another agent fails, the attachment stays.
    await expect(ledger.claim({ volumeId: r.volumeId, scheduler: 'm', agentId: 'a1', instanceId: 'h1' })).rejects.toMatchObject({
      status: 409,
    });
    expect(ledger.list({ volumeId: r.volumeId, live: true })).toEqual([]);
    expect((await driver.volumeInspect(volume.driverVolumeId)).attachments.map((a) => a.instanceId.id)).toEqual(['rogue']);
    expect((await recovery.recover()).unexplainedAttachments).toBe(1);
  });

  test('a volume attached outside any claim is not offered until an operator detaches it', async () => {
    const r = await withRogueAttachment();
    fx = r.fx;
    const agents = new AgentRegistry();
    agents.observeOffer(offer('A0', 'node0', 'zone-a'));
    const book = new StorageOfferBook({ storage: fx.storage, agents });
    book.start();
    try {
      expect(book.isAttachable(r.volumeId, 'm', { zone: 'zone-a' })).toBe(false);
      await fx.storage.foreignAttachments.detach(r.volumeId, { instanceId: 'rogue', reason: 'gone' });
      expect(book.isAttachable(r.volumeId, 'm', { zone: 'zone-a' })).toBe(true);
    } finally {
      book.stop();
    }
  });

  test('a claim on the same instance takes the attachment over: no longer foreign', async () => {
    const r = await withRogueAttachment();
    fx = r.fx;
    const claim = await fx.storage.ledger.claim({ volumeId: r.volumeId, scheduler: 'm', agentId: 'a-rogue', instanceId: 'ROGUE' });
    expect(claim.state).toBe('attached');
    expect(fx.storage.catalog.get(r.volumeId).foreignAttachments).toBeUndefined();
    expect((await fx.storage.recovery.recover()).unexplainedAttachments).toBe(0);
  });

  test('an operator detaches it explicitly: bad input names every problem, a claimed instance is refused, the detach is audited', async () => {
    const r = await withRogueAttachment();
    fx = r.fx;
    const { catalog, ledger, foreignAttachments } = fx.storage;
    const driver = fx.drivers.get('local')!;
    const before = catalog.get(r.volumeId);
    const audits: Array<StorageEventMap['volume.audit']> = [];
    fx.storage.events.on('volume.audit', (e) => audits.push(e));

    const bad = await foreignAttachments.detach(r.volumeId, { instanceId: '', reason: ' ' }).catch((e: unknown) => e);
    expect(bad).toMatchObject({ status: 400, details: { problems: [{ field: 'instanceId' }, { field: 'reason' }] } });
    await expect(foreignAttachments.detach('local.vfs-000099', { instanceId: 'rogue', reason: 'r' })).rejects.toMatchObject({
      status: 404,
    });
    await expect(foreignAttachments.detach(r.volumeId, { instanceId: 'nobody', reason: 'r' })).rejects.toMatchObject({ status: 404 });
    expect(catalog.get(r.volumeId)).toBe(before);
    expect(audits).toEqual([]);

    // An instance a live claim holds is that claim's to release, not an operator detach.
    const other = await catalog.create({ service: 'local', name: 'claimed', size: 1, scheduler: 'm' });
    const claim = await ledger.claim({ volumeId: other.id, scheduler: 'm', agentId: 'a1', instanceId: 'h1' });
    await expect(foreignAttachments.detach(other.id, { instanceId: 'h1', reason: 'r' })).rejects.toMatchObject({
      status: 409,
      details: { claimId: claim.id },
    });
    expect(ledger.get(claim.id).state).toBe('attached');

    const done = await foreignAttachments.detach(r.volumeId, { instanceId: 'rogue', reason: 'host decommissioned', by: 'ops' });
    expect(done.detached).toEqual({ instanceId: 'rogue', readOnly: false });
    expect(done.volume.foreignAttachments).toBeUndefined();
    expect((await driver.volumeInspect(before.driverVolumeId)).attachments).toEqual([]);
    expect(audits).toEqual([
      expect.objectContaining({ action: 'detach', instanceId: 'rogue', reason: 'host decommissioned', by: 'ops', at: expect.any(String) }),
    ]);
    // Now it can be claimed.
    expect((await ledger.claim({ volumeId: r.volumeId, scheduler: 'm', agentId: 'a1', instanceId: 'h1' })).state).toBe('attached');
  });
});

describe('the libstorage driver keeps the single-writer rule too', () => {
  let a: LsFixture;
  let b: Fixture;
  beforeEach(async () => {
    a = await makeLsFixture();
    b = await makeRemoteFixture(a.address.url);
  });
  afterEach(async () => {
    await b.dispose();
    await a.dispose();
  });

  test('a volume attached on the remote backend outside any claim: attach refused through the driver, the ledger and a forced libStorage call', async () => {
    const vol = await b.storage.catalog.create({ service: 'remote', name: 'taken', size: 1, scheduler: 'marathon' });
    // Attached on A's vfs root behind both Pollys' backs.
    await a.storage.drivers.get('local')!.volumeAttach(vol.driverVolumeId, { id: 'rogue' });
    const remote = b.storage.registry.get('remote').driver;
    await expect(remote.volumeAttach(vol.driverVolumeId, { id: 'node1' })).rejects.toBeInstanceOf(DriverConflictError);
    await expect(
      b.storage.ledger.claim({ volumeId: vol.id, scheduler: 'marathon', agentId: 'agent-1', instanceId: 'node1' }),
    ).rejects.toMatchObject({
      status: 409,
    });
    // Even `force` through A's libStorage API (an admin caller) preempts claims only, never an attachment no claim explains.
    const forced = await a.call('POST', `/volumes/local/${vol.driverVolumeId}?attach`, { headers: iid('node2'), body: { force: true } });
    expect(forced.status).toBe(409);
    const onA = await a.storage.drivers.get('local')!.volumeInspect(vol.driverVolumeId);
    expect(onA.attachments.map((x) => x.instanceId.id)).toEqual(['rogue']);
  });
});
