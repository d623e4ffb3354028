/**
 * Copies and creates-from-snapshot go through the same intent-logged create as `create`: the name
 * is the idempotency key, a "maybe" is settled by asking the backend, a failure leaves nothing.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { DriverNotFoundError, DriverTransientError } from '../../../drivers/errors';
import { VfsDriver } from '../../../drivers/vfs/vfs-driver';
import { ConflictError, NotFoundError, ValidationError } from '../../../framework/errors';
import type { VolumeSource } from '../../../framework/storage/volume-catalog';
import type { VolumeRecord } from '../../../framework/storage/volume-record';
import { FaultInjector } from './faulty-driver';
import { Fixture, makeFixture } from './storage-fixture';

describe('VolumeCatalog.createFrom', () => {
  let fx: Fixture;
  let faults: FaultInjector;
  let source: VolumeRecord;
  const vfs = (): VfsDriver => fx.drivers.get('local') as unknown as VfsDriver;

  beforeEach(async () => {
    faults = new FaultInjector();
    fx = await makeFixture({ wrap: (d) => faults.wrap(d), retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 } });
    source = await fx.storage.catalog.create({ service: 'local', name: 'src', size: 3, scheduler: 'm', availabilityZone: 'zone-a' });
    const dv = await fx.drivers.get('local')!.volumeInspect(source.driverVolumeId);
    await fs.writeFile(path.join(vfs().hostPath(dv), 'hello.txt'), 'hello');
  });

  afterEach(async () => {
    await fx.dispose();
  });

  const readHello = async (v: VolumeRecord): Promise<string> =>
    fs.readFile(path.join(vfs().hostPath(await fx.drivers.get('local')!.volumeInspect(v.driverVolumeId)), 'hello.txt'), 'utf8');

  test('copies a volume with its data into a managed volume offered to the schedulers', async () => {
    const copy = await fx.storage.catalog.createFrom({
      service: 'local',
      name: 'copy',
      source: { copyOf: source.driverVolumeId },
      schedulers: ['m'],
      labels: { k: 'v' },
    });
    expect(copy).toMatchObject({ name: 'copy', managed: true, size: 3, availabilityZone: 'zone-a', schedulers: ['m'], labels: { k: 'v' } });
    expect(await readHello(copy)).toBe('hello');
    expect(await fx.store.get(`volumes/${copy.id}`)).toEqual(copy);
    expect(await fx.storage.intents.pending()).toEqual([]);
  });

  test('creates from a snapshot, with overrides', async () => {
    const snap = await fx.drivers.get('local')!.volumeSnapshot(source.driverVolumeId, 'snap');
    const made = await fx.storage.catalog.createFrom({
      service: 'local',
      name: 'restored',
      source: { snapshot: snap.id, create: { size: 5 } },
    });
    expect(made).toMatchObject({ name: 'restored', size: 5, managed: true });
    expect(await readHello(made)).toBe('hello');
  });

  test('a copy that timed out but happened is found by name and recorded once', async () => {
    faults.add({ op: 'volumeCopy', error: new DriverTransientError('timed out'), when: 'after' });
    const copy = await fx.storage.catalog.createFrom({ service: 'local', name: 'copy', source: { copyOf: source.driverVolumeId } });
    expect(faults.calls.filter((c) => c.op === 'volumeCopy')).toHaveLength(1);
    expect((await fx.drivers.get('local')!.volumes()).map((v) => v.name).sort()).toEqual(['copy', 'src']);
    expect(fx.storage.catalog.findByName('local', 'copy')?.id).toBe(copy.id);
    expect(await fx.storage.intents.pending()).toEqual([]);
  });

  test('a copy the backend refuses leaves no record and no open intent', async () => {
    faults.add({ op: 'volumeCopy', error: new DriverNotFoundError('source is gone') });
    await expect(
      fx.storage.catalog.createFrom({ service: 'local', name: 'copy', source: { copyOf: source.driverVolumeId } }),
    ).rejects.toThrow(NotFoundError);
    expect(fx.storage.catalog.findByName('local', 'copy')).toBeUndefined();
    expect(await fx.storage.intents.pending()).toEqual([]);
  });

  test('refuses a taken name (any case) and a malformed source before touching the backend', async () => {
    await expect(
      fx.storage.catalog.createFrom({ service: 'local', name: 'SRC', source: { copyOf: source.driverVolumeId } }),
    ).rejects.toThrow(ConflictError);
    await expect(fx.storage.catalog.createFrom({ service: 'local', name: 'x', source: {} as unknown as VolumeSource })).rejects.toThrow(
      ValidationError,
    );
    await expect(
      fx.storage.catalog.createFrom({ service: 'local', name: '../x', source: { copyOf: source.driverVolumeId } }),
    ).rejects.toThrow(ValidationError);
    expect(faults.calls.filter((c) => c.op === 'volumeCopy' || c.op === 'volumeCreateFromSnapshot')).toEqual([]);
    expect(await fx.storage.intents.pending()).toEqual([]);
  });
});
