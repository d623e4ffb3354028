/**
 * libStorage's error body `{message, status, error}` (reference §1.7). Errors raised by this API
 * (missing instance ID, resource not found, invalid token...) are `LibStorageError`s with the
 * upstream message and inner value; every other error goes through `toHttpError` — still the one
 * place Polly errors get their status — and is reshaped: `error` carries the details, or the
 * message when there are none.
 */
import type { LsErrorBody } from '../../../drivers/libstorage/libstorage-wire';
import { toHttpError } from '../../errors/to-http-error';

export class LibStorageError extends Error {
  override name = 'LibStorageError';
  constructor(
    readonly status: number,
    message: string,
    readonly inner?: unknown,
  ) {
    super(message);
  }

  static notFound(resourceID: string): LibStorageError {
    return new LibStorageError(404, 'resource not found', { resourceID });
  }

  static missingInstanceId(service: string): LibStorageError {
    return new LibStorageError(400, 'missing instance ID', { service });
  }

  static invalidToken(): LibStorageError {
    return new LibStorageError(401, 'invalid security token', 'invalid security token');
  }

  static badRequest(message: string, inner?: unknown): LibStorageError {
    return new LibStorageError(400, message, inner ?? message);
  }
}

export function toLibStorageError(err: unknown): { status: number; body: LsErrorBody } {
  if (err instanceof LibStorageError) {
    return { status: err.status, body: { message: err.message, status: err.status, error: err.inner ?? err.message } };
  }
  const http = toHttpError(err);
  const { message, status, details } = http.body;
  return { status: http.status, body: { message, status, error: details ?? message } };
}
