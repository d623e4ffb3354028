import { PollyError } from './polly-error';

/**
 * A storage backend and Polly's store disagree about what the backend should hold (its metadata is
 * missing, older than the store's records, replaced, or bound to another installation): Polly
 * refuses to start rather than "repair" either side towards the other. The message names each
 * service, its backend, what was recorded and what was found, and the way out.
 */
export class BackendMismatchError extends PollyError {
  override name = 'BackendMismatchError';
  override readonly status: number = 409;
  override readonly code: string = 'BACKEND_MISMATCH';
}
