import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LevelStore } from '../../../framework/state/level-store';
import { hasBatchScan, hasValueBatchScan, readAhead, scanAll, scanAllValues } from '../../../framework/state/scan-all';
import type { Store } from '../../../framework/state/store';
import { InvalidStoreKeyError } from '../../../framework/state/store';

let dir: string;
let store: LevelStore;

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'polly-scan-all-'));
  store = new LevelStore(path.join(dir, 'state'));
  await store.open();
  const ops = [];
  for (let i = 0; i < 25; i++) ops.push({ type: 'put' as const, key: `volumes/v${String(i).padStart(3, '0')}`, value: { i } });
  ops.push(
    { type: 'put' as const, key: 'volumes-x/neighbour', value: { i: -1 } },
    { type: 'put' as const, key: 'claims/c1', value: { i: -2 } },
  );
  await store.batch(ops);
});

afterEach(async () => {
  await store.close();
  await fs.rm(dir, { recursive: true, force: true });
});

async function collect(iterable: AsyncIterable<Array<[string, { i: number }]>>): Promise<Array<Array<[string, { i: number }]>>> {
  const out: Array<Array<[string, { i: number }]>> = [];
  for await (const batch of iterable) out.push(batch);
  return out;
}

/** A Store that offers only the interface (like a backend without batch scans): everything but scanBatches. */
function interfaceOnly(inner: Store): Store {
  return {
    backend: 'interface-only',
    get isOpen() {
      return inner.isOpen;
    },
    open: () => inner.open(),
    close: () => inner.close(),
    get: (key) => inner.get(key),
    getVersioned: (key) => inner.getVersioned(key),
    put: (key, value) => inner.put(key, value),
    putIfVersion: (key, value, version) => inner.putIfVersion(key, value, version),
    delete: (key) => inner.delete(key),
    deleteIfVersion: (key, version) => inner.deleteIfVersion(key, version),
    batch: (ops) => inner.batch(ops),
    scan: (prefix) => inner.scan(prefix),
    count: (prefix) => inner.count(prefix),
    watch: (prefix, listener) => inner.watch(prefix, listener),
  };
}

