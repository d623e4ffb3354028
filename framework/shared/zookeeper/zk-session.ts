/**
 * One ZooKeeper session behind promises: `node-zookeeper-client` with connection state events, a
 * new client (= a new session) whenever the old session expires, and bounded operations.
 *
 * Events: `connected` ({ newSession }) after the first connection and every reconnection (a new
 * session after an expiry: ephemeral nodes and watches of the old session are gone),
 * `disconnected` (the session may still be alive; ZooKeeper keeps it for the session timeout),
 * `expired` (the session is gone for good; a new one is being established).
 *
 * An operation issued while disconnected waits for the reconnection, at most `operationTimeoutMs`;
 * then it fails with ZkUnavailableError — for a write that means "maybe applied", as any timeout.
 */
import zookeeper, { Client, Event, Stat } from 'node-zookeeper-client';
import { UnavailableError } from '../../errors/unavailable-error';
import { Logger, silentLogger } from '../logger';
import { TypedEmitter } from '../typed-emitter';

export type ZkWatcher = (event: Event) => void;

export const ZK_CODES = {
  OK: 0,
  CONNECTION_LOSS: -4,
  NO_NODE: -101,
  BAD_VERSION: -103,
  NODE_EXISTS: -110,
  NOT_EMPTY: -111,
  SESSION_EXPIRED: -112,
} as const;

/** A ZooKeeper operation failed with a server-side code (NO_NODE, BAD_VERSION...). */
export class ZkError extends Error {
  override name = 'ZkError';
  constructor(
    readonly code: number,
    message: string,
    readonly path?: string,
    /** For a failed multi: the index of the operation that failed. */
    readonly opIndex?: number,
  ) {
    super(message);
  }
}

export class ZkUnavailableError extends UnavailableError {
  override name = 'ZkUnavailableError';
  override readonly code: string = 'ZOOKEEPER_UNAVAILABLE';
}

export type ZkOp =
  | { type: 'create'; path: string; data: Buffer; mode?: number }
  | { type: 'setData'; path: string; data: Buffer; version: number }
  | { type: 'remove'; path: string; version: number }
  | { type: 'check'; path: string; version: number };

export interface ZkSessionOptions {
  /** `host:port[,host:port]` (a chroot suffix is allowed, as ZooKeeper clients accept it). */
  servers: string;
  sessionTimeoutMs?: number;
  /** Bound on one operation, waiting for a connection included. Default: twice the session timeout. */
  operationTimeoutMs?: number;
  logger?: Logger;
}

interface SessionEvents {
  connected: { newSession: boolean };
  disconnected: void;
  expired: void;
}

function toZkError(err: unknown, path?: string): Error {
  const e = err as { getCode?: () => number; code?: unknown; name?: string; message?: string };
  if (typeof e?.getCode === 'function') return new ZkError(e.getCode(), `ZooKeeper ${e.name ?? 'error'}${path ? ` at ${path}` : ''}`, path);
  return err instanceof Error ? err : new Error(String(err));
}

export function isZkCode(err: unknown, code: number): boolean {
  return err instanceof ZkError && err.code === code;
}

export class ZkSession extends TypedEmitter<SessionEvents> {
  readonly sessionTimeoutMs: number;
  private readonly operationTimeoutMs: number;
  private readonly logger: Logger;
  private client: Client | undefined;
  private connected = false;
  private closed = false;
  private everConnected = false;
  private generation = 0;
  private connectWaiters: Array<() => void> = [];
  private handshakeWatchdog: NodeJS.Timeout | undefined;

