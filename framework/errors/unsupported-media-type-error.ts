import { PollyError } from './polly-error';

/** The request body is not in a media type the route accepts. */
export class UnsupportedMediaTypeError extends PollyError {
  override name = 'UnsupportedMediaTypeError';
  override readonly status: number = 415;
  override readonly code: string = 'UNSUPPORTED_MEDIA_TYPE';
}
