import {
  DriverConflictError,
  DriverInvalidError,
  DriverNotFoundError,
  DriverNotImplementedError,
  DriverTransientError,
} from '../../../drivers/errors';
import {
  ConflictError,
  DiskError,
  ForbiddenError,
  fromDriverError,
  GoneError,
  InsufficientStorageError,
  isTemporaryError,
  NotFoundError,
  NotImplementedError,
  ExpansionUnsupportedError,
  PollyError,
  StoreWriteError,
  storeWriteFailure,
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
    [new ExpansionUnsupportedError('no expansion'), 501, 'EXPANSION_UNSUPPORTED'],
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

  it('a timed-out driver call (BoundedDriver sets timedOut) is a 504; other transient errors 503', () => {
    const timedOut = new DriverTransientError('timed out after 300 ms: volumeAttach v1', { timedOut: true, timeoutMs: 300 });
    expect(fromDriverError(timedOut)).toBeInstanceOf(TimeoutError);
    expect(toHttpError(timedOut)).toEqual({
      status: 504,
      body: { message: 'timed out after 300 ms: volumeAttach v1', status: 504, details: { timedOut: true, timeoutMs: 300 } },
    });
    expect(toHttpError(new DriverTransientError('throttled')).status).toBe(503);
  });

  it('a malformed percent-encoding in the URL is the caller\'s 400', () => {
    let uriError: unknown;
    try {
      decodeURIComponent('%ED%A0%80');
    } catch (err) {
      uriError = err;
    }
    expect(uriError).toBeInstanceOf(URIError);
    expect(toHttpError(uriError)).toEqual({
      status: 400,
      body: { message: 'Malformed percent-encoding in the URL', status: 400, details: { field: '(path)' } },
    });
  });

  it('disk failures are 507 (full disk or quota) or 503, naming the cause and the path, wherever they come from', () => {
    const enospc = Object.assign(new Error("ENOSPC: no space left on device, open '/var/lib/polly/vfs/local/meta/journal-1.log'"), {
      code: 'ENOSPC',
      path: '/var/lib/polly/vfs/local/meta/journal-1.log',
    });
    expect(toHttpError(enospc)).toEqual({
      status: 507,
      body: {
        message: 'a disk write failed: no space left on device (/var/lib/polly/vfs/local/meta/journal-1.log)',
        status: 507,
        details: { errno: 'ENOSPC', path: '/var/lib/polly/vfs/local/meta/journal-1.log' },
      },
    });
    expect(toHttpError(Object.assign(new Error('EDQUOT'), { code: 'EDQUOT' })).status).toBe(507);
    expect(toHttpError(Object.assign(new Error('EIO'), { code: 'EIO', path: '/d' })).body.message).toBe('a disk write failed: input/output error (/d)');
    // An internal error wrapping one says what the disk did; an unrelated errno stays a generic 500.
    expect(toHttpError(new PollyError('write failed', undefined, { cause: enospc })).status).toBe(507);
    expect(toHttpError(Object.assign(new Error('ENOENT'), { code: 'ENOENT' }))).toEqual({ status: 500, body: { message: 'Internal server error', status: 500 } });

    // LevelDB: `IO error: <path>: <strerror>`, classified where the store raises it.
    const level = Object.assign(new Error('IO error: /var/lib/polly/state/000003.log: No space left on device'), { code: 'LEVEL_IO_ERROR' });
    const full = storeWriteFailure(level);
    expect(full).toBeInstanceOf(InsufficientStorageError);
    expect(toHttpError(full)).toEqual({
      status: 507,
      body: {
        message: 'the state store cannot write: no space left on device (/var/lib/polly/state/000003.log)',
        status: 507,
        details: { errno: 'ENOSPC', path: '/var/lib/polly/state/000003.log' },
      },
    });
    const readOnly = storeWriteFailure(Object.assign(new Error('IO error: /s/000003.log: Read-only file system'), { code: 'LEVEL_IO_ERROR' }));
    expect(readOnly).toBeInstanceOf(DiskError);
    expect(toHttpError(readOnly).status).toBe(503);
    const other = storeWriteFailure(new Error('Corruption: bad block'));
    expect(other).toBeInstanceOf(StoreWriteError);
    expect(toHttpError(other)).toEqual({ status: 503, body: { message: 'the state store cannot write: Corruption: bad block', status: 503 } });
    // Polly's own store errors keep their meaning.
    const conflict = new StoreConflictError('volumes/a', 1, 2);
    expect(storeWriteFailure(conflict)).toBe(conflict);
    expect(isTemporaryError(full)).toBe(true);
  });

  it('isTemporaryError: unavailable, timeout and transient driver errors', () => {
    expect(isTemporaryError(new UnavailableError('x'))).toBe(true);
    expect(isTemporaryError(new TimeoutError('x'))).toBe(true);
    expect(isTemporaryError(new DriverTransientError('x'))).toBe(true);
    expect(isTemporaryError(new ConflictError('x'))).toBe(false);
    expect(isTemporaryError(new Error('x'))).toBe(false);
  });
});
