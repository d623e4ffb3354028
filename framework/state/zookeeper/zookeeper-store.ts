/**
 * The HA store: state in the ZooKeeper ensemble the Mesos cluster already runs, shared by every
 * Polly instance. Key `volumes/<id>` is the znode `<root>/volumes/<id>` (see znode-paths.ts).
 *
 * A key's znode holds a small JSON header `{"v":<version>,"w":<write id>,"d":<value>}`; a znode
 * with empty data is only a parent of other keys and is not a key itself. The version lives in the
 * header rather than being the znode's dataVersion because a znode can be a parent before it is a
 * key (`a/b` written before `a`), and a parent that stops being a key cannot be removed while it
 * has children: with its own counter, a key always starts at 1 (the Store contract).
 *
 * Writes are optimistic transactions: read the znodes involved, check the caller's expected
 * versions against the headers, then commit ONE multi-op whose every operation is conditional on
 * the znode versions just read (setData/remove with version; create fails if the node appeared;
 * create+remove asserts absence). If anyone changed one of those nodes in between, the multi fails
 * as a whole and the write is re-evaluated from fresh reads — so compare-and-set and atomic batches
 * hold across processes. An optional fence (the leader's election node) is checked by every multi:
 * a deposed leader's writes fail instead of racing the new leader.
 *
 * Values over CHUNK_THRESHOLD bytes (ZooKeeper refuses nodes and requests over ~1 MB) are written
 * first as chunk nodes under `<root>/.chunks/<write id>/`, one request each, and the header that
 * points to them is committed by the multi; the previous chunks are removed afterwards. Readers that
 * find a chunk missing (replaced meanwhile) re-read the header. A crash between the two leaves an
 * unreferenced chunk set, which `sweepChunks()` removes.
 *
 * Watches deliver this instance's changes synchronously at commit (before the write resolves) and
 * other processes' changes through ZooKeeper data/child watches (see ZkTreeWatcher).
 */
import { WriteBatchStore } from '../write-batch-store';
import { randomBytes } from 'node:crypto';
import zookeeper from 'node-zookeeper-client';
import { storeWriteFailure } from '../../errors/store-write-error';
import { UnavailableError } from '../../errors/unavailable-error';
import { ValidationError } from '../../errors/validation-error';
import { Logger, silentLogger } from '../../mesos/logger';
import {
  assertValidExpectedVersion,
  assertValidKey,
  assertValidPrefix,
  BatchOperation,
  Store,
  StoreChange,
  StoreClosedError,
  StoreConflictError,
  StoreListener,
  Versioned,
} from '../store';
import { isZkCode, ZK_CODES, ZkError, ZkOp, ZkSession } from './zk-session';
import { CHUNKS_DIR, childKey, joinPath, keyToPath, normaliseRoot, parentPath, prefixToBase } from './znode-paths';
import { ZkTreeWatcher } from './zk-tree-watcher';

/** Inline values up to this many bytes; larger ones are chunked (ZooKeeper's default jute.maxbuffer is 1 MiB). */
export const CHUNK_THRESHOLD = 512 * 1024;
const CHUNK_SIZE = 512 * 1024;
/** Attempts of one optimistic write before giving up (only reached under extreme contention). */
const MAX_ATTEMPTS = 200;
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

/** A write was refused because this instance lost its fence (it is no longer the leader). */
export class StoreFencedError extends UnavailableError {
  override name = 'StoreFencedError';
  override readonly code: string = 'STORE_FENCED';
}

/** What a key's znode holds. */
export interface NodeHeader {
  v: number;
  w: string;
  d?: unknown;
  /** Chunked value: chunk set ID, chunk count, total bytes. */
  c?: { id: string; n: number; bytes: number };
}

/** The state of one key's znode as read for a write. */
interface NodeState {
  path: string;
  /** The znode exists (as a key or as a parent only). */
  exists: boolean;
  /** The znode's own dataVersion, for the conditional operations. */
  zkVersion: number;
  numChildren: number;
  header: NodeHeader | undefined;
}

function parseHeader(data: Buffer | undefined): NodeHeader | undefined {
  if (!data || data.length === 0) return undefined;
  return JSON.parse(data.toString('utf8')) as NodeHeader;
}

interface Prepared {
  ops: ZkOp[];
  changes: StoreChange[];
  lastVersion: number;
  /** Chunk sets created for this write (removed again if it fails). */
  newChunkSets: string[];
  /** Chunk sets the write replaced (removed after it commits). */
  oldChunkSets: string[];
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
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
  private knownParents = new Set<string>();
  private fencePath: string | undefined;
  private writeCounter = 0;
  private readonly instanceId = randomBytes(6).toString('hex');

