/**
 * The libStorage wire shapes (reference §1.6, the Go emitter's JSON): what the libstorage driver reads
 * and what Polly's libStorage API sends (framework/api/libstorage imports them from here: drivers/ never
 * imports from framework/). Optional members are omitted when empty, as Go does.
 */

export type LsStorageType = 'block' | 'nas' | 'object';

export interface LsInstanceId {
  id: string;
  driver: string;
  service: string;
  fields?: Record<string, string>;
  /** Raw JSON the client's executor sent (the vfs hostname flow). */
  metadata?: unknown;
}

export interface LsInstance {
  instanceID: LsInstanceId;
  name?: string;
  providerName: string;
  region?: string;
  fields?: Record<string, string>;
}

export interface LsVolumeAttachment {
  deviceName: string;
  mountPoint?: string;
  instanceID: LsInstanceId | null;
  status: string;
  volumeID: string;
  fields?: Record<string, string>;
}

/** 0 unset · 1 unknown · 2 attached to the caller · 3 available · 4 attached elsewhere. */
export type LsAttachmentState = 0 | 1 | 2 | 3 | 4;

export interface LsVolume {
  attachments?: LsVolumeAttachment[];
  attachmentState?: LsAttachmentState;
  availabilityZone?: string;
  encrypted?: boolean;
  iops?: number;
  name: string;
  networkName?: string;
  size?: number;
  status?: string;
  id: string;
  type: string;
  fields?: Record<string, string>;
}

export interface LsSnapshot {
  description?: string;
  name?: string;
  encrypted?: boolean;
  id: string;
  /** Epoch seconds. */
  startTime?: number;
  status?: string;
  volumeID?: string;
  volumeSize?: number;
  fields?: Record<string, string>;
}

export interface LsNextDeviceInfo {
  ignore: boolean;
  prefix: string;
  pattern: string;
}

export interface LsDriverInfo {
  name: string;
  type: LsStorageType;
  nextDevice?: LsNextDeviceInfo;
}

export interface LsServiceInfo {
  name: string;
  instance?: LsInstance;
  driver: LsDriverInfo;
}

export type LsTaskState = 'queued' | 'running' | 'success' | 'error';

export interface LsTask {
  id: number;
  user?: string;
  /** Epoch seconds. */
  queueTime: number;
  startTime?: number;
  completeTime?: number;
  state: LsTaskState;
  result?: unknown;
  error?: unknown;
}

export interface LsVolumeAttachResponse {
  volume: LsVolume;
  attachToken: string;
}

export interface LsErrorBody {
  message: string;
  status: number;
  error?: unknown;
}

/** Request bodies (schema definitions of the same names). */
export interface LsVolumeCreateRequest {
  name: string;
  availabilityZone?: string;
  encrypted?: boolean;
  encryptionKey?: string;
  iops?: number;
  size?: number;
  type?: string;
  opts?: Record<string, unknown>;
}

export interface LsVolumeCopyRequest {
  volumeName: string;
  opts?: Record<string, unknown>;
}

export interface LsVolumeSnapshotRequest {
  snapshotName: string;
  opts?: Record<string, unknown>;
}

export interface LsVolumeAttachRequest {
  nextDeviceName?: string;
  force?: boolean;
  opts?: Record<string, unknown>;
}

export interface LsVolumeDetachRequest {
  force?: boolean;
  opts?: Record<string, unknown>;
}

export interface LsSnapshotCopyRequest {
  snapshotName: string;
  destinationID: string;
  opts?: Record<string, unknown>;
}

/** The wire header names (Go canonical casing; matched case-insensitively). */
export const LS_HEADERS = {
  instanceId: 'Libstorage-Instanceid',
  localDevices: 'Libstorage-Localdevices',
  tx: 'Libstorage-Tx',
  serverName: 'Libstorage-Servername',
} as const;
