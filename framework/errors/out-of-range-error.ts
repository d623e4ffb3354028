import { ValidationError } from './validation-error';

/** A size or count the request asks for is outside what is allowed (CSI: OUT_OF_RANGE). */
export class OutOfRangeError extends ValidationError {
  override name = 'OutOfRangeError';
  override readonly code: string = 'OUT_OF_RANGE';
}
