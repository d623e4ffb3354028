import { ConflictError } from './conflict-error';

/** A limit is reached (attach limit, capacity); retry once something was freed. */
export class ResourceExhaustedError extends ConflictError {
  override name = 'ResourceExhaustedError';
  override readonly code: string = 'RESOURCE_EXHAUSTED';
}
