import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../../../framework/errors';
import { StorageEventMap } from '../../../framework/storage/storage-events';
import { VolumeCatalog } from '../../../framework/storage/volume-catalog';
import { parseVolumeId } from '../../../framework/storage/volume-id';
import { Fixture, listTree, makeFixture, storeKeys } from './storage-fixture';

describe('VolumeCatalog', () => {
  let fx: Fixture;
  let catalog: VolumeCatalog;
  const events: Array<[keyof StorageEventMap, unknown]> = [];

  beforeEach(async () => {
    fx = await makeFixture({
      services: [
        { name: 'local', driver: 'vfs', profiles: [{ name: 'default' }, { name: 'small', maxSizeGiB: 10 }] },
        { name: 'other', driver: 'vfs' },
      ],
    });
    catalog = fx.storage.catalog;
    events.length = 0;
    for (const name of ['volume.created', 'volume.updated', 'volume.removed'] as const) {
      fx.storage.events.on(name, (payload) => events.push([name, payload]));
    }
  });

  afterEach(async () => {
    await fx.dispose();
  });

  test('creates a managed volume through the driver and persists it', async () => {
    const v = await catalog.create({
      service: 'local',
      name: 'data-1',
      size: 2,
      labels: { app: 'db' },
      scheduler: 'marathon',
      availabilityZone: 'zone-a',
    });
    expect(v).toMatchObject({
      service: 'local',
      name: 'data-1',
      size: 2,
      status: 'available',
      managed: true,
      labels: { app: 'db' },
      schedulers: ['marathon'],
      availabilityZone: 'zone-a',
      attachments: [],
      profile: 'default',
      encrypted: false,
    });
    expect(parseVolumeId(v.id)).toEqual({ service: 'local', driverVolumeId: v.driverVolumeId });
    expect(await fx.drivers.get('local')!.volumeInspect(v.driverVolumeId)).toMatchObject({ name: 'data-1', size: 2 });
    expect(await fx.store.get(`volumes/${v.id}`)).toEqual(v);
    expect(await fx.storage.intents.pending()).toEqual([]);
    expect(events.map((e) => e[0])).toEqual(['volume.created']);
    expect(Object.isFrozen(v)).toBe(true);

    // A fresh catalog over the same store sees the same record.
    const again = new VolumeCatalog({
      store: fx.store,
      registry: fx.registry,
      queue: fx.storage.queue,
      intents: fx.storage.intents,
      events: fx.storage.events,
    });
    expect(await again.load()).toBe(1);
    expect(again.get(v.id)).toEqual(v);
    expect(again.findByName('local', 'DATA-1')?.id).toBe(v.id);
  });

  test('names with dashes, dots and spaces get IDs that round-trip', async () => {
    for (const name of ['my-vol', 'my.vol', 'my vol', 'a-b.c d']) {
      const v = await catalog.create({ service: 'local', name, size: 1 });
      expect(catalog.get(v.id).name).toBe(name);
      expect(parseVolumeId(v.id).driverVolumeId).toBe(v.driverVolumeId);
    }
  });

  test('a name taken in any case is a conflict, per service', async () => {
    await catalog.create({ service: 'local', name: 'Data', size: 1 });
    for (const name of ['Data', 'data', 'DATA', 'dAtA']) {
      await expect(catalog.create({ service: 'local', name, size: 1 })).rejects.toThrow(ConflictError);
    }
    // Another service has its own namespace.
    await expect(catalog.create({ service: 'other', name: 'data', size: 1 })).resolves.toMatchObject({ service: 'other' });
  });

  test('two concurrent creates of one name: exactly one wins', async () => {
    const results = await Promise.allSettled(
      ['race', 'RACE', 'Race', 'race'].map((name) => catalog.create({ service: 'local', name, size: 1 })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(ConflictError);
    expect(await fx.drivers.get('local')!.volumes()).toHaveLength(1);
  });

  test('a name held by an unmanaged backend volume is a conflict; register makes it managed', async () => {
    const dv = await fx.drivers.get('local')!.volumeCreate('Outside', { size: 3 });
    await expect(catalog.create({ service: 'local', name: 'outside', size: 1 })).rejects.toThrow(ConflictError);

    const unmanaged = await catalog.listUnmanaged();
    expect(unmanaged).toHaveLength(1);
    expect(unmanaged[0]).toMatchObject({ name: 'Outside', managed: false, driverVolumeId: dv.id });
    expect(catalog.list()).toHaveLength(0);
    expect((await catalog.listAll()).map((v) => v.name)).toEqual(['Outside']);

    const registered = await catalog.register('local', dv.id, { schedulers: ['marathon'] });
    expect(registered).toMatchObject({ managed: true, name: 'Outside', size: 3, schedulers: ['marathon'] });
    expect(await catalog.listUnmanaged()).toHaveLength(0);
    await expect(catalog.register('local', dv.id)).rejects.toThrow(ConflictError);
    await expect(catalog.register('local', 'vfs-999999')).rejects.toThrow(NotFoundError);
  });

  test.each([
    ['../x', 'traversal'],
    ['a/b', 'slash'],
    ['a\\b', 'backslash'],
    ['', 'empty'],
    ['.', 'dot'],
    ['..', 'dot-dot'],
    ['x'.repeat(300), '300 characters'],
    ['a\u0000b', 'NUL'],
    ['a\nb', 'newline'],
    ['a\u001bb', 'escape'],
    ['a\u007fb', 'DEL'],
  ])('refuses the name %j (%s) with nothing written anywhere', async (name) => {
    const keysBefore = await storeKeys(fx.store);
    const treeBefore = await listTree(fx.vfsRoot());
    await expect(catalog.create({ service: 'local', name, size: 1 })).rejects.toThrow(ValidationError);
    expect(await storeKeys(fx.store)).toEqual(keysBefore);
    expect(await listTree(fx.vfsRoot())).toEqual(treeBefore);
    expect(events).toEqual([]);
  });

  test('bad sizes, profiles, labels and schedulers are refused before anything is written', async () => {
    const keysBefore = await storeKeys(fx.store);
    const treeBefore = await listTree(fx.vfsRoot());
    await expect(catalog.create({ service: 'local', name: 'x', size: 0 })).rejects.toThrow(ValidationError);
    await expect(catalog.create({ service: 'local', name: 'x', size: 1.5 })).rejects.toThrow(ValidationError);
    await expect(catalog.create({ service: 'local', name: 'x', size: 11, profile: 'small' })).rejects.toThrow(ValidationError);
    await expect(catalog.create({ service: 'local', name: 'x', size: 100_000 })).rejects.toThrow(ValidationError);
    await expect(catalog.create({ service: 'local', name: 'x', profile: 'nope' })).rejects.toThrow(NotFoundError);
    await expect(catalog.create({ service: 'nope', name: 'x' })).rejects.toThrow(NotFoundError);
    await expect(catalog.create({ service: 'local', name: 'x', labels: { 'a\u0000': 'b' } })).rejects.toThrow(ValidationError);
    await expect(catalog.create({ service: 'local', name: 'x', schedulers: ['bad name'] })).rejects.toThrow(ValidationError);
    expect(await storeKeys(fx.store)).toEqual(keysBefore);
    expect(await listTree(fx.vfsRoot())).toEqual(treeBefore);
  });

  test('labels, fields and the scheduler ACL are persisted and evented', async () => {
    const v = await catalog.create({ service: 'local', name: 'acl', size: 1 });
    events.length = 0;
    await catalog.setLabels(v.id, { a: '1', b: '2' });
    await catalog.removeLabels(v.id, ['a', 'missing']);
    await catalog.setFields(v.id, { owner: 'team-x' });
    await catalog.offer(v.id, ['marathon', 'spark']);
    await catalog.offer(v.id, ['marathon']);
    await catalog.revoke(v.id, ['spark']);
    const now = catalog.get(v.id);
    expect(now.labels).toEqual({ b: '2' });
    expect(now.fields.owner).toBe('team-x');
    expect(now.schedulers).toEqual(['marathon']);
    expect(events.map((e) => e[0])).toEqual(Array(6).fill('volume.updated'));
    expect(await fx.store.get(`volumes/${v.id}`)).toEqual(now);
    await expect(catalog.setLabels(v.id, { 'x\u0001': 'y' })).rejects.toThrow(ValidationError);
    await expect(catalog.offer('local.vfs-999999', ['marathon'])).rejects.toThrow(NotFoundError);
    await expect(catalog.offer('not an id', ['marathon'])).rejects.toThrow(ValidationError);
  });

  test('list filters by service, scheduler, label, name and zone through the indexes', async () => {
    await catalog.create({
      service: 'local',
      name: 'a',
      size: 1,
      scheduler: 'marathon',
      labels: { tier: 'db' },
      availabilityZone: 'zone-a',
    });
    await catalog.create({ service: 'local', name: 'b', size: 1, scheduler: 'spark', availabilityZone: 'zone-b' });
    await catalog.create({ service: 'other', name: 'c', size: 1, schedulers: ['marathon', 'spark'], labels: { tier: 'web' } });
    const names = (f: Parameters<VolumeCatalog['list']>[0]) =>
      catalog
        .list(f)
        .map((v) => v.name)
        .sort();
    expect(names({})).toEqual(['a', 'b', 'c']);
    expect(names({ service: 'local' })).toEqual(['a', 'b']);
    expect(names({ scheduler: 'marathon' })).toEqual(['a', 'c']);
    expect(names({ scheduler: 'spark', service: 'other' })).toEqual(['c']);
    expect(names({ labels: { tier: 'db' } })).toEqual(['a']);
    expect(names({ zone: 'zone-b' })).toEqual(['b']);
    expect(names({ service: 'local', name: 'A' })).toEqual(['a']);
    expect(names({ name: 'C' })).toEqual(['c']);
    expect(names({ scheduler: 'nobody' })).toEqual([]);
    // Revoking updates the scheduler index.
    const a = catalog.findByName('local', 'a')!;
    await catalog.revoke(a.id, ['marathon']);
    expect(names({ scheduler: 'marathon' })).toEqual(['c']);
  });

  test('zone and scheduler indexes built on first use see changes made before and after it', async () => {
    const a = await catalog.create({ service: 'local', name: 'a', size: 1, scheduler: 'marathon', availabilityZone: 'zone-a' });
    await catalog.create({ service: 'local', name: 'b', size: 1, schedulers: ['marathon', 'spark'], availabilityZone: 'zone-b' });
    // A fresh catalog loaded from the store: no index is built until a list() needs one.
    const fresh = new VolumeCatalog({
      store: fx.store,
      registry: fx.registry,
      queue: fx.storage.queue,
      intents: fx.storage.intents,
      events: fx.storage.events,
    });
    expect(await fresh.load()).toBe(2);
    const names = (c: VolumeCatalog, f: Parameters<VolumeCatalog['list']>[0]) =>
      c
        .list(f)
        .map((v) => v.name)
        .sort();
    // The live catalog's indexes are not built yet either: a change before the first list counts.
    await catalog.revoke(a.id, ['marathon']);
    expect(names(catalog, { scheduler: 'marathon' })).toEqual(['b']);
    expect(names(catalog, { zone: 'zone-a' })).toEqual(['a']);
    expect(names(fresh, { scheduler: 'marathon' })).toEqual(['a', 'b']);
    expect(names(fresh, { scheduler: 'spark' })).toEqual(['b']);
    expect(names(fresh, { zone: 'zone-b' })).toEqual(['b']);
    // Once built, the indexes follow creates, updates and removes.
    await catalog.create({ service: 'other', name: 'c', size: 1, scheduler: 'spark', availabilityZone: 'zone-a' });
    await catalog.offer(a.id, ['spark']);
    expect(names(catalog, { scheduler: 'spark' })).toEqual(['a', 'b', 'c']);
    expect(names(catalog, { zone: 'zone-a' })).toEqual(['a', 'c']);
    await catalog.remove(a.id);
    expect(names(catalog, { scheduler: 'spark' })).toEqual(['b', 'c']);
    expect(names(catalog, { zone: 'zone-a' })).toEqual(['c']);
    expect(names(catalog, { service: 'local' })).toEqual(['b']);
    expect(catalog.ofService('other').map((v) => v.name)).toEqual(['c']);
    expect(catalog.findByName('local', 'A')).toBeUndefined();
    expect(catalog.findByName('other', 'C')?.name).toBe('c');
  });

  test('loaded records share repeated strings and lists, and stay frozen', async () => {
    await catalog.create({ service: 'local', name: 'x', size: 1, schedulers: ['marathon', 'spark-long-scheduler-name'], availabilityZone: 'us-east-1-zone-a' });
    await catalog.create({ service: 'local', name: 'y', size: 1, schedulers: ['marathon', 'spark-long-scheduler-name'], availabilityZone: 'us-east-1-zone-a' });
    const fresh = new VolumeCatalog({
      store: fx.store,
      registry: fx.registry,
      queue: fx.storage.queue,
      intents: fx.storage.intents,
      events: fx.storage.events,
    });
    await fresh.load();
    const [x, y] = ['x', 'y'].map((n) => fresh.findByName('local', n)!);
    expect(x.schedulers).toBe(y.schedulers);
    expect(Object.isFrozen(x.schedulers)).toBe(true);
    expect(Object.isFrozen(x)).toBe(true);
    expect(x.schedulers).toEqual(['marathon', 'spark-long-scheduler-name']);
    expect(x.availabilityZone).toBe('us-east-1-zone-a');
    // Updates still work on copies (the shared list is never edited in place).
    await fresh.offer(x.id, ['other-scheduler']);
    expect(fresh.get(x.id).schedulers).toEqual(['marathon', 'spark-long-scheduler-name', 'other-scheduler']);
    expect(fresh.get(y.id).schedulers).toEqual(['marathon', 'spark-long-scheduler-name']);
  });

  test('remove deletes backend volume and record; refused while claimed', async () => {
    const v = await catalog.create({ service: 'local', name: 'gone', size: 1, scheduler: 'marathon' });
    const claim = await fx.storage.ledger.claim({
      volumeId: v.id,
      scheduler: 'marathon',
      agentId: 'agent-1',
      instanceId: 'node1',
      taskId: 't1',
    });
    const err = await catalog.remove(v.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect((err as ConflictError).message).toContain(claim.id);
    await fx.storage.ledger.release(claim.id);
    events.length = 0;
    await catalog.remove(v.id);
    expect(catalog.find(v.id)).toBeUndefined();
    expect(await fx.store.get(`volumes/${v.id}`)).toBeUndefined();
    expect(await fx.drivers.get('local')!.volumes()).toEqual([]);
    expect(events.map((e) => e[0])).toEqual(['volume.updated', 'volume.removed']);
    expect(await fx.storage.intents.pending()).toEqual([]);
    // The name is free again.
    await expect(catalog.create({ service: 'local', name: 'GONE', size: 1 })).resolves.toMatchObject({ name: 'GONE' });
    await expect(catalog.remove(v.id)).rejects.toThrow(NotFoundError);
  });

  test('claims on a volume not offered are forbidden (the ACL the catalog keeps)', async () => {
    const v = await catalog.create({ service: 'local', name: 'private', size: 1 });
    await expect(fx.storage.ledger.claim({ volumeId: v.id, scheduler: 'marathon', agentId: 'a', instanceId: 'n' })).rejects.toThrow(
      ForbiddenError,
    );
  });
});
