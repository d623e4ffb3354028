/**
 * Options of a managed volume, however the app wrote them — `dvdi/*` options of a Marathon dvdi
 * volume, `options` of a polly volume, an inline spec in place of a name (`name=db,size=10,repl=2`,
 * as Portworx and REX-Ray accept it) or `DVDI_VOLUME_OPTS` — turned into the create options a
 * storage service can honour (size, type, iops, fsType, encrypted, profile, backend opts).
 *
 * Secrets (`secret_key=...`, a passphrase, a token) are never kept: not in the volume's name, not in
 * the stored app, not in a message or a log line; the app is told they were dropped (by key only).
 * Asking for encryption from a service that cannot encrypt is refused (422): ignoring it would store
 * the data in the clear. Other options a service cannot honour are accepted with a warning.
 */
import type { VolumeCreateSpec } from '../app-spec';
import type { Findings } from './findings';

/** What Polly knows of a storage service when it accepts an app. */
export interface ServiceInfo {
  name: string;
  /** `vfs`, `libstorage`, ... */
  driver: string;
  /** The Docker volume driver name its volumes are served under on the agents (mapping dockerVolume). */
  dockerVolumeDriver?: string;
  profiles: string[];
}

/** Keys whose values are secrets: never stored, shown or logged. */
const SECRET_KEY = /(secret|passphrase|password|passwd|token|credential|private|(^|[_.-])key$)/i;

/** Option keys (lower case, `dvdi/` stripped) → what they mean. */
const SIZE_KEYS = new Set(['size']);
const TYPE_KEYS = new Set(['type', 'volumetype', 'volume_type']);
const IOPS_KEYS = new Set(['iops']);
const FS_KEYS = new Set(['fstype', 'newfstype', 'fs']);
const ENCRYPT_KEYS = new Set(['encrypted', 'secure', 'encrypt']);
/** Safe to ignore: Polly decides these itself (zone from the agent, never reformats, names). */
const POLLY_DECIDES: Record<string, string> = {
  overwritefs: 'Polly never reformats a volume (its data is kept)',
  availabilityzone: "Polly creates a volume in the zone of the agent its task runs on",
  availability_zone: "Polly creates a volume in the zone of the agent its task runs on",
  shared: 'a volume has one RW writer at a time; RO claims may share it',
};

/** Drivers that pass unknown options to their backend (libStorage `opts`). */
const PASSES_OPTS = new Set(['libstorage']);
/** Drivers that can encrypt volumes. */
const ENCRYPTS = new Set(['libstorage']);
/** Drivers for which a file system type means something. */
const FORMATS = new Set(['libstorage']);

const INLINE_PAIR = /^[A-Za-z_][A-Za-z0-9_.-]*=[^,]*$/;

/** Whether `name` is an inline spec (`key=value,...` with a `name=` or other pairs), not a plain name. */
export function isInlineSpec(name: string): boolean {
  const parts = name.split(',');
  return parts.length > 0 && parts.every((p) => INLINE_PAIR.test(p.trim())) && name.includes('=');
}

/** `name=db,size=10` → `{name: 'db', size: '10'}` (keys lower-cased). */
export function parseInlineSpec(spec: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of spec.split(',')) {
    const eq = part.indexOf('=');
    out[part.slice(0, eq).trim().toLowerCase()] = part.slice(eq + 1).trim();
  }
  return out;
}

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

/**
 * Merges the options (dvdi/ prefix stripped, keys lower-cased) into create options for `service`.
 * `fieldOf(key)` names where an option was written, for messages (which never show a secret's value).
 * Returns the create options and the options to keep in the stored app (secrets removed).
 */
export function createOptions(
  options: Record<string, string>,
  service: ServiceInfo | undefined,
  fieldOf: (key: string) => string,
  findings: Findings,
): { create: VolumeCreateSpec; kept: Record<string, string> } {
  const create: VolumeCreateSpec = {};
  const kept: Record<string, string> = {};
  const fields: Record<string, string> = {};
  for (const [rawKey, rawValue] of Object.entries(options)) {
    const prefixed = rawKey.toLowerCase().startsWith('dvdi/');
    const key = (prefixed ? rawKey.slice(5) : rawKey).toLowerCase();
    const value = rawValue.trim();
    if (isSecretKey(key)) {
      findings.warn(fieldOf(rawKey), 'a secret in a volume definition is not used: Polly dropped it (it is not stored, shown or logged)');
      continue;
    }
    kept[rawKey] = rawValue;
    if (key === 'driver' || key === 'service' || key === 'name' || (key === 'profile' && !prefixed)) {
      if (key === 'profile') create.profile = value;
      continue;
    }
    if (key === 'profile') {
      create.profile = value;
    } else if (SIZE_KEYS.has(key)) {
      if (!/^[1-9][0-9]{0,6}$/.test(value)) findings.problem(fieldOf(rawKey), 'size must be a whole number of GiB from 1');
      else create.size = Number(value);
    } else if (IOPS_KEYS.has(key)) {
      if (!/^[1-9][0-9]{0,7}$/.test(value)) findings.problem(fieldOf(rawKey), 'iops must be a positive integer');
      else create.iops = Number(value);
    } else if (TYPE_KEYS.has(key)) {
      if (value === '' || value.length > 255 || /[\u0000-\u001f\u007f]/.test(value)) findings.problem(fieldOf(rawKey), 'type must be 1-255 printable characters');
      else create.type = value;
    } else if (FS_KEYS.has(key)) {
      if (!/^[a-z0-9][a-z0-9._-]{0,31}$/.test(value)) findings.problem(fieldOf(rawKey), `${JSON.stringify(value.slice(0, 40))} is not a file system type name`);
      else if (service && !FORMATS.has(service.driver)) findings.warn(fieldOf(rawKey), `service ${service.name} (${service.driver}) does not format volumes; ignored`);
      else create.fsType = value;
    } else if (ENCRYPT_KEYS.has(key)) {
      const on = /^(true|1|yes|on)$/i.test(value);
      if (!on && !/^(false|0|no|off)$/i.test(value)) findings.problem(fieldOf(rawKey), 'must be true or false');
      else if (on && service && !ENCRYPTS.has(service.driver)) {
        findings.unsupported(fieldOf(rawKey), `encryption was asked for, but service ${service.name} (${service.driver}) cannot encrypt volumes; ignoring it would leave the data unencrypted`);
      } else create.encrypted = on;
    } else if (POLLY_DECIDES[key] !== undefined) {
      findings.warn(fieldOf(rawKey), `ignored: ${POLLY_DECIDES[key]}`);
    } else if (service && PASSES_OPTS.has(service.driver)) {
      fields[key] = value;
      findings.warn(fieldOf(rawKey), `not a Polly option: passed to service ${service.name}'s backend as an option`);
    } else {
      findings.warn(fieldOf(rawKey), `not an option service ${service?.name ?? '(none)'} can honour; ignored`);
    }
  }
  if (Object.keys(fields).length > 0) create.fields = fields;
  return { create, kept };
}
