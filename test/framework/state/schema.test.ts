import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LevelStore } from '../../../framework/state/level-store';
import { INSTALLATION_KEY, SCHEMA_VERSION_KEY } from '../../../framework/state/keys';
import { readInstallation } from '../../../framework/state/installation';
import { CURRENT_SCHEMA_VERSION, MIGRATIONS, Migration, openStore, StoreSchemaError } from '../../../framework/state/schema';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('openStore (schema versions and migrations)', () => {
  let dir: string;
  let store: LevelStore;

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'polly-schema-'));
    store = new LevelStore(path.join(dir, 'state'));
  });

  afterEach(async () => {
    await store.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('opens and stamps a new store with the current version, and marks it as a new installation', async () => {
    const result = await openStore(store);
    expect(store.isOpen).toBe(true);
    expect(result).toEqual({ from: undefined, to: CURRENT_SCHEMA_VERSION, applied: [], stamped: true });
    expect(await store.get(SCHEMA_VERSION_KEY)).toMatchObject({ version: CURRENT_SCHEMA_VERSION });
    const installation = await readInstallation(store);
    expect(installation?.id).toMatch(UUID);
    expect(Date.parse(installation!.createdAt)).not.toBeNaN();
    // Opening again keeps the installation.
    await openStore(store);
    expect(await readInstallation(store)).toEqual(installation);
  });

  it('marks a store written before markers (schema 1, data, no marker) through the 1 → 2 migration', async () => {
    await store.open();
    await store.put(SCHEMA_VERSION_KEY, { version: 1, updatedAt: new Date().toISOString() });
    await store.put('volumes/v1', { id: 'v1' });
    const result = await openStore(store);
    expect(result).toEqual({ from: 1, to: 2, applied: ['mark the store with an installation ID'], stamped: false });
    expect((await readInstallation(store))?.id).toMatch(UUID);
    expect(await store.get('volumes/v1')).toEqual({ id: 'v1' });
  });

  it('the 1 → 2 migration keeps a marker that is already there (an imported one)', async () => {
    await store.open();
    const marker = { id: '7f1c2a3e-0000-4000-8000-000000000001', createdAt: '2026-01-02T03:04:05.000Z' };
    await store.put(SCHEMA_VERSION_KEY, { version: 1, updatedAt: new Date().toISOString() });
    await store.put(INSTALLATION_KEY, marker);
    await openStore(store);
    expect(await readInstallation(store)).toEqual(marker);
    expect(await store.get(SCHEMA_VERSION_KEY)).toMatchObject({ version: 2 });
  });

  it('an unreadable marker is a typed error naming the key', async () => {
    await openStore(store);
    await store.put(INSTALLATION_KEY, { id: 42 });
    await expect(readInstallation(store)).rejects.toMatchObject({ name: 'InstallationRecordError', message: expect.stringContaining(INSTALLATION_KEY) });
  });

  it('leaves a current store alone', async () => {
    await openStore(store);
    const before = await store.getVersioned(SCHEMA_VERSION_KEY);
    const result = await openStore(store);
    expect(result).toEqual({ from: CURRENT_SCHEMA_VERSION, to: CURRENT_SCHEMA_VERSION, applied: [], stamped: false });
    expect(await store.getVersioned(SCHEMA_VERSION_KEY)).toEqual(before);
  });

  it('migrates 1 → 2 with an injected migration, in one batch with the stamp', async () => {
    await openStore(store, { currentVersion: 1, migrations: [] });
    await store.put('volumes/a', { id: 'a', sizeGb: 5 });
    await store.put('volumes/b', { id: 'b', sizeGb: 7 });
    const renameSize: Migration = {
      from: 1,
      to: 2,
      description: 'rename sizeGb to size',
      async migrate(s) {
        const ops = [];
        for await (const [key, value] of s.scan<{ id: string; sizeGb: number }>('volumes/')) {
          ops.push({ type: 'put' as const, key, value: { id: value.id, size: value.sizeGb } });
        }
        return ops;
      },
    };
    const result = await openStore(store, { currentVersion: 2, migrations: [renameSize] });
    expect(result).toEqual({ from: 1, to: 2, applied: ['rename sizeGb to size'], stamped: false });
    expect(await store.get('volumes/a')).toEqual({ id: 'a', size: 5 });
    expect(await store.get('volumes/b')).toEqual({ id: 'b', size: 7 });
    expect(await store.get(SCHEMA_VERSION_KEY)).toMatchObject({ version: 2 });

    // Running again is a no-op.
    const again = await openStore(store, { currentVersion: 2, migrations: [renameSize] });
    expect(again.applied).toEqual([]);
  });

  it('runs several migrations in order', async () => {
    await openStore(store, { currentVersion: 1, migrations: [] });
    const order: number[] = [];
    const step = (from: number): Migration => ({
      from,
      to: from + 1,
      description: `step ${from}`,
      async migrate(s) {
        order.push(from);
        await s.put(`meta/step-${from}`, true); // writing directly (idempotent) is allowed too
      },
    });
    const result = await openStore(store, { currentVersion: 4, migrations: [step(3), step(1), step(2)] });
    expect(order).toEqual([1, 2, 3]);
    expect(result.applied).toEqual(['step 1', 'step 2', 'step 3']);
    expect(await store.get(SCHEMA_VERSION_KEY)).toMatchObject({ version: 4 });
  });

  it('a failing migration leaves the store at the old version', async () => {
    await openStore(store, { currentVersion: 1, migrations: [] });
    const failing: Migration = {
      from: 1,
      to: 2,
      description: 'fails',
      async migrate() {
        throw new Error('boom');
      },
    };
    await expect(openStore(store, { currentVersion: 2, migrations: [failing] })).rejects.toThrow('boom');
    expect(await store.get(SCHEMA_VERSION_KEY)).toMatchObject({ version: 1 });
  });

  it('refuses a store whose schema is newer than the code, and changes nothing', async () => {
    await openStore(store, { currentVersion: 3, migrations: [] });
    const err = await openStore(store, { currentVersion: 2, migrations: [] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreSchemaError);
    expect((err as Error).message).toMatch(/schema version 3, newer than this Polly supports \(2\)/);
    expect(await store.get(SCHEMA_VERSION_KEY)).toMatchObject({ version: 3 });
  });

  it('refuses when no migration leads from the stored version', async () => {
    await openStore(store, { currentVersion: 1, migrations: [] });
    await expect(openStore(store, { currentVersion: 2, migrations: [] })).rejects.toThrow(/No migration .* from schema version 1/);
  });

  it('adopts an unversioned store with data (schema 0) through the built-in migration', async () => {
    await store.open();
    await store.put('mesos/framework-id', { value: 'fw-1' });
    const result = await openStore(store);
    expect(result).toMatchObject({ from: 0, to: CURRENT_SCHEMA_VERSION, stamped: false });
    expect(result.applied).toEqual(MIGRATIONS.map((m) => m.description));
    expect(await store.get('mesos/framework-id')).toEqual({ value: 'fw-1' });
    expect((await readInstallation(store))?.id).toMatch(UUID);
  });

  it('adopts an unversioned store of 300,000 keys in one batch without overflowing the stack', async () => {
    const location = path.join(dir, 'state');
    const { Level } = await import('level');
    const raw = new Level<string, string>(location, { valueEncoding: 'utf8' });
    await raw.open();
    const total = 300_000;
    const key = (i: number): string => `volumes/v${String(i).padStart(6, '0')}`;
    for (let start = 0; start < total; start += 20_000) {
      const chunk = Array.from({ length: 20_000 }, (_, j) => ({
        type: 'put' as const,
        key: key(start + j),
        value: JSON.stringify({ n: start + j }),
      }));
      await raw.batch(chunk);
    }
    await raw.close();

    const result = await openStore(store);
    expect(result).toMatchObject({ from: 0, to: CURRENT_SCHEMA_VERSION, stamped: false });
    expect(await store.count('volumes/')).toBe(total);
    // A bare value reads as version 1; the migration's rewrite makes it 2.
    expect(await store.getVersioned(key(0))).toEqual({ value: { n: 0 }, version: 2 });
    expect(await store.getVersioned(key(total - 1))).toEqual({ value: { n: total - 1 }, version: 2 });
    await store.close();

    // Every value now has the versioned envelope (it was rewritten, not merely read as version 1).
    await raw.open();
    expect(JSON.parse((await raw.get(key(123_456)))!)).toEqual({ v: 2, d: { n: 123_456 } });
    await raw.close();
  }, 60_000);
});
