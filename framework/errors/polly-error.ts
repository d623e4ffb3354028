/**
 * The base of Polly's typed errors. `status` is the HTTP status the error maps to, `code` a stable
 * machine-readable name, `temporary` whether retrying the same request may succeed. The message is
 * written for the caller: `toHttpError` shows it as-is, so never put secrets in it.
 */
export type ErrorDetails = Record<string, unknown>;

export interface PollyErrorOptions {
  cause?: unknown;
}

export class PollyError extends Error {
  override name = 'PollyError';
  readonly status: number = 500;
  readonly code: string = 'INTERNAL';
  readonly temporary: boolean = false;

  constructor(
    message: string,
    readonly details?: ErrorDetails,
    options: PollyErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
  }
}

export function isPollyError(err: unknown): err is PollyError {
  return err instanceof PollyError;
}
