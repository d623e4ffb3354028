/**
 * A vfs root's metadata exported for a backup and imported back: the export reads a consistent
 * copy and writes nothing; the import gives back every record, attachment, the identity, sequence
 * and installation binding, writes only into a root without metadata (or with force, moving the old
 * meta/ aside), keeps a root's own metadata that is as new, and refuses data that does not match —
 * every refusal with nothing changed.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DriverConflictError, DriverInvalidError, DriverRefusedError } from '../../../drivers/errors';
import type { BackendMetadata } from '../../../drivers/storage-driver';
import { VfsDriver } from '../../../drivers/vfs/vfs-driver';
import { snapshotDir } from '../../support/dir-snapshot';

let root: string;
let other: string;

beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'polly-vfs-backup-'));
  other = await fs.mkdtemp(path.join(os.tmpdir(), 'polly-vfs-backup-other-'));
});

afterEach(async () => {
  await fs.rm(root, { recursive: true, force: true });
  await fs.rm(other, { recursive: true, force: true });
});


/** A root with two volumes (files in them), an attachment, a snapshot and an installation binding. */
async function populated(dir: string, compactBytes?: number): Promise<VfsDriver> {
  const driver = new VfsDriver({ root: dir, journalCompactBytes: compactBytes });
  await driver.bindInstallation('install-1');
  const a = await driver.volumeCreate('alpha', { size: 2, fields: { k: 'v' } });
  const b = await driver.volumeCreate('beta', {});
  await fs.writeFile(path.join(driver.hostPath(a), 'a.txt'), 'alpha data');
  await fs.writeFile(path.join(driver.hostPath(b), 'b.txt'), 'beta data');
  await driver.volumeAttach(a.id, { id: 'host-1' });
  await driver.volumeAttach(b.id, { id: 'host-2' }, { readOnly: true });
  await driver.volumeSnapshot(b.id, 'beta-snap');
  await driver.close();
  return driver;
}

const state = async (driver: VfsDriver) => ({
  mark: await driver.backendMark(),
  volumes: await driver.volumes(),
  snapshots: await driver.snapshots(),
});

test('export reads a consistent copy and writes nothing; import into a root without meta/ gives everything back', async () => {
  const driver = await populated(root);
  const before = await state(driver);
  const files = snapshotDir(root);
  const metadata = (await driver.exportMetadata())!;
  expect(snapshotDir(root)).toEqual(files);
  expect(JSON.parse(JSON.stringify(metadata))).toEqual(metadata); // plain JSON
  const summary = driver.describeMetadata(metadata);
  expect(summary).toEqual({ mark: before.mark, volumeIds: before.volumes.map((v) => v.id) });

  await fs.rm(path.join(root, 'meta'), { recursive: true });
  const fresh = new VfsDriver({ root });
  await expect(fresh.backendMark()).rejects.toBeInstanceOf(DriverRefusedError); // data without its journal
  expect(await fresh.importMetadata(metadata)).toEqual({ location: path.join(root, 'meta') });
  expect(await state(fresh)).toEqual(before);
  // The driver that refused reads the restored root; so does a new one; nothing is quarantined.
  expect(await new VfsDriver({ root }).quarantined()).toEqual([]);
  await fresh.init();
  expect(await fresh.quarantined()).toEqual([]);
  expect(await fs.readFile(path.join(root, 'volumes', before.volumes[0].id, 'a.txt'), 'utf8')).toBe('alpha data');
  // It keeps working: the sequence goes on from the exported one.
  await fresh.volumeDetach(before.volumes[0].id, { id: 'host-1' });
  expect((await fresh.backendMark()).sequence).toBe(before.mark.sequence + 1);
});

test('a compacted root (checkpoint generations) round-trips too, into the same driver instance', async () => {
  const driver = await populated(root, 256);
  for (let i = 0; i < 20; i++) await driver.volumeAttach((await driver.volumes())[0].id, { id: `h${i % 2}` }, { force: true });
  expect((await fs.readdir(path.join(root, 'meta'))).some((f) => f.startsWith('checkpoint-'))).toBe(true);
  const before = await state(driver);
  const metadata = (await driver.exportMetadata())!;
  await fs.rm(path.join(root, 'meta'), { recursive: true });
  await driver.importMetadata(metadata);
  expect(await state(driver)).toEqual(before);
});

