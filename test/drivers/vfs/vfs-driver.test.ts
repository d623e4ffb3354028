import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DriverAbortedError } from '../../../drivers/abort';
import {
  DriverConflictError,
  DriverInvalidError,
  DriverNotFoundError,
  DriverNotImplementedError,
  DriverTransientError,
} from '../../../drivers/errors';
import { createDriver } from '../../../drivers/index';
import { VfsDriver } from '../../../drivers/vfs/vfs-driver';

let root: string;
let driver: VfsDriver;

beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'polly-vfs-'));
  driver = new VfsDriver({ root });
  await driver.init();
});

afterEach(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

/** Every path under root, with each file's content, so "nothing written" can be checked exactly. */
async function snapshotTree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await fs.readdir(dir, { recursive: true, withFileTypes: true })) {
    const full = path.join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name);
    out[path.relative(dir, full)] = entry.isFile() ? await fs.readFile(full, 'utf8') : '<dir>';
  }
  return out;
}

/** The tree once the driver has let go of the root lock (it keeps it briefly after a lone request). */
async function settledTree(): Promise<Record<string, string>> {
  await driver.close();
  return snapshotTree(root);
}

async function allFiles(dir: string): Promise<string[]> {
  return Object.keys(await snapshotTree(dir));
}

const A = { id: 'agent-a' };
const B = { id: 'agent-b' };
const C = { id: 'agent-c' };

describe('VfsDriver basics', () => {
  it('describes itself', async () => {
    expect(driver.name).toBe('vfs');
    expect(driver.type()).toBe('nas');
    expect(driver.attachLimit(A)).toBeUndefined();
    expect(new VfsDriver({ root, attachLimit: 7 }).attachLimit(A)).toBe(7);
    expect(await driver.instanceInspect({ id: 'host-1' })).toEqual({ instanceId: { id: 'host-1' }, name: 'host-1' });
    await expect(driver.instanceInspect({ id: '' })).rejects.toBeInstanceOf(DriverInvalidError);
  });

  it('is created by the factory', () => {
    const d = createDriver('vfs', { root });
    expect(d).toBeInstanceOf(VfsDriver);
    expect(() => createDriver('nope' as 'vfs', { root })).toThrow(/unknown storage driver/);
  });

  it('refuses a bad config', () => {
    expect(() => new VfsDriver({ root: '' })).toThrow(DriverInvalidError);
    expect(() => new VfsDriver({ root, attachLimit: 0 })).toThrow(DriverInvalidError);
  });

  it('reports the root filesystem capacity', async () => {
    const cap = await driver.capacity({}, 'zone-a');
    expect(cap).toBeDefined();
    expect(cap!.totalGiB).toBeGreaterThanOrEqual(cap!.availableGiB);
    expect(cap!.availableGiB).toBeGreaterThanOrEqual(0);
    expect((await driver.capacity({ encrypted: true }, undefined))!.availableGiB).toBe(0);
  });
});

