import { PollyError } from './polly-error';

/** A backend call ran out of time: the outcome is unknown ("maybe"), so retry under the same key. */
export class TimeoutError extends PollyError {
  override name = 'TimeoutError';
  override readonly status: number = 504;
  override readonly code: string = 'TIMEOUT';
  override readonly temporary: boolean = true;
}
