/**
 * Request checks shared by the controller and the node: required fields, volume capabilities and
 * the problems list that makes one INVALID_ARGUMENT naming every problem at once.
 */
import { ValidationError } from '../../errors/validation-error';
import type { AccessModeName, StringMap, VolumeCapability } from './csi-messages';

/** Collects what is wrong with a request; `throwIfAny` reports all of it in one error. */
export class Problems {
  private readonly list: string[] = [];

  add(problem: string): void {
    this.list.push(problem);
  }

  required(value: string, field: string): void {
    if (typeof value !== 'string' || value === '') this.add(`${field} is required`);
  }

  get any(): boolean {
    return this.list.length > 0;
  }

  throwIfAny(what: string): void {
    if (this.list.length > 0) throw new ValidationError(`${what}: ${this.list.join('; ')}`, { problems: [...this.list] });
  }
}

/** Access modes Polly serves. MULTI_NODE_MULTI_WRITER breaks the single-writer rule; the alpha single-node modes are not advertised. */
export const SUPPORTED_ACCESS_MODES: readonly AccessModeName[] = [
  'SINGLE_NODE_WRITER',
  'SINGLE_NODE_READER_ONLY',
  'MULTI_NODE_READER_ONLY',
  'MULTI_NODE_SINGLE_WRITER',
];

/** Mount options a bind mount of a volume may carry (others could change what the mount exposes). */
export const SUPPORTED_MOUNT_FLAGS: readonly string[] = ['ro', 'rw', 'nosuid', 'nodev', 'noexec', 'noatime', 'nodiratime', 'relatime'];

/** Whether the mode lets only one node use the volume at a time. */
export function isSingleNode(mode: AccessModeName): boolean {
  return mode.startsWith('SINGLE_NODE_');
}

/** Whether the mode only reads. */
export function isReaderOnly(mode: AccessModeName): boolean {
  return mode.endsWith('_READER_ONLY');
}

/** Missing or malformed parts of each capability (the caller must fix the request). */
export function checkCapabilityShape(capability: VolumeCapability | null, field: string, problems: Problems): void {
  if (!capability) {
    problems.add(`${field} is required`);
    return;
  }
  if (!capability.access_mode || capability.access_mode.mode === 'UNKNOWN') problems.add(`${field}.access_mode.mode is required`);
  if (!capability.access_type) problems.add(`${field} must set an access type (mount or block)`);
}

/** Why Polly cannot serve this capability, or undefined when it can. */
export function unsupportedCapability(capability: VolumeCapability): string | undefined {
  if (capability.access_type === 'block') {
    return 'block access is not supported: Polly volumes are published as mounted directories (use access type mount)';
  }
  const mode = capability.access_mode?.mode ?? 'UNKNOWN';
  if (!SUPPORTED_ACCESS_MODES.includes(mode)) {
    return mode === 'MULTI_NODE_MULTI_WRITER'
      ? 'access mode MULTI_NODE_MULTI_WRITER is not supported: Polly allows one writer per volume'
      : `access mode ${mode} is not supported (supported: ${SUPPORTED_ACCESS_MODES.join(', ')})`;
  }
  const flags = capability.mount?.mount_flags ?? [];
  const unknown = flags.filter((f) => !SUPPORTED_MOUNT_FLAGS.includes(f));
  if (unknown.length > 0) {
    return `mount flags ${unknown.map((f) => JSON.stringify(f)).join(', ')} are not supported (supported: ${SUPPORTED_MOUNT_FLAGS.join(', ')})`;
  }
  return undefined;
}

/** Adds a problem for every capability Polly cannot serve. */
export function checkCapabilitiesSupported(capabilities: readonly VolumeCapability[], field: string, problems: Problems): void {
  capabilities.forEach((capability, i) => {
    const why = unsupportedCapability(capability);
    if (why) problems.add(`${field}[${i}]: ${why}`);
  });
}

/** Parameter keys the CO adds for its own bookkeeping (Kubernetes' external-provisioner): accepted and ignored. */
export function isCoParameter(key: string): boolean {
  return key.startsWith('csi.storage.k8s.io/');
}

export function hasEntries(map: StringMap | null | undefined): boolean {
  return map !== null && map !== undefined && Object.keys(map).length > 0;
}
