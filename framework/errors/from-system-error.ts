/**
 * Disk failures as Polly errors, wherever they come from: a Node system error (`code: 'ENOSPC'`,
 * `path`) from the vfs driver or any fs call, or a LevelDB I/O error (`LEVEL_IO_ERROR`, message
 * `IO error: <path>: No space left on device`). A full disk or quota is 507 Insufficient Storage,
 * any other disk failure 503; the message names the cause and the path, so an operator reading the
 * response (not only the log) knows what to fix.
 */
import { DiskError } from './disk-error';
import { InsufficientStorageError } from './insufficient-storage-error';
import type { PollyError } from './polly-error';

/** The errno codes that mean "the disk", with the words `strerror` uses for them. */
const DISK_ERRNOS: Readonly<Record<string, string>> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EIO: 'input/output error',
  EACCES: 'permission denied',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in system',
};

const FULL = new Set(['ENOSPC', 'EDQUOT']);

/** LevelDB reports `IO error: <path>: <strerror>`; the errno is recovered from the strerror text. */
const LEVEL_IO_ERROR = /^IO error: (.*): ([^:]+)$/;

export interface DiskFailure {
  errno: string;
  description: string;
  path?: string;
}

function ownFailure(err: unknown): DiskFailure | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { code, path, message } = err as { code?: unknown; path?: unknown; message?: unknown };
  if (typeof code === 'string' && Object.prototype.hasOwnProperty.call(DISK_ERRNOS, code)) {
    return { errno: code, description: DISK_ERRNOS[code]!, ...(typeof path === 'string' ? { path } : {}) };
  }
  if (code === 'LEVEL_IO_ERROR' && typeof message === 'string') {
    const m = LEVEL_IO_ERROR.exec(message);
    if (!m) return undefined;
    const text = m[2]!.trim().toLowerCase();
    const errno = Object.keys(DISK_ERRNOS).find((k) => DISK_ERRNOS[k] === text);
    return errno ? { errno, description: text, path: m[1]! } : { errno: 'EIO', description: text, path: m[1]! };
  }
  return undefined;
}

/** The disk failure behind `err` (itself or a cause, a few levels deep), if there is one. */
export function diskFailureOf(err: unknown): DiskFailure | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth++) {
    const found = ownFailure(current);
    if (found) return found;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

export interface DiskErrorWording {
  /** Who failed, e.g. `the state store`. Default `a disk write`. */
  subject?: string;
  /** What it could not do, e.g. `cannot write`. Default `failed`. */
  verb?: string;
}

/** A typed error for a disk failure (507 when the disk or quota is full, else 503), or undefined for any other error. */
export function fromSystemError(err: unknown, wording: DiskErrorWording = {}): PollyError | undefined {
  const failure = diskFailureOf(err);
  if (!failure) return undefined;
  const message =
    `${wording.subject ?? 'a disk write'} ${wording.verb ?? 'failed'}: ${failure.description}` + (failure.path ? ` (${failure.path})` : '');
  const details = { errno: failure.errno, ...(failure.path ? { path: failure.path } : {}) };
  return FULL.has(failure.errno)
    ? new InsufficientStorageError(message, details, { cause: err })
    : new DiskError(message, details, { cause: err });
}
