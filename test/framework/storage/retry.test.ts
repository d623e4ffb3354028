/**
 * retryTransient under a call budget: the attempts and the waits between them together take at most
 * the driver's timeout; a timed-out attempt is not repeated; transient failures that answer quickly
 * are retried while time is left.
 */
import { BoundedDriver } from '../../../drivers/bounded-driver';
import { DriverConflictError, DriverTransientError } from '../../../drivers/errors';
import type { DriverVolume, StorageDriver } from '../../../drivers/storage-driver';
import { retryCreate, retryTransient } from '../../../framework/storage/retry';

const volume: DriverVolume = { id: 'v-1', name: 'one', size: 1, fields: {}, attachments: [] };

/** Just enough of a driver for volumeInspect: each call takes the next behaviour from the script. */
function scriptedDriver(script: Array<'hang' | 'transient' | 'ok'>): { driver: StorageDriver; calls: () => number } {
  let calls = 0;
  const driver = {
    name: 'scripted',
    volumeInspect: (): Promise<DriverVolume> => {
      const step = script[Math.min(calls, script.length - 1)];
      calls++;
      if (step === 'hang') return new Promise<DriverVolume>(() => undefined);
      if (step === 'transient') return Promise.reject(new DriverTransientError('throttled'));
      return Promise.resolve(volume);
    },
  } as unknown as StorageDriver;
  return { driver, calls: () => calls };
}

describe('retryTransient', () => {
  it('does not repeat a call that timed out: the timeout has used the whole budget', async () => {
    const { driver, calls } = scriptedDriver(['hang']);
    const bounded = new BoundedDriver(driver, { timeoutMs: 50 });
    const err = await retryTransient(() => bounded.volumeInspect('v-1'), { attempts: 4, baseDelayMs: 1, maxDelayMs: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DriverTransientError);
    expect((err as DriverTransientError).details).toMatchObject({ timedOut: true, timeoutMs: 50 });
    expect(calls()).toBe(1);
  });

  it('retries quick transient failures while time is left, and the last try gets only the rest of the budget', async () => {
    const { driver, calls } = scriptedDriver(['transient', 'transient', 'hang']);
    const bounded = new BoundedDriver(driver, { timeoutMs: 200 });
    const retried: number[] = [];
    const err = await retryTransient(() => bounded.volumeInspect('v-1'), {
      attempts: 4,
      baseDelayMs: 1,
      maxDelayMs: 1,
      onRetry: (attempt) => retried.push(attempt),
    }).catch((e: unknown) => e);
    expect(calls()).toBe(3);
    expect(retried).toEqual([1, 2]);
    expect((err as DriverTransientError).details).toMatchObject({ timedOut: true, timeoutMs: 200 });
  });

  it('does not wait for a retry that would outlast the budget', async () => {
    const { driver, calls } = scriptedDriver(['transient', 'ok']);
    const bounded = new BoundedDriver(driver, { timeoutMs: 100 });
    // The jittered wait is half of 100 s: far more than is left of the 100 ms budget.
    const random = jest.spyOn(Math, 'random').mockReturnValue(0.5);
    try {
      const retried: number[] = [];
      const err = await retryTransient(() => bounded.volumeInspect('v-1'), {
        attempts: 4,
        baseDelayMs: 100_000,
        maxDelayMs: 100_000,
        onRetry: (attempt) => retried.push(attempt),
      }).catch((e: unknown) => e);
      expect((err as Error).message).toBe('throttled');
      expect(calls()).toBe(1);
      expect(retried).toEqual([]);
    } finally {
      random.mockRestore();
    }
  });

  it('still succeeds after quick failures, and never retries a definite failure', async () => {
    const { driver, calls } = scriptedDriver(['transient', 'ok']);
    const bounded = new BoundedDriver(driver, { timeoutMs: 5_000 });
    await expect(retryTransient(() => bounded.volumeInspect('v-1'), { baseDelayMs: 1, maxDelayMs: 1 })).resolves.toEqual(volume);
    expect(calls()).toBe(2);
    let definite = 0;
    await expect(
      retryTransient(() => {
        definite++;
        return Promise.reject(new DriverConflictError('attached elsewhere'));
      }),
    ).rejects.toBeInstanceOf(DriverConflictError);
    expect(definite).toBe(1);
  });

  it('retryCreate shares the budget between the create and the lookups before each retry', async () => {
    const { driver, calls } = scriptedDriver(['hang']);
    const bounded = new BoundedDriver(driver, { timeoutMs: 50 });
    let lookups = 0;
    const err = await retryCreate(
      () => bounded.volumeInspect('v-1'),
      async () => {
        lookups++;
        return undefined;
      },
      { attempts: 4, baseDelayMs: 1, maxDelayMs: 1 },
    ).catch((e: unknown) => e);
    expect((err as DriverTransientError).details).toMatchObject({ timedOut: true, timeoutMs: 50 });
    expect(calls()).toBe(1);
    expect(lookups).toBe(0);
  });
});
