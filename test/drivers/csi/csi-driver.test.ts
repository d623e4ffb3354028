/**
 * The CSI driver against a real CSI plugin: Polly's own (`polly csi controller` in-process over a
 * vfs root, on its real unix socket), with nodes n1/n2 in zone-a and n3 in zone-b. Every call goes
 * over gRPC; what the driver reports is checked against what the plugin's own storage core holds.
 */
import { BoundedDriver } from '../../../drivers/bounded-driver';
import { CsiDriver, CsiDriverConfig } from '../../../drivers/csi/csi-driver';
import { csiVolumeName } from '../../../drivers/csi/csi-names';
import { volumeContextOf } from '../../../drivers/csi/csi-volumes';
import {
  DriverConflictError,
  DriverInvalidError,
  DriverNotFoundError,
  DriverNotImplementedError,
  DriverTransientError,
} from '../../../drivers/errors';
import { CsiFixture, makeCsiFixture } from '../../support/csi-fixture';

const ZONE_KEY = 'topology.polly.io/zone';

let plugin: CsiFixture;
const drivers: CsiDriver[] = [];

function driverFor(config: Partial<CsiDriverConfig> = {}): CsiDriver {
  const driver = new CsiDriver({
    endpoint: `unix://${plugin.controllerSocket}`,
    namePrefix: 'polly-t-',
    topologyKey: ZONE_KEY,
    parameters: { service: 'local' },
    callTimeoutMs: 5000,
    ...config,
  });
  drivers.push(driver);
  return driver;
}

beforeEach(async () => {
  plugin = await makeCsiFixture({
    overrides: {
      'csi.nodes': [
        { id: 'n1', zone: 'zone-a' },
        { id: 'n2', zone: 'zone-a' },
        { id: 'n3', zone: 'zone-b' },
      ],
    },
  });
});

afterEach(async () => {
  for (const d of drivers.splice(0)) await d.close();
  await plugin.dispose();
});

it('discovers the plugin, its version and capabilities at init', async () => {
  const driver = driverFor({ pluginName: 'polly.csi.storage' });
  await driver.init();
  expect(driver.describe().plugin).toMatchObject({ name: 'polly.csi.storage', endpoint: `unix://${plugin.controllerSocket}` });
  expect(driver.describe().plugin?.capabilities).toEqual(
    expect.arrayContaining([
      'CONTROLLER_SERVICE',
      'VOLUME_ACCESSIBILITY_CONSTRAINTS',
      'CREATE_DELETE_VOLUME',
      'PUBLISH_UNPUBLISH_VOLUME',
      'GET_CAPACITY',
    ]),
  );
});

it('refuses a plugin other than the configured one, naming both', async () => {
  const driver = driverFor({ pluginName: 'ebs.csi.aws.com' });
  await expect(driver.init()).rejects.toThrow(DriverInvalidError);
  await expect(driver.init()).rejects.toThrow(/"polly.csi.storage", not the configured "ebs.csi.aws.com"/);
});

it('waits for a plugin that is not there until the caller gives up', async () => {
  const driver = driverFor({ endpoint: `unix://${plugin.dir}/nothing.sock` });
  await expect(driver.init({ signal: AbortSignal.timeout(300) })).rejects.toMatchObject({ name: 'AbortError' });
});

it('creates under a deterministic name in the asked zone; the same create again is the same volume', async () => {
  const driver = driverFor();
  await driver.init();
  const made = await driver.volumeCreate('Data 1', { size: 2, availabilityZone: 'zone-b', profile: 'default', fields: { app: 'web' } });
  expect(made).toMatchObject({ name: 'Data 1', size: 2, availabilityZone: 'zone-b', attachments: [] });
  expect(made.fields.app).toBe('web');
  const csiName = csiVolumeName('polly-t-', 'Data 1');
  expect(volumeContextOf(made.fields)).toEqual({ service: 'local', name: csiName });
  // The plugin's core holds it under the CSI name, in zone-b.
  const onPlugin = plugin.storage.catalog.findByName('local', csiName);
  expect(onPlugin).toMatchObject({ id: made.id, size: 2, availabilityZone: 'zone-b' });

  const again = await driver.volumeCreate('data 1', { size: 2, availabilityZone: 'zone-b', profile: 'default' });
  expect(again.id).toBe(made.id);
  // A driver that never saw the create (a restarted Polly) finds it by name through ListVolumes.
  const fresh = driverFor();
  await fresh.init();
  expect((await fresh.volumeInspectByName('DATA 1'))?.id).toBe(made.id);
  expect(await fresh.volumeInspectByName('other')).toBeUndefined();
  expect(plugin.storage.catalog.size).toBe(1);
});

