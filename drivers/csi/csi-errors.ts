/**
 * gRPC statuses of a CSI plugin as Polly's typed driver errors. Which are answers and which are
 * "maybe" follows the CSI spec's error tables: ABORTED (an operation on the volume is pending),
 * DEADLINE_EXCEEDED (the call ran out of time, it may still happen), UNAVAILABLE (the plugin is
 * down or restarting) and the unexplained INTERNAL / UNKNOWN are "maybe": the storage layer retries
 * them under the same idempotency key. ALREADY_EXISTS, NOT_FOUND, FAILED_PRECONDITION,
 * RESOURCE_EXHAUSTED and OUT_OF_RANGE are answers. The plugin's message is kept (it names what is
 * wrong); secrets never reach a message, since requests are never quoted.
 */
import {
  DriverConflictError,
  DriverError,
  DriverInvalidError,
  DriverNotFoundError,
  DriverNotImplementedError,
  DriverTransientError,
} from '../errors';
import { abortedError } from '../abort';

/** gRPC's canonical status codes (grpc/status.proto), by name. */
export const GRPC_CODES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
] as const;

export type GrpcCodeName = (typeof GRPC_CODES)[number];

/** Codes whose outcome is unknown: retried under the same key. */
export const MAYBE_CODES: ReadonlySet<GrpcCodeName> = new Set(['ABORTED', 'DEADLINE_EXCEEDED', 'UNAVAILABLE', 'INTERNAL', 'UNKNOWN']);

export function grpcCodeName(code: unknown): GrpcCodeName {
  return typeof code === 'number' && code >= 0 && code < GRPC_CODES.length ? GRPC_CODES[code] : 'UNKNOWN';
}

/** Whether `err` is a gRPC status (from a call) rather than a local failure. */
export function isGrpcStatus(err: unknown): err is { code: number; details?: string; message: string } {
  return typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'number' && 'details' in err;
}

/**
 * The driver error for a failed call `what` (e.g. `CreateVolume polly-a-data`) to plugin `plugin`.
 * `signal` tells a cancellation by Polly (its deadline or caller gave up) from one by the plugin.
 */
export function fromGrpcError(err: unknown, what: string, plugin: string, signal?: AbortSignal): DriverError {
  if (!isGrpcStatus(err)) {
    if (err instanceof DriverError) return err;
    return new DriverTransientError(`CSI plugin ${plugin}: ${what} failed: ${(err as Error)?.message ?? String(err)}`, { rpc: what });
  }
  const code = grpcCodeName(err.code);
  const text = `CSI plugin ${plugin}: ${what}: ${code}${err.details ? `: ${err.details}` : ''}`;
  const details = { rpc: what, grpcCode: code };
  if (code === 'CANCELLED' && signal?.aborted) {
    const reason = signal.reason as unknown;
    // BoundedDriver's deadline fired: that timeout is the error the caller must see.
    if (reason instanceof DriverError) return reason;
    return abortedError(what, reason);
  }
  switch (code) {
    case 'NOT_FOUND':
      return new DriverNotFoundError(text, details);
    case 'ALREADY_EXISTS':
    case 'FAILED_PRECONDITION':
    case 'RESOURCE_EXHAUSTED':
      return new DriverConflictError(text, details);
    case 'INVALID_ARGUMENT':
    case 'OUT_OF_RANGE':
    case 'PERMISSION_DENIED':
    case 'UNAUTHENTICATED':
      return new DriverInvalidError(text, details);
    case 'UNIMPLEMENTED':
      return new DriverNotImplementedError(text, details);
    case 'DEADLINE_EXCEEDED':
      return new DriverTransientError(text, { ...details, timedOut: true });
    default:
      // ABORTED, UNAVAILABLE, INTERNAL, UNKNOWN, CANCELLED by the plugin, DATA_LOSS: the outcome is unknown.
      return new DriverTransientError(text, details);
  }
}
