/**
 * vfs volumeExpand: a size is metadata, so growing is one journal entry, written and synced before
 * the call returns; a restarted driver (a new process on the same root) reads the new size back,
 * also after compaction; a torn half-written entry after it is cut, never read as a size; growing
 * to the same size or less writes nothing; bad input writes nothing.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DriverInvalidError, DriverNotFoundError } from '../../../drivers/errors';
import { VfsDriver } from '../../../drivers/vfs/vfs-driver';

let root: string;
let driver: VfsDriver;

beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'polly-vfs-expand-'));
  driver = new VfsDriver({ root });
  await driver.init();
});

afterEach(async () => {
  await driver.close();
  await fs.rm(root, { recursive: true, force: true });
});

const metaDir = (): string => path.join(root, 'meta');

async function journalLines(): Promise<Array<Record<string, unknown>>> {
  const file = (await fs.readdir(metaDir()))
    .filter((f) => f.startsWith('journal-'))
    .sort()
    .pop()!;
  const text = await fs.readFile(path.join(metaDir(), file), 'utf8');
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function metaFiles(): Promise<Record<string, string>> {
  await driver.close();
  const out: Record<string, string> = {};
  for (const f of await fs.readdir(metaDir())) out[f] = await fs.readFile(path.join(metaDir(), f), 'utf8');
  return out;
}

test('grows a volume with one journal entry, and a new driver on the root reads the size back', async () => {
  const v = await driver.volumeCreate('data', { size: 2 });
  await fs.writeFile(path.join(driver.hostPath(v), 'file.txt'), 'kept');
  const grown = await driver.volumeExpand(v.id, 5);
  expect(grown).toMatchObject({ id: v.id, name: 'data', size: 5 });
  const last = (await journalLines()).pop();
  expect(last).toEqual({ volume: expect.objectContaining({ id: v.id, name: 'data', size: 5 }) });
  await driver.close();

  const restarted = new VfsDriver({ root });
  await restarted.init();
  expect((await restarted.volumeInspect(v.id)).size).toBe(5);
  expect(await fs.readFile(path.join(restarted.hostPath(v), 'file.txt'), 'utf8')).toBe('kept');
  await restarted.close();
});

test('the size survives compaction (it is in the checkpoint), and attachments stay as they were', async () => {
  await driver.close();
  driver = new VfsDriver({ root, journalCompactBytes: 256 });
  const v = await driver.volumeCreate('data', { size: 1 });
  await driver.volumeAttach(v.id, { id: 'agent-a' });
  for (let size = 2; size <= 12; size++) await driver.volumeExpand(v.id, size);
  await driver.close();
  expect((await fs.readdir(metaDir())).some((f) => f.startsWith('checkpoint-'))).toBe(true);

  const restarted = new VfsDriver({ root });
  const read = await restarted.volumeInspect(v.id);
  expect(read.size).toBe(12);
  expect(read.attachments.map((a) => a.instanceId.id)).toEqual(['agent-a']);
  await restarted.close();
});

test('a torn entry after the expand (a crash mid-append) is cut: the committed size stays', async () => {
  const v = await driver.volumeCreate('data', { size: 1 });
  await driver.volumeExpand(v.id, 3);
  await driver.close();
  const file = (await fs.readdir(metaDir())).find((f) => f.startsWith('journal-'))!;
  // Half of a second expand's line, as a crash in the middle of the append leaves it.
  const torn = JSON.stringify({ volume: { ...(await driver.volumeInspect(v.id)), size: 9 } }).slice(0, 40);
  await fs.appendFile(path.join(metaDir(), file), torn);

  const restarted = new VfsDriver({ root });
  await restarted.init();
  expect((await restarted.volumeInspect(v.id)).size).toBe(3);
  // The tail is cut before the next append, which then commits normally.
  expect((await restarted.volumeExpand(v.id, 4)).size).toBe(4);
  await restarted.close();
  const again = new VfsDriver({ root });
  expect((await again.volumeInspect(v.id)).size).toBe(4);
  await again.close();
});

test('the same size or smaller writes nothing and answers the volume as it is (idempotent)', async () => {
  const v = await driver.volumeCreate('data', { size: 4 });
  const before = await metaFiles();
  expect((await driver.volumeExpand(v.id, 4)).size).toBe(4);
  expect((await driver.volumeExpand(v.id, 2)).size).toBe(4);
  expect(await metaFiles()).toEqual(before);
});

test('bad input is refused with nothing written: unknown volume, foreign ID, bad sizes', async () => {
  const v = await driver.volumeCreate('data', { size: 1 });
  const before = await metaFiles();
  await expect(driver.volumeExpand('vfs-000999', 2)).rejects.toBeInstanceOf(DriverNotFoundError);
  await expect(driver.volumeExpand('../etc', 2)).rejects.toBeInstanceOf(DriverNotFoundError);
  for (const size of [0, -1, 1.5, Number.NaN, 65537, '3' as unknown as number]) {
    await expect(driver.volumeExpand(v.id, size)).rejects.toBeInstanceOf(DriverInvalidError);
  }
  expect(await metaFiles()).toEqual(before);
  expect((await driver.volumeInspect(v.id)).size).toBe(1);
});

test('says it expands online', () => {
  expect(driver.expansion()).toBe('online');
});
