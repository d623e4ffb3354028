/**
 * Unknown routes → 404 JSON; a known path with a method it does not serve → 405 with `Allow`
 * (from the RouteTable, i.e. from the routes actually registered). Runs before body parsing, so
 * a request to a wrong route is refused without reading its body.
 */
import type { RequestHandler } from 'express';
import { NotFoundError } from '../../errors/not-found-error';
import { MethodNotAllowedError } from '../../errors/method-not-allowed-error';
import type { RouteTable } from '../route-table';

export function routeGuard(routes: RouteTable): RequestHandler {
  return (req, res, next) => {
    const allowed = routes.allowed(req.path);
    if (!allowed) return next(new NotFoundError(`No route ${req.method} ${req.path.slice(0, 300)}`, { path: req.path.slice(0, 300) }));
    if (req.method === 'OPTIONS') {
      res.setHeader('Allow', allowed.join(', '));
      res.status(204).end();
      return;
    }
    if (!allowed.includes(req.method)) {
      res.setHeader('Allow', allowed.join(', '));
      return next(new MethodNotAllowedError(`Method ${req.method} is not allowed on ${req.path.slice(0, 300)}`, { allow: allowed }));
    }
    next();
  };
}