it('publishes to nodes and lists where each volume is published; a second writer is refused; force moves it', async () => {
  const driver = driverFor();
  await driver.init();
  const v = await driver.volumeCreate('shared', { size: 1, availabilityZone: 'zone-a' });
  await driver.volumeAttach(v.id, { id: 'n1' });
  await driver.volumeAttach(v.id, { id: 'n1' }); // idempotent
  expect((await driver.volumeInspect(v.id)).attachments.map((a) => a.instanceId.id)).toEqual(['n1']);
  await expect(driver.volumeAttach(v.id, { id: 'n2' })).rejects.toThrow(DriverConflictError);
  // A node in another zone is refused by the plugin (FAILED_PRECONDITION is an answer, not a maybe).
  await driver.volumeDetach(v.id, { id: 'n1' });
  await expect(driver.volumeAttach(v.id, { id: 'n3' })).rejects.toThrow(/zone-a.*zone-b/);
  await driver.volumeAttach(v.id, { id: 'n1' });
  await driver.volumeAttach(v.id, { id: 'n2' }, { force: true });
  const listed = (await driver.volumes()).find((x) => x.id === v.id)!;
  expect(listed.attachments.map((a) => a.instanceId.id)).toEqual(['n2']);
  expect(listed.attachmentsUnknown).toBeUndefined();
  expect(plugin.storage.ledger.list({ volumeId: v.id, live: true }).map((c) => c.instanceId)).toEqual(['n2']);
  await driver.volumeDetach(v.id, { id: 'n2' });
  await driver.volumeDetach(v.id, { id: 'n2' }); // idempotent
  expect(plugin.storage.ledger.list({ volumeId: v.id, live: true })).toEqual([]);
  // Read-only publications share.
  await driver.volumeAttach(v.id, { id: 'n1' }, { readOnly: true });
  await driver.volumeAttach(v.id, { id: 'n2' }, { readOnly: true });
  expect((await driver.volumeInspect(v.id)).attachments.map((a) => a.instanceId.id).sort()).toEqual(['n1', 'n2']);
});

it('snapshots, volumes from snapshots and clones, then removes them', async () => {
  const driver = driverFor();
  await driver.init();
  const v = await driver.volumeCreate('src', { size: 3, availabilityZone: 'zone-a' });
  const snap = await driver.volumeSnapshot(v.id, 'nightly');
  expect(snap).toMatchObject({ name: 'nightly', volumeId: v.id, volumeSize: 3, status: 'ready' });
  expect(await driver.volumeSnapshot(v.id, 'nightly')).toMatchObject({ id: snap.id });
  expect((await driver.snapshots()).map((s) => s.id)).toEqual([snap.id]);
  expect(await driver.snapshotInspect(snap.id)).toMatchObject({ id: snap.id, volumeId: v.id });
  const restored = await driver.volumeCreateFromSnapshot(snap.id, 'restored', { size: 3, availabilityZone: 'zone-a' });
  expect(restored).toMatchObject({ size: 3, availabilityZone: 'zone-a' });
  const clone = await driver.volumeCopy(v.id, 'clone');
  expect(clone).toMatchObject({ name: 'clone', size: 3, availabilityZone: 'zone-a' });
  await driver.snapshotRemove(snap.id);
  await expect(driver.snapshotInspect(snap.id)).rejects.toThrow(DriverNotFoundError);
  for (const id of [restored.id, clone.id, v.id]) await driver.volumeRemove(id);
  await driver.volumeRemove(v.id); // DeleteVolume is idempotent
  await expect(driver.volumeInspect(v.id)).rejects.toThrow(DriverNotFoundError);
  expect(await driver.volumes()).toEqual([]);
});

it('asks GetCapacity per zone and profile, with the profile parameters', async () => {
  const driver = driverFor({ profiles: { small: { parameters: { profile: 'small' } } } });
  await driver.init();
  const capacity = await driver.capacity({ profile: 'small' }, 'zone-a');
  expect(capacity?.availableGiB).toBeGreaterThan(0);
  // A parameter the plugin refuses is an answer (INVALID_ARGUMENT), not a "maybe".
  const bad = driverFor({ parameters: { service: 'local', colour: 'blue' } });
  await bad.init();
  await expect(bad.capacity({}, 'zone-a')).rejects.toThrow(DriverInvalidError);
  await expect(bad.volumeCreate('x', { size: 1 })).rejects.toThrow(/unknown parameter "colour"/);
});

