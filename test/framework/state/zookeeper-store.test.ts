import { randomBytes } from 'node:crypto';
import { ZookeeperStore } from '../../../framework/state/zookeeper/zookeeper-store';
import { StoreChange } from '../../../framework/state/store';
import { waitFor } from '../../support/mesos-http';
import { useZooKeeperServer } from '../../support/zookeeper-server';
import { describeStoreContract } from './store-contract';

const server = useZooKeeperServer();

/** Each store gets its own root: the tests share one server. */
const freshRoot = (): string => `/polly-test-${randomBytes(6).toString('hex')}`;

describeStoreContract('ZookeeperStore', async () => {
  const store = new ZookeeperStore({ servers: server().connectString, root: freshRoot(), sessionTimeoutMs: 4000 });
  await store.open();
  return { store, cleanup: async () => undefined };
});

describe('ZookeeperStore specifics', () => {
  const stores: ZookeeperStore[] = [];
  const make = async (root = freshRoot()): Promise<ZookeeperStore> => {
    const store = new ZookeeperStore({ servers: server().connectString, root, sessionTimeoutMs: 4000 });
    await store.open();
    stores.push(store);
    return store;
  };
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });

  it('round-trips a 3 MB value through chunks, replaces and deletes it', async () => {
    const store = await make();
    const big = { blob: randomBytes(1_100_000).toString('base64') + randomBytes(1_100_000).toString('base64'), n: 1 };
    expect(JSON.stringify(big).length).toBeGreaterThan(2_900_000);
    expect(await store.put('meta/big', big)).toBe(1);
    expect(await store.get('meta/big')).toEqual(big);
    const other = await make(store.root);
    expect(await other.getVersioned('meta/big')).toEqual({ value: big, version: 1 });
    const smaller = { blob: 'x'.repeat(700_000), n: 2 };
    expect(await store.putIfVersion('meta/big', smaller, 1)).toBe(2);
    expect(await other.get('meta/big')).toEqual(smaller);
    const scanned: Array<[string, unknown]> = [];
    for await (const entry of other.scan('meta/')) scanned.push(entry);
    expect(scanned).toEqual([['meta/big', smaller]]);
    await store.delete('meta/big');
    expect(await other.get('meta/big')).toBeUndefined();
    // No chunk set is left behind.
    expect(await store.zkSession.getChildren(`${store.root}/.chunks`)).toEqual([]);
  });

  it('a key can also be the parent of other keys', async () => {
    const store = await make();
    await store.put('a/b', 1);
    expect(await store.put('a', 'top')).toBe(1);
    await store.delete('a');
    expect(await store.get('a')).toBeUndefined();
    expect(await store.get('a/b')).toBe(1);
    expect(await store.put('a', 'again')).toBe(1);
    expect(await store.count('')).toBe(2);
  });

  it('delivers changes made by another store instance', async () => {
    const a = await make();
    const b = await make(a.root);
    await a.put('volumes/existing', { n: 0 });
    const seen: StoreChange[] = [];
    b.watch('volumes/', (c) => seen.push(c));
    // Let the watcher arm its watches before the remote writes.
    await new Promise((r) => setTimeout(r, 300));
    await a.put('volumes/v1', { n: 1 });
    await waitFor(() => seen.some((c) => c.key === 'volumes/v1'), 10_000);
    await a.put('volumes/existing', { n: 2 });
    await waitFor(() => seen.some((c) => c.key === 'volumes/existing'), 10_000);
    await a.delete('volumes/v1');
    await waitFor(() => seen.some((c) => c.key === 'volumes/v1' && c.version === 0), 10_000);
    await a.put('claims/c', 1);
    await b.put('volumes/local', 1);
    await waitFor(() => seen.some((c) => c.key === 'volumes/local'), 10_000);
    expect(seen).toEqual([
      { key: 'volumes/v1', value: { n: 1 }, version: 1 },
      { key: 'volumes/existing', value: { n: 2 }, version: 2 },
      { key: 'volumes/v1', value: undefined, version: 0 },
      { key: 'volumes/local', value: 1, version: 1 },
    ]);
    // The local write's own watch event is not delivered a second time.
    await new Promise((r) => setTimeout(r, 300));
    expect(seen.filter((c) => c.key === 'volumes/local')).toHaveLength(1);
  });

  it('a compare-and-set race between two processes: exactly one wins', async () => {
    const a = await make();
    const b = await make(a.root);
    const results = await Promise.allSettled([
      ...Array.from({ length: 10 }, (_, i) => a.putIfVersion('claims/lock', { by: `a${i}` }, 0)),
      ...Array.from({ length: 10 }, (_, i) => b.putIfVersion('claims/lock', { by: `b${i}` }, 0)),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  });

  it('a fenced store refuses writes once the fence node is gone', async () => {
    const store = await make();
    const fence = `${store.root}-fence`;
    await store.zkSession.create(fence, Buffer.alloc(0));
    store.setFence(fence);
    await store.put('k/1', 1);
    await store.zkSession.remove(fence);
    await expect(store.put('k/2', 2)).rejects.toMatchObject({ code: 'STORE_FENCED' });
    expect(await store.get('k/2')).toBeUndefined();
  });

  it('a fenced store refuses every write of a group once the fence node is gone, and writes none of them', async () => {
    const store = await make();
    const fence = `${store.root}-fence`;
    await store.zkSession.create(fence, Buffer.alloc(0));
    store.setFence(fence);
    await store.put('k/before', 0);
    await store.zkSession.remove(fence);
    // Submitted together: they go out as one or a few multis, each carrying the fence check.
    const results = await Promise.allSettled([
      ...Array.from({ length: 30 }, (_, i) => store.put(`k/${i}`, i)),
      store.putIfVersion('k/before', 1, 1),
      store.batch([
        { type: 'put', key: 'k/b1', value: 1 },
        { type: 'del', key: 'k/before' },
      ]),
    ]);
    for (const r of results) expect(r).toMatchObject({ status: 'rejected', reason: { code: 'STORE_FENCED' } });
    const other = await make(store.root);
    expect(await other.count('k/')).toBe(1);
    expect(await other.getVersioned('k/before')).toEqual({ value: 0, version: 1 });
  });

  it('a write that another process made stale fails alone; the writes submitted with it commit', async () => {
    const a = await make();
    const b = await make(a.root);
    await a.put('k/x', 'a1');
    await a.put('k/gone', 'a1');
    // b changes what a remembers: a's next multi is decided on stale versions and fails in ZooKeeper.
    expect(await b.put('k/x', 'b2')).toBe(2);
    await b.delete('k/gone');
    const results = await Promise.allSettled([
      a.put('k/y', 'y'),
      a.putIfVersion('k/x', 'stale', 1),
      a.put('k/z', 'z'),
      a.batch([
        { type: 'put', key: 'k/w', value: 'w' },
        { type: 'put', key: 'k/gone', value: 'stale', expectVersion: 1 },
      ]),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected']);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({
      code: 'STORE_CONFLICT',
      key: 'k/x',
      expectedVersion: 1,
      actualVersion: 2,
    });
    expect((results[3] as PromiseRejectedResult).reason).toMatchObject({
      code: 'STORE_CONFLICT',
      key: 'k/gone',
      expectedVersion: 1,
      actualVersion: 0,
    });
    expect(await b.getVersioned('k/x')).toEqual({ value: 'b2', version: 2 });
    expect(await b.get('k/y')).toBe('y');
    expect(await b.get('k/z')).toBe('z');
    expect(await b.get('k/w')).toBeUndefined();
    expect(await b.get('k/gone')).toBeUndefined();
    // Unconditional writes over stale knowledge land on the real versions.
    expect(await a.put('k/x', 'a3')).toBe(3);
    expect(await a.putIfVersion('k/x', 'a4', 3)).toBe(4);
  });

  it('decides on what is in ZooKeeper, not on what it remembers, when nothing would check it', async () => {
    const a = await make();
    const b = await make(a.root);
    await a.put('k/made', 1);
    await a.delete('k/made');
    await a.put('k/kept', 1);
    // b re-creates a key a deleted, and writes keys a has never seen.
    await b.put('k/made', 'b');
    await b.put('k/unseen', 'b');
    await b.put('k/kept', 2);
    // a remembers k/made as absent: deleting it must still delete b's key, and a compare-and-set at 0 must fail.
    await expect(a.deleteIfVersion('k/made', 0)).rejects.toMatchObject({ code: 'STORE_CONFLICT', actualVersion: 1 });
    await a.delete('k/made');
    expect(await b.get('k/made')).toBeUndefined();
    // a never saw k/unseen: it exists, so a put makes version 2 and a create-only put conflicts.
    await expect(a.putIfVersion('k/unseen', 'a', 0)).rejects.toMatchObject({ code: 'STORE_CONFLICT', actualVersion: 1 });
    expect(await a.put('k/unseen', 'a')).toBe(2);
    // a remembers k/kept at version 1; it is at 2.
    await expect(a.putIfVersion('k/kept', 'a', 1)).rejects.toMatchObject({ code: 'STORE_CONFLICT', actualVersion: 2 });
    await expect(a.deleteIfVersion('k/kept', 1)).rejects.toMatchObject({ code: 'STORE_CONFLICT', actualVersion: 2 });
    expect(await b.getVersioned('k/kept')).toEqual({ value: 2, version: 2 });
  });

  it('concurrent writes to one key commit in the order they were submitted', async () => {
    const store = await make();
    const versions = await Promise.all(Array.from({ length: 20 }, (_, i) => store.put('k/one', i)));
    expect(versions).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(await store.getVersioned('k/one')).toEqual({ value: 19, version: 20 });
  });

  it('creates new parents in the write itself, also when another process made them meanwhile', async () => {
    const a = await make();
    const b = await make(a.root);
    await a.put('by-volume/v0/c0', 0);
    // b makes a parent a does not know of; a's guess that it is missing fails once, then holds.
    await b.put('by-volume/v1/c1', 1);
    await a.put('by-volume/v1/c2', 2);
    // New parents several levels deep, and many under one new parent at once.
    await a.put('deep/x/y/z', 'z');
    await Promise.all(Array.from({ length: 10 }, (_, i) => a.put(`by-volume/v2/c${i}`, i)));
    const keys: string[] = [];
    for await (const [key] of b.scan('')) keys.push(key);
    expect(keys).toEqual([
      'by-volume/v0/c0',
      'by-volume/v1/c1',
      'by-volume/v1/c2',
      ...Array.from({ length: 10 }, (_, i) => `by-volume/v2/c${i}`),
      'deep/x/y/z',
    ]);
  });

  it("commits many large concurrent writes in several groups under ZooKeeper's request limit", async () => {
    const store = await make();
    const value = (i: number): { i: number; blob: string } => ({ i, blob: String(i % 10).repeat(200_000) });
    await Promise.all(Array.from({ length: 12 }, (_, i) => store.put(`big/${i}`, value(i))));
    const other = await make(store.root);
    for (let i = 0; i < 12; i++) expect(await other.get(`big/${i}`)).toEqual(value(i));
  });

  it('survives a ZooKeeper restart: reconnects and continues', async () => {
    const store = await make();
    const seen: string[] = [];
    store.watch('k/', (c) => seen.push(c.key));
    await store.put('k/before', 1);
    await server().restart();
    await store.put('k/after', 2);
    expect(await store.get('k/before')).toBe(1);
    expect(await store.get('k/after')).toBe(2);
    expect(seen).toEqual(['k/before', 'k/after']);
  }, 60_000);
});
