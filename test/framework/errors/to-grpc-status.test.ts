import { DriverConflictError, DriverInvalidError, DriverNotFoundError, DriverTransientError } from '../../../drivers/errors';
import { AbortedError } from '../../../framework/errors/aborted-error';
import { AlreadyExistsError } from '../../../framework/errors/already-exists-error';
import {
  ConflictError,
  ExpansionUnsupportedError,
  ForbiddenError,
  NotFoundError,
  NotImplementedError,
  PollyError,
  TimeoutError,
  UnauthorizedError,
  UnavailableError,
  ValidationError,
} from '../../../framework/errors';
import { OutOfRangeError } from '../../../framework/errors/out-of-range-error';
import { PreconditionFailedError } from '../../../framework/errors/precondition-failed-error';
import { ResourceExhaustedError } from '../../../framework/errors/resource-exhausted-error';
import { GrpcCode, grpcCodeName, toGrpcStatus } from '../../../framework/errors/to-grpc-status';

describe('toGrpcStatus', () => {
  it.each([
    [new ValidationError('bad name'), 'INVALID_ARGUMENT'],
    [new OutOfRangeError('too big'), 'OUT_OF_RANGE'],
    [new UnauthorizedError('no certificate'), 'UNAUTHENTICATED'],
    [new ForbiddenError('not offered'), 'PERMISSION_DENIED'],
    [new NotFoundError('no volume'), 'NOT_FOUND'],
    [new ConflictError('held'), 'FAILED_PRECONDITION'],
    [new AlreadyExistsError('name taken'), 'ALREADY_EXISTS'],
    [new PreconditionFailedError('published elsewhere'), 'FAILED_PRECONDITION'],
    [new AbortedError('in flight'), 'ABORTED'],
    [new ResourceExhaustedError('attach limit'), 'RESOURCE_EXHAUSTED'],
    [new NotImplementedError('no expand'), 'UNIMPLEMENTED'],
    // Polly advertises EXPAND_VOLUME when some service can: one volume that cannot is its precondition.
    [new ExpansionUnsupportedError('this service cannot grow volumes'), 'FAILED_PRECONDITION'],
    [new UnavailableError('recovering'), 'UNAVAILABLE'],
    [new TimeoutError('slow'), 'DEADLINE_EXCEEDED'],
    [new PollyError('internal but safe to show'), 'INTERNAL'],
  ])('%s → %s, message kept', (err, name) => {
    const status = toGrpcStatus(err);
    expect(status.name).toBe(name);
    expect(status.code).toBe(GrpcCode[name as keyof typeof GrpcCode]);
    expect(status.message).toBe(err.message);
  });

  it('keeps the HTTP mapping of the CSI-specific errors (they are conflicts and validation errors)', () => {
    expect(new AlreadyExistsError('x').status).toBe(409);
    expect(new AbortedError('x').temporary).toBe(true);
    expect(new OutOfRangeError('x').status).toBe(400);
  });

  it.each([
    [new DriverNotFoundError('gone'), 'NOT_FOUND'],
    [new DriverConflictError('attached elsewhere'), 'FAILED_PRECONDITION'],
    [new DriverInvalidError('bad size'), 'INVALID_ARGUMENT'],
    [new DriverTransientError('timed out'), 'UNAVAILABLE'],
  ])('translates driver errors: %s → %s', (err, name) => {
    expect(toGrpcStatus(err).name).toBe(name);
  });

  it('hides anything else behind a generic INTERNAL', () => {
    const status = toGrpcStatus(new Error('ENOENT /secret/path'));
    expect(status).toEqual({ code: 13, name: 'INTERNAL', message: 'Internal error' });
    expect(toGrpcStatus('a string').message).toBe('Internal error');
  });

  it('names codes', () => {
    expect(grpcCodeName(5)).toBe('NOT_FOUND');
    expect(grpcCodeName(99)).toBe('UNKNOWN');
  });
});
