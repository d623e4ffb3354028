/**
 * One `Store.watch(prefix)` on the ZooKeeper store: mirrors the state tokens (`version:writeId`) of
 * the keys under the prefix, with a data watch and a child watch on every znode of that subtree
 * (ZooKeeper watches are one-shot: each event re-reads the node, which re-arms it). A change whose
 * token differs from the mirror's is delivered; changes this store instance made itself are
 * delivered at commit through `deliverLocal` and update the mirror, so their watch events are
 * recognised and not delivered twice.
 *
 * Events are handled one at a time, in arrival order. ZooKeeper watches say "something changed",
 * not each change: several quick changes to one key may be delivered as the latest one only. After
 * a new session (all watches lost) or a failed re-read, `resync()` diffs the subtree against the
 * mirror and delivers what changed meanwhile, deletions included.
 */
import { Event } from 'node-zookeeper-client';
import type { Logger } from '../../shared/logger';
import type { StoreChange, StoreListener } from '../store';
import type { ZkSession } from '../../shared/zookeeper/zk-session';
import { childKey, decodeSegment, joinPath, prefixToBase } from './znode-paths';
import { type NodeHeader, parseHeader } from './node-header';

export interface ZkTreeWatcherOptions {
  session: ZkSession;
  root: string;
  prefix: string;
  listener: StoreListener<unknown>;
  readValue: (header: NodeHeader) => Promise<{ found: boolean; value?: unknown }>;
  logger: Logger;
}

const EVENT = { CREATED: 1, DELETED: 2, DATA_CHANGED: 3, CHILDREN_CHANGED: 4 } as const;

export class ZkTreeWatcher {
  private readonly base: { dir: string; dirKey: string; partial: string };
  /** key → `version:writeId` of what listeners last saw. */
  private readonly known = new Map<string, string>();
  /** znode path → the child names being watched under it. */
  private readonly children = new Map<string, Set<string>>();
  private queue: Promise<void> = Promise.resolve();
  private stopped = false;
  private dirty = false;

  constructor(private readonly options: ZkTreeWatcherOptions) {
    this.base = prefixToBase(options.root, options.prefix);
  }

  /** Reads the subtree (its current keys are the baseline, not changes) and arms the watches. */
  start(): void {
    this.enqueue(() => this.listDir(this.base.dir, this.base.dirKey, this.base.partial, false));
  }

  stop(): void {
    this.stopped = true;
  }

  /** Catch up after lost watches: deliver every difference between ZooKeeper and the mirror. */
  resync(): void {
    this.dirty = false;
    this.children.clear();
    this.enqueue(async () => {
      const seen = new Set<string>();
      await this.listDir(this.base.dir, this.base.dirKey, this.base.partial, true, seen);
      for (const key of [...this.known.keys()]) if (!seen.has(key)) this.forgetKey(key, true);
    });
  }

  resyncIfDirty(): void {
    if (this.dirty) this.resync();
  }

  /** This instance's own committed changes, delivered before its write resolves. */
  deliverLocal(changes: readonly StoreChange[], writeId: string): void {
    if (this.stopped) return;
    for (const change of changes) {
      if (!change.key.startsWith(this.options.prefix)) continue;
      if (change.value === undefined) this.known.delete(change.key);
      else this.known.set(change.key, `${change.version}:${writeId}`);
      this.emit(change);
    }
  }

  private enqueue(task: () => Promise<void>): void {
    this.queue = this.queue.then(async () => {
      if (this.stopped) return;
      try {
        await task();
      } catch (err) {
        // Typically a connection loss: the watches of a live session come back by themselves,
        // but this read (and its re-arm) is lost — catch up at the next connection.
        this.dirty = true;
        this.options.logger.warn('state store watch could not re-read ZooKeeper; will resync', {
          prefix: this.options.prefix,
          error: (err as Error).message,
        });
      }
    });
  }

  private readonly onEvent = (event: Event): void => {
    if (this.stopped) return;
    const path = event.getPath();
    const type = event.getType();
    this.enqueue(async () => {
      if (path === this.base.dir) {
        await this.listDir(this.base.dir, this.base.dirKey, this.base.partial, true);
        return;
      }
      const key = this.keyOf(path);
      if (key === undefined) return;
      if (type === EVENT.CHILDREN_CHANGED) await this.listDir(path, key, '', true);
      else await this.readNode(path, key, true);
    });
  };

  private keyOf(path: string): string | undefined {
    const root = this.options.root;
    if (!path.startsWith(`${root}/`)) return undefined;
    return path
      .slice(root.length + 1)
      .split('/')
      .map(decodeSegment)
      .join('/');
  }

  private async listDir(path: string, key: string, filter: string, deliver: boolean, seen?: Set<string>): Promise<void> {
    const session = this.options.session;
    const names = await session.getChildren(path, this.onEvent);
    if (names === undefined) {
      if (path === this.base.dir) await session.exists(path, this.onEvent); // told when it appears
      this.forgetDir(path, deliver);
      return;
    }
    const wanted = names.filter((n) => !n.startsWith('.') && (filter === '' || decodeSegment(n).startsWith(filter)));
    const before = this.children.get(path) ?? new Set<string>();
    this.children.set(path, new Set(wanted));
    for (const name of before) {
      if (!wanted.includes(name)) this.forgetDir(joinPath(path, name), deliver);
    }
    for (const name of wanted) {
      if (before.has(name) && !seen) continue;
      const childPath = joinPath(path, name);
      const ck = childKey(key, name);
      seen?.add(ck);
      await this.readNode(childPath, ck, deliver);
      await this.listDir(childPath, ck, '', deliver, seen);
    }
  }

  private async readNode(path: string, key: string, deliver: boolean): Promise<void> {
    const node = await this.options.session.getData(path, this.onEvent);
    const header = parseHeader(node?.data);
    const token = header ? `${header.v}:${header.w}` : undefined;
    if (token === this.known.get(key)) return;
    if (!header) {
      this.forgetKey(key, deliver);
      return;
    }
    const value = await this.options.readValue(header);
    if (!value.found) {
      // Replaced while we read it: its own watch event follows.
      return;
    }
    this.known.set(key, token!);
    if (deliver) this.emit({ key, value: value.value, version: header.v });
  }

  /** A znode and its subtree are gone: every key mirrored under it is deleted. */
  private forgetDir(path: string, deliver: boolean): void {
    const key = this.keyOf(path);
    for (const p of [...this.children.keys()]) if (p === path || p.startsWith(`${path}/`)) this.children.delete(p);
    if (key === undefined) return;
    for (const k of [...this.known.keys()]) if (k === key || k.startsWith(`${key}/`)) this.forgetKey(k, deliver);
  }

  private forgetKey(key: string, deliver: boolean): void {
    if (!this.known.delete(key)) return;
    if (deliver) this.emit({ key, value: undefined, version: 0 });
  }

  private emit(change: StoreChange): void {
    if (!change.key.startsWith(this.options.prefix)) return;
    try {
      // Each listener its own copy: one that mutates the value cannot affect another.
      this.options.listener({
        key: change.key,
        value: change.value === undefined ? undefined : structuredClone(change.value),
        version: change.version,
      });
    } catch (err) {
      this.options.logger.warn('state store watcher threw; ignored', { key: change.key, error: (err as Error).message });
    }
  }
}
