import { KeyedSerialQueue } from '../../../framework/storage/keyed-queue';

interface Deferred<T = void> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (reason: unknown) => void;
}

function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets queued microtasks and promise callbacks run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('KeyedSerialQueue', () => {
  it('runs operations on one key one at a time, in submission order', async () => {
    const queue = new KeyedSerialQueue();
    const log: string[] = [];
    let concurrentOnKey = 0;
    let maxOnKey = 0;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        queue.run('vol-1', async () => {
          concurrentOnKey++;
          maxOnKey = Math.max(maxOnKey, concurrentOnKey);
          log.push(`start ${i}`);
          for (let j = 0; j < (i % 3) + 1; j++) await settle(); // uneven durations
          log.push(`end ${i}`);
          concurrentOnKey--;
          return i;
        }),
      ),
    );
    expect(results).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(maxOnKey).toBe(1);
    expect(log).toEqual(Array.from({ length: 20 }, (_, i) => [`start ${i}`, `end ${i}`]).flat());
  });

  it('runs operations on different keys in parallel', async () => {
    const queue = new KeyedSerialQueue({ concurrency: 4 });
    const gates = [deferred(), deferred(), deferred()];
    const started: string[] = [];
    const runs = ['a', 'b', 'c'].map((key, i) =>
      queue.run(key, async () => {
        started.push(key);
        await gates[i].promise;
        return key;
      }),
    );
    await settle();
    expect(started).toEqual(['a', 'b', 'c']);
    expect(queue.running).toBe(3);
    gates[2].resolve();
    gates[0].resolve();
    gates[1].resolve();
    expect(await Promise.all(runs)).toEqual(['a', 'b', 'c']);
  });

  it('never runs more than `concurrency` operations at once', async () => {
    const queue = new KeyedSerialQueue({ concurrency: 3 });
    let current = 0;
    let peak = 0;
    const runs = Array.from({ length: 40 }, (_, i) =>
      queue.run(`vol-${i % 10}`, async () => {
        current++;
        peak = Math.max(peak, current);
        await settle();
        current--;
      }),
    );
    await settle();
    expect(queue.running).toBe(3);
    expect(queue.size).toBeGreaterThan(3);
    await Promise.all(runs);
    expect(peak).toBe(3);
    expect(queue.size).toBe(0);
  });

  it('serves waiting keys round-robin so one busy key cannot starve others', async () => {
    const queue = new KeyedSerialQueue({ concurrency: 1 });
    const order: string[] = [];
    const job = (name: string) => async () => {
      order.push(name);
    };
    const runs = [
      queue.run('hot', job('hot1')),
      queue.run('hot', job('hot2')),
      queue.run('hot', job('hot3')),
      queue.run('cold', job('cold1')),
    ];
    await Promise.all(runs);
    expect(order).toEqual(['hot1', 'cold1', 'hot2', 'hot3']);
  });

  it('an error rejects only its own operation and does not block the key', async () => {
    const queue = new KeyedSerialQueue();
    const failing = queue.run('vol-1', async () => {
      throw new Error('driver said no');
    });
    const throwingSync = queue.run('vol-1', (() => {
      throw new Error('sync throw');
    }) as () => Promise<never>);
    const next = queue.run('vol-1', async () => 'ok');
    await expect(failing).rejects.toThrow('driver said no');
    await expect(throwingSync).rejects.toThrow('sync throw');
    await expect(next).resolves.toBe('ok');
    expect(queue.size).toBe(0);
  });

  it('drain waits for everything in flight, including work queued meanwhile', async () => {
    const queue = new KeyedSerialQueue({ concurrency: 2 });
    const gate = deferred();
    const done: string[] = [];
    void queue.run('a', async () => {
      await gate.promise;
      done.push('a1');
      void queue.run('b', async () => {
        done.push('b1');
      });
    });
    void queue.run('a', async () => {
      done.push('a2');
    });
    let drained = false;
    const draining = queue.drain().then(() => {
      drained = true;
    });
    await settle();
    expect(drained).toBe(false);
    expect(queue.size).toBe(2);
    gate.resolve();
    await draining;
    expect(done.sort()).toEqual(['a1', 'a2', 'b1']);
    expect(queue.size).toBe(0);
    await expect(queue.drain()).resolves.toBeUndefined();
  });

  it('an operation aborted while queued never runs; a running one sees the signal', async () => {
    const queue = new KeyedSerialQueue();
    const gate = deferred();
    const controller = new AbortController();
    let sawAbort = false;
    const first = queue.run(
      'v',
      async (signal) => {
        await gate.promise;
        sawAbort = signal.aborted;
        return 'first';
      },
      { signal: controller.signal },
    );
    const queuedController = new AbortController();
    let secondRan = false;
    const second = queue.run(
      'v',
      async () => {
        secondRan = true;
      },
      { signal: queuedController.signal },
    );
    await settle();
    queuedController.abort(new Error('no longer wanted'));
    await expect(second).rejects.toThrow('no longer wanted');
    controller.abort();
    gate.resolve();
    await expect(first).resolves.toBe('first');
    expect(sawAbort).toBe(true);
    expect(secondRan).toBe(false);
    expect(queue.size).toBe(0);
    const already = new AbortController();
    already.abort(new Error('too late'));
    await expect(queue.run('v', async () => 1, { signal: already.signal })).rejects.toThrow('too late');
  });

  it('drains a backlog of 100,000 keys in order (recovery queues one repair per volume)', async () => {
    const queue = new KeyedSerialQueue({ concurrency: 16 });
    const order: number[] = [];
    let peak = 0;
    const runs = Array.from({ length: 100_000 }, (_, i) =>
      queue.run(`vol-${i}`, async () => {
        peak = Math.max(peak, queue.running);
        order.push(i);
      }),
    );
    expect(queue.size).toBe(100_000);
    await Promise.all(runs);
    expect(order).toEqual(Array.from({ length: 100_000 }, (_, i) => i));
    expect(peak).toBe(16);
    expect(queue.size).toBe(0);
  });

  it('validates its arguments', () => {
    expect(() => new KeyedSerialQueue({ concurrency: 0 })).toThrow(RangeError);
    expect(() => new KeyedSerialQueue({ concurrency: 1.5 })).toThrow(RangeError);
    expect(() => new KeyedSerialQueue().run('', async () => 1)).toThrow(TypeError);
    expect(() => new KeyedSerialQueue().runExclusive(['a', ''], async () => 1)).toThrow(TypeError);
  });

  describe('runExclusive', () => {
    it('runs after what was queued before it on any of its keys, alone on them, before what comes after', async () => {
      const queue = new KeyedSerialQueue({ concurrency: 8 });
      const log: string[] = [];
      const gates = { a: deferred(), b: deferred(), ex: deferred() };
      const first = queue.run('a', async () => {
        await gates.a.promise;
        log.push('a1');
      });
      const second = queue.run('b', async () => {
        await gates.b.promise;
        log.push('b1');
      });
      let exclusiveRan = false;
      const exclusive = queue.runExclusive(['a', 'b', 'c', 'a'], async () => {
        exclusiveRan = true;
        log.push('exclusive');
        await gates.ex.promise;
        log.push('exclusive done');
        return 42;
      });
      const after = ['a', 'b', 'c'].map((key) => queue.run(key, async () => void log.push(`${key}2`)));
      const other = queue.run('d', async () => void log.push('d'));
      await settle();
      // Another key runs meanwhile; the exclusive waits for a and b.
      expect(log).toEqual(['d']);
      gates.b.resolve();
      await settle();
      expect(exclusiveRan).toBe(false);
      gates.a.resolve();
      await settle();
      expect(log).toEqual(['d', 'b1', 'a1', 'exclusive']);
      gates.ex.resolve();
      expect(await exclusive).toBe(42);
      await Promise.all([first, second, other, ...after]);
      expect(log.slice(4).sort()).toEqual(['a2', 'b2', 'c2', 'exclusive done'].sort());
      expect(log[4]).toBe('exclusive done');
      expect(queue.size).toBe(0);
    });

    it('two with keys in common never wait for each other: they run in the order submitted', async () => {
      const queue = new KeyedSerialQueue({ concurrency: 4 });
      const log: string[] = [];
      const gate = deferred();
      const holder = queue.run('y', async () => {
        await gate.promise;
      });
      const one = queue.runExclusive(['x', 'y'], async () => void log.push('one'));
      const two = queue.runExclusive(['y', 'x'], async () => void log.push('two'));
      await settle();
      expect(log).toEqual([]);
      gate.resolve();
      await Promise.all([holder, one, two]);
      expect(log).toEqual(['one', 'two']);
    });

    it('counts as one operation against the concurrency', async () => {
      const queue = new KeyedSerialQueue({ concurrency: 2 });
      const gate = deferred();
      const exclusive = queue.runExclusive(['a', 'b', 'c'], async () => {
        await gate.promise;
      });
      const started: string[] = [];
      const hold = deferred();
      const singles = ['d', 'e'].map((key) =>
        queue.run(key, async () => {
          started.push(key);
          await hold.promise;
        }),
      );
      await settle();
      expect(queue.running).toBe(2);
      expect(started).toEqual(['d']);
      gate.resolve();
      await exclusive;
      await settle();
      expect(started).toEqual(['d', 'e']);
      hold.resolve();
      await Promise.all(singles);
      expect(queue.size).toBe(0);
    });

    it('a failure rejects it alone and frees its keys', async () => {
      const queue = new KeyedSerialQueue();
      const failing = queue.runExclusive(['a', 'b'], async () => {
        throw new Error('batch write failed');
      });
      const next = queue.run('b', async () => 'b ran');
      await expect(failing).rejects.toThrow('batch write failed');
      await expect(next).resolves.toBe('b ran');
      await expect(queue.runExclusive([], async () => 'no keys')).resolves.toBe('no keys');
      await queue.drain();
      expect(queue.size).toBe(0);
    });
  });
});
