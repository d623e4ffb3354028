/**
 * VolumeExpander on a real LevelDB store and vfs root: the expand intent is open while the driver
 * works and resolved with the new size in one batch; the same size is a no-op, shrinking and sizes
 * beyond the profile are refused with nothing changed; a backend that cannot expand is 501; one
 * that expands only offline refuses while claimed; a "maybe" leaves the intent for recovery, which
 * takes the backend's size; audit and update events are published.
 */
import { DriverInvalidError, DriverTransientError } from '../../../drivers/errors';
import type { StorageDriver } from '../../../drivers/storage-driver';
import { ExpansionUnsupportedError, NotFoundError, UnavailableError, ValidationError } from '../../../framework/errors';
import { OutOfRangeError } from '../../../framework/errors/out-of-range-error';
import { PreconditionFailedError } from '../../../framework/errors/precondition-failed-error';
import { toGrpcStatus } from '../../../framework/errors/to-grpc-status';
import { toHttpError } from '../../../framework/errors/to-http-error';
import type { IntentKind } from '../../../framework/storage/intent-log';
import type { StorageEventMap } from '../../../framework/storage/storage-events';
import type { VolumeRecord } from '../../../framework/storage/volume-record';
import { FaultInjector } from './faulty-driver';
import { Fixture, makeFixture, storeKeys } from './storage-fixture';

