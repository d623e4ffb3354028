/**
 * The behaviour every Store backend must show. A backend's test calls
 * `describeStoreContract('LevelStore', makeStore)`; `makeStore` returns an OPEN store on fresh,
 * empty storage and a cleanup that removes it (after the store is closed).
 */
import { InvalidStoreKeyError, Store, StoreChange, StoreClosedError, StoreConflictError } from '../../../framework/state/store';

export interface StoreFixture {
  store: Store;
  cleanup: () => Promise<void>;
}

async function collect<T>(iterable: AsyncIterable<[string, T]>): Promise<Array<[string, T]>> {
  const out: Array<[string, T]> = [];
  for await (const entry of iterable) out.push(entry);
  return out;
}

/** Code-point order (what the contract promises), not JavaScript's UTF-16 `<`. */
function codePointCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export function describeStoreContract(name: string, makeStore: () => Promise<StoreFixture>): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await makeStore());
    });

    afterEach(async () => {
      await store.close();
      await cleanup();
    });

    describe('get / put / delete', () => {
      it('returns undefined for a missing key', async () => {
        expect(await store.get('volumes/none')).toBeUndefined();
        expect(await store.getVersioned('volumes/none')).toBeUndefined();
      });

      it('round-trips JSON values', async () => {
        const value = { id: 'v1', size: 10, labels: { a: 'b' }, list: [1, 'x', null, true], nested: { deep: { ok: false } } };
        await store.put('volumes/v1', value);
        expect(await store.get('volumes/v1')).toEqual(value);
        await store.put('meta/n', 42);
        await store.put('meta/s', 'text');
        await store.put('meta/null', null);
        expect(await store.get('meta/n')).toBe(42);
        expect(await store.get('meta/s')).toBe('text');
        expect(await store.get('meta/null')).toBeNull();
      });

      it('returns a copy: mutating what was put or got does not change the store', async () => {
        const value = { a: 1 };
        await store.put('k/1', value);
        value.a = 2;
        const got = await store.get<{ a: number }>('k/1');
        expect(got).toEqual({ a: 1 });
        got!.a = 3;
        expect(await store.get('k/1')).toEqual({ a: 1 });
      });

      it('refuses undefined values and writes nothing', async () => {
        await expect(store.put('k/u', undefined)).rejects.toThrow();
        expect(await store.getVersioned('k/u')).toBeUndefined();
      });

      it('deletes, and deleting a missing key is a no-op', async () => {
        await store.put('volumes/v1', { id: 'v1' });
        await store.delete('volumes/v1');
        expect(await store.get('volumes/v1')).toBeUndefined();
        await expect(store.delete('volumes/v1')).resolves.toBeUndefined();
      });

      it('handles non-ASCII keys and values', async () => {
        await store.put('volumes/ü-ß-雪-😀', { name: 'ñ 😀' });
        expect(await store.get('volumes/ü-ß-雪-😀')).toEqual({ name: 'ñ 😀' });
      });
    });

    describe('versions and compare-and-set', () => {
      it('starts at 1 and increments on every write', async () => {
        expect(await store.put('k/a', 'one')).toBe(1);
        expect(await store.getVersioned('k/a')).toEqual({ value: 'one', version: 1 });
        expect(await store.put('k/a', 'two')).toBe(2);
        expect(await store.putIfVersion('k/a', 'three', 2)).toBe(3);
        expect(await store.getVersioned('k/a')).toEqual({ value: 'three', version: 3 });
      });

      it('a re-created key starts again at 1', async () => {
        await store.put('k/a', 1);
        await store.put('k/a', 2);
        await store.delete('k/a');
        expect(await store.put('k/a', 3)).toBe(1);
      });

      it('putIfVersion with 0 creates only when absent', async () => {
        expect(await store.putIfVersion('k/new', 'first', 0)).toBe(1);
        const err = await store.putIfVersion('k/new', 'second', 0).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(StoreConflictError);
        expect(err).toMatchObject({ key: 'k/new', expectedVersion: 0, actualVersion: 1, status: 409 });
        expect(await store.get('k/new')).toBe('first');
      });

      it('putIfVersion refuses a stale version and changes nothing', async () => {
        await store.put('k/a', 'v1');
        await store.put('k/a', 'v2');
        await expect(store.putIfVersion('k/a', 'stale', 1)).rejects.toBeInstanceOf(StoreConflictError);
        await expect(store.putIfVersion('k/missing', 'x', 1)).rejects.toBeInstanceOf(StoreConflictError);
        expect(await store.getVersioned('k/a')).toEqual({ value: 'v2', version: 2 });
        expect(await store.get('k/missing')).toBeUndefined();
      });

      it('deleteIfVersion deletes only at the expected version', async () => {
        await store.put('k/a', 'x');
        await expect(store.deleteIfVersion('k/a', 2)).rejects.toBeInstanceOf(StoreConflictError);
        expect(await store.get('k/a')).toBe('x');
        await store.deleteIfVersion('k/a', 1);
        expect(await store.get('k/a')).toBeUndefined();
        await expect(store.deleteIfVersion('k/a', 0)).resolves.toBeUndefined();
      });

      it('rejects a negative or fractional expected version', async () => {
        await expect(store.putIfVersion('k/a', 1, -1)).rejects.toThrow();
        await expect(store.putIfVersion('k/a', 1, 1.5)).rejects.toThrow();
        expect(await store.get('k/a')).toBeUndefined();
      });

      it('concurrent compare-and-sets on one key: exactly one wins', async () => {
        const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => store.putIfVersion('claims/lock', { winner: i }, 0)));
        const won = results.filter((r) => r.status === 'fulfilled');
        expect(won).toHaveLength(1);
        for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(StoreConflictError);
        expect((await store.getVersioned('claims/lock'))?.version).toBe(1);
      });

      it('a failing write among concurrent writes fails alone', async () => {
        await store.put('k/taken', 'x');
        const results = await Promise.allSettled([
          store.put('k/a', 1),
          store.putIfVersion('k/taken', 'y', 0),
          store.batch([
            { type: 'put', key: 'k/b', value: 2 },
            { type: 'put', key: 'k/taken', value: 'z', expectVersion: 5 },
          ]),
          store.put('k/c', 3),
          store.put('k/a', 4),
        ]);
        expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled', 'fulfilled']);
        expect(await store.getVersioned('k/a')).toEqual({ value: 4, version: 2 });
        expect(await store.get('k/b')).toBeUndefined();
        expect(await store.get('k/c')).toBe(3);
        expect(await store.getVersioned('k/taken')).toEqual({ value: 'x', version: 1 });
      });

      it('concurrent read-modify-write loops with CAS lose no update', async () => {
        await store.put('meta/counter', 0);
        const increment = async (): Promise<void> => {
          for (;;) {
            const current = (await store.getVersioned<number>('meta/counter'))!;
            try {
              await store.putIfVersion('meta/counter', current.value + 1, current.version);
              return;
            } catch (err) {
              if (!(err instanceof StoreConflictError)) throw err;
            }
          }
        };
        await Promise.all(Array.from({ length: 20 }, increment));
        expect(await store.get('meta/counter')).toBe(20);
      });
    });

    describe('batch', () => {
      it('applies puts and deletes together', async () => {
        await store.put('volumes/old', { id: 'old' });
        await store.batch([
          { type: 'put', key: 'volumes/a', value: { id: 'a' } },
          { type: 'put', key: 'claims/c1', value: { volumeId: 'a' } },
          { type: 'put', key: 'claims-by-volume/a/c1', value: true },
          { type: 'del', key: 'volumes/old' },
        ]);
        expect(await store.get('volumes/a')).toEqual({ id: 'a' });
        expect(await store.get('claims/c1')).toEqual({ volumeId: 'a' });
        expect(await store.get('claims-by-volume/a/c1')).toBe(true);
        expect(await store.get('volumes/old')).toBeUndefined();
      });

      it('an empty batch is fine', async () => {
        await expect(store.batch([])).resolves.toBeUndefined();
      });

      it('a batch with a failing expectVersion changes nothing', async () => {
        await store.put('volumes/a', { id: 'a', n: 1 });
        await store.put('volumes/b', { id: 'b' });
        const err = await store
          .batch([
            { type: 'put', key: 'volumes/a', value: { id: 'a', n: 2 }, expectVersion: 1 },
            { type: 'del', key: 'volumes/b' },
            { type: 'put', key: 'volumes/c', value: { id: 'c' } },
            { type: 'put', key: 'claims/x', value: {}, expectVersion: 3 },
          ])
          .catch((e: unknown) => e);
        expect(err).toBeInstanceOf(StoreConflictError);
        expect(err).toMatchObject({ key: 'claims/x', expectedVersion: 3, actualVersion: 0 });
        expect(await store.getVersioned('volumes/a')).toEqual({ value: { id: 'a', n: 1 }, version: 1 });
        expect(await store.get('volumes/b')).toEqual({ id: 'b' });
        expect(await store.get('volumes/c')).toBeUndefined();
        expect(await store.get('claims/x')).toBeUndefined();
      });

      it('a batch with an invalid key changes nothing', async () => {
        await expect(
          store.batch([
            { type: 'put', key: 'volumes/a', value: 1 },
            { type: 'put', key: 'bad//key', value: 2 },
          ]),
        ).rejects.toBeInstanceOf(InvalidStoreKeyError);
        expect(await store.get('volumes/a')).toBeUndefined();
      });

      it('all expectVersions holding: every op applies and versions increment', async () => {
        await store.put('volumes/a', 'a1');
        await store.batch([
          { type: 'put', key: 'volumes/a', value: 'a2', expectVersion: 1 },
          { type: 'put', key: 'volumes/b', value: 'b1', expectVersion: 0 },
        ]);
        expect(await store.getVersioned('volumes/a')).toEqual({ value: 'a2', version: 2 });
        expect(await store.getVersioned('volumes/b')).toEqual({ value: 'b1', version: 1 });
      });

      it('operations on one key within a batch see each other, in order', async () => {
        await store.batch([
          { type: 'put', key: 'k/x', value: 1, expectVersion: 0 },
          { type: 'put', key: 'k/x', value: 2, expectVersion: 1 },
        ]);
        expect(await store.getVersioned('k/x')).toEqual({ value: 2, version: 2 });
        await store.batch([
          { type: 'del', key: 'k/x', expectVersion: 2 },
          { type: 'put', key: 'k/x', value: 'again', expectVersion: 0 },
        ]);
        expect(await store.getVersioned('k/x')).toEqual({ value: 'again', version: 1 });
      });
    });

    describe('scan and count', () => {
      it('lists exactly the keys under a prefix, in key order', async () => {
        const keys = [
          'volumes/b',
          'volumes/a',
          'volumes/a0',
          'volumes/A',
          'volumes/😀',
          'volumes/\uffee',
          'volumes/~',
          'volumes-by-x/1',
          'volume',
          'volumez/1',
          'claims/1',
        ];
        for (const [i, key] of keys.entries()) await store.put(key, i);
        const scanned = await collect(store.scan('volumes/'));
        const expected = keys.filter((k) => k.startsWith('volumes/')).sort(codePointCompare);
        expect(scanned.map(([k]) => k)).toEqual(expected);
        expect(scanned.find(([k]) => k === 'volumes/a')?.[1]).toBe(1);
        expect(await store.count('volumes/')).toBe(expected.length);
        expect(await store.count('claims/')).toBe(1);
        expect(await store.count('nothing/')).toBe(0);
        expect(await collect(store.scan('nothing/'))).toEqual([]);
      });

      it('a prefix that is not a whole segment matches by string prefix', async () => {
        await store.put('claims-by-volume/v1/c1', 1);
        await store.put('claims-by-volume/v10/c2', 2);
        expect((await collect(store.scan('claims-by-volume/v1/'))).map(([k]) => k)).toEqual(['claims-by-volume/v1/c1']);
        expect((await collect(store.scan('claims-by-volume/v1'))).map(([k]) => k)).toEqual([
          'claims-by-volume/v1/c1',
          'claims-by-volume/v10/c2',
        ]);
      });

      it('the empty prefix lists everything', async () => {
        await store.put('a/1', 1);
        await store.put('b/1', 2);
        expect((await collect(store.scan(''))).map(([k]) => k)).toEqual(['a/1', 'b/1']);
        expect(await store.count('')).toBe(2);
      });

      it('scans many keys in order', async () => {
        const ids = Array.from({ length: 500 }, (_, i) => `v${String(i).padStart(4, '0')}`);
        await store.batch([...ids].reverse().map((id) => ({ type: 'put' as const, key: `volumes/${id}`, value: { id } })));
        const scanned = await collect<{ id: string }>(store.scan('volumes/'));
        expect(scanned.map(([, v]) => v.id)).toEqual(ids);
      });
    });

    describe('watch', () => {
      it('tells listeners about puts and deletes under their prefix, in order', async () => {
        const seen: StoreChange[] = [];
        const other: StoreChange[] = [];
        store.watch('volumes/', (change) => seen.push(change));
        store.watch('claims/', (change) => other.push(change));
        await store.put('volumes/a', { n: 1 });
        await store.put('volumes/a', { n: 2 });
        await store.put('meta/x', 1);
        await store.delete('volumes/a');
        await store.delete('volumes/never');
        expect(seen).toEqual([
          { key: 'volumes/a', value: { n: 1 }, version: 1 },
          { key: 'volumes/a', value: { n: 2 }, version: 2 },
          { key: 'volumes/a', value: undefined, version: 0 },
        ]);
        expect(other).toEqual([]);
      });

      it('reports each changed key of a batch, and nothing for a failed batch', async () => {
        const seen: Array<[string, number]> = [];
        store.watch('', (change) => seen.push([change.key, change.version]));
        await store.batch([
          { type: 'put', key: 'volumes/a', value: 1 },
          { type: 'put', key: 'claims/c', value: 2 },
        ]);
        await expect(
          store.batch([
            { type: 'put', key: 'volumes/b', value: 1 },
            { type: 'put', key: 'volumes/a', value: 2, expectVersion: 9 },
          ]),
        ).rejects.toBeInstanceOf(StoreConflictError);
        await expect(store.putIfVersion('volumes/a', 3, 0)).rejects.toBeInstanceOf(StoreConflictError);
        expect(seen).toEqual([
          ['volumes/a', 1],
          ['claims/c', 1],
        ]);
      });

      it('stops after unsubscribe', async () => {
        const seen: string[] = [];
        const stop = store.watch('k/', (change) => seen.push(change.key));
        await store.put('k/1', 1);
        stop();
        await store.put('k/2', 2);
        expect(seen).toEqual(['k/1']);
      });

      it('a throwing listener does not break the write or other listeners', async () => {
        const seen: string[] = [];
        store.watch('k/', () => {
          throw new Error('listener bug');
        });
        store.watch('k/', (change) => seen.push(change.key));
        await expect(store.put('k/1', 1)).resolves.toBe(1);
        expect(seen).toEqual(['k/1']);
        expect(await store.get('k/1')).toBe(1);
      });

      it('the change is delivered before the write resolves', async () => {
        let delivered = false;
        store.watch('k/', () => {
          delivered = true;
        });
        await store.put('k/1', 1);
        expect(delivered).toBe(true);
      });
    });

    describe('keys', () => {
      const bad = [
        '',
        '/volumes/a',
        'volumes//a',
        'volumes/a/',
        'volumes/\u0000',
        'volumes/a\nb',
        'volumes/\u007f',
        'volumes/\ud800',
        'x'.repeat(1025),
      ];
      it.each(bad.map((k) => [JSON.stringify(k).slice(0, 40), k]))('refuses %s and writes nothing', async (_label, key) => {
        await expect(store.put(key, 1)).rejects.toBeInstanceOf(InvalidStoreKeyError);
        await expect(store.get(key)).rejects.toBeInstanceOf(InvalidStoreKeyError);
        await expect(store.delete(key)).rejects.toBeInstanceOf(InvalidStoreKeyError);
        expect(await store.count('')).toBe(0);
      });

      it('refuses bad prefixes', async () => {
        expect(() => store.watch('a\u0000', () => undefined)).toThrow(InvalidStoreKeyError);
        await expect(store.count('//')).rejects.toBeInstanceOf(InvalidStoreKeyError);
      });
    });

    describe('lifecycle', () => {
      it('persists across close and reopen', async () => {
        await store.put('volumes/a', { id: 'a' });
        await store.put('volumes/a', { id: 'a', n: 2 });
        await store.put('claims/c', { id: 'c' });
        await store.close();
        expect(store.isOpen).toBe(false);
        await store.open();
        expect(store.isOpen).toBe(true);
        expect(await store.getVersioned('volumes/a')).toEqual({ value: { id: 'a', n: 2 }, version: 2 });
        expect((await collect(store.scan(''))).map(([k]) => k)).toEqual(['claims/c', 'volumes/a']);
      });

      it('writes submitted before close finish; calls after close fail with StoreClosedError', async () => {
        const writes = Array.from({ length: 20 }, (_, i) => store.put(`k/${i}`, i));
        await store.close();
        await Promise.all(writes);
        await expect(store.get('k/1')).rejects.toBeInstanceOf(StoreClosedError);
        await expect(store.getVersioned('k/1')).rejects.toBeInstanceOf(StoreClosedError);
        await expect(store.put('k/1', 1)).rejects.toBeInstanceOf(StoreClosedError);
        await expect(store.putIfVersion('k/1', 1, 1)).rejects.toBeInstanceOf(StoreClosedError);
        await expect(store.delete('k/1')).rejects.toBeInstanceOf(StoreClosedError);
        await expect(store.batch([{ type: 'del', key: 'k/1' }])).rejects.toBeInstanceOf(StoreClosedError);
        await expect(store.count('')).rejects.toBeInstanceOf(StoreClosedError);
        await expect(collect(store.scan(''))).rejects.toBeInstanceOf(StoreClosedError);
        await store.open();
        expect(await store.count('k/')).toBe(20);
      });

      it('close is idempotent and open twice is harmless', async () => {
        await store.open();
        await store.close();
        await store.close();
        await store.open();
        expect(store.isOpen).toBe(true);
      });
    });
  });
}
