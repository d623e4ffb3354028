/**
 * What each scope may do, in one table (object-level filtering — a scheduler seeing only volumes
 * offered to it, releasing only its own claims — is done by the handlers with `canSeeVolume`):
 *
 *   admin          everything
 *   read           GET/HEAD everywhere
 *   scheduler:NAME GET of version, services, volumes, claims, events, agents, offers (its own);
 *                  POST /v1/claims and /v1/claims/:id/release (for itself)
 *
 * Health endpoints need no token (load balancers and Marathon health checks call them).
 */
import type { Principal } from './principal';

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Paths anyone may call without a token. */
export function isPublicPath(path: string): boolean {
  return path === '/health' || path === '/health/ready' || path === '/health/' || path === '/health/ready/';
}

const SCHEDULER_READABLE = [
  /^\/admin\/version\/?$/,
  /^\/v1\/services(\/.*)?$/,
  /^\/v1\/volumes(\/[^/]+)?\/?$/,
  /^\/v1\/claims(\/[^/]+)?\/?$/,
  /^\/v1\/events\/?$/,
  /^\/v1\/agents(\/.*)?$/,
  /^\/v1\/offers(\/.*)?$/,
];

const SCHEDULER_WRITABLE = [/^\/v1\/claims\/?$/, /^\/v1\/claims\/[^/]+\/release\/?$/];

export type AccessDecision = { allowed: true } | { allowed: false; reason: string };

export function authorize(principal: Principal, method: string, path: string, query: Record<string, unknown>): AccessDecision {
  if (principal.scope === 'admin') return { allowed: true };
  const reading = READ_METHODS.has(method);
  if (principal.scope === 'read') {
    return reading ? { allowed: true } : { allowed: false, reason: `Token "${principal.name}" is read-only` };
  }
  const table = reading ? SCHEDULER_READABLE : SCHEDULER_WRITABLE;
  if (!table.some((re) => re.test(path))) {
    return { allowed: false, reason: `Token "${principal.name}" (scheduler ${principal.scheduler}) may not ${method} ${path}` };
  }
  // Offers are computed per scheduler: a scheduler token asks only for its own.
  if (/^\/v1\/offers/.test(path) && query.scheduler !== undefined && query.scheduler !== principal.scheduler) {
    return { allowed: false, reason: `Token "${principal.name}" may only see offers for scheduler ${principal.scheduler}` };
  }
  return { allowed: true };
}
