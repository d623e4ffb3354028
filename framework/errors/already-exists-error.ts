import { ConflictError } from './conflict-error';

/** The name is taken by something that does not match the request (CSI: ALREADY_EXISTS). */
export class AlreadyExistsError extends ConflictError {
  override name = 'AlreadyExistsError';
  override readonly code: string = 'ALREADY_EXISTS';
}
