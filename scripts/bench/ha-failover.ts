/**
 * The failover workload of the ZooKeeper benchmark: Polly instances as real processes (two, on one
 * ZooKeeper and one local Mesos master, each configured with the shipped defaults but for
 * `overrides`), a seeded state, and rounds of: a client writing one volume after another through
 * whichever instance leads (following 307s, retrying refused connections and "no leader" 503s); the
 * leader gets a signal; the time from the signal to the first write acknowledged by the new leader.
 * After each round the old leader is started again, as a standby, before the next.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalCluster } from '../../framework/mesos/local/local-cluster';
import { freePort, ZooKeeperServer } from '../../test/support/zookeeper-server';
import { HaClient, leadersOf, PollyProcess, readiness, UncertainOutcome } from '../../test/framework/ha/polly-process';

export interface FailoverOptions {
  zookeeper: ZooKeeperServer;
  /** Extra `state:` keys, e.g. `leaderTimeoutMs: 0`; empty for the shipped defaults. */
  stateOverrides?: string;
  /** Volumes (and half as many claims) written through the API before the first round. */
  seedVolumes: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`failover bench: ${what} did not happen within ${timeoutMs / 1000} s`);
    await sleep(50);
  }
}

/** Runs `fn` over `items` with at most `limit` at a time. */
async function eachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

export class FailoverRig {
  private procs: PollyProcess[] = [];
  private written = 0;
  private readonly client = new HaClient(() => this.procs.filter((p) => p.running).map((p) => p.url));

  private constructor(
    private readonly dir: string,
    private readonly cluster: LocalCluster,
    private readonly config: string[],
  ) {}

  static async start(options: FailoverOptions): Promise<FailoverRig> {
    const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'polly-bench-failover-'));
    let cluster: LocalCluster | undefined;
    try {
      cluster = await LocalCluster.start({ port: 0, workDir: path.join(dir, 'cluster') });
      const config = [
        `master: ${cluster.url}`,
        'libstorage: { enabled: false }',
        'mesos: { hostname: polly.bench }',
        `state: { backend: zookeeper, servers: "${options.zookeeper.connectString}", path: /polly-bench-failover-${Date.now()}${options.stateOverrides ? `, ${options.stateOverrides}` : ''} }`,
        `services: [{ name: local, driver: vfs, vfs: { root: ${path.join(dir, 'shared-vfs')} } }]`,
      ];
      const rig = new FailoverRig(dir, cluster, config);
      for (const name of ['p0', 'p1']) rig.spawn(name, await freePort());
      await rig.settled();
      await rig.seed(options.seedVolumes);
      return rig;
    } catch (err) {
      await cluster?.stop().catch(() => undefined);
      await fs.promises.rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** One failover: ms from the signal to the leader until the first write acknowledged by another instance. */
  async round(signal: 'SIGTERM' | 'SIGKILL'): Promise<number> {
    const leader = await this.settled();
    const signalled = Date.now();
    if (signal === 'SIGKILL') leader.killNow();
    else process.kill(-leader.pid, 'SIGTERM');
    let firstAt: number | undefined;
    while (firstAt === undefined) {
      try {
        const r = await this.client.send('POST', '/v1/volumes', { service: 'local', name: `w-${this.written++}`, size: 1 }, 120_000);
        if (r.status === 201 && r.via !== leader.url && r.at > signalled) firstAt = r.at;
        else if (r.status !== 201 && r.status < 500)
          throw new Error(`failover bench: write answered ${r.status} ${JSON.stringify(r.body)}`);
      } catch (err) {
        // The write in flight at the signal may go unanswered: it does not count, the next one does.
        if (!(err instanceof UncertainOutcome)) throw err;
      }
    }
    await leader.exited;
    // The old leader comes back as a standby, as a supervisor would restart it.
    this.procs = this.procs.filter((p) => p !== leader);
    this.spawn(`${leader.name.replace(/-\d+$/, '')}-${this.written}`, Number(new URL(leader.url).port));
    return firstAt - signalled;
  }

  async stop(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.kill()));
    this.procs = [];
    await this.cluster.stop().catch(() => undefined);
    await fs.promises.rm(this.dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  }

  private spawn(name: string, port: number): void {
    this.procs.push(PollyProcess.spawn({ name, dir: this.dir, port, config: this.config }));
  }

  /** Waits until one instance leads (subscribed) and every other one is a standby that names it. */
  private settled(): Promise<PollyProcess> {
    return until(
      'one leader with its standbys',
      async () => {
        const leaders = await leadersOf(this.procs);
        if (leaders.length !== 1) return undefined;
        const others = await Promise.all(this.procs.filter((p) => p !== leaders[0]).map((p) => readiness(p.url)));
        return others.every((r) => r?.body.status === 'standby' && r.body.leader === leaders[0].url) ? leaders[0] : undefined;
      },
      180_000,
    );
  }

  /** The state a leader takes over: volumes, half of them claimed. */
  private async seed(volumes: number): Promise<void> {
    await eachLimit(
      Array.from({ length: volumes }, (_, i) => i),
      16,
      async (i) => {
        const created = await this.client.send('POST', '/v1/volumes', {
          service: 'local',
          name: `seed-${i}`,
          size: 1,
          schedulers: ['bench'],
        });
        if (created.status !== 201) throw new Error(`failover bench: seeding answered ${created.status} ${JSON.stringify(created.body)}`);
        if (i % 2 === 1) return;
        const volumeId = (created.body as { id: string }).id;
        const claim = await this.client.send('POST', '/v1/claims', {
          volumeId,
          agentId: `agent-${i % 50}`,
          scheduler: 'bench',
          mode: 'RW',
        });
        if (claim.status !== 201) throw new Error(`failover bench: claim answered ${claim.status} ${JSON.stringify(claim.body)}`);
      },
    );
  }
}
