/**
 * Realistic Marathon app definitions (test/support/marathon-apps: an export with every default,
 * Docker and UCR images, REX-Ray parameters, Marathon dvdi volumes, per-instance polly volumes, the
 * legacy DVDI_VOLUME_* variables, a Portworx inline spec, health checks, fixed ports, fetch and user),
 * each posted over HTTP to Polly on the local cluster and run end to end: accepted with the warnings
 * it should get, running (and healthy), its volumes claimed by Polly and fenced when their agent is
 * removed, its secrets nowhere; then deleted with nothing left behind. The CLI's update, restart and
 * kill run against the same real Polly; bad definitions get every problem in one answer.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../../framework/shared/logger';
import { PollyService } from '../../../framework/polly-service';
import { waitFor } from '../../support/mesos-http';
import { startLocalPollyFixture, type LocalPollyFixture } from '../../support/local-polly';
import { runCli } from '../cli/run-cli';

jest.setTimeout(180000);

type Json = Record<string, unknown>;

const FIXTURES = path.join(__dirname, '../../support/marathon-apps');
const SECRET = 'pw-dont-log-me-4711';

interface TaskView {
  id: string;
  state: string;
  healthy?: boolean;
  instance: number;
  agentId: string;
  hostname: string;
  ports?: number[];
  volumes: Array<{ name: string; volumeId?: string; claimId?: string; containerPath: string }>;
}

interface AppView {
  id: string;
  instances: number;
  warnings: string[];
  tasks: TaskView[];
  healthChecks?: unknown[];
  env?: Record<string, string>;
}

/** A logger that keeps every entry, to look for secrets in. */
function capturingLogger(lines: string[]): Logger {
  const log =
    (level: string) =>
    (message: string, fields?: Record<string, unknown>): void => {
      lines.push(JSON.stringify({ level, message, ...(fields ?? {}) }));
    };
  const logger: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), child: () => logger };
  return logger;
}

function fixture(name: string, vars: Record<string, string> = {}): Json {
  let text = fs.readFileSync(path.join(FIXTURES, name), 'utf8');
  for (const [key, value] of Object.entries(vars)) text = text.split(`{{${key}}}`).join(value);
  return JSON.parse(text) as Json;
}

