/**
 * `polly app run|update|ls|get|scale|restart|kill|rm` over `/v1/apps` (the scheduler's routes). `run`
 * takes a Marathon app JSON file or flags, `update` a file; `--wait` polls until every instance runs
 * (from the current definition), with progress on stderr; both print the warnings Polly answered with.
 */
import fs from 'node:fs';
import type { Command } from 'commander';
import { collect, CliContext, contextOf, parsePairs, positiveInt } from './cli-context';
import { ApiError, UsageError, WaitBlockedError, WaitTimeoutError } from './cli-errors';
import { Column, details, render, table } from './output';

export interface AppTaskView {
  id: string;
  state: string;
  healthy?: boolean;
  version?: string;
  ports?: number[];
  stranded?: { since: string; reason: string };
  agentId?: string;
  hostname?: string;
  zone?: string;
  volumes?: unknown[];
}

export interface AppView {
  id: string;
  instances: number;
  cmd?: string;
  tasks: AppTaskView[];
  waiting?: Array<{ instance: number; reason: string; operatorAction?: boolean }>;
  warnings?: string[];
  /** Health checks, when the app has them (then running means healthy too). */
  healthChecks?: unknown[];
}

const RUNNING = new Set(['TASK_RUNNING', 'RUNNING', 'running']);
/** Terminal task states (Mesos', and RESOLVED by an operator). */
const ENDED = new Set([
  'TASK_FINISHED',
  'TASK_FAILED',
  'TASK_KILLED',
  'TASK_ERROR',
  'TASK_LOST',
  'TASK_DROPPED',
  'TASK_GONE',
  'TASK_GONE_BY_OPERATOR',
  'RESOLVED',
  'EXPUNGED',
]);

/** Tasks running (and healthy, when the app has health checks). */
function running(app: AppView): number {
  const checked = (app.healthChecks ?? []).length > 0;
  return (app.tasks ?? []).filter((t) => RUNNING.has(t.state) && (!checked || t.healthy === true)).length;
}

/** Running tasks from another definition than the newest task's (a rollout under way). */
function outdated(app: AppView): number {
  const versions = (app.tasks ?? []).filter((t) => !ENDED.has(t.state) && t.version !== undefined).map((t) => t.version!);
  if (versions.length === 0) return 0;
  const newest = versions.sort().at(-1);
  return versions.filter((v) => v !== newest).length;
}

/** Warnings Polly answered with, on stderr (the output stays the app). */
function noteWarnings(ctx: CliContext, app: AppView): void {
  for (const w of app.warnings ?? []) ctx.note(`warning: ${w}`);
}

const APP_COLUMNS: Array<Column<AppView>> = [
  { header: 'ID', value: (a) => a.id },
  { header: 'INSTANCES', value: (a) => `${running(a)}/${a.instances}` },
  { header: 'CMD', value: (a) => (a.cmd && a.cmd.length > 40 ? `${a.cmd.slice(0, 37)}...` : a.cmd) },
  { header: 'WAITING', value: (a) => (a.waiting ?? []).map((w) => `#${w.instance}: ${w.reason}`) },
];

const TASK_COLUMNS: Array<Column<AppTaskView>> = [
  { header: 'TASK', value: (t) => t.id },
  { header: 'STATE', value: (t) => t.state },
  { header: 'HEALTH', value: (t) => (t.healthy === undefined ? undefined : t.healthy ? 'healthy' : 'unhealthy') },
  { header: 'HOST', value: (t) => t.hostname },
  { header: 'PORTS', value: (t) => (t.ports ?? []).map(String) },
  { header: 'ZONE', value: (t) => t.zone },
  { header: 'AGENT', value: (t) => t.agentId },
  {
    header: 'VOLUMES',
    value: (t) =>
      (t.volumes ?? []).map((v) =>
        typeof v === 'string'
          ? v
          : ((v as { name?: string; volumeId?: string }).name ?? (v as { volumeId?: string }).volumeId ?? JSON.stringify(v)),
      ),
  },
];

