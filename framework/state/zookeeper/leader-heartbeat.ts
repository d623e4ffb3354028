/**
 * The leader's heartbeat in ZooKeeper, so that a standby replaces a dead leader within seconds
 * instead of when ZooKeeper expires the dead leader's session (the session timeout plus up to one
 * tickTime of the ensemble: 10-12 s with a 10 s session on a default ensemble).
 *
 * The leader, once its service runs, rewrites the heartbeat znode (`<election>/heartbeat`, data
 * `{"node":"candidate_…"}`) every `intervalMs`. The next candidate in line polls it: when it names
 * the current leader and its version has not changed for `timeoutMs`, the successor removes the
 * leader's election node, in ONE multi with a check that the heartbeat is still at the version it
 * last saw — a beat that landed, however late, cancels the takeover. Removing the node is what
 * fences the old leader (every store write checks it) and elects the successor; a leader that was
 * only paused finds its node gone and steps down.
 *
 * Only time the successor observed counts: a failed read, and every disconnection or reconnection
 * of its own session, restart its clock (during a ZooKeeper outage nobody can beat). A leader that
 * has not beaten yet (still starting: loading state, recovering) is never taken over this way, only
 * by its session's expiry — a long start-up cannot make leaders take turns.
 */
import type { Logger } from '../../shared/logger';
import { silentLogger } from '../../shared/logger';
import { isZkCode, ZK_CODES, ZkError, ZkSession } from '../../shared/zookeeper/zk-session';

export interface LeaderHeartbeatOptions {
  session: ZkSession;
  /** The heartbeat znode, e.g. `/polly/.leader/heartbeat`. */
  path: string;
  /** How often the leader beats. */
  intervalMs: number;
  /** A successor takes over a leader whose heartbeat stood still this long; 0 = never (session expiry only). */
  timeoutMs: number;
  logger?: Logger;
}

interface HeartbeatData {
  node: string;
}

function parseHeartbeat(data: Buffer): Partial<HeartbeatData> | undefined {
  try {
    return JSON.parse(data.toString('utf8')) as Partial<HeartbeatData>;
  } catch {
    return undefined; // not ours: nothing to judge
  }
}

function nameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

export class LeaderHeartbeat {
  private readonly session: ZkSession;
  private readonly logger: Logger;
  private beatTimer: NodeJS.Timeout | undefined;
  private beating: string | undefined;
  private beatInFlight = false;
  private watchTimer: NodeJS.Timeout | undefined;
  private watched: string | undefined;
  /** Version of the heartbeat last seen naming the watched leader, and since when (monotonic ms). */
  private seen: { version: number | undefined; since: number } = { version: undefined, since: 0 };

  constructor(private readonly options: LeaderHeartbeatOptions) {
    this.session = options.session;
    this.logger = options.logger ?? silentLogger;
    this.session.on('connected', this.restartClock);
    this.session.on('disconnected', this.restartClock);
  }

  /** Beats for `node` (this instance's election node) until stopBeating(). */
  startBeating(node: string): void {
    if (this.beating === node) return;
    this.stopBeating();
    this.beating = node;
    const beat = (): void => {
      if (this.beating !== node) return;
      this.beatTimer = setTimeout(beat, this.options.intervalMs);
      if (this.beatInFlight) return; // ZooKeeper is slow: one beat at a time
      this.beatInFlight = true;
      void this.write(node)
        .catch((err: unknown) => this.logger.debug('leader heartbeat not written', { error: (err as Error).message }))
        .finally(() => (this.beatInFlight = false));
    };
    beat();
  }

  stopBeating(): void {
    clearTimeout(this.beatTimer);
    this.beatTimer = undefined;
    this.beating = undefined;
  }

  /** Watches the heartbeat of the leader whose election node is `leaderNode` (this instance is next in line). */
  watchLeader(leaderNode: string): void {
    if (this.options.timeoutMs <= 0 || this.watched === leaderNode) return;
    this.stopWatching();
    this.watched = leaderNode;
    this.seen = { version: undefined, since: performance.now() };
    const pollMs = Math.max(50, Math.min(this.options.intervalMs, this.options.timeoutMs) / 2);
    const poll = (): void => {
      if (this.watched !== leaderNode) return;
      void this.check(leaderNode).finally(() => {
        if (this.watched === leaderNode) this.watchTimer = setTimeout(poll, pollMs);
      });
    };
    this.watchTimer = setTimeout(poll, pollMs);
  }

  stopWatching(): void {
    clearTimeout(this.watchTimer);
    this.watchTimer = undefined;
    this.watched = undefined;
  }

  stop(): void {
    this.stopBeating();
    this.stopWatching();
    this.session.off('connected', this.restartClock);
    this.session.off('disconnected', this.restartClock);
  }

  private async write(node: string): Promise<void> {
    const data = Buffer.from(JSON.stringify({ node: nameOf(node) } satisfies HeartbeatData));
    try {
      await this.session.setData(this.options.path, data);
    } catch (err) {
      if (!isZkCode(err, ZK_CODES.NO_NODE)) throw err;
      await this.session
        .create(this.options.path, data)
        .catch((e: unknown) => (isZkCode(e, ZK_CODES.NODE_EXISTS) ? undefined : Promise.reject(e)));
    }
  }

  /** One look at the heartbeat; takes over when it has stood still for the timeout. */
  private async check(leaderNode: string): Promise<void> {
    let node;
    try {
      node = await this.session.getData(this.options.path);
    } catch {
      this.restartClock();
      return;
    }
    if (this.watched !== leaderNode) return;
    const now = performance.now();
    const beatsFor = node ? parseHeartbeat(node.data)?.node : undefined;
    if (beatsFor !== nameOf(leaderNode)) {
      // Not beating yet (still starting), or an older leader's heartbeat: nothing to judge.
      this.seen = { version: undefined, since: now };
      return;
    }
    const version = node!.stat.version;
    if (version !== this.seen.version) {
      this.seen = { version, since: now };
      return;
    }
    const stillFor = now - this.seen.since;
    if (stillFor < this.options.timeoutMs) return;
    try {
      // Only if no beat has landed since: the check fails (and nothing is removed) otherwise.
      await this.session.multi([
        { type: 'check', path: this.options.path, version },
        { type: 'remove', path: leaderNode, version: -1 },
      ]);
    } catch (err) {
      if (!(err instanceof ZkError))
        this.logger.debug('could not remove a silent leader; will look again', { error: (err as Error).message });
      this.restartClock();
      return;
    }
    this.logger.warn("the leader's heartbeat stopped: removed its election node (its writes are fenced from now on)", {
      node: leaderNode,
      silentForMs: Math.round(stillFor),
    });
    if (this.watched === leaderNode) this.stopWatching();
  }

  /** Time this instance could not observe does not count. */
  private readonly restartClock = (): void => {
    this.seen = { version: this.seen.version, since: performance.now() };
  };
}
