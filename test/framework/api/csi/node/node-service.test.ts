/**
 * CSI conformance, node: `polly csi node`'s service over its unix socket with real bind mounts (the
 * tests run as root). Every mount a test makes is unmounted by the fixture, even when it fails.
 */
import fs from 'node:fs';
import path from 'node:path';
import { codeOf, MOUNT_SNW } from '../../../../support/csi-client';
import { CsiFixture, CsiNodeHandle, makeCsiFixture, mountsUnder } from '../../../../support/csi-fixture';

const mode = (m: string, flags: string[] = []) => ({ mount: { mount_flags: flags }, access_mode: { mode: m } });

describe('CSI node service (real bind mounts)', () => {
  let f: CsiFixture;
  let node: CsiNodeHandle;

  beforeEach(async () => {
    f = await makeCsiFixture({ overrides: { 'csi.nodes': [{ id: 'node-a' }, { id: 'node-b' }] } });
    node = await f.startNode('node-a', 'zone-a');
  });

  afterEach(async () => {
    await f.dispose();
  });

  /** A volume published to `nodeId` by the controller: its ID and the publish context. */
  async function published(name: string, nodeId = 'node-a', capability: object = MOUNT_SNW, readonly = false) {
    const { volume } = await f.client.controller.CreateVolume({ name, volume_capabilities: [capability] });
    const { publish_context } = await f.client.controller.ControllerPublishVolume({
      volume_id: volume.volume_id,
      node_id: nodeId,
      volume_capability: capability,
      readonly,
    });
    return {
      id: volume.volume_id as string,
      context: publish_context as Record<string, string>,
      dir: path.join(f.vfsRoot(), 'volumes', volume.volume_id.split('.')[1]),
    };
  }

  const nodePublish = (id: string, target: string, context: Record<string, string>, extra: Record<string, unknown> = {}) =>
    node.client.node.NodePublishVolume({
      volume_id: id,
      target_path: target,
      volume_capability: MOUNT_SNW,
      publish_context: context,
      ...extra,
    });

  it('tells its node ID, zone and limits, and its capabilities', async () => {
    expect(await node.client.node.NodeGetInfo({})).toEqual({
      node_id: 'node-a',
      max_volumes_per_node: '0',
      accessible_topology: { segments: { 'topology.polly.io/zone': 'zone-a' } },
    });
    expect(await node.client.node.NodeGetCapabilities({})).toEqual({ capabilities: [{ rpc: { type: 'GET_VOLUME_STATS' }, type: 'rpc' }] });
    expect(await node.client.identity.GetPluginInfo({})).toMatchObject({
      name: 'polly.csi.storage',
      manifest: { role: 'node', 'csi-spec': '1.12.0' },
    });
    expect(await node.client.identity.Probe({})).toEqual({ ready: { value: true } });
    for (const rpc of ['NodeStageVolume', 'NodeUnstageVolume', 'NodeExpandVolume']) {
      expect((await codeOf(node.client.node[rpc]({ volume_id: 'x' }))).code).toBe('UNIMPLEMENTED');
    }
  });

  it("bind-mounts the volume at the target it creates: what the workload writes is the volume's data", async () => {
    const { id, context, dir } = await published('data');
    const target = path.join(f.targetDir('pod-1'), 'mount');
    await nodePublish(id, target, context);
    expect(mountsUnder(f.dir)).toEqual([target]);
    fs.writeFileSync(path.join(target, 'hello.txt'), 'from the workload');
    expect(fs.readFileSync(path.join(dir, 'hello.txt'), 'utf8')).toBe('from the workload');
    // Idempotent: the same call again changes nothing.
    await nodePublish(id, target, context);
    expect(mountsUnder(f.dir)).toEqual([target]);
  });

  it('publishes read-only when asked: writes fail, reads work, and a read-write publish there is ALREADY_EXISTS', async () => {
    const { id, context, dir } = await published('ro-data');
    fs.writeFileSync(path.join(dir, 'seed.txt'), 'seed');
    const target = path.join(f.targetDir('pod-ro'), 'mount');
    await nodePublish(id, target, context, { readonly: true });
    expect(fs.readFileSync(path.join(target, 'seed.txt'), 'utf8')).toBe('seed');
    expect(() => fs.writeFileSync(path.join(target, 'nope.txt'), 'x')).toThrow(/EROFS|read-only/i);
    expect(await codeOf(nodePublish(id, target, context))).toMatchObject({
      code: 'ALREADY_EXISTS',
      message: expect.stringMatching(/read-only/),
    });
    await nodePublish(id, target, context, { readonly: true });
  });

  it('mounts only what the controller published to this node, in the mode it published', async () => {
    const toB = await published('for-b', 'node-b');
    const target = path.join(f.targetDir('pod-x'), 'mount');
    expect(await codeOf(nodePublish(toB.id, target, toB.context))).toMatchObject({
      code: 'FAILED_PRECONDITION',
      message: expect.stringMatching(/published to node node-b, not to this node \(node-a\)/),
    });
    expect(await codeOf(nodePublish(toB.id, target, {}))).toMatchObject({
      code: 'FAILED_PRECONDITION',
      message: expect.stringMatching(/ControllerPublishVolume/),
    });
    const ro = await published('ro-only', 'node-a', mode('MULTI_NODE_READER_ONLY'), true);
    expect(await codeOf(nodePublish(ro.id, target, ro.context, { volume_capability: mode('MULTI_NODE_SINGLE_WRITER') }))).toMatchObject({
      code: 'FAILED_PRECONDITION',
      message: expect.stringMatching(/published to this node read-only/),
    });
    expect(mountsUnder(f.dir)).toEqual([]);
    expect(fs.existsSync(target)).toBe(false);
  });

  it('keeps a single-node volume at one target, lets a multi-node reader have several', async () => {
    const single = await published('single');
    const t1 = path.join(f.targetDir('p1'), 'm');
    const t2 = path.join(f.targetDir('p2'), 'm');
    await nodePublish(single.id, t1, single.context);
    expect(await codeOf(nodePublish(single.id, t2, single.context))).toMatchObject({
      code: 'FAILED_PRECONDITION',
      message: expect.stringContaining(`already published on this node at ${t1}`),
    });
    const multi = await published('multi', 'node-a', mode('MULTI_NODE_READER_ONLY'), true);
    const t3 = path.join(f.targetDir('p3'), 'm');
    const t4 = path.join(f.targetDir('p4'), 'm');
    await nodePublish(multi.id, t3, multi.context, { readonly: true, volume_capability: mode('MULTI_NODE_READER_ONLY') });
    await nodePublish(multi.id, t4, multi.context, { readonly: true, volume_capability: mode('MULTI_NODE_READER_ONLY') });
    expect(mountsUnder(f.dir).sort()).toEqual([t1, t3, t4].sort());
  });

  it('applies the mount flags it allows', async () => {
    const { id, context } = await published('flags');
    const target = path.join(f.targetDir('pod-flags'), 'mount');
    await nodePublish(id, target, context, { volume_capability: mode('SINGLE_NODE_WRITER', ['noexec', 'nosuid']) });
    const line = fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .find((l) => l.split(' ')[4] === target)!;
    expect(line.split(' ')[5].split(',')).toEqual(expect.arrayContaining(['noexec', 'nosuid']));
  });

  it('refuses what it cannot publish, naming the problem, and leaves nothing behind', async () => {
    const { id, context } = await published('refusals');
    const target = path.join(f.targetDir('pod-r'), 'mount');
    expect(await codeOf(node.client.node.NodePublishVolume({}))).toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: 'NodePublishVolume: volume_id is required; target_path is required; volume_capability is required',
    });
    expect((await codeOf(nodePublish(id, 'relative/path', context))).code).toBe('INVALID_ARGUMENT');
    const block = { block: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } };
    expect((await codeOf(nodePublish(id, target, context, { volume_capability: block }))).code).toBe('INVALID_ARGUMENT');
    expect((await codeOf(nodePublish('local.vfs-000404', target, context))).code).toBe('NOT_FOUND');
    expect((await codeOf(nodePublish('fake-vol-id', target, context))).code).toBe('NOT_FOUND');
    expect((await codeOf(nodePublish(id, path.join(f.dir, 'no-such-parent', 'm'), context))).code).toBe('FAILED_PRECONDITION');
    expect(mountsUnder(f.dir)).toEqual([]);
    expect(fs.existsSync(target)).toBe(false);
  });

  it('unpublishes: unmounts, removes the target it made, and says OK again afterwards', async () => {
    const { id, context, dir } = await published('bye');
    const target = path.join(f.targetDir('pod-bye'), 'mount');
    await nodePublish(id, target, context);
    fs.writeFileSync(path.join(target, 'kept.txt'), 'data stays');
    await node.client.node.NodeUnpublishVolume({ volume_id: id, target_path: target });
    expect(mountsUnder(f.dir)).toEqual([]);
    expect(fs.existsSync(target)).toBe(false);
    expect(fs.readFileSync(path.join(dir, 'kept.txt'), 'utf8')).toBe('data stays');
    await node.client.node.NodeUnpublishVolume({ volume_id: id, target_path: target });
    await node.client.node.NodeUnpublishVolume({ volume_id: 'local.vfs-000404', target_path: target });
    expect(await codeOf(node.client.node.NodeUnpublishVolume({}))).toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: 'NodeUnpublishVolume: volume_id is required; target_path is required',
    });
  });

  it('never deletes data: a target that is not empty once unmounted is left and reported', async () => {
    const { id, context } = await published('careful');
    const target = path.join(f.targetDir('pod-careful'), 'mount');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'underneath.txt'), "not the volume's");
    await nodePublish(id, target, context);
    expect(await codeOf(node.client.node.NodeUnpublishVolume({ volume_id: id, target_path: target }))).toMatchObject({
      code: 'FAILED_PRECONDITION',
      message: expect.stringMatching(/not empty after unmounting.*does not delete data/),
    });
    expect(mountsUnder(f.dir)).toEqual([]);
    expect(fs.readFileSync(path.join(target, 'underneath.txt'), 'utf8')).toBe("not the volume's");
  });

  it('leaves a mount that is not the volume alone', async () => {
    const a = await published('vol-a');
    const b = await published('vol-b');
    const target = path.join(f.targetDir('pod-a'), 'mount');
    await nodePublish(a.id, target, a.context);
    expect((await codeOf(node.client.node.NodeUnpublishVolume({ volume_id: b.id, target_path: target }))).code).toBe('FAILED_PRECONDITION');
    expect(await codeOf(nodePublish(b.id, target, b.context))).toMatchObject({
      code: 'FAILED_PRECONDITION',
      message: expect.stringMatching(/another mount/),
    });
    expect(mountsUnder(f.dir)).toEqual([target]);
  });

  it('reports bytes and inodes of a published volume, NOT_FOUND where it is not published', async () => {
    const { id, context } = await published('stats');
    const target = path.join(f.targetDir('pod-s'), 'mount');
    await nodePublish(id, target, context);
    fs.writeFileSync(path.join(target, 'blob'), Buffer.alloc(256 * 1024, 1));
    fs.mkdirSync(path.join(target, 'sub'));
    const { usage } = await node.client.node.NodeGetVolumeStats({ volume_id: id, volume_path: target });
    const bytes = usage.find((u: { unit: string }) => u.unit === 'BYTES');
    const inodes = usage.find((u: { unit: string }) => u.unit === 'INODES');
    expect(Number(bytes.used)).toBeGreaterThanOrEqual(256 * 1024);
    expect(Number(bytes.total)).toBeGreaterThan(Number(bytes.available));
    expect(inodes.used).toBe('2');
    expect(Number(inodes.total)).toBeGreaterThan(0);
    expect((await codeOf(node.client.node.NodeGetVolumeStats({ volume_id: id, volume_path: 'some/path' }))).code).toBe('NOT_FOUND');
    expect((await codeOf(node.client.node.NodeGetVolumeStats({ volume_id: id, volume_path: f.dir }))).code).toBe('NOT_FOUND');
    expect((await codeOf(node.client.node.NodeGetVolumeStats({ volume_id: 'fake-vol-id', volume_path: target }))).code).toBe('NOT_FOUND');
    expect((await codeOf(node.client.node.NodeGetVolumeStats({ volume_path: target }))).code).toBe('INVALID_ARGUMENT');
  });
});