describe('realistic Marathon apps, end to end on the local cluster', () => {
  let f: LocalPollyFixture;
  let service: PollyService | undefined;
  let logs: string[];

  beforeEach(async () => {
    f = await startLocalPollyFixture('polly-marathon-apps-', { imageTasks: 'host' });
    logs = [];
  });

  afterEach(async () => {
    await service?.stop().catch(() => undefined);
    service = undefined;
    await f.dispose();
  });

  async function start(): Promise<PollyService> {
    service = await PollyService.start({
      config: f.config({ 'scheduler.volumeDrivers': { rexray: 'local', polly: 'local', pxd: 'local' } }),
      logger: capturingLogger(logs),
    });
    await waitFor(() => service?.scheduler.isSubscribed, 10000);
    return service;
  }

  async function call(method: string, route: string, body?: unknown): Promise<{ status: number; json: Json }> {
    const res = await fetch(`${service!.apiUrl}${route}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, json: text ? (JSON.parse(text) as Json) : {} };
  }

  const app = async (id: string): Promise<AppView> => (await call('GET', `/v1/apps/${id}`)).json as unknown as AppView;

  /** Running (and healthy when the app has health checks) tasks of the app. */
  async function ready(id: string, instances = 1): Promise<TaskView[]> {
    return waitFor(async () => {
      const a = await app(id);
      const checked = (a.healthChecks ?? []).length > 0;
      const ok = a.tasks.filter((t) => t.state === 'TASK_RUNNING' && (!checked || t.healthy === true));
      return ok.length >= instances ? ok : undefined;
    }, 30000);
  }

  function sandboxOf(task: TaskView): string {
    return f.cluster.agent(task.agentId)!.sandboxOf(service!.scheduler.frameworkId!, task.id)!;
  }

  it('runs each definition as Marathon would, manages and fences every volume style, keeps secrets out, and deletes cleanly', async () => {
    await start();
    const fetchDir = path.join(f.dir, 'artifacts');
    fs.mkdirSync(path.join(fetchDir, 'templates'), { recursive: true });
    fs.writeFileSync(path.join(fetchDir, 'report.sh'), '#!/bin/sh\nid -un > who.txt\ncat templates/report.txt\n');
    fs.writeFileSync(path.join(fetchDir, 'templates', 'report.txt'), 'quarterly\n');
    execFileSync('tar', ['-czf', path.join(fetchDir, 'templates.tgz'), '-C', fetchDir, 'templates']);
    const pinned = { constraints: [['hostname', 'LIKE', 'node0']] };

    const cases: Array<{ file: string; id: string; body?: Json; instances?: number; warnings?: RegExp[]; volumes?: string[]; fenced?: boolean }> = [
      { file: 'marathon-export.json', id: 'shop/catalog' },
      { file: 'docker-bridge-web.json', id: 'web/frontend' },
      { file: 'ucr-cache.json', id: 'cache' },
      { file: 'fixed-port-tcp.json', id: 'metrics/statsd' },
      { file: 'fetch-as-user.json', id: 'tools/report', body: fixture('fetch-as-user.json', { FETCH_DIR: fetchDir }) },
      { file: 'rexray-docker-params.json', id: 'db/postgres', volumes: ['pgdata'], fenced: true },
      { file: 'marathon-dvdi-external.json', id: 'hello-rexray', volumes: ['hello-rexray-vol'], fenced: true },
      {
        file: 'dvdi-env-legacy.json',
        id: 'hello-play',
        volumes: ['test12345'],
        fenced: true,
        warnings: [/^env\.DVDI_VOLUME_OPTS \(newfstype\): service local \(vfs\) does not format volumes/, /^env\.DVDI_VOLUME_OPTS \(overwritefs\): ignored: Polly never reformats/],
      },
      {
        file: 'portworx-inline.json',
        id: 'mysql',
        volumes: ['mysqlvol'],
        fenced: true,
        warnings: [/^container\.volumes\[0\]\.external\.name \(repl\): not an option/, /^container\.volumes\[0\]\.external\.name \(io_priority\): not an option/, /^container\.volumes\[0\]\.external\.name \(secret_key\): a secret .* Polly dropped it/],
      },
      { file: 'polly-per-instance.json', id: 'queue/workers', instances: 2, volumes: ['spool-0', 'spool-1'] },
    ];

    for (const c of cases) {
      const body = { ...(c.body ?? fixture(c.file)), ...(c.fenced ? pinned : {}) };
      const res = await call('POST', '/v1/apps', body);
      expect({ file: c.file, status: res.status, message: res.json.message }).toEqual({ file: c.file, status: 201, message: undefined });
      const warnings = (res.json.warnings as string[]).sort();
      const wanted = (c.warnings ?? []).slice();
      expect({ file: c.file, count: warnings.length }).toEqual({ file: c.file, count: wanted.length });
      for (const re of wanted) expect(warnings.some((w) => re.test(w))).toBe(true);
    }

    const { ledger, catalog } = service!.storage;
    for (const c of cases) {
      const tasks = await ready(c.id, c.instances ?? 1);
      // Every volume of the definition, whatever its style, is one Polly claims for the task.
      const names = tasks.flatMap((t) => t.volumes.map((v) => v.name)).sort();
      expect({ id: c.id, names }).toEqual({ id: c.id, names: [...(c.volumes ?? [])].sort() });
      for (const t of tasks) {
        for (const v of t.volumes) {
          const claim = ledger.find(v.claimId!)!;
          expect(claim).toMatchObject({ state: 'attached', taskId: t.id, agentId: t.agentId, scheduler: 'polly', mode: 'RW' });
          // The volume is mounted where the definition says (the local agent links it into the sandbox).
          const link = path.join(sandboxOf(t), v.containerPath.replace(/^\/+/, ''));
          expect(fs.realpathSync(link)).toContain(catalog.find(v.volumeId!)!.driverVolumeId);
        }
      }
    }

    // What each one does on the host.
    const catalogTask = (await ready('shop/catalog'))[0];
    expect(await (await fetch(`http://127.0.0.1:${catalogTask.ports![0]}/health`)).text()).toBe('/health');
    const web = (await ready('web/frontend'))[0];
    expect(await (await fetch(`http://127.0.0.1:${web.ports![0]}/`)).text()).toBe('frontend');
    expect((await ready('metrics/statsd'))[0].ports).toEqual([31050]);
    const report = (await ready('tools/report'))[0];
    await waitFor(() => fs.existsSync(path.join(sandboxOf(report), 'who.txt')), 10000);
    expect(fs.readFileSync(path.join(sandboxOf(report), 'who.txt'), 'utf8')).toBe('nobody\n');
    expect(fs.readFileSync(path.join(sandboxOf(report), 'stdout'), 'utf8')).toBe('quarterly\n');
    const workers = await ready('queue/workers', 2);
    expect(new Set(workers.map((t) => t.hostname)).size).toBe(2);
    // The legacy variables asked for the volume; the task does not get them (nothing mounts it twice).
    expect((await app('hello-play')).env).toBeUndefined();

    // No secret anywhere: not in the app, its volume, the store, or the log.
    expect(JSON.stringify((await call('GET', '/v1/apps')).json)).not.toContain(SECRET);
    expect(JSON.stringify((await call('GET', '/v1/volumes')).json)).not.toContain(SECRET);
    const stored: string[] = [];
    for await (const [key, value] of service!.store.scan<unknown>('')) stored.push(`${key}=${JSON.stringify(value)}`);
    expect(stored.join('\n')).not.toContain(SECRET);
    expect(logs.join('\n')).not.toContain(SECRET);
    expect(logs.length).toBeGreaterThan(0);

    // node0 goes away: every volume style's claim held there is fenced (force-released, audited).
    const node0 = f.cluster.agents().find((a) => a.info().hostname === 'node0')!.agentId;
    const onNode0 = cases.filter((c) => c.fenced).flatMap((c) => c.volumes!);
    const heldThere = ledger.list({ live: true, agentId: node0 }).map((c) => catalog.find(c.volumeId)!.name);
    expect(heldThere.sort()).toEqual(expect.arrayContaining(onNode0.sort()));
    f.cluster.removeAgent(node0);
    await waitFor(() => ledger.list({ live: true, agentId: node0 }).length === 0, 20000);
    for (const name of onNode0) {
      const volume = catalog.findByName('local', name)!;
      const fenced = ledger.list({ volumeId: volume.id }).find((c) => c.agentId === node0)!;
      expect({ name, state: fenced.state, forced: fenced.forced, reason: fenced.reason }).toEqual({ name, state: 'released', forced: true, reason: expect.stringMatching(/^fenced: /) });
    }

    // Deleted: each goes without a second DELETE, and nothing of them is left.
    for (const c of cases) expect([202, 204]).toContain((await call('DELETE', `/v1/apps/${c.id}`)).status);
    await waitFor(async () => ((await call('GET', '/v1/apps')).json.apps as unknown[]).length === 0, 30000);
    expect(ledger.list({ live: true })).toEqual([]);
    expect(service!.parts.tracker.liveTasks()).toEqual([]);
  });

  it('polly app run, update, restart and kill --scale against the real Polly', async () => {
    await start();
    const file = path.join(f.dir, 'hello.json');
    fs.writeFileSync(file, JSON.stringify(fixture('marathon-dvdi-external.json')));
    const env = { POLLY_API: service!.apiUrl };
    let r = await runCli(['app', 'run', file, '--wait', '--timeout', '60', '-o', 'json'], env);
    expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
    expect(JSON.parse(r.stdout)).toMatchObject({ id: 'hello-rexray', warnings: [] });
    const first = (await ready('hello-rexray'))[0];

    const changed = { ...fixture('marathon-dvdi-external.json'), cmd: 'while true; do date >> test-rexray-volume/v2.txt; sleep 5; done', labels: { rev: '2' } };
    fs.writeFileSync(file, JSON.stringify(changed));
    r = await runCli(['app', 'update', '/hello-rexray', file, '--wait', '--timeout', '60'], env);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/hello-rexray: 1\/1 running/);
    const second = (await ready('hello-rexray'))[0];
    expect(second.id).not.toBe(first.id);
    expect((await app('hello-rexray')).tasks.find((t) => t.id === first.id)?.state).toBe('TASK_KILLED');

    r = await runCli(['app', 'restart', 'hello-rexray', '--wait', '--timeout', '60'], env);
    expect(r.code).toBe(0);
    const third = await waitFor(async () => (await ready('hello-rexray')).find((t) => t.id !== second.id), 30000);
    expect(third.volumes[0].name).toBe('hello-rexray-vol');

    r = await runCli(['app', 'kill', 'hello-rexray', '--scale'], env);
    expect(r).toMatchObject({ code: 0, stdout: 'killed tasks of hello-rexray (scaled to 0)\n' });
    await waitFor(() => service!.storage.ledger.list({ live: true }).length === 0, 20000);
    expect((await app('hello-rexray')).instances).toBe(0);

    r = await runCli(['app', 'rm', 'hello-rexray'], env);
    expect(r).toMatchObject({ code: 0, stdout: 'removed hello-rexray\n' });

    // Several instances cannot share one RW volume: scaling is refused as creating is.
    const shared = { ...fixture('marathon-dvdi-external.json'), id: '/shared' };
    fs.writeFileSync(file, JSON.stringify(shared));
    expect((await runCli(['app', 'run', file], env)).code).toBe(0);
    r = await runCli(['app', 'scale', 'shared', '2'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('polly: container.volumes[0].external.name: 2 instances cannot share one RW volume; use {{instance}} in the name\n');
    expect((await app('shared')).instances).toBe(1);

    // --wait gives up at once when only an operator can unblock the app.
    await call('POST', '/v1/volumes', { service: 'local', name: 'not-for-polly', size: 1, schedulers: ['marathon'] });
    const blocked: Json = { ...fixture('marathon-dvdi-external.json'), id: '/blocked' };
    (((blocked.container as Json).volumes as Json[])[0].external as Json).name = 'not-for-polly';
    fs.writeFileSync(file, JSON.stringify(blocked));
    r = await runCli(['app', 'run', file, '--wait', '--timeout', '300'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^polly: blocked cannot start until an operator acts: #0: waiting: volume not-for-polly is not offered to scheduler polly\n$/m);
  });

  it('answers a bad definition with every problem in one 400, and what Polly cannot honour with a 422', async () => {
    await start();
    const bad = await call('POST', '/v1/apps', { id: 'x', cpus: 'two', instances: -1, container: { type: 'RKT' }, colour: 'blue' });
    expect(bad.status).toBe(400);
    expect(((bad.json.details as Json).problems as Array<{ field: string }>).map((p) => p.field).sort()).toEqual(['colour', 'container.type', 'cpus', 'instances']);
    const refused = await call('POST', '/v1/apps', {
      id: 'y',
      cmd: 'x',
      gpus: 1,
      container: { type: 'MESOS', volumes: [{ containerPath: 'd', mode: 'RW', external: { name: 'v', provider: 'dvdi', options: { 'dvdi/driver': 'datera' } } }] },
    });
    expect(refused.status).toBe(422);
    expect(refused.json.message).toMatch(/^Polly cannot run this app as defined \(2 fields\): /);
    expect(((refused.json.details as Json).problems as Array<{ field: string }>).map((p) => p.field).sort()).toEqual(['container.volumes[0].external.options.dvdi/driver', 'gpus']);
    expect(refused.json.message).toContain('volume driver "datera" has no storage service: map it in scheduler.volumeDrivers (mapped: rexray, polly, pxd; services: local)');
    // Nothing was created.
    expect((await call('GET', '/v1/apps')).json.apps).toEqual([]);
    expect((await call('GET', '/v1/volumes')).json.volumes ?? (await call('GET', '/v1/volumes')).json).toEqual([]);
  });
});
