/**
 * In-process HA Polly for the ZooKeeper-restart and master-change tests: a temp dir, instances of
 * HaPollyService on a shared ZooKeeper, and a cleanup that stops everything even after a failure.
 * `HA_DEBUG=1` prints the instances' logs.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../../framework/config/config-loader';
import { HaPollyService } from '../../../framework/ha-polly-service';
import { Logger, silentLogger } from '../../../framework/shared/logger';

const debugLogger = (name: string): Logger => ({
  debug: () => undefined,
  info: (m, f) => console.log(name, m, JSON.stringify(f ?? {})),
  warn: (m, f) => console.log(name, 'WARN', m, JSON.stringify(f ?? {})),
  error: (m, f) => console.log(name, 'ERROR', m, JSON.stringify(f ?? {})),
});

export interface HaInstanceOptions {
  name: string;
  master: string;
  zk: string;
  zkPath: string;
  sessionTimeoutMs: number;
}

export class HaFixture {
  private readonly instances: HaPollyService[] = [];
  private readonly cleanups: Array<() => Promise<unknown> | unknown> = [];

  private constructor(readonly dir: string) {}

  static async create(prefix: string): Promise<HaFixture> {
    return new HaFixture(await fs.promises.mkdtemp(path.join(os.tmpdir(), prefix)));
  }

  /** Runs at cleanup, last registered first (before the instances stop: register clusters here). */
  onCleanup(step: () => Promise<unknown> | unknown): void {
    this.cleanups.push(step);
  }

  async start(options: HaInstanceOptions): Promise<HaPollyService> {
    const file = path.join(this.dir, `${options.name}.yml`);
    fs.writeFileSync(
      file,
      [
        `master: "${options.master}"`,
        `home: ${path.join(this.dir, options.name)}`,
        'api: { port: 0 }',
        'libstorage: { enabled: false }',
        'mesos: { hostname: polly.test, failoverTimeoutSeconds: 3600 }',
        `state: { backend: zookeeper, servers: "${options.zk}", path: ${options.zkPath}, sessionTimeoutMs: ${options.sessionTimeoutMs} }`,
        `services: [{ name: local, driver: vfs, vfs: { root: ${path.join(this.dir, 'shared-vfs')} } }]`,
      ].join('\n') + '\n',
    );
    const ha = await HaPollyService.start({
      config: loadConfig({ env: {}, file }),
      logger: process.env.HA_DEBUG ? debugLogger(options.name) : silentLogger,
    });
    this.instances.push(ha);
    return ha;
  }

  async cleanup(): Promise<void> {
    for (const i of this.instances.splice(0)) await i.stop().catch(() => undefined);
    for (const step of this.cleanups.splice(0).reverse()) await Promise.resolve(step()).catch(() => undefined);
    await fs.promises.rm(this.dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  }
}

/** POST JSON to a Polly API (fetch follows a standby's 307 with the same method and body). */
export async function postJson(url: string, body: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
}

export interface MasterFrameworkJson {
  id: string;
  name: string;
  active: boolean;
  connected: boolean;
}

/** The polly frameworks a master's `/master/state` lists. */
export async function pollyFrameworks(masterUrl: string): Promise<MasterFrameworkJson[]> {
  const state = (await (await fetch(`${masterUrl}/master/state`)).json()) as { frameworks: MasterFrameworkJson[] };
  return state.frameworks.filter((f) => f.name === 'polly');
}
