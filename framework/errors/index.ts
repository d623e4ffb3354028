/** Polly's typed errors: one class a file; `toHttpError` is the one place they map to HTTP. */
export { PollyError, isPollyError } from './polly-error';
export type { ErrorDetails, PollyErrorOptions } from './polly-error';
export { ValidationError } from './validation-error';
export { UnauthorizedError } from './unauthorized-error';
export { ForbiddenError } from './forbidden-error';
export { NotFoundError } from './not-found-error';
export { ConflictError } from './conflict-error';
export { GoneError } from './gone-error';
export { NotImplementedError } from './not-implemented-error';
export { UnavailableError } from './unavailable-error';
export { TimeoutError } from './timeout-error';
export { MethodNotAllowedError } from './method-not-allowed-error';
export { UnsupportedMediaTypeError } from './unsupported-media-type-error';
export { PayloadTooLargeError } from './payload-too-large-error';
export { fromDriverError } from './from-driver-error';
export { toHttpError, isTemporaryError } from './to-http-error';
export type { HttpError, HttpErrorBody } from './to-http-error';
