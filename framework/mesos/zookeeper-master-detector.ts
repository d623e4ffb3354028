/**
 * `zk://host:2181[,host:2181]/mesos`: the leading Mesos master as every framework finds it. Each
 * master contending for leadership holds an ephemeral sequential znode `json.info_<seq>` under the
 * path whose data is its MasterInfo as JSON; the lowest sequence number leads. We watch the children
 * (and the leader's node), so a new leader is known as soon as ZooKeeper knows it.
 *
 * The URL is `http://<address.hostname | address.ip | hostname>:<address.port | port>/`. A redirect
 * from a master is honoured until ZooKeeper names a leader again (ZooKeeper stays authoritative).
 */
import { Event } from 'node-zookeeper-client';
import type { Logger } from '../shared/logger';
import { silentLogger } from '../shared/logger';
import { MasterDetector, MasterUrlError, parseMasterUrl } from './master-detector';
import { ZkSession } from '../shared/zookeeper/zk-session';

export const MASTER_NODE_PREFIX = 'json.info_';

export interface ZkMasterUrl {
  servers: string;
  path: string;
}

/** Parses `zk://h1:2181,h2:2181/mesos` (credentials in the URL are not supported). */
export function parseZkUrl(text: string): ZkMasterUrl {
  const match = /^zk:\/\/([^/]+)(\/.*)?$/.exec(text.trim());
  if (!match) throw new MasterUrlError(`Invalid ZooKeeper master URL ${JSON.stringify(text)}: expected zk://host:port[,host:port]/path`);
  const [, servers, rawPath] = match;
  if (servers.includes('@')) throw new MasterUrlError('zk:// URLs with credentials are not supported; use an ACL-free path');
  for (const server of servers.split(',')) {
    if (!/^[A-Za-z0-9.[\]:_-]+:\d{1,5}$/.test(server)) throw new MasterUrlError(`Invalid ZooKeeper server ${JSON.stringify(server)} in ${JSON.stringify(text)}`);
  }
  const path = (rawPath ?? '/mesos').replace(/\/+$/, '') || '/mesos';
  return { servers, path };
}

interface MasterInfoJson {
  hostname?: string;
  port?: number;
  address?: { hostname?: string; ip?: string; port?: number };
}

/** The master's HTTP base URL from its MasterInfo JSON, or undefined if it names no address. */
export function masterUrlFromInfo(info: MasterInfoJson, scheme: 'http' | 'https' = 'http'): URL | undefined {
  const host = info.address?.hostname || info.address?.ip || info.hostname;
  const port = info.address?.port ?? info.port;
  if (!host || !port) return undefined;
  return parseMasterUrl(`${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`);
}

/** `json.info_0000000012` → 12. */
function sequenceOf(name: string): number {
  return Number(name.slice(MASTER_NODE_PREFIX.length));
}

export interface ZookeeperMasterDetectorOptions {
  url: string;
  sessionTimeoutMs?: number;
  scheme?: 'http' | 'https';
  logger?: Logger;
}

export class ZookeeperMasterDetector implements MasterDetector {
  private readonly zk: ZkMasterUrl;
  private readonly session: ZkSession;
  private readonly logger: Logger;
  private leader: URL | undefined;
  private redirect: URL | undefined;
  private leaderNode: string | undefined;
  private readonly listeners = new Set<(url: URL) => void>();
  private waiters: Array<() => void> = [];
  private closed = false;
  private refreshing: Promise<void> = Promise.resolve();

  constructor(private readonly options: ZookeeperMasterDetectorOptions) {
    this.zk = parseZkUrl(options.url);
    this.logger = options.logger ?? silentLogger;
    this.session = new ZkSession({ servers: this.zk.servers, sessionTimeoutMs: options.sessionTimeoutMs ?? 10_000, logger: this.logger });
    this.session.on('connected', () => this.refresh());
    // Connects in the background: current() waits for a leader, however long ZooKeeper takes.
    this.session.start(2 ** 31 - 1).catch(() => undefined);
  }

