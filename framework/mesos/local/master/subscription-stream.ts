/**
 * One open event stream: a chunked 200 response carrying RecordIO-framed events in the
 * negotiated encoding, with heartbeats. Used by scheduler and operator subscriptions alike.
 */
import type { ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { MessageCodec } from '../../codec';
import { encodeRecord } from '../../recordio';

export class SubscriptionStream<E> {
  readonly streamId = randomUUID();
  private heartbeatTimer?: NodeJS.Timeout;
  private closed = false;
  private readonly closeListeners: (() => void)[] = [];

  constructor(
    private readonly res: ServerResponse,
    private readonly codec: MessageCodec<E, unknown>,
    options: { sendStreamId: boolean },
  ) {
    res.statusCode = 200;
    res.setHeader('Content-Type', codec.mediaType);
    if (options.sendStreamId) res.setHeader('Mesos-Stream-Id', this.streamId);
    res.setHeader('Cache-Control', 'no-cache');
    // No Content-Length: Node sends Transfer-Encoding: chunked.
    res.flushHeaders();
    const onGone = (): void => this.markClosed();
    res.on('close', onGone);
    res.socket?.setKeepAlive(true);
    res.socket?.setNoDelay(true);
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  onClose(listener: () => void): void {
    if (this.closed) listener();
    else this.closeListeners.push(listener);
  }

  send(event: E | object): void {
    if (this.closed) return;
    this.res.write(encodeRecord(this.codec.encode(event as E)));
  }

  /** Heartbeat now, then every interval (ResponseHeartbeater has no initial delay). */
  startHeartbeats(intervalMs: number, heartbeat: () => E | object): void {
    this.send(heartbeat());
    this.heartbeatTimer = setInterval(() => this.send(heartbeat()), intervalMs);
    this.heartbeatTimer.unref();
  }

  /** Ends the response; listeners see the stream as gone. */
  close(): void {
    if (this.closed) return;
    this.res.end();
    this.markClosed();
  }

  /** Cuts the connection without a clean end (a network blip). */
  destroy(): void {
    if (this.closed) return;
    this.res.destroy();
    this.markClosed();
  }

  private markClosed(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    for (const listener of this.closeListeners.splice(0)) listener();
  }
}