  constructor(private readonly options: ZkSessionOptions) {
    super();
    this.sessionTimeoutMs = options.sessionTimeoutMs ?? 10_000;
    this.operationTimeoutMs = options.operationTimeoutMs ?? this.sessionTimeoutMs * 2;
    this.logger = options.logger ?? silentLogger;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The connection string, as configured. */
  get servers(): string {
    return this.options.servers;
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /** Counts sessions: changes every time the old session expired and a new one was created. */
  get sessionGeneration(): number {
    return this.generation;
  }

  /** The session ID as hex (for logs), or '' before the first connection. */
  get sessionId(): string {
    return this.client && this.connected ? this.client.getSessionId().toString('hex') : '';
  }

  /** Connects; resolves on the first connection, fails after `timeoutMs` (the client keeps trying until close). */
  async start(timeoutMs = this.operationTimeoutMs): Promise<void> {
    if (this.closed) throw new ZkUnavailableError('ZooKeeper session is closed');
    if (!this.client) this.newClient();
    await this.waitConnected(timeoutMs);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.connected = false;
    const client = this.client;
    this.client = undefined;
    this.stopHandshakeWatchdog();
    client?.removeAllListeners();
    client?.close();
    for (const wake of this.connectWaiters.splice(0)) wake();
    this.removeAllListeners();
  }

  /** Resolves when connected; rejects with ZkUnavailableError after `timeoutMs` or on close. */
  waitConnected(timeoutMs = this.operationTimeoutMs): Promise<void> {
    if (this.closed) return Promise.reject(new ZkUnavailableError('ZooKeeper session is closed'));
    if (this.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.connectWaiters = this.connectWaiters.filter((w) => w !== wake);
        reject(new ZkUnavailableError(`ZooKeeper (${this.options.servers}) is not reachable`, { servers: this.options.servers }));
      }, timeoutMs);
      const wake = (): void => {
        clearTimeout(timer);
        if (this.connected) resolve();
        else reject(new ZkUnavailableError('ZooKeeper session is closed'));
      };
      this.connectWaiters.push(wake);
    });
  }

  getData(path: string, watcher?: ZkWatcher): Promise<{ data: Buffer; stat: Stat } | undefined> {
    return this.call(path, (c, done) => {
      const cb = (err: unknown, data: Buffer, stat: Stat): void => {
        if (err && isZkCode(toZkError(err), ZK_CODES.NO_NODE)) return done(undefined, undefined);
        done(err, err ? undefined : { data: data ?? Buffer.alloc(0), stat });
      };
      if (watcher) c.getData(path, watcher, cb);
      else c.getData(path, cb);
    });
  }

  getChildren(path: string, watcher?: ZkWatcher): Promise<string[] | undefined> {
    return this.call(path, (c, done) => {
      const cb = (err: unknown, children: string[]): void => {
        if (err && isZkCode(toZkError(err), ZK_CODES.NO_NODE)) return done(undefined, undefined);
        done(err, children);
      };
      if (watcher) c.getChildren(path, watcher, cb);
      else c.getChildren(path, cb);
    });
  }

  exists(path: string, watcher?: ZkWatcher): Promise<Stat | undefined> {
    return this.call(path, (c, done) => {
      const cb = (err: unknown, stat: Stat): void => done(err, err ? undefined : (stat ?? undefined));
      if (watcher) c.exists(path, watcher, cb);
      else c.exists(path, cb);
    });
  }

  create(path: string, data: Buffer, mode: number = zookeeper.CreateMode.PERSISTENT): Promise<string> {
    return this.call(path, (c, done) => c.create(path, data, mode, (err: unknown, created: string) => done(err, created)));
  }

  setData(path: string, data: Buffer, version = -1): Promise<Stat> {
    return this.call(path, (c, done) => c.setData(path, data, version, (err: unknown, stat: Stat) => done(err, stat)));
  }

  remove(path: string, version = -1): Promise<void> {
    return this.call(path, (c, done) => c.remove(path, version, (err: unknown) => done(err, undefined)));
  }

  /** Creates `path` and its missing ancestors (empty data); an existing node is fine. */
  mkdirp(path: string): Promise<void> {
    return this.call(path, (c, done) => c.mkdirp(path, (err: unknown) => done(err, undefined)));
  }

  /**
   * One atomic multi-op. On failure throws ZkError whose `code` and `opIndex` name the first
   * operation that failed (nothing was applied).
   */
  multi(ops: readonly ZkOp[]): Promise<void> {
    return this.call(undefined, (c, done) => {
      const tx = c.transaction();
      for (const op of ops) {
        if (op.type === 'create') tx.create(op.path, op.data, op.mode ?? zookeeper.CreateMode.PERSISTENT);
        else if (op.type === 'setData') tx.setData(op.path, op.data);
        else if (op.type === 'remove') tx.remove(op.path);
        else tx.check(op.path);
      }
      // The client turns version 0 into -1 ("any version") with `version || -1`; set the real
      // versions on the queued operations so that a compare-and-set at version 0 stays one.
      const queued = (tx as unknown as { ops: Array<{ version?: number }> }).ops;
      ops.forEach((op, i) => {
        if (op.type !== 'create') queued[i].version = op.version;
      });
      tx.commit((err: unknown, results: Array<{ type: number; err?: number }> | undefined) => {
        if (!err) return done(undefined, undefined);
        const index = results?.findIndex((r) => typeof r.err === 'number' && r.err !== 0 && r.err !== -2) ?? -1;
        const zk = toZkError(err);
        if (zk instanceof ZkError && index >= 0) {
          done(new ZkError(zk.code, `ZooKeeper multi failed at operation ${index} (${ops[index].type} ${ops[index].path}): ${zk.message}`, ops[index].path, index), undefined);
        } else done(zk, undefined);
      });
    });
  }

  /**
   * Runs one client call once connected, bounded by the operation timeout. Connection loss and
   * session expiry become ZkUnavailableError (temporary: retry later).
   */
  private async call<T>(path: string | undefined, run: (client: Client, done: (err: unknown, value: T) => void) => void): Promise<T> {
    const started = Date.now();
    await this.waitConnected(this.operationTimeoutMs);
    const client = this.client!;
    const remaining = Math.max(1, this.operationTimeoutMs - (Date.now() - started));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new ZkUnavailableError(`ZooKeeper operation timed out${path ? ` at ${path}` : ''}`, { path, servers: this.options.servers })),
        remaining,
      );
      try {
        run(client, (err, value) => {
          clearTimeout(timer);
          if (!err) return resolve(value);
          const zk = toZkError(err, path);
          if (zk instanceof ZkError && (zk.code === ZK_CODES.CONNECTION_LOSS || zk.code === ZK_CODES.SESSION_EXPIRED)) {
            reject(new ZkUnavailableError(`ZooKeeper connection lost${path ? ` at ${path}` : ''}`, { path, zkCode: zk.code }, { cause: zk }));
          } else reject(zk);
        });
      } catch (err) {
        clearTimeout(timer);
        reject(err);
      }
    });
  }

  private newClient(): void {
    const client = zookeeper.createClient(this.options.servers, { sessionTimeout: this.sessionTimeoutMs, spinDelay: 200, retries: 0 });
    this.client = client;
    const newSession = { value: true };
    client.on('connected', () => {
      if (this.client !== client) return;
      this.connected = true;
      const fresh = newSession.value;
      newSession.value = false;
      if (fresh) this.generation += 1;
      this.stopHandshakeWatchdog();
      this.logger.info(fresh ? 'ZooKeeper session established' : 'ZooKeeper session reconnected', {
        servers: this.options.servers,
        sessionId: client.getSessionId().toString('hex'),
      });
      this.everConnected = true;
      for (const wake of this.connectWaiters.splice(0)) wake();
      this.emit('connected', { newSession: fresh });
    });
    client.on('disconnected', () => {
      if (this.client !== client || !this.connected) return;
      this.connected = false;
      this.startHandshakeWatchdog(client);
      this.logger.warn('ZooKeeper disconnected; reconnecting', { servers: this.options.servers });
      this.emit('disconnected');
    });
    client.on('expired', () => {
      if (this.client !== client) return;
      this.connected = false;
      this.logger.warn('ZooKeeper session expired; starting a new session', { servers: this.options.servers });
      this.stopHandshakeWatchdog();
      client.removeAllListeners();
      client.close();
      this.client = undefined;
      this.emit('expired');
      if (!this.closed) this.newClient();
    });
    client.connect();
    this.startHandshakeWatchdog(client);
    void this.everConnected;
  }

  /**
   * node-zookeeper-client stops its connect timer as soon as TCP connects, so a server that accepts
   * the connection but never answers the session handshake — a ZooKeeper server still starting up
   * does exactly that — leaves the client waiting forever, and the session never comes back. The
   * Java client bounds the handshake; we do the same: while disconnected, a connection
   * attempt whose socket is still the same, connected and unanswered one check later is torn down,
   * and the client tries again (same session ID and password, so the session survives).
   */
  private startHandshakeWatchdog(client: Client): void {
    this.stopHandshakeWatchdog();
    const servers = Math.max(1, this.options.servers.split(',').length);
    // Torn down after one to two checks: at most 2/3 of the session timeout per server, so the
    // next attempt still finds the session alive (a healthy server answers in milliseconds).
    const everyMs = Math.max(250, Math.floor(this.sessionTimeoutMs / servers / 3));
    let suspect: unknown;
    this.handshakeWatchdog = setInterval(() => {
      if (this.client !== client || this.connected) return this.stopHandshakeWatchdog();
      // Internals of node-zookeeper-client 1.x: state 1 is CONNECTING.
      const manager = (client as unknown as { connectionManager?: { state?: number; socket?: { connecting?: boolean; destroyed?: boolean; destroy(): void } } }).connectionManager;
      const socket = manager?.socket;
      const stuck = manager?.state === 1 && socket !== undefined && !socket.connecting && !socket.destroyed;
      if (stuck && socket === suspect) {
        this.logger.warn('ZooKeeper server accepted the connection but did not answer the handshake; reconnecting', { servers: this.options.servers });
        suspect = undefined;
        socket.destroy();
        return;
      }
      suspect = stuck ? socket : undefined;
    }, everyMs);
    this.handshakeWatchdog.unref();
  }

  private stopHandshakeWatchdog(): void {
    clearInterval(this.handshakeWatchdog);
    this.handshakeWatchdog = undefined;
  }
}
