/**
 * The local agent's volume/csi isolator against a real CSI node plugin (Polly's `polly csi node`,
 * in-process, bind-mounting from a vfs root): publication under the agent's work dir laid out as
 * Mesos lays it out, a volume shared by two containers unpublished with the last, Mesos' refusals,
 * and an agent restart that unpublishes what containers of the earlier run left published.
 */
import fs from 'node:fs';
import path from 'node:path';
import { mesos } from '../../../../../framework/mesos/generated/mesos';
import { silentLogger } from '../../../../../framework/shared/logger';
import { encodeVolumeId } from '../../../../../framework/mesos/local/agent/csi-node-volumes';
import { CsiVolumeIsolator } from '../../../../../framework/mesos/local/agent/csi-volume-isolator';
import { CsiFixture, makeCsiFixture, mountsUnder } from '../../../../support/csi-fixture';

let f: CsiFixture;
let volumeId: string;
let work: string;
let configDir: string;
const isolators: CsiVolumeIsolator[] = [];

function isolator(): CsiVolumeIsolator {
  const i = new CsiVolumeIsolator({ workDir: work, pluginConfigDir: configDir, logger: silentLogger });
  isolators.push(i);
  return i;
}

function csiVolume(
  containerPath: string,
  id: string,
  mode: 'RW' | 'RO' = 'RW',
  access = 'SINGLE_NODE_WRITER',
  plugin = 'polly.csi.storage',
): mesos.v1.IVolume {
  return mesos.v1.Volume.fromObject({
    container_path: containerPath,
    mode,
    source: {
      type: 'CSI_VOLUME',
      csi_volume: {
        plugin_name: plugin,
        static_provisioning: { volume_id: id, volume_capability: { mount: {}, access_mode: { mode: access } } },
      },
    },
  });
}

beforeEach(async () => {
  f = await makeCsiFixture({ overrides: { 'csi.node.requirePublishContext': false } });
  const node = await f.startNode('node0', 'zone-a');
  volumeId = (await f.storage.catalog.create({ service: 'local', name: 'iso', size: 1 })).id;
  work = path.join(f.dir, 'agent');
  configDir = path.join(f.dir, 'csi-plugins');
  fs.mkdirSync(configDir, { recursive: true });
  fs.mkdirSync(path.join(configDir, 'ignored-directory'));
  fs.writeFileSync(
    path.join(configDir, 'polly.json'),
    JSON.stringify({ type: 'polly.csi.storage', endpoints: [{ csi_service: 'NODE_SERVICE', endpoint: node.running.endpoint }] }),
  );
});

afterEach(async () => {
  for (const i of isolators.splice(0)) i.close();
  await f.dispose();
});

it('publishes under <work_dir>/csi/<type>/<name>/mounts/<volume>/target and unpublishes with the last container using it', async () => {
  const a = isolator();
  const targets = await a.prepare('container-1', [csiVolume('data', volumeId)]);
  const target = path.join(work, 'csi', 'polly.csi.storage', 'default', 'mounts', encodeVolumeId(volumeId), 'target');
  expect(targets).toEqual(new Map([['data', target]]));
  expect(mountsUnder(work)).toEqual([target]);
  fs.writeFileSync(path.join(target, 'file'), 'written through the publication');
  expect(JSON.parse(fs.readFileSync(path.join(work, 'isolators', 'volume', 'csi', 'container-1', 'volumes'), 'utf8'))).toEqual({
    volumes: [{ plugin_name: 'polly.csi.storage', id: volumeId }],
  });
  expect(
    JSON.parse(
      fs.readFileSync(path.join(work, 'csi', 'polly.csi.storage', 'default', 'volumes', encodeVolumeId(volumeId), 'volume.state'), 'utf8'),
    ),
  ).toMatchObject({
    state: 'PUBLISHED',
    readonly: false,
    pre_provisioned: true,
  });
  // A second container on the agent shares the publication.
  expect(await a.prepare('container-2', [csiVolume('again', volumeId)])).toEqual(new Map([['again', target]]));
  await a.cleanup('container-1');
  expect(mountsUnder(work)).toEqual([target]);
  await a.cleanup('container-2');
  expect(mountsUnder(work)).toEqual([]);
  expect(fs.existsSync(path.join(work, 'csi', 'polly.csi.storage', 'default', 'mounts', encodeVolumeId(volumeId)))).toBe(false);
  expect(fs.readdirSync(path.join(work, 'isolators', 'volume', 'csi'))).toEqual([]);
  // The data stayed where the plugin keeps it.
  const record = f.storage.catalog.get(volumeId);
  const dir = f.storage.registry.get('local').driver.hostPath!({
    id: record.driverVolumeId,
    name: record.name,
    size: 1,
    fields: {},
    attachments: [],
  });
  expect(fs.readFileSync(path.join(dir, 'file'), 'utf8')).toBe('written through the publication');
});

