/**
 * "At most one call in flight per volume" at the CSI edge: the spec lets a plugin answer ABORTED to
 * a second call for an object that already has one pending (a CO that lost its state may send
 * both). Keys are claimed synchronously, so two calls can never both pass the check.
 */
import { AbortedError } from '../../errors/aborted-error';

export class InFlight {
  private readonly busy = new Map<string, string>();

  get size(): number {
    return this.busy.size;
  }

  /** Runs `fn` holding every key; ABORTED when one is held by another call (named in the message). */
  async run<T>(keys: readonly string[], what: string, fn: () => Promise<T>): Promise<T> {
    for (const key of keys) {
      const holder = this.busy.get(key);
      if (holder !== undefined) {
        throw new AbortedError(`${holder} is still in progress for ${key}; retry ${what} when it has finished`, { key });
      }
    }
    for (const key of keys) this.busy.set(key, what);
    try {
      return await fn();
    } finally {
      for (const key of keys) this.busy.delete(key);
    }
  }
}
