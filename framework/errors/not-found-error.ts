import { PollyError } from './polly-error';

/** The named service, profile, volume, claim ... does not exist. */
export class NotFoundError extends PollyError {
  override name = 'NotFoundError';
  override readonly status: number = 404;
  override readonly code: string = 'NOT_FOUND';
}
