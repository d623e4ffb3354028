import { DriverAbortedError } from '../../drivers/abort';
import { BoundedDriver } from '../../drivers/bounded-driver';
import { withCallBudget } from '../../drivers/call-budget';
import { DriverConflictError, DriverNotImplementedError, DriverTransientError } from '../../drivers/errors';
import type {
  CallOptions,
  DriverSnapshot,
  DriverVolume,
  Instance,
  InstanceId,
  StorageDriver,
  StorageType,
} from '../../drivers/storage-driver';

const volume: DriverVolume = { id: 'v-1', name: 'one', size: 1, fields: {}, attachments: [] };

/** A driver whose calls finish when the test says so; records the signals it was given. */
class FakeDriver implements StorageDriver {
  readonly name = 'fake';
  readonly signals: (AbortSignal | undefined)[] = [];
  /** Resolves pending slow calls. */
  private releases: (() => void)[] = [];

  type(): StorageType {
    return 'block';
  }
  attachLimit(): number | undefined {
    return 40;
  }
  hostPath(v: DriverVolume): string {
    return `/mnt/${v.id}`;
  }
  async init(options?: CallOptions): Promise<void> {
    this.signals.push(options?.signal);
  }
  async instanceInspect(instanceId: InstanceId): Promise<Instance> {
    return { instanceId };
  }
  async volumes(options?: CallOptions): Promise<DriverVolume[]> {
    this.signals.push(options?.signal);
    return [volume];
  }
  /** Never finishes on its own and ignores its signal: the wrapper must still return. */
  volumeInspect(_id: string, options?: CallOptions): Promise<DriverVolume> {
    this.signals.push(options?.signal);
    return new Promise((resolve) => this.releases.push(() => resolve(volume)));
  }
  async volumeInspectByName(): Promise<DriverVolume | undefined> {
    return undefined;
  }
  /** Finishes when its signal fires, like a well-behaved driver. */
  volumeCreate(_name: string, _c: unknown, options?: CallOptions): Promise<DriverVolume> {
    this.signals.push(options?.signal);
    return new Promise((_resolve, reject) => options?.signal?.addEventListener('abort', () => reject(new Error('inner saw abort'))));
  }
  async volumeCreateFromSnapshot(): Promise<DriverVolume> {
    throw new DriverNotImplementedError('no snapshots');
  }
  volumeCopy(): Promise<DriverVolume> {
    throw new Error('synchronous throw');
  }
  async volumeSnapshot(): Promise<DriverSnapshot> {
    throw new DriverNotImplementedError('no snapshots');
  }
  async volumeRemove(): Promise<void> {
    throw new DriverConflictError('attached');
  }
  async volumeAttach(): Promise<{ volume: DriverVolume; attachToken?: string }> {
    return { volume, attachToken: 'tok' };
  }
  async volumeDetach(): Promise<DriverVolume> {
    return volume;
  }
  async snapshots(): Promise<DriverSnapshot[]> {
    return [];
  }
  async snapshotInspect(): Promise<DriverSnapshot> {
    throw new DriverNotImplementedError('no snapshots');
  }
  async snapshotRemove(): Promise<void> {
    throw new DriverNotImplementedError('no snapshots');
  }
  async capacity(): Promise<undefined> {
    return undefined;
  }
  releaseAll(): void {
    for (const release of this.releases.splice(0)) release();
  }
}

let inner: FakeDriver;
beforeEach(() => {
  inner = new FakeDriver();
});
afterEach(() => inner.releaseAll());

it('passes results, errors and the synchronous members through', async () => {
  const d = new BoundedDriver(inner, { timeoutMs: 10_000 });
  expect(d.name).toBe('fake');
  expect(d.type()).toBe('block');
  expect(d.attachLimit({ id: 'i' })).toBe(40);
  expect(d.hostPath?.(volume)).toBe('/mnt/v-1');
  expect(await d.volumes()).toEqual([volume]);
  expect(await d.volumeAttach('v-1', { id: 'i' })).toEqual({ volume, attachToken: 'tok' });
  await expect(d.volumeRemove('v-1')).rejects.toBeInstanceOf(DriverConflictError);
  await expect(d.snapshotInspect('s')).rejects.toBeInstanceOf(DriverNotImplementedError);
  await expect(d.volumeCopy('v-1', 'x')).rejects.toThrow('synchronous throw');
  expect(await d.capacity({}, 'z')).toBeUndefined();
});

it('has no hostPath when the inner driver has none', () => {
  const bare = Object.assign(Object.create(FakeDriver.prototype) as FakeDriver, { hostPath: undefined });
  expect(new BoundedDriver(bare).hostPath).toBeUndefined();
});