function appDetails(app: AppView): string {
  const head = details([
    ['ID', app.id],
    ['Instances', `${running(app)}/${app.instances} running`],
    ['Cmd', app.cmd],
    ['Waiting', (app.waiting ?? []).map((w) => `#${w.instance}: ${w.reason}`)],
  ]);
  return (app.tasks ?? []).length === 0 ? head : `${head}\n${table(app.tasks, TASK_COLUMNS)}`;
}

const appPath = (id: string): string => `/v1/apps/${encodeURIComponent(id.replace(/^\/+/, ''))}`;

interface RunFlags {
  id?: string;
  cmd?: string;
  instances?: string;
  cpus?: string;
  mem?: string;
  disk?: string;
  image?: string;
  env?: string[];
  volume?: string[];
  constraint?: string[];
  service?: string;
  wait?: boolean;
  timeout?: string;
}

function num(value: string | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`${what} must be a number, got ${JSON.stringify(value)}`);
  return n;
}

/** `name:containerPath[:RW|RO][:sizeGiB]` → a Marathon external volume with provider polly. */
export function volumeFromFlag(spec: string, service: string): Record<string, unknown> {
  const [name, containerPath, mode = 'RW', size] = spec.split(':');
  if (!name || !containerPath || (mode !== 'RW' && mode !== 'RO'))
    throw new UsageError(`--volume is name:containerPath[:RW|RO][:sizeGiB], got ${JSON.stringify(spec)}`);
  const external: Record<string, unknown> = { name, provider: 'polly', options: { service } };
  if (size !== undefined) external.size = positiveInt(size, '--volume size');
  return { containerPath, mode, external };
}

/** Marathon app JSON from `--id`, `--cmd`, ... */
export function appFromFlags(flags: RunFlags): Record<string, unknown> {
  if (!flags.id || !flags.cmd) throw new UsageError('app run needs a Marathon JSON file, or at least --id and --cmd');
  const app: Record<string, unknown> = {
    id: flags.id,
    cmd: flags.cmd,
    instances: flags.instances === undefined ? 1 : positiveInt(flags.instances, '--instances'),
  };
  const cpus = num(flags.cpus, '--cpus');
  const mem = num(flags.mem, '--mem');
  const disk = num(flags.disk, '--disk');
  if (cpus !== undefined) app.cpus = cpus;
  if (mem !== undefined) app.mem = mem;
  if (disk !== undefined) app.disk = disk;
  if (flags.env) app.env = parsePairs(flags.env, '--env');
  if (flags.constraint) app.constraints = flags.constraint.map((c) => c.split(':'));
  const volumes = (flags.volume ?? []).map((v) => volumeFromFlag(v, flags.service ?? 'local'));
  if (volumes.length > 0 || flags.image) {
    app.container = { type: flags.image ? 'DOCKER' : 'MESOS', ...(flags.image ? { docker: { image: flags.image } } : {}), volumes };
  }
  return app;
}

