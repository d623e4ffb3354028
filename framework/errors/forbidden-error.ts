import { PollyError } from './polly-error';

/** The caller is known but may not do this (e.g. claim a volume not offered to its scheduler). */
export class ForbiddenError extends PollyError {
  override name = 'ForbiddenError';
  override readonly status: number = 403;
  override readonly code: string = 'FORBIDDEN';
}