describe('CSI node service for a CO that calls only the node service (Mesos volume/csi)', () => {
  let f: CsiFixture;

  beforeEach(async () => {
    f = await makeCsiFixture({
      overrides: { 'csi.node.requirePublishContext': false, 'csi.nodes': [{ id: 'agent-1' }, { id: 'agent-2' }] },
    });
  });

  afterEach(async () => {
    await f.dispose();
  });

  it('mounts without a publish context, still refuses one naming another node', async () => {
    const node = await f.startNode('agent-1');
    const { volume } = await f.client.controller.CreateVolume({ name: 'mesos-vol', volume_capabilities: [MOUNT_SNW] });
    const target = path.join(f.targetDir('task'), 'volume');
    await node.client.node.NodePublishVolume({ volume_id: volume.volume_id, target_path: target, volume_capability: MOUNT_SNW });
    expect(mountsUnder(f.dir)).toEqual([target]);
    await node.client.node.NodeUnpublishVolume({ volume_id: volume.volume_id, target_path: target });
    const { publish_context } = await f.client.controller.ControllerPublishVolume({
      volume_id: volume.volume_id,
      node_id: 'agent-2',
      volume_capability: MOUNT_SNW,
    });
    expect(
      (
        await codeOf(
          node.client.node.NodePublishVolume({
            volume_id: volume.volume_id,
            target_path: target,
            volume_capability: MOUNT_SNW,
            publish_context,
          }),
        )
      ).code,
    ).toBe('FAILED_PRECONDITION');
    expect(mountsUnder(f.dir)).toEqual([]);
  });
});

