/**
 * Group commit for vfs mutations. Requests submitted while the root lock is busy (held by a batch
 * of this process, by another process, or by an exclusive operation such as a snapshot) queue up;
 * when the lock comes free they are all taken as ONE batch under ONE lock acquisition, so 64
 * concurrent creates cost one lock round trip and one journal append and fdatasync instead of 64
 * of each. The batch function decides each request's outcome; a request
 * aborted while it waits leaves the queue and never runs.
 *
 * When more requests queued while a batch ran, the next batch runs under the same lock hold (up to
 * `holdMs`): taking the lock creates a file, which costs more than a whole batch on some filesystems.
 * After a batch of ONE request the lock is also kept for up to `lingerMs` in case the next one
 * follows (a lone client's next call usually does within a few ms: +37-71% cycles/s for one client,
 * measured); after larger batches it is let go at once, so the next batch gathers while it changes
 * hands. Other processes wait at most `holdMs` (plus one batch) for their turn.
 */
import { abortedError } from '../abort';
import type { RootLock } from './root-lock';

export interface Queued<R> {
  readonly request: R;
  readonly signal: AbortSignal | undefined;
  resolve(value: unknown): void;
  reject(reason: unknown): void;
}

/** Runs one batch while holding the lock; must settle every entry it is given. */
export type BatchRunner<R> = (batch: ReadonlyArray<Queued<R>>) => Promise<void>;

export interface GroupCommitOptions {
  /** Requests taken into one batch at most (bounds a batch's latency and memory). Default 256. */
  maxBatch?: number;
  /** Keep the lock for further batches while requests are queued, for at most this long, ms. Default 50. */
  holdMs?: number;
  /** After a batch of one request, keep the lock this long for the next request (within holdMs), ms. Default 10. */
  lingerMs?: number;
}

interface Entry<R> extends Queued<R> {
  onAbort?: () => void;
}

export class GroupCommit<R> {
  private queue: Entry<R>[] = [];
  private running = false;
  /** Aborts the lock wait when every queued request has given up. */
  private waiting: AbortController | undefined;
  private readonly maxBatch: number;
  private readonly holdMs: number;
  private readonly lingerMs: number;
  /** Set while lingering: `true` (a request came) or `false` (let go now) ends the wait. */
  private wake: ((arrived: boolean) => void) | undefined;
  /** The running loop, for drain(). */
  private looping: Promise<void> | undefined;
  /** drain() calls waiting: no lingering meanwhile. */
  private draining = 0;

  constructor(
    private readonly lock: RootLock,
    private readonly runBatch: BatchRunner<R>,
    options: GroupCommitOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 256;
    this.holdMs = options.holdMs ?? 50;
    this.lingerMs = options.lingerMs ?? 10;
  }

  /** Queues `request`; resolves with what the batch runner resolves it with. */
  submit<T>(request: R, signal: AbortSignal | undefined, what: string): Promise<T> {
    if (signal?.aborted) return Promise.reject(abortedError(what, signal.reason));
    return new Promise<T>((resolve, reject) => {
      const entry: Entry<R> = { request, signal, resolve: resolve as (value: unknown) => void, reject };
      if (signal) {
        entry.onAbort = () => {
          const at = this.queue.indexOf(entry);
          if (at < 0) return; // already taken into a batch: it runs to the end
          this.queue.splice(at, 1);
          reject(abortedError(what, signal.reason));
          if (this.queue.length === 0) this.waiting?.abort();
        };
        signal.addEventListener('abort', entry.onAbort, { once: true });
      }
      this.queue.push(entry);
      this.wake?.(true);
      if (!this.running) this.looping = this.loop();
    });
  }

  /** Lets go of a lingering lock at once and resolves when no batch runs (later requests take the lock again). */
  async drain(): Promise<void> {
    this.draining++;
    try {
      while (this.running) {
        this.wake?.(false);
        await this.looping;
      }
    } finally {
      this.draining--;
    }
  }

  /** Resolves true when a request is queued within `ms`, false otherwise (or when drained). */
  private arrival(ms: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => this.wake?.(false), ms);
      this.wake = (arrived) => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve(arrived);
      };
    });
  }

  private async loop(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const waiting = (this.waiting = new AbortController());
        let taken: Entry<R>[] = [];
        /** Outcomes of the last batch are applied after the lock is released: its callers resume with the root quiescent. */
        const outcomes = new Map<Entry<R>, { ok: boolean; value: unknown }>();
        let failure: { error: unknown } | undefined;
        try {
          await this.lock.withLock(waiting.signal, 'vfs group commit', async () => {
            const held = performance.now();
            for (;;) {
              // Taken only now, so everything that queued while the lock was busy joins this batch.
              taken = this.queue.splice(0, this.maxBatch);
              for (const e of taken) if (e.onAbort) e.signal?.removeEventListener('abort', e.onAbort);
              if (taken.length === 0) return;
              await this.runBatch(
                taken.map((e) => ({
                  request: e.request,
                  signal: e.signal,
                  resolve: (value: unknown) => void (outcomes.has(e) || outcomes.set(e, { ok: true, value })),
                  reject: (reason: unknown) => void (outcomes.has(e) || outcomes.set(e, { ok: false, value: reason })),
                })),
              );
              const left = this.holdMs - (performance.now() - held);
              if (left <= 0) return;
              const linger = this.queue.length === 0;
              if (linger && (taken.length > 1 || this.lingerMs <= 0 || this.draining > 0)) return;
              // More arrived meanwhile (or a lone request may be followed): answer this batch now,
              // and run the next under the same hold.
              settle(taken, outcomes, undefined);
              taken = [];
              outcomes.clear();
              if (linger && !(await this.arrival(Math.min(this.lingerMs, left)))) return;
            }
          });
        } catch (err) {
          failure = { error: err };
        } finally {
          this.waiting = undefined;
        }
        // The lock could not be taken (timeout), or the batch failed as a whole: every request of
        // this attempt that has no outcome of its own learns why.
        settle(taken.length > 0 || !failure ? taken : this.queue.splice(0, this.queue.length), outcomes, failure);
      }
    } finally {
      this.running = false;
    }
  }
}

function settle<R>(
  entries: Entry<R>[],
  outcomes: Map<Entry<R>, { ok: boolean; value: unknown }>,
  failure: { error: unknown } | undefined,
): void {
  for (const e of entries) {
    if (e.onAbort) e.signal?.removeEventListener('abort', e.onAbort);
    const o = outcomes.get(e);
    if (o?.ok) e.resolve(o.value);
    else if (o) e.reject(o.value);
    else e.reject(failure ? failure.error : new Error('vfs group commit: request left unsettled'));
  }
}
