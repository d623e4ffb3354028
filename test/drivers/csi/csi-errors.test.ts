import { fromGrpcError, GRPC_CODES } from '../../../drivers/csi/csi-errors';
import {
  DriverConflictError,
  DriverInvalidError,
  DriverNotFoundError,
  DriverNotImplementedError,
  DriverTransientError,
} from '../../../drivers/errors';

const status = (name: (typeof GRPC_CODES)[number], details = 'because') => ({ code: GRPC_CODES.indexOf(name), details, message: details });

describe('gRPC statuses of a CSI plugin as driver errors', () => {
  it.each([
    ['ABORTED', DriverTransientError],
    ['DEADLINE_EXCEEDED', DriverTransientError],
    ['UNAVAILABLE', DriverTransientError],
    ['INTERNAL', DriverTransientError],
    ['ALREADY_EXISTS', DriverConflictError],
    ['FAILED_PRECONDITION', DriverConflictError],
    ['RESOURCE_EXHAUSTED', DriverConflictError],
    ['NOT_FOUND', DriverNotFoundError],
    ['OUT_OF_RANGE', DriverInvalidError],
    ['INVALID_ARGUMENT', DriverInvalidError],
    ['UNIMPLEMENTED', DriverNotImplementedError],
  ] as const)('%s is a %p', (code, type) => {
    const err = fromGrpcError(status(code), 'CreateVolume polly-x', 'plugin.example');
    expect(err).toBeInstanceOf(type);
    expect(err.message).toBe(`CSI plugin plugin.example: CreateVolume polly-x: ${code}: because`);
    expect(err.details).toMatchObject({ grpcCode: code });
  });

  it('a DEADLINE_EXCEEDED is a timeout; a cancellation by Polly is its own reason', () => {
    expect(fromGrpcError(status('DEADLINE_EXCEEDED'), 'x', 'p').details).toMatchObject({ timedOut: true });
    const controller = new AbortController();
    const reason = new DriverTransientError('timed out after 5 ms: volumeCreate', { timedOut: true });
    controller.abort(reason);
    expect(fromGrpcError(status('CANCELLED'), 'x', 'p', controller.signal)).toBe(reason);
  });
});
