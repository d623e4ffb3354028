/**
 * CSI conformance, volumes: CreateVolume, DeleteVolume, ValidateVolumeCapabilities, ListVolumes,
 * ControllerGetVolume and GetCapacity over the controller's real unix socket, success paths, every
 * error case of the spec's tables that applies, idempotency by repetition, and "nothing changed"
 * after every refusal.
 */
import fs from 'node:fs';
import { codeOf, GIB, MOUNT_SNW } from '../../../../support/csi-client';
import { CsiFixture, expectRefused, makeCsiFixture } from '../../../../support/csi-fixture';

const ZONE_KEY = 'topology.polly.io/zone';
const zone = (z: string) => ({ segments: { [ZONE_KEY]: z } });
const mode = (m: string, extra: Record<string, unknown> = {}) => ({ mount: {}, access_mode: { mode: m }, ...extra });

describe('CSI controller: volumes', () => {
  let f: CsiFixture;

  beforeEach(async () => {
    f = await makeCsiFixture({ overrides: { 'csi.acceptUnknownNodes': true } });
  });

  afterEach(async () => {
    await f.dispose();
  });

  const create = (name: string, extra: Record<string, unknown> = {}) =>
    f.client.controller.CreateVolume({ name, volume_capabilities: [MOUNT_SNW], ...extra });

  const refused = (call: Promise<unknown>, code: string, message?: RegExp) => expectRefused(f, call, code, message);

  describe('CreateVolume', () => {
    it('creates a Polly volume named by the CSI name, offered to the caller, in whole GiB', async () => {
      const { volume } = await create('pvc-1', { capacity_range: { required_bytes: String(3 * GIB + 1) } });
      expect(volume).toMatchObject({
        volume_id: 'local.vfs-000001',
        capacity_bytes: String(4 * GIB),
        volume_context: { service: 'local', name: 'pvc-1' },
        accessible_topology: [],
      });
      const record = f.storage.catalog.get(volume.volume_id);
      expect(record).toMatchObject({ name: 'pvc-1', size: 4, profile: 'default', schedulers: ['csi'], status: 'available' });
      expect(record.labels).toEqual({ 'csi.polly.io/created-by': 'csi' });
      expect(fs.statSync(`${f.vfsRoot()}/volumes/vfs-000001`).isDirectory()).toBe(true);
    });

    it('without a capacity range takes the default size, clamped into the profile', async () => {
      expect((await create('a')).volume.capacity_bytes).toBe(String(16 * GIB));
      expect((await create('b', { parameters: { profile: 'small' } })).volume.capacity_bytes).toBe(String(10 * GIB));
      expect((await create('c', { capacity_range: { limit_bytes: String(5 * GIB) } })).volume.capacity_bytes).toBe(String(5 * GIB));
    });

    it('is idempotent by name: the same request gives the same volume, again and again, and makes one', async () => {
      const request = {
        capacity_range: { required_bytes: String(2 * GIB), limit_bytes: String(2 * GIB) },
        parameters: { profile: 'small' },
      };
      const first = await create('pvc-same', request);
      for (let i = 0; i < 5; i++) expect(await create('pvc-same', request)).toEqual(first);
      expect(f.storage.catalog.list({ name: 'pvc-same', service: 'local' })).toHaveLength(1);
    });

    it('answers concurrent creates of one name with one volume (the others wait with ABORTED or get it)', async () => {
      const results = await Promise.allSettled(Array.from({ length: 6 }, () => create('pvc-race')));
      const ok = results.filter((r): r is PromiseFulfilledResult<{ volume: { volume_id: string } }> => r.status === 'fulfilled');
      expect(new Set(ok.map((r) => r.value.volume.volume_id)).size).toBe(1);
      for (const r of results)
        if (r.status === 'rejected') expect(await codeOf(Promise.reject(r.reason))).toMatchObject({ code: 'ABORTED' });
      expect(await create('pvc-race')).toEqual(ok[0].value);
      expect((await f.storage.registry.get('local').driver.volumes()).filter((v) => v.name === 'pvc-race')).toHaveLength(1);
    });

    it('is ALREADY_EXISTS for the same name with an incompatible request, naming every difference', async () => {
      await create('pvc-2', {
        capacity_range: { required_bytes: String(GIB), limit_bytes: String(GIB) },
        accessibility_requirements: { requisite: [zone('zone-a')] },
      });
      const message = await refused(
        create('pvc-2', {
          capacity_range: { required_bytes: String(2 * GIB), limit_bytes: String(2 * GIB) },
          parameters: { profile: 'small' },
          accessibility_requirements: { requisite: [zone('zone-b')] },
        }),
        'ALREADY_EXISTS',
      );
      expect(message).toContain('size (1 GiB) is outside the capacity range');
      expect(message).toContain('profile "default", not "small"');
      expect(message).toContain('zone zone-a');
      await refused(create('PVC-2', { capacity_range: { required_bytes: String(GIB) } }), 'ALREADY_EXISTS', /spelt "pvc-2"/);
      await refused(create('pvc-2', { parameters: { service: 'limited' } }), 'ALREADY_EXISTS', /on service "local", not "limited"/);
    });

    it('does not take over a volume that was not created through CSI by the caller', async () => {
      await f.storage.catalog.create({ service: 'local', name: 'operator-made', size: 1, schedulers: ['csi'] });
      await refused(create('operator-made'), 'ALREADY_EXISTS', /was not created through CSI by scheduler "csi"/);
    });

    it('names every missing field at once (INVALID_ARGUMENT)', async () => {
      const message = await refused(f.client.controller.CreateVolume({}), 'INVALID_ARGUMENT');
      expect(message).toBe('CreateVolume: name is required; volume_capabilities is required');
      await refused(
        f.client.controller.CreateVolume({
          name: 'x',
          volume_capabilities: [{ mount: {} }, { access_mode: { mode: 'SINGLE_NODE_WRITER' } }],
        }),
        'INVALID_ARGUMENT',
        /volume_capabilities\[0\]\.access_mode\.mode is required; volume_capabilities\[1\] must set an access type/,
      );
    });

    it.each([
      [{ volume_capabilities: [{ block: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } }] }, /block access is not supported/],
      [{ volume_capabilities: [mode('MULTI_NODE_MULTI_WRITER')] }, /one writer per volume/],
      [
        { volume_capabilities: [mode('SINGLE_NODE_WRITER', { mount: { mount_flags: ['exec,suid'] } })] },
        /mount flags "exec,suid" are not supported/,
      ],
      [{ parameters: { colour: 'red', 'csi.storage.k8s.io/pvc/name': 'ok' } }, /unknown parameter "colour"/],
      [{ parameters: { service: 'nope' } }, /not a configured storage service \(configured: local, limited\)/],
      [{ parameters: { profile: 'gold' } }, /not a profile of service "local" \(profiles: default, small, old\)/],
      [{ parameters: { iops: 'many', encrypted: 'yes' } }, /iops must be a whole number.*encrypted must be "true" or "false"/],
      [{ parameters: { profile: 'old' } }, /deactivated/],
      [{ mutable_parameters: { tier: 'gold' } }, /mutable_parameters are not supported/],
      [
        { accessibility_requirements: { requisite: [{ segments: { 'example.com/rack': 'r1' } }] } },
        /Polly's only key is topology.polly.io\/zone/,
      ],
      [{ name: 'a/b' }, /must not contain "\/"/],
    ])('refuses %j with INVALID_ARGUMENT, changing nothing', async (extra, message) => {
      await refused(create('pvc-bad', extra), 'INVALID_ARGUMENT', message);
    });

    it('is OUT_OF_RANGE when no whole GiB within the profile fits the capacity range', async () => {
      await refused(
        create('big', { parameters: { profile: 'small' }, capacity_range: { required_bytes: String(11 * GIB) } }),
        'OUT_OF_RANGE',
        /allows 1-10 GiB/,
      );
      await refused(create('tiny', { capacity_range: { required_bytes: '1', limit_bytes: String(1024 * 1024) } }), 'OUT_OF_RANGE');
      await refused(
        create('below', { parameters: { service: 'limited' }, capacity_range: { limit_bytes: String(GIB) } }),
        'OUT_OF_RANGE',
        /allows 2-65536 GiB/,
      );
      await refused(create('inverted', { capacity_range: { required_bytes: String(2 * GIB), limit_bytes: String(GIB) } }), 'OUT_OF_RANGE');
    });

    it('creates in the zone the accessibility requirements choose (first preferred that is requisite)', async () => {
      const { volume } = await create('zoned', {
        accessibility_requirements: { requisite: [zone('zone-a'), zone('zone-b')], preferred: [zone('zone-c'), zone('zone-b')] },
      });
      expect(volume.accessible_topology).toEqual([zone('zone-b')]);
      expect(f.storage.catalog.get(volume.volume_id).availabilityZone).toBe('zone-b');
      expect((await create('zoned2', { accessibility_requirements: { requisite: [zone('zone-a')] } })).volume.accessible_topology).toEqual([
        zone('zone-a'),
      ]);
      // An existing volume satisfies a request whose requisite topologies include its zone.
      expect((await create('zoned', { accessibility_requirements: { requisite: [zone('zone-b')] } })).volume.volume_id).toBe(
        volume.volume_id,
      );
    });

    it('creates on the service the parameters name, with the profile they name', async () => {
      const { volume } = await create('on-limited', { parameters: { service: 'limited', 'csi.storage.k8s.io/pvc/namespace': 'ns' } });
      expect(volume.volume_id).toBe('limited.vfs-000001');
      expect(volume.capacity_bytes).toBe(String(16 * GIB));
    });

    it('is NOT_FOUND for a source that does not exist, PERMISSION_DENIED for one not offered to the caller', async () => {
      await refused(
        create('from-nothing', { volume_content_source: { snapshot: { snapshot_id: 'non-existing-snapshot-id' } } }),
        'NOT_FOUND',
      );
      await refused(create('from-nothing', { volume_content_source: { volume: { volume_id: 'local.vfs-999999' } } }), 'NOT_FOUND');
      const hidden = await f.storage.catalog.create({ service: 'local', name: 'hidden', size: 1, schedulers: ['marathon'] });
      await refused(
        create('clone', { volume_content_source: { volume: { volume_id: hidden.id } } }),
        'PERMISSION_DENIED',
        /polly volume offer/,
      );
    });
  });

  describe('DeleteVolume', () => {
    it('deletes the volume and its data, and says OK again and again afterwards', async () => {
      const { volume } = await create('doomed');
      await f.client.controller.DeleteVolume({ volume_id: volume.volume_id });
      expect(f.storage.catalog.find(volume.volume_id)).toBeUndefined();
      expect(fs.existsSync(`${f.vfsRoot()}/volumes/vfs-000001`)).toBe(false);
      await f.client.controller.DeleteVolume({ volume_id: volume.volume_id });
      await f.client.controller.DeleteVolume({ volume_id: 'fake-vol-id' });
      await f.client.controller.DeleteVolume({ volume_id: 'local.vfs-424242' });
    });

    it('is FAILED_PRECONDITION while the volume is published, naming the node', async () => {
      const { volume } = await create('in-use');
      await f.client.controller.ControllerPublishVolume({ volume_id: volume.volume_id, node_id: 'node-a', volume_capability: MOUNT_SNW });
      await refused(
        f.client.controller.DeleteVolume({ volume_id: volume.volume_id }),
        'FAILED_PRECONDITION',
        /published to node-a .*unpublish it/,
      );
    });

    it('never deletes a volume CSI did not create, and says who can', async () => {
      const v = await f.storage.catalog.create({ service: 'local', name: 'keep', size: 1, schedulers: ['csi'] });
      await refused(
        f.client.controller.DeleteVolume({ volume_id: v.id }),
        'FAILED_PRECONDITION',
        new RegExp(`polly volume rm ${v.id.replace('.', '\\.')}`),
      );
      const other = await f.storage.catalog.create({ service: 'local', name: 'theirs', size: 1, schedulers: ['marathon'] });
      await refused(f.client.controller.DeleteVolume({ volume_id: other.id }), 'PERMISSION_DENIED');
    });

    it('needs a volume ID', async () => {
      await refused(f.client.controller.DeleteVolume({}), 'INVALID_ARGUMENT', /volume_id is required/);
    });
  });

  describe('ValidateVolumeCapabilities', () => {
    it('confirms what Polly can serve and says why it cannot otherwise', async () => {
      const { volume } = await create('v');
      const ok = await f.client.controller.ValidateVolumeCapabilities({
        volume_id: volume.volume_id,
        volume_capabilities: [MOUNT_SNW, mode('MULTI_NODE_READER_ONLY')],
        volume_context: volume.volume_context,
        parameters: { service: 'local' },
      });
      expect(ok.confirmed.volume_capabilities.map((c: { access_mode: { mode: string } }) => c.access_mode.mode)).toEqual([
        'SINGLE_NODE_WRITER',
        'MULTI_NODE_READER_ONLY',
      ]);
      expect(ok.confirmed.volume_context).toEqual(volume.volume_context);
      const no = await f.client.controller.ValidateVolumeCapabilities({
        volume_id: volume.volume_id,
        volume_capabilities: [mode('MULTI_NODE_MULTI_WRITER')],
        volume_context: { service: 'limited' },
      });
      expect(no.confirmed).toBeNull();
      expect(no.message).toMatch(/one writer per volume.*volume_context service="limited" does not match/);
    });

    it('is NOT_FOUND for an unknown volume and INVALID_ARGUMENT without ID or capabilities', async () => {
      await refused(
        f.client.controller.ValidateVolumeCapabilities({ volume_id: 'local.vfs-000009', volume_capabilities: [MOUNT_SNW] }),
        'NOT_FOUND',
      );
      await refused(
        f.client.controller.ValidateVolumeCapabilities({}),
        'INVALID_ARGUMENT',
        /volume_id is required; volume_capabilities is required/,
      );
    });
  });

  describe('ListVolumes and ControllerGetVolume', () => {
    it("pages through the caller's volumes in ID order, each once", async () => {
      const ids: string[] = [];
      for (let i = 0; i < 7; i++) ids.push((await create(`list-${i}`)).volume.volume_id);
      await f.storage.catalog.create({ service: 'local', name: 'not-offered', size: 1, schedulers: ['marathon'] });
      const seen: string[] = [];
      let token = '';
      let pages = 0;
      do {
        const res = await f.client.controller.ListVolumes({ max_entries: 3, starting_token: token });
        expect(res.entries.length).toBeLessThanOrEqual(3);
        seen.push(...res.entries.map((e: { volume: { volume_id: string } }) => e.volume.volume_id));
        token = res.next_token;
        pages++;
      } while (token !== '');
      expect(seen).toEqual(ids);
      expect(pages).toBe(3);
      expect((await f.client.controller.ListVolumes({})).entries).toHaveLength(7);
    });

    it('is ABORTED for a token Polly did not give out and INVALID_ARGUMENT for a negative max_entries', async () => {
      await refused(f.client.controller.ListVolumes({ starting_token: 'invalid-token' }), 'ABORTED', /list again without one/);
      await refused(f.client.controller.ListVolumes({ max_entries: -1 }), 'INVALID_ARGUMENT');
    });

    it('reports the nodes a volume is published to and its condition', async () => {
      const { volume } = await create('seen', { volume_capabilities: [mode('MULTI_NODE_READER_ONLY')] });
      const ro = mode('MULTI_NODE_READER_ONLY');
      await f.client.controller.ControllerPublishVolume({
        volume_id: volume.volume_id,
        node_id: 'n1',
        volume_capability: ro,
        readonly: true,
      });
      await f.client.controller.ControllerPublishVolume({
        volume_id: volume.volume_id,
        node_id: 'n2',
        volume_capability: ro,
        readonly: true,
      });
      const got = await f.client.controller.ControllerGetVolume({ volume_id: volume.volume_id });
      expect(got.volume).toEqual(volume);
      expect(got.status.published_node_ids.sort()).toEqual(['n1', 'n2']);
      expect(got.status.volume_condition).toEqual({ abnormal: false, message: `Volume ${volume.volume_id} is attached` });
      const listed = (await f.client.controller.ListVolumes({})).entries[0];
      expect(listed.status.published_node_ids.sort()).toEqual(['n1', 'n2']);
      await refused(f.client.controller.ControllerGetVolume({ volume_id: 'local.vfs-000404' }), 'NOT_FOUND');
      await refused(f.client.controller.ControllerGetVolume({}), 'INVALID_ARGUMENT');
    });
  });

  describe('GetCapacity', () => {
    it("reports the backend's free space per service, profile and zone, with the profile's size bounds", async () => {
      const stats = fs.statfsSync(f.vfsRoot());
      const free = Math.floor((stats.bavail * stats.bsize) / GIB) * GIB;
      const any = await f.client.controller.GetCapacity({});
      expect(Number(any.available_capacity)).toBeGreaterThan(0);
      expect(Math.abs(Number(any.available_capacity) - free)).toBeLessThanOrEqual(2 * GIB);
      expect(any.maximum_volume_size).toEqual({ value: String(65536 * GIB) });
      expect(any.minimum_volume_size).toEqual({ value: String(GIB) });
      const small = await f.client.controller.GetCapacity({ parameters: { profile: 'small' }, accessible_topology: zone('zone-a') });
      expect(small.maximum_volume_size).toEqual({ value: String(10 * GIB) });
      expect(small.available_capacity).toBe(any.available_capacity); // vfs's root is shared by every zone
      expect((await f.client.controller.GetCapacity({ parameters: { service: 'limited' } })).minimum_volume_size).toEqual({
        value: String(2 * GIB),
      });
      expect((await f.client.controller.GetCapacity({ parameters: { profile: 'old' } })).available_capacity).toBe('0');
      expect((await f.client.controller.GetCapacity({ volume_capabilities: [mode('MULTI_NODE_MULTI_WRITER')] })).available_capacity).toBe(
        '0',
      );
      expect((await f.client.controller.GetCapacity({ parameters: { encrypted: 'true' } })).available_capacity).toBe('0');
    });

    it('refuses unknown parameters and topology keys', async () => {
      await refused(f.client.controller.GetCapacity({ parameters: { size: '1' } }), 'INVALID_ARGUMENT', /unknown parameter "size"/);
      await refused(
        f.client.controller.GetCapacity({ accessible_topology: { segments: { rack: 'r' } } }),
        'INVALID_ARGUMENT',
        /topology keys/,
      );
    });
  });

  it('advertises what it does (expansion: expand-requests.test.ts) and does not modify volumes (UNIMPLEMENTED)', async () => {
    const caps = await f.client.controller.ControllerGetCapabilities({});
    const types = caps.capabilities.map((c: { rpc: { type: string } }) => c.rpc.type);
    expect(types).toEqual([
      'CREATE_DELETE_VOLUME',
      'PUBLISH_UNPUBLISH_VOLUME',
      'LIST_VOLUMES',
      'GET_CAPACITY',
      'CREATE_DELETE_SNAPSHOT',
      'LIST_SNAPSHOTS',
      'CLONE_VOLUME',
      'PUBLISH_READONLY',
      'LIST_VOLUMES_PUBLISHED_NODES',
      'VOLUME_CONDITION',
      'GET_VOLUME',
      'EXPAND_VOLUME',
    ]);
    await refused(f.client.controller.ControllerModifyVolume({ volume_id: 'local.vfs-000001' }), 'UNIMPLEMENTED');
  });
});
