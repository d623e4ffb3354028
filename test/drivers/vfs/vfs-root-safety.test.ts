/**
 * A vfs root never deletes or reuses data on a guess: a missing, incomplete, truncated or older
 * journal is refused with nothing changed; data the journal does not explain is quarantined, listed,
 * and deleted only by an explicit purge; the root's identity and sequence survive restarts and
 * compaction and show an older journal for what it is.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DriverConflictError, DriverNotFoundError, DriverRefusedError } from '../../../drivers/errors';
import { VfsDriver } from '../../../drivers/vfs/vfs-driver';
import { snapshotDir } from '../../support/dir-snapshot';

let root: string;
let spare: string;

beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'polly-vfs-safety-'));
  spare = await fs.mkdtemp(path.join(os.tmpdir(), 'polly-vfs-safety-copy-'));
});

afterEach(async () => {
  await fs.rm(root, { recursive: true, force: true });
  await fs.rm(spare, { recursive: true, force: true });
});

const meta = (f = ''): string => path.join(root, 'meta', f);
const journal = (gen = 1): string => meta(`journal-${String(gen).padStart(6, '0')}.log`);


/** A driver that has written a file into each of `names`' volumes. */
async function withData(names: string[]): Promise<{ driver: VfsDriver; ids: string[] }> {
  const driver = new VfsDriver({ root });
  const ids: string[] = [];
  for (const name of names) {
    const v = await driver.volumeCreate(name, {});
    await fs.writeFile(path.join(driver.hostPath(v), 'data.txt'), `data of ${name}`);
    ids.push(v.id);
  }
  await driver.close();
  return { driver, ids };
}

async function refusal(driver: VfsDriver): Promise<DriverRefusedError> {
  const err = await driver.init().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DriverRefusedError);
  return err as DriverRefusedError;
}

describe('a vfs root refuses a journal it cannot trust, and changes nothing', () => {
  it('refuses a root whose journal was removed', async () => {
    await withData(['a', 'b', 'c']);
    await fs.rm(journal());
    const before = snapshotDir(root);
    const err = await refusal(new VfsDriver({ root }));
    expect(err.message).toContain(`vfs root ${root} holds volume data`);
    expect(err.message).toContain(`has no journal in ${meta().replace(/\/$/, '')}`);
    expect(err.message).toMatch(/Nothing was changed\. Restore .* from a backup at least as new as the data/);
    expect(snapshotDir(root)).toEqual(before);
    // Reads are refused the same way (they never see an empty root), and still nothing changes.
    await expect(new VfsDriver({ root }).volumes()).rejects.toBeInstanceOf(DriverRefusedError);
    await expect(new VfsDriver({ root }).backendMark()).rejects.toBeInstanceOf(DriverRefusedError);
    expect(snapshotDir(root)).toEqual(before);
  });

  it('refuses a root whose whole meta directory is gone', async () => {
    await withData(['a']);
    await fs.rm(meta(), { recursive: true });
    const before = snapshotDir(root);
    await refusal(new VfsDriver({ root }));
    expect(snapshotDir(root)).toEqual(before);
  });

  it('refuses a journal truncated before the last creates, then starts once the journal is back', async () => {
    await withData(['a', 'b']);
    const full = await fs.readFile(journal(), 'utf8');
    await withData(['c', 'd']);
    const whole = await fs.readFile(journal(), 'utf8');
    await fs.writeFile(journal(), full); // cut back to where only a and b existed
    const before = snapshotDir(root);
    const err = await refusal(new VfsDriver({ root }));
    expect(err.message).toContain(
      `${path.join(root, 'volumes', 'vfs-000003')}, ${path.join(root, 'volumes', 'vfs-000004')} are newer than the journal`,
    );
    expect(err.message).toContain('never start Polly on an older journal');
    expect(snapshotDir(root)).toEqual(before);
    // The way out: the journal back as it was.
    await fs.writeFile(journal(), whole);
    const driver = new VfsDriver({ root });
    await driver.init();
    const volumes = await driver.volumes();
    expect(volumes.map((v) => v.name)).toEqual(['a', 'b', 'c', 'd']);
    for (const v of volumes) expect(await fs.readFile(path.join(driver.hostPath(v), 'data.txt'), 'utf8')).toBe(`data of ${v.name}`);
    expect(await driver.quarantined()).toEqual([]);
  });

  it('refuses an older copy of meta/ restored over newer data (snapshots count too)', async () => {
    const { ids } = await withData(['a']);
    await fs.cp(meta(), path.join(spare, 'meta'), { recursive: true });
    const driver = new VfsDriver({ root });
    await driver.volumeSnapshot(ids[0], 'later');
    await driver.close();
    await fs.rm(meta(), { recursive: true });
    await fs.cp(path.join(spare, 'meta'), meta(), { recursive: true });
    const before = snapshotDir(root);
    const err = await refusal(new VfsDriver({ root }));
    expect(err.message).toContain(path.join(root, 'snapshots', 'vfs-snap-000001'));
    expect(snapshotDir(root)).toEqual(before);
  });

  it('refuses a generation whose checkpoint is missing', async () => {
    const driver = new VfsDriver({ root, journalCompactBytes: 1024 });
    for (let i = 0; i < 20; i++) await driver.volumeCreate(`v-${i}`, { fields: { pad: 'x'.repeat(40) } });
    await driver.close();
    const checkpoints = (await fs.readdir(meta())).filter((f) => f.startsWith('checkpoint-'));
    expect(checkpoints).toHaveLength(1);
    await fs.rm(meta(checkpoints[0]));
    const before = snapshotDir(root);
    const err = await refusal(new VfsDriver({ root }));
    expect(err.message).toContain(`needs ${meta(checkpoints[0])}, which is missing`);
    expect(snapshotDir(root)).toEqual(before);
  });

  it('creates a journal for a new root, and for one whose only data is already quarantined', async () => {
    await fs.mkdir(path.join(root, 'quarantine', 'by-hand'), { recursive: true });
    await fs.writeFile(path.join(root, 'quarantine', 'by-hand', 'f'), 'kept');
    const driver = new VfsDriver({ root });
    await driver.init();
    expect(await fs.readdir(meta())).toEqual(['journal-000001.log']);
    expect(await driver.quarantined()).toEqual([
      expect.objectContaining({ id: 'by-hand', kind: 'unknown', path: path.join(root, 'quarantine', 'by-hand') }),
    ]);
  });
});

