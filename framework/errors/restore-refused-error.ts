import { PollyError } from './polly-error';

/**
 * `polly state import` refused an export: it disagrees with itself or with what it would be
 * restored over (a journal older than the store's records, a catalog volume its journal lacks,
 * another installation, metadata or data already in place...). `problems` names every one, each
 * with its way out; nothing was changed.
 */
export class RestoreRefusedError extends PollyError {
  override name = 'RestoreRefusedError';
  override readonly status: number = 409;
  override readonly code: string = 'RESTORE_REFUSED';

  constructor(readonly problems: readonly string[]) {
    super(`The import was refused, nothing was changed: ${problems.join(' ')}`, { problems: [...problems] });
  }
}