  /** The leading master's URL from ZooKeeper, without waiting (undefined while none is known). */
  get leading(): URL | undefined {
    return this.leader ? new URL(this.leader.href) : undefined;
  }

  async current(signal?: AbortSignal): Promise<URL> {
    for (;;) {
      if (this.closed) throw new Error('Master detector is closed');
      const url = this.redirect ?? this.leader;
      if (url) return new URL(url.href);
      signal?.throwIfAborted();
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          signal?.removeEventListener('abort', wake);
          resolve();
        };
        this.waiters.push(wake);
        signal?.addEventListener('abort', wake, { once: true });
      });
    }
  }

  redirected(leader: URL): void {
    const next = parseMasterUrl(leader.href);
    if (next.href === (this.redirect ?? this.leader)?.href) return;
    this.redirect = next;
    this.notify();
  }

  failed(master: URL): void {
    // ZooKeeper names the leader; a failure only drops a redirect and makes us look again.
    if (this.redirect && this.redirect.href === parseMasterUrl(master.href).href) this.redirect = undefined;
    this.refresh();
  }

  onChange(listener: (url: URL) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.session.close();
    this.listeners.clear();
    for (const wake of this.waiters.splice(0)) wake();
  }

  private readonly onEvent = (_event: Event): void => this.refresh();

  /** Re-reads the contenders (one read at a time) and re-arms the watches. */
  private refresh(): void {
    this.refreshing = this.refreshing.then(async () => {
      if (this.closed) return;
      try {
        await this.readLeader();
      } catch (err) {
        if (this.closed) return;
        this.logger.warn('could not read the Mesos masters from ZooKeeper; retrying', { path: this.zk.path, error: (err as Error).message });
        setTimeout(() => this.refresh(), 1000).unref();
      }
    });
  }

  private async readLeader(): Promise<void> {
    const children = await this.session.getChildren(this.zk.path, this.onEvent);
    if (children === undefined) {
      // No master has registered yet: told when the path appears.
      if (!(await this.session.exists(this.zk.path, this.onEvent))) return this.setLeader(undefined, undefined);
      return this.readLeader();
    }
    const contenders = children.filter((c) => c.startsWith(MASTER_NODE_PREFIX)).sort((a, b) => sequenceOf(a) - sequenceOf(b));
    for (const name of contenders) {
      const node = await this.session.getData(`${this.zk.path}/${name}`, this.onEvent);
      if (!node) continue; // gone meanwhile: the next one leads
      let url: URL | undefined;
      try {
        url = masterUrlFromInfo(JSON.parse(node.data.toString('utf8')) as MasterInfoJson, this.options.scheme);
      } catch {
        url = undefined;
      }
      if (!url) {
        this.logger.warn('leading Mesos master node has no usable MasterInfo', { node: name });
        return this.setLeader(undefined, name);
      }
      return this.setLeader(url, name);
    }
    this.setLeader(undefined, undefined);
  }

  private setLeader(url: URL | undefined, node: string | undefined): void {
    const before = (this.redirect ?? this.leader)?.href;
    const changed = url?.href !== this.leader?.href || node !== this.leaderNode;
    this.leaderNode = node;
    this.leader = url;
    if (changed) {
      // A new election result overrides any redirect we were following.
      this.redirect = undefined;
      this.logger.info(url ? 'leading Mesos master detected' : 'no leading Mesos master in ZooKeeper', { master: url?.href, node, path: this.zk.path });
    }
    if (url) for (const wake of this.waiters.splice(0)) wake();
    if ((this.redirect ?? this.leader)?.href !== before && (this.redirect ?? this.leader)) this.notify();
  }

  private notify(): void {
    const url = this.redirect ?? this.leader;
    if (!url) return;
    for (const listener of [...this.listeners]) listener(new URL(url.href));
  }
}
