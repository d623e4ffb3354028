/**
 * `polly start --master local` as a real child process (the CLI from dist/, its own POLLY_HOME, API
 * and master on free ports), stopped with Ctrl-C (SIGINT) and killed (SIGKILL) under a running app
 * with an RW volume, and started again on the same home: the agents keep their IDs, no task process
 * of the earlier run is left (pid files + /proc), the app runs again by itself and exactly one live
 * claim holds its volume, for the new task. Then a cluster that lost its state (its directory
 * wiped while Polly was down): the app's task is unknown to Mesos, stranded, and the operator
 * unblocks it with each of `polly task resolve`, `polly claim release --force` and
 * `polly app rm --force`, every one audited with who and why.
 */
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readPidFile, type PidRecord } from '../../framework/mesos/local/agent/leftover-processes';
import { isRunning } from '../../framework/mesos/local/agent/process-identity';

jest.setTimeout(240_000);

const ROOT = path.resolve(__dirname, '../..');
const POLLY = path.join(ROOT, 'bin', 'polly.js');
const TOKEN = 'ops-token-0123456789abcdef0123456789';

interface TaskJson {
  id: string;
  state: string;
  agentId: string;
  hostname: string;
  stranded?: { since: string; reason: string };
}
interface AppJson {
  id: string;
  tasks: TaskJson[];
  waiting: Array<{ instance: number; reason: string }>;
}
interface ClaimJson {
  id: string;
  volumeId: string;
  taskId?: string;
  state: string;
}

let dir: string;
let home: string;
let run: PollyRun | undefined;
const runs: PollyRun[] = [];
/** Every task process seen, so a failed test still kills them. */
const seenPids: PidRecord[] = [];

class PollyRun {
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  url = '';

  private constructor(
    readonly child: ChildProcess,
    readonly logFile: string,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  static async start(name: string): Promise<PollyRun> {
    const logFile = path.join(dir, `${name}.log`);
    const log = fs.openSync(logFile, 'a');
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('POLLY_')));
    const child = spawn(process.execPath, [POLLY, 'start', '--config', path.join(dir, 'config.yml')], { cwd: ROOT, env, stdio: ['ignore', log, log] });
    fs.closeSync(log);
    const r = new PollyRun(child, logFile);
    runs.push(r);
    r.url = await r.waitForLog('API listening', (line) => line.url as string);
    await eventually(`${name} ready`, async () => {
      const res = await fetch(`${r.url}/health/ready`).catch(() => undefined);
      return res?.status === 200;
    });
    return r;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async signal(sig: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.child.kill(sig);
    return this.exited;
  }

  log(): string {
    return fs.existsSync(this.logFile) ? fs.readFileSync(this.logFile, 'utf8') : '';
  }

  private async waitForLog<T>(message: string, pick: (line: Record<string, unknown>) => T): Promise<T> {
    return eventually(`log line "${message}"`, () => {
      if (!this.running) throw new Error(`Polly exited early:\n${this.log()}`);
      for (const text of this.log().split('\n')) {
        if (!text.startsWith('{')) continue;
        const line = JSON.parse(text) as Record<string, unknown>;
        if (line.message === message) return pick(line);
      }
      return undefined;
    });
  }
}

