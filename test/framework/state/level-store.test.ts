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
});
