import { PollyError } from './polly-error';

/** The thing existed but is gone for good (released claim, removed volume, deactivated profile). */
export class GoneError extends PollyError {
  override name = 'GoneError';
  override readonly status: number = 410;
  override readonly code: string = 'GONE';
}
