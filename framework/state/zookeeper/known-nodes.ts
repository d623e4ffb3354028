/**
 * The znode states the ZooKeeper store last saw (by its own writes and reads), so a write can be
 * sent as one conditional multi without reading its keys first. An entry is a hint, never the
 * truth: every operation built from it is conditional on the znode version it names, so a stale
 * entry makes the multi fail (and the store re-reads), it cannot make a wrong write succeed.
 *
 * Bounded: the least recently used entries go first (a key not known costs one read, or a guess).
 */
import type { KnownNode } from './node-header';

/** Enough for the live claims and volumes a leader touches; about 100 bytes an entry. */
export const DEFAULT_KNOWN_NODES = 200_000;

export class KnownNodes {
  private readonly nodes = new Map<string, KnownNode>();

  constructor(private readonly capacity = DEFAULT_KNOWN_NODES) {}

  get size(): number {
    return this.nodes.size;
  }

  get(key: string): KnownNode | undefined {
    const node = this.nodes.get(key);
    if (node !== undefined) {
      // Most recently used last: Map keeps insertion order.
      this.nodes.delete(key);
      this.nodes.set(key, node);
    }
    return node;
  }

  set(key: string, node: KnownNode): void {
    this.nodes.delete(key);
    this.nodes.set(key, node);
    if (this.nodes.size > this.capacity) {
      const oldest = this.nodes.keys().next().value;
      if (oldest !== undefined) this.nodes.delete(oldest);
    }
  }

  forget(key: string): void {
    this.nodes.delete(key);
  }

  clear(): void {
    this.nodes.clear();
  }
}
