/**
 * JSON body parsing with a size limit and a nesting limit. Malformed JSON, oversized bodies and
 * bodies nested deeper than MAX_JSON_DEPTH become typed errors (400, 413) so the one error handler
 * renders them like every other error, before any route sees them.
 */
import express, { ErrorRequestHandler, RequestHandler } from 'express';
import { PayloadTooLargeError } from '../../errors/payload-too-large-error';
import { ValidationError } from '../../errors/validation-error';
import { MAX_JSON_DEPTH, nestsDeeperThan } from '../json-depth';

export function jsonBody(limitBytes: number): Array<RequestHandler | ErrorRequestHandler> {
  const parse = express.json({ limit: limitBytes, strict: false, type: ['application/json', 'application/*+json'] });
  const translate: ErrorRequestHandler = (err: { type?: string; message?: string }, _req, _res, next) => {
    if (err.type === 'entity.parse.failed')
      return next(new ValidationError(`Malformed JSON body: ${err.message ?? 'parse error'}`, { field: '(body)' }));
    if (err.type === 'entity.too.large')
      return next(new PayloadTooLargeError(`Request body exceeds ${limitBytes} bytes`, { limit: limitBytes }));
    if (err.type === 'encoding.unsupported' || err.type === 'charset.unsupported') {
      return next(new ValidationError(`Unsupported body encoding: ${err.message ?? ''}`.trim()));
    }
    next(err);
  };
  const depth: RequestHandler = (req, _res, next) => {
    if (nestsDeeperThan(req.body as unknown)) {
      return next(new ValidationError(`The JSON body nests deeper than ${MAX_JSON_DEPTH} levels`, { field: '(body)' }));
    }
    next();
  };
  return [parse, translate, depth];
}
