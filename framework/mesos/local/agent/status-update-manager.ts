/**
 * The agent's task status update manager, as in Mesos' src/slave/task_status_update_manager.cpp:
 * one ordered stream per (framework, task); only the head of a stream is in flight; the head is
 * resent unchanged (same uuid) with exponential backoff until an acknowledgement with a matching
 * uuid arrives, and only then is the next update of that task sent.
 * While paused (agent partitioned or down) nothing is sent and no timers run; `resume()` resends
 * every head at once, as the real manager does when the agent (re)registers.
 */
import type { mesos } from '../../generated/mesos';
import { silentLogger, type Logger } from '../../../shared/logger';
import { isTerminalState, uuidToString } from './task-status';

export interface RetryInterval {
  minMs: number;
  maxMs: number;
}

/** src/slave/constants.hpp: STATUS_UPDATE_RETRY_INTERVAL_MIN = 10 s, _MAX = 10 min. */
export const DEFAULT_STATUS_UPDATE_RETRY: RetryInterval = { minMs: 10_000, maxMs: 600_000 };

export interface StatusUpdateManagerOptions {
  retry?: RetryInterval;
  /** Hands one update to the master. Called again with the same update on every retry. */
  send(frameworkId: string, status: mesos.v1.ITaskStatus): void;
  /** A terminal update of the task was acknowledged: the agent may forget the task. */
  onTerminalAcknowledged(frameworkId: string, taskId: string): void;
  logger?: Logger;
}

interface Stream {
  frameworkId: string;
  taskId: string;
  pending: mesos.v1.ITaskStatus[];
  timer?: NodeJS.Timeout;
  intervalMs: number;
  /** How often the current head has been handed to the master. */
  sends: number;
}

export class StatusUpdateManager {
  private readonly streams = new Map<string, Stream>();
  /** Frameworks shut down on this agent: their updates are sent once and never retried. */
  private readonly removedFrameworks = new Set<string>();
  private readonly retry: RetryInterval;
  private readonly logger: Logger;
  private paused = true;

  constructor(private readonly options: StatusUpdateManagerOptions) {
    this.retry = options.retry ?? DEFAULT_STATUS_UPDATE_RETRY;
    if (!(this.retry.minMs > 0) || this.retry.maxMs < this.retry.minMs) {
      throw new RangeError(`Invalid status update retry interval ${this.retry.minMs}..${this.retry.maxMs} ms`);
    }
    this.logger = options.logger ?? silentLogger;
  }

  /** Queues an agent-generated update; it must carry a uuid. */
  update(frameworkId: string, status: mesos.v1.ITaskStatus): void {
    if (!status.uuid || status.uuid.length !== 16) throw new TypeError('Status updates need a 16-byte uuid');
    const taskId = status.task_id.value;
    if (this.removedFrameworks.has(frameworkId)) {
      if (!this.paused) this.deliver(frameworkId, status);
      return;
    }
    const key = streamKey(frameworkId, taskId);
    let stream = this.streams.get(key);
    if (!stream) {
      stream = { frameworkId, taskId, pending: [], intervalMs: this.retry.minMs, sends: 0 };
      this.streams.set(key, stream);
    }
    stream.pending.push(status);
    if (stream.pending.length === 1) this.forward(stream);
  }

  /**
   * An acknowledgement relayed by the master. Returns false (and changes nothing) when it does not
   * match the update in flight, as the real manager ignores such acknowledgements.
   */
  acknowledge(frameworkId: string, taskId: string, uuid: Uint8Array): boolean {
    const stream = this.streams.get(streamKey(frameworkId, taskId));
    const head = stream?.pending[0];
    if (!stream || !head?.uuid || !sameBytes(head.uuid, uuid)) {
      this.logger.warn('Ignoring unexpected status update acknowledgement', {
        frameworkId,
        taskId,
        uuid: uuidToString(uuid),
      });
      return false;
    }
    this.stopTimer(stream);
    stream.pending.shift();
    stream.intervalMs = this.retry.minMs;
    stream.sends = 0;
    if (stream.pending.length > 0) {
      this.forward(stream);
      return true;
    }
    this.streams.delete(streamKey(frameworkId, taskId));
    if (isTerminalState(head.state)) this.options.onTerminalAcknowledged(frameworkId, taskId);
    return true;
  }

  /** Stops sending and retrying (agent partitioned or down); pending updates are kept. */
  pause(): void {
    this.paused = true;
    for (const stream of this.streams.values()) this.stopTimer(stream);
  }

  /** Resends every stream's head now and restarts the retry timers from the minimum interval. */
  resume(): void {
    this.paused = false;
    for (const stream of [...this.streams.values()]) {
      stream.intervalMs = this.retry.minMs;
      if (stream.pending.length > 0) this.forward(stream);
    }
  }

  /** The framework was shut down: drop its streams; later updates are sent once, unretried. */
  removeFramework(frameworkId: string): void {
    this.removedFrameworks.add(frameworkId);
    for (const [key, stream] of this.streams) {
      if (stream.frameworkId !== frameworkId) continue;
      this.stopTimer(stream);
      this.streams.delete(key);
    }
  }

  /** A framework that is launching again on this agent is no longer treated as removed. */
  restoreFramework(frameworkId: string): void {
    this.removedFrameworks.delete(frameworkId);
  }

  /** Drops everything and stops all timers (agent destroyed). */
  clear(): void {
    this.pause();
    this.streams.clear();
  }

  /** Unacknowledged updates of a task, the in-flight one first. */
  pending(frameworkId: string, taskId: string): readonly mesos.v1.ITaskStatus[] {
    return this.streams.get(streamKey(frameworkId, taskId))?.pending ?? [];
  }

  /** Number of unacknowledged updates over all tasks. */
  get pendingCount(): number {
    let n = 0;
    for (const stream of this.streams.values()) n += stream.pending.length;
    return n;
  }

  /** How often the head update of a task has been sent so far (tests observe retries with it). */
  sendCount(frameworkId: string, taskId: string): number {
    return this.streams.get(streamKey(frameworkId, taskId))?.sends ?? 0;
  }

  private forward(stream: Stream): void {
    if (this.paused) return;
    const head = stream.pending[0];
    if (!head) return;
    // Arm the retry before sending: the master may acknowledge synchronously inside send().
    this.stopTimer(stream);
    stream.timer = setTimeout(() => this.onRetry(stream, head), stream.intervalMs);
    stream.timer.unref?.();
    stream.sends += 1;
    this.deliver(stream.frameworkId, head);
  }

  private onRetry(stream: Stream, head: mesos.v1.ITaskStatus): void {
    stream.timer = undefined;
    if (this.paused || stream.pending[0] !== head) return;
    stream.intervalMs = Math.min(stream.intervalMs * 2, this.retry.maxMs);
    this.logger.debug('Resending unacknowledged status update', {
      frameworkId: stream.frameworkId,
      taskId: stream.taskId,
      uuid: uuidToString(head.uuid),
      nextRetryMs: stream.intervalMs,
    });
    this.forward(stream);
  }

  private deliver(frameworkId: string, status: mesos.v1.ITaskStatus): void {
    try {
      this.options.send(frameworkId, status);
    } catch (err) {
      // The master's failure must not break the agent; the retry timer resends.
      this.logger.error('Master failed to take a status update', {
        frameworkId,
        taskId: status.task_id.value,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }

  private stopTimer(stream: Stream): void {
    if (stream.timer) clearTimeout(stream.timer);
    stream.timer = undefined;
  }
}

function streamKey(frameworkId: string, taskId: string): string {
  return `${frameworkId}\u0000${taskId}`;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
