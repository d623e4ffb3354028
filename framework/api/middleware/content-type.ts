/**
 * Bodies must be JSON: a request that carries a body with another Content-Type is a 415. A request
 * without a body (no Content-Length, or 0, and no chunked transfer) passes whatever its headers say.
 */
import type { RequestHandler } from 'express';
import { UnsupportedMediaTypeError } from '../../errors/unsupported-media-type-error';

function hasBody(headers: Record<string, string | string[] | undefined>): boolean {
  if (headers['transfer-encoding'] !== undefined) return true;
  const length = headers['content-length'];
  return length !== undefined && length !== '0';
}

export function requireJsonBody(): RequestHandler {
  return (req, _res, next) => {
    if (!hasBody(req.headers)) return next();
    const type = req.get('content-type');
    const mime = type?.split(';')[0].trim().toLowerCase();
    if (mime !== 'application/json' && !(mime !== undefined && /^application\/[a-z0-9.+-]+\+json$/.test(mime))) {
      return next(
        new UnsupportedMediaTypeError(
          `Request bodies must be JSON (Content-Type: application/json), got ${JSON.stringify(type ?? '(none)')}`,
          {
            contentType: type ?? null,
          },
        ),
      );
    }
    next();
  };
}
