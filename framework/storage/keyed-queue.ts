/**
 * Runs operations one at a time per key (a volume ID), in submission order, and operations on
 * different keys in parallel up to `concurrency`. This is how "at most one mutating operation per
 * volume is in flight" holds without a lock per call site. Keys waiting for a slot are served
 * round-robin, so one busy volume cannot starve the others.
 *
 * Each operation runs under a call budget of its own (drivers/call-budget.ts): its driver calls —
 * retries and follow-ups such as the inspect after a failed attach included — take at most the
 * service's timeout together, so the caller has its answer when the timeout says.
 *
 * `runExclusive` is one operation over several keys (fencing every volume of a dead agent in one
 * store batch): it takes each key's slot in turn, in submission order, holds them all while it
 * runs and counts as one running operation. Its place in every key's line is taken at submission,
 * at once, so two such operations with keys in common cannot wait for each other.
 */
import { withCallBudget } from '../../drivers/call-budget';
import { Fifo } from './fifo';

export interface KeyedSerialQueueOptions {
  /** Operations running at once, across all keys. Default 16. */
  concurrency?: number;
}

export interface RunOptions {
  /** Aborting before the operation starts removes it from the queue; once started, `fn` sees it. */
  signal?: AbortSignal;
}

interface Task {
  fn: (signal: AbortSignal) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/** An operation over several keys: a `Hold` for it waits in each key's line. */
interface ExclusiveTask {
  fn: () => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
  keys: string[];
  /** Keys whose slot it holds so far. */
  held: number;
}

/** An exclusive operation's place in one key's line. */
interface Hold {
  exclusive: ExclusiveTask;
}

type Entry = Task | Hold;

interface KeyState {
  tasks: Fifo<Entry>;
  running: boolean;
}

function isHold(entry: Entry): entry is Hold {
  return 'exclusive' in entry;
}

const NEVER_ABORTED = new AbortController().signal;

export class KeyedSerialQueue {
  readonly concurrency: number;
  private readonly keys = new Map<string, KeyState>();
  /**
   * Keys whose next task waits for a free slot, in the order they became ready. A Fifo, not an
   * array: recovery can queue a repair for each of 1,000,000 volumes at once.
   */
  private readonly ready = new Fifo<string>();
  /** Exclusive operations holding every key they need, waiting for a free slot to run. */
  private readonly readyExclusive = new Fifo<ExclusiveTask>();
  private active = 0;
  private queued = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(options: KeyedSerialQueueOptions = {}) {
    const concurrency = options.concurrency ?? 16;
    if (!Number.isInteger(concurrency) || concurrency < 1)
      throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
    this.concurrency = concurrency;
  }

  /** Operations queued or running. */
  get size(): number {
    return this.queued + this.active;
  }

  /** Operations running now. */
  get running(): number {
    return this.active;
  }

  run<T>(key: string, fn: (signal: AbortSignal) => Promise<T>, options: RunOptions = {}): Promise<T> {
    if (typeof key !== 'string' || key.length === 0) throw new TypeError('KeyedSerialQueue: key must be a non-empty string');
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<T>((resolve, reject) => {
      const task: Task = { fn, resolve: resolve as (value: unknown) => void, reject, signal };
      let state = this.keys.get(key);
      if (!state) {
        state = { tasks: new Fifo<Entry>(), running: false };
        this.keys.set(key, state);
      }
      state.tasks.push(task);
      this.queued++;
      if (signal) {
        task.onAbort = () => this.cancel(key, task);
        signal.addEventListener('abort', task.onAbort, { once: true });
      }
      if (!state.running && state.tasks.length === 1) this.ready.push(key);
      this.pump();
    });
  }

  /**
   * Runs `fn` once it holds the slot of every key in `keys` (duplicates are fine): no other
   * operation on those keys runs meanwhile. It counts as one operation against `concurrency`; the
   * driver calls it makes are its own to bound (each under a call budget of its own, say).
   */
  runExclusive<T>(keys: Iterable<string>, fn: () => Promise<T>): Promise<T> {
    const distinct = [...new Set(keys)];
    for (const key of distinct) {
      if (typeof key !== 'string' || key.length === 0) throw new TypeError('KeyedSerialQueue: key must be a non-empty string');
    }
    if (distinct.length === 0) return fn();
    return new Promise<T>((resolve, reject) => {
      const exclusive: ExclusiveTask = { fn, resolve: resolve as (value: unknown) => void, reject, keys: distinct, held: 0 };
      this.queued++;
      for (const key of distinct) {
        let state = this.keys.get(key);
        if (!state) {
          state = { tasks: new Fifo<Entry>(), running: false };
          this.keys.set(key, state);
        }
        state.tasks.push({ exclusive });
        if (!state.running && state.tasks.length === 1) this.ready.push(key);
      }
      this.pump();
    });
  }

  /** Resolves when nothing is queued or running (including operations submitted meanwhile). */
  drain(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private cancel(key: string, task: Task): void {
    const state = this.keys.get(key);
    if (!state || !state.tasks.delete(task)) return; // already started
    this.queued--;
    if (state.tasks.length === 0 && !state.running) {
      this.keys.delete(key);
      this.ready.delete(key);
    }
    task.reject(task.signal?.reason);
    this.checkIdle();
  }

  private pump(): void {
    for (;;) {
      if (this.active < this.concurrency && this.readyExclusive.length > 0) {
        this.active++;
        void this.executeExclusive(this.readyExclusive.shift()!);
        continue;
      }
      if (this.active >= this.concurrency || this.ready.length === 0) return;
      const key = this.ready.shift()!;
      const state = this.keys.get(key);
      const entry = state?.tasks.shift();
      if (!state || !entry) continue;
      state.running = true;
      if (isHold(entry)) {
        // The key is the exclusive operation's now; it runs once it holds all of them.
        const exclusive = entry.exclusive;
        if (++exclusive.held === exclusive.keys.length) this.readyExclusive.push(exclusive);
        continue;
      }
      this.queued--;
      this.active++;
      if (entry.onAbort) entry.signal?.removeEventListener('abort', entry.onAbort);
      void this.execute(key, state, entry);
    }
  }

  private async execute(key: string, state: KeyState, task: Task): Promise<void> {
    try {
      // A fresh budget: the slot may be handed over from another operation's async context.
      task.resolve(await withCallBudget(() => task.fn(task.signal ?? NEVER_ABORTED), { fresh: true }));
    } catch (err) {
      task.reject(err);
    } finally {
      this.active--;
      this.free(key, state);
      this.pump();
      this.checkIdle();
    }
  }

  private async executeExclusive(exclusive: ExclusiveTask): Promise<void> {
    this.queued--;
    try {
      exclusive.resolve(await exclusive.fn());
    } catch (err) {
      exclusive.reject(err);
    } finally {
      this.active--;
      for (const key of exclusive.keys) this.free(key, this.keys.get(key)!);
      this.pump();
      this.checkIdle();
    }
  }

  /** The operation holding `key` is done: the next one in its line becomes ready. */
  private free(key: string, state: KeyState): void {
    state.running = false;
    if (state.tasks.length > 0) this.ready.push(key);
    else this.keys.delete(key);
  }

  private checkIdle(): void {
    if (this.size !== 0 || this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
