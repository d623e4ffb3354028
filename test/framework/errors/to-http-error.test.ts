import {
  DriverConflictError,
  DriverInvalidError,
  DriverNotFoundError,
  DriverNotImplementedError,
  DriverTransientError,
} from '../../../drivers/errors';
import {
  ConflictError,
  ForbiddenError,
  fromDriverError,
  GoneError,
  isTemporaryError,
  NotFoundError,
  NotImplementedError,
  PollyError,
  TimeoutError,
  toHttpError,
  UnauthorizedError,
  UnavailableError,
  ValidationError,
} from '../../../framework/errors';
import { StoreClosedError, StoreConflictError } from '../../../framework/state/store';

describe('Polly errors', () => {
  it.each([
    [new ValidationError('bad size', { field: 'size' }), 400, 'VALIDATION'],
    [new UnauthorizedError('no token'), 401, 'UNAUTHORIZED'],
    [new ForbiddenError('not offered to marathon'), 403, 'FORBIDDEN'],
    [new NotFoundError('no volume v1'), 404, 'NOT_FOUND'],
    [new ConflictError('held by another writer'), 409, 'CONFLICT'],
    [new GoneError('claim released'), 410, 'GONE'],
    [new NotImplementedError('no snapshots'), 501, 'NOT_IMPLEMENTED'],
    [new UnavailableError('not the leader'), 503, 'UNAVAILABLE'],
    [new TimeoutError('attach timed out'), 504, 'TIMEOUT'],
    [new PollyError('internal but safe to show'), 500, 'INTERNAL'],
  ])('%s → %i', (err, status, code) => {
    expect(err).toBeInstanceOf(PollyError);
    expect(err).toBeInstanceOf(Error);
    expect(err.status).toBe(status);
    expect(err.code).toBe(code);
    expect(err.name).toBe(err.constructor.name);
    const http = toHttpError(err);
    expect(http.status).toBe(status);
    expect(http.body.status).toBe(status);
    expect(http.body.message).toBe(err.message);
  });

  it('includes details only when present', () => {
    expect(toHttpError(new ValidationError('bad size', { field: 'size', max: 10 }))).toEqual({
      status: 400,
      body: { message: 'bad size', status: 400, details: { field: 'size', max: 10 } },
    });
    expect(toHttpError(new NotFoundError('gone'))).toEqual({ status: 404, body: { message: 'gone', status: 404 } });
  });

  it('ValidationError.field names the field', () => {
    const err = ValidationError.field('size', 'size too big', { max: 10 });
    expect(err.field).toBe('size');
    expect(err.details).toEqual({ field: 'size', max: 10 });
    expect(new ValidationError('x').field).toBeUndefined();
  });

  it('keeps the cause', () => {
    const cause = new Error('ENOSPC');
    expect(new UnavailableError('disk full', undefined, { cause }).cause).toBe(cause);
  });

  it('unknown errors become a generic 500 that leaks nothing', () => {
    for (const err of [
      new Error('secret connection string postgres://u:p@h'),
      new TypeError('x is undefined'),
      'a string',
      undefined,
      null,
      { status: 418 },
    ]) {
      expect(toHttpError(err)).toEqual({ status: 500, body: { message: 'Internal server error', status: 500 } });
    }
  });

  it('exposed 4xx errors from the HTTP stack keep their status (e.g. malformed JSON)', () => {
    const parse = Object.assign(new SyntaxError('Unexpected token } in JSON at position 5'), {
      status: 400,
      expose: true,
      type: 'entity.parse.failed',
    });
    expect(toHttpError(parse)).toEqual({ status: 400, body: { message: 'Unexpected token } in JSON at position 5', status: 400 } });
    const tooLarge = Object.assign(new Error('request entity too large'), { statusCode: 413, expose: true });
    expect(toHttpError(tooLarge).status).toBe(413);
    // Not exposed, or a 5xx: generic.
    expect(toHttpError(Object.assign(new Error('internal'), { status: 400 })).status).toBe(500);
    expect(toHttpError(Object.assign(new Error('internal'), { status: 502, expose: true })).status).toBe(500);
  });

  it('maps driver errors through fromDriverError', () => {
    expect(toHttpError(new DriverNotFoundError('volume vfs-1 not found')).status).toBe(404);
    expect(toHttpError(new DriverConflictError('attached elsewhere', { instance: 'a' }))).toEqual({
      status: 409,
      body: { message: 'attached elsewhere', status: 409, details: { instance: 'a' } },
    });
    expect(toHttpError(new DriverNotImplementedError('no snapshots')).status).toBe(501);
    expect(toHttpError(new DriverTransientError('timeout')).status).toBe(503);
    expect(toHttpError(new DriverInvalidError('bad name')).status).toBe(400);
    const cause = new DriverConflictError('x');
    expect(fromDriverError(cause)).toBeInstanceOf(ConflictError);
    expect(fromDriverError(cause).cause).toBe(cause);
  });

  it('store errors are Polly errors', () => {
    expect(toHttpError(new StoreConflictError('volumes/a', 1, 2)).status).toBe(409);
    expect(new StoreConflictError('volumes/a', 1, 2)).toBeInstanceOf(ConflictError);
    expect(toHttpError(new StoreClosedError()).status).toBe(503);
  });

  it('isTemporaryError: unavailable, timeout and transient driver errors', () => {
    expect(isTemporaryError(new UnavailableError('x'))).toBe(true);
    expect(isTemporaryError(new TimeoutError('x'))).toBe(true);
    expect(isTemporaryError(new DriverTransientError('x'))).toBe(true);
    expect(isTemporaryError(new ConflictError('x'))).toBe(false);
    expect(isTemporaryError(new Error('x'))).toBe(false);
  });
});
