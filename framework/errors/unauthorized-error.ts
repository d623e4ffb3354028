import { PollyError } from './polly-error';

/** No valid credentials were presented. */
export class UnauthorizedError extends PollyError {
  override name = 'UnauthorizedError';
  override readonly status: number = 401;
  override readonly code: string = 'UNAUTHORIZED';
}