it("refuses what Mesos' isolator refuses, with its messages", async () => {
  const a = isolator();
  await expect(a.prepare('c', [csiVolume('data', volumeId, 'RW', 'MULTI_NODE_READER_ONLY')])).rejects.toThrow(
    `Cannot use the read-only volume '${volumeId}' in read-write mode`,
  );
  await expect(a.prepare('c', [csiVolume('a', volumeId), csiVolume('b', volumeId)])).rejects.toThrow(
    `Found duplicate CSI volume with plugin 'polly.csi.storage' and volume ID '${volumeId}'`,
  );
  await expect(a.prepare('c', [csiVolume('a', volumeId, 'RW', 'SINGLE_NODE_WRITER', 'other.plugin')])).rejects.toThrow(
    `Failed to initialize CSI plugin 'other.plugin': No valid CSI plugin configurations found in '${configDir}'`,
  );
  // A volume the plugin does not have: the node's answer, naming the call.
  await expect(a.prepare('d', [csiVolume('a', 'local.vfs-999999')])).rejects.toThrow(
    /Failed to call '\/csi.v1.Node\/NodePublishVolume' for volume 'local.vfs-999999' of CSI plugin 'polly.csi.storage': NOT_FOUND/,
  );
  expect(mountsUnder(work)).toEqual([]);
});

it('a restarted agent unpublishes the volumes of containers an earlier run left behind', async () => {
  await isolator().prepare('left-behind', [csiVolume('data', volumeId, 'RO', 'MULTI_NODE_READER_ONLY')]);
  expect(mountsUnder(work)).toHaveLength(1);
  // The agent dies; its successor over the same work dir recovers.
  await isolator().recover();
  expect(mountsUnder(work)).toEqual([]);
  expect(fs.readdirSync(path.join(work, 'isolators', 'volume', 'csi'))).toEqual([]);
});

it('with a plugin that stages: NodeStageVolume at <mounts>/<volume>/staging first, NodeUnstageVolume after the last unpublish', async () => {
  const staging = await makeCsiFixture({ overrides: { 'csi.node.requirePublishContext': false, 'csi.node.stageVolumes': true } });
  try {
    const node = await staging.startNode('node0');
    const id = (await staging.storage.catalog.create({ service: 'local', name: 'staged', size: 1 })).id;
    const dir = path.join(staging.dir, 'csi-plugins');
    fs.mkdirSync(dir);
    fs.writeFileSync(
      path.join(dir, 'p.json'),
      JSON.stringify({ type: 'polly.csi.storage', endpoints: [{ csi_service: 'NODE_SERVICE', endpoint: node.running.endpoint }] }),
    );
    const agentWork = path.join(staging.dir, 'agent');
    const i = new CsiVolumeIsolator({ workDir: agentWork, pluginConfigDir: dir, logger: silentLogger });
    isolators.push(i);
    const mounts = path.join(agentWork, 'csi', 'polly.csi.storage', 'default', 'mounts', encodeVolumeId(id));
    await i.prepare('c1', [csiVolume('data', id)]);
    expect(mountsUnder(agentWork).sort()).toEqual([path.join(mounts, 'staging'), path.join(mounts, 'target')]);
    await i.cleanup('c1');
    expect(mountsUnder(agentWork)).toEqual([]);
    expect(fs.existsSync(mounts)).toBe(false);
  } finally {
    await staging.dispose();
  }
});
