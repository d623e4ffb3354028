/**
 * A set of IDs kept in ascending order (JavaScript string order), for paging by cursor: the IDs
 * after a given one are found in O(log n) and read in order, however many there are. The catalog
 * keeps its volume IDs here so that a page of `/v1/volumes` costs the same at 1,000,000 volumes as
 * at 1,000.
 *
 * Stored as a list of sorted chunks of up to 2 × CHUNK IDs each (a one-level B-tree): an insert or
 * a delete moves at most one chunk's elements and, rarely, the short list of chunks. IDs arriving
 * in ascending order (the store hands records out in key order at start-up) are appended.
 */
const CHUNK = 512;

/** Index of the first element of `sorted` that is >= `id` (or > `id` when `strict`). */
function bound(sorted: readonly string[], id: string, strict: boolean): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < id || (strict && sorted[mid] === id)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class SortedIdSet {
  private chunks: string[][] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Adds `id`; false if it was there already. */
  add(id: string): boolean {
    const chunks = this.chunks;
    if (chunks.length === 0) {
      chunks.push([id]);
      this.count++;
      return true;
    }
    const last = chunks[chunks.length - 1];
    // In order (the start-up load): appended without a search.
    const c = id > last[last.length - 1] ? chunks.length - 1 : this.chunkFor(id);
    const chunk = chunks[c];
    if (chunk === last && id > last[last.length - 1]) chunk.push(id);
    else {
      const at = bound(chunk, id, false);
      if (chunk[at] === id) return false;
      chunk.splice(at, 0, id);
    }
    if (chunk.length > 2 * CHUNK) chunks.splice(c + 1, 0, chunk.splice(CHUNK));
    this.count++;
    return true;
  }

  /** Removes `id`; false if it was not there. */
  delete(id: string): boolean {
    if (this.chunks.length === 0) return false;
    const c = this.chunkFor(id);
    const chunk = this.chunks[c];
    const at = bound(chunk, id, false);
    if (chunk[at] !== id) return false;
    chunk.splice(at, 1);
    if (chunk.length === 0) this.chunks.splice(c, 1);
    this.count--;
    return true;
  }

  has(id: string): boolean {
    if (this.chunks.length === 0) return false;
    const chunk = this.chunks[this.chunkFor(id)];
    return chunk[bound(chunk, id, false)] === id;
  }

  /**
   * The IDs greater than `after` (every ID when it is undefined), ascending. A live view: do not
   * change the set while iterating it.
   */
  *after(after?: string): IterableIterator<string> {
    const chunks = this.chunks;
    let c = 0;
    let at = 0;
    if (after !== undefined && chunks.length > 0) {
      c = this.chunkFor(after);
      at = bound(chunks[c], after, true);
    }
    for (; c < chunks.length; c++, at = 0) {
      const chunk = chunks[c];
      for (; at < chunk.length; at++) yield chunk[at];
    }
  }

  clear(): void {
    this.chunks = [];
    this.count = 0;
  }

  /** The chunk `id` belongs in: the last one whose first ID is <= `id` (the first chunk if none is). */
  private chunkFor(id: string): number {
    const chunks = this.chunks;
    let lo = 0;
    let hi = chunks.length - 1;
    let found = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (chunks[mid][0] <= id) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }
}
