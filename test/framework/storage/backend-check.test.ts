/**
 * The store and the vfs root check each other before recovery: a removed, truncated or older
 * journal, a replaced root, a catalog ahead of the journal and a root of another installation are
 * refused with a BackendMismatchError naming the service, the root, what was recorded and found and
 * the way out, and nothing changes (every data file and every store record stays as it was).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { BackendMismatchError } from '../../../framework/errors/backend-mismatch-error';
import { backendKey, INSTALLATION_KEY } from '../../../framework/state/keys';
import type { BackendMarkRecord, BackendProblem } from '../../../framework/storage/backend-check';
import { Fixture, makeFixture } from './storage-fixture';
import { snapshotDir } from '../../support/dir-snapshot';

let fixtures: Fixture[] = [];
afterEach(async () => {
  for (const f of fixtures) await f.dispose();
  fixtures = [];
});

async function fixture(options: Parameters<typeof makeFixture>[0] = {}): Promise<Fixture> {
  const f = await makeFixture(options);
  fixtures.push(f);
  return f;
}


/** Every key and value of the store. */
async function storeDump(f: Fixture): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for await (const [key, value] of f.store.scan('')) out[key] = value;
  return out;
}

/** A started fixture with two volumes holding a file each, one of them claimed; then closed. */
async function populated(): Promise<{ f: Fixture; ids: string[] }> {
  const f = await fixture();
  const ids: string[] = [];
  for (const name of ['alpha', 'beta']) {
    const v = await f.storage.catalog.create({ service: 'local', name, size: 1, scheduler: 'm' });
    await fs.writeFile(path.join(f.vfsRoot(), 'volumes', v.driverVolumeId, 'file.txt'), `${name} data`);
    ids.push(v.id);
  }
  await f.storage.ledger.claim({ volumeId: ids[0], scheduler: 'm', agentId: 'a1', instanceId: 'h1' });
  await f.close();
  return { f, ids };
}

/** Starts a second fixture on the first one's dirs and expects the refusal; checks nothing changed. */
async function refusedRestart(first: Fixture, options: Parameters<typeof makeFixture>[0] = {}): Promise<BackendMismatchError> {
  const reader = await makeFixture({ dir: first.dir, start: false, ...options });
  await reader.store.open();
  const storeBefore = await storeDump(reader);
  await reader.store.close();
  const treeBefore = snapshotDir(first.home);
  const again = await fixture({ dir: first.dir, start: false, ...options });
  const err = await again.storage.start().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BackendMismatchError);
  await again.close();
  expect(snapshotDir(first.home)).toEqual(treeBefore);
  const after = await makeFixture({ dir: first.dir, start: false, ...options });
  await after.store.open();
  expect(await storeDump(after)).toEqual(storeBefore);
  await after.store.close();
  return err as BackendMismatchError;
}

const problems = (err: BackendMismatchError): BackendProblem[] => (err.details as { problems: BackendProblem[] }).problems;
const meta = (f: Fixture, file = ''): string => path.join(f.vfsRoot(), 'meta', file);

