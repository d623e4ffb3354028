/**
 * Group commit: requests that queue while the root lock is busy run as one batch under one lock
 * acquisition, and within a batch every request is decided as if it had run alone, in order.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DriverAbortedError } from '../../../drivers/abort';
import { DriverConflictError, DriverNotFoundError } from '../../../drivers/errors';
import type { DriverVolume } from '../../../drivers/storage-driver';
import { GroupCommit, Queued } from '../../../drivers/vfs/group-commit';
import { RootLock } from '../../../drivers/vfs/root-lock';
import { VfsDriver } from '../../../drivers/vfs/vfs-driver';

let root: string;

beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'polly-group-commit-'));
});

afterEach(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

/** Holds the root lock until the returned function is called (what another writer would do). */
async function holdLock(file: string): Promise<() => Promise<void>> {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let acquired!: () => void;
  const ready = new Promise<void>((resolve) => (acquired = resolve));
  const done = new RootLock(file).withLock(undefined, 'test holder', async () => {
    acquired();
    await held;
  });
  await ready;
  return async () => {
    release();
    await done;
  };
}

/** A RootLock that counts how often it is taken. */
function countingLock(file: string): { lock: RootLock; takes: () => number } {
  const lock = new RootLock(file);
  let n = 0;
  const withLock = lock.withLock.bind(lock);
  lock.withLock = (signal, what, fn) => {
    n++;
    return withLock(signal, what, fn);
  };
  return { lock, takes: () => n };
}

