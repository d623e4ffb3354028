/**
 * Backup and restore, end to end, as the README's "Backup and restore" section tells an operator:
 * PollyService on the local cluster with its real LevelDB and vfs root, the real `polly state
 * export|import` commands and the real `tar`. Every volume, claim, snapshot and file comes back;
 * nothing is deleted or quarantined; an import that does not add up is refused with every problem
 * named and nothing changed.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { silentLogger } from '../../framework/shared/logger';
import { PollyService } from '../../framework/polly-service';
import { LevelStore } from '../../framework/state/level-store';
import { snapshotDir } from '../support/dir-snapshot';
import { waitFor } from '../support/mesos-http';
import { LocalPollyFixture, startLocalPollyFixture } from '../support/local-polly';
import { runCli } from './cli/run-cli';

interface Json {
  [key: string]: unknown;
}

async function api(base: string, method: string, route: string, body?: unknown): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${base}${route}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Json };
}

/** What a restore must give back: the API's view of volumes, claims and snapshots, and every file under the root's data. */
interface Seen {
  frameworkId: string;
  volumes: Json[];
  claims: Json[];
  snapshots: Json[];
  data: Record<string, string> | undefined;
}

describe('backup and restore', () => {
  let fixture: LocalPollyFixture;
  let service: PollyService | undefined;
  let home: string;
  let stateDir: string;
  let root: string;
  let configFile: string;
  let dump: string;

  beforeEach(async () => {
    fixture = await startLocalPollyFixture('polly-backup-');
    home = path.join(fixture.dir, 'home');
    stateDir = path.join(home, 'state');
    root = path.join(home, 'vfs', 'local');
    configFile = path.join(fixture.dir, 'cli.yml');
    fs.writeFileSync(configFile, `home: ${home}\n`);
    dump = path.join(fixture.dir, 'polly-backup.jsonl');
  });
  afterEach(async () => {
    await service?.stop().catch(() => undefined);
    service = undefined;
    await fixture.dispose();
  });

  const start = async (): Promise<PollyService> => {
    service = await PollyService.start({ config: fixture.config(), logger: silentLogger });
    return service;
  };
  const stop = async (): Promise<void> => {
    await service?.stop();
    service = undefined;
  };
  const refusedStart = async (): Promise<Error> => {
    const err = await PollyService.start({ config: fixture.config(), logger: silentLogger }).then(
      async (s) => {
        await s.stop();
        return undefined;
      },
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(Error);
    return err!;
  };
  const storeContents = async (): Promise<Array<[string, unknown]>> => {
    const store = new LevelStore(stateDir);
    await store.open({ createIfMissing: false });
    try {
      const all: Array<[string, unknown]> = [];
      for await (const entry of store.scan('')) all.push(entry);
      return all;
    } finally {
      await store.close();
    }
  };
  const data = (): Record<string, string> | undefined => {
    const all = { ...snapshotDir(path.join(root, 'volumes')) };
    for (const [k, v] of Object.entries(snapshotDir(path.join(root, 'snapshots')) ?? {})) all[`snapshots/${k}`] = v;
    return all;
  };
  const byId = (list: Json[]): Json[] => [...list].sort((a, b) => String(a.id).localeCompare(String(b.id)));
  const seen = async (s: PollyService): Promise<Seen> => ({
    frameworkId: await waitFor(() => s.scheduler.isSubscribed && s.scheduler.frameworkId, 10_000),
    // `updatedAt` moves when a start re-checks a record; everything else must be as it was.
    volumes: byId((await api(s.apiUrl, 'GET', '/v1/volumes')).body.volumes as Json[]).map((v) => ({ ...v, updatedAt: undefined })),
    claims: byId((await api(s.apiUrl, 'GET', '/v1/claims')).body.claims as Json[]),
    snapshots: byId((await api(s.apiUrl, 'GET', '/v1/snapshots')).body.snapshots as Json[]),
    data: data(),
  });

  /** A run that leaves volumes with files, an attached claim and a snapshot behind; stopped. */
  const firstRun = async (): Promise<Seen> => {
    const s = await start();
    await waitFor(() => s.scheduler.isSubscribed, 10_000);
    const volumes: Json[] = [];
    for (const name of ['db', 'logs', 'cache']) {
      const created = await api(s.apiUrl, 'POST', '/v1/volumes', { service: 'local', name, size: 1, schedulers: ['polly'] });
      expect(created.status).toBe(201);
      volumes.push(created.body);
      const dir = path.join(root, 'volumes', String(created.body.driverVolumeId));
      fs.writeFileSync(path.join(dir, `${name}.txt`), `the ${name} data`);
      fs.mkdirSync(path.join(dir, 'sub'));
      fs.writeFileSync(path.join(dir, 'sub', 'deep.bin'), Buffer.from([0, 1, 2, 255]));
    }
    const agents = (await api(s.apiUrl, 'GET', '/v1/agents')).body.agents as Json[];
    const claim = await api(s.apiUrl, 'POST', '/v1/claims', { volumeId: volumes[0].id, agentId: agents[0].agentId, scheduler: 'polly' });
    expect(claim.status).toBe(201);
    await waitFor(async () => (await api(s.apiUrl, 'GET', `/v1/claims/${String(claim.body.id)}`)).body.state === 'attached', 10_000);
    const snap = await api(s.apiUrl, 'POST', `/v1/volumes/${encodeURIComponent(String(volumes[1].id))}/snapshots`, { name: 'logs-snap' });
    expect(snap.status).toBe(201);
    const before = await seen(s);
    await stop();
    return before;
  };

  const exportState = async (): Promise<void> => {
    const exported = await runCli(['state', 'export', '--config', configFile, '--out', dump]);
    expect(exported).toMatchObject({ code: 0 });
    expect(exported.stderr).toMatch(/exported the metadata of service local \(.*: sequence \d+, 3 volumes\)/);
    const lines = fs.readFileSync(dump, 'utf8').trim().split('\n');
    expect(JSON.parse(lines[0])).toMatchObject({ pollyExport: 2, backend: 'leveldb' });
    expect(JSON.parse(lines[lines.length - 1])).toMatchObject({ backendMetadata: { service: 'local', metadata: { driver: 'vfs' } } });
  };

  /** Starts on the restored state and checks everything is back, nothing deleted, nothing quarantined. */
  const startAndCompare = async (before: Seen): Promise<void> => {
    const s = await start();
    const after = await seen(s);
    expect(after).toEqual(before);
    expect((await api(s.apiUrl, 'GET', '/v1/quarantine')).body.quarantine).toEqual([]);
    // The restored journal agrees with the store: recovery had nothing to repair, detach or report.
    const recovered = s.events.since().events.find((e) => e.type === 'storage.recovered')!.data.report as Json;
    expect(recovered).toMatchObject({
      intentsFinished: 0,
      intentsRolledBack: 0,
      claimsRepaired: 0,
      missingVolumes: 0,
      unexplainedAttachments: 0,
      volumesCorrected: 0,
      actions: [],
    });
    const backend = await s.storage.registry.get('local').driver.volumes();
    expect(backend.map((dv) => [dv.name, dv.attachments.map((a) => a.instanceId.id)])).toEqual(
      before.volumes.map((v) => [v.name, (v.attachments as Json[]).map((a) => a.instanceId)]),
    );
    const quarantine = path.join(root, 'quarantine');
    expect(fs.existsSync(quarantine) ? fs.readdirSync(quarantine).filter((e) => !e.startsWith('.')) : []).toEqual([]);
  };

  it('export → rm -rf state/ and the vfs meta/ (data kept) → import → start: every volume, claim, snapshot and file back', async () => {
    const before = await firstRun();
    await exportState();
    fs.rmSync(stateDir, { recursive: true });
    fs.rmSync(path.join(root, 'meta'), { recursive: true });
    await refusedStart();

    const imported = await runCli(['state', 'import', dump, '--config', configFile]);
    expect(imported.stderr).toMatch(/imported \d+ keys into leveldb/);
    expect(imported.stderr).toContain(`restored the metadata of service local into ${path.join(root, 'meta')}`);
    expect(imported.code).toBe(0);
    await startAndCompare(before);
  });

  it('export → tar of the data → rm -rf state/ and the whole vfs root → restore the data from tar → import → start', async () => {
    const before = await firstRun();
    await exportState(); // export first, then the data: the journal is never older than the catalog
    const tarball = path.join(fixture.dir, 'polly-data.tar');
    execFileSync('tar', ['-C', root, '-cf', tarball, 'volumes', 'snapshots']);
    fs.rmSync(stateDir, { recursive: true });
    fs.rmSync(root, { recursive: true });

    // Importing before the data is back is refused: the volumes would start empty. Nothing is created.
    const early = await runCli(['state', 'import', dump, '--config', configFile]);
    expect(early.code).toBe(1);
    expect(early.stderr).toMatch(/lacks the data of 4 volumes or snapshots .*restore the data into/);
    expect(fs.existsSync(stateDir)).toBe(false);
    expect(fs.existsSync(path.join(root, 'meta'))).toBe(false);

    fs.mkdirSync(root, { recursive: true });
    execFileSync('tar', ['-C', root, '-xf', tarball]);
    const imported = await runCli(['state', 'import', dump, '--config', configFile]);
    expect(imported.code).toBe(0);
    await startAndCompare(before);
  });

  it('only the vfs meta/ lost (store intact): the refused start names `polly state import`, and following it brings everything back', async () => {
    const before = await firstRun();
    await exportState();
    fs.rmSync(path.join(root, 'meta'), { recursive: true });
    const refused = await refusedStart();
    expect(refused.message).toContain('polly state import FILE --force');
    expect(fs.existsSync(path.join(root, 'meta'))).toBe(false);

    const imported = await runCli(['state', 'import', dump, '--config', configFile, '--force']);
    expect(imported.code).toBe(0);
    await startAndCompare(before);
  });

  it('an export older than the store and the data is refused with every problem named, and nothing changes', async () => {
    await firstRun();
    await exportState();
    // Later: another volume, then the vfs meta/ is lost.
    const s = await start();
    await waitFor(() => s.scheduler.isSubscribed, 10_000);
    expect((await api(s.apiUrl, 'POST', '/v1/volumes', { service: 'local', name: 'later', size: 1 })).status).toBe(201);
    await stop();
    fs.rmSync(path.join(root, 'meta'), { recursive: true });
    const state = await storeContents();
    const rootBefore = snapshotDir(root);

    const plain = await runCli(['state', 'import', dump, '--config', configFile]);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toMatch(/already holds state/);
    const forced = await runCli(['state', 'import', dump, '--config', configFile, '--force']);
    expect(forced.code).toBe(1);
    const lines = forced.stderr.trim().split('\n');
    expect(lines[0]).toBe('polly: the import was refused; nothing was changed:');
    // Both problems at once: the catalog has a volume the exported journal lacks, and the root holds data newer than it.
    expect(forced.stderr).toMatch(/lacks 1 volume the catalog manages: later \(vfs-000004\)/);
    expect(forced.stderr).toMatch(/holds data newer than the export .*vfs-000004/);
    // LevelDB rewrites its own files whenever it opens; what it holds is what must not change.
    expect(await storeContents()).toEqual(state);
    expect(snapshotDir(root)).toEqual(rootBefore);
  });
});
