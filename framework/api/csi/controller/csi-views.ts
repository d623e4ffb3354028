/**
 * Polly records as CSI messages, and the labels that mark a volume as made through CSI. The CSI
 * volume ID is the Polly volume ID (`<service>.<driver volume ID>`), the snapshot ID is built the
 * same way from the snapshot's service and driver ID, so later calls find the service from the ID.
 */
import type { DriverSnapshot } from '../../../../drivers/storage-driver';
import type { ClaimRecord } from '../../../storage/claim-record';
import { formatVolumeId } from '../../../storage/volume-id';
import type { VolumeRecord } from '../../../storage/volume-record';
import type { SnapshotOut, VolumeConditionOut, VolumeOut } from '../csi-messages';
import { gibToBytes } from './csi-sizes';
import { zoneTopology } from './csi-topology';

/** The scheduler that created the volume through CSI (only it may delete it through CSI). */
export const CREATED_BY_LABEL = 'csi.polly.io/created-by';
/** `snapshot:<snapshot ID>` or `volume:<volume ID>` for a volume made from existing data. */
export const SOURCE_LABEL = 'csi.polly.io/source';

/** Claims made through CSI carry this task ID: the publication to one node (CSI has no tasks). */
export function publicationTaskId(nodeId: string): string {
  return `csi:${nodeId}`;
}

export function isPublication(claim: ClaimRecord): boolean {
  return claim.taskId !== undefined && claim.taskId.startsWith('csi:');
}

export function volumeView(volume: VolumeRecord): VolumeOut {
  const out: VolumeOut = {
    capacity_bytes: gibToBytes(volume.size),
    volume_id: volume.id,
    volume_context: { service: volume.service, name: volume.name },
    accessible_topology: zoneTopology(volume.availabilityZone),
  };
  const source = volume.labels[SOURCE_LABEL];
  if (source?.startsWith('snapshot:')) out.content_source = { snapshot: { snapshot_id: source.slice('snapshot:'.length) } };
  else if (source?.startsWith('volume:')) out.content_source = { volume: { volume_id: source.slice('volume:'.length) } };
  return out;
}

/** The nodes a volume is published to: every live claim's instance (a node ID, or a Mesos agent's host name). */
export function publishedNodeIds(claims: readonly ClaimRecord[]): string[] {
  return [...new Set(claims.map((c) => (isPublication(c) ? c.taskId!.slice('csi:'.length) : c.instanceId)))];
}

export function volumeCondition(volume: VolumeRecord): VolumeConditionOut {
  switch (volume.status) {
    case 'missing':
      return {
        abnormal: true,
        message: `Volume ${volume.id} is missing on its backend (service ${volume.service}); an operator must look at it`,
      };
    case 'removing':
      return { abnormal: true, message: `Volume ${volume.id} is being removed` };
    default:
      return { abnormal: false, message: `Volume ${volume.id} is ${volume.status}` };
  }
}

export function snapshotView(service: string, snapshot: DriverSnapshot): SnapshotOut {
  const ms = Date.parse(snapshot.startTime);
  const at = Number.isFinite(ms) ? ms : 0;
  return {
    size_bytes: gibToBytes(snapshot.volumeSize),
    snapshot_id: formatVolumeId(service, snapshot.id),
    source_volume_id: formatVolumeId(service, snapshot.volumeId),
    creation_time: { seconds: Math.floor(at / 1000), nanos: (at % 1000) * 1_000_000 },
    ready_to_use: !/pending|creating|error/i.test(snapshot.status),
  };
}
