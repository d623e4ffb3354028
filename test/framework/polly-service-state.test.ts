/**
 * Lost state is refused, not recreated: PollyService against the local cluster, with its real
 * LevelDB under the home, and the real `polly state export|import` commands.
 */
import fs from 'node:fs';
import path from 'node:path';
import { silentLogger } from '../../framework/shared/logger';
import { PollyService } from '../../framework/polly-service';
import { homeMarkerPath, readHomeMarker } from '../../framework/state/home-marker';
import { InstallationRefusedError } from '../../framework/state/installation-refused-error';
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

describe('PollyService refuses lost state instead of recreating it', () => {
  let fixture: LocalPollyFixture;
  let service: PollyService | undefined;
  let home: string;
  let stateDir: string;

  beforeEach(async () => {
    fixture = await startLocalPollyFixture('polly-state-safety-');
    home = path.join(fixture.dir, 'home');
    stateDir = path.join(home, 'state');
  });
  afterEach(async () => {
    await service?.stop().catch(() => undefined);
    service = undefined;
    await fixture.dispose();
  });

  const start = async (init?: boolean): Promise<PollyService> => {
    service = await PollyService.start({ config: fixture.config(), logger: silentLogger, init });
    return service;
  };
  const stop = async (): Promise<void> => {
    await service?.stop();
    service = undefined;
  };
  const refused = async (init?: boolean): Promise<InstallationRefusedError> => {
    const err = await PollyService.start({ config: fixture.config(), logger: silentLogger, init }).then(
      async (s) => {
        await s.stop();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InstallationRefusedError);
    return err as InstallationRefusedError;
  };

  /** A first run that leaves volumes, a claim and a framework ID behind; stopped. */
  const firstRun = async (): Promise<{ frameworkId: string; volumes: Json[]; claims: Json[] }> => {
    const s = await start();
    const frameworkId = await waitFor(() => s.scheduler.isSubscribed && s.scheduler.frameworkId, 10_000);
    for (const name of ['data-1', 'data-2', 'data-3']) {
      const created = await api(s.apiUrl, 'POST', '/v1/volumes', { service: 'local', name, size: 1, schedulers: ['polly'] });
      expect(created.status).toBe(201);
    }
    const volumes = (await api(s.apiUrl, 'GET', '/v1/volumes')).body.volumes as Json[];
    const agents = (await api(s.apiUrl, 'GET', '/v1/agents')).body.agents as Json[];
    const claim = await api(s.apiUrl, 'POST', '/v1/claims', { volumeId: volumes[0].id, agentId: agents[0].agentId, scheduler: 'polly' });
    expect(claim.status).toBe(201);
    await waitFor(async () => (await api(s.apiUrl, 'GET', `/v1/claims/${String(claim.body.id)}`)).body.state === 'attached', 10_000);
    const claims = (await api(s.apiUrl, 'GET', '/v1/claims')).body.claims as Json[];
    await stop();
    return { frameworkId, volumes, claims };
  };

  it('state/CURRENT missing: the start is refused with the paths and the ways out, and the state files are unchanged', async () => {
    await firstRun();
    fs.unlinkSync(path.join(stateDir, 'CURRENT'));
    const before = snapshotDir(stateDir);
    const err = await refused();
    expect(err.reason).toBe('store-damaged');
    expect(err.message).toContain(stateDir);
    expect(err.message).toMatch(/restore the store from a backup/);
    expect(snapshotDir(stateDir)).toEqual(before);
  });

  it('the whole state/ missing with the home marker present: refused; --init then starts a new installation knowingly', async () => {
    const first = await firstRun();
    const oldId = (await readHomeMarker(home))!.id;
    fs.rmSync(stateDir, { recursive: true });
    const err = await refused();
    expect(err.reason).toBe('store-missing');
    expect(err.message).toContain(homeMarkerPath(home));
    expect(err.message).toContain('polly start --init');
    expect(fs.existsSync(stateDir)).toBe(false);

    const s = await start(true);
    const frameworkId = await waitFor(() => s.scheduler.isSubscribed && s.scheduler.frameworkId, 10_000);
    expect(frameworkId).not.toBe(first.frameworkId);
    expect((await readHomeMarker(home))!.id).not.toBe(oldId);
  });

  it('--init on an empty home starts; --init over existing data is refused and changes nothing', async () => {
    const s = await start(true);
    await waitFor(() => s.scheduler.isSubscribed && s.scheduler.frameworkId, 10_000);
    expect((await api(s.apiUrl, 'POST', '/v1/volumes', { service: 'local', name: 'kept', size: 1 })).status).toBe(201);
    await stop();
    const marker = fs.readFileSync(homeMarkerPath(home), 'utf8');

    const err = await refused(true);
    expect(err.reason).toBe('init-over-data');
    expect(fs.readFileSync(homeMarkerPath(home), 'utf8')).toBe(marker);
    // Without --init it is the same installation, with its volume.
    const again = await start();
    expect((await api(again.apiUrl, 'GET', '/v1/volumes')).body.volumes).toEqual([expect.objectContaining({ name: 'kept' })]);
  });

  it('export → remove state/ → import → start gives every volume and claim back, with the same framework ID', async () => {
    const first = await firstRun();
    const configFile = path.join(fixture.dir, 'cli.yml');
    fs.writeFileSync(configFile, `home: ${home}\n`);
    const dump = path.join(fixture.dir, 'polly-state.jsonl');
    const exported = await runCli(['state', 'export', '--config', configFile, '--out', dump]);
    expect(exported).toMatchObject({ code: 0 });
    expect(fs.readFileSync(dump, 'utf8')).toContain('"key":"meta/installation"');

    fs.rmSync(stateDir, { recursive: true });
    expect((await refused()).reason).toBe('store-missing');
    // Exporting what is not there creates nothing in its place.
    const missing = await runCli(['state', 'export', '--config', configFile, '--out', path.join(fixture.dir, 'none.jsonl')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/does not exist/);
    expect(fs.existsSync(stateDir)).toBe(false);
    expect(fs.existsSync(path.join(fixture.dir, 'none.jsonl'))).toBe(false);

    const imported = await runCli(['state', 'import', dump, '--config', configFile]);
    expect(imported).toMatchObject({ code: 0 });
    expect(imported.stderr).toContain(`(installation ${(await readHomeMarker(home))!.id})`);

    const s = await start();
    const frameworkId = await waitFor(() => s.scheduler.isSubscribed && s.scheduler.frameworkId, 10_000);
    expect(frameworkId).toBe(first.frameworkId);
    const volumes = (await api(s.apiUrl, 'GET', '/v1/volumes')).body.volumes as Json[];
    const claims = (await api(s.apiUrl, 'GET', '/v1/claims')).body.claims as Json[];
    const ids = (list: Json[]): unknown[] => list.map((v) => v.id).sort();
    expect(ids(volumes)).toEqual(ids(first.volumes));
    expect(ids(claims)).toEqual(ids(first.claims));
    expect(claims.map((c) => c.state)).toEqual(first.claims.map((c) => c.state));
  });
});