  constructor(private readonly options: ZookeeperStoreOptions) {
    super();
    if (!options.session && !options.servers) throw new ValidationError('ZookeeperStore needs servers or a session', { field: 'state.servers' });
    this.root = normaliseRoot(options.root ?? '/polly');
    if (this.root === '/') throw new ValidationError('state.path must not be the ZooKeeper root', { field: 'state.path' });
    this.ownsSession = !options.session;
    this.session = options.session;
    this.logger = options.logger ?? silentLogger;
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
      this.session = new ZkSession({ servers: this.options.servers!, sessionTimeoutMs: this.options.sessionTimeoutMs, logger: this.logger });
    }
    const session = this.session!;
    try {
      await session.start();
      await session.mkdirp(joinPath(this.root, CHUNKS_DIR));
    } catch (err) {
      if (this.ownsSession) session.close();
      throw err;
    }
    this.knownParents = new Set([this.root]);
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
      if (!header) return undefined;
      const value = await this.valueFromHeader(header);
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
      let value = await this.valueFromHeader(current);
      while (!value.found) {
        // Replaced while we walked (its old chunks are gone): read the key again.
        const node = await this.handle().getData(keyToPath(this.root, key));
        current = parseHeader(node?.data);
        if (!current) break;
        value = await this.valueFromHeader(current);
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
      readValue: (header) => this.valueFromHeader(header),
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
    const session = this.handle();
    const chunksDir = joinPath(this.root, CHUNKS_DIR);
    const sets = (await session.getChildren(chunksDir)) ?? [];
    if (sets.length === 0) return 0;
    const used = new Set<string>();
    for (const [, header] of await this.walk('')) if (header.c) used.add(header.c.id);
    let removed = 0;
    for (const id of sets) {
      if (used.has(id)) continue;
      // Only sets older than a minute: a set this young may belong to a write about to commit.
      const stat = await session.exists(joinPath(chunksDir, id));
      if (!stat || Date.now() - Number(stat.ctime.readBigInt64BE()) < 60_000) continue;
      await this.removeChunkSet(id);
      removed++;
    }
    return removed;
  }

  // ---- writes ----

  protected write(operations: readonly BatchOperation[]): Promise<number> {
    try {
      for (const op of operations) {
        assertValidKey(op.key);
        if (op.expectVersion !== undefined) assertValidExpectedVersion(op.expectVersion);
        if (op.type === 'put' && op.value === undefined) throw new ValidationError('Store values must be JSON values, not undefined', { field: 'value' });
      }
    } catch (err) {
      return Promise.reject(err);
    }
    if (!this.opened) return Promise.reject(new StoreClosedError());
    const running = this.commit(operations).catch((err: unknown) => Promise.reject(storeWriteFailure(err)));
    this.inFlight.add(running);
    const forget = (): void => void this.inFlight.delete(running);
    running.then(forget, forget);
    return running;
  }

  private async commit(operations: readonly BatchOperation[]): Promise<number> {
    const session = this.zk();
    const keys = [...new Set(operations.map((op) => op.key))];
    const paths = new Map(keys.map((k) => [k, keyToPath(this.root, k)]));
    const encoded = operations.map((op) => (op.type === 'put' ? Buffer.from(JSON.stringify(op.value), 'utf8') : undefined));
    await this.ensureParents([...paths.values()]);
    for (let attempt = 1; ; attempt++) {
      const writeId = `${this.instanceId}-${(++this.writeCounter).toString(36)}`;
      const states = new Map<string, NodeState>();
      await Promise.all(keys.map(async (k) => states.set(k, await this.readState(paths.get(k)!))));
      // Throws StoreConflictError (a real conflict, nothing written) before anything is sent.
      const prepared = await this.prepare(operations, encoded, states, writeId);
      if (prepared.ops.length === 0) return prepared.lastVersion;
      const ops = this.fencePath ? [{ type: 'check' as const, path: this.fencePath, version: -1 }, ...prepared.ops] : prepared.ops;
      try {
        await session.multi(ops);
      } catch (err) {
        await Promise.all(prepared.newChunkSets.map((id) => this.removeChunkSet(id).catch(() => undefined)));
        if (err instanceof ZkError && this.fencePath && err.opIndex === 0) {
          throw new StoreFencedError('This Polly instance is no longer the leader: the write was refused', { fence: this.fencePath });
        }
        if (err instanceof ZkError && err.code === ZK_CODES.NO_NODE) this.knownParents.clear();
        const raced =
          err instanceof ZkError &&
          (err.code === ZK_CODES.BAD_VERSION || err.code === ZK_CODES.NODE_EXISTS || err.code === ZK_CODES.NO_NODE || err.code === ZK_CODES.NOT_EMPTY);
        if (!raced) throw err;
        if (attempt >= MAX_ATTEMPTS) throw new UnavailableError('State store write kept racing other writers; gave up', { keys: keys.slice(0, 10) });
        if (err.code === ZK_CODES.NO_NODE) await this.ensureParents([...paths.values()]);
        // Someone changed a node we read: re-read and decide again (maybe now a real conflict).
        if (attempt > 3) await new Promise((r) => setTimeout(r, Math.min(50, attempt) * Math.random()));
        continue;
      }
      await Promise.all(prepared.oldChunkSets.map((id) => this.removeChunkSet(id).catch(() => undefined)));
      this.notify(prepared.changes, writeId);
      return prepared.lastVersion;
    }
  }

