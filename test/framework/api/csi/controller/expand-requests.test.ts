/**
 * CSI conformance, expansion: ControllerExpandVolume over the controller's real unix socket — the
 * success path (catalog and vfs journal grow), idempotent repeats, every error case of the spec's
 * table that applies (INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION for a published volume on a
 * service that grows only offline, OUT_OF_RANGE), nothing changed after each refusal; EXPAND_VOLUME
 * and VolumeExpansion ONLINE advertised only while some service can grow volumes.
 */
import type { BoundedDriver } from '../../../../../drivers/bounded-driver';
import type { StorageDriver } from '../../../../../drivers/storage-driver';
import type { VfsDriver } from '../../../../../drivers/vfs/vfs-driver';
import { GIB, MOUNT_SNW } from '../../../../support/csi-client';
import { CsiFixture, CsiFixtureOptions, expectRefused, makeCsiFixture } from '../../../../support/csi-fixture';

/** The service a (bounded vfs) driver belongs to: the last part of its root. */
const serviceOf = (driver: StorageDriver): string => ((driver as BoundedDriver).inner as VfsDriver).layout.root.split('/').pop()!;

/** The real driver with its expansion narrowed: `none` hides it, `offline` says it grows only detached. */
const narrowed = (driver: StorageDriver, to: 'none' | 'offline'): StorageDriver =>
  new Proxy(driver, {
    get: (target, prop, receiver) => {
      if (prop === 'volumeExpand' && to === 'none') return undefined;
      if (prop === 'expansion') return () => (to === 'none' ? undefined : 'offline');
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });

const controllerCaps = async (f: CsiFixture): Promise<string[]> =>
  (await f.client.controller.ControllerGetCapabilities({})).capabilities.map((c: { rpc: { type: string } }) => c.rpc.type);
const pluginCaps = async (f: CsiFixture): Promise<unknown[]> => (await f.client.identity.GetPluginCapabilities({})).capabilities;

describe('CSI controller: expansion', () => {
  let f: CsiFixture;

  const start = async (options: CsiFixtureOptions = {}): Promise<void> => {
    f = await makeCsiFixture({ overrides: { 'csi.acceptUnknownNodes': true }, ...options });
  };

  afterEach(async () => {
    await f.dispose();
  });

  const create = async (name: string, gib: number, parameters: Record<string, string> = {}): Promise<string> =>
    (
      await f.client.controller.CreateVolume({
        name,
        volume_capabilities: [MOUNT_SNW],
        capacity_range: { required_bytes: String(gib * GIB) },
        parameters,
      })
    ).volume.volume_id;
  const expand = (volume_id: string, range: Record<string, string> | null, extra: Record<string, unknown> = {}) =>
    f.client.controller.ControllerExpandVolume({ volume_id, ...(range ? { capacity_range: range } : {}), ...extra });
  const refused = (call: Promise<unknown>, code: string, message?: RegExp) => expectRefused(f, call, code, message);

  it('advertises EXPAND_VOLUME and VolumeExpansion ONLINE (vfs grows volumes while published)', async () => {
    await start();
    expect(await controllerCaps(f)).toContain('EXPAND_VOLUME');
    expect(await pluginCaps(f)).toEqual([
      { service: { type: 'CONTROLLER_SERVICE' }, type: 'service' },
      { service: { type: 'VOLUME_ACCESSIBILITY_CONSTRAINTS' }, type: 'service' },
      { volume_expansion: { type: 'ONLINE' }, type: 'volume_expansion' },
    ]);
    // The node says the same (one set of plugin capabilities), and has nothing to expand itself.
    const node = await f.startNode('node-a');
    expect(await node.client.identity.GetPluginCapabilities({})).toEqual(await f.client.identity.GetPluginCapabilities({}));
    const nodeCaps = (await node.client.node.NodeGetCapabilities({})).capabilities.map((c: { rpc: { type: string } }) => c.rpc.type);
    expect(nodeCaps).not.toContain('EXPAND_VOLUME');
  });

  it('grows the volume (rounded up to whole GiB) in the catalog and the vfs journal; no node expansion', async () => {
    await start();
    const id = await create('pvc-grow', 2);
    const audits: unknown[] = [];
    f.storage.events.on('volume.audit', (e) => audits.push(e));
    const reply = await expand(id, { required_bytes: String(5 * GIB + 1) });
    expect(reply).toEqual({ capacity_bytes: String(6 * GIB), node_expansion_required: false });
    expect(f.storage.catalog.get(id).size).toBe(6);
    expect((await f.storage.registry.get('local').driver.volumeInspect('vfs-000001')).size).toBe(6);
    const got = await f.client.controller.ControllerGetVolume({ volume_id: id });
    expect(got.volume.capacity_bytes).toBe(String(6 * GIB));
    expect(audits).toEqual([expect.objectContaining({ action: 'expand', fromSize: 2, toSize: 6, by: 'csi:csi' })]);
  });

  it('is idempotent: a repeat, or any size the volume already has, answers the current capacity and writes nothing', async () => {
    await start();
    const id = await create('pvc-same', 3);
    const first = await expand(id, { required_bytes: String(7 * GIB) });
    const state = f.storage.catalog.get(id);
    const ranges: Array<Record<string, string>> = [
      { required_bytes: String(7 * GIB) },
      { required_bytes: String(4 * GIB) },
      { required_bytes: String(GIB), limit_bytes: String(7 * GIB) },
    ];
    for (const range of ranges) {
      expect(await expand(id, range)).toEqual(first);
    }
    expect(f.storage.catalog.get(id)).toBe(state); // the very same record: nothing was written
  });

  it('grows a published volume (online) and keeps the publication', async () => {
    await start();
    const id = await create('pvc-published', 1);
    await f.client.controller.ControllerPublishVolume({ volume_id: id, node_id: 'node-a', volume_capability: MOUNT_SNW });
    expect((await expand(id, { required_bytes: String(3 * GIB) })).capacity_bytes).toBe(String(3 * GIB));
    const got = await f.client.controller.ControllerGetVolume({ volume_id: id });
    expect(got.status.published_node_ids).toEqual(['node-a']);
  });

  it('refuses bad requests naming every problem (INVALID_ARGUMENT), unknown volumes (NOT_FOUND), nothing changed', async () => {
    await start();
    const id = await create('pvc-bad', 2);
    const message = await refused(f.client.controller.ControllerExpandVolume({}), 'INVALID_ARGUMENT');
    expect(message).toMatch(/volume_id is required/);
    expect(message).toMatch(/capacity_range is required/);
    await refused(expand(id, { required_bytes: '-5' }), 'INVALID_ARGUMENT', /must not be negative/);
    await refused(expand(id, {}), 'INVALID_ARGUMENT', /required_bytes/);
    await refused(
      expand(id, { required_bytes: String(3 * GIB) }, { volume_capability: { block: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } } }),
      'INVALID_ARGUMENT',
      /block access/,
    );
    await refused(expand('local.vfs-000999', { required_bytes: String(3 * GIB) }), 'NOT_FOUND');
    await refused(expand('no such thing', { required_bytes: String(3 * GIB) }), 'NOT_FOUND');
  });

  it('shrinking, and sizes past the profile or what Polly holds, are OUT_OF_RANGE with nothing changed', async () => {
    await start();
    const id = await create('pvc-range', 4, { profile: 'small' });
    await refused(expand(id, { required_bytes: String(GIB), limit_bytes: String(2 * GIB) }), 'OUT_OF_RANGE', /cannot shrink/);
    await refused(expand(id, { required_bytes: String(11 * GIB) }), 'OUT_OF_RANGE', /profile "small".*at most 10 GiB/);
    await refused(expand(id, { required_bytes: String(2 ** 40 * GIB) }), 'OUT_OF_RANGE', /whole number of GiB/);
    await refused(expand(id, { required_bytes: String(6 * GIB), limit_bytes: String(5 * GIB) }), 'OUT_OF_RANGE');
    expect(f.storage.catalog.get(id).size).toBe(4);
  });

  it('a published volume on a service that grows only offline is FAILED_PRECONDITION; unpublished it grows', async () => {
    await start({ wrap: (d) => (serviceOf(d) === 'limited' ? narrowed(d, 'offline') : d) });
    const id = await create('pvc-offline', 2, { service: 'limited' });
    await f.client.controller.ControllerPublishVolume({ volume_id: id, node_id: 'node-a', volume_capability: MOUNT_SNW });
    await refused(expand(id, { required_bytes: String(4 * GIB) }), 'FAILED_PRECONDITION', /attached nowhere; release/);
    await f.client.controller.ControllerUnpublishVolume({ volume_id: id, node_id: 'node-a' });
    expect((await expand(id, { required_bytes: String(4 * GIB) })).capacity_bytes).toBe(String(4 * GIB));
  });

  it('a volume on a service that cannot grow volumes is FAILED_PRECONDITION while another service can', async () => {
    await start({ wrap: (d) => (serviceOf(d) === 'limited' ? narrowed(d, 'none') : d) });
    expect(await controllerCaps(f)).toContain('EXPAND_VOLUME');
    const id = await create('pvc-fixed', 2, { service: 'limited' });
    await refused(expand(id, { required_bytes: String(4 * GIB) }), 'FAILED_PRECONDITION', /cannot grow volumes/);
  });

  it('with no service that can grow volumes: not advertised, and UNIMPLEMENTED', async () => {
    await start({ wrap: (d) => narrowed(d, 'none') });
    expect(await controllerCaps(f)).not.toContain('EXPAND_VOLUME');
    expect((await pluginCaps(f)).some((c) => (c as { volume_expansion?: unknown }).volume_expansion)).toBe(false);
    const id = await create('pvc-none', 2);
    await refused(expand(id, { required_bytes: String(4 * GIB) }), 'UNIMPLEMENTED', /does not advertise EXPAND_VOLUME/);
  });
});
