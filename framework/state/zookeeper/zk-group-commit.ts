/**
 * How the ZooKeeper store writes: group commit over one session, one round trip per group.
 *
 * Writes queue up; the writes at the head of the queue whose keys do not overlap are decided
 * together (planWrite, on the znode states the store last saw — KnownNodes — instead of reading
 * each key first) and sent as ONE multi: the leader's fence check first, then every write's
 * operations, each conditional on the znode version it was decided on. A key nobody has seen is
 * guessed absent (a new claim, a new intent), which its `create` checks. Up to MAX_GROUPS_IN_FLIGHT
 * groups with disjoint keys are in flight at once; ZooKeeper applies one session's requests in
 * order, and a write whose keys are in a group in flight waits for it (writes commit in the order
 * they were submitted, except that a group that must be retried lets later disjoint ones pass).
 *
 * One write's failure is its own: a compare-and-set that does not hold (decided on a state read
 * during the write, never on a remembered one) rejects that write alone, before the multi is sent.
 * When the multi fails because a znode changed under it (another process wrote, or a guess or a
 * remembered state was wrong), every key of the group is read again and the group decided again —
 * the writes whose expectations no longer hold fail alone, the others are sent again. When the
 * fence check fails, every write of the group fails with StoreFencedError: a deposed leader writes
 * nothing. Any other failure (ZooKeeper unreachable) fails the group's writes, each "maybe applied".
 */
import { randomBytes } from 'node:crypto';
import { storeWriteFailure } from '../../errors/store-write-error';
import { UnavailableError } from '../../errors/unavailable-error';
import type { BatchOperation } from '../store';
import { KnownNodes } from './known-nodes';
import { ABSENT, KnownNode, knownFromRead } from './node-header';
import { CHUNK_THRESHOLD, ZkChunks } from './zk-chunks';
import { KeyTarget, PlannedChange, planWrite, WritePlan } from './zk-write-plan';
import { isZkCode, ZK_CODES, ZkError, ZkOp, ZkSession } from '../../shared/zookeeper/zk-session';
import { keyToPath, parentPath } from './znode-paths';

/** Attempts of one group before giving up (only reached under extreme contention). */
const MAX_ATTEMPTS = 200;
/** Writes in one group at most. */
const MAX_GROUP_WRITES = 256;
/**
 * Bytes of data in one group's multi at most (a single larger write still goes alone): ZooKeeper
 * refuses a request over jute.maxbuffer, 1 MiB by default.
 */
const MAX_GROUP_BYTES = 512 * 1024;
/** Groups sent and not yet answered, at most: enough to keep the session busy while the next forms. */
export const MAX_GROUPS_IN_FLIGHT = 4;

/** A write was refused because this instance lost its fence (it is no longer the leader). */
export class StoreFencedError extends UnavailableError {
  override name = 'StoreFencedError';
  override readonly code: string = 'STORE_FENCED';
}

interface PendingWrite {
  operations: readonly BatchOperation[];
  /** Operation i's value, encoded (puts only): encoded at submission, so later changes to the caller's object do not leak in. */
  encoded: Array<Buffer | undefined>;
  keys: string[];
  bytes: number;
  resolve: (version: number) => void;
  reject: (reason: unknown) => void;
}

interface Decided {
  write: PendingWrite;
  plan: Extract<WritePlan, { outcome: 'write' }>;
}

/** A group's multi, ready to send. */
interface Prepared {
  ops: ZkOp[];
  /** Each key's state once the multi has committed. */
  next: Array<[string, KnownNode]>;
  /** Parents the multi creates (ahead of the keys under them). */
  newParents: Set<string>;
  newChunkSets: string[];
  oldChunkSets: string[];
}

export interface ZkGroupCommitOptions {
  root: string;
  session: () => ZkSession;
  chunks: ZkChunks;
  known: KnownNodes;
  /** The leader's election node every multi checks, if any. */
  fence: () => string | undefined;
  /** A committed write's changes, in commit order, before the write resolves. */
  onCommit: (changes: readonly PlannedChange[], writeId: string) => void;
}

