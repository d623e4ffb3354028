import { ConflictError } from './conflict-error';

/** Another operation on the same object is in flight; retry once it has finished. */
export class AbortedError extends ConflictError {
  override name = 'AbortedError';
  override readonly code: string = 'ABORTED';
  override readonly temporary: boolean = true;
}
