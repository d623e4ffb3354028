/**
 * The storage driver interface, modelled on libStorage's StorageDriver (the server-side
 * "controller" half): one instance per configured service. Every call is async, takes an
 * AbortSignal, and is bounded by a timeout (see `BoundedDriver`). Nothing under drivers/
 * imports from framework/.
 */

/** libStorage's storage types. */
export type StorageType = 'block' | 'nas' | 'object';

/** How an agent is known to a backend (libStorage InstanceID). */
export interface InstanceId {
  /** Backend-specific instance ID (EC2 instance ID, hostname for vfs ...). */
  id: string;
  driver?: string;
  service?: string;
  fields?: Record<string, string>;
}

export interface Instance {
  instanceId: InstanceId;
  name?: string;
  providerName?: string;
  region?: string;
  zone?: string;
}

export interface VolumeAttachment {
  volumeId: string;
  instanceId: InstanceId;
  deviceName?: string;
  mountPoint?: string;
  status?: string;
  readOnly?: boolean;
  /** ISO-8601. */
  attachedAt?: string;
}

export interface DriverVolume {
  /** The backend's volume ID (unique per service). */
  id: string;
  name: string;
  /** GiB. */
  size: number;
  type?: string;
  iops?: number;
  availabilityZone?: string;
  encrypted?: boolean;
  status?: string;
  fields: Record<string, string>;
  attachments: VolumeAttachment[];
  /**
   * The backend cannot say where the volume is attached (a CSI plugin that does not list published
   * nodes): `attachments` is then not evidence of anything, and nothing is repaired or reported
   * from it.
   */
  attachmentsUnknown?: boolean;
  /** ISO-8601. */
  createdAt?: string;
}

export interface DriverSnapshot {
  id: string;
  name: string;
  volumeId: string;
  /** GiB. */
  volumeSize: number;
  /** ISO-8601. */
  startTime: string;
  status: string;
  encrypted?: boolean;
  fields: Record<string, string>;
}

export interface VolumeCreateOptions {
  /** GiB. */
  size?: number;
  type?: string;
  iops?: number;
  availabilityZone?: string;
  encrypted?: boolean;
  encryptionKey?: string;
  fields?: Record<string, string>;
  /** The profile the create was resolved from (drivers with per-profile settings, like csi, use it). */
  profile?: string;
}

export interface AttachOptions {
  /** Detach from any other instance first (only after the holder is known to be gone). */
  force?: boolean;
  readOnly?: boolean;
}

export interface DetachOptions {
  force?: boolean;
}

export interface RemoveOptions {
  force?: boolean;
}

/**
 * How a backend grows volumes: `online` also while a volume is attached (in use), `offline` only
 * while it is attached nowhere.
 */
export type VolumeExpansion = 'online' | 'offline';

/** Every call can be cancelled; the bounded wrapper also applies a deadline. */
export interface CallOptions {
  signal?: AbortSignal;
}

/** A profile's create parameters, as far as capacity questions care. */
export interface CapacityQuery {
  /** The profile asked about (drivers with per-profile settings, like csi, use it). */
  profile?: string;
  type?: string;
  iops?: number;
  encrypted?: boolean;
}

export interface Capacity {
  /** GiB. */
  totalGiB: number;
  /** GiB still provisionable. */
  availableGiB: number;
}

/**
 * What a backend says about its own metadata, so the storage layer can notice a backend that is
 * older than its records (a restored or truncated journal) or not the one it was (a replaced root).
 */
export interface BackendMark {
  /** Random, fixed when the backend's metadata was first created. */
  rootId: string;
  /** Committed metadata changes since then: only ever grows, so a lower one means older metadata. */
  sequence: number;
  /** The Polly installation the backend is bound to, if any (see `bindInstallation`). */
  installationId?: string;
  /** Where the backend keeps it, for messages (e.g. the vfs root path). */
  location: string;
}

/**
 * Data a backend holds that its own records do not explain (e.g. a vfs directory without a journal
 * record). It was moved aside, never deleted; only an operator's purge deletes it.
 */
