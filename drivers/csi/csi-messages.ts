/**
 * The CSI messages as Polly handles them: requests in the shape csi-proto.ts's loader options give
 * (every scalar, list and map present; unset messages null; int64 as decimal strings; enums by
 * name), responses as plain objects the encoder accepts (absent fields take their defaults).
 * Names and fields follow proto/csi/v1/csi.proto.
 */

export type StringMap = Record<string, string>;
/** int64 as the loader hands it over (a decimal string); responses may use numbers. */
export type Int64 = string;
export type Int64Out = number | string;

export type AccessModeName =
  | 'UNKNOWN'
  | 'SINGLE_NODE_WRITER'
  | 'SINGLE_NODE_READER_ONLY'
  | 'MULTI_NODE_READER_ONLY'
  | 'MULTI_NODE_SINGLE_WRITER'
  | 'MULTI_NODE_MULTI_WRITER'
  | 'SINGLE_NODE_SINGLE_WRITER'
  | 'SINGLE_NODE_MULTI_WRITER';

export interface MountVolume {
  fs_type: string;
  mount_flags: string[];
  volume_mount_group: string;
}

export interface VolumeCapability {
  block: Record<string, never> | null;
  mount: MountVolume | null;
  access_mode: { mode: AccessModeName } | null;
  /** Which member of the oneof is set. */
  access_type?: 'block' | 'mount';
}

export interface CapacityRange {
  required_bytes: Int64;
  limit_bytes: Int64;
}

export interface Topology {
  segments: StringMap;
}

export interface TopologyRequirement {
  requisite: Topology[];
  preferred: Topology[];
}

export interface VolumeContentSource {
  snapshot: { snapshot_id: string } | null;
  volume: { volume_id: string } | null;
  type?: 'snapshot' | 'volume';
}

export interface VolumeOut {
  capacity_bytes: Int64Out;
  volume_id: string;
  volume_context: StringMap;
  content_source?: { snapshot: { snapshot_id: string } } | { volume: { volume_id: string } };
  accessible_topology: Array<{ segments: StringMap }>;
}

export interface VolumeConditionOut {
  abnormal: boolean;
  message: string;
}

export interface SnapshotOut {
  size_bytes: Int64Out;
  snapshot_id: string;
  source_volume_id: string;
  creation_time: { seconds: Int64Out; nanos: number };
  ready_to_use: boolean;
}

// ---- Controller requests ----

export interface CreateVolumeRequest {
  name: string;
  capacity_range: CapacityRange | null;
  volume_capabilities: VolumeCapability[];
  parameters: StringMap;
  secrets: StringMap;
  volume_content_source: VolumeContentSource | null;
  accessibility_requirements: TopologyRequirement | null;
  mutable_parameters: StringMap;
}

export interface DeleteVolumeRequest {
  volume_id: string;
  secrets: StringMap;
}

export interface ControllerPublishVolumeRequest {
  volume_id: string;
  node_id: string;
  volume_capability: VolumeCapability | null;
  readonly: boolean;
  secrets: StringMap;
  volume_context: StringMap;
}

export interface ControllerUnpublishVolumeRequest {
  volume_id: string;
  node_id: string;
  secrets: StringMap;
}

export interface ValidateVolumeCapabilitiesRequest {
  volume_id: string;
  volume_context: StringMap;
  volume_capabilities: VolumeCapability[];
  parameters: StringMap;
  secrets: StringMap;
  mutable_parameters: StringMap;
}

export interface ListRequest {
  max_entries: number;
  starting_token: string;
}

export interface ControllerGetVolumeRequest {
  volume_id: string;
}

export interface GetCapacityRequest {
  volume_capabilities: VolumeCapability[];
  parameters: StringMap;
  accessible_topology: Topology | null;
}

export interface CreateSnapshotRequest {
  source_volume_id: string;
  name: string;
  secrets: StringMap;
  parameters: StringMap;
}

export interface DeleteSnapshotRequest {
  snapshot_id: string;
  secrets: StringMap;
}

export interface ListSnapshotsRequest extends ListRequest {
  source_volume_id: string;
  snapshot_id: string;
  secrets: StringMap;
}

export interface GetSnapshotRequest {
  snapshot_id: string;
  secrets: StringMap;
}

export interface ControllerExpandVolumeRequest {
  volume_id: string;
  capacity_range: CapacityRange | null;
  volume_capability: VolumeCapability | null;
}

export interface ControllerModifyVolumeRequest {
  volume_id: string;
  mutable_parameters: StringMap;
}

// ---- Node requests ----

export interface NodeStageVolumeRequest {
  volume_id: string;
  publish_context: StringMap;
  staging_target_path: string;
  volume_capability: VolumeCapability | null;
  volume_context: StringMap;
}

export interface NodeUnstageVolumeRequest {
  volume_id: string;
  staging_target_path: string;
}

export interface NodePublishVolumeRequest {
  volume_id: string;
  publish_context: StringMap;
  staging_target_path: string;
  target_path: string;
  volume_capability: VolumeCapability | null;
  readonly: boolean;
  secrets: StringMap;
  volume_context: StringMap;
}

export interface NodeUnpublishVolumeRequest {
  volume_id: string;
  target_path: string;
}

export interface NodeGetVolumeStatsRequest {
  volume_id: string;
  volume_path: string;
  staging_target_path: string;
}

export interface NodeExpandVolumeRequest {
  volume_id: string;
  volume_path: string;
}
