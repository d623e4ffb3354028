/**
 * Relaunch backoff, as Marathon's RateLimiter does it: when a task of an instance fails (or
 * finishes, errs, is dropped or gone, or is killed by its health check) the instance waits
 * `backoffSeconds` before its next launch; each further failure multiplies the wait by
 * `backoffFactor`, up to `maxLaunchDelaySeconds`. The delay's reference time is when its wait ends,
 * moved forward whenever a task of the instance starts (Marathon's "advance"); a delay is
 * forgotten once `maxLaunchDelaySeconds` have passed since then — the task ran long enough — so the
 * next failure starts again from `backoffSeconds`. Defaults are Marathon's: 1 s, 1.15, 300 s.
 *
 * Kept in memory per instance, like Marathon's: a Polly restart starts every instance afresh.
 */

export const DEFAULT_BACKOFF_SECONDS = 1;
export const DEFAULT_BACKOFF_FACTOR = 1.15;
export const DEFAULT_MAX_LAUNCH_DELAY_SECONDS = 300;

export interface BackoffPolicy {
  backoffSeconds?: number;
  backoffFactor?: number;
  maxLaunchDelaySeconds?: number;
}

export interface LaunchDelay {
  /** Consecutive failures behind the current delay. */
  failures: number;
  /** The current delay, ms. */
  delayMs: number;
  /** When its wait ended, or a task of the instance last started (epoch ms). */
  since: number;
  /** No launch before this (epoch ms). */
  until: number;
  /** How the last task ended (state and message). */
  cause?: string;
}

function policyOf(policy: BackoffPolicy): { baseMs: number; factor: number; maxMs: number } {
  const maxMs = (policy.maxLaunchDelaySeconds ?? DEFAULT_MAX_LAUNCH_DELAY_SECONDS) * 1000;
  return {
    baseMs: Math.min((policy.backoffSeconds ?? DEFAULT_BACKOFF_SECONDS) * 1000, maxMs),
    factor: policy.backoffFactor ?? DEFAULT_BACKOFF_FACTOR,
    maxMs,
  };
}

export class LaunchBackoff {
  private readonly delays = new Map<string, LaunchDelay>();

  /** A task of instance `key` failed at `now`: raises its delay; returns it. */
  failed(key: string, policy: BackoffPolicy, cause?: string, now = Date.now()): LaunchDelay {
    const { baseMs, factor, maxMs } = policyOf(policy);
    const previous = this.current(key, policy, now);
    const delayMs = previous ? Math.min(previous.delayMs * factor, maxMs) : baseMs;
    // The reference starts when the wait ends: a delay is never forgotten before it is over.
    const delay: LaunchDelay = { failures: (previous?.failures ?? 0) + 1, delayMs, since: now + delayMs, until: now + delayMs };
    if (cause !== undefined) delay.cause = cause;
    this.delays.set(key, delay);
    return delay;
  }

  /** A task of instance `key` started: the delay stays, but is forgotten `maxLaunchDelaySeconds` from now. */
  started(key: string, now = Date.now()): void {
    const delay = this.delays.get(key);
    if (delay) delay.since = Math.max(delay.since, now);
  }

  /** The delay of instance `key`, unless it is forgotten (maxLaunchDelaySeconds after it was raised). */
  current(key: string, policy: BackoffPolicy, now = Date.now()): LaunchDelay | undefined {
    const delay = this.delays.get(key);
    if (!delay) return undefined;
    if (now > delay.since + policyOf(policy).maxMs) {
      this.delays.delete(key);
      return undefined;
    }
    return delay;
  }

  /** The instance may not launch before this time (epoch ms), or undefined. */
  waitUntil(key: string, policy: BackoffPolicy, now = Date.now()): number | undefined {
    const delay = this.current(key, policy, now);
    return delay && delay.until > now ? delay.until : undefined;
  }

  /** Forgets the delay (the definition changed, the instance was scaled away or restarted by hand). */
  reset(key: string): void {
    this.delays.delete(key);
  }

  /** Forgets every delay of an app. */
  resetApp(appId: string): void {
    for (const key of [...this.delays.keys()]) if (key.startsWith(`${appId}#`)) this.delays.delete(key);
  }
}