describe('VolumeExpander', () => {
  let fx: Fixture;
  let faults: FaultInjector;
  let volume: VolumeRecord;
  /** What the driver's expansion() answers (the real vfs says online). */
  let expansion: 'online' | 'offline' | 'none';
  const seenByDriver: IntentKind[][] = [];

  /** The real vfs driver, with its expansion capability narrowed as a test asks, and the open intents recorded at each expand. */
  const observe = (driver: StorageDriver): StorageDriver =>
    new Proxy(driver, {
      get: (target, prop, receiver) => {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (prop === 'volumeExpand' && expansion === 'none') return undefined;
        if (prop === 'expansion')
          return () => (expansion === 'none' ? undefined : expansion === 'online' ? driver.expansion!() : 'offline');
        if (prop !== 'volumeExpand' || typeof value !== 'function') return value;
        return async (...args: unknown[]) => {
          seenByDriver.push((await fx.storage.intents.pending()).map((i) => i.kind));
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });

  const backendSize = async (v: VolumeRecord): Promise<number> => (await fx.drivers.get('local')!.volumeInspect(v.driverVolumeId)).size;

  beforeEach(async () => {
    faults = new FaultInjector();
    expansion = 'online';
    seenByDriver.length = 0;
    fx = await makeFixture({ wrap: (d) => faults.wrap(observe(d)), retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 2 } });
    volume = await fx.storage.catalog.create({ service: 'local', name: 'vol', size: 2, profile: 'small', schedulers: ['marathon'] });
  });

  afterEach(async () => {
    await fx.dispose();
  });

  test('grows the volume: intent open during the driver call, resolved with the new size; events and audit', async () => {
    const updated: Array<StorageEventMap['volume.updated']> = [];
    const audits: Array<StorageEventMap['volume.audit']> = [];
    fx.storage.events.on('volume.updated', (e) => updated.push(e));
    fx.storage.events.on('volume.audit', (e) => audits.push(e));
    const result = await fx.storage.expander.expand(volume.id, 8, { by: 'ops-token' });
    expect(result.expanded).toBe(true);
    expect(result.volume.size).toBe(8);
    expect(fx.storage.catalog.get(volume.id).size).toBe(8);
    expect(await backendSize(volume)).toBe(8);
    expect(seenByDriver).toEqual([['expand']]);
    expect(await fx.storage.intents.pending()).toEqual([]);
    expect(updated.map((e) => e.volume.size)).toEqual([8]);
    expect(audits).toEqual([expect.objectContaining({ action: 'expand', fromSize: 2, toSize: 8, by: 'ops-token' })]);
    // The record in the store has it too: a restart reads 8.
    await fx.close();
    const again = await makeFixture({ dir: fx.dir });
    try {
      expect(again.storage.catalog.get(volume.id).size).toBe(8);
    } finally {
      await again.close();
    }
  });

  test('the same size is a no-op (no intent, no driver call): a repeat answers the volume as it is', async () => {
    await fx.storage.expander.expand(volume.id, 5);
    const keys = await storeKeys(fx.store);
    seenByDriver.length = 0;
    const again = await fx.storage.expander.expand(volume.id, 5);
    expect(again).toEqual({ volume: fx.storage.catalog.get(volume.id), expanded: false });
    expect(again.volume.size).toBe(5);
    expect(seenByDriver).toEqual([]);
    expect(await storeKeys(fx.store)).toEqual(keys);
  });

  test('shrinking, sizes past the profile, bad sizes and unknown volumes are refused with nothing changed', async () => {
    const keys = await storeKeys(fx.store);
    const shrink = fx.storage.expander.expand(volume.id, 1);
    await expect(shrink).rejects.toBeInstanceOf(OutOfRangeError);
    await expect(shrink).rejects.toThrow(/cannot shrink/);
    const tooBig = fx.storage.expander.expand(volume.id, 11);
    await expect(tooBig).rejects.toBeInstanceOf(OutOfRangeError);
    await expect(tooBig).rejects.toThrow(/profile "small".*at most 10 GiB/);
    for (const size of [0, 2.5, '4', null, 70000]) {
      await expect(fx.storage.expander.expand(volume.id, size)).rejects.toBeInstanceOf(ValidationError);
    }
    await expect(fx.storage.expander.expand('local.vfs-000999', 4)).rejects.toBeInstanceOf(NotFoundError);
    expect(toHttpError(await shrink.catch((e: unknown) => e)).status).toBe(400);
    expect(toGrpcStatus(await shrink.catch((e: unknown) => e)).name).toBe('OUT_OF_RANGE');
    expect(seenByDriver).toEqual([]);
    expect(await storeKeys(fx.store)).toEqual(keys);
    expect(fx.storage.catalog.get(volume.id).size).toBe(2);
    expect(await backendSize(volume)).toBe(2);
  });

  test('a backend that cannot expand: 501 over HTTP, FAILED_PRECONDITION over CSI, nothing written', async () => {
    expansion = 'none';
    expect(fx.storage.expander.expansionOf('local')).toBeUndefined();
    const keys = await storeKeys(fx.store);
    const err = await fx.storage.expander.expand(volume.id, 4).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExpansionUnsupportedError);
    expect(toHttpError(err)).toMatchObject({ status: 501 });
    expect(toGrpcStatus(err).name).toBe('FAILED_PRECONDITION');
    expect(await storeKeys(fx.store)).toEqual(keys);
  });

  test('online: grows while claimed RW; offline: refused while claimed, allowed once released', async () => {
    const claim = await fx.storage.ledger.claim({
      volumeId: volume.id,
      scheduler: 'marathon',
      agentId: 'a1',
      instanceId: 'host-1',
      mode: 'RW',
    });
    expect((await fx.storage.expander.expand(volume.id, 3)).volume.size).toBe(3);

    expansion = 'offline';
    const refused = await fx.storage.expander.expand(volume.id, 4).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(PreconditionFailedError);
    expect((refused as Error).message).toMatch(new RegExp(`claim ${claim.id} on agent a1.*release`));
    expect(toGrpcStatus(refused).name).toBe('FAILED_PRECONDITION');
    expect(fx.storage.catalog.get(volume.id).size).toBe(3);
    await fx.storage.ledger.release(claim.id);
    expect((await fx.storage.expander.expand(volume.id, 4)).volume.size).toBe(4);
  });

  test('a "maybe" leaves the intent open; recovery takes the size the backend has', async () => {
    faults.add({ op: 'volumeExpand', error: new DriverTransientError('timed out'), when: 'after', times: 2 });
    await expect(fx.storage.expander.expand(volume.id, 6)).rejects.toBeInstanceOf(UnavailableError);
    expect((await fx.storage.intents.pending()).map((i) => i.kind)).toEqual(['expand']);
    expect(fx.storage.catalog.get(volume.id).size).toBe(2);
    expect(await backendSize(volume)).toBe(6);
    const report = await fx.storage.recovery.recover();
    expect(report.intentsFinished).toBe(1);
    expect(report.actions.join('\n')).toMatch(/expand .*backend has 6 GiB/);
    expect(fx.storage.catalog.get(volume.id).size).toBe(6);
    expect(await fx.storage.intents.pending()).toEqual([]);
  });

  test('a "maybe" that never reached the backend is dropped at recovery, the size unchanged', async () => {
    faults.add({ op: 'volumeExpand', error: new DriverTransientError('unreachable'), when: 'before', times: 2 });
    await expect(fx.storage.expander.expand(volume.id, 6)).rejects.toBeInstanceOf(UnavailableError);
    const report = await fx.storage.recovery.recover();
    expect(report.intentsRolledBack).toBe(1);
    expect(fx.storage.catalog.get(volume.id).size).toBe(2);
    expect(await fx.storage.intents.pending()).toEqual([]);
  });

  test('a definite refusal by the backend closes the intent and changes nothing', async () => {
    faults.add({ op: 'volumeExpand', error: new DriverInvalidError('too big for the pool') });
    const err = await fx.storage.expander.expand(volume.id, 6).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OutOfRangeError);
    expect((err as Error).message).toMatch(/too big for the pool/);
    expect(await fx.storage.intents.pending()).toEqual([]);
    expect(fx.storage.catalog.get(volume.id).size).toBe(2);
  });
});
