/**
 * Decides whether the API authenticates callers. `auto` turns auth off only when the API listens on
 * a loopback address; `off` anywhere else is refused at start (a ConfigError), so an open admin API
 * can never be exposed by accident. `on` with no tokens is refused too: nobody could call it.
 */
import net from 'node:net';
import { ConfigError } from '../../config/config-loader';
import { ANONYMOUS_ADMIN, Principal } from './principal';
import { TokenAuthenticator, TokenConfig } from './token-authenticator';

export type AuthMode = 'auto' | 'on' | 'off';

export interface ApiAuthConfig {
  host: string;
  auth: AuthMode;
  tokens: readonly TokenConfig[];
}

export interface ApiAuth {
  readonly enabled: boolean;
  /** The caller, or undefined when a token is required and none valid was given. */
  authenticate(authorization: string | undefined): Principal | undefined;
}

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === 'ip6-localhost') return true;
  if (net.isIPv4(h)) return h.startsWith('127.');
  if (net.isIPv6(h)) return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h);
  return false;
}

export function createApiAuth(config: ApiAuthConfig): ApiAuth {
  const loopback = isLoopbackHost(config.host);
  const enabled = config.auth === 'on' || (config.auth === 'auto' && (!loopback || config.tokens.length > 0));
  if (config.auth === 'off' && !loopback) {
    throw new ConfigError(
      `api.auth is off but the API listens on ${config.host}, which is not a loopback address; ` +
        'set api.auth to on (with api.tokens) or api.host to 127.0.0.1',
    );
  }
  if (enabled && config.tokens.length === 0) {
    throw new ConfigError(
      loopback
        ? 'api.auth is on but api.tokens is empty: add at least one token'
        : `The API listens on ${config.host} (not loopback), so it needs authentication: add api.tokens (admin, read or scheduler:NAME)`,
    );
  }
  if (!enabled) return { enabled: false, authenticate: () => ANONYMOUS_ADMIN };
  const tokens = new TokenAuthenticator(config.tokens);
  return { enabled: true, authenticate: (header) => tokens.authenticate(header) };
}
