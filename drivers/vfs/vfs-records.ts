/**
 * What the vfs driver stores per volume and snapshot, how a stored file is checked when read back,
 * and how a record is shown to callers.
 */
import type { DriverSnapshot, DriverVolume, InstanceId, VolumeAttachment } from '../storage-driver';
import { isSnapshotId, isVolumeId } from './vfs-layout';

export const RECORD_SCHEMA = 1;

export interface VfsVolumeRecord {
  schema: number;
  id: string;
  name: string;
  size: number;
  type?: string;
  iops?: number;
  availabilityZone?: string;
  fields: Record<string, string>;
  attachments: VolumeAttachment[];
  createdAt: string;
}

export interface VfsSnapshotRecord {
  schema: number;
  id: string;
  name: string;
  volumeId: string;
  volumeSize: number;
  startTime: string;
  status: string;
  fields: Record<string, string>;
  /** The source volume's create parameters, inherited by create-from-snapshot. */
  volumeType?: string;
  volumeIops?: number;
  volumeAvailabilityZone?: string;
}

/** A name-index entry: which volume holds a (case-insensitive) name. */
export interface VfsNameEntry {
  id: string;
  name: string;
}

export function parseVolumeRecord(raw: unknown, file: string): VfsVolumeRecord {
  const r = raw as Partial<VfsVolumeRecord> | null;
  if (
    typeof r !== 'object' ||
    r === null ||
    !isVolumeId(r.id) ||
    typeof r.name !== 'string' ||
    typeof r.size !== 'number' ||
    !Array.isArray(r.attachments) ||
    typeof r.fields !== 'object' ||
    r.fields === null
  ) {
    throw new Error(`corrupt vfs volume metadata ${file}`);
  }
  return r as VfsVolumeRecord;
}

export function parseSnapshotRecord(raw: unknown, file: string): VfsSnapshotRecord {
  const r = raw as Partial<VfsSnapshotRecord> | null;
  if (
    typeof r !== 'object' ||
    r === null ||
    !isSnapshotId(r.id) ||
    typeof r.name !== 'string' ||
    typeof r.volumeId !== 'string' ||
    typeof r.volumeSize !== 'number' ||
    typeof r.fields !== 'object' ||
    r.fields === null
  ) {
    throw new Error(`corrupt vfs snapshot metadata ${file}`);
  }
  return r as VfsSnapshotRecord;
}

export function parseNameEntry(raw: unknown): VfsNameEntry | undefined {
  const e = raw as Partial<VfsNameEntry> | null;
  if (typeof e === 'object' && e !== null && isVolumeId(e.id) && typeof e.name === 'string') {
    return { id: e.id, name: e.name };
  }
  return undefined;
}

/** A fresh copy for callers (they may mutate it); status is derived from the attachments. */
export function toDriverVolume(r: VfsVolumeRecord): DriverVolume {
  const v: DriverVolume = {
    id: r.id,
    name: r.name,
    size: r.size,
    encrypted: false,
    status: r.attachments.length > 0 ? 'attached' : 'available',
    fields: { ...r.fields },
    attachments: r.attachments.map((a) => ({ ...a, instanceId: copyInstanceId(a.instanceId) })),
    createdAt: r.createdAt,
  };
  if (r.type !== undefined) v.type = r.type;
  if (r.iops !== undefined) v.iops = r.iops;
  if (r.availabilityZone !== undefined) v.availabilityZone = r.availabilityZone;
  return v;
}

export function toDriverSnapshot(r: VfsSnapshotRecord): DriverSnapshot {
  return {
    id: r.id,
    name: r.name,
    volumeId: r.volumeId,
    volumeSize: r.volumeSize,
    startTime: r.startTime,
    status: r.status,
    encrypted: false,
    fields: { ...r.fields },
  };
}

function copyInstanceId(i: InstanceId): InstanceId {
  return i.fields === undefined ? { ...i } : { ...i, fields: { ...i.fields } };
}
