/**
 * Registers a (local) Mesos master in ZooKeeper the way Mesos does: an ephemeral sequential
 * `json.info_<seq>` znode under the configured path holding its MasterInfo as JSON; the lowest
 * sequence leads. Lets `zk://` master detection be tested against the local cluster.
 */
import zookeeper from 'node-zookeeper-client';
import type { Logger } from '../../shared/logger';
import { silentLogger } from '../../shared/logger';
import { MASTER_NODE_PREFIX } from '../zookeeper-master-detector';
import { isZkCode, ZK_CODES, ZkSession } from '../../shared/zookeeper/zk-session';

export interface ZookeeperRegistrationOptions {
  servers: string;
  path: string;
  sessionTimeoutMs?: number;
  logger?: Logger;
}

export class ZookeeperRegistration {
  private readonly session: ZkSession;
  private readonly logger: Logger;
  private node: string | undefined;
  private info: unknown;

  constructor(private readonly options: ZookeeperRegistrationOptions) {
    this.logger = options.logger ?? silentLogger;
    this.session = new ZkSession({ servers: options.servers, sessionTimeoutMs: options.sessionTimeoutMs ?? 10_000, logger: this.logger });
    // A new session lost the ephemeral node: contend again (as a master that re-joins).
    this.session.on('connected', ({ newSession }) => {
      if (newSession && this.info !== undefined && this.node !== undefined) void this.register(this.info).catch(() => undefined);
    });
  }

  /** The znode this master holds, e.g. `/mesos/json.info_0000000003`. */
  get nodePath(): string | undefined {
    return this.node;
  }

  async register(masterInfo: unknown): Promise<string> {
    await this.session.start();
    this.info = masterInfo;
    await this.session.mkdirp(this.options.path);
    this.node = await this.session.create(
      `${this.options.path}/${MASTER_NODE_PREFIX}`,
      Buffer.from(JSON.stringify(masterInfo)),
      zookeeper.CreateMode.EPHEMERAL_SEQUENTIAL,
    );
    this.logger.info('local master registered in ZooKeeper', { node: this.node });
    return this.node;
  }

  /** Gives up the candidacy (the node goes away; the next master leads). */
  async unregister(): Promise<void> {
    const node = this.node;
    this.node = undefined;
    if (!node) return;
    await this.session.remove(node).catch((err: unknown) => {
      if (!isZkCode(err, ZK_CODES.NO_NODE)) throw err;
    });
  }

  async close(): Promise<void> {
    await this.unregister().catch(() => undefined);
    this.session.close();
  }
}
