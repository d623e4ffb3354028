/**
 * The HA backend (issue 18), each figure beside its reference measured in the same run:
 * - claim cycles per second (the storage bench's workload: create a vfs volume, claim + attach it,
 *   release it) on the ZooKeeper store beside LevelDB, at 8 and 64 clients. Rounds interleave the
 *   two stores (alternating which goes first) and each row is the median of its rounds, all listed
 *   with the load average: other work on the machine moves the figures, the ratio less so;
 * - planned failover: SIGTERM to the leader (a Polly process) → the first write the new leader
 *   acknowledges, median of 10, beside the issue's target;
 * - unplanned failover: SIGKILL to the leader, with the shipped defaults (the leader's heartbeat),
 *   median of 10, beside the same with the ZooKeeper session expiry alone (leaderTimeoutMs: 0).
 *
 * ZooKeeper runs as a local standalone server (test/support/zookeeper-server.ts) with ZooKeeper's
 * default tickTime of 2 s, so sessions are granted and expired as on a default ensemble. When it is
 * not installed, the bench installs it as the test suite does (scripts/test-prerequisites.js) or
 * reports its rows as skipped, with the reason. BENCH_ZK_ROWS=cycles,failover runs only some rows.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LevelStore } from '../../framework/state/level-store';
import type { Store } from '../../framework/state/store';
import { ZookeeperStore } from '../../framework/state/zookeeper/zookeeper-store';
import { ZooKeeperServer } from '../../test/support/zookeeper-server';
import { measureClaimCycles } from './claim-cycles';
import { BenchResult, report, round } from './bench-result';
import { FailoverRig } from './ha-failover';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { ensureRequirements } = require('../test-prerequisites') as { ensureRequirements: (names?: string[]) => string[] };

const CYCLE_SECONDS = Number(process.env.BENCH_CYCLE_SECONDS ?? 4);
const CYCLE_ROUNDS = Number(process.env.BENCH_CYCLE_ROUNDS ?? 3);
const CLIENT_COUNTS = [8, 64];
const FAILOVER_ROUNDS = Number(process.env.BENCH_FAILOVER_ROUNDS ?? 10);
/** Session-expiry rounds take 10-12 s each: fewer of them. */
const EXPIRY_ROUNDS = Number(process.env.BENCH_EXPIRY_ROUNDS ?? 5);
const SEED_VOLUMES = Number(process.env.BENCH_FAILOVER_VOLUMES ?? 1000);
const ROWS = process.env.BENCH_ZK_ROWS ?? 'cycles,failover';
/** ZooKeeper's own default (zoo_sample.cfg, Debian's /etc/zookeeper/conf/zoo.cfg). */
const TICK_TIME_MS = 2000;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const listed = (values: number[]): string => values.map((v) => round(v, 0)).join(', ');
const load = (): string =>
  os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');

const CYCLE_ROW = (clients: number): string => `claim cycles, ${clients} clients (vfs + ZooKeeper)`;
const PLANNED_ROW = `planned failover: SIGTERM to the leader -> first write through the new leader (median of ${FAILOVER_ROUNDS})`;
const UNPLANNED_ROW = `unplanned failover: SIGKILL to the leader -> first write through the new leader, shipped defaults (median of ${FAILOVER_ROUNDS})`;

async function cycleRows(server: ZooKeeperServer): Promise<BenchResult[]> {
  const loadBefore = load();
  const runs = new Map(CLIENT_COUNTS.map((c) => [c, { level: [] as number[], zk: [] as number[] }]));
  const leftovers: string[] = [];
  let roots = 0;
  const measure = async (clients: number, makeStore: (dir: string) => Store): Promise<number> => {
    // Non-durable vfs on both sides: the comparison is about the state store (both stores durable).
    const run = await measureClaimCycles({ makeStore, clients, seconds: CYCLE_SECONDS, durable: false, keepDir: true });
    leftovers.push(run.dir);
    return run.perSecond;
  };
  try {
    for (let r = 0; r < CYCLE_ROUNDS; r++) {
      for (const clients of CLIENT_COUNTS) {
        const level = (): Promise<number> => measure(clients, (dir) => new LevelStore(path.join(dir, 'state')));
        const zk = (): Promise<number> =>
          measure(clients, () => new ZookeeperStore({ servers: server.connectString, root: `/polly-bench-cycles-${roots++}` }));
        const row = runs.get(clients)!;
        if (r % 2 === 0) {
          row.level.push(await level());
          row.zk.push(await zk());
        } else {
          row.zk.push(await zk());
          row.level.push(await level());
        }
      }
    }
  } finally {
    // Removed after the last row: removing thousands of directories slows the next mkdirs (claim-cycles.ts).
    for (const dir of leftovers) await fs.rm(dir, { recursive: true, force: true });
  }
  return CLIENT_COUNTS.map((clients) => {
    const { level, zk } = runs.get(clients)!;
    const value = median(zk);
    const peerValue = median(level);
    return {
      name: CYCLE_ROW(clients),
      value: round(value, 0),
      unit: 'cycles/s',
      peer: 'vfs + LevelDB, same run, interleaved',
      peerValue: round(peerValue, 0),
      ratio: round(value / peerValue, 2),
      note:
        `medians of ${CYCLE_ROUNDS} runs of ${CYCLE_SECONDS} s each, ZooKeeper: ${listed(zk)}; LevelDB: ${listed(level)}; ` +
        `load average ${loadBefore} before, ${load()} after (2 cores, shared); target >= 0.5x. One local ZooKeeper server ` +
        '(standalone, fsync on); writes are decided on versions already seen and group-committed, one multi per group',
    };
  });
}

