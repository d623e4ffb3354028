import { PollyError } from './polly-error';

/** The request body is larger than the API accepts. */
export class PayloadTooLargeError extends PollyError {
  override name = 'PayloadTooLargeError';
  override readonly status: number = 413;
  override readonly code: string = 'PAYLOAD_TOO_LARGE';
}
