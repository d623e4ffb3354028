/**
 * The body of a SUBSCRIBE response read as scheduler events: RecordIO framing, then the event
 * codec, each event handed over as soon as its record is complete, in order. Knows no HTTP and
 * nothing of what the events mean; says why the stream ended, once.
 */
import type { Readable } from 'node:stream';
import { MessageCodec, WireFormat } from '../codec';
import { mesos } from '../generated/mesos';
import { RecordIoDecoder } from '../recordio';

export interface SchedulerEventStreamHandlers {
  /** Must not throw: the events after it in the same chunk would be lost. */
  event(event: mesos.v1.scheduler.Event): void;
  /** The bytes ended cleanly or could not be read; called at most once, and no event follows. */
  end(reason: string): void;
}

export class SchedulerEventStream {
  private readonly records = new RecordIoDecoder();
  private readonly codec: MessageCodec<mesos.v1.scheduler.Event, mesos.v1.scheduler.IEvent>;
  private body: Readable | undefined;
  private closed = false;

  constructor(
    format: WireFormat,
    private readonly handlers: SchedulerEventStreamHandlers,
  ) {
    this.codec = new MessageCodec(mesos.v1.scheduler.Event, format);
    this.write = this.write.bind(this);
    this.end = this.end.bind(this);
  }

  /** Reads the body as it flows (its 'data' and 'end'); errors and closes of the body are the caller's. */
  consume(body: Readable): void {
    this.body = body;
    body.on('data', this.write);
    body.on('end', this.end);
  }

  /** One chunk of the body, split anywhere. */
  write(chunk: Buffer): void {
    if (this.closed) return;
    let records: Buffer[];
    try {
      records = this.records.push(chunk);
    } catch (err) {
      this.finish(`Malformed event stream: ${(err as Error).message}`);
      return;
    }
    for (const record of records) {
      // A handler may have ended the stream (ERROR, a changed leader): the rest is not delivered.
      if (this.closed) return;
      let event: mesos.v1.scheduler.Event;
      try {
        event = this.codec.decode(record);
      } catch (err) {
        this.finish(`Undecodable event: ${(err as Error).message}`);
        return;
      }
      this.handlers.event(event);
    }
  }

  /** The body ended: cleanly, or inside a record. */
  end(): void {
    if (this.closed) return;
    try {
      this.records.end();
    } catch (err) {
      this.finish(`Malformed event stream: ${(err as Error).message}`);
      return;
    }
    this.finish('Event stream ended');
  }

  /** Stops reading: no event and no end after this. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.body?.off('data', this.write);
    this.body?.off('end', this.end);
  }

  private finish(reason: string): void {
    this.close();
    this.handlers.end(reason);
  }
}
