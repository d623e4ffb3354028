/**
 * An in-memory index from a key to the IDs filed under it, compact for the common case of one ID
 * per key (a volume's live claim, a task's claim): that ID is stored as the map value itself, and
 * only keys with two or more IDs get a Set. At 50,000 live claims this saves two Sets per claim.
 */
const NONE: readonly string[] = Object.freeze([]);

export class MultiIndex {
  private readonly map = new Map<string, string | Set<string>>();

  add(key: string | undefined, id: string): void {
    if (key === undefined) return;
    const have = this.map.get(key);
    if (have === undefined) this.map.set(key, id);
    else if (typeof have === 'string') {
      if (have !== id) this.map.set(key, new Set([have, id]));
    } else have.add(id);
  }

  remove(key: string | undefined, id: string): void {
    if (key === undefined) return;
    const have = this.map.get(key);
    if (have === undefined) return;
    if (typeof have === 'string') {
      if (have === id) this.map.delete(key);
      return;
    }
    have.delete(id);
    if (have.size === 1) this.map.set(key, have.values().next().value as string);
    else if (have.size === 0) this.map.delete(key);
  }

  /** The IDs under `key` (a snapshot-free view: do not change the index while iterating it). */
  get(key: string): Iterable<string> {
    const have = this.map.get(key);
    if (have === undefined) return NONE;
    return typeof have === 'string' ? [have] : have;
  }

  count(key: string): number {
    const have = this.map.get(key);
    return have === undefined ? 0 : typeof have === 'string' ? 1 : have.size;
  }

  has(key: string): boolean {
    return this.map.has(key);
  }

  keys(): IterableIterator<string> {
    return this.map.keys();
  }

  clear(): void {
    this.map.clear();
  }
}
