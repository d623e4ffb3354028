/**
 * Mass agent loss: what this product exists for. Polly runs as a real process (shipped defaults,
 * LevelDB, a vfs service) on the local cluster, which runs in this process so the master's own
 * events time things:
 *
 * - 1,000 RW volumes: an app of 1,000 instances, each with its own volume (created on first launch
 *   in the agent's zone), all running on one agent; a second agent joins that zone; the first is
 *   marked gone (the operator API's MARK_AGENT_GONE, over HTTP). Measured: the time from marking it gone until
 *   every claim on it is fenced (force-released, audited) and every instance's new task has been
 *   ACCEPTed on the other agent — beside the 10 s target.
 * - 1 RW volume: one instance, its agent marked gone; the time from Mesos' TASK_GONE_BY_OPERATOR to
 *   the new task's ACCEPT, median of 5 rounds (each on a fresh agent of the zone) — beside the 1 s
 *   target.
 * - The fence itself, in process on the storage core (LevelDB and vfs, both durable as shipped):
 *   1,000 claims of one agent force-released in one go (ClaimLedger.releaseForAgent: a few store
 *   batches), beside the same 1,000 force-released one claim at a time (an intent write and an
 *   outcome write per claim, 16 at a time: what releaseForAgent did before); median of 3 each,
 *   interleaved.
 *
 * Tasks are `exec sleep` with 0.001 CPU and 1 MB (one process each), so the two agents' 2,000
 * processes stay cheap on a small machine. BENCH_AGENT_LOSS_INSTANCES changes the 1,000.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mesos } from '../../framework/mesos/generated/mesos';
import { LocalCluster } from '../../framework/mesos/local/local-cluster';
import type { TaskRecord as MasterTask } from '../../framework/mesos/local/master/framework-registry';
import { parseTaskId } from '../../framework/scheduler/task-builder';
import type { ClaimRecord } from '../../framework/storage/claim-record';
import { LevelStore } from '../../framework/state/level-store';
import { driverFactory } from '../../framework/storage/driver-factory';
import { ServiceRegistry } from '../../framework/storage/service-registry';
import { StorageService } from '../../framework/storage/storage-service';
import { PollyProcess } from '../../test/framework/ha/polly-process';
import { freePort } from '../../test/support/zookeeper-server';
import { BenchResult, report, round } from './bench-result';

const INSTANCES = Number(process.env.BENCH_AGENT_LOSS_INSTANCES ?? 1000);
const SINGLE_ROUNDS = 5;
const FENCE_ROUNDS = 3;
const TaskState = mesos.v1.TaskState;
const AGENT = 'cpus:4;mem:4096;disk:10000;ports:[31000-31100]';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`agent-loss bench: ${what} did not happen within ${timeoutMs / 1000} s`);
    await sleep(50);
  }
}

/** The operator API's MARK_AGENT_GONE, over HTTP, as an operator (or a tool) sends it to the master. */
async function markAgentGone(masterUrl: string, agentId: string): Promise<void> {
  const res = await fetch(`${masterUrl}/api/v1`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ type: 'MARK_AGENT_GONE', mark_agent_gone: { agent_id: { value: agentId } } }),
  });
  if (res.status !== 200) throw new Error(`agent-loss bench: MARK_AGENT_GONE answered ${res.status} ${await res.text()}`);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** What the master sees of an app's tasks: when each was accepted (LAUNCH) and when it ran. */
class TaskWatch {
  readonly added = new Map<string, { at: number; agentId: string; instance: number }>();
  readonly running = new Set<string>();
  readonly goneAt = new Map<string, number>();