async function eventually<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}\n${run?.log().split('\n').slice(-40).join('\n') ?? ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(...args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [POLLY, '--api', run!.url, '--token', TOKEN, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: os.homedir() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function ok(...args: string[]): Promise<string> {
  const r = await cli(...args);
  if (r.code !== 0) throw new Error(`polly ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

async function json<T>(...args: string[]): Promise<T> {
  return JSON.parse(await ok(...args, '-o', 'json')) as T;
}

/** The app's running task, once it has one other than those in `not`. */
function runningTask(app: AppJson, not: readonly string[] = []): TaskJson | undefined {
  return app.tasks.find((t) => t.state === 'TASK_RUNNING' && !not.includes(t.id));
}

async function waitRunning(appId: string, not: readonly string[] = []): Promise<TaskJson> {
  return eventually(`${appId} running (not ${not.join(', ')})`, async () => runningTask(await json<AppJson>('app', 'get', appId), not));
}

/** hostname → agent ID, as Polly sees the active agents. */
async function agentIds(): Promise<Record<string, string>> {
  const { agents } = await json<{ agents: Array<{ hostname: string; agentId: string; state: string }> }>('agents');
  return Object.fromEntries(agents.filter((a) => a.state === 'active').map((a) => [a.hostname, a.agentId]));
}

/** The pid file records of every task process under the home (all agents). */
function pidRecords(): PidRecord[] {
  const out: PidRecord[] = [];
  const walk = (d: string): void => {
    if (!fs.existsSync(d)) return;
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name === 'forked.pid') {
        const record = readPidFile(full);
        if (record) out.push(record);
      }
    }
  };
  walk(path.join(home, 'local-cluster'));
  seenPids.push(...out);
  return out;
}

function processOf(taskId: string): PidRecord {
  const record = pidRecords().find((r) => r.taskId === taskId);
  if (!record) throw new Error(`no pid file for task ${taskId}`);
  return record;
}

async function liveClaimsOf(volumeId: string): Promise<ClaimJson[]> {
  return (await json<ClaimJson[]>('claim', 'ls', '--volume', volumeId)).filter((c) => ['pending', 'attaching', 'attached', 'releasing'].includes(c.state));
}

async function events(): Promise<Array<Record<string, unknown>>> {
  const out = await ok('events', '-o', 'json');
  return out
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'polly-local-restart-'));
  home = path.join(dir, 'home');
  fs.writeFileSync(
    path.join(dir, 'config.yml'),
    [
      `home: ${home}`,
      `api: { host: 127.0.0.1, port: 0, tokens: [{ name: ops, token: "${TOKEN}", scope: admin }] }`,
      'libstorage: { enabled: false }',
      'local: { port: 0, heartbeatIntervalSeconds: 0.5, allocationIntervalMs: 100 }',
      'mesos: { declineRefuseSeconds: 1 }',
      'scheduler: { unknownTaskTimeoutSeconds: 1, pendingRefuseSeconds: 0.2 }',
      'log: { level: info, format: json }',
    ].join('\n') + '\n',
  );
});

afterEach(async () => {
  for (const r of runs.splice(0)) {
    if (r.running) await r.signal('SIGKILL');
  }
  run = undefined;
  for (const record of [...seenPids.splice(0), ...pidRecords()]) {
    if (!isRunning(record)) continue;
    try {
      process.kill(-record.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  seenPids.length = 0;
  fs.rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
});

test('after Ctrl-C and after SIGKILL, the app runs again by itself on the same agents; nothing of the earlier run is left', async () => {
  run = await PollyRun.start('run1');
  const volume = await json<{ id: string }>('volume', 'create', 'data1', '--size', '1', '--scheduler', 'polly');
  await ok('app', 'run', '--id', 'web', '--cpus', '0.1', '--mem', '32', '-v', 'data1:data:RW', '--cmd', 'echo $MESOS_TASK_ID >> data/log; sleep 100000', '--wait', '--timeout', '60');
  const first = await waitRunning('web');
  const agents = await agentIds();
  expect(Object.keys(agents).sort()).toEqual(['node0', 'node1', 'node2']);
  const firstProcess = processOf(first.id);
  expect(isRunning(firstProcess)).toBe(true);

  // (a) Ctrl-C: a clean stop kills the tasks; the next run reports them and relaunches the app.
  expect(await run.signal('SIGINT')).toEqual({ code: 0, signal: null });
  expect(isRunning(firstProcess)).toBe(false);
  run = await PollyRun.start('run2');
  const second = await waitRunning('web', [first.id]);
  expect(await agentIds()).toEqual(agents);
  expect(isRunning(firstProcess)).toBe(false);
  expect((await liveClaimsOf(volume.id)).map((c) => c.taskId)).toEqual([second.id]);
  const secondProcess = processOf(second.id);
  expect(isRunning(secondProcess)).toBe(true);

  // (b) SIGKILL: the task process outlives Polly; the next run stops it before anything is relaunched.
  expect((await run.signal('SIGKILL')).signal).toBe('SIGKILL');
  expect(isRunning(secondProcess)).toBe(true);
  run = await PollyRun.start('run3');
  expect(isRunning(secondProcess)).toBe(false);
  const third = await waitRunning('web', [first.id, second.id]);
  expect(await agentIds()).toEqual(agents);
  expect((await liveClaimsOf(volume.id)).map((c) => c.taskId)).toEqual([third.id]);
  // Only the new task's process is recorded, and it runs.
  expect(pidRecords().map((r) => r.taskId)).toEqual([third.id]);
  expect(isRunning(processOf(third.id))).toBe(true);
  const app = await json<AppJson>('app', 'get', 'web');
  expect(app.tasks.find((t) => t.id === second.id)?.state).toBe('TASK_GONE');
  // The volume's data is all there: every run's task wrote its line.
  const log = fs.readFileSync(path.join(home, 'vfs', 'local', 'volumes', volume.id.replace(/^local\./, ''), 'log'), 'utf8');
  expect(log.trim().split('\n')).toEqual([first.id, second.id, third.id]);
});

test('a task Mesos cannot account for is stranded; resolve, claim release --force and app rm --force unblock the app, audited', async () => {
  run = await PollyRun.start('run1');
  const volume = await json<{ id: string }>('volume', 'create', 'data2', '--size', '1', '--scheduler', 'polly');
  const runApp = (): Promise<string> =>
    ok('app', 'run', '--id', 'web', '--cpus', '0.1', '--mem', '32', '-v', 'data2:data:RW', '--cmd', 'sleep 100000', '--wait', '--timeout', '60');
  await runApp();
  let task = await waitRunning('web');
  let round = 1;

  /** Polly stops; the local cluster's state is lost; Polly starts: its task is unknown to the new cluster. */
  const loseCluster = async (): Promise<void> => {
    expect(await run!.signal('SIGINT')).toEqual({ code: 0, signal: null });
    fs.rmSync(path.join(home, 'local-cluster'), { recursive: true, force: true });
    run = await PollyRun.start(`run${++round}`);
    const stranded = await eventually(`${task.id} stranded`, async () => (await json<AppJson>('app', 'get', 'web')).tasks.find((t) => t.id === task.id && t.stranded));
    expect(stranded.state).toBe('TASK_UNKNOWN');
  };

  // polly task resolve
  await loseCluster();
  const shown = await ok('app', 'get', 'web');
  expect(shown).toContain(`polly task resolve ${task.id}`);
  expect((await liveClaimsOf(volume.id)).map((c) => c.taskId)).toEqual([task.id]);
  const missingReason = await cli('task', 'resolve', task.id);
  expect(missingReason.code).toBe(2);
  // Over HTTP, bad requests are 400s naming the problem, and change nothing.
  const post = (body: unknown): Promise<Response> =>
    fetch(`${run!.url}/v1/tasks/${encodeURIComponent(task.id)}/resolve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const noReason = await post({});
  expect(noReason.status).toBe(400);
  expect(await noReason.json()).toMatchObject({ details: { field: 'reason' } });
  expect((await post({ reason: 'x', force: true })).status).toBe(400);
  const reasonWithoutForce = await fetch(`${run!.url}/v1/apps/web?reason=x`, { method: 'DELETE', headers: { authorization: `Bearer ${TOKEN}` } });
  expect(reasonWithoutForce.status).toBe(400);
  expect((await json<AppJson>('app', 'get', 'web')).tasks.find((t) => t.id === task.id)?.state).toBe('TASK_UNKNOWN');
  expect(await ok('task', 'resolve', task.id, '--reason', 'cluster state wiped')).toContain(`task ${task.id} RESOLVED`);
  const resolved = task.id;
  task = await waitRunning('web', [resolved]);
  expect((await liveClaimsOf(volume.id)).map((c) => c.taskId)).toEqual([task.id]);
  let all = await events();
  expect(all.find((e) => e.event === 'task.stranded' && (e.task as TaskJson).id === resolved)).toBeDefined();
  expect(all.find((e) => e.event === 'task.audit' && (e.task as TaskJson).id === resolved)).toMatchObject({ action: 'resolve', by: 'ops', reason: 'cluster state wiped' });

  // polly claim release --force
  await loseCluster();
  const [claim] = await liveClaimsOf(volume.id);
  expect(claim.taskId).toBe(task.id);
  await ok('claim', 'release', claim.id, '--force', '--reason', 'its host is gone');
  const released = task.id;
  task = await waitRunning('web', [resolved, released]);
  expect((await liveClaimsOf(volume.id)).map((c) => c.taskId)).toEqual([task.id]);
  all = await events();
  expect(all.find((e) => e.event === 'claim.audit' && (e.claim as ClaimJson).id === claim.id)).toMatchObject({ by: 'ops', reason: 'its host is gone' });
  expect(all.find((e) => e.event === 'task.audit' && (e.task as TaskJson).id === released)).toMatchObject({ by: 'ops', reason: expect.stringContaining('its host is gone') });

  // polly app rm: refused while the task may run, forced with a reason; the app can be created again.
  await loseCluster();
  const refused = await cli('app', 'rm', 'web');
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain(`${task.id} (TASK_UNKNOWN`);
  expect(refused.stderr).toContain('--force --reason');
  expect((await json<AppJson>('app', 'get', 'web')).tasks.some((t) => t.id === task.id)).toBe(true);
  expect(await ok('app', 'rm', 'web', '--force', '--reason', 'rebuilding the cluster')).toBe('removed web\n');
  const gone = await cli('app', 'get', 'web');
  expect(gone.code).toBe(1);
  expect(gone.stderr).toMatch(/not found/);
  expect(await liveClaimsOf(volume.id)).toEqual([]);
  all = await events();
  expect(all.find((e) => e.event === 'app.audit')).toMatchObject({ appId: 'web', action: 'force-delete', by: 'ops', reason: 'rebuilding the cluster', resolvedTasks: [task.id] });
  await runApp();
  const again = await waitRunning('web', [resolved, released, task.id]);
  expect((await liveClaimsOf(volume.id)).map((c) => c.taskId)).toEqual([again.id]);
});
