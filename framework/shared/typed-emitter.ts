/**
 * A small typed wrapper over Node's EventEmitter: the event names and their payload types are
 * part of the type, so a listener for a misspelt event, or with the wrong payload, does not compile.
 * Every event carries at most one payload; events whose payload type is `void` take none.
 */
import { EventEmitter } from 'node:events';

/** Maps event name → payload type (use `void` for events without a payload). */
export type EventMap = { [event: string]: unknown };

export type Listener<P> = [P] extends [void] ? () => void : (payload: P) => void;
type EmitArgs<P> = [P] extends [void] ? [] : [payload: P];

export class TypedEmitter<E extends { [K in keyof E]: unknown }> {
  private readonly emitter = new EventEmitter();

  constructor() {
    // Many independent consumers (scheduler components, tests) may listen; do not warn at 10.
    this.emitter.setMaxListeners(0);
  }

  on<K extends keyof E & string>(event: K, listener: Listener<E[K]>): this {
    this.emitter.on(event, listener as (...args: unknown[]) => void);
    return this;
  }

  once<K extends keyof E & string>(event: K, listener: Listener<E[K]>): this {
    this.emitter.once(event, listener as (...args: unknown[]) => void);
    return this;
  }

  off<K extends keyof E & string>(event: K, listener: Listener<E[K]>): this {
    this.emitter.off(event, listener as (...args: unknown[]) => void);
    return this;
  }

  removeAllListeners<K extends keyof E & string>(event?: K): this {
    if (event === undefined) this.emitter.removeAllListeners();
    else this.emitter.removeAllListeners(event);
    return this;
  }

  listenerCount<K extends keyof E & string>(event: K): number {
    return this.emitter.listenerCount(event);
  }

  /** Calls the listeners synchronously, in registration order; returns whether there were any. */
  protected emit<K extends keyof E & string>(event: K, ...args: EmitArgs<E[K]>): boolean {
    return this.emitter.emit(event, ...args);
  }
}

/**
 * A typed emitter for events published after a change has happened (persisted, applied): a
 * throwing listener is ignored, so it can never undo, block or break the publisher.
 */
export class EventFeed<E extends { [K in keyof E]: unknown }> extends TypedEmitter<E> {
  publish<K extends keyof E & string>(event: K, payload: E[K]): void {
    try {
      (this.emit as (e: K, p: E[K]) => boolean)(event, payload);
    } catch {
      // listeners must not break the publisher
    }
  }
}
