/**
 * CSI volumes and snapshots as Polly's driver records, and Polly's zones as CSI topology. A zone is
 * the value of the service's topology key in a topology segment (the common
 * `topology.kubernetes.io/zone` is understood too); a volume accessible from exactly one zone has
 * that zone, one accessible from several or from everywhere has none. The volume context the plugin
 * returned is kept in the record's fields (`csi.context/<key>`): Mesos' isolator hands it back to
 * the plugin's node service.
 */
import type { DriverSnapshot, DriverVolume, VolumeAttachment } from '../storage-driver';

export const GIB = 1024 ** 3;
/** The well-known zone key of Kubernetes' topology labels, understood besides the service's own. */
export const COMMON_ZONE_KEY = 'topology.kubernetes.io/zone';
/** Record fields holding the plugin's volume context. */
export const CONTEXT_FIELD_PREFIX = 'csi.context/';
/** Record field listing the zones of a volume accessible from several (comma-separated). */
export const ZONES_FIELD = 'csi.zones';

export interface CsiTopology {
  segments: Record<string, string>;
}

export interface CsiVolumeMessage {
  capacity_bytes?: string | number;
  volume_id: string;
  volume_context?: Record<string, string>;
  content_source?: { snapshot?: { snapshot_id: string } | null; volume?: { volume_id: string } | null } | null;
  accessible_topology?: CsiTopology[];
}

export interface CsiVolumeStatus {
  published_node_ids?: string[];
  volume_condition?: { abnormal: boolean; message: string } | null;
}

export interface CsiSnapshotMessage {
  size_bytes?: string | number;
  snapshot_id: string;
  source_volume_id: string;
  creation_time?: { seconds: string | number; nanos: number } | null;
  ready_to_use?: boolean;
}

/** Whole GiB from bytes (rounded up); 0 when the plugin did not say. */
export function bytesToGib(bytes: string | number | undefined): number {
  if (bytes === undefined || bytes === '' || bytes === 0 || bytes === '0') return 0;
  const big = BigInt(bytes);
  return big <= 0n ? 0 : Number((big + BigInt(GIB) - 1n) / BigInt(GIB));
}

/** The topology segments that pin a volume to `zone`. */
export function zoneSegment(topologyKey: string, zone: string): CsiTopology {
  return { segments: { [topologyKey]: zone } };
}

/** The zones a topology list names (service key first, else the common key), in order, without repeats. */
export function zonesOf(topology: readonly CsiTopology[] | undefined, topologyKey: string): string[] {
  const zones: string[] = [];
  for (const t of topology ?? []) {
    const segments = t?.segments ?? {};
    const zone = segments[topologyKey] ?? segments[COMMON_ZONE_KEY];
    if (zone !== undefined && zone !== '' && !zones.includes(zone)) zones.push(zone);
  }
  return zones;
}

export interface VolumeViewOptions {
  topologyKey: string;
  /** Polly's name for the volume, when known (CSI volumes have none of their own). */
  name?: string;
  /** GiB to report when the plugin gives no capacity. */
  sizeGiB?: number;
  /** Fields to keep (a create's `fields`). */
  fields?: Record<string, string>;
  status?: CsiVolumeStatus;
  /** Whether `status.published_node_ids` can be believed (LIST_VOLUMES_PUBLISHED_NODES). */
  publishedNodesKnown: boolean;
}

export function toDriverVolume(v: CsiVolumeMessage, options: VolumeViewOptions): DriverVolume {
  const fields: Record<string, string> = { ...(options.fields ?? {}) };
  for (const [key, value] of Object.entries(v.volume_context ?? {})) {
    if (key !== '__proto__') fields[`${CONTEXT_FIELD_PREFIX}${key}`] = String(value);
  }
  const zones = zonesOf(v.accessible_topology, options.topologyKey);
  if (zones.length > 1) fields[ZONES_FIELD] = zones.join(',');
  const attachments: VolumeAttachment[] = (options.status?.published_node_ids ?? []).map((node) => ({
    volumeId: v.volume_id,
    instanceId: { id: node },
  }));
  const out: DriverVolume = {
    id: v.volume_id,
    name: options.name ?? v.volume_context?.name ?? v.volume_id,
    size: bytesToGib(v.capacity_bytes) || options.sizeGiB || 0,
    fields,
    attachments,
  };
  if (zones.length === 1) out.availabilityZone = zones[0];
  if (options.status?.volume_condition?.abnormal) out.status = `abnormal: ${options.status.volume_condition.message}`;
  if (!options.publishedNodesKnown) out.attachmentsUnknown = true;
  return out;
}

/** The plugin's volume context, from a record's fields. */
export function volumeContextOf(fields: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (key.startsWith(CONTEXT_FIELD_PREFIX)) out[key.slice(CONTEXT_FIELD_PREFIX.length)] = value;
  }
  return out;
}

export function toDriverSnapshot(s: CsiSnapshotMessage, name: string): DriverSnapshot {
  const seconds = Number(s.creation_time?.seconds ?? 0);
  const nanos = Number(s.creation_time?.nanos ?? 0);
  return {
    id: s.snapshot_id,
    name,
    volumeId: s.source_volume_id,
    volumeSize: bytesToGib(s.size_bytes),
    startTime: new Date(seconds * 1000 + Math.floor(nanos / 1e6)).toISOString(),
    status: s.ready_to_use === false ? 'pending' : 'ready',
    fields: {},
  };
}