  private async readState(path: string): Promise<NodeState> {
    const node = await this.zk().getData(path);
    if (!node) return { path, exists: false, zkVersion: -1, numChildren: 0, header: undefined };
    return { path, exists: true, zkVersion: node.stat.version, numChildren: node.stat.numChildren, header: parseHeader(node.data) };
  }

  /** Checks expected versions and turns the operations into one conditional multi. */
  private async prepare(
    operations: readonly BatchOperation[],
    encoded: ReadonlyArray<Buffer | undefined>,
    states: Map<string, NodeState>,
    writeId: string,
  ): Promise<Prepared> {
    const final = new Map<string, { version: number; raw: Buffer | undefined }>();
    const changes: StoreChange[] = [];
    let lastVersion = 0;
    operations.forEach((op, i) => {
      const before = final.get(op.key) ?? { version: states.get(op.key)!.header?.v ?? 0, raw: undefined };
      const actual = before.version;
      if (op.expectVersion !== undefined && op.expectVersion !== actual) throw new StoreConflictError(op.key, op.expectVersion, actual);
      if (op.type === 'put') {
        const version = actual + 1;
        final.set(op.key, { version, raw: encoded[i] });
        changes.push({ key: op.key, value: JSON.parse(encoded[i]!.toString('utf8')), version });
        lastVersion = version;
      } else {
        lastVersion = 0;
        if (actual === 0) {
          if (op.expectVersion !== undefined && !final.has(op.key)) final.set(op.key, { version: 0, raw: undefined });
          return;
        }
        final.set(op.key, { version: 0, raw: undefined });
        changes.push({ key: op.key, value: undefined, version: 0 });
      }
    });
    const prepared: Prepared = { ops: [], changes, lastVersion, newChunkSets: [], oldChunkSets: [] };
    for (const [key, target] of final) {
      const state = states.get(key)!;
      const oldChunks = state.header?.c?.id;
      if (target.raw !== undefined) {
        const data = await this.headerFor(target.version, writeId, target.raw, prepared);
        prepared.ops.push(state.exists ? { type: 'setData', path: state.path, data, version: state.zkVersion } : { type: 'create', path: state.path, data });
        if (oldChunks) prepared.oldChunkSets.push(oldChunks);
      } else if (state.header) {
        // Delete: a node that is also a parent keeps existing, as a parent only.
        prepared.ops.push(
          state.numChildren > 0
            ? { type: 'setData', path: state.path, data: Buffer.alloc(0), version: state.zkVersion }
            : { type: 'remove', path: state.path, version: state.zkVersion },
        );
        if (oldChunks) prepared.oldChunkSets.push(oldChunks);
      } else if (state.exists) {
        // Asserted absent (expectVersion 0) and only a parent: it must stay so.
        prepared.ops.push({ type: 'check', path: state.path, version: state.zkVersion });
      } else {
        // Asserted absent and no node: create-and-remove fails if it appears meanwhile.
        prepared.ops.push({ type: 'create', path: state.path, data: Buffer.alloc(0) }, { type: 'remove', path: state.path, version: 0 });
      }
    }
    // Nothing changes (e.g. deleting an absent key at expected version 0): the reads just made are
    // the answer, there is nothing to commit.
    if (changes.length === 0) prepared.ops = [];
    return prepared;
  }

