/**
 * The vfs metadata journal through the driver: torn tails, corruption, compaction and its seal,
 * a compaction that died half-way, readers in other driver instances, and importing a root of the
 * first (file-per-record) format.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { VfsDriver } from '../../../drivers/vfs/vfs-driver';

let root: string;
const A = { id: 'agent-a' };

beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'polly-vfs-journal-'));
});

afterEach(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

const meta = (f = ''): string => path.join(root, 'meta', f);
const journal = (gen = 1): string => meta(`journal-${String(gen).padStart(6, '0')}.log`);
const checkpoint = (gen: number): string => meta(`checkpoint-${String(gen).padStart(6, '0')}.json`);

function quietDriver(extra: Partial<ConstructorParameters<typeof VfsDriver>[0]> = {}): { driver: VfsDriver; warnings: string[] } {
  const warnings: string[] = [];
  const logger = { debug: () => undefined, info: () => undefined, warn: (m: string) => warnings.push(m), error: (m: string) => warnings.push(m) };
  return { driver: new VfsDriver({ root, logger, ...extra }), warnings };
}

describe('vfs journal', () => {
  it('cuts a torn tail (a crash mid-append) and keeps every complete entry before it', async () => {
    const first = new VfsDriver({ root });
    const a = await first.volumeCreate('a', {});
    await first.volumeAttach(a.id, A);
    const size = (await fs.stat(journal())).size;
    await fs.appendFile(journal(), '{"volume":{"id":"vfs-000002","na'); // no newline: torn
    const { driver, warnings } = quietDriver();
    await driver.init();
    expect(warnings).toContain('cutting a torn vfs journal tail');
    expect((await fs.stat(journal())).size).toBe(size);
    expect((await driver.volumes()).map((v) => [v.name, v.attachments.map((x) => x.instanceId.id)])).toEqual([['a', ['agent-a']]]);
    expect((await driver.volumeCreate('b', {})).id).toBe('vfs-000002');
    expect((await fs.readFile(journal(), 'utf8')).endsWith('\n')).toBe(true);
  });

  it('a reader without the lock ignores a partial line until it is complete', async () => {
    const writer = new VfsDriver({ root });
    await writer.volumeCreate('a', {});
    const reader = new VfsDriver({ root });
    await reader.init(); // (init holds the lock: a partial line then would be a crash's, and cut)
    const line = `${JSON.stringify({ volume: { ...(await writer.volumeInspect('vfs-000001')), id: 'vfs-000002', name: 'b', schema: 1, attachments: [] } })}\n`;
    await fs.appendFile(journal(), line.slice(0, 20));
    expect((await reader.volumes()).map((v) => v.name)).toEqual(['a']);
    await fs.appendFile(journal(), line.slice(20));
    expect((await reader.volumes()).map((v) => v.name)).toEqual(['a', 'b']);
  });

  it('refuses a malformed line followed by valid ones instead of cutting acknowledged changes', async () => {
    const first = new VfsDriver({ root });
    await first.volumeCreate('a', {});
    const lines = (await fs.readFile(journal(), 'utf8')).split('\n');
    await first.volumeCreate('b', {});
    const text = await fs.readFile(journal(), 'utf8');
    await fs.writeFile(journal(), text.replace(lines[0], `${lines[0].slice(0, 10)}#garbage`));
    const again = new VfsDriver({ root });
    await expect(again.volumeCreate('c', {})).rejects.toThrow(/corrupt vfs journal .* repair it by hand/);
    expect(await fs.readFile(journal(), 'utf8')).toContain('#garbage'); // nothing cut
  });

  it('compacts into a checkpoint, and every reader follows: in memory, after deletion, and from scratch', async () => {
    const { driver } = quietDriver({ journalCompactBytes: 4096 });
    await driver.init();
    const stale = new VfsDriver({ root }); // read once at generation 1, then left behind
    await stale.volumes();
    for (let i = 0; i < 40; i++) {
      const v = await driver.volumeCreate(`v-${i}`, { fields: { padding: 'x'.repeat(40) } });
      if (i % 2 === 0) await driver.volumeAttach(v.id, A);
    }
    const files = await fs.readdir(meta());
    const gens = files.map((f) => Number(/-(\d+)\./.exec(f)?.[1])).sort((x, y) => x - y);
    expect(gens[0]).toBeGreaterThan(1); // compacted at least once; older generations deleted
    expect(files.filter((f) => f.startsWith('journal-'))).toHaveLength(1);
    expect(files.filter((f) => f.startsWith('checkpoint-'))).toHaveLength(1);
    const expected = (await driver.volumes()).map((v) => [v.id, v.name, v.attachments.length]);
    expect(expected).toHaveLength(40);
    expect((await stale.volumes()).map((v) => [v.id, v.name, v.attachments.length])).toEqual(expected);
    const fresh = new VfsDriver({ root });
    expect((await fresh.volumes()).map((v) => [v.id, v.name, v.attachments.length])).toEqual(expected);
    expect((await fresh.volumeCreate('next', {})).id).toBe('vfs-000041');
  });

  it('keeps IDs of removed volumes retired across a compaction', async () => {
    const { driver } = quietDriver({ journalCompactBytes: 1024 });
    for (let i = 0; i < 10; i++) await driver.volumeRemove((await driver.volumeCreate(`gone-${i}`, {})).id);
    expect(await fs.readdir(meta())).not.toContain('journal-000001.log');
    const fresh = new VfsDriver({ root });
    expect(await fresh.volumes()).toEqual([]);
    expect((await fresh.volumeCreate('new', {})).id).toBe('vfs-000011');
  });

  it('ignores and removes a compaction that died before its seal', async () => {
    const first = new VfsDriver({ root });
    const a = await first.volumeCreate('a', {});
    const reader = new VfsDriver({ root });
    await reader.init();
    // Checkpoint 2 and journal 2 written, journal 1 never sealed: generation 1 is still current.
    await fs.writeFile(checkpoint(2), JSON.stringify({ schema: 2, generation: 2, next: { volume: 50, snapshot: 1 }, volumes: [], snapshots: [] }));
    await fs.writeFile(journal(2), '');
    expect((await reader.volumes()).map((v) => v.id)).toEqual([a.id]);
    const { driver, warnings } = quietDriver();
    await driver.init(); // loads from the oldest journal, finds no seal: generation 1
    expect(warnings).toContain('removed stale vfs journal files');
    expect((await driver.volumes()).map((v) => v.id)).toEqual([a.id]);
    expect((await fs.readdir(meta())).sort()).toEqual(['journal-000001.log']);
    expect((await driver.volumeCreate('b', {})).id).toBe('vfs-000002');
  });

  it('makes the data directory of a volume whose create died after committing its record', async () => {
    const first = new VfsDriver({ root });
    const v = await first.volumeCreate('v', {});
    await fs.rm(path.join(root, 'volumes', v.id), { recursive: true });
    const { driver, warnings } = quietDriver();
    await driver.init();
    expect(warnings).toContain('making the missing data directory of a vfs volume');
    expect((await fs.stat(driver.hostPath(v))).isDirectory()).toBe(true);
  });

  it('retires the ID of a copy before putting its directory in place', async () => {
    const driver = new VfsDriver({ root });
    const v = await driver.volumeCreate('v', {});
    const copy = await driver.volumeCopy(v.id, 'copy');
    const lines = (await fs.readFile(journal(), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.slice(-2)).toEqual([{ next: { volume: 3, snapshot: 1 } }, { volume: expect.objectContaining({ id: copy.id, name: 'copy' }) }]);
  });

  it('a second driver instance (another process, as far as files go) sees changes without the lock', async () => {
    const a = new VfsDriver({ root });
    const b = new VfsDriver({ root });
    const v = await a.volumeCreate('shared', {});
    expect((await b.volumeInspectByName('SHARED'))?.id).toBe(v.id);
    await a.volumeAttach(v.id, A);
    expect((await b.volumeInspect(v.id)).attachments.map((x) => x.instanceId.id)).toEqual(['agent-a']);
    await b.volumeRemove(v.id, { force: true });
    expect(await a.volumes()).toEqual([]);
  });
});

describe('vfs roots of the first format', () => {
  it('imports file-per-record metadata once, keeping data, attachments and retired IDs', async () => {
    const volumes = path.join(root, 'volumes');
    await fs.mkdir(path.join(volumes, 'vfs-000003', 'data', 'data'), { recursive: true });
    await fs.writeFile(path.join(volumes, 'vfs-000003', 'data', 'kept.txt'), 'kept');
    // A user folder that happens to be called "data" stays where it is, one level down.
    await fs.writeFile(path.join(volumes, 'vfs-000003', 'data', 'data', 'inner.txt'), 'inner');
    const attachment = { volumeId: 'vfs-000003', instanceId: { id: 'node1' }, readOnly: false, status: 'attached' };
    const record = { schema: 1, id: 'vfs-000003', name: 'Old', size: 2, fields: {}, attachments: [attachment], createdAt: '2026-11-24T00:00:00.000Z' };
    await fs.writeFile(path.join(volumes, 'vfs-000003.json'), JSON.stringify(record, null, 2));
    await fs.mkdir(path.join(root, 'snapshots', 'vfs-snap-000001'), { recursive: true });
    const snap = { schema: 1, id: 'vfs-snap-000001', name: 's', volumeId: 'vfs-000003', volumeSize: 2, startTime: 'x', status: 'online', fields: {} };
    await fs.writeFile(path.join(root, 'snapshots', 'vfs-snap-000001.json'), JSON.stringify(snap));
    await fs.mkdir(path.join(root, 'names'));
    await fs.writeFile(path.join(root, 'names', 'abc'), '{"id":"vfs-000003","name":"Old"}');
    await fs.writeFile(path.join(root, 'next-id'), '{"volume":9,"snapshot":4}');

    const driver = new VfsDriver({ root });
    await driver.init();
    expect(await driver.volumeInspectByName('old')).toMatchObject({ id: 'vfs-000003', size: 2, attachments: [{ instanceId: { id: 'node1' } }] });
    const host = driver.hostPath(await driver.volumeInspect('vfs-000003'));
    expect(host).toBe(path.join(volumes, 'vfs-000003'));
    expect(await fs.readFile(path.join(host, 'kept.txt'), 'utf8')).toBe('kept');
    expect(await fs.readFile(path.join(host, 'data', 'inner.txt'), 'utf8')).toBe('inner');
    expect((await driver.snapshots()).map((s) => s.id)).toEqual(['vfs-snap-000001']);
    for (const gone of ['names', 'next-id', 'volumes/vfs-000003.json', 'snapshots/vfs-snap-000001.json']) {
      await expect(fs.stat(path.join(root, gone))).rejects.toThrow();
    }
    expect((await driver.volumeCreate('new', {})).id).toBe('vfs-000009');
    expect((await driver.volumeSnapshot('vfs-000003', 's2')).id).toBe('vfs-snap-000004');
    // Once only: a second start imports nothing, moves nothing and changes nothing.
    const before = await fs.readFile(journal(), 'utf8');
    await new VfsDriver({ root }).init();
    expect(await fs.readFile(journal(), 'utf8')).toBe(before);
    expect(await fs.readFile(path.join(host, 'data', 'inner.txt'), 'utf8')).toBe('inner');
  });

  it('finishes a move that a crash interrupted, without touching a user folder named data', async () => {
    const volumes = path.join(root, 'volumes');
    const record = { schema: 1, id: 'vfs-000001', name: 'v', size: 1, fields: {}, attachments: [], createdAt: '2026-11-24T00:00:00.000Z' };
    // Imported into the journal, data renamed aside (step 1), then the process died.
    const first = new VfsDriver({ root });
    await first.init();
    await fs.appendFile(journal(), `${JSON.stringify({ volume: record })}\n`);
    await fs.writeFile(path.join(volumes, 'vfs-000001.json'), JSON.stringify(record));
    await fs.mkdir(path.join(volumes, 'vfs-000001'));
    await fs.mkdir(path.join(volumes, '.flatten-vfs-000001', 'data'), { recursive: true });
    await fs.writeFile(path.join(volumes, '.flatten-vfs-000001', 'data', 'mine.txt'), 'mine');
    const { driver, warnings } = quietDriver();
    await driver.init();
    expect(warnings).toContain('finishing an interrupted move of a vfs volume to the current layout');
    expect(await fs.readFile(path.join(volumes, 'vfs-000001', 'data', 'mine.txt'), 'utf8')).toBe('mine');
    expect((await fs.readdir(volumes)).sort()).toEqual(['vfs-000001']);
  });
});
