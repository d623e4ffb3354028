/**
 * Driver errors (drivers/errors.ts) translated into Polly's own, so callers above the storage layer
 * see one family of errors. The original error is kept as `cause`. A transient error that is a
 * timeout (`details.timedOut`, set by BoundedDriver) is a TimeoutError (504): the call ran out of
 * its time and its outcome is unknown; other transient errors are 503.
 */
import { DriverError } from '../../drivers/errors';
import { ConflictError } from './conflict-error';
import { NotFoundError } from './not-found-error';
import { NotImplementedError } from './not-implemented-error';
import { PollyError } from './polly-error';
import { TimeoutError } from './timeout-error';
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
      return err.details?.timedOut === true
        ? new TimeoutError(err.message, err.details, options)
        : new UnavailableError(err.message, err.details, options);
    case 'INVALID':
      return new ValidationError(err.message, err.details, options);
  }
  // A code this version does not know (a newer driver): an internal error, not a guess.
  return new PollyError(err.message, err.details, options);
}
