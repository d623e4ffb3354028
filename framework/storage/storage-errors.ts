/** Small helpers shared by the catalog, the ledger and recovery for turning failures into Polly errors. */
import { isDriverError } from '../../drivers/errors';
import { fromDriverError } from '../errors/from-driver-error';
import { fromSystemError } from '../errors/from-system-error';
import { isPollyError, PollyError } from '../errors/polly-error';

/**
 * Driver errors become Polly errors; Polly errors pass through; a disk failure (a driver's raw
 * ENOSPC, EIO...) becomes the typed error that names it; anything else becomes an internal error.
 */
export function toPollyError(err: unknown): PollyError {
  if (isPollyError(err)) return err;
  if (isDriverError(err)) return fromDriverError(err);
  const disk = fromSystemError(err, { subject: 'a storage driver', verb: 'failed' });
  if (disk) return disk;
  return new PollyError((err as Error)?.message ?? String(err), undefined, { cause: err });
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** libStorage compares instance IDs case-insensitively (hostnames). */
export function sameInstance(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}
