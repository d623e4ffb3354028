/**
 * Cancellation helpers shared by drivers. A cancelled call is reported as a DriverTransientError
 * (name `AbortError`): like a timeout, the caller cannot know whether the step in flight happened.
 */
import { DriverTransientError } from './errors';

/** A DriverTransientError that says "the caller gave up" rather than "the backend failed". */
export class DriverAbortedError extends DriverTransientError {
  override name = 'AbortError';
}

export function abortedError(what: string, reason?: unknown): DriverAbortedError {
  const why = reason instanceof Error ? reason.message : reason === undefined ? '' : String(reason);
  return new DriverAbortedError(`aborted: ${what}${why ? ` (${why})` : ''}`, { aborted: true });
}

/** Throws a DriverAbortedError when the signal has fired; call before each step. */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) {
    throw abortedError(what, signal.reason);
  }
}

/** Sleeps `ms`, rejecting early (DriverAbortedError) when the signal fires. */
export function sleep(ms: number, signal: AbortSignal | undefined, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortedError(what, signal.reason));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortedError(what, signal?.reason));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
