/**
 * The leader's heartbeat against a real ZooKeeper: the successor removes the election node of a
 * leader whose heartbeat stands still (its session still alive), and leaves alone a leader that
 * beats, one that has not begun to beat (still starting), and one whose heartbeat names another node.
 */
import { randomBytes } from 'node:crypto';
import zookeeper from 'node-zookeeper-client';
import { LeaderElection } from '../../../framework/state/zookeeper/leader-election';
import { LeaderHeartbeat } from '../../../framework/state/zookeeper/leader-heartbeat';
import { ZkSession } from '../../../framework/shared/zookeeper/zk-session';
import { waitFor } from '../../support/mesos-http';
import { useZooKeeperServer } from '../../support/zookeeper-server';

const server = useZooKeeperServer();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('LeaderHeartbeat', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  const session = async (): Promise<ZkSession> => {
    const s = new ZkSession({ servers: server().connectString, sessionTimeoutMs: 4000 });
    cleanups.push(() => s.close());
    await s.start();
    return s;
  };

  /** An election dir with the leader's ephemeral node, owned by `owner`. */
  const electionWithLeader = async (owner: ZkSession): Promise<{ dir: string; leaderNode: string }> => {
    const dir = `/hb-${randomBytes(4).toString('hex')}`;
    await owner.mkdirp(dir);
    const leaderNode = await owner.create(`${dir}/candidate_`, Buffer.from('http://leader'), zookeeper.CreateMode.EPHEMERAL_SEQUENTIAL);
    return { dir, leaderNode };
  };

  const heartbeat = (s: ZkSession, dir: string): LeaderHeartbeat => {
    const hb = new LeaderHeartbeat({ session: s, path: `${dir}/heartbeat`, intervalMs: 100, timeoutMs: 500 });
    cleanups.push(() => hb.stop());
    return hb;
  };

  it('the successor removes the node of a leader whose heartbeat stopped, though its session lives', async () => {
    const leaderSession = await session();
    const successorSession = await session();
    const { dir, leaderNode } = await electionWithLeader(leaderSession);
    const leader = heartbeat(leaderSession, dir);
    const successor = heartbeat(successorSession, dir);
    leader.startBeating(leaderNode);
    await waitFor(async () => (await successorSession.getData(`${dir}/heartbeat`)) !== undefined, 10_000);
    successor.watchLeader(leaderNode);
    // Beating: the leader stays, beat after beat.
    await sleep(1500);
    expect(await successorSession.exists(leaderNode)).toBeDefined();
    // The leader's process hangs (its session is kept alive, its heartbeat stops).
    leader.stopBeating();
    await waitFor(async () => (await successorSession.exists(leaderNode)) === undefined, 20_000);
    expect(leaderSession.isConnected).toBe(true);
  });

  it('leaves alone a leader that has not begun to beat, and a heartbeat that names another node', async () => {
    const leaderSession = await session();
    const successorSession = await session();
    const { dir, leaderNode } = await electionWithLeader(leaderSession);
    const successor = heartbeat(successorSession, dir);
    successor.watchLeader(leaderNode);
    await sleep(1500);
    expect(await successorSession.exists(leaderNode)).toBeDefined();
    // A heartbeat left by an earlier leader: not this leader's.
    await leaderSession.create(`${dir}/heartbeat`, Buffer.from(JSON.stringify({ node: 'candidate_0000000999' })));
    await sleep(1500);
    expect(await successorSession.exists(leaderNode)).toBeDefined();
  });

  it('with a timeout of 0 nobody is removed for a silent heartbeat', async () => {
    const leaderSession = await session();
    const successorSession = await session();
    const { dir, leaderNode } = await electionWithLeader(leaderSession);
    const leader = new LeaderHeartbeat({ session: leaderSession, path: `${dir}/heartbeat`, intervalMs: 100, timeoutMs: 0 });
    const successor = new LeaderHeartbeat({ session: successorSession, path: `${dir}/heartbeat`, intervalMs: 100, timeoutMs: 0 });
    cleanups.push(
      () => leader.stop(),
      () => successor.stop(),
    );
    leader.startBeating(leaderNode);
    await sleep(300);
    leader.stopBeating();
    successor.watchLeader(leaderNode);
    await sleep(1500);
    expect(await successorSession.exists(leaderNode)).toBeDefined();
  });

  it('in an election: the next candidate takes over from a leader whose heartbeat stopped, and the old leader is deposed', async () => {
    const aSession = await session();
    const bSession = await session();
    const path = `/hb-election-${randomBytes(4).toString('hex')}`;
    const a = new LeaderElection({ session: aSession, path, url: 'http://a', heartbeat: { intervalMs: 100, timeoutMs: 500 } });
    const b = new LeaderElection({ session: bSession, path, url: 'http://b', heartbeat: { intervalMs: 100, timeoutMs: 500 } });
    cleanups.push(
      () => a.stop(),
      () => b.stop(),
    );
    const deposed: string[] = [];
    a.on('deposed', ({ reason }) => deposed.push(reason));
    await a.start();
    await waitFor(() => a.isLeader, 10_000);
    a.startHeartbeat();
    await b.start();
    await waitFor(() => b.leaderUrl === 'http://a', 10_000);
    await sleep(1000);
    expect(b.isLeader).toBe(false);
    // a stops beating without losing its session (a paused process): b takes over, a learns it lost.
    (a as unknown as { heartbeat: LeaderHeartbeat }).heartbeat.stopBeating();
    await waitFor(() => b.isLeader, 20_000);
    await waitFor(() => deposed.length > 0, 10_000);
    expect(a.isLeader).toBe(false);
    expect(aSession.isConnected).toBe(true);
    // a queued up again behind b.
    await waitFor(() => a.leaderUrl === 'http://b', 10_000);
  });
});