test('a root without metadata or data exports nothing; data without a journal, or a corrupt journal, is refused', async () => {
  expect(await new VfsDriver({ root: path.join(root, 'nothing-here') }).exportMetadata()).toBeUndefined();
  expect(await new VfsDriver({ root }).exportMetadata()).toBeUndefined();
  await populated(other);
  await fs.rm(path.join(other, 'meta'), { recursive: true });
  await expect(new VfsDriver({ root: other }).exportMetadata()).rejects.toThrow(/holds volume data .* but has no journal/);

  await populated(root);
  const journal = path.join(root, 'meta', 'journal-000001.log');
  const lines = (await fs.readFile(journal, 'utf8')).split('\n');
  lines[2] = '{"volume": torn';
  await fs.writeFile(journal, lines.join('\n'));
  const files = snapshotDir(root);
  await expect(new VfsDriver({ root }).exportMetadata()).rejects.toThrow(/cannot be read whole .*corrupt vfs journal/);
  expect(snapshotDir(root)).toEqual(files);
});

test('import refuses a root with other metadata unless forced (then moves it aside), and keeps its own when as new', async () => {
  const source = await populated(other);
  const metadata = (await source.exportMetadata())!;
  const exported = await state(source);

  // Same root, as new: kept, nothing written.
  const files = snapshotDir(other);
  expect(await source.importMetadata(metadata)).toEqual({ location: path.join(other, 'meta'), kept: true });
  expect(snapshotDir(other)).toEqual(files);
  // Same root, newer: kept too (the export would only lose the change).
  await source.volumeDetach(exported.volumes[0].id, { id: 'host-1' });
  expect((await source.importMetadata(metadata, { force: true })).kept).toBe(true);

  // Another root's metadata (over the same data): refused; forced, moved aside, never deleted.
  await fs.cp(path.join(other, 'volumes'), path.join(root, 'volumes'), { recursive: true });
  await fs.cp(path.join(other, 'snapshots'), path.join(root, 'snapshots'), { recursive: true });
  const scratch = path.join(root, 'scratch');
  await new VfsDriver({ root: scratch }).volumeCreate('x', {});
  await fs.rename(path.join(scratch, 'meta'), path.join(root, 'meta'));
  await fs.rm(scratch, { recursive: true });
  const target = new VfsDriver({ root });
  const theirs = snapshotDir(path.join(root, 'meta'));
  const before = snapshotDir(root);
  const refused = await target.importMetadata(metadata).catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(DriverConflictError);
  expect((refused as Error).message).toMatch(/already has metadata .*another root's .*only with --force/);
  expect(snapshotDir(root)).toEqual(before);
  await expect(target.importMetadata(metadata, { force: true, dryRun: true })).resolves.toEqual({ location: path.join(root, 'meta') });
  expect(snapshotDir(root)).toEqual(before);

  const forced = await target.importMetadata(metadata, { force: true });
  expect(forced.replacedTo).toMatch(/meta\.replaced-/);
  expect(snapshotDir(forced.replacedTo!)).toEqual(theirs);
  // Restored into another directory: the same records, naming their new place.
  expect(await state(target)).toEqual(JSON.parse(JSON.stringify(exported).replaceAll(other, root)));
});

test('import refuses data that does not match the export (newer volumes, missing volumes), changing nothing', async () => {
  const source = await populated(root);
  const metadata = (await source.exportMetadata())!;
  const later = await source.volumeCreate('later', {});
  await source.close();
  await fs.rm(path.join(root, 'meta'), { recursive: true });
  const before = snapshotDir(root);
  const driver = new VfsDriver({ root });
  await expect(driver.importMetadata(metadata)).rejects.toThrow(new RegExp(`holds data newer than the export \\(.*${later.id}`));
  expect(snapshotDir(root)).toEqual(before);

  await fs.rename(path.join(root, 'volumes', later.id), path.join(other, later.id));
  const alpha = (await fs.readdir(path.join(root, 'volumes'))).sort()[0];
  await fs.rename(path.join(root, 'volumes', alpha), path.join(other, alpha));
  const without = snapshotDir(root);
  const refused = await driver.importMetadata(metadata).catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(DriverRefusedError);
  expect((refused as Error).message).toMatch(new RegExp(`lacks the data of 1 volume or snapshot .*\\(${alpha}\\): restore the data`));
  expect(snapshotDir(root)).toEqual(without);
});

test('metadata that is not vfs metadata, or damaged, is refused before the root is touched', async () => {
  const driver = await populated(other);
  const good = (await driver.exportMetadata())!;
  const target = new VfsDriver({ root: path.join(root, 'target') });
  const bad: BackendMetadata[] = [
    { driver: 'libstorage', format: 1, data: {} },
    { ...good, format: 99 },
    { ...good, data: { root: '/x' } },
    { ...good, data: { ...(good.data as object), checkpoint: { schema: 3, volumes: 'no' } } },
  ];
  for (const m of bad) {
    expect(() => target.describeMetadata(m)).toThrow(DriverInvalidError);
    await expect(target.importMetadata(m)).rejects.toBeInstanceOf(DriverInvalidError);
  }
  await expect(fs.stat(path.join(root, 'target'))).rejects.toThrow();
});
