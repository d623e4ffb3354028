/**
 * Bearer tokens from the config, each with a scope. Lookup compares the presented token with every
 * configured one in constant time (over SHA-256 digests, so lengths leak nothing either) and never
 * stops early, so response timing says nothing about how close a guess was.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { ConfigError } from '../../config/config-loader';
import { parseScope, Principal } from './principal';

export interface TokenConfig {
  name: string;
  token: string;
  scope: string;
}

interface Known {
  digest: Buffer;
  principal: Principal;
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export class TokenAuthenticator {
  private readonly known: Known[];

  constructor(tokens: readonly TokenConfig[]) {
    const names = new Set<string>();
    const digests = new Set<string>();
    this.known = tokens.map((t, i) => {
      const parsed = parseScope(t.scope);
      if (!parsed) throw new ConfigError(`api.tokens[${i}].scope must be admin, read or scheduler:NAME`);
      if (names.has(t.name)) throw new ConfigError(`api.tokens[${i}].name "${t.name}" is used twice`);
      const d = digest(t.token);
      if (digests.has(d.toString('hex'))) throw new ConfigError(`api.tokens[${i}].token is the same as another token's`);
      names.add(t.name);
      digests.add(d.toString('hex'));
      return { digest: d, principal: Object.freeze({ name: t.name, ...parsed }) };
    });
  }

  get size(): number {
    return this.known.length;
  }

  /** The principal of a presented token, or undefined. */
  lookup(token: string): Principal | undefined {
    const presented = digest(token);
    let found: Principal | undefined;
    for (const k of this.known) {
      if (timingSafeEqual(presented, k.digest) && found === undefined) found = k.principal;
    }
    return found;
  }

  /** Parses `Authorization: Bearer <token>`; undefined when absent, malformed or unknown. */
  authenticate(authorization: string | undefined): Principal | undefined {
    if (typeof authorization !== 'string') return undefined;
    const m = /^Bearer[ ]+([^\s]+)\s*$/i.exec(authorization);
    return m ? this.lookup(m[1]) : undefined;
  }
}