describe('GroupCommit', () => {
  it('runs everything that queued while the lock was busy as one batch, and settles after releasing the lock', async () => {
    const file = path.join(root, '.lock');
    const batches: number[][] = [];
    const commit = new GroupCommit<number>(new RootLock(file), async (batch: ReadonlyArray<Queued<number>>) => {
      batches.push(batch.map((e) => e.request));
      for (const e of batch) e.resolve(e.request * 10);
    });
    const release = await holdLock(file);
    const results = Promise.all(Array.from({ length: 10 }, (_, i) => commit.submit<number>(i, undefined, 'test')));
    await release();
    expect(await results).toEqual(Array.from({ length: 10 }, (_, i) => i * 10));
    expect(batches).toEqual([Array.from({ length: 10 }, (_, i) => i)]);
    await expect(fs.stat(file)).rejects.toThrow(); // the lock was released before anyone resumed
  });

  it('drops a request aborted while it waits; the batch never sees it', async () => {
    const file = path.join(root, '.lock');
    const seen: string[] = [];
    const commit = new GroupCommit<string>(new RootLock(file), async (batch) => {
      for (const e of batch) {
        seen.push(e.request);
        e.resolve(e.request);
      }
    });
    const release = await holdLock(file);
    const controller = new AbortController();
    const kept = commit.submit<string>('kept', undefined, 'test');
    const dropped = commit.submit<string>('dropped', controller.signal, 'test');
    controller.abort();
    await expect(dropped).rejects.toBeInstanceOf(DriverAbortedError);
    await release();
    expect(await kept).toBe('kept');
    expect(seen).toEqual(['kept']);
  });

  it('runs a batch that queued during the previous one under the same lock hold, answering the first at once', async () => {
    const file = path.join(root, '.lock');
    const { lock, takes } = countingLock(file);
    const batches: number[][] = [];
    let second: Promise<number> | undefined;
    let firstAnswered = false;
    const commit = new GroupCommit<number>(lock, async (batch) => {
      batches.push(batch.map((e) => e.request));
      // While the first batch runs, another request arrives.
      if (batches.length === 1) second = commit.submit<number>(2, undefined, 'test');
      if (batches.length === 2) {
        await new Promise((r) => setImmediate(r));
        expect(firstAnswered).toBe(true); // answered while this batch still holds the lock
      }
      for (const e of batch) e.resolve(e.request);
    }, { lingerMs: 0 });
    const first = commit.submit<number>(1, undefined, 'test').then((v) => ((firstAnswered = true), v));
    expect(await first).toBe(1);
    expect(await second).toBe(2);
    expect(batches).toEqual([[1], [2]]);
    expect(takes()).toBe(1);
    await expect(fs.stat(file)).rejects.toThrow(); // released before the last batch's callers resumed
  });

  it('keeps the lock after a lone request for the next one, lets go after lingerMs, and at once on drain()', async () => {
    const file = path.join(root, '.lock');
    const { lock, takes } = countingLock(file);
    const batches: number[][] = [];
    const commit = new GroupCommit<number>(
      lock,
      async (batch) => {
        batches.push(batch.map((e) => e.request));
        for (const e of batch) e.resolve(e.request);
      },
      { lingerMs: 1_000, holdMs: 60_000 },
    );
    // A lone client: each answer comes while the lock is kept, and the next request reuses it.
    for (let i = 1; i <= 3; i++) expect(await commit.submit<number>(i, undefined, 'test')).toBe(i);
    expect(batches).toEqual([[1], [2], [3]]);
    expect(takes()).toBe(1);
    expect((await fs.stat(file)).isFile()).toBe(true); // still kept for a next request
    await commit.drain();
    await expect(fs.stat(file)).rejects.toThrow(); // let go at once, not after lingerMs

    // Without a next request the lock is let go after lingerMs (polled, bounded).
    const short = new GroupCommit<number>(lock, async (batch) => batch.forEach((e) => e.resolve(e.request)), { lingerMs: 20 });
    expect(await short.submit<number>(9, undefined, 'test')).toBe(9);
    for (let i = 0; i < 500 && (await fs.stat(file).then(() => true, () => false)); i++) await new Promise((r) => setTimeout(r, 10));
    await expect(fs.stat(file)).rejects.toThrow();
  });

  it('hands the lock over after holdMs even while requests keep coming', async () => {
    const file = path.join(root, '.lock');
    const { lock, takes } = countingLock(file);
    let n = 0;
    const all: Array<Promise<unknown>> = [];
    const commit = new GroupCommit<number>(
      lock,
      async (batch) => {
        // Every batch brings one more request, 20 times: a writer that never goes idle.
        if (++n < 20) all.push(commit.submit(n, undefined, 'test'));
        await new Promise((r) => setTimeout(r, 5));
        for (const e of batch) e.resolve(e.request);
      },
      { holdMs: 0 },
    );
    all.push(commit.submit(0, undefined, 'test'));
    while (all.length < 20) await Promise.all(all);
    await Promise.all(all);
    expect(takes()).toBe(20); // holdMs 0: the lock is released after every batch
  });

  it('fails the requests of a batch whose runner throws, and goes on with the next batch', async () => {
    const file = path.join(root, '.lock');
    let calls = 0;
    const commit = new GroupCommit<number>(new RootLock(file), async (batch) => {
      calls++;
      if (calls === 1) {
        batch[0].resolve('settled before the failure');
        throw new Error('disk on fire');
      }
      for (const e of batch) e.resolve(e.request);
    });
    const [a, b] = await Promise.allSettled([commit.submit(1, undefined, 't'), commit.submit(2, undefined, 't')]);
    expect(a).toEqual({ status: 'fulfilled', value: 'settled before the failure' });
    expect(b.status).toBe('rejected');
    expect(await commit.submit(3, undefined, 't')).toBe(3);
  });
});

