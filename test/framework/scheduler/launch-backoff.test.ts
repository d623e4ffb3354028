/** Relaunch backoff as Marathon's rate limiter computes it: start, growth, cap, and forgetting. */
import { DEFAULT_BACKOFF_FACTOR, DEFAULT_BACKOFF_SECONDS, DEFAULT_MAX_LAUNCH_DELAY_SECONDS, LaunchBackoff } from '../../../framework/scheduler/launch-backoff';

describe('LaunchBackoff', () => {
  it("uses Marathon's defaults: 1 s, factor 1.15, at most 300 s", () => {
    expect([DEFAULT_BACKOFF_SECONDS, DEFAULT_BACKOFF_FACTOR, DEFAULT_MAX_LAUNCH_DELAY_SECONDS]).toEqual([1, 1.15, 300]);
    const b = new LaunchBackoff();
    const t0 = 1_000_000;
    expect(b.failed('a#0', {}, undefined, t0).delayMs).toBe(1000);
    expect(b.failed('a#0', {}, undefined, t0 + 10).delayMs).toBeCloseTo(1150, 6);
    expect(b.failed('a#0', {}, undefined, t0 + 20).delayMs).toBeCloseTo(1322.5, 6);
  });

  it('multiplies by backoffFactor per failure up to maxLaunchDelaySeconds', () => {
    const b = new LaunchBackoff();
    const policy = { backoffSeconds: 1, backoffFactor: 2, maxLaunchDelaySeconds: 5 };
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) delays.push(b.failed('a#0', policy, 'TASK_FAILED', 1000 + i).delayMs);
    expect(delays).toEqual([1000, 2000, 4000, 5000, 5000]);
    expect(b.current('a#0', policy, 1004)).toMatchObject({ failures: 5, cause: 'TASK_FAILED', until: 6004 });
    expect(b.waitUntil('a#0', policy, 6004)).toBeUndefined();
    expect(b.waitUntil('a#0', policy, 6003)).toBe(6004);
    // Other instances are not concerned.
    expect(b.waitUntil('a#1', policy, 1004)).toBeUndefined();
  });

  it('forgets a delay maxLaunchDelaySeconds after its wait ended: the next failure starts over', () => {
    const b = new LaunchBackoff();
    const policy = { backoffSeconds: 2, backoffFactor: 3, maxLaunchDelaySeconds: 10 };
    b.failed('a#0', policy, undefined, 0);
    b.failed('a#0', policy, undefined, 100);
    // Raised to 6 s at 100 ms: over at 6.1 s, forgotten 10 s later.
    expect(b.current('a#0', policy, 16_100)?.delayMs).toBe(6000);
    expect(b.current('a#0', policy, 16_101)).toBeUndefined();
    expect(b.failed('a#0', policy, undefined, 16_200)).toMatchObject({ failures: 1, delayMs: 2000 });
  });

  it('never starts above the cap, and resets per instance or per app', () => {
    const b = new LaunchBackoff();
    expect(b.failed('a#0', { backoffSeconds: 60, maxLaunchDelaySeconds: 5 }, undefined, 0).delayMs).toBe(5000);
    b.failed('a#1', {}, undefined, 0);
    b.failed('ab#0', {}, undefined, 0);
    b.reset('a#0');
    expect(b.current('a#0', {}, 1)).toBeUndefined();
    b.resetApp('a');
    expect(b.current('a#1', {}, 1)).toBeUndefined();
    expect(b.current('ab#0', {}, 1)).toBeDefined();
  });
});

describe('LaunchBackoff and tasks that start', () => {
  it('keeps raising while tasks crash soon after starting, and forgets once one ran maxLaunchDelaySeconds', () => {
    const b = new LaunchBackoff();
    const policy = { backoffSeconds: 1, backoffFactor: 2, maxLaunchDelaySeconds: 3 };
    b.failed('a#0', policy, undefined, 0);
    b.started('a#0', 1000);
    b.failed('a#0', policy, undefined, 1500);
    b.started('a#0', 3500);
    expect(b.failed('a#0', policy, undefined, 6400).delayMs).toBe(3000);
    b.started('a#0', 9400);
    expect(b.current('a#0', policy, 12_400)).toBeDefined();
    expect(b.current('a#0', policy, 12_401)).toBeUndefined();
  });
});
