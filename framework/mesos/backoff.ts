/**
 * Jittered exponential backoff. `next()` returns the delay before the next attempt and grows the
 * ceiling by `factor` up to `maxMs`; `reset()` starts over (call it after a success).
 * Full jitter draws from [0, ceiling]; equal jitter from [ceiling/2, ceiling]; none returns the ceiling.
 */
export type Jitter = 'full' | 'equal' | 'none';

export interface BackoffOptions {
  minMs?: number;
  maxMs?: number;
  factor?: number;
  jitter?: Jitter;
  /** Source of randomness in [0, 1); injectable for tests. */
  random?: () => number;
}

export class AbortedError extends Error {
  override name = 'AbortedError';
  constructor(message = 'Aborted') {
    super(message);
  }
}

export class Backoff {
  readonly minMs: number;
  readonly maxMs: number;
  readonly factor: number;
  readonly jitter: Jitter;
  private readonly random: () => number;
  private attempt = 0;

  constructor(options: BackoffOptions = {}) {
    this.minMs = options.minMs ?? 1000;
    this.maxMs = options.maxMs ?? 15000;
    this.factor = options.factor ?? 2;
    this.jitter = options.jitter ?? 'equal';
    this.random = options.random ?? Math.random;
    if (!(this.minMs >= 0) || !(this.maxMs >= this.minMs)) {
      throw new RangeError(`Backoff needs 0 <= minMs <= maxMs (got ${this.minMs}, ${this.maxMs})`);
    }
    if (!(this.factor >= 1)) throw new RangeError(`Backoff factor must be >= 1 (got ${this.factor})`);
  }

  /** How many delays were handed out since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** The ceiling for the current attempt, without jitter. */
  ceiling(): number {
    return Math.min(this.maxMs, this.minMs * Math.pow(this.factor, this.attempt));
  }

  next(): number {
    const ceiling = this.ceiling();
    this.attempt++;
    switch (this.jitter) {
      case 'full':
        return Math.round(this.random() * ceiling);
      case 'equal':
        return Math.round(ceiling / 2 + this.random() * (ceiling / 2));
      case 'none':
        return ceiling;
    }
  }

  reset(): void {
    this.attempt = 0;
  }

  /** Waits `next()` milliseconds; rejects with AbortedError as soon as the signal aborts. */
  wait(signal?: AbortSignal): Promise<number> {
    const ms = this.next();
    return delay(ms, signal).then(() => ms);
  }
}

/** setTimeout as a promise that an AbortSignal can cut short (rejecting with AbortedError). */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new AbortedError());
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new AbortedError());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