describe('unexplained data is quarantined, listed, and deleted only on request', () => {
  /** A volume whose removal committed but whose directory delete "died": data with a retired ID. */
  async function leftover(): Promise<{ driver: VfsDriver; keep: string; leftId: string }> {
    const { ids } = await withData(['keep', 'left']);
    const driver = new VfsDriver({ root });
    await fs.cp(path.join(root, 'volumes', ids[1]), path.join(spare, 'left'), { recursive: true });
    await driver.volumeRemove(ids[1]);
    await fs.cp(path.join(spare, 'left'), path.join(root, 'volumes', ids[1]), { recursive: true });
    await driver.close();
    return { driver: new VfsDriver({ root }), keep: ids[0], leftId: ids[1] };
  }

  it('quarantines, lists across restarts, purges exactly the one asked for', async () => {
    const { driver, keep, leftId } = await leftover();
    await driver.init();
    const [entry] = await driver.quarantined();
    expect(entry).toMatchObject({ kind: 'volume', originalId: leftId, reason: 'no volume record in the journal' });
    expect(entry.id).toMatch(new RegExp(`^${leftId}-\\d{8}T\\d{6}Z-[0-9a-f]{6}$`));
    expect(await fs.readFile(path.join(entry.path, 'data.txt'), 'utf8')).toBe('data of left');
    expect(Date.parse(entry.quarantinedAt!)).not.toBeNaN();
    // Restarts keep it as it is.
    await driver.close();
    const again = new VfsDriver({ root });
    await again.init();
    expect(await again.quarantined()).toEqual([entry]);
    // A purge of something else deletes nothing.
    await expect(again.purgeQuarantined('no-such-entry')).rejects.toBeInstanceOf(DriverNotFoundError);
    await expect(again.purgeQuarantined('../volumes')).rejects.toBeInstanceOf(DriverNotFoundError);
    expect(await fs.readFile(path.join(entry.path, 'data.txt'), 'utf8')).toBe('data of left');
    expect(await again.purgeQuarantined(entry.id)).toEqual(entry);
    expect(await again.quarantined()).toEqual([]);
    await expect(fs.stat(path.dirname(entry.path))).rejects.toThrow();
    expect(await fs.readFile(path.join(root, 'volumes', keep, 'data.txt'), 'utf8')).toBe('data of keep');
  });

  it('restores a quarantined entry as a volume with a fresh ID and its data', async () => {
    const { driver, leftId } = await leftover();
    await driver.init();
    const [entry] = await driver.quarantined();
    await expect(driver.restoreQuarantined(entry.id, 'KEEP')).rejects.toBeInstanceOf(DriverConflictError);
    const v = await driver.restoreQuarantined(entry.id, 'rescued');
    expect(v.id).not.toBe(leftId);
    expect(v).toMatchObject({ name: 'rescued', size: 1 });
    expect(await fs.readFile(path.join(driver.hostPath(v), 'data.txt'), 'utf8')).toBe('data of left');
    expect(await driver.quarantined()).toEqual([]);
    await driver.close();
    const fresh = new VfsDriver({ root });
    expect((await fresh.volumeInspectByName('rescued'))?.id).toBe(v.id);
  });

  it('a new volume never inherits data left at its ID: it is quarantined first', async () => {
    const driver = new VfsDriver({ root });
    await driver.init();
    // Data appears at the next IDs while the driver runs (as if the journal had lost them).
    await fs.mkdir(path.join(root, 'volumes', 'vfs-000001'));
    await fs.writeFile(path.join(root, 'volumes', 'vfs-000001', 'old.txt'), 'old');
    const v = await driver.volumeCreate('new', {});
    expect(v.id).toBe('vfs-000001');
    expect(await fs.readdir(driver.hostPath(v))).toEqual([]);
    await fs.mkdir(path.join(root, 'volumes', 'vfs-000002'));
    await fs.writeFile(path.join(root, 'volumes', 'vfs-000002', 'older.txt'), 'older');
    const copy = await driver.volumeCopy(v.id, 'copy');
    expect(copy.id).toBe('vfs-000002');
    expect(await fs.readdir(driver.hostPath(copy))).toEqual([]);
    const entries = await driver.quarantined();
    expect(entries.map((e) => [e.originalId, e.reason])).toEqual([
      ['vfs-000001', 'held data when new volume vfs-000001 was created'],
      ['vfs-000002', 'was in the way of new volume vfs-000002'],
    ]);
    expect(await fs.readFile(path.join(entries[0].path, 'old.txt'), 'utf8')).toBe('old');
    expect(await fs.readFile(path.join(entries[1].path, 'older.txt'), 'utf8')).toBe('older');
  });

  it('removes staging copies older than stagingMaxAge (never acknowledged) and keeps younger ones', async () => {
    const driver = new VfsDriver({ root, stagingMaxAgeMs: 60_000 });
    await driver.init();
    const old = path.join(root, 'volumes', '.staging-1-aaaaaaaaaaaa');
    const young = path.join(root, 'snapshots', '.staging-2-bbbbbbbbbbbb');
    for (const dir of [old, young]) {
      await fs.mkdir(dir);
      await fs.writeFile(path.join(dir, 'copy.txt'), 'copy');
    }
    const hourAgo = new Date(Date.now() - 3_600_000);
    await fs.utimes(old, hourAgo, hourAgo);
    await new VfsDriver({ root, stagingMaxAgeMs: 60_000 }).init();
    await expect(fs.stat(old)).rejects.toThrow();
    expect(await fs.readFile(path.join(young, 'copy.txt'), 'utf8')).toBe('copy');
  });

  it('tidies quarantine entries a crash left before their data moved in, and nothing else', async () => {
    const q = path.join(root, 'quarantine');
    await new VfsDriver({ root }).init();
    await fs.mkdir(path.join(q, 'empty-entry'), { recursive: true });
    await fs.mkdir(path.join(q, 'record-only'));
    const record = { schema: 1, kind: 'volume', originalPath: '/x', reason: 'r', quarantinedAt: new Date().toISOString() };
    await fs.writeFile(path.join(q, 'record-only', 'record.json'), JSON.stringify(record));
    await fs.mkdir(path.join(q, 'foreign-record'));
    await fs.writeFile(path.join(q, 'foreign-record', 'record.json'), '{"mine": true}');
    await new VfsDriver({ root }).init();
    expect((await fs.readdir(q)).sort()).toEqual(['foreign-record']);
    expect(await new VfsDriver({ root }).quarantined()).toEqual([expect.objectContaining({ id: 'foreign-record', kind: 'unknown' })]);
  });
});