describe('CSI node service that stages (csi.node.stageVolumes)', () => {
  let f: CsiFixture;
  let node: CsiNodeHandle;

  beforeEach(async () => {
    f = await makeCsiFixture({ overrides: { 'csi.nodes': [{ id: 'node-a' }], 'csi.node.stageVolumes': true } });
    node = await f.startNode('node-a');
  });

  afterEach(async () => {
    await f.dispose();
  });

  it('stages at the staging path, publishes from it, refuses to publish what is not staged, unstages idempotently', async () => {
    expect((await node.client.node.NodeGetCapabilities({})).capabilities.map((c: { rpc: { type: string } }) => c.rpc.type)).toEqual([
      'GET_VOLUME_STATS',
      'STAGE_UNSTAGE_VOLUME',
    ]);
    const { volume } = await f.client.controller.CreateVolume({ name: 'staged', volume_capabilities: [MOUNT_SNW] });
    const { publish_context } = await f.client.controller.ControllerPublishVolume({
      volume_id: volume.volume_id,
      node_id: 'node-a',
      volume_capability: MOUNT_SNW,
    });
    const staging = f.targetDir('staging');
    const target = path.join(f.targetDir('targets'), 't1');
    const publish = () =>
      node.client.node.NodePublishVolume({
        volume_id: volume.volume_id,
        target_path: target,
        staging_target_path: staging,
        volume_capability: MOUNT_SNW,
        publish_context,
      });
    expect((await codeOf(publish())).code).toBe('FAILED_PRECONDITION');
    const stage = () =>
      node.client.node.NodeStageVolume({
        volume_id: volume.volume_id,
        staging_target_path: staging,
        volume_capability: MOUNT_SNW,
        publish_context,
      });
    await stage();
    await stage();
    await publish();
    fs.writeFileSync(path.join(target, 'f'), 'x');
    expect(mountsUnder(f.dir).sort()).toEqual([staging, target].sort());
    await node.client.node.NodeUnpublishVolume({ volume_id: volume.volume_id, target_path: target });
    await node.client.node.NodeUnstageVolume({ volume_id: volume.volume_id, staging_target_path: staging });
    await node.client.node.NodeUnstageVolume({ volume_id: volume.volume_id, staging_target_path: staging });
    expect(mountsUnder(f.dir)).toEqual([]);
    expect(fs.readFileSync(path.join(f.vfsRoot(), 'volumes', volume.volume_id.split('.')[1], 'f'), 'utf8')).toBe('x');
  });
});
