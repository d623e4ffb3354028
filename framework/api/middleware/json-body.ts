/**
 * JSON body parsing with a size limit. Malformed JSON and oversized bodies become typed errors
 * (400, 413) so the one error handler renders them like every other error.
 */
import express, { ErrorRequestHandler, RequestHandler } from 'express';
import { PayloadTooLargeError } from '../../errors/payload-too-large-error';
import { ValidationError } from '../../errors/validation-error';

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
  return [parse, translate];
}
