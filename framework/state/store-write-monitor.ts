/**
 * Whether the state store can write, for `/health/ready` and `polly_store_write_failures_total`.
 * `observe(store)` returns the store with its writes observed (a Proxy, as instrumented-driver.ts
 * does for drivers), so every write's outcome is seen without any caller knowing: a failure (not a
 * lost compare-and-set, not bad input) is counted by cause and makes the store "not writable" until
 * a later write succeeds.
 *
 * When nothing is being written the monitor probes: every `intervalMs` without a successful write
 * — so also every `intervalMs` while writes fail — it writes one small key, `meta/write-probe`,
 * durably like every write, one probe at a time. The store is writable when the latest finished
 * write succeeded and no write has been waiting longer than `stallMs` (a frozen ZooKeeper answers
 * nothing: its writes neither fail nor succeed for a long time, they hang). Readiness returns by
 * itself: the next write that succeeds, a probe at the latest, clears the failure.
 */
import { ConflictError } from '../errors/conflict-error';
import { diskFailureOf } from '../errors/from-system-error';
import { isPollyError } from '../errors/polly-error';
import { ValidationError } from '../errors/validation-error';
import { Logger, silentLogger } from '../shared/logger';
import type { Store } from './store';

/** The probe's key: under `meta/` with the store's other bookkeeping; its value is only the time of the probe. */
export const WRITE_PROBE_KEY = 'meta/write-probe';

/** The Store methods that write. */
const WRITES = new Set(['put', 'putIfVersion', 'delete', 'deleteIfVersion', 'batch']);

/** What a failed write was about, as the counter's `cause` label (a small, fixed set). */
export type StoreFailureCause =
  | 'no_space'
  | 'quota'
  | 'read_only'
  | 'io'
  | 'permission'
  | 'open_files'
  | 'unavailable'
  | 'fenced'
  | 'closed'
  | 'backend'
  | 'other';

const ERRNO_CAUSES: Readonly<Record<string, StoreFailureCause>> = {
  ENOSPC: 'no_space',
  EDQUOT: 'quota',
  EROFS: 'read_only',
  EIO: 'io',
  EACCES: 'permission',
  EMFILE: 'open_files',
  ENFILE: 'open_files',
};

const CODE_CAUSES: Readonly<Record<string, StoreFailureCause>> = {
  ZOOKEEPER_UNAVAILABLE: 'unavailable',
  STORE_FENCED: 'fenced',
  STORE_CLOSED: 'closed',
  STORE_WRITE_FAILED: 'backend',
  UNAVAILABLE: 'unavailable',
};

export function storeFailureCause(err: unknown): StoreFailureCause {
  const disk = diskFailureOf(err);
  if (disk) return ERRNO_CAUSES[disk.errno] ?? 'io';
  return (isPollyError(err) && CODE_CAUSES[err.code]) || 'other';
}

/** A write the store refused as such (a lost compare-and-set, a bad key): it answered, so it can write. */
function isAnswer(err: unknown): boolean {
  return err instanceof ConflictError || err instanceof ValidationError;
}

export interface StoreWriteStatus {
  writable: boolean;
  /** Why not, one line (absent when writable). */
  reason?: string;
}

export interface StoreWriteMonitorOptions {
  /** The store's backend name, for messages and the counter's label. */
  backend: string;
  /** Probe after this long without a successful write. Default 5 000. */
  intervalMs?: number;
  /** A write waiting longer than this makes the store not writable. Default 10 000. */
  stallMs?: number;
  /** Called once per failed write (the counter). */
  onFailure?: (cause: StoreFailureCause, err: unknown) => void;
  /** Why the store's connection is down (e.g. the ZooKeeper session), or undefined while it is up. */
  connection?: () => string | undefined;
  logger?: Logger;
  /** For tests. */
  now?: () => number;
}

interface Outcome {
  ok: boolean;
  at: number;
  reason?: string;
}