describe('VfsDriver volumes', () => {
  it('creates, inspects, lists and removes a volume', async () => {
    const v = await driver.volumeCreate('db-data', { size: 5, type: 'ssd', iops: 100, availabilityZone: 'zone-a', fields: { team: 'x' } });
    expect(v).toMatchObject({
      id: 'vfs-000001',
      name: 'db-data',
      size: 5,
      type: 'ssd',
      iops: 100,
      availabilityZone: 'zone-a',
      fields: { team: 'x' },
      attachments: [],
      status: 'available',
      encrypted: false,
    });
    expect(typeof v.createdAt).toBe('string');
    expect(await driver.volumeInspect(v.id)).toEqual(v);
    expect(await driver.volumes()).toEqual([v]);
    expect(driver.hostPath(v)).toBe(path.join(root, 'volumes', 'vfs-000001'));
    expect((await fs.stat(driver.hostPath(v))).isDirectory()).toBe(true);
    const journal = (await fs.readFile(path.join(root, 'meta', 'journal-000001.log'), 'utf8')).trim().split('\n');
    expect(JSON.parse(journal[journal.length - 1]).volume).toMatchObject({ id: 'vfs-000001', name: 'db-data', size: 5 });

    await driver.volumeRemove(v.id);
    await expect(driver.volumeInspect(v.id)).rejects.toBeInstanceOf(DriverNotFoundError);
    expect(await driver.volumes()).toEqual([]);
    await expect(fs.stat(path.join(root, 'volumes', 'vfs-000001'))).rejects.toThrow();
    await expect(driver.volumeRemove(v.id)).rejects.toBeInstanceOf(DriverNotFoundError);
  });

  it('removes a volume holding data, its whole tree', async () => {
    const v = await driver.volumeCreate('full', {});
    const dir = driver.hostPath(v);
    await fs.mkdir(path.join(dir, 'nested', 'deeper'), { recursive: true });
    await fs.writeFile(path.join(dir, 'top.txt'), 'top');
    await fs.writeFile(path.join(dir, 'nested', 'deeper', 'leaf.txt'), 'leaf');
    await driver.volumeRemove(v.id);
    await expect(fs.lstat(dir)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await driver.volumes()).toEqual([]);
  });

  it('defaults the size to 1 GiB', async () => {
    expect((await driver.volumeCreate('small', {})).size).toBe(1);
  });

  it.each([0, -1, 1.5, 65537, Number.NaN, '3' as unknown as number])('refuses size %p', async (size) => {
    const before = await settledTree();
    await expect(driver.volumeCreate('sized', { size })).rejects.toBeInstanceOf(DriverInvalidError);
    expect(await settledTree()).toEqual(before);
  });

  it('accepts the largest size', async () => {
    expect((await driver.volumeCreate('huge', { size: 65536 })).size).toBe(65536);
  });

  it('refuses encryption it cannot provide', async () => {
    await expect(driver.volumeCreate('secret', { encrypted: true })).rejects.toBeInstanceOf(DriverNotImplementedError);
  });

  it('refuses bad iops and fields', async () => {
    await expect(driver.volumeCreate('x', { iops: -1 })).rejects.toBeInstanceOf(DriverInvalidError);
    await expect(driver.volumeCreate('x', { fields: { a: 1 as unknown as string } })).rejects.toBeInstanceOf(DriverInvalidError);
    await expect(driver.volumeCreate('x', { type: 'a\nb' })).rejects.toBeInstanceOf(DriverInvalidError);
  });

  it.each([
    ['../x', '../x'],
    ['a/b', 'a/b'],
    ['backslash', 'a\\b'],
    ['empty', ''],
    ['300 chars', 'x'.repeat(300)],
    ['NUL', 'a\u0000b'],
    ['newline', 'a\nb'],
    ['escape', 'a\u001bb'],
    ['DEL', 'a\u007fb'],
    ['dot', '.'],
    ['dotdot', '..'],
  ])('refuses the name %s and writes nothing', async (_label, name) => {
    await driver.volumeCreate('existing', {});
    const before = await settledTree();
    await expect(driver.volumeCreate(name, {})).rejects.toBeInstanceOf(DriverInvalidError);
    await expect(driver.volumeCopy('vfs-000001', name)).rejects.toBeInstanceOf(DriverInvalidError);
    await expect(driver.volumeSnapshot('vfs-000001', name)).rejects.toBeInstanceOf(DriverInvalidError);
    await expect(driver.volumeInspectByName(name)).rejects.toBeInstanceOf(DriverInvalidError);
    expect(await settledTree()).toEqual(before);
  });

  it('accepts a 255-character name and unicode', async () => {
    expect((await driver.volumeCreate('y'.repeat(255), {})).name).toHaveLength(255);
    expect((await driver.volumeCreate('données-ü', {})).name).toBe('données-ü');
  });

  it.each(['../x', '../../etc/passwd', 'vfs-1', 'vfs-000001/..', '', 'vfs-snap-000001', 'VFS-000001'])(
    'treats the volume ID %p as not found, never as a path',
    async (id) => {
      await driver.volumeCreate('existing', {});
      const before = await settledTree();
      await expect(driver.volumeInspect(id)).rejects.toBeInstanceOf(DriverNotFoundError);
      await expect(driver.volumeRemove(id, { force: true })).rejects.toBeInstanceOf(DriverNotFoundError);
      await expect(driver.volumeAttach(id, A)).rejects.toBeInstanceOf(DriverNotFoundError);
      await expect(driver.volumeDetach(id, A)).rejects.toBeInstanceOf(DriverNotFoundError);
      await expect(driver.volumeSnapshot(id, 's')).rejects.toBeInstanceOf(DriverNotFoundError);
      await expect(driver.volumeCopy(id, 'c')).rejects.toBeInstanceOf(DriverNotFoundError);
      await expect(driver.snapshotInspect(id)).rejects.toBeInstanceOf(DriverNotFoundError);
      await expect(driver.snapshotRemove(id)).rejects.toBeInstanceOf(DriverNotFoundError);
      await expect(driver.volumeCreateFromSnapshot(id, 'n', {})).rejects.toBeInstanceOf(DriverNotFoundError);
      expect(() => driver.hostPath({ id, name: 'x', size: 1, fields: {}, attachments: [] })).toThrow(DriverInvalidError);
      expect(await settledTree()).toEqual(before);
    },
  );

  it('keeps names unique case-insensitively and finds them in any case', async () => {
    const v = await driver.volumeCreate('MyVolume', {});
    for (const name of ['MyVolume', 'myvolume', 'MYVOLUME', 'mYvOlUmE']) {
      await expect(driver.volumeCreate(name, {})).rejects.toBeInstanceOf(DriverConflictError);
      expect((await driver.volumeInspectByName(name))?.id).toBe(v.id);
    }
    expect(await driver.volumeInspectByName('other')).toBeUndefined();
    expect(await driver.volumes()).toHaveLength(1);
    // A removed name is free again, with a new ID.
    await driver.volumeRemove(v.id);
    expect(await driver.volumeInspectByName('myvolume')).toBeUndefined();
    expect((await driver.volumeCreate('MYVOLUME', {})).id).toBe('vfs-000002');
  });

  it('never repeats an ID, across deletes and new driver instances', async () => {
    const a = await driver.volumeCreate('a', {});
    const b = await driver.volumeCreate('b', {});
    await driver.volumeRemove(b.id);
    await driver.volumeRemove(a.id);
    const again = new VfsDriver({ root });
    await again.init();
    const c = await again.volumeCreate('c', {});
    expect(c.id).toBe('vfs-000003');
    const s = await again.volumeSnapshot(c.id, 'snap');
    await again.snapshotRemove(s.id);
    const third = new VfsDriver({ root });
    expect((await third.volumeSnapshot(c.id, 'snap')).id).toBe('vfs-snap-000002');
    expect((await third.volumeCreate('d', {})).id).toBe('vfs-000004');
  });

  it('lists volumes in ID order', async () => {
    for (const name of ['one', 'two', 'three']) await driver.volumeCreate(name, {});
    expect((await driver.volumes()).map((v) => v.name)).toEqual(['one', 'two', 'three']);
  });

  it('leaves no temp files behind', async () => {
    const v = await driver.volumeCreate('v', {});
    await driver.volumeAttach(v.id, A);
    await driver.volumeDetach(v.id, A);
    const s = await driver.volumeSnapshot(v.id, 's');
    await driver.volumeCopy(v.id, 'copy');
    await driver.volumeCreateFromSnapshot(s.id, 'from-snap', {});
    const files = await allFiles(root);
    expect(files.filter((f) => f.endsWith('.tmp') || f.includes('.staging-') || path.basename(f).startsWith('.lock'))).toEqual([]);
  });

  it('cleans crash leftovers at init: temp files removed, directories without a record quarantined (never deleted)', async () => {
    const v = await driver.volumeCreate('v', {});
    const gone = await driver.volumeCreate('gone', {});
    const snap = await driver.volumeSnapshot(v.id, 's');
    await driver.volumeRemove(gone.id);
    await driver.snapshotRemove(snap.id);
    await fs.writeFile(path.join(root, 'volumes', '.vfs-000001.json.123.abc.tmp'), '{"torn');
    await fs.writeFile(path.join(root, 'meta', '.checkpoint-000002.json.123.abc.tmp'), '{"torn');
    // Removals whose directory delete died half-way: their IDs are retired, their data is unexplained.
    await fs.mkdir(path.join(root, 'volumes', gone.id, 'sub'), { recursive: true });
    await fs.writeFile(path.join(root, 'volumes', gone.id, 'sub', 'left.txt'), 'left');
    await fs.mkdir(path.join(root, 'snapshots', snap.id), { recursive: true });
    await driver.close();
    const again = new VfsDriver({ root });
    await again.init();
    const files = await allFiles(root);
    expect(files.filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(files.filter((f) => f.startsWith('volumes/') || f.startsWith('snapshots/'))).toEqual(['volumes/vfs-000001']);
    const quarantined = await again.quarantined();
    expect(quarantined.map((q) => [q.kind, q.originalId])).toEqual(
      expect.arrayContaining([
        ['volume', gone.id],
        ['snapshot', snap.id],
      ]),
    );
    const left = quarantined.find((q) => q.originalId === gone.id)!;
    expect(await fs.readFile(path.join(left.path, 'sub', 'left.txt'), 'utf8')).toBe('left');
    expect(left).toMatchObject({ originalPath: path.join(root, 'volumes', gone.id), reason: 'no volume record in the journal' });
    expect((await again.volumeInspectByName('V'))?.id).toBe(v.id);
    // IDs never go back, and a second start leaves the quarantine as it is.
    expect((await again.volumeCreate('w', {})).id).toBe('vfs-000003');
    await again.close();
    await new VfsDriver({ root }).init();
    expect((await new VfsDriver({ root }).quarantined()).map((q) => q.id).sort()).toEqual(quarantined.map((q) => q.id).sort());
  });
});

describe('VfsDriver attachments', () => {
  let id: string;
  beforeEach(async () => {
    id = (await driver.volumeCreate('shared', {})).id;
  });

  it('attaches read-write and records it', async () => {
    const { volume, attachToken } = await driver.volumeAttach(id, A);
    expect(attachToken).toBeUndefined();
    expect(volume.status).toBe('attached');
    expect(volume.attachments).toHaveLength(1);
    expect(volume.attachments[0]).toMatchObject({
      volumeId: id,
      instanceId: A,
      readOnly: false,
      status: 'attached',
      mountPoint: path.join(root, 'volumes', id),
    });
    expect(volume.attachments[0].deviceName).toBeUndefined();
    expect(typeof volume.attachments[0].attachedAt).toBe('string');
    expect(await driver.volumeInspect(id)).toEqual(volume);
  });

  it('re-attaching to the same instance is a no-op', async () => {
    const first = await driver.volumeAttach(id, A);
    const journal = path.join(root, 'meta', 'journal-000001.log');
    const size = (await fs.stat(journal)).size;
    const second = await driver.volumeAttach(id, { id: 'AGENT-A' });
    expect(second.volume).toEqual(first.volume);
    expect((await fs.stat(journal)).size).toBe(size); // nothing written
  });

  it('refuses a second read-write attach elsewhere, unless forced', async () => {
    await driver.volumeAttach(id, A);
    await expect(driver.volumeAttach(id, B)).rejects.toBeInstanceOf(DriverConflictError);
    await expect(driver.volumeAttach(id, B, { readOnly: true })).rejects.toBeInstanceOf(DriverConflictError);
    expect((await driver.volumeInspect(id)).attachments.map((a) => a.instanceId.id)).toEqual(['agent-a']);
    const { volume } = await driver.volumeAttach(id, B, { force: true });
    expect(volume.attachments.map((a) => a.instanceId.id)).toEqual(['agent-b']);
  });

  it('lets readers share, and a forced writer evicts them', async () => {
    await driver.volumeAttach(id, A, { readOnly: true });
    const { volume } = await driver.volumeAttach(id, B, { readOnly: true });
    expect(volume.attachments.map((a) => [a.instanceId.id, a.readOnly])).toEqual([
      ['agent-a', true],
      ['agent-b', true],
    ]);
    await expect(driver.volumeAttach(id, C)).rejects.toBeInstanceOf(DriverConflictError);
    const forced = await driver.volumeAttach(id, C, { force: true });
    expect(forced.volume.attachments.map((a) => a.instanceId.id)).toEqual(['agent-c']);
  });

  it('a forced reader evicts only the writer', async () => {
    await driver.volumeAttach(id, A);
    const { volume } = await driver.volumeAttach(id, B, { readOnly: true, force: true });
    expect(volume.attachments.map((a) => a.instanceId.id)).toEqual(['agent-b']);
  });

  it('changes mode on the same instance: RW → RO always, RO → RW only when alone', async () => {
    await driver.volumeAttach(id, A);
    let { volume } = await driver.volumeAttach(id, A, { readOnly: true });
    expect(volume.attachments).toHaveLength(1);
    expect(volume.attachments[0].readOnly).toBe(true);
    await driver.volumeAttach(id, B, { readOnly: true });
    await expect(driver.volumeAttach(id, A)).rejects.toBeInstanceOf(DriverConflictError);
    await driver.volumeDetach(id, B);
    ({ volume } = await driver.volumeAttach(id, A));
    expect(volume.attachments.map((a) => [a.instanceId.id, a.readOnly])).toEqual([['agent-a', false]]);
  });

  it('detaches, and detaching where not attached is a no-op', async () => {
    await driver.volumeAttach(id, A, { readOnly: true });
    await driver.volumeAttach(id, B, { readOnly: true });
    const v = await driver.volumeDetach(id, A);
    expect(v.attachments.map((a) => a.instanceId.id)).toEqual(['agent-b']);
    expect((await driver.volumeDetach(id, A)).attachments).toHaveLength(1);
    expect((await driver.volumeDetach(id, C, { force: true })).attachments).toHaveLength(1);
    expect((await driver.volumeDetach(id, B)).status).toBe('available');
  });

  it('refuses to remove an attached volume unless forced', async () => {
    await driver.volumeAttach(id, A);
    await expect(driver.volumeRemove(id)).rejects.toBeInstanceOf(DriverConflictError);
    expect((await driver.volumeInspect(id)).attachments).toHaveLength(1);
    await driver.volumeRemove(id, { force: true });
    await expect(driver.volumeInspect(id)).rejects.toBeInstanceOf(DriverNotFoundError);
  });

  it('refuses bad instance IDs', async () => {
    await expect(driver.volumeAttach(id, { id: '' })).rejects.toBeInstanceOf(DriverInvalidError);
    await expect(driver.volumeAttach(id, { id: 'a\u0000b' })).rejects.toBeInstanceOf(DriverInvalidError);
    await expect(driver.volumeDetach(id, { id: 'x'.repeat(256) })).rejects.toBeInstanceOf(DriverInvalidError);
  });
});

describe('VfsDriver snapshots and copies', () => {
  async function volumeWithData(name: string): Promise<string> {
    const v = await driver.volumeCreate(name, { size: 3, type: 'gold', iops: 50, availabilityZone: 'zone-b', fields: { owner: 'me' } });
    const data = driver.hostPath(v);
    await fs.writeFile(path.join(data, 'hello.txt'), 'hello world');
    await fs.mkdir(path.join(data, 'nested'));
    await fs.writeFile(path.join(data, 'nested', 'deep.txt'), 'deep');
    await fs.symlink('hello.txt', path.join(data, 'link'));
    return v.id;
  }

  it('snapshots a volume and creates a new volume from it with the data', async () => {
    const source = await volumeWithData('source');
    const snap = await driver.volumeSnapshot(source, 'nightly');
    expect(snap).toMatchObject({
      id: 'vfs-snap-000001',
      name: 'nightly',
      volumeId: source,
      volumeSize: 3,
      status: 'online',
      fields: { owner: 'me' },
    });
    expect(await driver.snapshotInspect(snap.id)).toEqual(snap);
    expect(await driver.snapshots()).toEqual([snap]);

    // Changes after the snapshot do not reach it.
    await fs.writeFile(path.join(root, 'volumes', source, 'hello.txt'), 'changed');

    const restored = await driver.volumeCreateFromSnapshot(snap.id, 'restored', {});
    expect(restored).toMatchObject({
      id: 'vfs-000002',
      name: 'restored',
      size: 3,
      type: 'gold',
      iops: 50,
      availabilityZone: 'zone-b',
      fields: { owner: 'me' },
    });
    const data = driver.hostPath(restored);
    expect(await fs.readFile(path.join(data, 'hello.txt'), 'utf8')).toBe('hello world');
    expect(await fs.readFile(path.join(data, 'nested', 'deep.txt'), 'utf8')).toBe('deep');
    expect(await fs.readlink(path.join(data, 'link'))).toBe('hello.txt');
  });

  it('lets create-from-snapshot override the inherited values', async () => {
    const snap = await driver.volumeSnapshot(await volumeWithData('source'), 's');
    const v = await driver.volumeCreateFromSnapshot(snap.id, 'bigger', {
      size: 10,
      type: 'silver',
      iops: 7,
      availabilityZone: 'zone-c',
      fields: { extra: 'y' },
    });
    expect(v).toMatchObject({ size: 10, type: 'silver', iops: 7, availabilityZone: 'zone-c', fields: { owner: 'me', extra: 'y' } });
    await expect(driver.volumeCreateFromSnapshot(snap.id, 'smaller', { size: 1 })).rejects.toBeInstanceOf(DriverInvalidError);
  });

  it('refuses create-from-snapshot with a taken name, and leaves no staging copy', async () => {
    const snap = await driver.volumeSnapshot(await volumeWithData('source'), 's');
    await expect(driver.volumeCreateFromSnapshot(snap.id, 'SOURCE', {})).rejects.toBeInstanceOf(DriverConflictError);
    expect((await allFiles(root)).filter((f) => f.includes('.staging-'))).toEqual([]);
    await expect(driver.volumeCreateFromSnapshot('vfs-snap-000042', 'fresh', {})).rejects.toBeInstanceOf(DriverNotFoundError);
  });

  it('copies a volume with its data and attributes', async () => {
    const source = await volumeWithData('source');
    await driver.volumeAttach(source, A);
    const copy = await driver.volumeCopy(source, 'copy');
    expect(copy).toMatchObject({
      id: 'vfs-000002',
      name: 'copy',
      size: 3,
      type: 'gold',
      iops: 50,
      availabilityZone: 'zone-b',
      fields: { owner: 'me' },
      attachments: [],
    });
    expect(await fs.readFile(path.join(driver.hostPath(copy), 'nested', 'deep.txt'), 'utf8')).toBe('deep');
    await expect(driver.volumeCopy(source, 'Copy')).rejects.toBeInstanceOf(DriverConflictError);
    await expect(driver.volumeCopy('vfs-000777', 'other')).rejects.toBeInstanceOf(DriverNotFoundError);
  });

  it('removes snapshots; the volume made from one survives', async () => {
    const snap = await driver.volumeSnapshot(await volumeWithData('source'), 's');
    const restored = await driver.volumeCreateFromSnapshot(snap.id, 'restored', {});
    await driver.snapshotRemove(snap.id);
    await expect(driver.snapshotInspect(snap.id)).rejects.toBeInstanceOf(DriverNotFoundError);
    await expect(driver.snapshotRemove(snap.id)).rejects.toBeInstanceOf(DriverNotFoundError);
    expect(await driver.snapshots()).toEqual([]);
    await expect(fs.stat(path.join(root, 'snapshots', snap.id))).rejects.toThrow();
    expect(await fs.readFile(path.join(driver.hostPath(restored), 'hello.txt'), 'utf8')).toBe('hello world');
  });

  it('refuses to snapshot a missing volume', async () => {
    await expect(driver.volumeSnapshot('vfs-000123', 's')).rejects.toBeInstanceOf(DriverNotFoundError);
  });
});

describe('VfsDriver cancellation and concurrency', () => {
  it('rejects every method for an aborted signal before touching anything', async () => {
    const v = await driver.volumeCreate('v', {});
    const before = await settledTree();
    const signal = AbortSignal.abort(new Error('caller gave up'));
    const calls: Promise<unknown>[] = [
      driver.init({ signal }),
      driver.instanceInspect(A, { signal }),
      driver.volumes({ signal }),
      driver.volumeInspect(v.id, { signal }),
      driver.volumeInspectByName('v', { signal }),
      driver.volumeCreate('w', {}, { signal }),
      driver.volumeCreateFromSnapshot('vfs-snap-000001', 'w', {}, { signal }),
      driver.volumeCopy(v.id, 'w', { signal }),
      driver.volumeSnapshot(v.id, 's', { signal }),
      driver.volumeRemove(v.id, {}, { signal }),
      driver.volumeAttach(v.id, A, {}, { signal }),
      driver.volumeDetach(v.id, A, {}, { signal }),
      driver.snapshots({ signal }),
      driver.snapshotInspect('vfs-snap-000001', { signal }),
      driver.snapshotRemove('vfs-snap-000001', { signal }),
      driver.capacity({}, undefined, { signal }),
    ];
    for (const call of calls) {
      const err = await call.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(DriverTransientError);
      expect(err).toBeInstanceOf(DriverAbortedError);
      expect((err as Error).name).toBe('AbortError');
    }
    expect(await settledTree()).toEqual(before);
  });

  it('serialises concurrent in-process creates: one winner per name, distinct IDs', async () => {
    const other = new VfsDriver({ root });
    const results = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) => (i % 2 ? driver : other).volumeCreate(i % 4 < 2 ? 'contested' : `free-${i}`, {})),
    );
    const ok = results.filter((r): r is PromiseFulfilledResult<Awaited<ReturnType<VfsDriver['volumeCreate']>>> => r.status === 'fulfilled');
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(ok.filter((r) => r.value.name === 'contested')).toHaveLength(1);
    expect(failed).toHaveLength(19);
    for (const f of failed) expect(f.reason).toBeInstanceOf(DriverConflictError);
    expect(new Set(ok.map((r) => r.value.id)).size).toBe(ok.length);
  });

  it('decides removes in one batch with the requests around them, in order', async () => {
    const [a, b, c] = await Promise.all(['ra', 'rb', 'rc'].map((n) => driver.volumeCreate(n, {})));
    await driver.volumeAttach(b!.id, A);
    await fs.writeFile(path.join(root, 'volumes', a!.id, 'data.txt'), 'gone with the volume');
    // Submitted together, these queue behind one another and are decided as one batch.
    const results = await Promise.allSettled([
      driver.volumeAttach(a!.id, B),
      driver.volumeRemove(a!.id, { force: true }), // after the attach: forced, so it goes
      driver.volumeAttach(a!.id, C), // after the removal: the volume is gone
      driver.volumeRemove(b!.id), // attached: refused
      driver.volumeRemove(c!.id),
      driver.volumeRemove(c!.id), // already removed in this batch
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'rejected', 'fulfilled', 'rejected']);
    expect((results[2] as PromiseRejectedResult).reason).toBeInstanceOf(DriverNotFoundError);
    expect((results[3] as PromiseRejectedResult).reason).toBeInstanceOf(DriverConflictError);
    expect((results[5] as PromiseRejectedResult).reason).toBeInstanceOf(DriverNotFoundError);
    expect((await driver.volumes()).map((v) => v.id)).toEqual([b!.id]);
    const left = await settledTree();
    expect(Object.keys(left).filter((p) => p.startsWith('volumes/') && !p.startsWith('volumes/.'))).toEqual([`volumes/${b!.id}`]);
    // A new driver on the root reads the same: the removals were committed with the batch.
    expect((await new VfsDriver({ root }).volumes()).map((v) => v.id)).toEqual([b!.id]);
  });

  it('breaks a stale lock left by a dead process on this host', async () => {
    await fs.writeFile(
      path.join(root, '.lock'),
      JSON.stringify({ pid: 2 ** 22 + 12345, hostname: os.hostname(), acquiredAt: new Date().toISOString(), token: 'dead' }),
    );
    expect((await driver.volumeCreate('after-crash', {})).name).toBe('after-crash');
    await driver.close();
    await expect(fs.stat(path.join(root, '.lock'))).rejects.toThrow();
  });

  it('breaks a lock not touched for longer than the stale time', async () => {
    const quick = new VfsDriver({ root, lockStaleMs: 50 });
    const lock = path.join(root, '.lock');
    await fs.writeFile(lock, JSON.stringify({ pid: process.pid, hostname: 'another-host', acquiredAt: 'x', token: 'old' }));
    const past = new Date(Date.now() - 60_000);
    await fs.utimes(lock, past, past);
    expect((await quick.volumeCreate('after-stale', {})).name).toBe('after-stale');
  });

  it('gives up waiting for a live lock with a transient error, or when aborted', async () => {
    const impatient = new VfsDriver({ root, lockTimeoutMs: 30, lockStaleMs: 600_000 });
    await fs.writeFile(
      path.join(root, '.lock'),
      JSON.stringify({ pid: process.pid, hostname: os.hostname(), acquiredAt: 'now', token: 'live' }),
    );
    await expect(impatient.volumeCreate('blocked', {})).rejects.toThrow(/waiting for lock/);
    await expect(impatient.volumeCreate('blocked', {})).rejects.toBeInstanceOf(DriverTransientError);
    const controller = new AbortController();
    const pending = driver.volumeCreate('blocked', {}, { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await expect(pending).rejects.toBeInstanceOf(DriverAbortedError);
    await fs.rm(path.join(root, '.lock'));
    expect(await driver.volumeInspectByName('blocked')).toBeUndefined();
  });
});
