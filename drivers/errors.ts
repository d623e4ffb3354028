/**
 * Typed errors every storage driver speaks. The storage layer maps them to Polly's own errors;
 * `TransientError` means "maybe": the operation may or may not have happened and is retried
 * under the same idempotency key.
 */
export type DriverErrorCode = 'NOT_FOUND' | 'CONFLICT' | 'NOT_IMPLEMENTED' | 'TRANSIENT' | 'INVALID' | 'REFUSED';

export abstract class DriverError extends Error {
  abstract readonly code: DriverErrorCode;
  constructor(
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** The volume, snapshot or instance does not exist on the backend. */
export class DriverNotFoundError extends DriverError {
  override name = 'DriverNotFoundError';
  readonly code = 'NOT_FOUND' as const;
}

/** The request clashes with the backend's state (name taken, attached elsewhere, in use). */
export class DriverConflictError extends DriverError {
  override name = 'DriverConflictError';
  readonly code = 'CONFLICT' as const;
}

/** The backend cannot do this at all (e.g. snapshots on a driver without them). */
export class DriverNotImplementedError extends DriverError {
  override name = 'DriverNotImplementedError';
  readonly code = 'NOT_IMPLEMENTED' as const;
}

/** Timeouts, lost connections, throttling: the outcome is unknown; retry with backoff. */
export class DriverTransientError extends DriverError {
  override name = 'DriverTransientError';
  readonly code = 'TRANSIENT' as const;
}

/** The arguments are unacceptable to this backend (bad name, size out of range ...). */
export class DriverInvalidError extends DriverError {
  override name = 'DriverInvalidError';
  readonly code = 'INVALID' as const;
}

/**
 * The backend's own metadata is missing, torn, or older than the data it describes: the driver will
 * not guess (and so never deletes or reuses data). The message names the place and the way out.
 */
export class DriverRefusedError extends DriverError {
  override name = 'DriverRefusedError';
  readonly code = 'REFUSED' as const;
}

export function isDriverError(err: unknown): err is DriverError {
  return err instanceof DriverError;
}