/** A Marathon app definition from a JSON file (`-`: stdin). */
function readDefinition(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new UsageError(`Cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UsageError(`${file} must hold one app definition (a JSON object)`);
  return parsed as Record<string, unknown>;
}

async function waitRunning(ctx: CliContext, id: string, timeoutMs: number): Promise<AppView> {
  const deadline = Date.now() + timeoutMs;
  let lastLine = '';
  for (;;) {
    const app = await ctx.client.get<AppView>(appPath(id));
    const old = outdated(app);
    const reasons = (app.waiting ?? []).map((w) => w.reason.replace(/^waiting: /, ''));
    const line = `${app.id}: ${running(app)}/${app.instances} running${old > 0 ? `, ${old} from an older definition` : ''}${reasons.length ? ` (waiting: ${reasons.join('; ')})` : ''}`;
    if (line !== lastLine) ctx.note(line);
    lastLine = line;
    if (running(app) >= app.instances && old === 0) return app;
    // Nothing will change without an operator: say what, instead of waiting out the timeout.
    const blocked = (app.waiting ?? []).filter((w) => w.operatorAction);
    if (blocked.length > 0) {
      throw new WaitBlockedError(`${app.id} cannot start until an operator acts: ${blocked.map((w) => `#${w.instance}: ${w.reason}`).join('; ')}`);
    }
    if (Date.now() > deadline)
      throw new WaitTimeoutError(`${app.id} did not reach ${app.instances} running instance(s) in ${Math.round(timeoutMs / 1000)} s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Polls until the app is gone (404); progress on stderr; a timeout names what it still waits for. */
async function waitGone(ctx: CliContext, id: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastLine = '';
  for (;;) {
    let app: AppView;
    try {
      app = await ctx.client.get<AppView>(appPath(id));
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return;
      throw err;
    }
    const live = (app.tasks ?? []).filter((t) => !ENDED.has(t.state));
    const line = `${app.id}: deleting, waiting for ${live.map((t) => `${t.id} (${t.state})`).join(', ') || 'its reservations to be undone'}`;
    if (line !== lastLine) ctx.note(line);
    lastLine = line;
    if (Date.now() > deadline) {
      throw new WaitTimeoutError(
        `${app.id} is still being deleted after ${Math.round(timeoutMs / 1000)} s (${line.slice(app.id.length + 2)}); ` +
          `see polly app get ${app.id}`,
      );
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

export function registerAppCommand(program: Command): void {
  const app = program.command('app').description('volume-bound apps (Marathon app definitions Polly launches)');

  app
    .command('run [file]')
    .description('create an app from a Marathon JSON file, or from flags')
    .option('--id <id>', 'app ID')
    .option('--cmd <cmd>', 'command')
    .option('-n, --instances <n>', 'instances (default 1)')
    .option('--cpus <n>', 'CPUs per instance')
    .option('--mem <MiB>', 'memory per instance')
    .option('--disk <MiB>', 'scratch disk per instance')
    .option('--image <image>', 'Docker image')
    .option('-e, --env <k=v>', 'environment variable (repeatable)', collect)
    .option('-v, --volume <spec>', 'name:containerPath[:RW|RO][:sizeGiB] (repeatable)', collect)
    .option('--service <name>', 'storage service of --volume volumes', 'local')
    .option('-c, --constraint <field:OP[:value]>', 'placement constraint (repeatable)', collect)
    .option('-w, --wait', 'wait until every instance is running')
    .option('--timeout <seconds>', 'with --wait: give up after this long', '300')
    .action(async (file: string | undefined, flags: RunFlags, cmd: Command) => {
      const ctx = contextOf(cmd);
      let spec: Record<string, unknown>;
      if (file !== undefined) {
        spec = readDefinition(file);
        if (flags.id) spec.id = flags.id;
        if (flags.instances) spec.instances = positiveInt(flags.instances, '--instances');
      } else spec = appFromFlags(flags);
      let created = await ctx.client.post<AppView>('/v1/apps', spec);
      noteWarnings(ctx, created);
      if (flags.wait)
        created = await waitRunning(ctx, created.id ?? String(spec.id), positiveInt(flags.timeout ?? '300', '--timeout') * 1000);
      ctx.out(render(ctx.format, created, () => appDetails(created)));
    });

  app
    .command('update <id> <file>')
    .description('replace the app definition with a Marathon JSON file (- for stdin) and roll the instances onto it')
    .option('-w, --wait', 'wait until every instance runs the new definition')
    .option('--timeout <seconds>', 'with --wait: give up after this long', '300')
    .action(async (id: string, file: string, flags: { wait?: boolean; timeout?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const spec = readDefinition(file);
      let updated = await ctx.client.put<AppView>(appPath(id), spec);
      noteWarnings(ctx, updated);
      if (flags.wait) updated = await waitRunning(ctx, id, positiveInt(flags.timeout ?? '300', '--timeout') * 1000);
      ctx.out(render(ctx.format, updated, () => appDetails(updated)));
    });

  app
    .command('ls')
    .description('list apps')
    .action(async (_flags: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const res = await ctx.client.get<AppView[] | { apps: AppView[] }>('/v1/apps');
      const apps = Array.isArray(res) ? res : res.apps;
      ctx.out(render(ctx.format, apps, () => table(apps, APP_COLUMNS)));
    });

  app
    .command('get <id>')
    .description('show an app and its tasks')
    .action(async (id: string, _flags: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const a = await ctx.client.get<AppView>(appPath(id));
      ctx.out(render(ctx.format, a, () => appDetails(a)));
    });

  app
    .command('scale <id> <instances>')
    .description('change the number of instances')
    .option('-w, --wait', 'wait until every instance is running')
    .option('--timeout <seconds>', 'with --wait: give up after this long', '300')
    .action(async (id: string, instances: string, flags: { wait?: boolean; timeout?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      let a = await ctx.client.patch<AppView>(appPath(id), { instances: positiveInt(instances, 'instances') });
      if (flags.wait) a = await waitRunning(ctx, id, positiveInt(flags.timeout ?? '300', '--timeout') * 1000);
      ctx.out(render(ctx.format, a, () => appDetails(a)));
    });

  app
    .command('kill <id>')
    .description("kill the app's tasks: they are relaunched (after their backoff); --scale also sets instances to 0")
    .option('--scale', 'also scale the app to 0 instances, so nothing is relaunched')
    .action(async (id: string, flags: { scale?: boolean }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const res = await ctx.client.post<unknown>(`${appPath(id)}/kill${flags.scale ? '?scale=true' : ''}`);
      ctx.out(render(ctx.format, res ?? { killed: id }, () => `killed tasks of ${id}${flags.scale ? ' (scaled to 0)' : ''}\n`));
    });

  app
    .command('restart <id>')
    .description('restart the app: every task is replaced (see the README for how volumes are handed over)')
    .option('-w, --wait', 'wait until every instance is running again')
    .option('--timeout <seconds>', 'with --wait: give up after this long', '300')
    .action(async (id: string, flags: { wait?: boolean; timeout?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      let a = await ctx.client.post<AppView>(`${appPath(id)}/restart`);
      if (flags.wait) a = await waitRunning(ctx, id, positiveInt(flags.timeout ?? '300', '--timeout') * 1000);
      ctx.out(render(ctx.format, a, () => appDetails(a)));
    });

  app
    .command('rm <id>')
    .description(
      'delete the app: its tasks are killed and its claims released; waits until it is gone. Tasks Mesos cannot ' +
        'account for refuse the delete unless --force --reason (they are then resolved, audited)',
    )
    .option('-f, --force', 'resolve tasks Mesos cannot account for (admins only; audited)')
    .option('-r, --reason <text>', 'why (required with --force)')
    .option('--no-wait', 'return once the delete is under way')
    .option('--timeout <seconds>', 'give up waiting after this long', '60')
    .action(async (id: string, flags: { force?: boolean; reason?: string; wait: boolean; timeout?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      if (flags.force && !flags.reason?.trim()) throw new UsageError('--force needs --reason "<why>" (it is audited)');
      if (!flags.force && flags.reason !== undefined) throw new UsageError('--reason goes with --force');
      const timeoutMs = positiveInt(flags.timeout ?? '60', '--timeout') * 1000;
      const q = flags.force ? `?force=true&reason=${encodeURIComponent(flags.reason!)}` : '';
      const deleting = await ctx.client.delete<AppView | undefined>(`${appPath(id)}${q}`);
      if (deleting && !flags.wait) {
        ctx.out(render(ctx.format, { deleting: id }, () => `deleting ${id}\n`));
        return;
      }
      if (deleting) await waitGone(ctx, id, timeoutMs);
      ctx.out(render(ctx.format, { removed: id }, () => `removed ${id}\n`));
    });
}
