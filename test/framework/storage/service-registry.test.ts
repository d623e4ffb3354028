import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DriverNotImplementedError } from '../../../drivers/errors';
import type { StorageDriver } from '../../../drivers/storage-driver';
import { loadConfig } from '../../../framework/config/config-loader';
import { NotFoundError, PollyError, ValidationError } from '../../../framework/errors';
import { LevelStore } from '../../../framework/state/level-store';
import { profileUsedKey } from '../../../framework/state/keys';
import { ServiceDefinition, ServiceInput, ServiceRegistry } from '../../../framework/storage/service-registry';

const notImplemented = async (): Promise<never> => {
  throw new DriverNotImplementedError('fake');
};

/** A driver that only records init/close; everything else is unused here. */
function fakeDriver(definition: ServiceDefinition, options: { hostPath?: boolean; initError?: Error; hangInit?: boolean } = {}) {
  const calls: string[] = [];
  const driver: StorageDriver = {
    name: definition.driver,
    type: () => 'nas',
    init: async (call) => {
      calls.push('init');
      if (options.initError) throw options.initError;
      if (options.hangInit) {
        await new Promise((_, reject) => call?.signal?.addEventListener('abort', () => reject(call.signal?.reason)));
      }
    },
    close: async () => {
      calls.push('close');
    },
    instanceInspect: notImplemented,
    volumes: notImplemented,
    volumeInspect: notImplemented,
    volumeInspectByName: notImplemented,
    volumeCreate: notImplemented,
    volumeCreateFromSnapshot: notImplemented,
    volumeCopy: notImplemented,
    volumeSnapshot: notImplemented,
    volumeRemove: notImplemented,
    volumeAttach: notImplemented,
    volumeDetach: notImplemented,
    snapshots: notImplemented,
    snapshotInspect: notImplemented,
    snapshotRemove: notImplemented,
    capacity: async () => undefined,
    attachLimit: () => definition.vfs?.attachLimit,
    ...(options.hostPath === false ? {} : { hostPath: (volume) => path.join(definition.vfs?.root ?? '/', volume.id) }),
  };
  return { driver, calls };
}

