/**
 * Mapping `csi`: a claimed volume reaches its task as a Mesos CSI volume (Volume.Source.CSI_VOLUME
 * with `static_provisioning`), which the agent's `volume/csi` isolator stages and publishes through
 * the plugin's node service before the task starts, and unpublishes when it ends. Polly has already
 * done the controller side (created it, published it to the agent's node). Field for field as
 * Mesos 1.11's mesos.proto defines CSIVolume: the plugin's name as the agents know it, the plugin's
 * volume ID, the volume capability (mount with the profile's file system, or block; the access
 * mode from the claim: SINGLE_NODE_WRITER for RW, the service's reader mode for RO), the volume
 * context CreateVolume returned, and node stage / publish secrets by reference (resolved by the
 * agent's secret resolver; Polly never holds their values).
 */
import { volumeContextOf } from '../../drivers/csi/csi-volumes';
import { mesos } from '../mesos/generated/mesos';
import type { StorageService } from '../storage/service-registry';
import type { VolumeRecord } from '../storage/volume-record';
import { agentPluginName } from './csi-node-ids';

export interface CsiSecretRef {
  name: string;
  key?: string;
}

/** How one claimed volume reaches the task under mapping `csi`. */
export interface CsiVolumeMount {
  kind: 'csi';
  containerPath: string;
  mode: 'RW' | 'RO';
  /** Polly's volume name (for the task's labels). */
  name: string;
  pluginName: string;
  /** The plugin's volume ID. */
  volumeId: string;
  accessType: 'mount' | 'block';
  fsType: string;
  mountFlags: string[];
  accessMode: 'SINGLE_NODE_WRITER' | 'MULTI_NODE_READER_ONLY' | 'SINGLE_NODE_READER_ONLY';
  volumeContext: Record<string, string>;
  nodeStageSecrets: Record<string, CsiSecretRef>;
  nodePublishSecrets: Record<string, CsiSecretRef>;
}

const SourceType = mesos.v1.Volume.Source.Type;
const AccessMode = mesos.v1.Volume.Source.CSIVolume.VolumeCapability.AccessMode.Mode;
const SecretType = mesos.v1.Secret.Type;

export function csiVolumeMount(
  wanted: { containerPath: string; mode: 'RW' | 'RO' },
  volume: VolumeRecord,
  service: StorageService,
): CsiVolumeMount {
  const csi = service.definition.csi;
  if (!csi) throw new TypeError(`Service ${service.name} has no csi settings: mapping csi needs driver csi`);
  const profile = volume.profile !== undefined ? service.definition.profiles.find((p) => p.name === volume.profile) : undefined;
  const fsType = (volume.profile !== undefined ? csi.profiles[volume.profile]?.fsType : undefined) ?? profile?.fsType ?? csi.fsType;
  return {
    kind: 'csi',
    containerPath: wanted.containerPath,
    mode: wanted.mode,
    name: volume.name,
    pluginName: agentPluginName(service),
    volumeId: volume.driverVolumeId,
    accessType: csi.accessType,
    fsType: csi.accessType === 'block' ? '' : fsType,
    mountFlags: [...csi.mountFlags],
    accessMode: wanted.mode === 'RO' ? csi.readerMode : 'SINGLE_NODE_WRITER',
    volumeContext: volumeContextOf(volume.fields),
    nodeStageSecrets: { ...csi.nodeStageSecrets },
    nodePublishSecrets: { ...csi.nodePublishSecrets },
  };
}

function secretsByReference(refs: Record<string, CsiSecretRef>): Record<string, mesos.v1.ISecret> {
  const out: Record<string, mesos.v1.ISecret> = {};
  for (const [key, ref] of Object.entries(refs)) {
    out[key] = { type: SecretType.REFERENCE, reference: ref.key !== undefined ? { name: ref.name, key: ref.key } : { name: ref.name } };
  }
  return out;
}

/** The TaskInfo volume for a CSI mount. */
export function csiTaskVolume(m: CsiVolumeMount): mesos.v1.IVolume {
  const capability: mesos.v1.Volume.Source.CSIVolume.IVolumeCapability = {
    access_mode: { mode: AccessMode[m.accessMode] },
  };
  if (m.accessType === 'block') capability.block = {};
  else capability.mount = { ...(m.fsType ? { fs_type: m.fsType } : {}), mount_flags: m.mountFlags };
  const staticProvisioning: mesos.v1.Volume.Source.CSIVolume.IStaticProvisioning = {
    volume_id: m.volumeId,
    volume_capability: capability,
  };
  if (Object.keys(m.nodeStageSecrets).length > 0) staticProvisioning.node_stage_secrets = secretsByReference(m.nodeStageSecrets);
  if (Object.keys(m.nodePublishSecrets).length > 0) staticProvisioning.node_publish_secrets = secretsByReference(m.nodePublishSecrets);
  if (Object.keys(m.volumeContext).length > 0) staticProvisioning.volume_context = { ...m.volumeContext };
  return {
    container_path: m.containerPath,
    mode: m.mode === 'RO' ? mesos.v1.Volume.Mode.RO : mesos.v1.Volume.Mode.RW,
    source: { type: SourceType.CSI_VOLUME, csi_volume: { plugin_name: m.pluginName, static_provisioning: staticProvisioning } },
  };
}
