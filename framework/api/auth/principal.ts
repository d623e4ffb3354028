/** Who is calling: resolved from the bearer token (or `anonymous-admin` when auth is off on loopback). */
import type { Response } from 'express';

export type Scope = 'admin' | 'read' | 'scheduler';

export interface Principal {
  /** The token's name from the config (never the token itself). */
  name: string;
  scope: Scope;
  /** For scope `scheduler`: the scheduler it acts as. */
  scheduler?: string;
}

export const ANONYMOUS_ADMIN: Principal = Object.freeze({ name: 'anonymous', scope: 'admin' });

/** `admin`, `read` or `scheduler:NAME` → its parts; undefined when malformed. */
export function parseScope(scope: string): Pick<Principal, 'scope' | 'scheduler'> | undefined {
  if (scope === 'admin' || scope === 'read') return { scope };
  const m = /^scheduler:([A-Za-z0-9][A-Za-z0-9._:@-]{0,254})$/.exec(scope);
  return m ? { scope: 'scheduler', scheduler: m[1] } : undefined;
}

export function setPrincipal(res: Response, principal: Principal): void {
  res.locals.principal = principal;
}

/** The caller of this request (set by the authenticate middleware, which runs first). */
export function principalOf(res: Response): Principal {
  const p = res.locals.principal as Principal | undefined;
  if (!p) throw new Error('principalOf: no principal on this request (authenticate middleware missing)');
  return p;
}

/** Whether the caller may see a volume: schedulers see only volumes offered to them. */
export function canSeeVolume(principal: Principal, volume: { schedulers: readonly string[] }): boolean {
  return principal.scope !== 'scheduler' || volume.schedulers.includes(principal.scheduler!);
}
