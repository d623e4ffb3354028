/** The CLI's typed errors: each maps to an exit code (1 for failures, 2 for usage). */

/** The command line itself is wrong (exit 2). */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The API answered with an error (`{message, status, details?}`). */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    message: string,
    readonly status: number,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** The API could not be reached (connection refused, DNS, TLS). */
export class ApiConnectionError extends Error {
  override name = 'ApiConnectionError';
}

/** Waiting for something (an app rollout) took longer than allowed. */
export class WaitTimeoutError extends Error {
  override name = 'WaitTimeoutError';
}

/** Waiting for something cannot succeed until an operator acts (exit 1, saying what). */
export class WaitBlockedError extends Error {
  override name = 'WaitBlockedError';
}
