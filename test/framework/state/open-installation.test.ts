/**
 * Opening the state store at start, against real LevelDB directories and a real ZooKeeper: a new
 * installation only where nothing says one existed (or with --init); lost, damaged, unmarked or
 * foreign state refused with the paths and the ways out, and nothing created or changed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { exportState, importState } from '../../../framework/storage/backup/export-lines';
import { homeMarkerPath, readHomeMarker } from '../../../framework/state/home-marker';
import { readInstallation } from '../../../framework/state/installation';
import { InstallationRefusedError } from '../../../framework/state/installation-refused-error';
import { INSTALLATION_KEY, SCHEMA_VERSION_KEY } from '../../../framework/state/keys';
import { LevelStore } from '../../../framework/state/level-store';
import { openInstallation, recordImportedInstallation } from '../../../framework/state/open-installation';
import type { Store } from '../../../framework/state/store';
import { ZookeeperStore } from '../../../framework/state/zookeeper/zookeeper-store';
import { snapshotDir } from '../../support/dir-snapshot';
import { useZooKeeperServer } from '../../support/zookeeper-server';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function refusal(promise: Promise<unknown>): Promise<InstallationRefusedError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof InstallationRefusedError)) throw new Error(`expected an InstallationRefusedError, got ${String(err)}`);
  return err;
}

async function keys(store: Store): Promise<Array<[string, unknown]>> {
  const out: Array<[string, unknown]> = [];
  for await (const entry of store.scan('')) out.push(entry);
  return out;
}

describe('openInstallation (LevelDB)', () => {
  let dir: string;
  let home: string;
  let stateDir: string;
  const open: LevelStore[] = [];
  const store = (): LevelStore => {
    const s = new LevelStore(stateDir, { sync: false });
    open.push(s);
    return s;
  };

  beforeEach(async () => {
    dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'polly-installation-'));
    home = path.join(dir, 'home');
    stateDir = path.join(home, 'state');
  });
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
    await fs.promises.rm(dir, { recursive: true, force: true });
  });

  /** A first start that leaves some state behind, closed again; returns the installation ID. */
  const firstStart = async (): Promise<string> => {
    const s = store();
    const opened = await openInstallation(s, { home });
    await s.put('volumes/local~v1', { id: 'local~v1' });
    await s.put('framework/id', { value: 'fw-1' });
    await s.close();
    return opened.installation.id;
  };

  it('a new home becomes a new installation: the store and the home marker name the same ID; the next start opens it', async () => {
    const s = store();
    const first = await openInstallation(s, { home });
    expect(first.created).toBe(true);
    expect(first.installation.id).toMatch(UUID);
    expect(await readInstallation(s)).toEqual(first.installation);
    expect(await readHomeMarker(home)).toEqual({ ...first.installation, store: { backend: 'leveldb', location: stateDir } });
    await s.close();

    const again = await openInstallation(store(), { home });
    expect(again).toEqual({ installation: first.installation, created: false, migrations: [] });
  });

  it('state/CURRENT missing: refused, naming the path and the ways out; the files stay exactly as they were', async () => {
    await firstStart();
    fs.unlinkSync(path.join(stateDir, 'CURRENT'));
    const before = snapshotDir(stateDir);
    const homeBefore = fs.readFileSync(homeMarkerPath(home), 'utf8');
    const err = await refusal(openInstallation(store(), { home }));
    expect(err.reason).toBe('store-damaged');
    expect(err.message).toContain(stateDir);
    expect(err.message).toMatch(/no CURRENT file/);
    expect(err.message).toMatch(/polly state import FILE/);
    expect(snapshotDir(stateDir)).toEqual(before);
    expect(fs.readFileSync(homeMarkerPath(home), 'utf8')).toBe(homeBefore);
    // --init does not paper over it either.
    expect((await refusal(openInstallation(store(), { home, init: true }))).reason).toBe('store-damaged');
    expect(snapshotDir(stateDir)).toEqual(before);
  });

  it('a table file truncated: refused while reading it, naming the store and the ways out; the table is left as it is', async () => {
    await firstStart();
    // Reopened once: LevelDB moves what its log holds into a table file.
    await store().open();
    await open[open.length - 1].close();
    const table = fs.readdirSync(stateDir).find((f) => f.endsWith('.ldb'))!;
    fs.truncateSync(path.join(stateDir, table), 10);
    const cut = fs.readFileSync(path.join(stateDir, table));
    const err = await refusal(openInstallation(store(), { home }));
    expect(err.reason).toBe('store-damaged');
    expect(err.message).toContain(`the leveldb store at ${stateDir} cannot be read (IO error: ${path.join(stateDir, table)}`);
    expect(err.message).toMatch(/Its files were left as they are.*restore the store from a backup.*polly state import FILE/);
    expect(fs.readFileSync(path.join(stateDir, table))).toEqual(cut);
  });

  it('the whole state/ missing while the home marker is there: refused, nothing created', async () => {
    const id = await firstStart();
    fs.rmSync(stateDir, { recursive: true });
    const err = await refusal(openInstallation(store(), { home }));
    expect(err.reason).toBe('store-missing');
    expect(err.message).toContain(stateDir);
    expect(err.message).toContain(homeMarkerPath(home));
    expect(err.message).toContain(id);
    expect(err.message).toMatch(/restore the store from a backup.*polly state import FILE.*polly start --init/);
    expect(fs.existsSync(stateDir)).toBe(false);

    // An empty directory in its place is the same.
    fs.mkdirSync(stateDir);
    expect((await refusal(openInstallation(store(), { home }))).reason).toBe('store-missing');
    expect(fs.readdirSync(stateDir)).toEqual([]);
  });

  it('--init where the store is gone starts a new installation knowingly, and the home marker names it', async () => {
    const old = await firstStart();
    fs.rmSync(stateDir, { recursive: true });
    const s = store();
    const opened = await openInstallation(s, { home, init: true });
    expect(opened.created).toBe(true);
    expect(opened.installation.id).not.toBe(old);
    expect((await readHomeMarker(home))?.id).toBe(opened.installation.id);
  });

  it('--init on an empty home starts', async () => {
    const opened = await openInstallation(store(), { home, init: true });
    expect(opened.created).toBe(true);
    expect((await readHomeMarker(home))?.id).toBe(opened.installation.id);
  });

  it('--init over a store that holds state is refused, and nothing changes', async () => {
    const id = await firstStart();
    const s0 = store();
    await s0.open();
    const before = await keys(s0);
    await s0.close();
    const err = await refusal(openInstallation(store(), { home, init: true }));
    expect(err.reason).toBe('init-over-data');
    expect(err.message).toContain(id);
    const s = store();
    await s.open();
    expect(await keys(s)).toEqual(before);
    expect((await readHomeMarker(home))?.id).toBe(id);
  });

  it('data with no marker at schema 2 is refused (a marker does not just vanish)', async () => {
    await firstStart();
    const s = store();
    await s.open();
    await s.delete(INSTALLATION_KEY);
    await s.close();
    const err = await refusal(openInstallation(store(), { home }));
    expect(err.reason).toBe('marker-missing');
    expect(err.message).toMatch(/schema version 2/);
    expect(err.message).toContain(stateDir);
    // Without the home marker too.
    fs.unlinkSync(homeMarkerPath(home));
    expect((await refusal(openInstallation(store(), { home }))).reason).toBe('marker-missing');
  });

  it('an old store (schema 1, data, no marker) on a home without a marker is migrated and starts', async () => {
    const s = store();
    await s.open();
    await s.put(SCHEMA_VERSION_KEY, { version: 1, updatedAt: '2026-01-01T00:00:00.000Z' });
    await s.put('volumes/local~v1', { id: 'local~v1' });
    await s.close();
    const s2 = store();
    const opened = await openInstallation(s2, { home });
    expect(opened.created).toBe(false);
    expect(opened.migrations).toEqual(['mark the store with an installation ID']);
    expect(await s2.get('volumes/local~v1')).toEqual({ id: 'local~v1' });
    expect((await readHomeMarker(home))?.id).toBe(opened.installation.id);
    expect((await readInstallation(s2))?.id).toBe(opened.installation.id);
  });

  it('an old store while the home names an installation is refused (an older backup, or another installation)', async () => {
    await firstStart();
    const s = store();
    await s.open();
    await s.delete(INSTALLATION_KEY);
    await s.put(SCHEMA_VERSION_KEY, { version: 1, updatedAt: '2026-01-01T00:00:00.000Z' });
    await s.close();
    const err = await refusal(openInstallation(store(), { home }));
    expect(err.reason).toBe('unmarked-store');
    expect(err.message).toContain(`move ${homeMarkerPath(home)} aside`);
  });

  it("another installation's store is refused; moving the home marker aside adopts the store", async () => {
    await firstStart();
    const marker = JSON.parse(fs.readFileSync(homeMarkerPath(home), 'utf8')) as { id: string };
    fs.writeFileSync(homeMarkerPath(home), JSON.stringify({ ...marker, id: '00000000-0000-4000-8000-000000000000' }));
    const err = await refusal(openInstallation(store(), { home }));
    expect(err.reason).toBe('installation-mismatch');
    expect(err.message).toContain('00000000-0000-4000-8000-000000000000');
    expect(err.message).toContain(marker.id);

    fs.renameSync(homeMarkerPath(home), `${homeMarkerPath(home)}.aside`);
    const opened = await openInstallation(store(), { home });
    expect(opened.installation.id).toBe(marker.id);
    expect((await readHomeMarker(home))?.id).toBe(marker.id);
  });

  it('an unreadable home marker stops the start with a message naming it', async () => {
    await firstStart();
    fs.writeFileSync(homeMarkerPath(home), '{"id": ');
    await expect(openInstallation(store(), { home })).rejects.toMatchObject({
      name: 'HomeMarkerError',
      message: expect.stringContaining(`${homeMarkerPath(home)} is unreadable (not JSON)`),
    });
  });

  it('export → remove state/ → import → opens the same installation with every key', async () => {
    const id = await firstStart();
    const s = store();
    await s.open();
    const before = await keys(s);
    const dump = new PassThrough();
    const chunks: Buffer[] = [];
    dump.on('data', (c: Buffer) => chunks.push(c));
    await exportState(s, dump);
    dump.end();
    await s.close();
    expect(Buffer.concat(chunks).toString('utf8')).toContain(`"key":"${INSTALLATION_KEY}"`);

    fs.rmSync(stateDir, { recursive: true });
    expect((await refusal(openInstallation(store(), { home }))).reason).toBe('store-missing');

    const target = store();
    await target.open();
    await importState(target, PassThrough.from([Buffer.concat(chunks).toString('utf8')]));
    const imported = await recordImportedInstallation(target, home);
    expect(imported).toEqual({ installation: expect.objectContaining({ id }), marked: false });
    await target.close();

    const reopened = store();
    const opened = await openInstallation(reopened, { home });
    expect(opened.installation.id).toBe(id);
    const after = await keys(reopened);
    expect(after.map(([k]) => k)).toEqual(before.map(([k]) => k));
    expect(after).toEqual(before);
  });

  it('an export from before markers is marked on import with the home’s installation ID', async () => {
    const id = await firstStart();
    fs.rmSync(stateDir, { recursive: true });
    const target = store();
    await target.open();
    const lines = [
      { key: SCHEMA_VERSION_KEY, value: { version: 1, updatedAt: '2026-01-01T00:00:00.000Z' } },
      { key: 'volumes/local~v1', value: { id: 'local~v1' } },
    ].map((e) => JSON.stringify(e));
    await importState(target, PassThrough.from([lines.join('\n')]));
    expect(await recordImportedInstallation(target, home)).toMatchObject({ installation: { id }, marked: true });
    await target.close();
    const opened = await openInstallation(store(), { home });
    expect(opened.installation.id).toBe(id);
    expect(opened.migrations).toEqual(['mark the store with an installation ID']);
  });
});

