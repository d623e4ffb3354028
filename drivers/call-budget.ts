/**
 * The time one storage operation may spend in driver calls, retries and follow-up calls included,
 * so that a configured timeout means what it says: a stuck backend costs the caller `timeoutMs`,
 * not `timeoutMs` once per retry.
 *
 * A budget is opened around an operation (`withCallBudget`: the storage layer's retry loop and its
 * per-volume queue do it) and found by BoundedDriver through the async context, so the calls in
 * between need not pass it along. The first bounded call starts it — the deadline is that call's
 * timeout from then — and every later call in the operation gets only what is left; once it is
 * spent, a call fails at once as a timeout ("maybe": the intent rules settle it), without reaching
 * the backend. A budget ends with its operation: work that outlives it (a timer it started) finds
 * it closed and is bounded on its own again.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export class CallBudget {
  private deadline: number | undefined;
  private total: number | undefined;
  private open = true;
  /** Bounded driver calls started under this budget (those refused for lack of time not counted). */
  calls = 0;

  constructor(private readonly clock: () => number = () => performance.now()) {}

  /** Starts the clock at the first call: the budget is `totalMs` from now. Later calls do not move it. */
  start(totalMs: number): void {
    if (this.deadline !== undefined) return;
    this.total = totalMs;
    this.deadline = this.clock() + totalMs;
  }

  /** The whole budget, ms; undefined before the first call. */
  get totalMs(): number | undefined {
    return this.total;
  }

  /** Time left, ms (never negative); undefined before the first call. */
  remainingMs(): number | undefined {
    return this.deadline === undefined ? undefined : Math.max(0, this.deadline - this.clock());
  }

  get isOpen(): boolean {
    return this.open;
  }

  close(): void {
    this.open = false;
  }
}

const current = new AsyncLocalStorage<CallBudget>();

/** The budget of the operation this code runs in, if it is still open. */
export function currentCallBudget(): CallBudget | undefined {
  const budget = current.getStore();
  return budget?.isOpen ? budget : undefined;
}

/**
 * Runs `fn` under a budget: the open one of the enclosing operation (nested retries share it), or
 * a new one — always a new one with `fresh`, for an operation that must not inherit its caller's.
 */
export async function withCallBudget<T>(fn: (budget: CallBudget) => Promise<T>, options: { fresh?: boolean } = {}): Promise<T> {
  const enclosing = options.fresh ? undefined : currentCallBudget();
  if (enclosing) return fn(enclosing);
  const budget = new CallBudget();
  try {
    return await current.run(budget, () => fn(budget));
  } finally {
    budget.close();
  }
}
