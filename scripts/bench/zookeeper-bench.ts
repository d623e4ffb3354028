/**
 * The HA backend: claim cycles per second on the ZooKeeper store beside LevelDB (the storage
 * bench's workload: create a vfs volume, claim + attach it, release it; 8 clients), and leader
 * failover time — the median of 10 rounds of: the leader's ZooKeeper session dies (its process
 * is gone), until a standby is elected and has its store open with the fence set (ready to lead).
 * Starts its own ZooKeeper server (test/support/zookeeper-server.ts) on a free loopback port.
 */
import path from 'node:path';
import { LevelStore } from '../../framework/state/level-store';
import type { Store } from '../../framework/state/store';
import { LeaderElection } from '../../framework/state/zookeeper/leader-election';
import { ZkSession } from '../../framework/state/zookeeper/zk-session';
import { ZookeeperStore } from '../../framework/state/zookeeper/zookeeper-store';
import { ZooKeeperServer } from '../../test/support/zookeeper-server';
import { measureClaimCycles } from './claim-cycles';
import { BenchResult, report, round } from './bench-result';

const CYCLE_SECONDS = Number(process.env.BENCH_CYCLE_SECONDS ?? 4);
const CLIENTS = 8;
const FAILOVER_ROUNDS = 10;
const SESSION_TIMEOUT_MS = 2000;

async function claimCycles(makeStore: (dir: string) => Store): Promise<number> {
  // Non-durable vfs on both sides: the comparison is about the state store.
  return (await measureClaimCycles({ makeStore, clients: CLIENTS, seconds: CYCLE_SECONDS, durable: false })).perSecond;
}

/** One failover: a leader and a standby; the leader's session ends abruptly; ms until the standby is ready to lead. */
async function failoverOnce(server: ZooKeeperServer, round: number): Promise<number> {
  const root = `/polly-bench-failover-${round}`;
  const leaderSession = new ZkSession({ servers: server.connectString, sessionTimeoutMs: SESSION_TIMEOUT_MS });
  const standbySession = new ZkSession({ servers: server.connectString, sessionTimeoutMs: SESSION_TIMEOUT_MS });
  await Promise.all([leaderSession.start(), standbySession.start()]);
  const leader = new LeaderElection({ session: leaderSession, path: `${root}/.leader`, url: 'http://leader' });
  const standby = new LeaderElection({ session: standbySession, path: `${root}/.leader`, url: 'http://standby' });
  const store = new ZookeeperStore({ session: standbySession, root });
  await store.open();
  await leader.start();
  await new Promise<void>((resolve) => (leader.isLeader ? resolve() : leader.once('elected', () => resolve())));
  await standby.start();
  const ready = new Promise<number>((resolve) => {
    standby.once('elected', () => {
      store.setFence(standby.nodePath);
      // Ready = the new leader's first fenced write went through.
      void store.put('framework/leader', { url: 'http://standby' }).then(() => resolve(performance.now()));
    });
  });
  // The leader process dies: its connection drops without closing the session, which ZooKeeper
  // expires after the session timeout. (SIGKILL of a real process behaves the same.)
  const started = performance.now();
  killConnection(leaderSession);
  const elapsed = (await ready) - started;
  await leader.stop().catch(() => undefined);
  leaderSession.close();
  await standby.stop();
  await store.close();
  standbySession.close();
  return elapsed;
}

/** Simulates the death of the leader's process: stop its client from reconnecting and drop its socket. */
function killConnection(session: ZkSession): void {
  const manager = (session as unknown as { client: { connectionManager: { socket?: { destroy(): void; removeAllListeners(): void }; connect?: () => void } } }).client
    .connectionManager;
  manager.connect = () => undefined; // no reconnection: the process is gone
  manager.socket?.removeAllListeners();
  manager.socket?.destroy();
}

async function main(): Promise<void> {
  const server = await ZooKeeperServer.start({ tickTime: 200 });
  const results: BenchResult[] = [];
  try {
    const level = await claimCycles((dir) => new LevelStore(path.join(dir, 'state')));
    const zk = await claimCycles(() => new ZookeeperStore({ servers: server.connectString, root: `/polly-bench-${Date.now()}` }));
    results.push({
      name: `claim cycles, ${CLIENTS} clients (vfs + ZooKeeper)`,
      value: round(zk, 0),
      unit: 'cycles/s',
      peer: 'vfs + LevelDB, same run',
      peerValue: round(level, 0),
      ratio: round(zk / level, 3),
      note: 'one local ZooKeeper 3.8 server (not an ensemble); every write is a read + conditional multi round trip',
    });
    const times: number[] = [];
    for (let i = 0; i < FAILOVER_ROUNDS; i++) times.push(await failoverOnce(server, i));
    times.sort((a, b) => a - b);
    const median = (times[4] + times[5]) / 2;
    results.push({
      name: `leader failover (median of ${FAILOVER_ROUNDS})`,
      value: round(median, 0),
      unit: 'ms',
      note: `leader's process gone -> standby elected and its first fenced write done; session timeout ${SESSION_TIMEOUT_MS} ms dominates (ZooKeeper expires the dead session); min ${round(times[0], 0)} max ${round(times[times.length - 1], 0)} ms`,
    });
  } finally {
    await server.cleanup();
  }
  report(results);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
