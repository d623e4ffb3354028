/**
 * A bounded, in-memory journal of what happened (volume and claim changes, audits, anything else
 * published), served as server-sent events by `/v1/events`. IDs increase monotonically; a client
 * that reconnects with `Last-Event-ID` gets every event it missed that is still in the ring.
 *
 * IDs start at the boot time in microseconds, so they keep increasing across a Polly restart: a
 * client resuming with an ID from before the restart gets everything the new process has, and
 * never skips new events because its old ID looked "newer".
 */
import { EventEmitter } from 'node:events';

export interface JournalEvent {
  id: number;
  type: string;
  /** ISO-8601. */
  at: string;
  data: Record<string, unknown>;
}

export interface ReplayResult {
  events: JournalEvent[];
  /** True when events after `lastId` were already dropped from the ring (the client missed some). */
  truncated: boolean;
}

export const DEFAULT_JOURNAL_SIZE = 10_000;

export class EventJournal {
  private readonly ring: Array<JournalEvent | undefined>;
  private readonly emitter = new EventEmitter();
  /** Index of the oldest event in `ring`. */
  private head = 0;
  private count = 0;
  private nextId: number;

  constructor(
    readonly capacity: number = DEFAULT_JOURNAL_SIZE,
    firstId: number = Date.now() * 1000,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer');
    this.ring = new Array<JournalEvent | undefined>(capacity);
    this.nextId = firstId;
    this.emitter.setMaxListeners(0);
  }

  get size(): number {
    return this.count;
  }

  get lastId(): number | undefined {
    return this.count === 0 ? undefined : this.nextId - 1;
  }

  publish(type: string, data: Record<string, unknown>): JournalEvent {
    const event: JournalEvent = Object.freeze({ id: this.nextId++, type, at: new Date().toISOString(), data });
    if (this.count < this.capacity) {
      this.ring[(this.head + this.count) % this.capacity] = event;
      this.count++;
    } else {
      this.ring[this.head] = event;
      this.head = (this.head + 1) % this.capacity;
    }
    try {
      this.emitter.emit('event', event);
    } catch {
      // a subscriber's failure never reaches the publisher
    }
    return event;
  }

  /** Events with an ID above `lastId` (all of them when undefined), oldest first. */
  since(lastId?: number): ReplayResult {
    const events: JournalEvent[] = [];
    for (let i = 0; i < this.count; i++) {
      const e = this.ring[(this.head + i) % this.capacity]!;
      if (lastId === undefined || e.id > lastId) events.push(e);
    }
    const oldest = this.count === 0 ? undefined : this.ring[this.head]!.id;
    const truncated = lastId !== undefined && oldest !== undefined && lastId < oldest - 1;
    return { events, truncated };
  }

  /** Calls `listener` for every new event; returns the unsubscribe function. */
  subscribe(listener: (event: JournalEvent) => void): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }

  get subscribers(): number {
    return this.emitter.listenerCount('event');
  }
}
