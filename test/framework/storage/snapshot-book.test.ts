/**
 * Snapshot create and remove run under an intent (durable before the driver call, resolved after);
 * bad input writes nothing; a "maybe" leaves the intent for recovery, which keeps a snapshot the
 * backend has, drops one it has not, and finishes a removal.
 */
import { DriverConflictError, DriverTransientError } from '../../../drivers/errors';
import type { StorageDriver } from '../../../drivers/storage-driver';
import { ConflictError, NotFoundError, UnavailableError, ValidationError } from '../../../framework/errors';
import type { IntentKind } from '../../../framework/storage/intent-log';
import type { VolumeRecord } from '../../../framework/storage/volume-record';
import { FaultInjector } from './faulty-driver';
import { Fixture, makeFixture, storeKeys } from './storage-fixture';

describe('SnapshotBook', () => {
  let fx: Fixture;
  let faults: FaultInjector;
  let volume: VolumeRecord;
  /** Open intents seen at the moment each snapshot call reached the driver. */
  const seenByDriver: Array<{ op: string; open: IntentKind[] }> = [];

  /** Records the open intents whenever a snapshot call reaches the driver. */
  const observe = (driver: StorageDriver): StorageDriver =>
    new Proxy(driver, {
      get: (target, prop, receiver) => {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function' || (prop !== 'volumeSnapshot' && prop !== 'snapshotRemove')) return value;
        return async (...args: unknown[]) => {
          seenByDriver.push({ op: String(prop), open: (await fx.storage.intents.pending()).map((i) => i.kind) });
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });

  const backendSnapshots = () => fx.drivers.get('local')!.snapshots();

  beforeEach(async () => {
    faults = new FaultInjector();
    seenByDriver.length = 0;
    fx = await makeFixture({ wrap: (d) => faults.wrap(observe(d)), retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 2 } });
    volume = await fx.storage.catalog.create({ service: 'local', name: 'vol', size: 1 });
  });

  afterEach(async () => {
    await fx.dispose();
  });

  test('create: the intent is open while the driver works and resolved after', async () => {
    const snap = await fx.storage.snapshots.create(volume, 'nightly');
    expect(snap).toMatchObject({ name: 'nightly', volumeId: volume.driverVolumeId });
    expect(seenByDriver).toEqual([{ op: 'volumeSnapshot', open: ['snapshot'] }]);
    expect(await fx.storage.intents.pending()).toEqual([]);
    expect((await backendSnapshots()).map((s) => s.name)).toEqual(['nightly']);
  });

  test.each(['', '../x', 'a/b', 'x'.repeat(300), 'nul\u0000', 'bell\u0007'])(
    'create with the bad name %j writes nothing anywhere',
    async (name) => {
      const before = await storeKeys(fx.store);
      await expect(fx.storage.snapshots.create(volume, name)).rejects.toBeInstanceOf(ValidationError);
      expect(seenByDriver).toEqual([]);
      expect(await storeKeys(fx.store)).toEqual(before);
      expect(await backendSnapshots()).toEqual([]);
    },
  );

  test('create refused by the backend: the error is mapped, the intent resolved', async () => {
    faults.add({ op: 'volumeSnapshot', error: new DriverConflictError('exists') });
    await expect(fx.storage.snapshots.create(volume, 'nightly')).rejects.toBeInstanceOf(ConflictError);
    expect(await fx.storage.intents.pending()).toEqual([]);
  });

  test('create whose outcome stays unknown: the intent is left; recovery keeps a snapshot that was made', async () => {
    faults.add({ op: 'volumeSnapshot', error: new DriverTransientError('timed out'), when: 'after' });
    // The retry asks the backend by name and finds it: a timeout that did happen is settled at once.
    await expect(fx.storage.snapshots.create(volume, 'made')).resolves.toMatchObject({ name: 'made' });
    expect(await fx.storage.intents.pending()).toEqual([]);

    // The call is made and "times out", and the backend cannot be asked either: unknown, left to recovery.
    faults.add({ op: 'volumeSnapshot', error: new DriverTransientError('timed out'), when: 'after' });
    faults.add({ op: 'snapshots', error: new DriverTransientError('unreachable'), times: 5 });
    const lost = fx.storage.snapshots.create(volume, 'lost');
    await expect(lost).rejects.toBeInstanceOf(UnavailableError);
    expect((await fx.storage.intents.pending()).map((i) => i.kind)).toEqual(['snapshot']);
    faults.clear();
    const report = await fx.storage.recovery.recover();
    expect(report.intentsFinished + report.intentsRolledBack).toBe(1);
    expect(await fx.storage.intents.pending()).toEqual([]);
    const names = (await backendSnapshots()).map((s) => s.name).sort();
    // The first attempt ran (then "timed out"), so the backend has it and recovery keeps it.
    expect(names).toEqual(['lost', 'made']);
    expect(report.actions.some((a) => a.includes('snapshot lost') && a.includes('kept'))).toBe(true);
  });

  test('recovery drops the intent of a snapshot that never reached the backend', async () => {
    faults.add({ op: 'volumeSnapshot', error: new DriverTransientError('timed out'), when: 'before', times: 5 });
    await expect(fx.storage.snapshots.create(volume, 'never')).rejects.toBeInstanceOf(UnavailableError);
    faults.clear();
    const report = await fx.storage.recovery.recover();
    expect(report.intentsRolledBack).toBe(1);
    expect(report.actions.some((a) => a.includes('snapshot never') && a.includes('dropped'))).toBe(true);
    expect(await backendSnapshots()).toEqual([]);
  });

  test('remove: the intent is open while the driver works; an unknown snapshot is NotFound and writes nothing', async () => {
    const snap = await fx.storage.snapshots.create(volume, 'nightly');
    seenByDriver.length = 0;
    await fx.storage.snapshots.remove('local', snap.id);
    expect(seenByDriver).toEqual([{ op: 'snapshotRemove', open: ['snapshot-remove'] }]);
    expect(await fx.storage.intents.pending()).toEqual([]);
    expect(await backendSnapshots()).toEqual([]);

    const before = await storeKeys(fx.store);
    await expect(fx.storage.snapshots.remove('local', snap.id)).rejects.toBeInstanceOf(NotFoundError);
    expect(await storeKeys(fx.store)).toEqual(before);
  });

  test('an interrupted remove is finished by recovery', async () => {
    const snap = await fx.storage.snapshots.create(volume, 'nightly');
    faults.add({ op: 'snapshotRemove', error: new DriverTransientError('timed out'), when: 'before', times: 5 });
    await expect(fx.storage.snapshots.remove('local', snap.id)).rejects.toBeInstanceOf(UnavailableError);
    expect((await backendSnapshots()).map((s) => s.name)).toEqual(['nightly']);
    faults.clear();
    const report = await fx.storage.recovery.recover();
    expect(report.intentsFinished).toBe(1);
    expect(await backendSnapshots()).toEqual([]);
    expect(await fx.storage.intents.pending()).toEqual([]);
  });
});
