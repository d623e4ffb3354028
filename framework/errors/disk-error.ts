import { UnavailableError } from './unavailable-error';

/** A disk refused a write or read (I/O error, read-only file system, permissions): retry once it is fixed. */
export class DiskError extends UnavailableError {
  override name = 'DiskError';
  override readonly code: string = 'DISK_ERROR';
}
