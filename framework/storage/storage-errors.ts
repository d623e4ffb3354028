/** Small helpers shared by the catalog, the ledger and recovery for turning failures into Polly errors. */
import { isDriverError } from '../../drivers/errors';
import { fromDriverError } from '../errors/from-driver-error';
import { isPollyError, PollyError } from '../errors/polly-error';

/** Driver errors become Polly errors; Polly errors pass through; anything else becomes an internal error. */
export function toPollyError(err: unknown): PollyError {
  if (isPollyError(err)) return err;
  if (isDriverError(err)) return fromDriverError(err);
  return new PollyError((err as Error)?.message ?? String(err), undefined, { cause: err });
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** libStorage compares instance IDs case-insensitively (hostnames). */
export function sameInstance(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}