describe('VfsDriver group commit', () => {
  /** Submits everything while another writer holds the lock, so it all lands in one batch. */
  async function inOneBatch<T>(driver: VfsDriver, calls: () => Array<Promise<T>>): Promise<PromiseSettledResult<T>[]> {
    const release = await holdLock(driver.layout.lockFile);
    const pending = calls();
    await release();
    return Promise.allSettled(pending);
  }

  it('contested names in one batch: exactly one winner per name (any case), distinct increasing IDs, losers write nothing', async () => {
    const driver = new VfsDriver({ root });
    await driver.init();
    const names = Array.from({ length: 60 }, (_, i) => (i % 3 === 0 ? `free-${i}` : i % 3 === 1 ? 'Contested' : 'contested'));
    const results = await inOneBatch(driver, () => names.map((n) => driver.volumeCreate(n, {})));
    const ok = results.filter((r): r is PromiseFulfilledResult<DriverVolume> => r.status === 'fulfilled').map((r) => r.value);
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(ok.filter((v) => v.name.toLowerCase() === 'contested')).toHaveLength(1);
    expect(ok).toHaveLength(21);
    expect(failed).toHaveLength(39);
    for (const f of failed) expect(f.reason).toBeInstanceOf(DriverConflictError);
    // The first request in submission order wins.
    expect(ok.find((v) => v.name.toLowerCase() === 'contested')!.name).toBe('Contested');
    expect(new Set(ok.map((v) => v.id)).size).toBe(21);
    // What is on disk agrees: one journal line per created volume, the next ID just past the last, no temp files.
    expect((await driver.volumes()).map((v) => v.id).sort()).toEqual(ok.map((v) => v.id).sort());
    const lines = (await fs.readFile(driver.layout.journal(1), 'utf8')).trim().split('\n');
    expect(Object.keys(JSON.parse(lines.shift()!))).toEqual(['root']); // the root's identity comes first
    expect(lines.map((l) => JSON.parse(l).volume.id).sort()).toEqual(ok.map((v) => v.id).sort());
    const fresh = new VfsDriver({ root });
    expect((await fresh.volumeCreate('after', {})).id).toBe('vfs-000022');
    const all = await fs.readdir(root, { recursive: true });
    expect(all.filter((f) => String(f).endsWith('.tmp'))).toEqual([]);
    // A name taken in an earlier batch is still refused.
    await expect(driver.volumeCreate('CONTESTED', {})).rejects.toBeInstanceOf(DriverConflictError);
  });

  it('two drivers on one root (two processes as far as the lock goes) still get one winner per name', async () => {
    const a = new VfsDriver({ root });
    const b = new VfsDriver({ root });
    await a.init();
    const results = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).volumeCreate(`n-${i % 8}`, {})));
    const ok = results.filter((r): r is PromiseFulfilledResult<DriverVolume> => r.status === 'fulfilled').map((r) => r.value);
    expect(ok.map((v) => v.name).sort()).toEqual(Array.from({ length: 8 }, (_, i) => `n-${i}`));
    expect(new Set(ok.map((v) => v.id)).size).toBe(8);
  });

  it('applies attaches and detaches of one volume in submission order within a batch', async () => {
    const driver = new VfsDriver({ root });
    const v = await driver.volumeCreate('v', {});
    const results = await inOneBatch<unknown>(driver, () => [
      driver.volumeAttach(v.id, { id: 'node-a' }),
      driver.volumeAttach(v.id, { id: 'node-b' }), // refused: node-a holds it RW
      driver.volumeDetach(v.id, { id: 'node-a' }),
      driver.volumeAttach(v.id, { id: 'node-b' }), // now free
      driver.volumeAttach('vfs-999999', { id: 'node-a' }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'rejected']);
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(DriverConflictError);
    expect((results[4] as PromiseRejectedResult).reason).toBeInstanceOf(DriverNotFoundError);
    // Each caller sees the volume as its own request left it.
    const first = (results[0] as PromiseFulfilledResult<{ volume: DriverVolume }>).value.volume;
    expect(first.attachments.map((x) => x.instanceId.id)).toEqual(['node-a']);
    const detached = (results[2] as PromiseFulfilledResult<DriverVolume>).value;
    expect(detached.attachments).toEqual([]);
    const inspected = await driver.volumeInspect(v.id);
    expect(inspected.attachments.map((x) => x.instanceId.id)).toEqual(['node-b']);
  });

  it('many concurrent RW attaches of one volume to different instances: exactly one wins', async () => {
    const driver = new VfsDriver({ root });
    const v = await driver.volumeCreate('v', {});
    const results = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => driver.volumeAttach(v.id, { id: `node-${i}` })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect((await driver.volumeInspect(v.id)).attachments).toHaveLength(1);
  });

  it('a create and an attach of the volume it made can share a batch with removes around them', async () => {
    const driver = new VfsDriver({ root });
    const keep = await driver.volumeCreate('keep', {});
    const results = await inOneBatch<unknown>(driver, () => [driver.volumeCreate('fresh', {}), driver.volumeAttach(keep.id, { id: 'n' })]);
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    await driver.volumeDetach(keep.id, { id: 'n' });
    await driver.volumeRemove(keep.id);
    expect((await driver.volumes()).map((v) => v.name)).toEqual(['fresh']);
    expect(await driver.volumeInspectByName('keep')).toBeUndefined();
  });
});
