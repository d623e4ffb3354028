import { PollyError } from './polly-error';

/** The request is malformed or out of bounds; `details.field` names the offending field where there is one. */
export class ValidationError extends PollyError {
  override name = 'ValidationError';
  override readonly status: number = 400;
  override readonly code: string = 'VALIDATION';

  /** Shorthand for the common case: `ValidationError.field('size', 'size must be at most 100 GiB')`. */
  static field(field: string, message: string, details: Record<string, unknown> = {}): ValidationError {
    return new ValidationError(message, { field, ...details });
  }

  get field(): string | undefined {
    const field = this.details?.field;
    return typeof field === 'string' ? field : undefined;
  }
}
