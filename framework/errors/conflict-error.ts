import { PollyError } from './polly-error';

/** The request clashes with current state (name taken, volume held by another writer, stale version). */
export class ConflictError extends PollyError {
  override name = 'ConflictError';
  override readonly status: number = 409;
  override readonly code: string = 'CONFLICT';
}
