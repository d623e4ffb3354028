/**
 * A first-in, first-out queue with O(1) `shift()` at any length. `Array.prototype.shift` moves
 * every remaining element once an array is large (V8 trims small arrays in place, but not ones in
 * its large-object space, past ~16,000 elements): draining 300,000 queued keys through it took
 * minutes, a million would take hours. Here the head is an index; the consumed front is cut off
 * once it is at least half the array, so each element is copied at most once on average.
 */
/** The consumed front is cut off only past this many slots (small queues never copy). */
const COMPACT_AT = 1024;

export class Fifo<T> {
  private items: Array<T | undefined> = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  /** The oldest item, removed; undefined when empty. */
  shift(): T | undefined {
    if (this.head === this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined; // not kept alive by the consumed front
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= COMPACT_AT && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Removes the first occurrence of `item` (O(n): for rare cancellations); false if absent. */
  delete(item: T): boolean {
    const at = this.items.indexOf(item, this.head);
    if (at < 0) return false;
    this.items.splice(at, 1);
    return true;
  }
}
