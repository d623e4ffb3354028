/**
 * Authentication (401 with `WWW-Authenticate: Bearer`) then authorisation by scope (403), before
 * any route runs. Health endpoints are public.
 */
import type { RequestHandler } from 'express';
import { ForbiddenError } from '../../errors/forbidden-error';
import { UnauthorizedError } from '../../errors/unauthorized-error';
import type { ApiAuth } from '../auth/api-auth';
import { authorize, isPublicPath } from '../auth/access-policy';
import { ANONYMOUS_ADMIN, setPrincipal } from '../auth/principal';

export function authenticate(auth: ApiAuth): RequestHandler {
  return (req, res, next) => {
    if (isPublicPath(req.path)) {
      setPrincipal(res, { name: 'public', scope: 'read' });
      return next();
    }
    const principal = auth.enabled ? auth.authenticate(req.get('authorization')) : ANONYMOUS_ADMIN;
    if (!principal) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="polly"');
      const presented = req.get('authorization') !== undefined;
      return next(new UnauthorizedError(presented ? 'Invalid bearer token' : 'A bearer token is required (Authorization: Bearer <token>)'));
    }
    setPrincipal(res, principal);
    const decision = authorize(principal, req.method, req.path, req.query as Record<string, unknown>);
    if (!decision.allowed) return next(new ForbiddenError(decision.reason, { scope: principal.scope }));
    next();
  };
}
