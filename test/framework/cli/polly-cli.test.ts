/**
 * The real `polly` binary against a running API (real storage service; stub scheduler routes for
 * apps and agents): golden tables, --format json|yaml, exit codes 0/1/2, env configuration.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Router } from 'express';
import YAML from 'yaml';
import { NotFoundError } from '../../../framework/errors/not-found-error';
import { ApiFixture, makeApiFixture, TOKENS } from '../api/api-fixture';
import { runCli } from './run-cli';

interface StubApp {
  id: string;
  instances: number;
  cmd: string;
  tasks: Array<{ id: string; state: string; agentId: string; hostname: string; zone: string; volumes: string[] }>;
  waiting: Array<{ instance: number; reason: string }>;
}

function stubScheduler(): Router {
  const apps = new Map<string, StubApp>();
  const polls = new Map<string, number>();
  const r = Router();
  r.get('/agents', (_req, res) => {
    res.json({
      agents: [{ agentId: 'a1', hostname: 'node0', zone: 'zone-a', region: 'region-1', state: 'active', attributes: { rack: 'r1' } }],
    });
  });
  r.get('/apps', (_req, res) => {
    res.json({ apps: [...apps.values()] });
  });
  r.post('/apps', (req, res) => {
    const body = req.body as { id: string; instances?: number; cmd: string };
    const app: StubApp = {
      id: body.id.replace(/^\//, ''),
      instances: body.instances ?? 1,
      cmd: body.cmd,
      tasks: [],
      waiting: [{ instance: 0, reason: 'waiting for an offer' }],
    };
    apps.set(app.id, app);
    res.status(201).json(app);
  });
  r.get('/apps/:id', (req, res) => {
    const app = apps.get(req.params.id);
    if (!app) throw new NotFoundError(`App ${req.params.id} not found`);
    // the rollout completes on the second poll
    const n = (polls.get(app.id) ?? 0) + 1;
    polls.set(app.id, n);
    if (n >= 2 && app.tasks.length < app.instances) {
      app.tasks = Array.from({ length: app.instances }, (_, i) => ({
        id: `${app.id}.${i}`,
        state: 'TASK_RUNNING',
        agentId: 'a1',
        hostname: 'node0',
        zone: 'zone-a',
        volumes: ['hellopersistence'],
      }));
      app.waiting = [];
    }
    res.json(app);
  });
  r.patch('/apps/:id', (req, res) => {
    const app = apps.get(req.params.id)!;
    app.instances = (req.body as { instances: number }).instances;
    res.json(app);
  });
  r.delete('/apps/:id', (req, res) => {
    apps.delete(req.params.id);
    res.status(204).end();
  });
  return r;
}

describe('polly CLI', () => {
  let f: ApiFixture;
  let env: Record<string, string>;
  let dir: string;
  beforeEach(async () => {
    f = await makeApiFixture({ routers: [{ path: '/v1', router: stubScheduler() }] });
    env = { POLLY_API: f.url, POLLY_TOKEN: TOKENS.admin };
    dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'polly-cli-'));
  });
  afterEach(async () => {
    await f.dispose();
    await fs.promises.rm(dir, { recursive: true, force: true });
  });

  it('volume create / ls / get / label / offer / rm with golden tables', async () => {
    let r = await runCli(
      ['volume', 'create', 'hellopersistence', '--size', '1', '-l', 'app=web', '--scheduler', 'marathon', '-o', 'json'],
      env,
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const v = JSON.parse(r.stdout);
    expect(v).toMatchObject({ name: 'hellopersistence', size: 1, service: 'local', schedulers: ['marathon'], labels: { app: 'web' } });
    await runCli(['volume', 'create', 'big', '--size', '2048'], env);

    r = await runCli(['volume', 'ls'], env);
    expect(r.code).toBe(0);
    const big = (await f.call('GET', '/v1/volumes?name=big&service=local')).body.volumes[0];
    const idWidth = Math.max('ID'.length, v.id.length, big.id.length);
    const rows = [
      ['ID', 'NAME', 'SERVICE', 'SIZE', 'ZONE', 'STATUS', 'MANAGED', 'SCHEDULERS', 'LABELS'],
      [v.id, 'hellopersistence', 'local', '1 GiB', '-', 'available', 'yes', 'marathon', 'app=web'],
      [big.id, 'big', 'local', '2 TiB', '-', 'available', 'yes', '-', '-'],
    ];
    const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
    expect(widths[0]).toBe(idWidth);
    const golden =
      rows
        .map((row) =>
          row
            .map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i])))
            .join('  ')
            .trimEnd(),
        )
        .join('\n') + '\n';
    const sorted = (text: string) => [text.split('\n')[0], ...text.split('\n').slice(1).sort()].join('\n');
    expect(sorted(r.stdout)).toBe(sorted(golden));

    r = await runCli(['volume', 'label', v.id, 'tier=gold'], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Labels: +app=web,tier=gold$/m);
    r = await runCli(['volume', 'unlabel', v.id, 'app', '-o', 'yaml'], env);
    expect(YAML.parse(r.stdout).labels).toEqual({ tier: 'gold' });
    r = await runCli(['volume', 'offer', v.id, 'chronos', '--format', 'json'], env);
    expect(JSON.parse(r.stdout).schedulers).toEqual(['marathon', 'chronos']);
    r = await runCli(['volume', 'revoke', v.id, 'marathon', '-o', 'json'], env);
    expect(JSON.parse(r.stdout).schedulers).toEqual(['chronos']);
    r = await runCli(['volume', 'get', v.id], env);
    expect(r.stdout).toMatch(/^Size: +1 GiB$/m);
    expect(r.stdout).toMatch(/^Schedulers: +chronos$/m);

    r = await runCli(['volume', 'rm', big.id], env);
    expect(r).toEqual({ code: 0, stdout: `removed ${big.id}\n`, stderr: '' });
  });

  it('exit codes: 1 with one line for API errors, 2 for usage errors', async () => {
    let r = await runCli(['volume', 'get', 'local.nothere'], env);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('polly: Volume "local.nothere" not found\n');
    r = await runCli(['volume', 'ls'], { POLLY_API: f.url, POLLY_TOKEN: 'wrong-token-0000000000000' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^polly: Invalid bearer token\n$/);
    r = await runCli(['volume', 'ls', '--api', 'http://127.0.0.1:9', '--token', 'x'], {});
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^polly: Cannot reach the Polly API/);
    r = await runCli(['volume', 'frobnicate'], env);
    expect(r.code).toBe(2);
    r = await runCli(['volume', 'create'], env);
    expect(r.code).toBe(2);
    r = await runCli(['volume', 'ls', '-o', 'xml'], env);
    expect(r.code).toBe(2);
    r = await runCli(['volume', 'create', 'x', '--size', 'big'], env);
    expect(r.code).toBe(2);
    r = await runCli(['claim', 'release', 'abc', '--force'], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--reason/);
    r = await runCli(['--help'], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/volume/);
  });

  it('volume label with the key __proto__ exits non-zero with one line and changes nothing', async () => {
    const v = JSON.parse((await runCli(['volume', 'create', 'protolabel', '-l', 'keep=1', '-o', 'json'], env)).stdout) as { id: string };
    let r = await runCli(['volume', 'label', v.id, '__proto__=x'], env);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('polly: label: the key __proto__ is not allowed\n');
    r = await runCli(['volume', 'label', v.id, 'ok=1', '__proto__=x'], env);
    expect(r.code).toBe(2);
    r = await runCli(['volume', 'create', 'protolabel2', '-l', '__proto__=x'], env);
    expect(r.code).toBe(2);
    r = await runCli(['volume', 'unlabel', v.id, '__proto__'], env);
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    r = await runCli(['volume', 'get', v.id, '-o', 'json'], env);
    expect(JSON.parse(r.stdout).labels).toEqual({ keep: '1' });
    expect((await runCli(['volume', 'ls', '-o', 'json'], env)).stdout).not.toContain('protolabel2');
  });

  it('claim ls and release --force --reason', async () => {
    const v = (await f.call('POST', '/v1/volumes', { body: { service: 'local', name: 'c', size: 1 } })).body;
    const claim = (await f.call('POST', '/v1/claims', { body: { volumeId: v.id, agentId: 'agent-1', taskId: 'task-1' } })).body;
    let r = await runCli(['claim', 'ls'], env);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0].split(/\s{2,}/)).toEqual(['ID', 'VOLUME', 'STATE', 'MODE', 'SCHEDULER', 'TASK', 'AGENT']);
    expect(lines[1].split(/\s{2,}/)).toEqual([claim.id, v.id, 'attached', 'RW', '(admin)', 'task-1', 'agent-1']);
    r = await runCli(['claim', 'release', claim.id, '--force', '--reason', 'agent gone'], env);
    expect(r).toEqual({ code: 0, stdout: `claim ${claim.id} released (forced)\n`, stderr: '' });
    r = await runCli(['claim', 'ls', '-o', 'json'], env);
    expect(JSON.parse(r.stdout)).toEqual([]);
  });

  it('app run --wait shows progress on stderr; ls, get, scale, rm', async () => {
    const file = path.join(dir, 'temp01.json');
    fs.writeFileSync(file, JSON.stringify({ id: '/temp01', cmd: 'echo hi > mystore/myfile && sleep 1000', instances: 1 }));
    let r = await runCli(['app', 'run', file, '--wait', '--timeout', '20'], env);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/temp01: 0\/1 running \(waiting: waiting for an offer\)\n/);
    expect(r.stderr).toMatch(/temp01: 1\/1 running\n/);
    expect(r.stdout).toMatch(/^Instances: +1\/1 running$/m);
    expect(r.stdout).toMatch(/^TASK +STATE +HEALTH +HOST +PORTS +ZONE +AGENT +VOLUMES$/m);
    r = await runCli(['app', 'ls'], env);
    expect(r.stdout).toBe(
      'ID      INSTANCES  CMD                                     WAITING\ntemp01  1/1        echo hi > mystore/myfile && sleep 1000  -\n',
    );
    r = await runCli(['app', 'scale', 'temp01', '3', '-o', 'json'], env);
    expect(JSON.parse(r.stdout).instances).toBe(3);
    r = await runCli(['app', 'run', '--id', 'flags', '--cmd', 'sleep 1', '-v', 'data:mystore:RW:1', '-o', 'json'], env);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).id).toBe('flags');
    r = await runCli(['app', 'run', '--cmd', 'x'], env);
    expect(r.code).toBe(2);
    r = await runCli(['app', 'rm', 'temp01'], env);
    expect(r.stdout).toBe('removed temp01\n');
    r = await runCli(['app', 'get', 'temp01'], env);
    expect(r).toMatchObject({ code: 1, stderr: 'polly: App temp01 not found\n' });
  });

  it('agents table and events replay', async () => {
    let r = await runCli(['agents'], env);
    expect(r.stdout).toBe('AGENT  HOSTNAME  ZONE    REGION    STATE   ATTRIBUTES\na1     node0     zone-a  region-1  active  rack=r1\n');
    await f.call('POST', '/v1/volumes', { body: { service: 'local', name: 'e', size: 1 } });
    r = await runCli(['events'], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/volume\.created +volume=local\.\S+ status=available/);
    r = await runCli(['events', '-o', 'json'], env);
    expect(JSON.parse(r.stdout.trim().split('\n')[0])).toMatchObject({ event: 'volume.created' });
  });
});
