/**
 * Leader election among Polly instances: each candidate holds an ephemeral sequential znode
 * `<path>/candidate_<seq>` whose data is its advertised API URL; the lowest sequence leads. A
 * candidate watches only its predecessor (no herd when the leader goes: one successor wakes), plus
 * the current leader's node to keep `leaderUrl` fresh for redirects.
 *
 * Events: `elected` (this instance leads: it may subscribe and mutate), `deposed` (it must stop
 * mutating at once), `leaderChanged` (the leader's URL, or undefined while there is none).
 *
 * Losing the session is losing the lead: the ephemeral node is gone and another candidate may
 * already lead. A mere disconnection is not yet a loss — the node lives until the session expires —
 * but the leader cannot know how long the server has not heard from it, so it steps down when it
 * has been disconnected for `stepDownAfterMs` (default 2/3 of the session timeout), before the
 * server can expire it and elect someone else. Writes to the store are fenced on the election node
 * as well, so a late leader's writes fail rather than race (see ZookeeperStore.setFence).
 *
 * A dead leader's node lives until ZooKeeper expires its session; with a heartbeat configured, the
 * candidate next in line removes it as soon as the leader's heartbeat stands still (see
 * LeaderHeartbeat), and a leader that stops cleanly removes its own (stop()): the next one leads at once.
 */
import zookeeper, { Event } from 'node-zookeeper-client';
import type { Logger } from '../../shared/logger';
import { silentLogger } from '../../shared/logger';
import { TypedEmitter } from '../../shared/typed-emitter';
import { LeaderHeartbeat } from './leader-heartbeat';
import { isZkCode, ZK_CODES, ZkSession } from '../../shared/zookeeper/zk-session';

const PREFIX = 'candidate_';
/** The leader's heartbeat znode, beside the candidates (not one of them: no PREFIX). */
const HEARTBEAT = 'heartbeat';

export interface LeaderElectionOptions {
  session: ZkSession;
  /** e.g. `/polly/leader`. */
  path: string;
  /** This candidate's advertised API URL (what standbys redirect to). */
  url: string;
  stepDownAfterMs?: number;
  /**
   * The leader's heartbeat (leader-heartbeat.ts): the candidate next in line takes over a leader
   * whose heartbeat stood still for `timeoutMs` (0: only when its session expires). Beats start with
   * `startHeartbeat()`, once the leader's service runs.
   */
  heartbeat?: { intervalMs: number; timeoutMs: number };
  logger?: Logger;
}

interface ElectionEvents {
  elected: void;
  deposed: { reason: string };
  leaderChanged: string | undefined;
}

function seq(name: string): number {
  return Number(name.slice(name.lastIndexOf('_') + 1));
}

export class LeaderElection extends TypedEmitter<ElectionEvents> {
  private readonly session: ZkSession;
  private readonly logger: Logger;
  private node: string | undefined;
  private leading = false;
  private running = false;
  private currentLeaderUrl: string | undefined;
  private checking: Promise<void> = Promise.resolve();
  private stepDownTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly heartbeat: LeaderHeartbeat | undefined;

  constructor(private readonly options: LeaderElectionOptions) {
    super();
    this.session = options.session;
    this.logger = options.logger ?? silentLogger;
    if (options.heartbeat) {
      this.heartbeat = new LeaderHeartbeat({
        session: this.session,
        path: `${options.path}/${HEARTBEAT}`,
        ...options.heartbeat,
        logger: this.logger,
      });
    }
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** The leader's advertised URL (this instance's own when it leads). */
  get leaderUrl(): string | undefined {
    return this.currentLeaderUrl;
  }

  /** This candidate's znode: the store's write fence while leading. */
  get nodePath(): string | undefined {
    return this.node;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.session.on('connected', this.onConnected);
    this.session.on('disconnected', this.onDisconnected);
    this.session.on('expired', this.onExpired);
    await this.join();
  }

  /** While leading: beat, so that the next in line can tell this leader is alive (see LeaderHeartbeat). */
  startHeartbeat(): void {
    if (this.leading && this.node) this.heartbeat?.startBeating(this.node);
  }

