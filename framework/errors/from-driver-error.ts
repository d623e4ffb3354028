/**
 * Driver errors (drivers/errors.ts) translated into Polly's own, so callers above the storage layer
 * see one family of errors. The original error is kept as `cause`.
 */
import { DriverError } from '../../drivers/errors';
import { ConflictError } from './conflict-error';
import { NotFoundError } from './not-found-error';
import { NotImplementedError } from './not-implemented-error';
import { PollyError } from './polly-error';
import { UnavailableError } from './unavailable-error';
import { ValidationError } from './validation-error';

export function fromDriverError(err: DriverError): PollyError {
  const options = { cause: err };
  switch (err.code) {
    case 'NOT_FOUND':
      return new NotFoundError(err.message, err.details, options);
    case 'CONFLICT':
      return new ConflictError(err.message, err.details, options);
    case 'NOT_IMPLEMENTED':
      return new NotImplementedError(err.message, err.details, options);
    case 'TRANSIENT':
      return new UnavailableError(err.message, err.details, options);
    case 'INVALID':
      return new ValidationError(err.message, err.details, options);
  }
  // A code this version does not know (a newer driver): an internal error, not a guess.
  return new PollyError(err.message, err.details, options);
}
