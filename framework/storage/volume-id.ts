/**
 * Polly volume IDs: `<service>.<driverVolumeId>`. Service names never contain a dot and the driver's
 * ID is percent-encoded (every character outside `[A-Za-z0-9_~-]`, the dot included), so the first
 * dot always separates the two and an ID has exactly one spelling. The original Polly `driver-id`
 * format broke on names containing `-`; this one cannot be split wrongly.
 */
import { ValidationError } from '../errors/validation-error';
import { SERVICE_NAME_PATTERN } from './service-registry';

/** Longest Polly volume ID (it is one store key segment and one URL path segment). */
export const MAX_VOLUME_ID_LENGTH = 255;

const UNRESERVED = /^[A-Za-z0-9_~-]$/;
const CANONICAL_ENCODED = /^(?:[A-Za-z0-9_~-]|%[0-9A-F]{2})+$/;

export interface ParsedVolumeId {
  service: string;
  driverVolumeId: string;
}

/** Percent-encodes every UTF-8 byte of `id` outside `[A-Za-z0-9_~-]` (upper-case hex). */
export function encodeDriverVolumeId(id: string): string {
  let out = '';
  for (const ch of id) {
    if (UNRESERVED.test(ch)) {
      out += ch;
      continue;
    }
    for (const byte of Buffer.from(ch, 'utf8')) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function formatVolumeId(service: string, driverVolumeId: string): string {
  if (typeof service !== 'string' || !SERVICE_NAME_PATTERN.test(service)) {
    throw ValidationError.field('service', `Invalid service name ${JSON.stringify(String(service).slice(0, 100))}`);
  }
  if (typeof driverVolumeId !== 'string' || driverVolumeId.length === 0 || driverVolumeId.includes('\u0000')) {
    throw ValidationError.field('driverVolumeId', 'A driver volume ID must be a non-empty string');
  }
  const id = `${service}.${encodeDriverVolumeId(driverVolumeId)}`;
  if (id.length > MAX_VOLUME_ID_LENGTH) {
    throw ValidationError.field('driverVolumeId', `The volume ID would exceed ${MAX_VOLUME_ID_LENGTH} characters`, {
      driverVolumeId: driverVolumeId.slice(0, 100),
    });
  }
  return id;
}

/** Splits a Polly volume ID; ValidationError unless it is in canonical form. */
export function parseVolumeId(id: string): ParsedVolumeId {
  const bad = (why: string): ValidationError =>
    ValidationError.field('volumeId', `Invalid volume ID ${JSON.stringify(String(id).slice(0, 100))}: ${why}`);
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_VOLUME_ID_LENGTH) throw bad('expected <service>.<driver volume ID>');
  const dot = id.indexOf('.');
  if (dot < 0) throw bad('expected <service>.<driver volume ID>');
  const service = id.slice(0, dot);
  const encoded = id.slice(dot + 1);
  if (!SERVICE_NAME_PATTERN.test(service)) throw bad('the service name is not valid');
  if (!CANONICAL_ENCODED.test(encoded)) throw bad('the driver volume ID is not percent-encoded');
  let driverVolumeId: string;
  try {
    driverVolumeId = decodeURIComponent(encoded);
  } catch {
    throw bad('the driver volume ID is not valid UTF-8');
  }
  // One spelling per ID: `%41` for `A` would otherwise name the same volume as `A`.
  if (encodeDriverVolumeId(driverVolumeId) !== encoded) throw bad('the driver volume ID is not in canonical form');
  return { service, driverVolumeId };
}

/** The service a volume ID names: the part before its first dot (no other checks: cheap, for indexes). */
export function serviceOf(volumeId: string): string {
  const dot = volumeId.indexOf('.');
  return dot < 0 ? volumeId : volumeId.slice(0, dot);
}

export function isVolumeId(id: unknown): id is string {
  if (typeof id !== 'string') return false;
  try {
    parseVolumeId(id);
    return true;
  } catch {
    return false;
  }
}
