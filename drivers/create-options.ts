/**
 * Checks the create parameters every driver receives (sizes and counts are bounded, strings are
 * printable) before anything reaches a backend.
 */
import { DriverInvalidError } from './errors';
import { hasControlChars } from './name-rules';
import type { VolumeCreateOptions } from './storage-driver';

export const MAX_VOLUME_SIZE_GIB = 65536;
export const MAX_IOPS = 1_000_000;
const MAX_FIELDS = 64;
const MAX_FIELD_VALUE = 4096;

/** Throws DriverInvalidError unless `size` is a whole number of GiB in 1..65536. */
export function assertValidSize(size: unknown): asserts size is number {
  if (typeof size !== 'number' || !Number.isInteger(size) || size <= 0 || size > MAX_VOLUME_SIZE_GIB) {
    throw new DriverInvalidError(`invalid size: must be a whole number of GiB between 1 and ${MAX_VOLUME_SIZE_GIB}`, { size });
  }
}

/** Validates every present member of `create`; returns a copy holding only known members. */
export function checkCreateOptions(create: VolumeCreateOptions | undefined): VolumeCreateOptions {
  const c = create ?? {};
  if (typeof c !== 'object') throw new DriverInvalidError('invalid create options');
  const out: VolumeCreateOptions = {};
  if (c.size !== undefined) {
    assertValidSize(c.size);
    out.size = c.size;
  }
  if (c.iops !== undefined) {
    if (typeof c.iops !== 'number' || !Number.isInteger(c.iops) || c.iops < 0 || c.iops > MAX_IOPS) {
      throw new DriverInvalidError(`invalid iops: must be a whole number between 0 and ${MAX_IOPS}`, { iops: c.iops });
    }
    out.iops = c.iops;
  }
  if (c.type !== undefined) out.type = checkText(c.type, 'type', 255);
  if (c.availabilityZone !== undefined) out.availabilityZone = checkText(c.availabilityZone, 'availabilityZone', 255);
  if (c.encrypted !== undefined) {
    if (typeof c.encrypted !== 'boolean') throw new DriverInvalidError('invalid encrypted: must be a boolean');
    out.encrypted = c.encrypted;
  }
  if (c.encryptionKey !== undefined) out.encryptionKey = checkText(c.encryptionKey, 'encryptionKey', MAX_FIELD_VALUE);
  if (c.fields !== undefined) out.fields = checkFields(c.fields);
  if (c.profile !== undefined) out.profile = checkText(c.profile, 'profile', 63);
  return out;
}

export function checkFields(fields: unknown): Record<string, string> {
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) {
    throw new DriverInvalidError('invalid fields: must be an object of strings');
  }
  const entries = Object.entries(fields as Record<string, unknown>);
  if (entries.length > MAX_FIELDS) throw new DriverInvalidError(`invalid fields: at most ${MAX_FIELDS} entries`);
  const out: Record<string, string> = {};
  for (const [key, value] of entries) {
    checkText(key, 'field name', 255);
    if (key === '__proto__') throw new DriverInvalidError('invalid field name: __proto__');
    if (typeof value !== 'string' || value.length > MAX_FIELD_VALUE) {
      throw new DriverInvalidError(`invalid field ${JSON.stringify(key)}: must be a string of at most ${MAX_FIELD_VALUE} characters`);
    }
    out[key] = value;
  }
  return out;
}

function checkText(value: unknown, what: string, max: number): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max || hasControlChars(value)) {
    throw new DriverInvalidError(`invalid ${what}: must be 1-${max} printable characters`, {
      [what]: typeof value === 'string' ? value.slice(0, 300) : typeof value,
    });
  }
  return value;
}