  /** Leaves the election (a leader steps down first). */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.heartbeat?.stop();
    this.session.off('connected', this.onConnected);
    this.session.off('disconnected', this.onDisconnected);
    this.session.off('expired', this.onExpired);
    clearTimeout(this.stepDownTimer);
    clearTimeout(this.retryTimer);
    this.depose('leaving the election');
    const node = this.node;
    this.node = undefined;
    await this.checking;
    if (node) await this.session.remove(node).catch(() => undefined);
  }

  /** Gives up the lead (and the place in line) and queues up again, after `rejoinAfterMs`. */
  async abdicate(rejoinAfterMs = 0): Promise<void> {
    const node = this.node;
    this.node = undefined;
    this.depose('abdicated');
    if (node) await this.session.remove(node).catch(() => undefined);
    if (rejoinAfterMs > 0) await new Promise((r) => setTimeout(r, rejoinAfterMs));
    if (this.running && !this.node) await this.join();
  }

  private async join(): Promise<void> {
    await this.session.mkdirp(this.options.path);
    this.node = await this.session.create(
      `${this.options.path}/${PREFIX}`,
      Buffer.from(this.options.url),
      zookeeper.CreateMode.EPHEMERAL_SEQUENTIAL,
    );
    this.logger.info('joined the leader election', { node: this.node, url: this.options.url });
    this.check();
  }

  private readonly onEvent = (_event: Event): void => this.check();

  /** Re-reads the candidates, one check at a time. */
  private check(): void {
    this.checking = this.checking.then(async () => {
      if (!this.running || !this.node) return;
      try {
        await this.evaluate();
      } catch (err) {
        if (!this.running) return;
        if (this.session.isClosed) {
          this.depose('ZooKeeper session closed');
          return;
        }
        this.logger.warn('leader election check failed; retrying', { error: (err as Error).message });
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => this.check(), 500);
        this.retryTimer.unref();
      }
    });
  }

  private async evaluate(): Promise<void> {
    const mine = this.node!;
    const myName = mine.slice(mine.lastIndexOf('/') + 1);
    const children = ((await this.session.getChildren(this.options.path)) ?? [])
      .filter((c) => c.startsWith(PREFIX))
      .sort((a, b) => seq(a) - seq(b));
    const index = children.indexOf(myName);
    if (index < 0) {
      // Our node is gone (session replaced, or removed by an operator): we are not a candidate.
      this.depose('election node lost');
      if (this.running && this.node === mine) {
        this.node = undefined;
        await this.join();
      }
      return;
    }
    const leaderName = children[0];
    const leaderData = await this.session.getData(`${this.options.path}/${leaderName}`, index === 0 ? undefined : this.onEvent);
    if (!leaderData) return this.check(); // gone meanwhile: look again
    this.setLeaderUrl(leaderData.data.toString('utf8'));
    if (index === 1) this.heartbeat?.watchLeader(`${this.options.path}/${leaderName}`);
    else this.heartbeat?.stopWatching();
    if (index === 0) {
      // Told if our own node is removed (by an operator, say): then we lead no more.
      await this.session.exists(mine, this.onEvent);
      if (!this.leading) {
        this.leading = true;
        this.logger.info('elected leader', { node: mine });
        this.emit('elected');
      }
      return;
    }
    this.depose('another candidate leads');
    // Watch the predecessor only: when it goes, this candidate may be next.
    const predecessor = `${this.options.path}/${children[index - 1]}`;
    const stat = await this.session.exists(predecessor, this.onEvent);
    if (!stat) this.check();
  }

  private setLeaderUrl(url: string | undefined): void {
    if (url === this.currentLeaderUrl) return;
    this.currentLeaderUrl = url;
    this.emit('leaderChanged', url);
  }

  private depose(reason: string): void {
    if (!this.leading) return;
    this.leading = false;
    this.heartbeat?.stopBeating();
    this.logger.warn('no longer the leader', { reason, node: this.node });
    this.emit('deposed', { reason });
  }

  private readonly onConnected = ({ newSession }: { newSession: boolean }): void => {
    clearTimeout(this.stepDownTimer);
    if (newSession) {
      // The old session's node is gone with it: queue up again.
      this.depose('ZooKeeper session expired');
      this.node = undefined;
      if (this.running)
        void this.join().catch((err: unknown) => this.logger.warn('could not re-join the election', { error: (err as Error).message }));
    } else this.check();
  };

  private readonly onDisconnected = (): void => {
    if (!this.leading) return;
    const after = this.options.stepDownAfterMs ?? Math.floor((this.session.sessionTimeoutMs * 2) / 3);
    clearTimeout(this.stepDownTimer);
    this.stepDownTimer = setTimeout(() => {
      if (!this.session.isConnected) this.depose('disconnected from ZooKeeper for too long');
    }, after);
    this.stepDownTimer.unref();
  };

  private readonly onExpired = (): void => {
    this.depose('ZooKeeper session expired');
    this.setLeaderUrl(undefined);
  };
}

export function isNoNode(err: unknown): boolean {
  return isZkCode(err, ZK_CODES.NO_NODE);
}
