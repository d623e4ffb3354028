/**
 * Retries a driver call while its outcome is "maybe" (DriverTransientError: timeout, lost
 * connection, throttling), with jittered exponential backoff and a bounded number of attempts.
 * Safe only for idempotent calls made under the same idempotency key (attach, detach, remove).
 *
 * The attempts share one call budget (drivers/call-budget.ts): together, with the waits between
 * them, they take at most the service's timeout. A timed-out attempt has used it all, so it is not
 * tried again; a retry whose wait would outlast what is left is not made. The caller gets its answer
 * when the timeout says, and a "maybe" outcome is settled by the intent rules, as always.
 */
import { withCallBudget } from '../../drivers/call-budget';
import { DriverTransientError } from '../../drivers/errors';

export interface RetryOptions {
  /** Total attempts, ≥ 1. Default 4. */
  attempts?: number;
  /** First delay, ms. Default 100. */
  baseDelayMs?: number;
  /** Longest delay, ms. Default 5 000. */
  maxDelayMs?: number;
  signal?: AbortSignal;
  onRetry?: (attempt: number, err: Error, delayMs: number) => void;
}

export function isTransient(err: unknown): boolean {
  return err instanceof DriverTransientError && (err as Error).name !== 'AbortError';
}

export function retryTransient<T>(call: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = Math.max(1, options.attempts ?? 4);
  const base = options.baseDelayMs ?? 100;
  const max = options.maxDelayMs ?? 5_000;
  return withCallBudget(async (budget) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await call();
      } catch (err) {
        if (!isTransient(err) || attempt >= attempts || options.signal?.aborted) throw err;
        // Full jitter: spreads retries of many callers hitting one slow backend.
        const delay = Math.round(Math.random() * Math.min(max, base * 2 ** (attempt - 1)));
        // No time left for the wait and another try: answer now (undefined: no bounded call was made).
        const left = budget.remainingMs();
        if (left !== undefined && left - delay < 1) throw err;
        options.onRetry?.(attempt, err as Error, delay);
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  });
}

/**
 * A create (volume, snapshot) retried while its outcome is "maybe": before each new try the backend
 * is asked whether an earlier one made it (`existing`), so a timed-out create that did happen is
 * found instead of made twice.
 */
export function retryCreate<T>(make: () => Promise<T>, existing: () => Promise<T | undefined>, options: RetryOptions = {}): Promise<T> {
  let tried = false;
  return retryTransient(async () => {
    if (tried) {
      const found = await existing();
      if (found) return found;
    }
    tried = true;
    return make();
  }, options);
}
