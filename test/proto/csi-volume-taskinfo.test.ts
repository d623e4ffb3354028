/**
 * The CSI_VOLUME a task gets under mapping `csi`, checked field by field against Mesos 1.11's
 * include/mesos/v1/mesos.proto (Volume.Source.CSIVolume and its StaticProvisioning,
 * VolumeCapability and Secret), in both encodings the scheduler API uses: protobuf (every tag and
 * enum number on the wire, read back without Polly's generated decoder) and JSON (Mesos' field
 * names, enum names, maps as objects).
 */
import { Reader } from 'protobufjs/minimal';
import { fromMesosJson, toMesosJson } from '../../framework/mesos/codec';
import { mesos } from '../../framework/mesos/generated/mesos';
import type { AppSpec } from '../../framework/scheduler/app-spec';
import type { CsiVolumeMount } from '../../framework/scheduler/csi-volume-mapping';
import { buildTaskInfo } from '../../framework/scheduler/task-builder';

/** Field numbers of Mesos 1.11's mesos.proto (include/mesos/v1/mesos.proto). */
const MESOS = {
  TaskInfo: { container: 9 },
  ContainerInfo: { type: 1, volumes: 2 },
  Volume: { container_path: 1, mode: 3, source: 5 },
  VolumeMode: { RW: 1, RO: 2 },
  Source: { type: 1, csi_volume: 6 },
  SourceType: { CSI_VOLUME: 5 },
  CSIVolume: { plugin_name: 1, static_provisioning: 2 },
  StaticProvisioning: { volume_id: 1, volume_capability: 2, node_stage_secrets: 3, node_publish_secrets: 4, volume_context: 5 },
  VolumeCapability: { block: 1, mount: 2, access_mode: 3 },
  MountVolume: { fs_type: 1, mount_flags: 2 },
  AccessMode: { mode: 1 },
  AccessModeMode: { SINGLE_NODE_WRITER: 1, SINGLE_NODE_READER_ONLY: 2, MULTI_NODE_READER_ONLY: 3 },
  Secret: { type: 1, reference: 2 },
  SecretType: { REFERENCE: 1 },
  Reference: { name: 1, key: 2 },
  MapEntry: { key: 1, value: 2 },
};

type Field = { field: number; varint?: number; bytes?: Uint8Array };

/** The fields of one encoded message, in wire order (varints as numbers, length-delimited as bytes). */
function fields(bytes: Uint8Array): Field[] {
  const reader = Reader.create(bytes);
  const out: Field[] = [];
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    const wire = tag & 7;
    if (wire === 0) out.push({ field: tag >>> 3, varint: reader.uint32() });
    else if (wire === 2) out.push({ field: tag >>> 3, bytes: reader.bytes() });
    else throw new Error(`unexpected wire type ${wire}`);
  }
  return out;
}
const one = (fs: Field[], n: number): Field => {
  const found = fs.filter((f) => f.field === n);
  expect(found).toHaveLength(1);
  return found[0];
};
const text = (f: Field): string => Buffer.from(f.bytes!).toString('utf8');
/** A map field as Mesos encodes it: repeated entries {1: key, 2: value}. */
const mapOf = (fs: Field[], n: number): Map<string, Uint8Array> =>
  new Map(fs.filter((f) => f.field === n).map((f) => [text(one(fields(f.bytes!), 1)), one(fields(f.bytes!), 2).bytes!]));

const SPEC: AppSpec = { id: 'web', cmd: 'sleep 1', cpus: 0.1, mem: 32, disk: 0, instances: 1 } as AppSpec;

const rw: CsiVolumeMount = {
  kind: 'csi',
  containerPath: 'data',
  mode: 'RW',
  name: 'web-data',
  pluginName: 'polly.csi.storage',
  volumeId: 'local.vfs-000001',
  accessType: 'mount',
  fsType: 'xfs',
  mountFlags: ['noatime'],
  accessMode: 'SINGLE_NODE_WRITER',
  volumeContext: { name: 'polly-disks-web-data', service: 'local' },
  nodeStageSecrets: { password: { name: '/polly/disks/password', key: 'value' } },
  nodePublishSecrets: { token: { name: 'publish-token' } },
};
const ro: CsiVolumeMount = {
  ...rw,
  containerPath: '/shared',
  mode: 'RO',
  name: 'shared',
  volumeId: 'vol-2',
  accessType: 'block',
  fsType: '',
  mountFlags: [],
  accessMode: 'MULTI_NODE_READER_ONLY',
  volumeContext: {},
  nodeStageSecrets: {},
  nodePublishSecrets: {},
};

function taskInfo(): mesos.v1.ITaskInfo {
  return buildTaskInfo({ taskId: 'web.0.x', agentId: 'S1', appId: 'web', instance: 0, spec: SPEC, resources: [], mounts: [rw, ro] });
}