function groupBytes(operations: readonly BatchOperation[], encoded: ReadonlyArray<Buffer | undefined>): number {
  let bytes = 0;
  operations.forEach((op, i) => (bytes += 2 * op.key.length + 64 + (encoded[i]?.length ?? 0)));
  return bytes;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class ZkGroupCommit {
  private readonly pending: PendingWrite[] = [];
  /** Keys of the groups in flight: a write touching one waits for its group. */
  private readonly busyKeys = new Set<string>();
  private flights = 0;
  private pumpScheduled = false;
  private knownParents: Set<string>;
  private writeCounter = 0;
  private readonly instanceId = randomBytes(6).toString('hex');

  constructor(private readonly options: ZkGroupCommitOptions) {
    this.knownParents = new Set([options.root]);
  }

  /** A znode seen to exist (by a read): keys can be created under it without making it first. */
  noteParent(path: string): void {
    this.knownParents.add(path);
  }

  /** Queues one atomic write; resolves with the version of the last key written. */
  submit(operations: readonly BatchOperation[], encoded: Array<Buffer | undefined>): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const keys = [...new Set(operations.map((op) => op.key))];
      this.pending.push({ operations, encoded, keys, bytes: groupBytes(operations, encoded), resolve, reject });
      this.schedulePump();
    });
  }

  /** Writes submitted in the same turn of the event loop go out together. */
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    queueMicrotask(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (this.flights < MAX_GROUPS_IN_FLIGHT && this.pending.length > 0) {
      const group = this.takeGroup();
      if (group.length === 0) return; // the head waits for a group in flight
      const keys = group.flatMap((w) => w.keys);
      for (const key of keys) this.busyKeys.add(key);
      this.flights++;
      void this.commitGroup(group).finally(() => {
        this.flights--;
        for (const key of keys) this.busyKeys.delete(key);
        this.pump();
      });
    }
  }

  /** The writes at the head of the queue that can go together: in order, keys disjoint from each other and from the groups in flight. */
  private takeGroup(): PendingWrite[] {
    const group: PendingWrite[] = [];
    const keys = new Set<string>();
    let bytes = 0;
    let taken = 0;
    while (taken < this.pending.length && group.length < MAX_GROUP_WRITES) {
      const next = this.pending[taken];
      if (next.keys.some((k) => keys.has(k) || this.busyKeys.has(k))) break;
      if (group.length > 0 && bytes + next.bytes > MAX_GROUP_BYTES) break;
      group.push(next);
      for (const k of next.keys) keys.add(k);
      bytes += next.bytes;
      taken++;
    }
    this.pending.splice(0, taken);
    return group;
  }

  /** Commits a group; settles every write of it, never throws. */
  private async commitGroup(group: PendingWrite[]): Promise<void> {
    let live = group;
    /** States read during this group's commit: the only ones a decision without a multi may rest on. */
    let fresh = new Map<string, KnownNode>();
    for (let attempt = 1; live.length > 0; attempt++) {
      let decided: Decided[];
      try {
        decided = await this.decide(live, fresh);
      } catch (err) {
        for (const w of live) w.reject(storeWriteFailure(err));
        return;
      }
      if (decided.length === 0) return;
      const writes = decided.map((d) => d.write);
      const writeId = `${this.instanceId}-${(++this.writeCounter).toString(36)}`;
      const prepared: Prepared = { ops: [], next: [], newParents: new Set(), newChunkSets: [], oldChunkSets: [] };
      try {
        await this.prepare(decided, writeId, prepared);
        const fence = this.options.fence();
        await this.options.session().multi(fence ? [{ type: 'check', path: fence, version: -1 }, ...prepared.ops] : prepared.ops);
      } catch (err) {
        const retry = await this.afterFailure(err, decided, prepared, attempt);
        if (!retry) return;
        live = writes;
        fresh = new Map();
        try {
          await this.readFresh(
            live.flatMap((w) => w.keys),
            fresh,
          );
        } catch (readErr) {
          for (const w of live) w.reject(storeWriteFailure(readErr));
          return;
        }
        continue;
      }
      // In the same turn as the multi's answer: a watch read answered right after it must find
      // these changes already delivered (or it would deliver them a second time).
      for (const [key, node] of prepared.next) this.options.known.set(key, node);
      for (const parent of prepared.newParents) this.knownParents.add(parent);
      for (const { plan } of decided) this.options.onCommit(plan.changes, writeId);
      await Promise.all(prepared.oldChunkSets.map((id) => this.options.chunks.remove(id).catch(() => undefined)));
      for (const { write, plan } of decided) write.resolve(plan.lastVersion);
      return;
    }
  }

  /**
   * Decides each write; settles those that need no multi (a lost compare-and-set, a delete of
   * nothing) — on states read during this commit only — and returns the others.
   */
  private async decide(writes: PendingWrite[], fresh: Map<string, KnownNode>): Promise<Decided[]> {
    const knownOf = (key: string): KnownNode => fresh.get(key) ?? this.options.known.get(key) ?? ABSENT;
    let plans = writes.map((w) => planWrite(w.operations, w.encoded, knownOf));
    // Each round reads every key a decision without a multi rests on; a key read is then final,
    // so this ends after as many rounds as a write has keys at most.
    for (;;) {
      const toRead = new Set<string>();
      plans.forEach((plan) => {
        const keys = plan.outcome === 'conflict' ? [plan.error.key] : plan.unverified;
        for (const key of keys) if (!fresh.has(key)) toRead.add(key);
      });
      if (toRead.size === 0) break;
      await this.readFresh([...toRead], fresh);
      plans = writes.map((w) => planWrite(w.operations, w.encoded, knownOf));
    }
    const decided: Decided[] = [];
    plans.forEach((plan, i) => {
      const write = writes[i];
      if (plan.outcome === 'conflict') write.reject(plan.error);
      else if (plan.targets.length === 0) write.resolve(plan.lastVersion);
      else decided.push({ write, plan });
    });
    return decided;
  }

  /** The group's multi: each key's change, conditional on the state it was decided on. */
  private async prepare(decided: Decided[], writeId: string, prepared: Prepared): Promise<void> {
    const targets = decided.flatMap((d) => d.plan.targets);
    await this.addParents(prepared, targets);
    for (const target of targets) await this.addTarget(prepared, target, writeId);
  }

  /**
   * Parents are never keys' business: empty znodes, made when a key under them is created, and
   * kept. A parent not known to exist whose own parent is known is created by the multi itself (a
   * new volume's `claims-by-volume/<volume>`: no extra round trip); deeper new paths are made first.
   */
  private async addParents(prepared: Prepared, targets: readonly KeyTarget[]): Promise<void> {
    for (const target of targets) {
      if (target.known.zkVersion >= 0 || target.kind === 'delete') continue; // the znode exists: so does its parent
      const parent = parentPath(keyToPath(this.options.root, target.key));
      if (this.knownParents.has(parent) || prepared.newParents.has(parent)) continue;
      if (this.knownParents.has(parentPath(parent))) {
        prepared.newParents.add(parent);
        prepared.ops.push({ type: 'create', path: parent, data: Buffer.alloc(0) });
      } else {
        await this.ensurePath(parent);
      }
    }
  }

  private async addTarget(prepared: Prepared, target: KeyTarget, writeId: string): Promise<void> {
    const { key, known } = target;
    const path = keyToPath(this.options.root, key);
    const exists = known.zkVersion >= 0;
    if (target.kind === 'put') {
      const raw = target.raw!;
      let data: Buffer;
      let chunkSet: string | undefined;
      if (raw.length <= CHUNK_THRESHOLD) {
        data = Buffer.concat([Buffer.from(`{"v":${target.version},"w":${JSON.stringify(writeId)},"d":`), raw, Buffer.from('}')]);
      } else {
        const header = await this.options.chunks.write(raw, target.version, writeId);
        prepared.newChunkSets.push(header.c.id);
        chunkSet = header.c.id;
        data = Buffer.from(JSON.stringify(header));
      }
      prepared.ops.push(exists ? { type: 'setData', path, data, version: known.zkVersion } : { type: 'create', path, data });
      const next: KnownNode = {
        zkVersion: exists ? known.zkVersion + 1 : 0,
        numChildren: exists ? known.numChildren : 0,
        version: target.version,
      };
      if (chunkSet) next.chunkSet = chunkSet;
      prepared.next.push([key, next]);
      if (known.chunkSet) prepared.oldChunkSets.push(known.chunkSet);
    } else if (target.kind === 'delete') {
      if (known.numChildren > 0) {
        // A znode that is also a parent keeps existing, as a parent only.
        prepared.ops.push({ type: 'setData', path, data: Buffer.alloc(0), version: known.zkVersion });
        prepared.next.push([key, { zkVersion: known.zkVersion + 1, numChildren: known.numChildren, version: 0 }]);
      } else {
        prepared.ops.push({ type: 'remove', path, version: known.zkVersion });
        prepared.next.push([key, ABSENT]);
      }
      if (known.chunkSet) prepared.oldChunkSets.push(known.chunkSet);
    } else if (exists) {
      // Asserted absent and only a parent: it must stay so.
      prepared.ops.push({ type: 'check', path, version: known.zkVersion });
    } else {
      // Asserted absent and no znode: create-and-remove fails if it appears meanwhile.
      prepared.ops.push({ type: 'create', path, data: Buffer.alloc(0) }, { type: 'remove', path, version: 0 });
    }
  }

  /** After a failed multi: settles the writes (false) or says to decide them again (true). */
  private async afterFailure(err: unknown, decided: Decided[], prepared: Prepared, attempt: number): Promise<boolean> {
    const writes = decided.map((d) => d.write);
    // Whatever happened, what we remembered of these keys may be wrong now (or the multi may
    // have applied after all, when its answer was lost).
    for (const w of writes) for (const key of w.keys) this.options.known.forget(key);
    await Promise.all(prepared.newChunkSets.map((id) => this.options.chunks.remove(id).catch(() => undefined)));
    const fence = this.options.fence();
    if (err instanceof ZkError && fence && err.opIndex === 0) {
      const fenced = new StoreFencedError('This Polly instance is no longer the leader: the write was refused', { fence });
      for (const w of writes) w.reject(fenced);
      return false;
    }
    const raced =
      err instanceof ZkError &&
      (err.code === ZK_CODES.BAD_VERSION ||
        err.code === ZK_CODES.NODE_EXISTS ||
        err.code === ZK_CODES.NO_NODE ||
        err.code === ZK_CODES.NOT_EMPTY);
    if (!raced) {
      for (const w of writes) w.reject(storeWriteFailure(err));
      return false;
    }
    if (err.code === ZK_CODES.NO_NODE) this.knownParents.clear(); // a parent went: make them again
    if (err.code === ZK_CODES.NODE_EXISTS && err.path !== undefined && prepared.newParents.has(err.path)) this.knownParents.add(err.path);
    if (attempt >= MAX_ATTEMPTS) {
      const keys = writes.flatMap((w) => w.keys).slice(0, 10);
      for (const w of writes) w.reject(new UnavailableError('State store write kept racing other writers; gave up', { keys }));
      return false;
    }
    // Another writer is busy on these keys: let it finish before trying again.
    if (attempt > 3) await sleep(Math.min(50, attempt) * Math.random());
    return true;
  }

  /** Reads keys' znodes now (in parallel: one round trip); they become the group's fresh states and are remembered. */
  private async readFresh(keys: readonly string[], fresh: Map<string, KnownNode>): Promise<void> {
    const session = this.options.session();
    await Promise.all(
      [...new Set(keys)].map(async (key) => {
        const node = knownFromRead(await session.getData(keyToPath(this.options.root, key)));
        fresh.set(key, node);
        this.options.known.set(key, node);
      }),
    );
  }

  /** Creates `path` and whatever is missing above it: one round trip when only `path` is missing. */
  private async ensurePath(path: string): Promise<void> {
    if (this.knownParents.has(path) || path === '/') return;
    const session = this.options.session();
    try {
      await session.create(path, Buffer.alloc(0));
    } catch (err) {
      if (isZkCode(err, ZK_CODES.NO_NODE)) {
        await this.ensurePath(parentPath(path));
        return this.ensurePath(path);
      }
      if (!isZkCode(err, ZK_CODES.NODE_EXISTS)) throw err;
    }
    this.knownParents.add(path);
  }
}
