/**
 * On a standby Polly (HA, ZooKeeper state): requests that would mutate (anything but GET, HEAD and
 * OPTIONS) go to the leader — 307 Temporary Redirect to the same path and query on the leader's
 * advertised URL, so the client repeats the same method with the same body there. While no leader
 * is known the answer is 503 (retry). Reads are left to `serveReads`: served here when true,
 * redirected as well otherwise (a standby that keeps no state of its own). `/health` and
 * `/metrics` are always served locally: they describe this instance.
 */
import type { RequestHandler } from 'express';
import { UnavailableError } from '../../errors/unavailable-error';

export interface LeaderRedirectOptions {
  /** Whether this instance leads now (then everything passes). */
  isLeader: () => boolean;
  /** The leader's advertised base URL, e.g. `http://10.0.0.2:7978`; undefined while unknown. */
  leaderUrl: () => string | undefined;
  serveReads?: boolean;
  /** Paths always served locally. */
  localPaths?: readonly string[];
}

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function leaderRedirect(options: LeaderRedirectOptions): RequestHandler {
  const local = options.localPaths ?? ['/health', '/metrics'];
  return (req, res, next) => {
    if (options.isLeader()) return next();
    if (local.some((p) => req.path === p || req.path.startsWith(`${p}/`))) return next();
    if (options.serveReads && READ_METHODS.has(req.method)) return next();
    const leader = options.leaderUrl();
    if (!leader) return next(new UnavailableError('No Polly leader is elected at the moment; retry shortly'));
    const target = new URL(req.originalUrl, leader.endsWith('/') ? leader : `${leader}/`);
    res.setHeader('Location', target.href);
    res.setHeader('Retry-After', '0');
    res.status(307).json({ message: `This Polly instance is a standby; the leader is ${leader}`, status: 307, details: { leader } });
  };
}
