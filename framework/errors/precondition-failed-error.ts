import { ConflictError } from './conflict-error';

/** The system is not in the state the operation needs (held elsewhere, in use); fix that, then retry. */
export class PreconditionFailedError extends ConflictError {
  override name = 'PreconditionFailedError';
  override readonly code: string = 'FAILED_PRECONDITION';
}
