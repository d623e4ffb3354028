/**
 * Storage profiles: a named set of create parameters of one service (type, iops, fsType, encryption,
 * size bounds). Once a volume was created with a profile its type/iops/fsType/encrypted never change
 * (existing volumes would silently disagree with their profile); deactivate it and add a new one.
 */
import type { VolumeCreateOptions } from '../../drivers/storage-driver';
import type { ProfileConfig } from '../config/config-schema';
import { ValidationError } from '../errors/validation-error';

export const PROFILE_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;
export const DEFAULT_PROFILE_NAME = 'default';
/** libStorage's default create size; clamped into the profile's bounds. */
export const DEFAULT_VOLUME_SIZE_GIB = 16;
export const MAX_VOLUME_SIZE_GIB = 1024 * 1024;
export const MAX_IOPS = 10_000_000;

/** The profile parameters that are frozen once the profile was used. */
export const IMMUTABLE_PROFILE_FIELDS = ['type', 'iops', 'fsType', 'encrypted'] as const;
export type ImmutableProfileField = (typeof IMMUTABLE_PROFILE_FIELDS)[number];
export type ImmutableProfileParams = { [F in ImmutableProfileField]: Exclude<Profile[F], undefined> | null };

export interface Profile {
  readonly service: string;
  readonly name: string;
  readonly type?: string;
  readonly iops?: number;
  readonly fsType?: string;
  readonly encrypted?: boolean;
  readonly minSizeGiB?: number;
  readonly maxSizeGiB?: number;
  readonly active: boolean;
}

/** As written in the config; `active` defaults to true. */
export type ProfileInput = Omit<ProfileConfig, 'active'> & { active?: boolean };

export interface CreateRequest {
  /** GiB; default DEFAULT_VOLUME_SIZE_GIB clamped into the profile's bounds. */
  size?: number;
  type?: string;
  iops?: number;
  fsType?: string;
  encrypted?: boolean;
  availabilityZone?: string;
}

/** What to create, after the profile and the request are merged and checked. */
export interface ResolvedCreate {
  service: string;
  profile: string;
  size: number;
  type?: string;
  iops?: number;
  fsType?: string;
  encrypted?: boolean;
  availabilityZone?: string;
  /** The same, as the driver takes it (fsType is applied at mount time, not by the backend). */
  create: VolumeCreateOptions;
}

const SAFE_TEXT = /^[^\u0000-\u001f\u007f]{1,128}$/;

function isPositiveInteger(value: unknown, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= max;
}

/** Checks one profile from the config; `where` prefixes field names in errors (e.g. `services[0].profiles[1]`). */
export function profileFromConfig(service: string, input: ProfileInput, where = 'profile'): Profile {
  if (typeof input.name !== 'string' || !PROFILE_NAME_PATTERN.test(input.name)) {
    throw ValidationError.field(`${where}.name`, `${where}.name ${JSON.stringify(input.name)} must match ${PROFILE_NAME_PATTERN.source}`);
  }
  if (input.type !== undefined && (typeof input.type !== 'string' || !SAFE_TEXT.test(input.type))) {
    throw ValidationError.field(`${where}.type`, `${where}.type must be 1-128 printable characters`);
  }
  if (input.iops !== undefined && !isPositiveInteger(input.iops, MAX_IOPS)) {
    throw ValidationError.field(`${where}.iops`, `${where}.iops must be an integer from 1 to ${MAX_IOPS}`);
  }
  if (input.fsType !== undefined && (typeof input.fsType !== 'string' || !/^[a-z0-9][a-z0-9._-]{0,31}$/.test(input.fsType))) {
    throw ValidationError.field(`${where}.fsType`, `${where}.fsType ${JSON.stringify(input.fsType)} is not a file system type name`);
  }
  for (const field of ['minSizeGiB', 'maxSizeGiB'] as const) {
    if (input[field] !== undefined && !isPositiveInteger(input[field], MAX_VOLUME_SIZE_GIB)) {
      throw ValidationError.field(`${where}.${field}`, `${where}.${field} must be an integer from 1 to ${MAX_VOLUME_SIZE_GIB}`);
    }
  }
  if (input.minSizeGiB !== undefined && input.maxSizeGiB !== undefined && input.minSizeGiB > input.maxSizeGiB) {
    throw ValidationError.field(
      `${where}.minSizeGiB`,
      `${where}.minSizeGiB (${input.minSizeGiB}) must not exceed maxSizeGiB (${input.maxSizeGiB})`,
    );
  }
  const profile: Profile = { service, name: input.name, active: input.active ?? true };
  const optional: { -readonly [K in keyof Profile]?: Profile[K] } = {};
  if (input.type !== undefined) optional.type = input.type;
  if (input.iops !== undefined) optional.iops = input.iops;
  if (input.fsType !== undefined) optional.fsType = input.fsType;
  if (input.encrypted !== undefined) optional.encrypted = Boolean(input.encrypted);
  if (input.minSizeGiB !== undefined) optional.minSizeGiB = input.minSizeGiB;
  if (input.maxSizeGiB !== undefined) optional.maxSizeGiB = input.maxSizeGiB;
  return Object.freeze({ ...profile, ...optional });
}