export interface QuarantinedEntry {
  /** The quarantine entry's ID (a single path-safe segment). */
  id: string;
  /** What it was: a volume's or snapshot's data, an unfinished copy, or unknown (put there by hand). */
  kind: 'volume' | 'snapshot' | 'staging' | 'unknown';
  /** The backend ID it had, when it had one (e.g. `vfs-000012`). */
  originalId?: string;
  /** Where it was before it was moved. */
  originalPath?: string;
  /** Where it is now (the data, file for file as it was). */
  path: string;
  /** Why it was quarantined. */
  reason: string;
  /** ISO-8601; absent for entries without a record. */
  quarantinedAt?: string;
}

/**
 * A backend's own metadata, exported for a backup (`polly state export`): only a driver of the same
 * kind reads it back. The volumes' data is never in it.
 */
export interface BackendMetadata {
  /** The driver that wrote it, e.g. `vfs`. */
  driver: string;
  /** The version of `data`'s layout. */
  format: number;
  /** Driver-specific. */
  data: unknown;
}

/** What exported metadata says about itself, as the driver that reads it understands it. */
export interface BackendMetadataSummary {
  /** The backend's identity and sequence as of the export (`location`: where it was exported from). */
  mark: BackendMark;
  /** The backend volume IDs it describes. */
  volumeIds: string[];
}

export interface MetadataImportOptions extends CallOptions {
  /** Replace metadata the backend already has (moved aside, never deleted). */
  force?: boolean;
  /** Check only whether the import would be accepted; write nothing. */
  dryRun?: boolean;
}

export interface MetadataImportResult {
  /** Where the metadata was written (e.g. the vfs root's `meta/`). */
  location: string;
  /** Where the metadata that was there before was moved, when `force` replaced some. */
  replacedTo?: string;
  /** The backend's own metadata was kept: the same backend, as new as the export or newer. */
  kept?: boolean;
}

/** What a driver says about its backend, for `/v1/services` and the dashboard (after `init`). */
export interface BackendDescription {
  /** For a CSI plugin: what it said about itself. */
  plugin?: { name: string; version: string; capabilities: string[]; endpoint: string };
}

export interface StorageDriver {
  /** The driver's name, e.g. `vfs`, `libstorage`. */
  readonly name: string;
  /**
   * The backend's create is idempotent by name but the backend may not be searchable by name (CSI):
   * a create whose outcome is unknown is settled by making the same request again, which returns
   * what an earlier attempt made (or makes it now), instead of by a lookup alone.
   */
  readonly createIdempotentByName?: boolean;
  /** What the backend said about itself (after `init`); not a call. */
  describe?(): BackendDescription;
  type(): StorageType;
  init(options?: CallOptions): Promise<void>;
  close?(): Promise<void>;

  instanceInspect(instanceId: InstanceId, options?: CallOptions): Promise<Instance>;

  volumes(options?: CallOptions): Promise<DriverVolume[]>;
  /** Throws DriverNotFoundError when absent. */
  volumeInspect(volumeId: string, options?: CallOptions): Promise<DriverVolume>;
  /** Case-insensitive lookup by name; undefined when absent. Names are the create idempotency key. */
  volumeInspectByName(name: string, options?: CallOptions): Promise<DriverVolume | undefined>;
  volumeCreate(name: string, create: VolumeCreateOptions, options?: CallOptions): Promise<DriverVolume>;
  volumeCreateFromSnapshot(snapshotId: string, name: string, create: VolumeCreateOptions, options?: CallOptions): Promise<DriverVolume>;
  volumeCopy(volumeId: string, name: string, options?: CallOptions): Promise<DriverVolume>;
  volumeSnapshot(volumeId: string, snapshotName: string, options?: CallOptions): Promise<DriverSnapshot>;
  volumeRemove(volumeId: string, remove?: RemoveOptions, options?: CallOptions): Promise<void>;
  /**
   * Attaches to `instanceId`. Attaching where it is already attached is a no-op (idempotent).
   * A read-write attach while attached elsewhere is refused (DriverConflictError) unless `force`.
   */
  volumeAttach(volumeId: string, instanceId: InstanceId, attach?: AttachOptions, options?: CallOptions): Promise<{ volume: DriverVolume; attachToken?: string }>;
  /** Detaching where it is not attached is a no-op (idempotent). */
  volumeDetach(volumeId: string, instanceId: InstanceId, detach?: DetachOptions, options?: CallOptions): Promise<DriverVolume>;

