import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LevelStore } from '../../../framework/state/level-store';
import { UnavailableError } from '../../../framework/errors';
import { describeStoreContract } from './store-contract';

async function tempDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'polly-level-store-'));
}

describeStoreContract('LevelStore', async () => {
  const dir = await tempDir();
  const store = new LevelStore(path.join(dir, 'state'));
  await store.open();
  return { store, cleanup: () => fs.rm(dir, { recursive: true, force: true }) };
});

describe('LevelStore specifics', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('stores values in a {v, d} envelope and reads bare (pre-versioning) values as version 1', async () => {
    const location = path.join(dir, 'state');
    const store = new LevelStore(location);
    await store.open();
    await store.put('volumes/a', { id: 'a' });
    await store.close();

    const { Level } = await import('level');
    const raw = new Level<string, string>(location, { valueEncoding: 'utf8' });
    await raw.open();
    expect(JSON.parse((await raw.get('volumes/a'))!)).toEqual({ v: 1, d: { id: 'a' } });
    await raw.put('mesos/framework-id', JSON.stringify({ value: 'fw-1' }));
    await raw.close();

    await store.open();
    expect(await store.getVersioned('mesos/framework-id')).toEqual({ value: { value: 'fw-1' }, version: 1 });
    expect(await store.put('mesos/framework-id', { value: 'fw-2' })).toBe(2);
    await store.close();
  });

  it('batch and value scans decode every stored layout exactly as get() does', async () => {
    const location = path.join(dir, 'state');
    const { Level } = await import('level');
    const raw = new Level<string, string>(location, { valueEncoding: 'utf8' });
    await raw.open();
    // Envelopes as written, bare pre-versioning values, and bare values that only look like envelopes.
    const stored = [
      JSON.stringify({ v: 3, d: { id: 'a', nested: { v: 1, d: 2 } } }),
      JSON.stringify({ v: 1, d: '}' }),
      JSON.stringify({ v: 1, d: null }),
      JSON.stringify({ v: 1, d: 2, x: 3 }),
      JSON.stringify({ v: 0, d: 5 }),
      '{"v":01,"d":5}'.replace('01', '1') + ' ',
      JSON.stringify({ v: 1, d: [1], e: [2] }),
      JSON.stringify([1, 2]),
      JSON.stringify('plain'),
      JSON.stringify({ value: 'fw-1' }),
    ];
    await raw.batch(stored.map((value, i) => ({ type: 'put' as const, key: `k/${String(i).padStart(2, '0')}`, value })));
    await raw.close();

    const store = new LevelStore(location);
    await store.open();
    try {
      const viaGet = [];
      for (let i = 0; i < stored.length; i++) viaGet.push(await store.get(`k/${String(i).padStart(2, '0')}`));
      const viaBatches = [];
      for await (const batch of store.scanBatches('k/', 3)) viaBatches.push(...batch.map((e) => e[1]));
      const viaValues = [];
      for await (const batch of store.scanValueBatches('k/', 4)) viaValues.push(...batch);
      expect(viaBatches).toEqual(viaGet);
      expect(viaValues).toEqual(viaGet);
      expect(viaGet[0]).toEqual({ id: 'a', nested: { v: 1, d: 2 } });
      expect(viaGet[3]).toEqual({ v: 1, d: 2, x: 3 });
      expect(viaGet[4]).toEqual({ v: 0, d: 5 });
    } finally {
      await store.close();
    }
  });

  it('writes synchronously by default (each group reaches the disk before it is answered); sync: false opts out', async () => {
    const { Level } = await import('level');
    const seen: unknown[] = [];
    const original = Level.prototype.batch as (...args: unknown[]) => unknown;
    const batch = jest.spyOn(Level.prototype, 'batch').mockImplementation(function (this: unknown, ...args: unknown[]) {
      seen.push(args[1]);
      return original.apply(this, args);
    } as never);
    try {
      for (const [sync, expected] of [[undefined, true], [false, false]] as const) {
        const store = new LevelStore(path.join(dir, `state-${String(sync)}`), sync === undefined ? {} : { sync });
        await store.open();
        seen.length = 0;
        await store.batch([{ type: 'put', key: 'volumes/a', value: 1 }]);
        expect(seen).toEqual([{ sync: expected }]);
        await store.close();
      }
    } finally {
      batch.mockRestore();
    }
  });

  it('a second store on the same directory is refused with a clear UnavailableError', async () => {
    const location = path.join(dir, 'state');
    const first = new LevelStore(location);
    await first.open();
    const second = new LevelStore(location);
    const err = await second.open().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as Error).message).toMatch(/in use by another process/);
    await first.close();
  });

  describe('pipelined group commit', () => {
    let store: LevelStore;
    /** The LevelDB handle inside the store, to watch and fail its batches. */
    let db: { batch: (ops: unknown[]) => Promise<void> };
    beforeEach(async () => {
      store = new LevelStore(path.join(dir, 'state'));
      await store.open();
      db = (store as unknown as { db: typeof db }).db;
    });
    afterEach(async () => {
      await store.close();
    });

    /** The next LevelDB batch waits until the returned function is called, then fails; later ones go through. */
    function failFirstBatchWhenReleased(): () => void {
      const real = db.batch.bind(db);
      let call = 0;
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      db.batch = async (ops) => {
        if (++call > 1) return real(ops);
        await gate;
        throw new Error('disk on fire');
      };
      return release;
    }

    it('decides the next group on the versions of the batch in flight: every write gets the next version, the last value wins', async () => {
      const real = db.batch.bind(db);
      let batches = 0;
      db.batch = async (ops) => {
        batches++;
        await new Promise((r) => setTimeout(r, 5)); // a slow disk: the next group is decided meanwhile
        return real(ops);
      };
      const versions: number[] = [];
      await Promise.all(
        Array.from({ length: 10 }, async (_, round) => {
          for (let i = 0; i < 20; i++) versions.push(await store.put('k/shared', { round, i }));
        }),
      );
      expect(batches).toBeGreaterThan(1);
      expect([...versions].sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
      expect((await store.getVersioned('k/shared'))!.version).toBe(200);
      // Compare-and-set against a version still in flight is checked against it, not the disk.
      const [a, b] = await Promise.allSettled([store.putIfVersion('k/shared', 'x', 200), store.putIfVersion('k/shared', 'y', 200)]);
      expect([a.status, b.status].sort()).toEqual(['fulfilled', 'rejected']);
    });

    it('a failed batch fails the group decided on top of it, and only that one', async () => {
      const release = failFirstBatchWhenReleased();
      const first = store.put('k/a', 1); // batch 1: held at the gate, then fails
      await new Promise((r) => setImmediate(r));
      const onTop = store.put('k/a', 2); // decided while batch 1 is in flight, on its version of k/a
      const independent = store.put('k/b', 1);
      await new Promise((r) => setTimeout(r, 20));
      release();
      await expect(first).rejects.toThrow('disk on fire');
      await expect(onTop).rejects.toBeInstanceOf(UnavailableError);
      await expect(independent).rejects.toBeInstanceOf(UnavailableError); // same group as onTop
      expect(await store.get('k/a')).toBeUndefined();
      // The pipeline recovers: the next writes are decided on what is really stored.
      expect(await store.put('k/a', 3)).toBe(1);
      expect(await store.put('k/b', 3)).toBe(1);
    });

    it('a group that read nothing from a failed batch is written', async () => {
      const release = failFirstBatchWhenReleased();
      const first = store.put('k/a', 1);
      await new Promise((r) => setImmediate(r));
      const other = store.put('k/other', 1);
      await new Promise((r) => setTimeout(r, 20));
      release();
      await expect(first).rejects.toThrow('disk on fire');
      expect(await other).toBe(1);
      expect(await store.get('k/other')).toBe(1);
    });
  });

  describe('scan in batches', () => {
    let store: LevelStore;
    beforeEach(async () => {
      store = new LevelStore(path.join(dir, 'state'));
      await store.open();
    });
    afterEach(async () => {
      await store.close();
    });

    const keysOf = async (prefix: string): Promise<string[]> => {
      const out: string[] = [];
      for await (const [key] of store.scan(prefix)) out.push(key);
      return out;
    };
    const byCodePoint = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

    it('lists a prefix spanning several batches exactly, in order, and stops at its end', async () => {
      const ids = Array.from({ length: 2_500 }, (_, i) => `volumes/v${String(i).padStart(5, '0')}`);
      await store.batch([...ids].reverse().map((key, i) => ({ type: 'put' as const, key, value: i })));
      await store.batch(['volumes-x/1', 'volumes0', 'volumer/1', 'volume'].map((key) => ({ type: 'put' as const, key, value: 0 })));
      expect(await keysOf('volumes/')).toEqual(ids);
      expect(await store.count('volumes/')).toBe(ids.length);
      expect(await store.count('')).toBe(ids.length + 4);
    });

    it('bounds prefixes ending in astral, highest and pre-surrogate code points', async () => {
      const keys = [
        'k/\u{1F600}',
        'k/\u{1F600}a',
        'k/\u{1F601}',
        'k/\uffff',
        'k/\uffffz',
        'k/\u{10FFFF}',
        'k/\u{10FFFF}a',
        'k/\u{10FFFF}\u{10FFFF}',
        'k/\ud7ff',
        'k/\ud7ffx',
        'k/\ue000',
        'k/z',
        'k0',
        'j/\u{10FFFF}',
      ];
      for (const key of keys) await store.put(key, key);
      for (const prefix of [
        'k/',
        'k',
        'k/\u{1F600}',
        'k/\uffff',
        'k/\u{10FFFF}',
        'k/\u{10FFFF}\u{10FFFF}',
        'k/\ud7ff',
        'j/\u{10FFFF}',
        '',
      ]) {
        const expected = keys.filter((k) => k.startsWith(prefix)).sort(byCodePoint);
        expect({ prefix, keys: await keysOf(prefix) }).toEqual({ prefix, keys: expected });
        expect(await store.count(prefix)).toBe(expected.length);
      }
    });

    it('a scan left early releases its iterator: the store still closes and reopens', async () => {
      await store.batch(
        Array.from({ length: 1_500 }, (_, i) => ({ type: 'put' as const, key: `k/${String(i).padStart(4, '0')}`, value: i })),
      );
      let seen = 0;
      for await (const [, value] of store.scan<number>('k/')) {
        expect(value).toBe(seen);
        if (++seen === 1_200) break;
      }
      await store.close();
      await store.open();
      expect(await store.count('k/')).toBe(1_500);
    });
  });
});