  /** The header for a new value; a large value's chunks are written now, under a new chunk set. */
  private async headerFor(version: number, writeId: string, raw: Buffer, prepared: Prepared): Promise<Buffer> {
    if (raw.length <= CHUNK_THRESHOLD) {
      return Buffer.concat([Buffer.from(`{"v":${version},"w":${JSON.stringify(writeId)},"d":`), raw, Buffer.from('}')]);
    }
    const id = `${writeId}-${randomBytes(4).toString('hex')}`;
    const dir = joinPath(joinPath(this.root, CHUNKS_DIR), id);
    const session = this.zk();
    await session.create(dir, Buffer.alloc(0));
    prepared.newChunkSets.push(id);
    const n = Math.ceil(raw.length / CHUNK_SIZE);
    await mapLimit(
      Array.from({ length: n }, (_, i) => i),
      4,
      (i) => session.create(joinPath(dir, String(i).padStart(6, '0')), raw.subarray(i * CHUNK_SIZE, (i + 1) * CHUNK_SIZE)),
    );
    return Buffer.from(JSON.stringify({ v: version, w: writeId, c: { id, n, bytes: raw.length } } satisfies NodeHeader));
  }

  private async removeChunkSet(id: string): Promise<void> {
    const session = this.zk();
    const dir = joinPath(joinPath(this.root, CHUNKS_DIR), id);
    const children = (await session.getChildren(dir)) ?? [];
    await mapLimit(children, 8, (c) => session.remove(joinPath(dir, c)).catch((err: unknown) => (isZkCode(err, ZK_CODES.NO_NODE) ? undefined : Promise.reject(err))));
    await session.remove(dir).catch((err: unknown) => (isZkCode(err, ZK_CODES.NO_NODE) ? undefined : Promise.reject(err)));
  }

  /** Parents are never keys' business: created ahead of the multi, empty, and kept. */
  private async ensureParents(paths: readonly string[]): Promise<void> {
    const missing = [...new Set(paths.map(parentPath))].filter((p) => !this.knownParents.has(p));
    await Promise.all(
      missing.map(async (p) => {
        await this.zk().mkdirp(p);
        this.knownParents.add(p);
      }),
    );
  }

  // ---- reads ----

  /** The value a header stands for; `found: false` when its chunks were replaced meanwhile. */
  private async valueFromHeader(header: NodeHeader): Promise<{ found: boolean; value?: unknown }> {
    if (!header.c) return { found: true, value: header.d };
    const dir = joinPath(joinPath(this.root, CHUNKS_DIR), header.c.id);
    const session = this.zk();
    const parts = await mapLimit(
      Array.from({ length: header.c.n }, (_, i) => i),
      4,
      async (i) => (await session.getData(joinPath(dir, String(i).padStart(6, '0'))))?.data,
    );
    if (parts.some((p) => p === undefined)) return { found: false };
    const raw = Buffer.concat(parts as Buffer[]);
    if (raw.length !== header.c.bytes) return { found: false };
    return { found: true, value: JSON.parse(raw.toString('utf8')) };
  }

  /** Every key under `prefix` with its header (unsorted). */
  private async walk(prefix: string): Promise<Array<[string, NodeHeader]>> {
    const session = this.zk();
    const { dir, dirKey, partial } = prefixToBase(this.root, prefix);
    const out: Array<[string, NodeHeader]> = [];
    const visitChildren = async (path: string, key: string, filter: string): Promise<void> => {
      const children = await session.getChildren(path);
      if (!children) return;
      const wanted = children.filter((name) => !(path === this.root && name.startsWith('.')) && (filter === '' || childKey('', name).startsWith(filter)));
      await mapLimit(wanted, WALK_CONCURRENCY, async (name) => {
        const childPath = joinPath(path, name);
        const ck = childKey(key, name);
        const node = await session.getData(childPath);
        if (!node) return;
        const header = parseHeader(node.data);
        if (header) out.push([ck, header]);
        if (node.stat.numChildren > 0) await visitChildren(childPath, ck, '');
      });
    };
    await visitChildren(dir, dirKey, partial);
    return out;
  }

  private notify(changes: readonly StoreChange[], writeId: string): void {
    for (const watcher of this.watchers) watcher.deliverLocal(changes, writeId);
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
    for (const w of this.watchers) {
      if (newSession) w.resync();
      else w.resyncIfDirty();
    }
  };
}

export const ZK_CREATE_MODE = zookeeper.CreateMode;
