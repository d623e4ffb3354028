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
