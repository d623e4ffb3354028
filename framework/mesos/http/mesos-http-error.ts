/**
 * Typed errors for the Mesos HTTP APIs, one class per master status, each saying whether it is
 * temporary (worth retrying, possibly elsewhere) or not. `errorFromResponse` is the one place
 * that maps a status to an error; everything else just checks `instanceof` or `temporary`.
 */

export interface MesosHttpErrorDetails {
  status?: number;
  /** The response body (the master's plain-text reason), if any. */
  body?: string;
  url?: string;
  cause?: unknown;
}

export class MesosHttpError extends Error {
  override name = 'MesosHttpError';
  readonly status: number | undefined;
  readonly body: string;
  readonly url: string | undefined;
  /** True if the same request may succeed later (or against another master). */
  readonly temporary: boolean;

  constructor(message: string, temporary: boolean, details: MesosHttpErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.temporary = temporary;
    this.status = details.status;
    this.body = details.body ?? '';
    this.url = details.url;
  }
}

/** 400: the call was malformed or invalid for the master (including an unknown framework ID). */
export class BadRequestError extends MesosHttpError {
  override name = 'BadRequestError';
}
/** 401: missing or wrong credentials. */
export class UnauthorizedError extends MesosHttpError {
  override name = 'UnauthorizedError';
}
/** 403: authorization refused. */
export class ForbiddenError extends MesosHttpError {
  override name = 'ForbiddenError';
}
/**
 * The framework is not subscribed: the master's 403 `Framework is not subscribed`, or a call the
 * client refused locally because its session is not subscribed (status undefined). Temporary:
 * it may work once the subscription is back.
 */
export class NotSubscribedError extends ForbiddenError {
  override name = 'NotSubscribedError';
}
export class NotFoundError extends MesosHttpError {
  override name = 'NotFoundError';
}
export class MethodNotAllowedError extends MesosHttpError {
  override name = 'MethodNotAllowedError';
}
/** 406: the Accept header allows neither media type. */
export class NotAcceptableError extends MesosHttpError {
  override name = 'NotAcceptableError';
}
export class ConflictError extends MesosHttpError {
  override name = 'ConflictError';
}
/** 415: Content-Type was not exactly one of the two media types. */
export class UnsupportedMediaTypeError extends MesosHttpError {
  override name = 'UnsupportedMediaTypeError';
}
export class NotImplementedError extends MesosHttpError {
  override name = 'NotImplementedError';
}
/** 503: no leader elected, or the leader is still recovering. */
export class ServiceUnavailableError extends MesosHttpError {
  override name = 'ServiceUnavailableError';
}
/** The request never got a complete answer: connection refused or reset, DNS, TLS, timeout. */
export class NetworkError extends MesosHttpError {
  override name = 'NetworkError';
}
/** Too many 307 hops, or a 307 without a usable Location. */
export class RedirectError extends MesosHttpError {
  override name = 'RedirectError';
}
/** A status this client does not expect from the master (or a response it cannot use). */
export class UnexpectedResponseError extends MesosHttpError {
  override name = 'UnexpectedResponseError';
}

/** The typed error for a master's non-success status. */
export function errorFromResponse(status: number, body: string, url?: string): MesosHttpError {
  const reason = body.trim();
  const message = `Mesos master answered ${status}${reason ? `: ${reason}` : ''}`;
  const details = { status, body, url };
  switch (status) {
    case 400:
      return new BadRequestError(message, false, details);
    case 401:
      return new UnauthorizedError(message, false, details);
    case 403:
      return /not subscribed/i.test(reason)
        ? new NotSubscribedError(message, true, details)
        : new ForbiddenError(message, false, details);
    case 404:
      // The C++ scheduler library treats 404 as retryable (a master still starting its routes).
      return new NotFoundError(message, true, details);
    case 405:
      return new MethodNotAllowedError(message, false, details);
    case 406:
      return new NotAcceptableError(message, false, details);
    case 409:
      return new ConflictError(message, false, details);
    case 415:
      return new UnsupportedMediaTypeError(message, false, details);
    case 501:
      return new NotImplementedError(message, false, details);
    case 503:
      return new ServiceUnavailableError(message, true, details);
    default:
      return new UnexpectedResponseError(message, status >= 500, details);
  }
}

/** Wraps a socket-level failure. */
export function networkError(err: unknown, url?: string): NetworkError {
  const text = err instanceof Error ? err.message : String(err);
  return new NetworkError(`Cannot reach Mesos master${url ? ` at ${url}` : ''}: ${text}`, true, { url, cause: err });
}

export function isTemporary(err: unknown): boolean {
  return err instanceof MesosHttpError && err.temporary;
}
