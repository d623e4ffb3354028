import { PollyError } from './polly-error';

/** The route exists but not for this method (the response carries `Allow`). */
export class MethodNotAllowedError extends PollyError {
  override name = 'MethodNotAllowedError';
  override readonly status: number = 405;
  override readonly code: string = 'METHOD_NOT_ALLOWED';
}
