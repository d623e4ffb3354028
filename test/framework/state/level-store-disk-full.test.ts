/**
 * LevelStore on a real, full filesystem (a loop-mounted ext4 image): writes fail with the typed
 * cause (507, "no space left on device", the path), nothing is acknowledged that is not on disk, and
 * once space is back the store writes again — and every write it acknowledged then survives a
 * reopen (LevelDB's log is not appended to after a torn record: the store reopens first).
 */
import path from 'node:path';
import { InsufficientStorageError } from '../../../framework/errors';
import { LevelStore } from '../../../framework/state/level-store';
import { LoopFilesystem } from '../../support/loop-filesystem';

describe('LevelStore on a full disk', () => {
  let disk: LoopFilesystem | undefined;
  let store: LevelStore | undefined;
  afterEach(async () => {
    await store?.close().catch(() => undefined);
    store = undefined;
    await disk?.cleanup();
    disk = undefined;
  });

  it('refuses writes with the cause, recovers when space returns, and keeps every acknowledged write', async () => {
    disk = await LoopFilesystem.create(16);
    const location = path.join(disk.mountPoint, 'state');
    store = new LevelStore(location);
    await store.open();
    for (let i = 0; i < 20; i++) await store.put(`volumes/before-${i}`, { i, pad: 'b'.repeat(500) });

    disk.fill();
    const failures: unknown[] = [];
    for (let i = 0; i < 30; i++) {
      await store.put(`volumes/during-${i}`, { i, pad: 'd'.repeat(1500) }).catch((err: unknown) => failures.push(err));
    }
    expect(failures.length).toBeGreaterThan(0);
    for (const err of failures) {
      expect(err).toBeInstanceOf(InsufficientStorageError);
      expect((err as Error).message).toMatch(/^the state store cannot write: no space left on device \(.+\)$/);
      expect((err as InsufficientStorageError).details).toMatchObject({ errno: 'ENOSPC' });
    }
    // Still full: a write keeps failing with the cause (the store tries to reopen first, and cannot).
    await expect(store.put('volumes/still-full', { pad: 'x'.repeat(1500) })).rejects.toThrow(/no space left on device/);
    expect(store.isOpen).toBe(true);

    disk.free();
    const acknowledged: string[] = [];
    for (let i = 0; i < 200; i++) {
      await store.put(`volumes/after-${i}`, { i, pad: 'a'.repeat(300) });
      acknowledged.push(`volumes/after-${i}`);
    }
    await store.close();

    store = new LevelStore(location);
    await store.open();
    const missing: string[] = [];
    for (const key of acknowledged) if ((await store.get(key)) === undefined) missing.push(key);
    expect(missing).toEqual([]);
    for (let i = 0; i < 20; i++) expect(await store.get(`volumes/before-${i}`)).toMatchObject({ i });
  });
});