describe('backend check', () => {
  it('records the root mark at start and again at a clean stop', async () => {
    const f = await fixture();
    const first = await f.store.get<BackendMarkRecord>(backendKey('local'));
    // Two entries: the root's identity and its binding to the store's installation.
    expect(first).toEqual({
      rootId: expect.any(String),
      sequence: 2,
      installationId: expect.any(String),
      location: f.vfsRoot(),
      checkedAt: expect.any(String),
    });
    await f.storage.catalog.create({ service: 'local', name: 'v', size: 1 });
    await f.storage.stop();
    const second = await f.store.get<BackendMarkRecord>(backendKey('local'));
    expect(second).toMatchObject({ rootId: first!.rootId, sequence: 3 });
  });

  it('records the mark on a timer while running', async () => {
    const f = await fixture({ start: false, backendMarkEveryMs: 10 });
    await f.storage.start();
    const key = backendKey('local');
    const { sequence } = (await f.store.get<BackendMarkRecord>(key))!;
    await f.storage.catalog.create({ service: 'local', name: 'v', size: 1 });
    // The timer records what the previous tick saw: wait for it (bounded by the test's own timeout).
    while ((await f.store.get<BackendMarkRecord>(key))!.sequence === sequence) await new Promise((r) => setTimeout(r, 10));
    expect((await f.store.get<BackendMarkRecord>(key))!.sequence).toBe(sequence + 1);
  });

  it('refuses a removed journal and deletes nothing', async () => {
    const { f } = await populated();
    await fs.rm(meta(f, 'journal-000001.log'));
    const err = await refusedRestart(f);
    expect(problems(err).map((p) => [p.service, p.kind, p.location])).toEqual([['local', 'refused', f.vfsRoot()]]);
    expect(err.message).toContain(`Storage service "local": vfs root ${f.vfsRoot()} holds volume data`);
    expect(err.message).toContain('polly state import');
  });

  it('refuses a truncated journal (the last changes cut) and deletes nothing', async () => {
    const { f } = await populated();
    const lines = (await fs.readFile(meta(f, 'journal-000001.log'), 'utf8')).split('\n');
    // Cut the attach (the last entry): every directory is still explained, only the sequence shows it.
    await fs.writeFile(meta(f, 'journal-000001.log'), `${lines.slice(0, -2).join('\n')}\n`);
    const err = await refusedRestart(f);
    const [p] = problems(err);
    expect(p).toMatchObject({ service: 'local', kind: 'older', location: f.vfsRoot(), found: { sequence: 4 }, recorded: { sequence: 5 } });
    expect(err.message).toContain(
      `the journal of vfs root ${f.vfsRoot()} is older than Polly's records: it is at sequence 4, Polly recorded 5`,
    );
    expect(err.message).toContain(
      `Restore ${f.vfsRoot()}/meta from a backup at least as new, or load an export taken at least as late with \`polly state import FILE --force\``,
    );
    expect(err.message).toContain('never start Polly on an older journal');
  });

  it('refuses an older copy of meta/ and starts again once the right one is back, with every volume and file', async () => {
    const { f, ids } = await populated();
    const backup = path.join(f.dir, 'meta-backup');
    await fs.cp(meta(f), backup, { recursive: true });
    const again = await fixture({ dir: f.dir, start: false });
    await again.storage.start();
    await again.storage.ledger.release(again.storage.ledger.list({ live: true })[0].id);
    await again.close();
    const newer = path.join(f.dir, 'meta-newer');
    await fs.cp(meta(f), newer, { recursive: true });
    await fs.rm(meta(f), { recursive: true });
    await fs.cp(backup, meta(f), { recursive: true });
    const err = await refusedRestart(f);
    expect(problems(err)[0].kind).toBe('older');
    // The way out: the journal as new as the store.
    await fs.rm(meta(f), { recursive: true });
    await fs.cp(newer, meta(f), { recursive: true });
    const ok = await fixture({ dir: f.dir, start: false });
    const report = await ok.storage.start();
    expect(report).toMatchObject({ missingVolumes: 0, claimsOnMissingVolumes: 0 });
    for (const [i, id] of ids.entries()) {
      const v = ok.storage.catalog.get(id);
      expect(v.status).toBe('available');
      expect(await fs.readFile(path.join(ok.vfsRoot(), 'volumes', v.driverVolumeId, 'file.txt'), 'utf8')).toBe(
        `${['alpha', 'beta'][i]} data`,
      );
    }
  });

  it('refuses a replaced root (another directory at the configured path)', async () => {
    const { f } = await populated();
    const moved = `${f.vfsRoot()}.old`;
    await fs.rename(f.vfsRoot(), moved);
    const again = await fixture({ dir: f.dir, start: false });
    const err = (await again.storage.start().then(
      () => undefined,
      (e: unknown) => e,
    )) as BackendMismatchError;
    expect(err).toBeInstanceOf(BackendMismatchError);
    expect(problems(err)[0]).toMatchObject({ kind: 'replaced', location: f.vfsRoot() });
    expect(err.message).toContain(`the vfs root ${f.vfsRoot()} is not the one Polly recorded`);
    await again.close();
    expect(await fs.readFile(path.join(moved, 'volumes', 'vfs-000001', 'file.txt'), 'utf8')).toBe('alpha data');
    // The way out: the right root back at its path.
    await fs.rm(f.vfsRoot(), { recursive: true });
    await fs.rename(moved, f.vfsRoot());
    const ok = await fixture({ dir: f.dir, start: false });
    await ok.storage.start();
  });

  it('without a record yet (a store written before marks): refuses a journal behind the catalog, naming the volumes', async () => {
    const { f, ids } = await populated();
    const backup = path.join(f.dir, 'meta-backup');
    await fs.cp(meta(f), backup, { recursive: true });
    const again = await fixture({ dir: f.dir, start: false });
    await again.storage.start();
    const late = await again.storage.catalog.create({ service: 'local', name: 'gamma', size: 1 });
    await again.close();
    // An older journal, the newer volume's directory lost with it, and a store from before marks.
    await fs.rm(meta(f), { recursive: true });
    await fs.cp(backup, meta(f), { recursive: true });
    await fs.rm(path.join(f.vfsRoot(), 'volumes', late.driverVolumeId), { recursive: true });
    const reader = await makeFixture({ dir: f.dir, start: false });
    await reader.store.open();
    await reader.store.delete(backendKey('local'));
    await reader.store.close();
    const err = await refusedRestart(f);
    expect(problems(err)[0]).toMatchObject({ kind: 'behind-catalog', volumes: [late.id] });
    expect(err.message).toContain(`1 volume Polly manages is not in the vfs root ${f.vfsRoot()}: gamma (${late.driverVolumeId})`);
    expect(ids).toHaveLength(2);
  });

  it('without a record yet and nothing behind: starts and records the mark (an upgrade)', async () => {
    const { f } = await populated();
    const reader = await makeFixture({ dir: f.dir, start: false });
    await reader.store.open();
    await reader.store.delete(backendKey('local'));
    await reader.store.close();
    const again = await fixture({ dir: f.dir, start: false });
    await again.storage.start();
    expect(await again.store.get(backendKey('local'))).toMatchObject({ sequence: 5 });
  });

  it('binds the root to the store installation; another installation is refused, and adopts it with adoptBackends', async () => {
    const f = await fixture({ start: false });
    await f.store.open();
    await f.store.put(INSTALLATION_KEY, { id: 'inst-A', createdAt: new Date().toISOString() });
    await f.storage.start();
    expect(await f.store.get(backendKey('local'))).toMatchObject({ installationId: 'inst-A' });
    expect(await f.drivers.get('local')!.backendMark!()).toMatchObject({ installationId: 'inst-A' });
    const v = await f.storage.catalog.create({ service: 'local', name: 'v', size: 1 });
    await fs.writeFile(path.join(f.vfsRoot(), 'volumes', v.driverVolumeId, 'f'), 'kept');
    await f.close();

    // A new store (another installation) pointed at the same root.
    const services = [{ name: 'local', driver: 'vfs' as const, vfs: { root: f.vfsRoot() } }];
    const other = await fixture({ start: false, services });
    await other.store.open();
    await other.store.put(INSTALLATION_KEY, { id: 'inst-B', createdAt: new Date().toISOString() });
    const treeBefore = snapshotDir(f.vfsRoot());
    const err = (await other.storage.start().then(
      () => undefined,
      (e: unknown) => e,
    )) as BackendMismatchError;
    expect(err).toBeInstanceOf(BackendMismatchError);
    expect(problems(err)[0]).toMatchObject({ kind: 'foreign', found: { installationId: 'inst-A' } });
    expect(err.message).toContain('belongs to another Polly installation (inst-A; this store is installation inst-B)');
    expect(err.message).toContain('polly start --init');
    await other.close();
    expect(snapshotDir(f.vfsRoot())).toEqual(treeBefore);

    const adopting = await fixture({ dir: other.dir, start: false, services, adoptBackends: true });
    await adopting.storage.start();
    expect(await adopting.drivers.get('local')!.backendMark!()).toMatchObject({ installationId: 'inst-B' });
    expect(await adopting.store.get(backendKey('local'))).toMatchObject({ installationId: 'inst-B' });
    // The data is all there, as an unmanaged volume of the new installation.
    expect((await adopting.storage.catalog.listUnmanaged('local')).map((u) => u.name)).toEqual(['v']);
    expect(await fs.readFile(path.join(f.vfsRoot(), 'volumes', v.driverVolumeId, 'f'), 'utf8')).toBe('kept');
  });

  it('names every refused service at once', async () => {
    const services = [
      { name: 'one', driver: 'vfs' as const },
      { name: 'two', driver: 'vfs' as const },
    ];
    const f = await fixture({ services });
    for (const s of ['one', 'two']) {
      const v = await f.storage.catalog.create({ service: s, name: 'v', size: 1 });
      expect(v.service).toBe(s);
    }
    await f.close();
    for (const s of ['one', 'two']) await fs.rm(path.join(f.vfsRoot(s), 'meta'), { recursive: true });
    const err = await refusedRestart(f, { services });
    expect(
      problems(err)
        .map((p) => p.service)
        .sort(),
    ).toEqual(['one', 'two']);
    expect(err.message).toMatch(/Storage service "one": .*Storage service "two": /s);
  });
});
