/**
 * The API's one error handler: every error becomes `{message, status, details?}` through
 * `toHttpError`. 5xx are logged with the request ID (the caller gets a generic message).
 */
import type { ErrorRequestHandler } from 'express';
import { toHttpError } from '../../errors/to-http-error';
import type { Logger } from '../../shared/logger';
import { requestIdOf } from './request-id';

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    const { status, body } = toHttpError(err);
    if (status >= 500) {
      logger.error('request failed', {
        requestId: requestIdOf(res),
        method: req.method,
        path: req.path,
        status,
        error: err instanceof Error ? err.message : String(err),
        stack: err instanceof Error ? err.stack : undefined,
      });
    }
    if (res.headersSent) {
      // Streaming responses (SSE) cannot change status any more; end them.
      res.end();
      return;
    }
    if (status === 401 && !res.getHeader('WWW-Authenticate')) res.setHeader('WWW-Authenticate', 'Bearer realm="polly"');
    res.status(status).json(body);
    void next;
  };
}
