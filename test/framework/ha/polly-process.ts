/**
 * Polly as a real child process for the HA tests: `node -r ./test/support/register-ts.js
 * framework/cli/polly-cli.ts start --config <file>`, in its own process group (so a SIGKILL takes
 * the whole of it, as a crashed host would), logging JSON lines to a file in the test's temp dir.
 *
 * `leaderOf()` finds the leading instance the way an operator would: `/health/ready` answers 200 on
 * the leader once it is subscribed to Mesos and 503 (`status: standby`) on a standby.
 * `HaClient` is what a client of an HA Polly does: send to any instance, follow the 307 to the
 * leader, retry on another instance when one is unreachable.
 */
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../../..');

export interface PollyProcessOptions {
  name: string;
  /** The test's temp dir: config, home and log go under it. */
  dir: string;
  port: number;
  /** The YAML config lines other than home, api and log. */
  config: string[];
}

/** Every process started by this module, so a failed test can still kill them all. */
const live = new Set<PollyProcess>();
process.once('exit', () => {
  for (const p of live) p.killNow();
});

export class PollyProcess {
  readonly url: string;
  readonly logFile: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
    port: number,
    logFile: string,
  ) {
    this.url = `http://127.0.0.1:${port}`;
    this.logFile = logFile;
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    void this.exited.then(() => live.delete(this));
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  static spawn(options: PollyProcessOptions): PollyProcess {
    const home = path.join(options.dir, options.name);
    fs.mkdirSync(home, { recursive: true });
    const configFile = path.join(options.dir, `${options.name}.yml`);
    fs.writeFileSync(
      configFile,
      [`home: ${home}`, `api: { host: 127.0.0.1, port: ${options.port} }`, 'log: { level: info, format: json }', ...options.config].join(
        '\n',
      ) + '\n',
    );
    const logFile = path.join(options.dir, `${options.name}.log`);
    const log = fs.openSync(logFile, 'a');
    // A clean environment: POLLY_* variables of the developer's shell must not leak into the config.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('POLLY_')));
    const child = spawn(
      process.execPath,
      ['-r', './test/support/register-ts.js', 'framework/cli/polly-cli.ts', 'start', '--config', configFile],
      {
        cwd: ROOT,
        env,
        detached: true,
        stdio: ['ignore', log, log],
      },
    );
    fs.closeSync(log);
    const p = new PollyProcess(options.name, child, options.port, logFile);
    live.add(p);
    return p;
  }

  /** SIGKILL to the whole process group, at once. */
  killNow(): void {
    if (!this.running) return;
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }

  async kill(): Promise<void> {
    this.killNow();
    await this.exited;
  }

  /** SIGTERM (a clean stop), SIGKILL after `boundMs`. */
  async stop(boundMs = 10_000): Promise<void> {
    if (!this.running) return;
    try {
      process.kill(-this.pid, 'SIGTERM');
    } catch {
      return;
    }
    const timer = setTimeout(() => this.killNow(), boundMs);
    await this.exited;
    clearTimeout(timer);
  }

  log(): string {
    try {
      return fs.readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }
}

/** Runs a test body; when it fails, prints the tail of every instance's log first. */
export async function withLogsOf(procs: () => readonly PollyProcess[], body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    for (const p of procs())
      console.log(`----- ${p.name} (${p.url}, pid ${p.pid}) log -----\n${p.log().split('\n').slice(-200).join('\n')}`);
    throw err;
  }
}

export interface ReadyState {
  status: number;
  body: { status?: string; role?: string; leader?: string | null };
}

/** `/health/ready` of one instance, or undefined when it does not answer. */
export async function readiness(url: string): Promise<ReadyState | undefined> {
  try {
    const res = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(2000) });
    return { status: res.status, body: (await res.json()) as ReadyState['body'] };
  } catch {
    return undefined;
  }
}

/** The instances that say they lead and are subscribed (200 on /health/ready). */
export async function leadersOf(instances: readonly PollyProcess[]): Promise<PollyProcess[]> {
  const states = await Promise.all(instances.map(async (p) => ({ p, r: p.running ? await readiness(p.url) : undefined })));
  return states.filter(({ r }) => r?.status === 200).map(({ p }) => p);
}

export interface HaResponse {
  status: number;
  body: unknown;
  /** The base URL that answered (the leader, after redirects). */
  via: string;
  at: number;
}

/** The outcome was not learned: the connection broke after the request may have been sent. */
export class UncertainOutcome extends Error {
  override name = 'UncertainOutcome';
  constructor(
    readonly target: string,
    cause: unknown,
  ) {
    const code = (cause as { cause?: { code?: string; message?: string } }).cause;
    super(`No answer from ${target}: ${(cause as Error).message}${code ? ` (${code.code ?? code.message})` : ''}`);
  }
}

function refused(err: unknown): boolean {
  const cause = (err as { cause?: { code?: string } }).cause;
  return cause?.code === 'ECONNREFUSED';
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A client of HA Polly. `send` tries the instances in turn, follows 307s itself (so it knows who
 * answered), and retries only what certainly did not reach a server (connection refused) or what a
 * standby refused for want of a leader (503): a mutation is never sent twice unless it was never
 * received. A broken connection after sending throws UncertainOutcome.
 */
export class HaClient {
  private preferred = 0;

  constructor(private readonly urls: () => string[]) {}

  async send(method: string, pathAndQuery: string, body?: unknown, deadlineMs = 30_000): Promise<HaResponse> {
    const deadline = Date.now() + deadlineMs;
    let lastError = 'no attempt';
    for (let attempt = 0; ; attempt++) {
      if (Date.now() > deadline) throw new Error(`${method} ${pathAndQuery}: no Polly instance answered in time (${lastError})`);
      const urls = this.urls();
      const base = urls[(this.preferred + attempt) % urls.length];
      const outcome = await this.follow(method, base, pathAndQuery, body);
      if ('retry' in outcome) {
        lastError = outcome.retry;
        if (attempt % urls.length === urls.length - 1) await sleep(50);
        continue;
      }
      this.preferred = urls.indexOf(outcome.first);
      return outcome.response;
    }
  }

  private async follow(
    method: string,
    base: string,
    pathAndQuery: string,
    body: unknown,
  ): Promise<{ retry: string } | { first: string; response: HaResponse }> {
    let target = base;
    for (let hop = 0; hop < 3; hop++) {
      let res: Response;
      try {
        res = await fetch(`${target}${pathAndQuery}`, {
          method,
          redirect: 'manual',
          headers: body === undefined ? {} : { 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(15_000),
        });
      } catch (err) {
        if (refused(err)) return { retry: `${target} refused the connection` };
        if (method === 'GET') return { retry: `${target}: ${(err as Error).message}` };
        throw new UncertainOutcome(target, err);
      }
      if (res.status === 307) {
        await res.arrayBuffer();
        const location = new URL(res.headers.get('location')!);
        target = location.origin;
        continue;
      }
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON: keep the text
      }
      // 503 from a standby without a leader, or from a leader whose scheduler is still starting:
      // nothing happened, ask again. Any other 503 (a store error mid-mutation) is the caller's.
      const message = String((parsed as { message?: unknown } | undefined)?.message ?? '');
      if (res.status === 503 && (method === 'GET' || /No Polly leader|scheduler is starting/.test(message))) {
        return { retry: `${target} answered 503 (${message})` };
      }
      return { first: base, response: { status: res.status, body: parsed, via: target, at: Date.now() } };
    }
    return { retry: `too many redirects from ${base}` };
  }
}