describe('the CSI_VOLUME TaskInfo of mapping csi', () => {
  it('is on the wire exactly as mesos.proto numbers it', () => {
    const bytes = mesos.v1.TaskInfo.encode(mesos.v1.TaskInfo.fromObject(taskInfo() as unknown as { [k: string]: unknown })).finish();
    const container = fields(one(fields(bytes), MESOS.TaskInfo.container).bytes!);
    expect(one(container, MESOS.ContainerInfo.type).varint).toBe(2 /* MESOS */);
    const [first, second] = container.filter((f) => f.field === MESOS.ContainerInfo.volumes).map((f) => fields(f.bytes!));

    // The read-write mount volume.
    expect(text(one(first, MESOS.Volume.container_path))).toBe('data');
    expect(one(first, MESOS.Volume.mode).varint).toBe(MESOS.VolumeMode.RW);
    const source = fields(one(first, MESOS.Volume.source).bytes!);
    expect(one(source, MESOS.Source.type).varint).toBe(MESOS.SourceType.CSI_VOLUME);
    const csi = fields(one(source, MESOS.Source.csi_volume).bytes!);
    expect(text(one(csi, MESOS.CSIVolume.plugin_name))).toBe('polly.csi.storage');
    const sp = fields(one(csi, MESOS.CSIVolume.static_provisioning).bytes!);
    expect(text(one(sp, MESOS.StaticProvisioning.volume_id))).toBe('local.vfs-000001');
    const capability = fields(one(sp, MESOS.StaticProvisioning.volume_capability).bytes!);
    expect(capability.some((f) => f.field === MESOS.VolumeCapability.block)).toBe(false);
    const mount = fields(one(capability, MESOS.VolumeCapability.mount).bytes!);
    expect(text(one(mount, MESOS.MountVolume.fs_type))).toBe('xfs');
    expect(mount.filter((f) => f.field === MESOS.MountVolume.mount_flags).map(text)).toEqual(['noatime']);
    const accessMode = fields(one(capability, MESOS.VolumeCapability.access_mode).bytes!);
    expect(one(accessMode, MESOS.AccessMode.mode).varint).toBe(MESOS.AccessModeMode.SINGLE_NODE_WRITER);
    const stage = mapOf(sp, MESOS.StaticProvisioning.node_stage_secrets);
    const secret = fields(stage.get('password')!);
    expect(one(secret, MESOS.Secret.type).varint).toBe(MESOS.SecretType.REFERENCE);
    const reference = fields(one(secret, MESOS.Secret.reference).bytes!);
    expect([text(one(reference, MESOS.Reference.name)), text(one(reference, MESOS.Reference.key))]).toEqual([
      '/polly/disks/password',
      'value',
    ]);
    const publish = fields(mapOf(sp, MESOS.StaticProvisioning.node_publish_secrets).get('token')!);
    expect(fields(one(publish, MESOS.Secret.reference).bytes!).map((f) => f.field)).toEqual([MESOS.Reference.name]);
    const context = mapOf(sp, MESOS.StaticProvisioning.volume_context);
    expect(Object.fromEntries([...context].map(([k, v]) => [k, Buffer.from(v).toString()]))).toEqual(rw.volumeContext);

    // The read-only block volume: RO, a block capability, the reader mode, no secrets, no context.
    expect(one(second, MESOS.Volume.mode).varint).toBe(MESOS.VolumeMode.RO);
    const sp2 = fields(
      one(fields(one(fields(one(second, MESOS.Volume.source).bytes!), MESOS.Source.csi_volume).bytes!), MESOS.CSIVolume.static_provisioning)
        .bytes!,
    );
    expect(sp2.map((f) => f.field)).toEqual([MESOS.StaticProvisioning.volume_id, MESOS.StaticProvisioning.volume_capability]);
    const capability2 = fields(one(sp2, MESOS.StaticProvisioning.volume_capability).bytes!);
    expect(one(capability2, MESOS.VolumeCapability.block).bytes).toHaveLength(0);
    expect(one(fields(one(capability2, MESOS.VolumeCapability.access_mode).bytes!), MESOS.AccessMode.mode).varint).toBe(
      MESOS.AccessModeMode.MULTI_NODE_READER_ONLY,
    );
  });

  it('is in JSON exactly as Mesos writes it, and reads back the same', () => {
    const json = toMesosJson(mesos.v1.TaskInfo, taskInfo());
    const volumes = (json.container as { volumes: unknown[] }).volumes;
    expect(volumes[0]).toEqual({
      container_path: 'data',
      mode: 'RW',
      source: {
        type: 'CSI_VOLUME',
        csi_volume: {
          plugin_name: 'polly.csi.storage',
          static_provisioning: {
            volume_id: 'local.vfs-000001',
            volume_capability: { mount: { fs_type: 'xfs', mount_flags: ['noatime'] }, access_mode: { mode: 'SINGLE_NODE_WRITER' } },
            node_stage_secrets: { password: { type: 'REFERENCE', reference: { name: '/polly/disks/password', key: 'value' } } },
            node_publish_secrets: { token: { type: 'REFERENCE', reference: { name: 'publish-token' } } },
            volume_context: { name: 'polly-disks-web-data', service: 'local' },
          },
        },
      },
    });
    expect(volumes[1]).toEqual({
      container_path: '/shared',
      mode: 'RO',
      source: {
        type: 'CSI_VOLUME',
        csi_volume: {
          plugin_name: 'polly.csi.storage',
          static_provisioning: { volume_id: 'vol-2', volume_capability: { block: {}, access_mode: { mode: 'MULTI_NODE_READER_ONLY' } } },
        },
      },
    });
    // Mesos' JSON (as a master or an agent would send it back) decodes to the same protobuf bytes.
    const fromJson = fromMesosJson(mesos.v1.TaskInfo, JSON.parse(JSON.stringify(json)));
    const direct = mesos.v1.TaskInfo.fromObject(taskInfo() as unknown as { [k: string]: unknown });
    expect(Buffer.from(mesos.v1.TaskInfo.encode(fromJson).finish())).toEqual(Buffer.from(mesos.v1.TaskInfo.encode(direct).finish()));
  });
});