async function failoverTimes(
  server: ZooKeeperServer,
  signal: 'SIGTERM' | 'SIGKILL',
  rounds: number,
  stateOverrides?: string,
): Promise<number[]> {
  const rig = await FailoverRig.start({ zookeeper: server, seedVolumes: SEED_VOLUMES, ...(stateOverrides ? { stateOverrides } : {}) });
  const times: number[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      times.push(await rig.round(signal));
      process.stderr.write(`bench: ${signal} failover ${i + 1}/${rounds}${stateOverrides ? ` (${stateOverrides})` : ''}: ${times[i]} ms\n`);
    }
  } finally {
    await rig.stop();
  }
  return times;
}

async function failoverRows(server: ZooKeeperServer): Promise<BenchResult[]> {
  const loadBefore = load();
  const planned = await failoverTimes(server, 'SIGTERM', FAILOVER_ROUNDS);
  const unplanned = await failoverTimes(server, 'SIGKILL', FAILOVER_ROUNDS);
  const expiry = await failoverTimes(server, 'SIGKILL', EXPIRY_ROUNDS, 'leaderTimeoutMs: 0');
  const setting = `two Polly processes (node + swc, from the sources), ${SEED_VOLUMES} volumes and ${SEED_VOLUMES / 2} claims stored; ZooKeeper tickTime ${TICK_TIME_MS} ms; load average ${loadBefore} before, ${load()} after`;
  return [
    {
      name: PLANNED_ROW,
      value: round(median(planned), 0),
      unit: 'ms',
      peer: 'target (issue 18)',
      peerValue: 1000,
      ratio: round(median(planned) / 1000, 2),
      note: `runs: ${listed(planned)}. The leader closes its API, drains, closes its Mesos stream, finishes its writes, then removes its election node; the standby leads at once. ${setting}`,
    },
    {
      name: UNPLANNED_ROW,
      value: round(median(unplanned), 0),
      unit: 'ms',
      peer: `session expiry alone (leaderTimeoutMs: 0, sessionTimeoutMs 10000), same run, median of ${EXPIRY_ROUNDS}`,
      peerValue: round(median(expiry), 0),
      ratio: round(median(unplanned) / median(expiry), 2),
      note: `runs: ${listed(unplanned)}; session expiry alone: ${listed(expiry)}. Target < 5,000 ms. The next candidate replaces a leader whose heartbeat (every 500 ms) stood still for 3,000 ms; ${setting}`,
    },
  ];
}

function skipped(reason: string): BenchResult[] {
  const rows = [
    ...(ROWS.includes('cycles') ? CLIENT_COUNTS.map(CYCLE_ROW) : []),
    ...(ROWS.includes('failover') ? [PLANNED_ROW, UNPLANNED_ROW] : []),
  ];
  return rows.map((name) => ({ name, unit: name.startsWith('claim cycles') ? 'cycles/s' : 'ms', skipped: reason }));
}

async function main(): Promise<void> {
  // A fresh machine: install ZooKeeper the way the test suite does, or skip these rows.
  const missing = ensureRequirements(['ZooKeeper server']);
  if (missing.length > 0) {
    const reason = `ZooKeeper is not installed and could not be installed here: ${missing.join(', ')}`;
    process.stderr.write(`bench: zookeeper rows skipped: ${reason}\n`);
    report(skipped(reason));
    return;
  }
  let server: ZooKeeperServer;
  try {
    server = await ZooKeeperServer.start({ tickTime: TICK_TIME_MS });
  } catch (err) {
    const reason = `the local ZooKeeper server did not start: ${(err as Error).message.split('\n')[0]}`;
    process.stderr.write(`bench: zookeeper rows skipped: ${reason}\n`);
    report(skipped(reason));
    return;
  }
  const results: BenchResult[] = [];
  try {
    if (ROWS.includes('cycles')) results.push(...(await cycleRows(server)));
    if (ROWS.includes('failover')) results.push(...(await failoverRows(server)));
  } finally {
    await server.cleanup();
  }
  report(results);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