export function immutableParams(profile: Profile): ImmutableProfileParams {
  return { type: profile.type ?? null, iops: profile.iops ?? null, fsType: profile.fsType ?? null, encrypted: profile.encrypted ?? null };
}

/** The frozen fields whose value differs between what was used and the profile now. */
export function changedParams(used: ImmutableProfileParams, profile: Profile): ImmutableProfileField[] {
  const now = immutableParams(profile);
  return IMMUTABLE_PROFILE_FIELDS.filter((field) => (used[field] ?? null) !== now[field]);
}

/**
 * Merges a create request into a profile. The request may repeat the profile's parameters or fill
 * ones the profile leaves open, never contradict them: a profile is a promise about its volumes.
 */
export function resolveCreate(profile: Profile, request: CreateRequest = {}): ResolvedCreate {
  if (!profile.active) {
    throw ValidationError.field(
      'profile',
      `Profile "${profile.name}" of service "${profile.service}" is deactivated: it cannot create volumes`,
      {
        service: profile.service,
        profile: profile.name,
      },
    );
  }
  const min = profile.minSizeGiB ?? 1;
  const max = profile.maxSizeGiB ?? MAX_VOLUME_SIZE_GIB;
  const size = request.size ?? Math.min(Math.max(DEFAULT_VOLUME_SIZE_GIB, min), max);
  if (!isPositiveInteger(size, MAX_VOLUME_SIZE_GIB)) {
    throw ValidationError.field('size', `size must be a whole number of GiB from 1 to ${MAX_VOLUME_SIZE_GIB}`, {
      min: 1,
      max: MAX_VOLUME_SIZE_GIB,
    });
  }
  if (size < min || size > max) {
    throw ValidationError.field('size', `size ${size} GiB is outside profile "${profile.name}" bounds (${min}-${max} GiB)`, { min, max });
  }
  if (request.type !== undefined && (typeof request.type !== 'string' || !SAFE_TEXT.test(request.type))) {
    throw ValidationError.field('type', 'type must be 1-128 printable characters');
  }
  if (request.iops !== undefined && !isPositiveInteger(request.iops, MAX_IOPS)) {
    throw ValidationError.field('iops', `iops must be an integer from 1 to ${MAX_IOPS}`);
  }
  if (request.fsType !== undefined && (typeof request.fsType !== 'string' || !/^[a-z0-9][a-z0-9._-]{0,31}$/.test(request.fsType))) {
    throw ValidationError.field('fsType', 'fsType is not a file system type name');
  }
  if (request.encrypted !== undefined && typeof request.encrypted !== 'boolean') {
    throw ValidationError.field('encrypted', 'encrypted must be true or false');
  }
  if (
    request.availabilityZone !== undefined &&
    (typeof request.availabilityZone !== 'string' || !SAFE_TEXT.test(request.availabilityZone))
  ) {
    throw ValidationError.field('availabilityZone', 'availabilityZone must be 1-128 printable characters');
  }
  const merged: { type?: string; iops?: number; fsType?: string; encrypted?: boolean } = {};
  for (const field of IMMUTABLE_PROFILE_FIELDS) {
    const fromProfile = profile[field];
    const fromRequest = request[field];
    if (fromProfile !== undefined && fromRequest !== undefined && fromProfile !== fromRequest) {
      throw ValidationError.field(
        field,
        `${field} ${JSON.stringify(fromRequest)} contradicts profile "${profile.name}" (${field} ${JSON.stringify(fromProfile)}); choose another profile`,
        { profile: profile.name },
      );
    }
    const value = fromProfile ?? fromRequest;
    if (value !== undefined) (merged as Record<string, unknown>)[field] = value;
  }
  const resolved: ResolvedCreate = { service: profile.service, profile: profile.name, size, ...merged, create: { size } };
  if (request.availabilityZone !== undefined) resolved.availabilityZone = request.availabilityZone;
  if (merged.type !== undefined) resolved.create.type = merged.type;
  if (merged.iops !== undefined) resolved.create.iops = merged.iops;
  if (merged.encrypted !== undefined) resolved.create.encrypted = merged.encrypted;
  if (resolved.availabilityZone !== undefined) resolved.create.availabilityZone = resolved.availabilityZone;
  return resolved;
}