  constructor(
    private readonly cluster: LocalCluster,
    private readonly appId: string,
  ) {
    const events = cluster.localMaster.events;
    events.on('taskAdded', (record: MasterTask) => {
      const parsed = parseTaskId(record.task.task_id.value);
      if (parsed?.appId === this.appId) this.added.set(record.task.task_id.value, { at: performance.now(), agentId: record.agentId, instance: parsed.instance });
    });
    events.on('taskUpdated', (record: MasterTask, status: mesos.v1.ITaskStatus) => {
      const id = record.task.task_id.value;
      if (parseTaskId(id)?.appId !== this.appId) return;
      if (status.state === TaskState.TASK_RUNNING) this.running.add(id);
      else this.running.delete(id);
      if (status.state === TaskState.TASK_GONE_BY_OPERATOR) this.goneAt.set(id, performance.now());
    });
  }

  /** Instances with a running task on the agent. */
  runningOn(agentId: string): Set<number> {
    const out = new Set<number>();
    for (const id of this.running) {
      const added = this.added.get(id);
      if (added?.agentId === agentId) out.add(added.instance);
    }
    return out;
  }

  /** When each instance's first task on the agent was accepted. */
  acceptedOn(agentId: string): Map<number, number> {
    const out = new Map<number, number>();
    for (const a of this.added.values()) if (a.agentId === agentId && !out.has(a.instance)) out.set(a.instance, a.at);
    return out;
  }

  get master(): LocalCluster {
    return this.cluster;
  }
}

class PollyApi {
  constructor(readonly url: string) {}