  snapshots(options?: CallOptions): Promise<DriverSnapshot[]>;
  snapshotInspect(snapshotId: string, options?: CallOptions): Promise<DriverSnapshot>;
  snapshotRemove(snapshotId: string, options?: CallOptions): Promise<void>;
  /**
   * A new snapshot named `snapshotName` of the same volume, holding the snapshot's data. Optional:
   * a driver without it cannot copy snapshots (501).
   */
  snapshotCopy?(snapshotId: string, snapshotName: string, options?: CallOptions): Promise<DriverSnapshot>;

  /**
   * Grows a volume to `newSizeGiB` (a whole number of GiB). Growing to its current size or less is
   * a no-op that returns the volume as it is (idempotent; the caller refuses shrinking first), so
   * a repeat after a crash is safe. Optional: a driver without it cannot expand (501).
   */
  volumeExpand?(volumeId: string, newSizeGiB: number, options?: CallOptions): Promise<DriverVolume>;
  /**
   * Whether `volumeExpand` works on this backend now, and while attached or only while detached
   * (after `init`; a driver over a remote backend learns it there). Undefined: it cannot expand.
   * A driver with `volumeExpand` but without this is taken to expand offline only.
   */
  expansion?(): VolumeExpansion | undefined;

  /** Provisionable capacity for a profile in a zone, where the backend knows it; undefined otherwise. */
  capacity(query: CapacityQuery, zone: string | undefined, options?: CallOptions): Promise<Capacity | undefined>;
  /** How many volumes one instance can have attached (e.g. EBS ~ 40); undefined = no limit known. */
  attachLimit(instanceId: InstanceId): number | undefined;
  /**
   * For drivers whose volumes are visible on the agent as a directory (mapping mode `hostPath`):
   * the path a task mounts. Undefined for drivers that need a docker volume driver.
   */
  hostPath?(volume: DriverVolume): string;

  /**
   * For backends that keep their own metadata (vfs): its identity and sequence. Reads only: it never
   * cleans up or changes anything, so it can be asked before the backend is trusted. Throws
   * DriverRefusedError when the metadata is missing, torn or older than the data it describes.
   */
  backendMark?(options?: CallOptions): Promise<BackendMark>;
  /** Records the installation this backend belongs to (a no-op when it already does). */
  bindInstallation?(installationId: string, options?: CallOptions): Promise<BackendMark>;
  /** Data the backend holds that its records do not explain, moved aside (never deleted). */
  quarantined?(options?: CallOptions): Promise<QuarantinedEntry[]>;
  /** Deletes one quarantined entry, data and all: only ever an operator's explicit act. */
  purgeQuarantined?(id: string, options?: CallOptions): Promise<QuarantinedEntry>;
  /** Makes a quarantined entry's data a volume again, under a fresh ID and the given name. */
  restoreQuarantined?(id: string, name: string, options?: CallOptions): Promise<DriverVolume>;

  /**
   * For backends that keep their own metadata: a consistent copy of it, for a backup (undefined
   * when the backend has none yet). Reads only. Throws DriverRefusedError when it cannot be read
   * whole (missing while there is data, corrupt).
   */
  exportMetadata?(options?: CallOptions): Promise<BackendMetadata | undefined>;
  /** Checks exported metadata (throws DriverInvalidError when it is not this driver's, or damaged) and says what it holds. */
  describeMetadata?(metadata: BackendMetadata): BackendMetadataSummary;
  /**
   * Writes exported metadata back: only where the backend has none, unless `force` (then what is
   * there is moved aside, never deleted); metadata of the same backend, as new or newer, is kept.
   * Refused (DriverConflictError, DriverRefusedError) when the backend has other metadata, or its
   * data does not match the metadata; nothing is changed then.
   */
  importMetadata?(metadata: BackendMetadata, options?: MetadataImportOptions): Promise<MetadataImportResult>;
}
