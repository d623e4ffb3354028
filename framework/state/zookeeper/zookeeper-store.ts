/**
 * The HA store: state in the ZooKeeper ensemble the Mesos cluster already runs, shared by every
 * Polly instance. Key `volumes/<id>` is the znode `<root>/volumes/<id>` (see znode-paths.ts), whose
 * data is a small JSON header with the key's version and value (node-header.ts). The version lives
 * in the header rather than being the znode's dataVersion because a znode can be a parent before it
 * is a key (`a/b` written before `a`), and a parent that stops being a key cannot be removed while
 * it has children: with its own counter, a key always starts at 1 (the Store contract).
 *
 * Writes are optimistic transactions, committed in groups (zk-group-commit.ts): decided on the
 * znode states this store last saw, sent as one multi whose every operation is conditional on the
 * znode version it was decided on, and decided again from fresh reads if anyone changed one of
 * those znodes meanwhile — so compare-and-set and atomic batches hold across processes. An
 * optional fence (the leader's election node) is checked by every multi: a deposed leader's writes
 * fail instead of racing the new leader. Values over CHUNK_THRESHOLD bytes are stored in chunks
 * (zk-chunks.ts).
 *
 * Watches deliver this instance's changes synchronously at commit (before the write resolves) and
 * other processes' changes through ZooKeeper data/child watches (see ZkTreeWatcher).
 */
import { WriteBatchStore } from '../write-batch-store';
import { storeWriteFailure } from '../../errors/store-write-error';
import { UnavailableError } from '../../errors/unavailable-error';
import { ValidationError } from '../../errors/validation-error';
import { Logger, silentLogger } from '../../shared/logger';
import {
  assertValidExpectedVersion,
  assertValidKey,
  assertValidPrefix,
  BatchOperation,
  Store,
  StoreClosedError,
  StoreListener,
  Versioned,
} from '../store';
import { KnownNodes } from './known-nodes';
import { knownFromRead, NodeHeader, parseHeader } from './node-header';
import { mapLimit, ZkChunks } from './zk-chunks';
import { ZkGroupCommit } from './zk-group-commit';
import type { PlannedChange } from './zk-write-plan';
import { ZkSession } from '../../shared/zookeeper/zk-session';
import { childKey, joinPath, keyToPath, normaliseRoot, prefixToBase } from './znode-paths';
import { ZkTreeWatcher } from './zk-tree-watcher';

export { CHUNK_THRESHOLD } from './zk-chunks';
export { StoreFencedError } from './zk-group-commit';
export type { NodeHeader } from './node-header';

/** ZooKeeper requests in flight for one scan/count walk. */
const WALK_CONCURRENCY = 64;

export interface ZookeeperStoreOptions {
  /** `host:port[,host:port]`; ignored when `session` is given. */
  servers?: string;
  /** A session shared with others (leader election); the store does not close it. */
  session?: ZkSession;
  /** Default `/polly`. */
  root?: string;
  sessionTimeoutMs?: number;
  logger?: Logger;
}

function codePointCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export class ZookeeperStore extends WriteBatchStore implements Store {
  readonly backend = 'zookeeper';
  readonly root: string;
  private session: ZkSession | undefined;
  private readonly ownsSession: boolean;
  private readonly logger: Logger;
  private opened = false;
  private inFlight = new Set<Promise<unknown>>();
  private watchers = new Set<ZkTreeWatcher>();
  private fencePath: string | undefined;
  private readonly chunks: ZkChunks;
  /** What this store last saw of each znode: writes are decided on it (see KnownNodes). */
  private known = new KnownNodes();
  private commits: ZkGroupCommit;

  constructor(private readonly options: ZookeeperStoreOptions) {
    super();
    if (!options.session && !options.servers)
      throw new ValidationError('ZookeeperStore needs servers or a session', { field: 'state.servers' });
    this.root = normaliseRoot(options.root ?? '/polly');
    if (this.root === '/') throw new ValidationError('state.path must not be the ZooKeeper root', { field: 'state.path' });
    this.ownsSession = !options.session;
    this.session = options.session;
    this.logger = options.logger ?? silentLogger;
    this.chunks = new ZkChunks(this.root, () => this.zk());
    this.commits = this.newGroupCommit();
  }

  get isOpen(): boolean {
    return this.opened;
  }

  /** `servers/root`, e.g. `zk1:2181,zk2:2181/polly`. */
  get location(): string {
    return `${this.options.servers ?? this.session?.servers ?? ''}${this.root}`;
  }

  /** The session in use (shared with leader election when given one). */
  get zkSession(): ZkSession {
    if (!this.session) throw new StoreClosedError();
    return this.session;
  }

  /**
   * Connects and makes sure the root exists. A missing root is an empty store: it is created
   * (empty) whatever `createIfMissing` says, and the caller decides whether an empty store is
   * acceptable (see state/open-installation.ts).
   */
  async open(): Promise<void> {
    if (this.opened) return;
    if (this.ownsSession) {
      this.session = new ZkSession({
        servers: this.options.servers!,
        sessionTimeoutMs: this.options.sessionTimeoutMs,
        logger: this.logger,
      });
    }
    const session = this.session!;
    try {
      await session.start();
      await session.mkdirp(this.chunks.dir);
    } catch (err) {
      if (this.ownsSession) session.close();
      throw err;
    }
    // Nothing remembered from before: another instance may have written meanwhile.
    this.known = new KnownNodes();
    this.commits = this.newGroupCommit();
    session.on('connected', this.onConnected);
    this.opened = true;
  }

  async close(): Promise<void> {
    if (!this.opened) return;
    this.opened = false;
    await Promise.allSettled([...this.inFlight]);
    for (const w of this.watchers) w.stop();
    this.watchers.clear();
    const session = this.session;
    session?.off('connected', this.onConnected);
    if (this.ownsSession) {
      session?.close();
      this.session = undefined;
    }
  }

  /**
   * Makes every later write conditional on `path` existing (the leader's ephemeral election node):
   * once the session that owns it is gone, writes fail with StoreFencedError. `undefined` clears it.
   */
  setFence(path: string | undefined): void {
    this.fencePath = path;
    // A new leadership trusts nothing remembered from before it (another leader wrote meanwhile).
    this.known.clear();
  }

  async get<T>(key: string): Promise<T | undefined> {
    return (await this.getVersioned<T>(key))?.value;
  }

  async getVersioned<T>(key: string): Promise<Versioned<T> | undefined> {
    assertValidKey(key);
    const session = this.handle();
    const path = keyToPath(this.root, key);
    for (let attempt = 0; ; attempt++) {
      const node = await session.getData(path);
      const header = parseHeader(node?.data);
      this.known.set(key, knownFromRead(node, header));
      if (!header) return undefined;
      const value = await this.chunks.read(header);
      if (value.found) return { value: value.value as T, version: header.v };
      if (attempt > 20) throw new UnavailableError(`Store key ${JSON.stringify(key)} keeps changing while being read`, { key });
    }
  }

  async *scan<T>(prefix: string): AsyncIterable<[string, T]> {
    assertValidPrefix(prefix);
    this.handle();
    const entries = await this.walk(prefix);
    entries.sort((a, b) => codePointCompare(a[0], b[0]));
    for (const [key, header] of entries) {
      let current: NodeHeader | undefined = header;
      let value = await this.chunks.read(current);
      while (!value.found) {
        // Replaced while we walked (its old chunks are gone): read the key again.
        const node = await this.handle().getData(keyToPath(this.root, key));
        current = parseHeader(node?.data);
        if (!current) break;
        value = await this.chunks.read(current);
      }
      if (current && value.found) yield [key, value.value as T];
    }
  }

  async count(prefix: string): Promise<number> {
    assertValidPrefix(prefix);
    this.handle();
    return (await this.walk(prefix)).length;
  }

  watch<T>(prefix: string, listener: StoreListener<T>): () => void {
    assertValidPrefix(prefix);
    const watcher = new ZkTreeWatcher({
      session: this.handle(),
      root: this.root,
      prefix,
      listener: listener as StoreListener<unknown>,
      readValue: (header) => this.chunks.read(header),
      logger: this.logger,
    });
    this.watchers.add(watcher);
    watcher.start();
    return () => {
      watcher.stop();
      this.watchers.delete(watcher);
    };
  }

  /** Removes chunk sets that no key points to (left by a crash between writing chunks and committing). */
  async sweepChunks(): Promise<number> {
    this.handle();
    return this.chunks.sweep(async () => {
      const used = new Set<string>();
      for (const [, header] of await this.walk('')) if (header.c) used.add(header.c.id);
      return used;
    });
  }

  // ---- writes ----

  protected write(operations: readonly BatchOperation[]): Promise<number> {
    let encoded: Array<Buffer | undefined>;
    try {
      for (const op of operations) {
        assertValidKey(op.key);
        if (op.expectVersion !== undefined) assertValidExpectedVersion(op.expectVersion);
        if (op.type === 'put' && op.value === undefined)
          throw new ValidationError('Store values must be JSON values, not undefined', { field: 'value' });
      }
      // Encoded now: a caller changing its object after put() does not change what is written.
      encoded = operations.map((op) => (op.type === 'put' ? Buffer.from(JSON.stringify(op.value), 'utf8') : undefined));
    } catch (err) {
      return Promise.reject(err);
    }
    if (!this.opened) return Promise.reject(new StoreClosedError());
    const running = this.commits.submit(operations, encoded).catch((err: unknown) => Promise.reject(storeWriteFailure(err)));
    this.inFlight.add(running);
    const forget = (): void => void this.inFlight.delete(running);
    running.then(forget, forget);
    return running;
  }

  private newGroupCommit(): ZkGroupCommit {
    return new ZkGroupCommit({
      root: this.root,
      session: () => this.zk(),
      chunks: this.chunks,
      known: this.known,
      fence: () => this.fencePath,
      onCommit: (changes, writeId) => this.notify(changes, writeId),
    });
  }

  // ---- reads ----

  /** Every key under `prefix` with its header (unsorted); what it read is remembered for writes. */
  private async walk(prefix: string): Promise<Array<[string, NodeHeader]>> {
    const session = this.zk();
    const { dir, dirKey, partial } = prefixToBase(this.root, prefix);
    const out: Array<[string, NodeHeader]> = [];
    const visitChildren = async (path: string, key: string, filter: string): Promise<void> => {
      const children = await session.getChildren(path);
      if (!children) return;
      this.commits.noteParent(path);
      const wanted = children.filter(
        (name) => !(path === this.root && name.startsWith('.')) && (filter === '' || childKey('', name).startsWith(filter)),
      );
      await mapLimit(wanted, WALK_CONCURRENCY, async (name) => {
        const childPath = joinPath(path, name);
        const ck = childKey(key, name);
        const node = await session.getData(childPath);
        if (!node) return;
        const header = parseHeader(node.data);
        this.known.set(ck, knownFromRead(node, header));
        if (header) out.push([ck, header]);
        if (node.stat.numChildren > 0) await visitChildren(childPath, ck, '');
      });
    };
    await visitChildren(dir, dirKey, partial);
    return out;
  }

  private notify(changes: readonly PlannedChange[], writeId: string): void {
    if (this.watchers.size === 0) return;
    const decoded = changes.map((c) => ({
      key: c.key,
      value: c.raw === undefined ? undefined : (JSON.parse(c.raw.toString('utf8')) as unknown),
      version: c.version,
    }));
    for (const watcher of this.watchers) watcher.deliverLocal(decoded, writeId);
  }

  /** For the public entry points: the store must be open. */
  private handle(): ZkSession {
    if (!this.opened || !this.session) throw new StoreClosedError();
    return this.session;
  }

  /** For work already admitted (writes finishing during close()). */
  private zk(): ZkSession {
    if (!this.session) throw new StoreClosedError();
    return this.session;
  }

  /** A new session lost every watch: the tree watchers catch up (and re-arm) from fresh reads. */
  private readonly onConnected = ({ newSession }: { newSession: boolean }): void => {
    // Others may have written while this session was away: remember nothing from before it.
    if (newSession) this.known.clear();
    for (const w of this.watchers) {
      if (newSession) w.resync();
      else w.resyncIfDirty();
    }
  };
}