describe('scanAll', () => {
  it('uses LevelStore batch scans: every entry under the prefix, in key order, in batches of the size asked', async () => {
    expect(hasBatchScan(store)).toBe(true);
    const batches = await collect(scanAll(store, 'volumes/', 10));
    expect(batches.map((b) => b.length)).toEqual([10, 10, 5]);
    const entries = batches.flat();
    expect(entries.map(([, v]) => v.i)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect(entries.every(([k]) => k.startsWith('volumes/'))).toBe(true);
  });

  it('falls back to scan() for a backend without batch scans, with the same result', async () => {
    const plain = interfaceOnly(store);
    expect(hasBatchScan(plain)).toBe(false);
    const viaFallback = await collect(scanAll(plain, 'volumes/', 10));
    expect(viaFallback.map((b) => b.length)).toEqual([10, 10, 5]);
    expect(viaFallback.flat()).toEqual((await collect(scanAll(store, 'volumes/', 10))).flat());
  });

  it('yields nothing for an empty prefix range, and the whole store for ""', async () => {
    expect(await collect(scanAll(store, 'intents/'))).toEqual([]);
    expect(await collect(scanAll(interfaceOnly(store), 'intents/'))).toEqual([]);
    expect((await collect(scanAll(store, ''))).flat()).toHaveLength(27);
  });

  it('refuses a bad batch size or prefix', async () => {
    await expect(collect(scanAll(store, 'volumes/', 0))).rejects.toThrow(RangeError);
    await expect(collect(scanAll(store, 'volumes/', 1.5))).rejects.toThrow(RangeError);
    await expect(collect(store.scanBatches('/bad', 10))).rejects.toBeInstanceOf(InvalidStoreKeyError);
  });

  it('hands out values the caller may keep and change (each a fresh parse)', async () => {
    const [first] = (await collect(scanAll(store, 'volumes/v000')))[0];
    first[1].i = 99;
    expect(await store.get('volumes/v000')).toEqual({ i: 0 });
  });
});

describe('scanAllValues', () => {
  async function values(iterable: AsyncIterable<Array<{ i: number }>>): Promise<Array<Array<{ i: number }>>> {
    const out: Array<Array<{ i: number }>> = [];
    for await (const batch of iterable) out.push(batch);
    return out;
  }

  test('LevelStore: the values under the prefix only, in key order, in batches of the size asked', async () => {
    expect(hasValueBatchScan(store)).toBe(true);
    const batches = await values(scanAllValues(store, 'volumes/', 10));
    expect(batches.map((b) => b.length)).toEqual([10, 10, 5]);
    expect(batches.flat().map((v) => v.i)).toEqual(Array.from({ length: 25 }, (_, i) => i));
  });

  test('LevelStore: batches of records the size of volume records are whole (not cut at 16 KiB)', async () => {
    // ~400 bytes each, like a volume record: at LevelDB's default read limit a batch held ~40.
    const padding = 'x'.repeat(400);
    const ops = Array.from({ length: 1000 }, (_, i) => ({
      type: 'put' as const,
      key: `big/${String(i).padStart(4, '0')}`,
      value: { i, padding },
    }));
    await store.batch(ops);
    const batches = await values(scanAllValues(store, 'big/', 500));
    expect(batches.map((b) => b.length)).toEqual([500, 500]);
    expect((await collect(scanAll(store, 'big/', 500))).map((b) => b.length)).toEqual([500, 500]);
  });

  test('a Store without value scans gives the same values through scan()', async () => {
    const plain = interfaceOnly(store);
    expect(hasValueBatchScan(plain)).toBe(false);
    const batches = await values(scanAllValues(plain, 'volumes/', 7));
    expect(batches.map((b) => b.length)).toEqual([7, 7, 7, 4]);
    expect(batches.flat()).toEqual((await values(scanAllValues(store, 'volumes/'))).flat());
  });

  test('an empty prefix range yields no batch; a bad size is refused', async () => {
    expect(await values(scanAllValues(store, 'nothing/'))).toEqual([]);
    await expect(values(scanAllValues(store, 'volumes/', 0))).rejects.toThrow(RangeError);
  });

  test('stopping early closes the iterator (the read ahead settles first)', async () => {
    for await (const batch of scanAllValues<{ i: number }>(store, 'volumes/', 3)) {
      expect(batch).toHaveLength(3);
      break;
    }
    // The store is still usable and closes cleanly (no iterator left open).
    expect((await values(scanAllValues(store, 'volumes/', 100))).flat()).toHaveLength(25);
  });
});

describe('readAhead', () => {
  /** A source that records what was asked of it. */
  function source(items: number[], failAt?: number) {
    const seen = { started: 0, read: [] as number[], closed: false };
    async function* gen(): AsyncGenerator<number> {
      seen.started++;
      try {
        for (const [i, item] of items.entries()) {
          if (i === failAt) throw new Error(`failed at ${i}`);
          seen.read.push(item);
          yield item;
        }
      } finally {
        seen.closed = true;
      }
    }
    return { seen, iterable: gen() };
  }

  it('fetches the first item before anyone iterates, then yields everything once, in order', async () => {
    const { seen, iterable } = source([1, 2, 3]);
    const ahead = readAhead(iterable);
    await new Promise((r) => setImmediate(r));
    expect(seen).toMatchObject({ started: 1, read: [1], closed: false });
    const got: number[] = [];
    for await (const item of ahead) got.push(item);
    expect(got).toEqual([1, 2, 3]);
    expect(seen.closed).toBe(true);
  });

  it('close() releases a source nobody will read, and an early break releases it too', async () => {
    const unread = source([1, 2, 3]);
    await readAhead(unread.iterable).close();
    expect(unread.seen).toMatchObject({ read: [1], closed: true });
    const broken = source([1, 2, 3]);
    for await (const item of readAhead(broken.iterable)) if (item === 2) break;
    expect(broken.seen).toMatchObject({ read: [1, 2], closed: true });
  });

  it('a failure while reading ahead surfaces when the consumer reads, not before', async () => {
    const { iterable } = source([1, 2], 0);
    const ahead = readAhead(iterable);
    await new Promise((r) => setImmediate(r));
    await expect(
      (async () => {
        for await (const item of ahead) void item;
      })(),
    ).rejects.toThrow('failed at 0');
  });
});