describe('openInstallation (ZooKeeper)', () => {
  const server = useZooKeeperServer();
  let dir: string;
  const stores: ZookeeperStore[] = [];
  const zk = (root: string): ZookeeperStore => {
    const s = new ZookeeperStore({ servers: server().connectString, root, sessionTimeoutMs: 4000 });
    stores.push(s);
    return s;
  };

  beforeEach(async () => {
    dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'polly-installation-zk-'));
  });
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    await fs.promises.rm(dir, { recursive: true, force: true });
  });

  it('an empty root while the home marker says this host used it: refused, naming the path', async () => {
    const home = path.join(dir, 'a');
    const first = zk('/polly-lost');
    const opened = await openInstallation(first, { home });
    await first.put('volumes/zk~v1', { id: 'zk~v1' });
    expect((await readHomeMarker(home))?.store).toEqual({ backend: 'zookeeper', location: `${server().connectString}/polly-lost` });
    await first.close();

    // The ensemble lost /polly-lost (a new ensemble, a wiped data dir): same path, nothing in it.
    const wipe = zk('/polly-lost');
    await wipe.open();
    for (const [key] of await keys(wipe)) await wipe.delete(key);
    await wipe.close();

    const err = await refusal(openInstallation(zk('/polly-lost'), { home }));
    expect(err.reason).toBe('store-missing');
    expect(err.message).toContain(`${server().connectString}/polly-lost`);
    expect(err.message).toContain(opened.installation.id);
    const check = zk('/polly-lost');
    await check.open();
    expect(await keys(check)).toEqual([]);
  });

  it('a root with data but no marker is refused', async () => {
    const seed = zk('/polly-unmarked');
    await openInstallation(seed, { home: path.join(dir, 'seed') });
    await seed.put('volumes/zk~v1', { id: 'zk~v1' });
    await seed.delete(INSTALLATION_KEY);
    const err = await refusal(openInstallation(zk('/polly-unmarked'), { home: path.join(dir, 'other') }));
    expect(err.reason).toBe('marker-missing');
    expect(fs.existsSync(homeMarkerPath(path.join(dir, 'other')))).toBe(false);
  });

  it('three instances opening one new root at once end with one installation ID, in the store and in every home', async () => {
    const homes = ['h1', 'h2', 'h3'].map((h) => path.join(dir, h));
    const opened = await Promise.all(homes.map((home) => openInstallation(zk('/polly-race'), { home })));
    const ids = new Set(opened.map((o) => o.installation.id));
    expect(ids.size).toBe(1);
    expect(opened.filter((o) => o.created)).toHaveLength(1);
    const [id] = [...ids];
    for (const home of homes) expect((await readHomeMarker(home))?.id).toBe(id);
    const check = zk('/polly-race');
    await check.open();
    expect((await readInstallation(check))?.id).toBe(id);
  });
});
