/**
 * Runs operations one at a time per key (a volume ID), in submission order, and operations on
 * different keys in parallel up to `concurrency`. This is how "at most one mutating operation per
 * volume is in flight" holds without a lock per call site. Keys waiting for a slot are served
 * round-robin, so one busy volume cannot starve the others.
 *
 * Each operation runs under a call budget of its own (drivers/call-budget.ts): its driver calls —
 * retries and follow-ups such as the inspect after a failed attach included — take at most the
 * service's timeout together, so the caller has its answer when the timeout says.
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

interface KeyState {
  tasks: Fifo<Task>;
  running: boolean;
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
        state = { tasks: new Fifo<Task>(), running: false };
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
    while (this.active < this.concurrency && this.ready.length > 0) {
      const key = this.ready.shift()!;
      const state = this.keys.get(key);
      const task = state?.tasks.shift();
      if (!state || !task) continue;
      this.queued--;
      state.running = true;
      this.active++;
      if (task.onAbort) task.signal?.removeEventListener('abort', task.onAbort);
      void this.execute(key, state, task);
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
      state.running = false;
      if (state.tasks.length > 0) this.ready.push(key);
      else this.keys.delete(key);
      this.pump();
      this.checkIdle();
    }
  }

  private checkIdle(): void {
    if (this.size !== 0 || this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