describe('ServiceRegistry', () => {
  let dir: string;
  let home: string;
  let store: LevelStore;
  const built: Array<{ definition: ServiceDefinition; calls: string[] }> = [];

  const factory = (definition: ServiceDefinition): StorageDriver => {
    const { driver, calls } = fakeDriver(definition);
    built.push({ definition, calls });
    return driver;
  };
  const registry = (services: ServiceInput[], createDriver = factory) => new ServiceRegistry({ services, home, createDriver, store });

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'polly-services-'));
    home = path.join(dir, 'home');
    store = new LevelStore(path.join(dir, 'state'));
    await store.open();
    built.length = 0;
  });

  afterEach(async () => {
    await store.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('builds the default config: a vfs service "local" with profile "default" under <home>/vfs/local', async () => {
    const config = loadConfig({ env: {}, file: undefined });
    expect(config.services).toEqual([
      { name: 'local', driver: 'vfs', mapping: 'hostPath', timeoutMs: 60000, profiles: [{ name: 'default', active: true }] },
    ]);
    const services = registry(config.services);
    expect(services.list().map((s) => s.name)).toEqual(['local']);
    expect(built[0].definition).toEqual({
      name: 'local',
      driver: 'vfs',
      mapping: 'hostPath',
      timeoutMs: 60000,
      vfs: { root: path.join(home, 'vfs', 'local') },
      profiles: [{ service: 'local', name: 'default', active: true }],
    });
    await services.start();
    expect(built[0].calls).toEqual(['init']);
    await services.close();
    expect(built[0].calls).toEqual(['init', 'close']);
  });

  it('config schema: services from the environment get defaults; bad names are refused', () => {
    const config = loadConfig({
      env: {
        POLLY_SERVICES: JSON.stringify([
          {
            name: 'ebs-east',
            driver: 'vfs',
            mapping: 'dockerVolume',
            dockerVolumeDriver: 'rexray',
            profiles: [{ name: 'fast', type: 'io1', iops: 1000 }],
          },
        ]),
      },
    });
    expect(config.services[0]).toMatchObject({
      name: 'ebs-east',
      timeoutMs: 60000,
      profiles: [{ name: 'fast', type: 'io1', iops: 1000, active: true }],
    });
    expect(() => loadConfig({ env: { POLLY_SERVICES: JSON.stringify([{ name: 'Bad_Name', driver: 'vfs' }]) } })).toThrow(
      /services\.0\.name/,
    );
    expect(() => loadConfig({ env: { POLLY_SERVICES: JSON.stringify([{ name: 'x', driver: 'ceph' }]) } })).toThrow(/services\.0\.driver/);
    expect(() =>
      loadConfig({ env: { POLLY_SERVICES: JSON.stringify([{ name: 'x', driver: 'vfs', profiles: [{ name: 'p', type: 'a\u0001' }] }]) } }),
    ).toThrow(/type/);
  });

  it('resolves vfs roots: explicit absolute, relative to home, attach limit passed on', () => {
    registry([
      { name: 'a', driver: 'vfs', vfs: { root: '/mnt/nfs/polly' } },
      { name: 'b', driver: 'vfs', vfs: { root: 'shared', attachLimit: 8 } },
    ]);
    expect(built.map((b) => b.definition.vfs)).toEqual([{ root: '/mnt/nfs/polly' }, { root: path.join(home, 'shared'), attachLimit: 8 }]);
  });

  describe('refuses bad configuration, naming the field', () => {
    const cases: Array<[string, ServiceInput[], string]> = [
      [
        'duplicate service names',
        [
          { name: 'a', driver: 'vfs' },
          { name: 'a', driver: 'vfs' },
        ],
        'services[1].name',
      ],
      ['a bad service name', [{ name: '../x', driver: 'vfs' }], 'services[0].name'],
      ['an upper-case service name', [{ name: 'Local', driver: 'vfs' }], 'services[0].name'],
      ['duplicate profile names', [{ name: 'a', driver: 'vfs', profiles: [{ name: 'p' }, { name: 'p' }] }], 'services[0].profiles[1].name'],
      ['a profile name with a slash', [{ name: 'a', driver: 'vfs', profiles: [{ name: 'p/q' }] }], 'services[0].profiles[0].name'],
      [
        'min > max',
        [{ name: 'a', driver: 'vfs', profiles: [{ name: 'p', minSizeGiB: 10, maxSizeGiB: 5 }] }],
        'services[0].profiles[0].minSizeGiB',
      ],
      ['no profiles', [{ name: 'a', driver: 'vfs', profiles: [] }], 'services[0].profiles'],
      ['dockerVolume without a driver name', [{ name: 'a', driver: 'vfs', mapping: 'dockerVolume' }], 'services[0].dockerVolumeDriver'],
    ];
    it.each(cases)('%s', (_label, services, field) => {
      const err = (() => {
        try {
          registry(services);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).field).toBe(field);
    });

    it('hostPath mapping with a driver that has no host paths', () => {
      expect(() => registry([{ name: 'a', driver: 'vfs' }], (d) => fakeDriver(d, { hostPath: false }).driver)).toThrow(
        /cannot expose volumes as host paths/,
      );
    });
  });

  it('get / list / profile: unknown names are NotFound', () => {
    const services = registry([
      { name: 'b', driver: 'vfs', profiles: [{ name: 'default' }, { name: 'gold', type: 'ssd' }] },
      { name: 'a', driver: 'vfs' },
    ]);
    expect(services.list().map((s) => s.name)).toEqual(['b', 'a']);
    expect(services.get('b').driver.name).toBe('vfs');
    expect(services.has('zz')).toBe(false);
    expect(() => services.get('zz')).toThrow(NotFoundError);
    expect(services.profile('b', 'gold')).toMatchObject({ service: 'b', name: 'gold', type: 'ssd', active: true });
    expect(() => services.profile('b', 'silver')).toThrow(NotFoundError);
    expect(() => services.profile('zz', 'gold')).toThrow(NotFoundError);
  });

  it('resolveCreate uses the default profile and checks bounds', () => {
    const services = registry([
      {
        name: 'ebs',
        driver: 'vfs',
        profiles: [
          { name: 'default', minSizeGiB: 1, maxSizeGiB: 100 },
          { name: 'fast', type: 'io1', iops: 3000, encrypted: true, minSizeGiB: 20 },
          { name: 'old', type: 'gp1', active: false },
        ],
      },
    ]);
    expect(services.resolveCreate('ebs', undefined, { size: 10, availabilityZone: 'zone-a' })).toEqual({
      service: 'ebs',
      profile: 'default',
      size: 10,
      availabilityZone: 'zone-a',
      create: { size: 10, availabilityZone: 'zone-a' },
    });
    expect(services.resolveCreate('ebs', 'fast', {})).toEqual({
      service: 'ebs',
      profile: 'fast',
      size: 20,
      type: 'io1',
      iops: 3000,
      encrypted: true,
      create: { size: 20, type: 'io1', iops: 3000, encrypted: true },
    });
    const field = (fn: () => unknown): string | undefined => {
      try {
        fn();
      } catch (e) {
        expect(e).toBeInstanceOf(ValidationError);
        return (e as ValidationError).field;
      }
      return undefined;
    };
    expect(field(() => services.resolveCreate('ebs', undefined, { size: 101 }))).toBe('size');
    expect(field(() => services.resolveCreate('ebs', 'fast', { size: 19 }))).toBe('size');
    expect(field(() => services.resolveCreate('ebs', undefined, { size: 1.5 }))).toBe('size');
    expect(field(() => services.resolveCreate('ebs', undefined, { size: 0 }))).toBe('size');
    expect(field(() => services.resolveCreate('ebs', 'fast', { type: 'gp2' }))).toBe('type');
    expect(field(() => services.resolveCreate('ebs', 'fast', { iops: 100 }))).toBe('iops');
    expect(field(() => services.resolveCreate('ebs', undefined, { iops: -1 }))).toBe('iops');
    expect(field(() => services.resolveCreate('ebs', undefined, { availabilityZone: 'a\u0000' }))).toBe('availabilityZone');
    expect(field(() => services.resolveCreate('ebs', 'old', {}))).toBe('profile');
    expect(services.resolveCreate('ebs', 'fast', { type: 'io1', fsType: 'xfs' })).toMatchObject({ type: 'io1', fsType: 'xfs' });
    expect(() => services.resolveCreate('ebs', 'nope', {})).toThrow(NotFoundError);
  });

  describe('used profiles are immutable', () => {
    const v1: ServiceInput[] = [{ name: 'ebs', driver: 'vfs', profiles: [{ name: 'default' }, { name: 'fast', type: 'io1', iops: 3000 }] }];

    it('markUsed persists once, and a restart with the same config is fine', async () => {
      const first = registry(v1);
      await first.start();
      const fast = first.profile('ebs', 'fast');
      expect(first.isUsed(fast)).toBe(false);
      await first.markUsed(fast);
      await first.markUsed(fast);
      expect(first.isUsed(fast)).toBe(true);
      const stored = await store.getVersioned(profileUsedKey('ebs', 'fast'));
      expect(stored).toMatchObject({
        version: 1,
        value: { service: 'ebs', profile: 'fast', params: { type: 'io1', iops: 3000, fsType: null, encrypted: null } },
      });

      const second = registry(v1);
      await second.start();
      expect(second.isUsed(second.profile('ebs', 'fast'))).toBe(true);
      // A second registry marking it again keeps the first record.
      await second.markUsed(second.profile('ebs', 'fast'));
      expect((await store.getVersioned(profileUsedKey('ebs', 'fast')))?.version).toBe(1);
    });

    it('refuses at start a config that changed a used profile, or removed it', async () => {
      const first = registry(v1);
      await first.markUsed(first.profile('ebs', 'fast'));

      const changed = registry([
        { name: 'ebs', driver: 'vfs', profiles: [{ name: 'default' }, { name: 'fast', type: 'io2', iops: 3000, encrypted: true }] },
      ]);
      const err = await changed.start().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as Error).message).toMatch(
        /profile "fast" of service "ebs" was used and cannot change \(type "io1" → "io2", encrypted null → true\)/,
      );
      expect((err as ValidationError).details).toMatchObject({
        profiles: [{ service: 'ebs', profile: 'fast', fields: ['type', 'encrypted'] }],
      });
      expect(built.at(-1)?.calls).toEqual([]); // no driver was started

      const removed = registry([{ name: 'ebs', driver: 'vfs', profiles: [{ name: 'default' }] }]);
      await expect(removed.start()).rejects.toThrow(/was used and cannot be removed \(set active: false instead\)/);
    });

    it('allows deactivating a used profile, changing its size bounds, and adding new ones', async () => {
      const first = registry(v1);
      await first.markUsed(first.profile('ebs', 'fast'));
      const next = registry([
        {
          name: 'ebs',
          driver: 'vfs',
          profiles: [
            { name: 'default' },
            { name: 'fast', type: 'io1', iops: 3000, active: false, maxSizeGiB: 500 },
            { name: 'fast2', type: 'io2', iops: 3000 },
          ],
        },
      ]);
      await expect(next.start()).resolves.toBeUndefined();
    });

    it('a removed service with used profiles only warns', async () => {
      const first = registry(v1);
      await first.markUsed(first.profile('ebs', 'fast'));
      await expect(registry([{ name: 'local', driver: 'vfs' }]).start()).resolves.toBeUndefined();
    });
  });

  it('start fails with the service name when a driver cannot initialise, and bounds init by timeoutMs', async () => {
    const failing = registry([{ name: 'bad', driver: 'vfs' }], (d) => fakeDriver(d, { initError: new Error('root not writable') }).driver);
    const err = await failing.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PollyError);
    expect((err as Error).message).toMatch(/Storage service "bad" \(driver vfs\) failed to start: root not writable/);

    const hanging = registry([{ name: 'slow', driver: 'vfs', timeoutMs: 100 }], (d) => fakeDriver(d, { hangInit: true }).driver);
    await expect(hanging.start()).rejects.toThrow(/Storage service "slow"/);
  });
});
