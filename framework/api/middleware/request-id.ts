/**
 * Gives every request an ID (the caller's `X-Request-Id` when it is sane, else a new one), echoes it
 * in the response and logs one structured access line when the response is finished.
 */
import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Logger } from '../../shared/logger';

const SANE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestIdOf(res: { locals: Record<string, unknown> }): string {
  return String(res.locals.requestId ?? '');
}

export function requestId(): RequestHandler {
  return (req, res, next) => {
    const given = req.get('x-request-id');
    const id = given !== undefined && SANE_ID.test(given) ? given : randomUUID();
    res.locals.requestId = id;
    res.setHeader('X-Request-Id', id);
    next();
  };
}

export function accessLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const principal = res.locals.principal as { name?: string } | undefined;
      const fields = {
        requestId: requestIdOf(res),
        method: req.method,
        path: req.path,
        status: res.statusCode,
        durationMs: Math.round(ms * 10) / 10,
        principal: principal?.name,
        remote: req.socket.remoteAddress,
      };
      if (res.statusCode >= 500) logger.warn('http request', fields);
      else logger.debug('http request', fields);
    });
    next();
  };
}
