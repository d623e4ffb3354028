import { PollyError } from './polly-error';

/** The backend or Polly cannot do this at all. */
export class NotImplementedError extends PollyError {
  override name = 'NotImplementedError';
  override readonly status: number = 501;
  override readonly code: string = 'NOT_IMPLEMENTED';
}