it('a plugin that went away answers UNAVAILABLE: a "maybe", retried under the same name', async () => {
  const driver = new BoundedDriver(driverFor(), { timeoutMs: 2000 });
  await driver.init();
  await plugin.controller.stop(0);
  const err = await driver.volumeCreate('late', { size: 1 }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(DriverTransientError);
  expect((err as Error).message).toMatch(/UNAVAILABLE/);
});

it('refuses what the plugin cannot do as not implemented, before calling it', async () => {
  const driver = driverFor();
  await driver.init();
  // Polly's plugin has every controller capability but EXPAND_VOLUME: pretend a plugin without snapshots.
  (driver.facts!.controllerCapabilities as Set<string>).delete('CREATE_DELETE_SNAPSHOT');
  const v = await driver.volumeCreate('nosnap', { size: 1 });
  await expect(driver.volumeSnapshot(v.id, 's')).rejects.toThrow(DriverNotImplementedError);
  await expect(driver.volumeSnapshot(v.id, 's')).rejects.toThrow(/no CREATE_DELETE_SNAPSHOT capability/);
});

describe('expansion', () => {
  it('learns at init that the plugin expands online (EXPAND_VOLUME + VolumeExpansion ONLINE)', async () => {
    const driver = driverFor();
    expect(driver.expansion()).toBeUndefined(); // not known before init
    await driver.init();
    expect(driver.describe().plugin?.capabilities).toEqual(expect.arrayContaining(['EXPAND_VOLUME']));
    expect(driver.expansion()).toBe('online');
  });

  it('grows a volume through ControllerExpandVolume; the same or a smaller size is answered as it is', async () => {
    const driver = driverFor();
    await driver.init();
    const v = await driver.volumeCreate('grow', { size: 2 });
    expect(await driver.volumeExpand(v.id, 5)).toMatchObject({ id: v.id, size: 5 });
    expect(plugin.storage.catalog.get(v.id).size).toBe(5);
    expect((await driver.volumeInspect(v.id)).size).toBe(5);
    expect((await driver.volumeExpand(v.id, 5)).size).toBe(5);
    expect((await driver.volumeExpand(v.id, 3)).size).toBe(5);
    expect(plugin.storage.catalog.get(v.id).size).toBe(5);
  });

  it("maps the plugin's answers: NOT_FOUND, OUT_OF_RANGE past the profile", async () => {
    const driver = driverFor({ parameters: { service: 'local', profile: 'small' } });
    await driver.init();
    const v = await driver.volumeCreate('bounded', { size: 2 });
    await expect(driver.volumeExpand('local.vfs-000999', 4)).rejects.toBeInstanceOf(DriverNotFoundError);
    const err = await driver.volumeExpand(v.id, 11).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DriverInvalidError);
    expect((err as Error).message).toMatch(/OUT_OF_RANGE.*at most 10 GiB/);
    expect(plugin.storage.catalog.get(v.id).size).toBe(2);
  });

  it('a plugin without EXPAND_VOLUME: no expansion, and volumeExpand is refused before any call', async () => {
    const driver = driverFor();
    await driver.init();
    const v = await driver.volumeCreate('fixed', { size: 2 });
    (driver.facts!.controllerCapabilities as Set<string>).delete('EXPAND_VOLUME');
    expect(driver.expansion()).toBeUndefined();
    await expect(driver.volumeExpand(v.id, 4)).rejects.toThrow(DriverNotImplementedError);
    await expect(driver.volumeExpand(v.id, 4)).rejects.toThrow(/no EXPAND_VOLUME capability/);
    expect(plugin.storage.catalog.get(v.id).size).toBe(2);
  });

  it('passes through BoundedDriver with its deadline', async () => {
    const bounded = new BoundedDriver(driverFor(), { timeoutMs: 5000 });
    await bounded.init();
    expect(bounded.expansion?.()).toBe('online');
    const v = await bounded.volumeCreate('bounded-grow', { size: 1 });
    expect((await bounded.volumeExpand!(v.id, 3)).size).toBe(3);
  });
});
