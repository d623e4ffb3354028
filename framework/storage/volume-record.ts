/**
 * The volume catalog's record (DESIGN §3) and the checks on everything a caller may put in one.
 * Checks run before anything is written anywhere: a refused name or label leaves no trace.
 */
import { hasControlChars, MAX_NAME_LENGTH, nameProblem } from '../../drivers/name-rules';
import type { DriverVolume } from '../../drivers/storage-driver';
import { ValidationError } from '../errors/validation-error';

/**
 * `available`: on the backend, not attached. `attached`: at least one live claim holds it.
 * `removing`: a remove is in progress. `missing`: managed, but the backend no longer has it
 * (found by reconciliation; reported, never deleted silently).
 */
export type VolumeStatus = 'available' | 'attached' | 'removing' | 'missing';

export type ClaimMode = 'RW' | 'RO';

/** One attachment Polly made for a claim. */
export interface VolumeAttachmentRecord {
  claimId: string;
  instanceId: string;
  agentId: string;
  mode: ClaimMode;
  attachedAt: string;
}

/**
 * An attachment the backend shows that no live claim accounts for: made outside Polly, or before a
 * store restored from an older backup. A task may be writing through it, so Polly never detaches it
 * on its own; it is reported, and an operator detaches it explicitly (`polly volume detach`).
 */
export interface ForeignAttachmentRecord {
  instanceId: string;
  readOnly: boolean;
  /** When the backend says it was attached, where it says. */
  attachedAt?: string;
  /** When Polly first found it. */
  foundAt: string;
}

export interface VolumeRecord {
  /** Polly volume ID: `<service>.<encoded driver volume ID>` (volume-id.ts). */
  id: string;
  service: string;
  driverVolumeId: string;
  name: string;
  /** GiB. */
  size: number;
  type?: string;
  iops?: number;
  availabilityZone?: string;
  status: VolumeStatus;
  encrypted: boolean;
  labels: Record<string, string>;
  fields: Record<string, string>;
  /** The schedulers this volume is offered to (the original Polly ACL). */
  schedulers: string[];
  /** Registered in Polly (created through it or registered); unmanaged volumes are only listed. */
  managed: boolean;
  attachments: VolumeAttachmentRecord[];
  /** Backend attachments no claim accounts for (absent when there are none): see ForeignAttachmentRecord. */
  foreignAttachments?: ForeignAttachmentRecord[];
  profile?: string;
  createdAt: string;
  updatedAt: string;
}

export const MAX_LABELS = 64;
export const MAX_LABEL_KEY = 255;
export const MAX_LABEL_VALUE = 4096;
export const MAX_SCHEDULERS = 256;
/** Scheduler names: framework names/roles and libStorage service names. */
export const SCHEDULER_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,254}$/;

/** Throws ValidationError unless `name` is a safe volume name. */
export function checkVolumeName(name: unknown): string {
  const problem = nameProblem(name);
  if (problem !== undefined) {
    throw ValidationError.field('name', `Invalid volume name: ${problem}`, {
      name: typeof name === 'string' ? name.slice(0, 100) : typeof name,
    });
  }
  return name as string;
}

function checkText(value: unknown, field: string, max: number): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max || hasControlChars(value)) {
    throw ValidationError.field(field, `${field} must be 1-${max} printable characters`);
  }
  return value;
}

/** A bounded map of printable strings (labels and fields). */
export function checkStringMap(value: unknown, field: string): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw ValidationError.field(field, `${field} must be an object of strings`);
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > MAX_LABELS) throw ValidationError.field(field, `${field}: at most ${MAX_LABELS} entries`);
  const out: Record<string, string> = {};
  for (const [key, v] of entries) {
    checkText(key, `${field} key`, MAX_LABEL_KEY);
    if (key === '__proto__') throw ValidationError.field(field, `${field} key must not be __proto__`);
    if (typeof v !== 'string' || v.length > MAX_LABEL_VALUE || hasControlChars(v)) {
      throw ValidationError.field(
        field,
        `${field} ${JSON.stringify(key)} must be a string of at most ${MAX_LABEL_VALUE} printable characters`,
      );
    }
    out[key] = v;
  }
  return out;
}

export function checkLabelKeys(keys: unknown): string[] {
  if (!Array.isArray(keys) || keys.length > MAX_LABELS) {
    throw ValidationError.field('labels', `labels must be a list of at most ${MAX_LABELS} keys`);
  }
  return keys.map((k) => checkText(k, 'label key', MAX_LABEL_KEY));
}

export function checkSchedulerName(name: unknown, field = 'scheduler'): string {
  if (typeof name !== 'string' || !SCHEDULER_NAME_PATTERN.test(name)) {
    throw ValidationError.field(field, `Invalid scheduler name ${JSON.stringify(String(name).slice(0, 100))}`);
  }
  return name;
}

export function checkSchedulers(names: unknown): string[] {
  if (!Array.isArray(names) || names.length > MAX_SCHEDULERS) {
    throw ValidationError.field('schedulers', `schedulers must be a list of at most ${MAX_SCHEDULERS} names`);
  }
  return [...new Set(names.map((n) => checkSchedulerName(n, 'schedulers')))];
}

/** A new record from what the driver reports. */
export function volumeFromDriver(
  id: string,
  service: string,
  dv: DriverVolume,
  extra: { managed: boolean; schedulers?: string[]; labels?: Record<string, string>; profile?: string; now?: string },
): VolumeRecord {
  const now = extra.now ?? new Date().toISOString();
  const record: VolumeRecord = {
    id,
    service,
    driverVolumeId: dv.id,
    name: dv.name,
    size: dv.size,
    status: 'available',
    encrypted: dv.encrypted === true,
    labels: { ...(extra.labels ?? {}) },
    fields: { ...dv.fields },
    schedulers: [...(extra.schedulers ?? [])],
    managed: extra.managed,
    attachments: [],
    createdAt: dv.createdAt ?? now,
    updatedAt: now,
  };
  if (dv.type !== undefined) record.type = dv.type;
  if (dv.iops !== undefined) record.iops = dv.iops;
  if (dv.availabilityZone !== undefined) record.availabilityZone = dv.availabilityZone;
  if (extra.profile !== undefined) record.profile = extra.profile;
  return record;
}

/** The status a record's attachments imply (unless it is being removed or is missing). */
export function statusFor(record: Pick<VolumeRecord, 'status' | 'attachments'>): VolumeStatus {
  if (record.status === 'removing' || record.status === 'missing') return record.status;
  return record.attachments.length > 0 ? 'attached' : 'available';
}

export { MAX_NAME_LENGTH };
