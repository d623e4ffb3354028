import { PollyError } from './polly-error';

/** A write found its disk (or quota) full: nothing was written; the same request succeeds once space is freed. */
export class InsufficientStorageError extends PollyError {
  override name = 'InsufficientStorageError';
  override readonly status: number = 507;
  override readonly code: string = 'INSUFFICIENT_STORAGE';
  override readonly temporary: boolean = true;
}