export class StoreWriteMonitor {
  readonly intervalMs: number;
  readonly stallMs: number;
  private readonly now: () => number;
  private readonly logger: Logger;
  /** Start times of the writes in flight. */
  private readonly pending = new Map<number, number>();
  private nextWrite = 0;
  private last: Outcome | undefined;
  private lastSuccessAt: number;
  private store: Store | undefined;
  private timer: NodeJS.Timeout | undefined;
  private probing: Promise<void> | undefined;

  constructor(private readonly options: StoreWriteMonitorOptions) {
    this.intervalMs = options.intervalMs ?? 5_000;
    this.stallMs = options.stallMs ?? 10_000;
    this.now = options.now ?? Date.now;
    this.logger = options.logger ?? silentLogger;
    this.lastSuccessAt = this.now();
  }

  /** `store` with every write observed; use the returned store everywhere. */
  observe<S extends Store>(store: S): S {
    const observed = new Proxy(store, {
      get: (target, prop, _receiver) => {
        const value = Reflect.get(target, prop, target) as unknown;
        if (typeof value !== 'function') return value;
        const bound = (value as (...a: unknown[]) => unknown).bind(target);
        if (typeof prop !== 'string' || !WRITES.has(prop)) return bound;
        return (...args: unknown[]) => {
          let write: Promise<unknown>;
          try {
            write = bound(...args) as Promise<unknown>;
          } catch (err) {
            write = Promise.reject(err);
          }
          return this.track(write);
        };
      },
    });
    this.store = observed;
    return observed;
  }

  /** Starts probing (the timer does not keep the process alive). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), Math.max(50, Math.floor(this.intervalMs / 2)));
    this.timer.unref();
  }

  /** Stops probing; a probe in flight finishes (the store's close waits for it). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.probing;
  }

  status(): StoreWriteStatus {
    const now = this.now();
    const down = this.options.connection?.();
    if (down) return { writable: false, reason: down };
    let oldest: number | undefined;
    for (const started of this.pending.values()) if (oldest === undefined || started < oldest) oldest = started;
    if (oldest !== undefined && now - oldest > this.stallMs) {
      return {
        writable: false,
        reason: `the state store (${this.options.backend}) has not finished a write for ${Math.round((now - oldest) / 1000)} s`,
      };
    }
    if (this.last && !this.last.ok) return { writable: false, reason: this.last.reason };
    return { writable: true };
  }

  /** Writes the probe key now (at most one probe at a time); resolves when it has finished either way. */
  probe(): Promise<void> {
    if (this.probing) return this.probing;
    const store = this.store;
    if (!store || !store.isOpen) return Promise.resolve();
    this.probing = store
      .put(WRITE_PROBE_KEY, { at: new Date(this.now()).toISOString() })
      .then(
        () => undefined,
        () => undefined, // recorded by track()
      )
      .finally(() => {
        this.probing = undefined;
      });
    return this.probing;
  }

  private tick(): void {
    const idleFor = this.now() - this.lastSuccessAt;
    if (idleFor >= this.intervalMs || (this.last !== undefined && !this.last.ok)) void this.probe();
  }

  private track<T>(write: Promise<T>): Promise<T> {
    const id = this.nextWrite++;
    this.pending.set(id, this.now());
    return write.then(
      (value) => {
        this.pending.delete(id);
        this.succeeded();
        return value;
      },
      (err: unknown) => {
        this.pending.delete(id);
        if (isAnswer(err)) this.succeeded();
        else this.failed(err);
        throw err;
      },
    );
  }

  private succeeded(): void {
    const at = this.now();
    if (this.last && !this.last.ok) this.logger.info('the state store writes again', { backend: this.options.backend });
    this.last = { ok: true, at };
    this.lastSuccessAt = at;
  }

  private failed(err: unknown): void {
    const cause = storeFailureCause(err);
    const message = err instanceof Error ? err.message : String(err);
    const reason = message.startsWith('the state store') ? message : `the state store (${this.options.backend}) cannot write: ${message}`;
    if (!this.last || this.last.ok) this.logger.warn('the state store cannot write', { backend: this.options.backend, cause, error: message });
    this.last = { ok: false, at: this.now(), reason };
    this.options.onFailure?.(cause, err);
  }
}
