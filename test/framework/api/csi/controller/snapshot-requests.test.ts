/**
 * CSI conformance, snapshots: CreateSnapshot (idempotent by name), DeleteSnapshot (idempotent),
 * ListSnapshots (filters, pagination) and GetSnapshot over the controller's unix socket.
 */
import { GIB, MOUNT_SNW } from '../../../../support/csi-client';
import { CsiFixture, expectRefused, makeCsiFixture } from '../../../../support/csi-fixture';

describe('CSI controller: snapshots', () => {
  let f: CsiFixture;

  beforeEach(async () => {
    f = await makeCsiFixture();
  });

  afterEach(async () => {
    await f.dispose();
  });

  const refused = (call: Promise<unknown>, code: string, message?: RegExp) => expectRefused(f, call, code, message);
  const volume = async (name: string) =>
    (
      await f.client.controller.CreateVolume({
        name,
        volume_capabilities: [MOUNT_SNW],
        capacity_range: { required_bytes: String(3 * GIB) },
      })
    ).volume.volume_id as string;
  const snapshot = (source_volume_id: string, name: string) => f.client.controller.CreateSnapshot({ source_volume_id, name });

  it('cuts a ready snapshot of the volume, and the same name of the same volume is the same snapshot', async () => {
    const id = await volume('src');
    const { snapshot: s } = await snapshot(id, 'snap-1');
    expect(s).toMatchObject({
      snapshot_id: 'local.vfs-snap-000001',
      source_volume_id: id,
      size_bytes: String(3 * GIB),
      ready_to_use: true,
    });
    expect(Number(s.creation_time.seconds)).toBeGreaterThan(1_600_000_000);
    for (let i = 0; i < 3; i++) expect((await snapshot(id, 'snap-1')).snapshot).toEqual(s);
    expect(await f.storage.registry.get('local').driver.snapshots()).toHaveLength(1);
    expect(await f.storage.intents.pending()).toEqual([]);
  });

  it('is ALREADY_EXISTS for a name taken by a snapshot of another volume', async () => {
    const a = await volume('a');
    const b = await volume('b');
    await snapshot(a, 'taken');
    await refused(snapshot(b, 'taken'), 'ALREADY_EXISTS', /of volume local.vfs-000001, not of local.vfs-000002/);
  });

  it('refuses what it cannot snapshot: missing fields, unknown source, unknown parameters, a volume not offered', async () => {
    await refused(f.client.controller.CreateSnapshot({}), 'INVALID_ARGUMENT', /source_volume_id is required; name is required/);
    await refused(snapshot('local.vfs-000042', 'x'), 'NOT_FOUND');
    const id = await volume('p');
    await refused(
      f.client.controller.CreateSnapshot({ source_volume_id: id, name: 'x', parameters: { retain: 'forever' } }),
      'INVALID_ARGUMENT',
      /unknown parameter "retain"/,
    );
    const theirs = await f.storage.catalog.create({ service: 'local', name: 'theirs', size: 1, schedulers: ['spark'] });
    await refused(snapshot(theirs.id, 'x'), 'PERMISSION_DENIED');
  });

  it('deletes a snapshot, and says OK for one that is gone or never was', async () => {
    const id = await volume('d');
    const { snapshot: s } = await snapshot(id, 'gone-soon');
    await f.client.controller.DeleteSnapshot({ snapshot_id: s.snapshot_id });
    expect(await f.storage.registry.get('local').driver.snapshots()).toEqual([]);
    await f.client.controller.DeleteSnapshot({ snapshot_id: s.snapshot_id });
    await f.client.controller.DeleteSnapshot({ snapshot_id: 'non-existing-snapshot-id' });
    await f.client.controller.DeleteSnapshot({ snapshot_id: 'nowhere.vfs-snap-000001' });
    await refused(f.client.controller.DeleteSnapshot({}), 'INVALID_ARGUMENT', /snapshot_id is required/);
  });

  it('lists snapshots by ID, by source volume, and page by page', async () => {
    const a = await volume('la');
    const b = await volume('lb');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await snapshot(i % 2 === 0 ? a : b, `s-${i}`)).snapshot.snapshot_id);
    const all = await f.client.controller.ListSnapshots({});
    expect(all.entries.map((e: { snapshot: { snapshot_id: string } }) => e.snapshot.snapshot_id)).toEqual(ids);
    const ofA = await f.client.controller.ListSnapshots({ source_volume_id: a });
    expect(ofA.entries.map((e: { snapshot: { source_volume_id: string } }) => e.snapshot.source_volume_id)).toEqual([a, a, a]);
    const one = await f.client.controller.ListSnapshots({ snapshot_id: ids[3] });
    expect(one.entries).toHaveLength(1);
    expect((await f.client.controller.ListSnapshots({ snapshot_id: 'local.vfs-snap-999999' })).entries).toEqual([]);
    expect((await f.client.controller.ListSnapshots({ snapshot_id: 'junk' })).entries).toEqual([]);
    expect((await f.client.controller.ListSnapshots({ source_volume_id: 'local.vfs-000099' })).entries).toEqual([]);
    const seen: string[] = [];
    let token = '';
    do {
      const page = await f.client.controller.ListSnapshots({ max_entries: 2, starting_token: token });
      expect(page.entries.length).toBeLessThanOrEqual(2);
      seen.push(...page.entries.map((e: { snapshot: { snapshot_id: string } }) => e.snapshot.snapshot_id));
      token = page.next_token;
    } while (token);
    expect(seen).toEqual(ids);
    await refused(f.client.controller.ListSnapshots({ starting_token: 'invalid-token' }), 'ABORTED');
  });

  it('shows a caller only the snapshots of volumes offered to it (and those whose volume is gone)', async () => {
    const theirs = await f.storage.catalog.create({ service: 'local', name: 'theirs', size: 1, schedulers: ['spark'] });
    await f.storage.snapshots.create(theirs, 'private');
    expect((await f.client.controller.ListSnapshots({})).entries).toEqual([]);
    await refused(f.client.controller.GetSnapshot({ snapshot_id: 'local.vfs-snap-000001' }), 'NOT_FOUND');
    await f.storage.catalog.remove(theirs.id);
    expect((await f.client.controller.ListSnapshots({})).entries).toHaveLength(1);
  });

  it('gets one snapshot (GetSnapshot, served though not advertised)', async () => {
    const id = await volume('g');
    const { snapshot: s } = await snapshot(id, 'one');
    expect((await f.client.controller.GetSnapshot({ snapshot_id: s.snapshot_id })).snapshot).toEqual(s);
    await refused(f.client.controller.GetSnapshot({ snapshot_id: 'local.vfs-snap-000777' }), 'NOT_FOUND');
    await refused(f.client.controller.GetSnapshot({}), 'INVALID_ARGUMENT');
  });
});