it('passes a signal down that is not aborted for a normal call', async () => {
  const d = new BoundedDriver(inner);
  await d.init();
  expect(inner.signals[0]).toBeInstanceOf(AbortSignal);
  expect(inner.signals[0]!.aborted).toBe(false);
});

it('times out a call the driver never finishes, as a transient "maybe"', async () => {
  const d = new BoundedDriver(inner, { timeoutMs: 20 });
  const err = await d.volumeInspect('v-9').catch((e: unknown) => e);
  expect(err).toBeInstanceOf(DriverTransientError);
  expect(err).not.toBeInstanceOf(DriverAbortedError);
  expect((err as Error).message).toBe('timed out after 20 ms: volumeInspect v-9');
  expect((err as DriverTransientError).details).toMatchObject({ operation: 'volumeInspect', timeoutMs: 20, timedOut: true });
  // The signal passed down fired, so a well-behaved driver stops work.
  expect(inner.signals[0]!.aborted).toBe(true);
});

it('applies per-operation deadlines', async () => {
  const d = new BoundedDriver(inner, { timeoutMs: 60_000, timeouts: { volumeCreate: 15 } });
  expect(d.timeoutFor('volumeCreate')).toBe(15);
  expect(d.timeoutFor('volumeInspect')).toBe(60_000);
  await expect(d.volumeCreate('n', {})).rejects.toThrow('timed out after 15 ms: volumeCreate n');
});

it('rejects at once for an already-aborted caller without calling the driver', async () => {
  const d = new BoundedDriver(inner);
  const err = await d.volumes({ signal: AbortSignal.abort() }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(DriverAbortedError);
  expect(err).toBeInstanceOf(DriverTransientError);
  expect((err as Error).name).toBe('AbortError');
  expect(inner.signals).toHaveLength(0);
});

it('rejects when the caller aborts mid-call, and aborts the signal it passed down', async () => {
  const d = new BoundedDriver(inner, { timeoutMs: 60_000 });
  const controller = new AbortController();
  const pending = d.volumeInspect('v-1', { signal: controller.signal });
  controller.abort(new Error('shutting down'));
  const err = await pending.catch((e: unknown) => e);
  expect(err).toBeInstanceOf(DriverAbortedError);
  expect((err as Error).message).toContain('volumeInspect v-1');
  expect((err as Error).message).toContain('shutting down');
  expect(inner.signals[0]!.aborted).toBe(true);
});

it('ignores a late answer after the deadline', async () => {
  const d = new BoundedDriver(inner, { timeoutMs: 10 });
  await expect(d.volumeInspect('v-1')).rejects.toBeInstanceOf(DriverTransientError);
  inner.releaseAll();
  await new Promise((r) => setImmediate(r));
});

it("inside a call budget, calls share the first call's timeout; with none left a call fails without reaching the driver", async () => {
  const d = new BoundedDriver(inner, { timeoutMs: 30 });
  await withCallBudget(async (budget) => {
    const first = await d.volumeInspect('v-1').catch((e: unknown) => e);
    expect((first as DriverTransientError).details).toMatchObject({ operation: 'volumeInspect', timeoutMs: 30, timedOut: true });
    const second = await d.volumeInspect('v-2').catch((e: unknown) => e);
    expect(second).toBeInstanceOf(DriverTransientError);
    expect((second as Error).message).toBe("timed out: the operation's 30 ms were spent before volumeInspect v-2");
    expect((second as DriverTransientError).details).toMatchObject({ timeoutMs: 30, timedOut: true });
    expect(inner.signals).toHaveLength(1);
    expect(budget.calls).toBe(1);
  });
  // A new operation has its own budget: the call reaches the driver again.
  await expect(d.volumeInspect('v-3')).rejects.toThrow('timed out after 30 ms: volumeInspect v-3');
  expect(inner.signals).toHaveLength(2);
});

it('inside a call budget, a later call gets only what is left of it', async () => {
  const d = new BoundedDriver(inner, { timeoutMs: 60 });
  await withCallBudget(async (budget) => {
    await d.volumes();
    await new Promise((r) => setTimeout(r, 15));
    const left = budget.remainingMs()!;
    expect(left).toBeLessThan(60);
    const err = await d.volumeInspect('v-1').catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/^timed out after \d+ ms \(the rest of the operation's 60 ms\): volumeInspect v-1$/);
    expect(budget.calls).toBe(2);
  });
});

it('refuses nonsensical deadlines', () => {
  expect(() => new BoundedDriver(inner, { timeoutMs: 0 })).toThrow(RangeError);
  expect(() => new BoundedDriver(inner, { timeouts: { volumes: -5 } })).toThrow(RangeError);
});