  async send(method: string, route: string, body?: unknown): Promise<unknown> {
    const res = await fetch(`${this.url}${route}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status >= 400) throw new Error(`agent-loss bench: ${method} ${route} answered ${res.status} ${text.slice(0, 500)}`);
    return text ? JSON.parse(text) : undefined;
  }

  async claimsOn(agentId: string): Promise<ClaimRecord[]> {
    return ((await this.send('GET', `/v1/claims?agentId=${encodeURIComponent(agentId)}`)) as { claims: ClaimRecord[] }).claims;
  }
}

function app(id: string, instances: number, zone: string): Record<string, unknown> {
  return {
    id,
    cmd: 'exec sleep 1000000',
    cpus: 0.001,
    mem: 1,
    disk: 0,
    instances,
    portDefinitions: [],
    constraints: [['@zone', 'CLUSTER', zone]],
    container: { type: 'MESOS', volumes: [{ containerPath: 'data', mode: 'RW', external: { name: `${id}-{{instance}}`, provider: 'polly', size: 1 } }] },
  };
}

/** Every claim on the gone agent is released, forced, once; returns when the last was released (epoch ms). */
function checkFenced(claims: ClaimRecord[], expected: number): number {
  if (claims.length !== expected) throw new Error(`agent-loss bench: ${claims.length} claims on the gone agent, expected ${expected}`);
  let last = 0;
  for (const c of claims) {
    const released = c.history.filter((h) => h.state === 'released');
    if (c.state !== 'released' || !c.forced || released.length !== 1) {
      throw new Error(`agent-loss bench: claim ${c.id} is ${c.state}${c.forced ? ' (forced)' : ''}, released ${released.length} times`);
    }
    last = Math.max(last, Date.parse(released[0].at));
  }
  return last;
}

async function endToEnd(results: BenchResult[]): Promise<void> {
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'polly-bench-agent-loss-'));
  let cluster: LocalCluster | undefined;
  let polly: PollyProcess | undefined;
  try {
    cluster = await LocalCluster.start({
      port: 0,
      workDir: path.join(dir, 'cluster'),
      agents: [
        { hostname: 'mass-0', zone: 'zone-a', region: 'region-1', resources: AGENT },
        { hostname: 'single-0', zone: 'zone-s', region: 'region-1', resources: AGENT },
        // Another zone: its offers must not take any of the relaunches.
        { hostname: 'other-b', zone: 'zone-b', region: 'region-1', resources: AGENT },
      ],
    });
    const agentId = (hostname: string): string => cluster!.agents().find((a) => a.info().hostname === hostname)!.agentId;
    polly = PollyProcess.spawn({
      name: 'polly',
      dir,
      port: await freePort(),
      config: [
        `master: ${cluster.url}`,
        'libstorage: { enabled: false }',
        'mesos: { hostname: polly.bench }',
        `services: [{ name: local, driver: vfs, vfs: { root: ${path.join(dir, 'vfs')} } }]`,
      ],
    });
    const api = new PollyApi(polly.url);
    await until('Polly subscribed', async () => ((await fetch(`${polly!.url}/health/ready`).catch(() => undefined))?.status === 200 ? true : undefined), 120_000);

    // ---- one volume, SINGLE_ROUNDS times
    const single = new TaskWatch(cluster, 'single');
    await api.send('POST', '/v1/apps', app('single', 1, 'zone-s'));
    let holder = agentId('single-0');
    await until('the single instance running', () => (single.runningOn(holder).size === 1 ? true : undefined), 60_000);
    const singleMs: number[] = [];
    for (let r = 1; r <= SINGLE_ROUNDS; r++) {
      const next = await cluster.addAgent({ hostname: `single-${r}`, zone: 'zone-s', region: 'region-1', resources: AGENT });
      const before = new Set(single.goneAt.keys());
      await markAgentGone(cluster.url, holder);
      const goneAt = [...single.goneAt].find(([id]) => !before.has(id))?.[1];
      if (goneAt === undefined) throw new Error('agent-loss bench: no TASK_GONE_BY_OPERATOR for the single task');
      const acceptedAt = await until('the single instance accepted elsewhere', () => single.acceptedOn(next).get(0), 60_000);
      singleMs.push(acceptedAt - goneAt);
      await until('the single instance running again', () => (single.runningOn(next).size === 1 ? true : undefined), 60_000);
      checkFenced(await api.claimsOn(holder), 1);
      holder = next;
    }
    process.stderr.write(`agent-loss: single volume, gone → ACCEPT: ${singleMs.map((v) => round(v, 1)).join(', ')} ms\n`);

    // ---- INSTANCES volumes on one agent
    const mass = new TaskWatch(cluster, 'mass');
    const doomed = agentId('mass-0');
    const launchStarted = performance.now();
    await api.send('POST', '/v1/apps', app('mass', INSTANCES, 'zone-a'));
    await until(`${INSTANCES} instances running on mass-0`, () => (mass.runningOn(doomed).size === INSTANCES ? true : undefined), 600_000);
    process.stderr.write(`agent-loss: ${INSTANCES} instances running after ${round((performance.now() - launchStarted) / 1000, 1)} s\n`);
    const heir = await cluster.addAgent({ hostname: 'mass-1', zone: 'zone-a', region: 'region-1', resources: AGENT });
    // The new agent registers before it matters: Polly is suppressed (nothing pending) and meets it in the offers after its REVIVE.
    await sleep(500);
    const goneWall = Date.now();
    const goneAt = performance.now();
    await markAgentGone(cluster.url, doomed);
    const accepted = await until(
      `${INSTANCES} instances accepted on mass-1`,
      () => {
        const on = mass.acceptedOn(heir);
        return on.size === INSTANCES ? on : undefined;
      },
      600_000,
    );
    const acceptedMs = Math.max(...accepted.values()) - goneAt;
    const fencedMs = checkFenced(await api.claimsOn(doomed), INSTANCES) - goneWall;
    const totalMs = Math.max(acceptedMs, fencedMs);
    process.stderr.write(`agent-loss: ${INSTANCES} volumes: all fenced after ${round(fencedMs)} ms, all accepted on mass-1 after ${round(acceptedMs)} ms\n`);
    results.push({
      name: `agent-loss: ${INSTANCES} RW volumes, agent gone → all fenced and accepted in zone`,
      value: round(totalMs / 1000, 2),
      unit: 's',
      peer: 'target',
      peerValue: 10,
      ratio: round(totalMs / 10_000, 3),
      note: `all ${INSTANCES} claims fenced after ${round(fencedMs / 1000, 2)} s, all new tasks accepted on another agent of the zone after ${round(acceptedMs / 1000, 2)} s`,
    });
    const singleMedian = median(singleMs);
    results.push({
      name: 'agent-loss: 1 RW volume, TASK_GONE_BY_OPERATOR → new task ACCEPT',
      value: round(singleMedian, 1),
      unit: 'ms',
      peer: 'target',
      peerValue: 1000,
      ratio: round(singleMedian / 1000, 3),
      note: `median of ${SINGLE_ROUNDS}: ${singleMs.map((v) => round(v, 1)).join(', ')} ms`,
    });
    // Leave the machine as found: the agents stop every task.
    await polly.stop(30_000);
  } finally {
    await polly?.kill().catch(() => undefined);
    await cluster?.stop().catch(() => undefined);
    if (process.env.BENCH_KEEP) process.stderr.write(`agent-loss: kept ${dir}\n`);
    else await fs.promises.rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  }
}

/** The storage core alone, durable as shipped: 1,000 volumes, to claim on one agent and fence. */
async function fenceRows(results: BenchResult[]): Promise<void> {
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'polly-bench-fence-'));
  const store = new LevelStore(path.join(dir, 'state'));
  const registry = new ServiceRegistry({
    services: [{ name: 'local', driver: 'vfs', vfs: { root: path.join(dir, 'vfs') }, profiles: [{ name: 'default' }] }],
    home: path.join(dir, 'home'),
    store,
    createDriver: driverFactory({}),
  });
  const storage = new StorageService({ store, registry });
  try {
    await storage.start();
    const volumes: string[] = [];
    for (let i = 0; i < INSTANCES; i += 50) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(50, INSTANCES - i) }, (_, j) => storage.catalog.create({ service: 'local', name: `fence-${i + j}`, size: 1, schedulers: ['polly'] })),
      );
      volumes.push(...batch.map((v) => v.id));
    }
    const claimAll = async (agent: string): Promise<string[]> => {
      const ids: string[] = [];
      for (let i = 0; i < volumes.length; i += 50) {
        const batch = await Promise.all(
          volumes.slice(i, i + 50).map((volumeId, j) => storage.ledger.claim({ volumeId, scheduler: 'polly', agentId: agent, instanceId: `host-${agent}`, taskId: `${agent}-task-${i + j}` })),
        );
        ids.push(...batch.map((c) => c.id));
      }
      return ids;
    };
    const reason = 'fenced: agent is gone: bench';
    const batched: number[] = [];
    const oneByOne: number[] = [];
    for (let r = 0; r < FENCE_ROUNDS; r++) {
      await claimAll(`batched-${r}`);
      let started = performance.now();
      await storage.ledger.releaseForAgent(`batched-${r}`, reason, 'polly');
      batched.push(performance.now() - started);
      const ids = await claimAll(`single-${r}`);
      started = performance.now();
      await Promise.all(ids.map((id) => storage.ledger.forceRelease(id, reason, 'polly')));
      oneByOne.push(performance.now() - started);
    }
    process.stderr.write(`agent-loss: fence ${INSTANCES} claims: batched ${batched.map((v) => round(v)).join(', ')} ms; one by one ${oneByOne.map((v) => round(v)).join(', ')} ms\n`);
    const b = median(batched);
    const o = median(oneByOne);
    results.push({
      name: `agent-loss: fence ${INSTANCES} claims of one agent (claim ledger, batched)`,
      value: round(b, 1),
      unit: 'ms',
      peer: 'one release per claim',
      peerValue: round(o, 1),
      ratio: round(b / o, 3),
      note: `LevelDB + vfs, durable; median of ${FENCE_ROUNDS} each, interleaved: batched ${batched.map((v) => round(v)).join(', ')} ms, one by one ${oneByOne.map((v) => round(v)).join(', ')} ms`,
    });
  } finally {
    await storage.stop().catch(() => undefined);
    await store.close().catch(() => undefined);
    await fs.promises.rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  }
}

async function main(): Promise<void> {
  const results: BenchResult[] = [];
  if (!process.env.BENCH_SKIP_FENCE) await fenceRows(results);
  await endToEnd(results);
  report(results);
}

main().catch((err: unknown) => {
  process.stderr.write(`agent-loss bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
