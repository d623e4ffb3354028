/**
 * Who may call Polly's libStorage API, decided once at start for its listener (TCP or unix socket
 * alike), so that a token the admin API requires is never bypassed through this port:
 *
 *   `libstorage.jwt` set          JWT bearer tokens (jwt-auth.ts): per-service allow/deny, `admins`.
 *   else, the admin API has auth  the admin API's bearer tokens with their scopes (api-token-auth.ts):
 *                                 `admin` is a libStorage admin (sees every volume, may preempt),
 *                                 `scheduler:NAME` acts as service NAME only, `read` may only read.
 *   else                          no auth: the admin API is open too, and both listen on loopback
 *                                 (or this one on a unix socket); anything else is a ConfigError.
 *
 * Anonymous or unknown tokens get 401 in libStorage's error shape; a known token doing what its
 * scope does not allow gets 403. Either kind binds subjects to the instance IDs they may attach and
 * detach as, per service, with `libstorage.instances` (instance-binding.ts).
 */
import type { LibStorageConfig } from '../../config/config-schema';
import { ConfigError } from '../../config/config-loader';
import type { ApiAuth } from '../auth/api-auth';
import { isLoopbackHost } from '../auth/api-auth';
import { ApiTokenAuth } from './api-token-auth';
import { InstanceBinding } from './instance-binding';
import { JwtAuth } from './jwt-auth';
import { LibStorageError } from './libstorage-error';

export interface Caller {
  /** The token's subject (JWT `sub`, or the admin API token's name); undefined when auth is off. */
  subject?: string;
  /** Sees every volume of a service and may preempt with `force`. */
  admin: boolean;
  /** Acts as this libStorage service only (an admin API `scheduler:NAME` token). */
  service?: string;
  /** May only read (an admin API `read` token). */
  readOnly?: boolean;
}

export const ANONYMOUS_CALLER: Caller = Object.freeze({ admin: false });

export interface LibStorageAuth {
  /** `jwt` or `api-tokens`, for logs and `/help/config`. */
  readonly kind: 'jwt' | 'api-tokens';
  /** The caller behind an `Authorization` header; 401 unless it is a valid bearer token. */
  authenticate(authorization: string | undefined): Promise<Caller>;
  /** 401 or 403 unless the caller may use `service`. */
  authorize(caller: Caller, service: string): void;
  /**
   * The services an all-services route (`GET /volumes`, `/services`, `/snapshots`) answers for: the
   * caller's own, or every one — refused whole (401) if any one of them refuses the caller.
   */
  servicesFor(caller: Caller, services: readonly string[]): string[];
  /** 403 unless the caller may attach and detach as `instanceId` on `service` (`libstorage.instances`). */
  authorizeInstance(caller: Caller, service: string, instanceId: string): void;
}

const READ_METHODS = new Set(['GET', 'HEAD']);

/** 403 when a read-only caller asks for anything but a read. */
export function authorizeMethod(caller: Caller, method: string): void {
  if (caller.readOnly && !READ_METHODS.has(method)) {
    throw new LibStorageError(403, `token "${caller.subject ?? ''}" is read-only`, { method });
  }
}

/**
 * The auth the libStorage API runs with, or undefined for none (refused off loopback). `apiAuth` is
 * the admin API's: when it authenticates and `libstorage.jwt` is absent, its tokens are accepted.
 */
export function createLibStorageAuth(config: LibStorageConfig, apiAuth: ApiAuth | undefined): LibStorageAuth | undefined {
  const instances = new InstanceBinding(config.instances);
  if (config.jwt) return new JwtAuth(config.jwt, instances);
  if (apiAuth?.enabled) return new ApiTokenAuth(apiAuth, instances);
  const problems: string[] = [];
  if (!instances.isEmpty) {
    problems.push(
      'libstorage.instances binds token subjects to instance IDs, but the libStorage API has no authentication; ' +
        'set libstorage.jwt, or api.tokens (the libStorage API then accepts them)',
    );
  }
  if (!config.socket && !isLoopbackHost(config.host)) {
    problems.push(
      `libstorage.host is ${config.host}, which is not a loopback address, and the libStorage API has no authentication; ` +
        'set libstorage.jwt (secret or secretFile, and per-service allow/deny), or api.tokens (the libStorage API then ' +
        'accepts them), or libstorage.host to 127.0.0.1',
    );
  }
  if (problems.length > 0) throw new ConfigError(problems.join('; '), problems);
  return undefined;
}