describe('the root identity and sequence', () => {
  it('are fixed at creation, grow by one per committed entry, survive restarts and compaction', async () => {
    const driver = new VfsDriver({ root, journalCompactBytes: 2048 });
    const first = await driver.backendMark();
    expect(first).toEqual({ rootId: expect.stringMatching(/^[0-9a-f-]{36}$/), sequence: 1, location: root });
    const v = await driver.volumeCreate('a', {});
    await driver.volumeAttach(v.id, { id: 'h' });
    expect((await driver.backendMark()).sequence).toBe(3);
    for (let i = 0; i < 30; i++) await driver.volumeCreate(`pad-${i}`, { fields: { pad: 'x'.repeat(60) } });
    await driver.close();
    expect((await fs.readdir(meta())).some((f) => f.startsWith('checkpoint-'))).toBe(true); // compacted
    const mark = await driver.backendMark();
    expect(mark).toEqual({ ...first, sequence: 33 });
    expect(await new VfsDriver({ root }).backendMark()).toEqual(mark);
  });

  it('shows an older journal that still explains every directory as a lower sequence', async () => {
    const { ids } = await withData(['a']);
    await fs.cp(meta(), path.join(spare, 'meta'), { recursive: true });
    const driver = new VfsDriver({ root });
    const before = await driver.backendMark();
    await driver.volumeAttach(ids[0], { id: 'h' });
    const after = await driver.backendMark();
    await driver.close();
    await fs.rm(meta(), { recursive: true });
    await fs.cp(path.join(spare, 'meta'), meta(), { recursive: true });
    const restored = await new VfsDriver({ root }).backendMark();
    expect(restored).toEqual(before);
    expect(restored.sequence).toBeLessThan(after.sequence);
    expect(restored.rootId).toBe(after.rootId);
  });

  it('binds the root to an installation once; rebinding is a new entry', async () => {
    const driver = new VfsDriver({ root });
    const { sequence } = await driver.backendMark();
    expect(await driver.bindInstallation('inst-1')).toMatchObject({ installationId: 'inst-1', sequence: sequence + 1 });
    expect(await driver.bindInstallation('inst-1')).toMatchObject({ installationId: 'inst-1', sequence: sequence + 1 });
    expect(await new VfsDriver({ root }).backendMark()).toMatchObject({ installationId: 'inst-1' });
    expect(await driver.bindInstallation('inst-2')).toMatchObject({ installationId: 'inst-2', sequence: sequence + 2 });
    await expect(driver.bindInstallation('has space')).rejects.toThrow(/installation ID/);
  });

  it('gives a root written before identities one, keeping everything else', async () => {
    const { ids } = await withData(['a']);
    const lines = (await fs.readFile(journal(), 'utf8')).split('\n');
    expect(Object.keys(JSON.parse(lines[0]) as object)).toEqual(['root']);
    await fs.writeFile(journal(), lines.slice(1).join('\n')); // as an older Polly wrote it
    const driver = new VfsDriver({ root });
    const mark = await driver.backendMark();
    expect(mark.rootId).not.toBe(JSON.parse(lines[0]).root.id);
    expect((await driver.volumes()).map((v) => v.id)).toEqual(ids);
    expect(await new VfsDriver({ root }).backendMark()).toEqual(mark);
  });

  it('reads a checkpoint of the previous schema (no identity, sequence counted from it)', async () => {
    const record = {
      schema: 1,
      id: 'vfs-000004',
      name: 'old',
      size: 1,
      fields: {},
      attachments: [],
      createdAt: '2026-01-01T00:00:00.000Z',
    };
    await fs.mkdir(meta(), { recursive: true });
    await fs.mkdir(path.join(root, 'volumes', 'vfs-000004'), { recursive: true });
    await fs.writeFile(
      meta('checkpoint-000003.json'),
      JSON.stringify({ schema: 2, generation: 3, next: { volume: 5, snapshot: 1 }, volumes: [record], snapshots: [] }),
    );
    await fs.writeFile(journal(3), '');
    const driver = new VfsDriver({ root });
    expect(await driver.backendMark()).toMatchObject({ sequence: 1 }); // its new identity is the first entry counted
    expect((await driver.volumes()).map((v) => v.name)).toEqual(['old']);
  });
});
