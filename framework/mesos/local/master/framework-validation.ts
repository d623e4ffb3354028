/**
 * FrameworkInfo checks made on SUBSCRIBE (validation::framework::validate and the master's own
 * checks). A failure here is an ERROR event on a 200 stream, not an HTTP error.
 */
import { mesos } from '../../generated/mesos';
import { has } from './resources';

const Capability = mesos.v1.FrameworkInfo.Capability.Type;

/** roles::validate (src/common/roles.cpp). */
export function validateRole(role: string): string | undefined {
  if (role === '*') return undefined;
  if (role === '') return 'Empty role name is invalid';
  if (role.startsWith('/')) return `Role '${role}' cannot start with a slash`;
  if (role.endsWith('/')) return `Role '${role}' cannot end with a slash`;
  if (/\s/.test(role)) return `Role '${role}' cannot contain whitespace characters`;
  for (const component of role.split('/')) {
    if (component === '') return `Role '${role}' cannot contain two adjacent slashes`;
    if (component === '.' || component === '..') return `Role '${role}' cannot contain '.' or '..' as a path component`;
    if (component === '*') return `Role '${role}' cannot contain '*' as a path component`;
    if (component.startsWith('-')) return `Role component '${component}' is invalid because it starts with a dash`;
  }
  return undefined;
}

/** common::validation::validateID. */
export function validateId(id: string): string | undefined {
  if (id === '') return 'ID must not be empty';
  if (id.length > 255) return 'ID must not be greater than 255 characters';
  if (id === '.' || id === '..') return "'.' and '..' are disallowed for ID";
  // Control characters, '/' and '\\' are refused (common::validation::validateID).
  if (/[\x00-\x1f\x7f/\\]/.test(id)) return `'${id}' contains invalid characters`;
  return undefined;
}

export function hasCapability(info: mesos.v1.IFrameworkInfo, type: number): boolean {
  return (info.capabilities ?? []).some((c) => c.type === type);
}

/** The roles a framework is subscribed with. */
export function rolesOf(info: mesos.v1.IFrameworkInfo): string[] {
  if (hasCapability(info, Capability.MULTI_ROLE)) return [...(info.roles ?? [])];
  return [has(info, 'role') ? (info.role as string) : '*'];
}

/** Largest number of seconds a stout Duration (int64 nanoseconds) holds. */
const MAX_DURATION_SECONDS = 9223372036.854775;

export function validateFrameworkInfo(info: mesos.v1.IFrameworkInfo, suppressedRoles: readonly string[]): string | undefined {
  const multiRole = hasCapability(info, Capability.MULTI_ROLE);
  if (multiRole) {
    if (has(info, 'role')) return "'FrameworkInfo.role' must not be set when the framework is MULTI_ROLE capable";
    const seen = new Set<string>();
    for (const role of info.roles ?? []) {
      const error = validateRole(role);
      if (error) return `'FrameworkInfo.roles' contains invalid role: ${error}`;
      if (seen.has(role)) return `'FrameworkInfo.roles' contains duplicate role '${role}'`;
      seen.add(role);
    }
  } else {
    if ((info.roles ?? []).length > 0) return "'FrameworkInfo.roles' must not be set when the framework is not MULTI_ROLE capable";
    const error = validateRole(has(info, 'role') ? (info.role as string) : '*');
    if (error) return `'FrameworkInfo.role' is not a valid role: ${error}`;
  }
  if (has(info, 'id')) {
    const error = validateId(info.id?.value ?? '');
    if (error) return `'FrameworkInfo.id' is invalid: ${error}`;
  }
  const timeout = Number(info.failover_timeout ?? 0);
  if (!Number.isFinite(timeout) || Math.abs(timeout) > MAX_DURATION_SECONDS) {
    return `Invalid failover_timeout: Argument out of the range that a Duration can represent due to int64_t's size limit`;
  }
  const roles = new Set(rolesOf(info));
  for (const role of suppressedRoles) {
    if (!roles.has(role)) return `Suppressed role '${role}' is not contained in the list of roles`;
  }
  return undefined;
}
