/**
 * The one place errors become gRPC statuses (the CSI listeners), beside `toHttpError` for HTTP.
 * Polly errors keep their message and map by their `code`; driver errors are translated first;
 * anything else is INTERNAL with a generic message, so internals never leak to callers (log the
 * original error yourself). Codes are gRPC's canonical numbers (grpc/status.proto).
 */
import { isDriverError } from '../../drivers/errors';
import { fromDriverError } from './from-driver-error';
import { PollyError } from './polly-error';

/** gRPC's canonical status codes. */
export const GrpcCode = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

export type GrpcCodeName = keyof typeof GrpcCode;
export type GrpcCodeNumber = (typeof GrpcCode)[GrpcCodeName];

export interface GrpcStatus {
  code: GrpcCodeNumber;
  /** The canonical name (`NOT_FOUND`), for logs and metrics. */
  name: GrpcCodeName;
  message: string;
}

const GENERIC_MESSAGE = 'Internal error';

/** Polly error codes → gRPC. A generic conflict is a failed precondition: the state must change first. */
const BY_POLLY_CODE: Record<string, GrpcCodeName> = {
  VALIDATION: 'INVALID_ARGUMENT',
  OUT_OF_RANGE: 'OUT_OF_RANGE',
  UNAUTHORIZED: 'UNAUTHENTICATED',
  FORBIDDEN: 'PERMISSION_DENIED',
  NOT_FOUND: 'NOT_FOUND',
  GONE: 'NOT_FOUND',
  CONFLICT: 'FAILED_PRECONDITION',
  ALREADY_EXISTS: 'ALREADY_EXISTS',
  FAILED_PRECONDITION: 'FAILED_PRECONDITION',
  ABORTED: 'ABORTED',
  RESOURCE_EXHAUSTED: 'RESOURCE_EXHAUSTED',
  PAYLOAD_TOO_LARGE: 'RESOURCE_EXHAUSTED',
  NOT_IMPLEMENTED: 'UNIMPLEMENTED',
  // Polly advertises EXPAND_VOLUME when any service can expand; a volume on one that cannot is a
  // precondition of that volume, not an RPC Polly lacks.
  EXPANSION_UNSUPPORTED: 'FAILED_PRECONDITION',
  METHOD_NOT_ALLOWED: 'UNIMPLEMENTED',
  UNSUPPORTED_MEDIA_TYPE: 'INVALID_ARGUMENT',
  UNAVAILABLE: 'UNAVAILABLE',
  TIMEOUT: 'DEADLINE_EXCEEDED',
};

function status(name: GrpcCodeName, message: string): GrpcStatus {
  return { code: GrpcCode[name], name, message };
}

export function toGrpcStatus(err: unknown): GrpcStatus {
  const polly = err instanceof PollyError ? err : isDriverError(err) ? fromDriverError(err) : undefined;
  if (!polly) return status('INTERNAL', GENERIC_MESSAGE);
  const name = BY_POLLY_CODE[polly.code] ?? 'INTERNAL';
  return status(name, polly.message || GENERIC_MESSAGE);
}

/** The name of a canonical code number (`UNKNOWN` for one outside the table). */
export function grpcCodeName(code: number): GrpcCodeName {
  const found = (Object.keys(GrpcCode) as GrpcCodeName[]).find((name) => GrpcCode[name] === code);
  return found ?? 'UNKNOWN';
}
