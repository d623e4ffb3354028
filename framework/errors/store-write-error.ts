/**
 * A state store write that failed for a reason other than a lost compare-and-set. Backends classify
 * their failures where they raise them with `storeWriteFailure`, so a caller (and `/health/ready`)
 * sees the cause: a full disk is 507, any other disk or backend failure 503, each naming what
 * happened instead of a bare "Internal server error".
 */
import { fromSystemError } from './from-system-error';
import { PollyError } from './polly-error';
import { UnavailableError } from './unavailable-error';

export class StoreWriteError extends UnavailableError {
  override name = 'StoreWriteError';
  override readonly code: string = 'STORE_WRITE_FAILED';
}

/** A backend's write failure as a typed error; Polly errors (conflicts, ZooKeeper unavailable, fenced) pass through. */
export function storeWriteFailure(err: unknown): PollyError {
  if (err instanceof PollyError) return err;
  const disk = fromSystemError(err, { subject: 'the state store', verb: 'cannot write' });
  if (disk) return disk;
  const cause = err instanceof Error ? err.message : String(err);
  return new StoreWriteError(`the state store cannot write: ${cause}`, undefined, { cause: err });
}
