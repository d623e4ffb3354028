/**
 * Snapshots and clones through CSI, with the data checked through real bind mounts: a snapshot
 * keeps the data as it was when cut, a volume made from it starts with that data, a clone starts
 * with the source's data as it is, and none of them shares writes with another.
 */
import fs from 'node:fs';
import path from 'node:path';
import { codeOf, GIB, MOUNT_SNW } from '../../../support/csi-client';
import { CsiFixture, CsiNodeHandle, makeCsiFixture } from '../../../support/csi-fixture';

describe('CSI snapshots and clones, data through bind mounts', () => {
  let f: CsiFixture;
  let node: CsiNodeHandle;

  beforeEach(async () => {
    f = await makeCsiFixture({ overrides: { 'csi.nodes': [{ id: 'node-a' }] } });
    node = await f.startNode('node-a');
  });

  afterEach(async () => {
    await f.dispose();
  });

  async function create(name: string, extra: Record<string, unknown> = {}): Promise<string> {
    const { volume } = await f.client.controller.CreateVolume({ name, volume_capabilities: [MOUNT_SNW], ...extra });
    return volume.volume_id as string;
  }

  /** Publishes the volume to node-a and mounts it; returns the mount. */
  async function mount(volumeId: string, readonly = false): Promise<string> {
    const { publish_context } = await f.client.controller.ControllerPublishVolume({
      volume_id: volumeId,
      node_id: 'node-a',
      volume_capability: MOUNT_SNW,
      readonly,
    });
    const target = path.join(f.targetDir(volumeId), 'mount');
    await node.client.node.NodePublishVolume({
      volume_id: volumeId,
      target_path: target,
      volume_capability: MOUNT_SNW,
      readonly,
      publish_context,
    });
    return target;
  }

  async function unmount(volumeId: string, target: string): Promise<void> {
    await node.client.node.NodeUnpublishVolume({ volume_id: volumeId, target_path: target });
    await f.client.controller.ControllerUnpublishVolume({ volume_id: volumeId, node_id: 'node-a' });
  }

  it('restores a snapshot into a new volume and clones a volume, each with its own copy of the data', async () => {
    const source = await create('source', { capacity_range: { required_bytes: String(2 * GIB) } });
    const live = await mount(source);
    fs.mkdirSync(path.join(live, 'db'));
    fs.writeFileSync(path.join(live, 'db', 'rows.txt'), 'v1\n');

    const { snapshot } = await f.client.controller.CreateSnapshot({ source_volume_id: source, name: 'before-v2' });
    fs.appendFileSync(path.join(live, 'db', 'rows.txt'), 'v2\n');

    const restored = await create('restored', {
      volume_content_source: { snapshot: { snapshot_id: snapshot.snapshot_id } },
      capacity_range: { required_bytes: String(3 * GIB) },
    });
    const cloned = await create('cloned', { volume_content_source: { volume: { volume_id: source } } });
    expect(f.storage.catalog.get(restored)).toMatchObject({
      size: 3,
      labels: { 'csi.polly.io/source': `snapshot:${snapshot.snapshot_id}` },
    });
    expect(f.storage.catalog.get(cloned)).toMatchObject({ size: 2, labels: { 'csi.polly.io/source': `volume:${source}` } });
    const listed = await f.client.controller.ControllerGetVolume({ volume_id: restored });
    expect(listed.volume.content_source).toMatchObject({ snapshot: { snapshot_id: snapshot.snapshot_id } });

    const restoredMount = await mount(restored, true);
    const clonedMount = await mount(cloned);
    expect(fs.readFileSync(path.join(restoredMount, 'db', 'rows.txt'), 'utf8')).toBe('v1\n');
    expect(fs.readFileSync(path.join(clonedMount, 'db', 'rows.txt'), 'utf8')).toBe('v1\nv2\n');

    // Separate copies: writing one changes no other.
    fs.appendFileSync(path.join(clonedMount, 'db', 'rows.txt'), 'clone\n');
    fs.appendFileSync(path.join(live, 'db', 'rows.txt'), 'v3\n');
    expect(fs.readFileSync(path.join(clonedMount, 'db', 'rows.txt'), 'utf8')).toBe('v1\nv2\nclone\n');
    expect(fs.readFileSync(path.join(live, 'db', 'rows.txt'), 'utf8')).toBe('v1\nv2\nv3\n');
    expect(fs.readFileSync(path.join(restoredMount, 'db', 'rows.txt'), 'utf8')).toBe('v1\n');

    // Idempotent: the same creates again are the same volumes.
    expect(
      await create('restored', {
        volume_content_source: { snapshot: { snapshot_id: snapshot.snapshot_id } },
        capacity_range: { required_bytes: String(3 * GIB) },
      }),
    ).toBe(restored);
    expect(await create('cloned', { volume_content_source: { volume: { volume_id: source } } })).toBe(cloned);
    expect((await codeOf(f.client.controller.CreateVolume({ name: 'cloned', volume_capabilities: [MOUNT_SNW] }))).code).toBe(
      'ALREADY_EXISTS',
    );

    // Deleting the source keeps its snapshot usable (snapshots are independent of their volume).
    await unmount(source, live);
    await f.client.controller.DeleteVolume({ volume_id: source });
    const again = await create('again', { volume_content_source: { snapshot: { snapshot_id: snapshot.snapshot_id } } });
    const againMount = await mount(again, true);
    expect(fs.readFileSync(path.join(againMount, 'db', 'rows.txt'), 'utf8')).toBe('v1\n');
    expect((await f.client.controller.ListSnapshots({ snapshot_id: snapshot.snapshot_id })).entries).toHaveLength(1);
  });

  it('refuses sizes a clone or restore cannot have (OUT_OF_RANGE) and sources on another service', async () => {
    const source = await create('src', { capacity_range: { required_bytes: String(2 * GIB) } });
    const { snapshot } = await f.client.controller.CreateSnapshot({ source_volume_id: source, name: 'snap' });
    expect(
      (
        await codeOf(
          create('bigger-clone', {
            volume_content_source: { volume: { volume_id: source } },
            capacity_range: { required_bytes: String(3 * GIB) },
          }),
        )
      ).code,
    ).toBe('OUT_OF_RANGE');
    expect(
      (
        await codeOf(
          create('smaller', {
            volume_content_source: { snapshot: { snapshot_id: snapshot.snapshot_id } },
            capacity_range: { limit_bytes: String(GIB) },
          }),
        )
      ).code,
    ).toBe('OUT_OF_RANGE');
    expect(
      await codeOf(
        create('elsewhere', {
          parameters: { service: 'limited' },
          volume_content_source: { snapshot: { snapshot_id: snapshot.snapshot_id } },
        }),
      ),
    ).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/set parameters.service to local/) });
    expect(f.storage.catalog.size).toBe(1);
  });
});
