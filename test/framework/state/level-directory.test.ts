import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inspectLevelDirectory } from '../../../framework/state/level-directory';
import { LevelStore } from '../../../framework/state/level-store';
import { StoreDamagedError, StoreMissingError } from '../../../framework/state/store';
import { snapshotDir } from '../../support/dir-snapshot';

/** A LevelDB with enough data for table files, closed. */
async function filledStore(location: string): Promise<void> {
  const store = new LevelStore(location, { sync: false });
  await store.open();
  for (let i = 0; i < 200; i++) await store.put(`volumes/v${i}`, { id: `v${i}`, pad: 'x'.repeat(2000) });
  await store.close();
}

describe('LevelDB directories are checked before LevelDB opens them', () => {
  let dir: string;
  let location: string;
  beforeEach(async () => {
    dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'polly-level-dir-'));
    location = path.join(dir, 'state');
  });
  afterEach(async () => {
    await fs.promises.rm(dir, { recursive: true, force: true });
  });

  it('tells absent, empty (housekeeping files only) and a database apart', async () => {
    expect(await inspectLevelDirectory(location)).toBe('absent');
    fs.mkdirSync(location);
    fs.writeFileSync(path.join(location, 'LOCK'), '');
    fs.writeFileSync(path.join(location, 'LOG'), 'old log\n');
    expect(await inspectLevelDirectory(location)).toBe('empty');
    fs.rmSync(location, { recursive: true });
    await filledStore(location);
    expect(await inspectLevelDirectory(location)).toBe('database');
  });

  it('CURRENT missing: open() refuses with StoreDamagedError naming the path, and every file stays exactly as it was', async () => {
    await filledStore(location);
    fs.unlinkSync(path.join(location, 'CURRENT'));
    const before = snapshotDir(location);
    const store = new LevelStore(location);
    const err = await store.open().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreDamagedError);
    expect((err as Error).message).toContain(location);
    expect((err as Error).message).toMatch(/no CURRENT file/);
    expect(store.isOpen).toBe(false);
    // Not created over, not repaired, not even LOG rotated: the same names and the same bytes.
    expect(snapshotDir(location)).toEqual(before);
    // With createIfMissing: false too.
    await expect(store.open({ createIfMissing: false })).rejects.toBeInstanceOf(StoreDamagedError);
    expect(snapshotDir(location)).toEqual(before);
  });

  it('a CURRENT that names a missing or no manifest is refused the same way', async () => {
    await filledStore(location);
    const currentFile = path.join(location, 'CURRENT');
    const manifest = fs.readFileSync(currentFile, 'utf8').trim();
    fs.renameSync(path.join(location, manifest), path.join(dir, manifest));
    let before = snapshotDir(location);
    await expect(new LevelStore(location).open()).rejects.toThrow(new RegExp(`naming ${manifest}, which is missing`));
    expect(snapshotDir(location)).toEqual(before);

    fs.renameSync(path.join(dir, manifest), path.join(location, manifest));
    fs.writeFileSync(currentFile, 'garbage');
    before = snapshotDir(location);
    await expect(new LevelStore(location).open()).rejects.toThrow(/names no manifest/);
    expect(snapshotDir(location)).toEqual(before);
  });

  it('a manifest LevelDB cannot read is a StoreDamagedError; the table files stay', async () => {
    await filledStore(location);
    const manifest = fs.readFileSync(path.join(location, 'CURRENT'), 'utf8').trim();
    fs.writeFileSync(path.join(location, manifest), 'not a manifest');
    const tables = fs.readdirSync(location).filter((f) => /\.(ldb|log)$/.test(f));
    const before = snapshotDir(location)!;
    await expect(new LevelStore(location).open()).rejects.toBeInstanceOf(StoreDamagedError);
    const after = snapshotDir(location)!;
    for (const t of tables) expect(after[t]).toBe(before[t]);
  });

  it('createIfMissing: false creates nothing where there is no store', async () => {
    const store = new LevelStore(location);
    await expect(store.open({ createIfMissing: false })).rejects.toMatchObject({ name: 'StoreMissingError', state: 'absent' });
    expect(fs.existsSync(location)).toBe(false);
    fs.mkdirSync(location);
    const err = await store.open({ createIfMissing: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreMissingError);
    expect((err as StoreMissingError).state).toBe('empty');
    expect(fs.readdirSync(location)).toEqual([]);
    // The default creates a new store.
    await store.open();
    expect(store.isOpen).toBe(true);
    await store.close();
    expect(await inspectLevelDirectory(location)).toBe('database');
  });
});
