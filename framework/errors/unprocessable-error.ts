import { PollyError } from './polly-error';

/**
 * The request is well-formed but asks for something Polly cannot do safely (a Marathon field it
 * cannot honour, a volume driver no storage service serves); `details.problems` names each field.
 */
export class UnprocessableError extends PollyError {
  override name = 'UnprocessableError';
  override readonly status: number = 422;
  override readonly code: string = 'UNPROCESSABLE';
}
