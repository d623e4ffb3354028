/**
 * The one place errors become HTTP responses. Polly errors keep their status, message and details;
 * driver errors are translated first; a disk failure anywhere underneath (ENOSPC, EIO, a LevelDB
 * I/O error) is 507 or 503 naming the cause and path (from-system-error.ts); a malformed
 * percent-encoding in the URL is 400; 4xx errors from the HTTP stack that are marked safe to show
 * (http-errors' `expose`, e.g. a malformed JSON body) keep their status; everything else is a 500
 * with a generic message, so internals never leak to callers (log the original error yourself).
 */
import { isDriverError } from '../../drivers/errors';
import { fromDriverError } from './from-driver-error';
import { fromSystemError } from './from-system-error';
import { ErrorDetails, PollyError } from './polly-error';
import { ValidationError } from './validation-error';

export interface HttpErrorBody {
  message: string;
  status: number;
  details?: ErrorDetails;
}

export interface HttpError {
  status: number;
  body: HttpErrorBody;
}

const GENERIC_MESSAGE = 'Internal server error';

function body(status: number, message: string, details?: ErrorDetails): HttpError {
  return { status, body: details === undefined ? { message, status } : { message, status, details } };
}

/** Errors thrown by the HTTP stack itself (body parser, router): `{ status, expose: true }` for 4xx. */
function exposedHttpStatus(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { status, statusCode, expose } = err as { status?: unknown; statusCode?: unknown; expose?: unknown };
  const code = typeof status === 'number' ? status : statusCode;
  return expose === true && typeof code === 'number' && Number.isInteger(code) && code >= 400 && code < 500 ? code : undefined;
}

/** A Polly error for what Polly knows how to explain; undefined for anything else. */
function explained(err: unknown): PollyError | undefined {
  // An internal error (the base class) wrapping a disk failure says what the disk did instead.
  if (err instanceof PollyError) return err.code === 'INTERNAL' ? (fromSystemError(err) ?? err) : err;
  if (isDriverError(err)) return fromDriverError(err);
  // The router's own decode failure (`/volumes/%E0`) is the caller's mistake, not ours.
  if (err instanceof URIError) return new ValidationError('Malformed percent-encoding in the URL', { field: '(path)' });
  return fromSystemError(err);
}

export function toHttpError(err: unknown): HttpError {
  const polly = explained(err);
  if (polly) {
    const status = Number.isInteger(polly.status) && polly.status >= 400 && polly.status <= 599 ? polly.status : 500;
    return body(status, polly.message || GENERIC_MESSAGE, polly.details);
  }
  const exposed = exposedHttpStatus(err);
  if (exposed !== undefined) return body(exposed, (err as Error).message || 'Bad request');
  return body(500, GENERIC_MESSAGE);
}

/** Whether retrying the same request (same idempotency key) may succeed. */
export function isTemporaryError(err: unknown): boolean {
  if (err instanceof PollyError) return err.temporary;
  return isDriverError(err) && err.code === 'TRANSIENT';
}
