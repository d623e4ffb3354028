import { AbortedError, Backoff, delay } from '../../../framework/mesos/backoff';

describe('Backoff', () => {
  it('grows by the factor up to the maximum (no jitter)', () => {
    const b = new Backoff({ minMs: 100, maxMs: 1000, factor: 2, jitter: 'none' });
    expect([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(b.attempts).toBe(6);
  });

  it('resets to the minimum', () => {
    const b = new Backoff({ minMs: 10, maxMs: 1000, jitter: 'none' });
    b.next();
    b.next();
    b.reset();
    expect(b.attempts).toBe(0);
    expect(b.next()).toBe(10);
  });

  it('full jitter draws from [0, ceiling]', () => {
    const low = new Backoff({ minMs: 100, maxMs: 100, jitter: 'full', random: () => 0 });
    const high = new Backoff({ minMs: 100, maxMs: 100, jitter: 'full', random: () => 0.999999 });
    expect(low.next()).toBe(0);
    expect(high.next()).toBe(100);
  });

  it('equal jitter draws from [ceiling/2, ceiling]', () => {
    const low = new Backoff({ minMs: 100, maxMs: 100, jitter: 'equal', random: () => 0 });
    const high = new Backoff({ minMs: 100, maxMs: 100, jitter: 'equal', random: () => 0.999999 });
    expect(low.next()).toBe(50);
    expect(high.next()).toBe(100);
    const real = new Backoff({ minMs: 1000, maxMs: 15000 });
    for (let i = 0; i < 50; i++) {
      const ceiling = real.ceiling();
      const d = real.next();
      expect(d).toBeGreaterThanOrEqual(ceiling / 2 - 1);
      expect(d).toBeLessThanOrEqual(ceiling);
    }
  });

  it('validates its options', () => {
    expect(() => new Backoff({ minMs: 10, maxMs: 5 })).toThrow(RangeError);
    expect(() => new Backoff({ factor: 0.5 })).toThrow(RangeError);
  });

  it('wait() is cut short by an abort', async () => {
    const b = new Backoff({ minMs: 60_000, maxMs: 60_000 });
    const abort = new AbortController();
    const waiting = b.wait(abort.signal);
    abort.abort();
    await expect(waiting).rejects.toBeInstanceOf(AbortedError);
    await expect(delay(1, abort.signal)).rejects.toBeInstanceOf(AbortedError);
    await expect(delay(1)).resolves.toBeUndefined();
  });
});
