import { Readable } from 'node:stream';
import { MessageCodec } from '../../../../framework/mesos/codec';
import { mesos } from '../../../../framework/mesos/generated/mesos';
import { encodeRecord } from '../../../../framework/mesos/recordio';
import { SchedulerEventStream } from '../../../../framework/mesos/scheduler/scheduler-event-stream';

const Event = mesos.v1.scheduler.Event;

const events: mesos.v1.scheduler.IEvent[] = [
  { type: Event.Type.SUBSCRIBED, subscribed: { framework_id: { value: 'fw-0000' }, heartbeat_interval_seconds: 15 } },
  { type: Event.Type.HEARTBEAT },
  {
    type: Event.Type.OFFERS,
    offers: {
      offers: [
        { id: { value: 'O1' }, framework_id: { value: 'fw-0000' }, agent_id: { value: 'S0' }, hostname: 'agent-0.example' },
        { id: { value: 'O2' }, framework_id: { value: 'fw-0000' }, agent_id: { value: 'S1' }, hostname: 'hôte-1.example' },
      ],
    },
  },
  { type: Event.Type.RESCIND, rescind: { offer_id: { value: 'O1' } } },
];

/** Every event and the end reason a stream reports. */
function collect(format: 'protobuf' | 'json'): { stream: SchedulerEventStream; got: mesos.v1.scheduler.Event[]; ends: string[] } {
  const got: mesos.v1.scheduler.Event[] = [];
  const ends: string[] = [];
  const stream = new SchedulerEventStream(format, { event: (e) => got.push(e), end: (reason) => ends.push(reason) });
  return { stream, got, ends };
}

function split(buf: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < buf.length; at += size) chunks.push(buf.subarray(at, at + size));
  return chunks;
}

describe.each(['protobuf', 'json'] as const)('SchedulerEventStream (%s)', (format) => {
  const codec = new MessageCodec(Event, format);
  const wire = Buffer.concat(events.map((e) => encodeRecord(codec.encode(e))));
  const expected = events.map((e) => Event.toObject(Event.fromObject(e)));

  it.each([1, 5, 64, wire.length])('hands over every event, in order, for chunks of %i bytes', (size) => {
    const { stream, got, ends } = collect(format);
    for (const chunk of split(wire, size)) stream.write(chunk);
    expect(got.map((e) => Event.toObject(e))).toEqual(expected);
    expect(got[0]).toBeInstanceOf(Event);
    expect(ends).toEqual([]);
    stream.end();
    expect(ends).toEqual(['Event stream ended']);
  });

  it('reads a body stream to its end', async () => {
    const { stream, got, ends } = collect(format);
    const body = Readable.from(split(wire, 7));
    stream.consume(body);
    await new Promise((resolve) => body.once('end', resolve));
    expect(got.map((e) => Event.toObject(e))).toEqual(expected);
    expect(ends).toEqual(['Event stream ended']);
  });

  it('reports a body that ends inside a record', () => {
    const { stream, ends } = collect(format);
    stream.write(wire.subarray(0, wire.length - 3));
    stream.end();
    expect(ends).toEqual([expect.stringMatching(/^Malformed event stream: RecordIO stream ended inside a record/)]);
  });

  it('stops at malformed framing and reads nothing after it', () => {
    const { stream, got, ends } = collect(format);
    stream.write(encodeRecord(codec.encode(events[1])));
    stream.write(Buffer.from('zz\n'));
    stream.write(wire);
    stream.end();
    expect(got.map((e) => e.type)).toEqual([Event.Type.HEARTBEAT]);
    expect(ends).toEqual([expect.stringMatching(/^Malformed event stream: RecordIO length prefix is not a decimal number/)]);
  });

  it('stops at an undecodable record', () => {
    const { stream, got, ends } = collect(format);
    const garbage = encodeRecord(Buffer.from(format === 'json' ? '{nope' : '\xff\xff\xff\xff', 'latin1'));
    stream.write(Buffer.concat([encodeRecord(codec.encode(events[1])), garbage, wire]));
    expect(got.map((e) => e.type)).toEqual([Event.Type.HEARTBEAT]);
    expect(ends).toEqual([expect.stringMatching(/^Undecodable event: /)]);
  });

  it('delivers nothing more, not even the rest of a chunk, once closed by a handler', () => {
    const got: mesos.v1.scheduler.Event[] = [];
    const ends: string[] = [];
    const stream: SchedulerEventStream = new SchedulerEventStream(format, {
      event: (e) => {
        got.push(e);
        if (e.type === Event.Type.HEARTBEAT) stream.close();
      },
      end: (reason) => ends.push(reason),
    });
    stream.write(wire);
    stream.write(wire);
    stream.end();
    expect(got.map((e) => e.type)).toEqual([Event.Type.SUBSCRIBED, Event.Type.HEARTBEAT]);
    expect(ends).toEqual([]);
  });

  it('lets go of the body when closed', () => {
    const { stream } = collect(format);
    const body = new Readable({ read: () => undefined });
    stream.consume(body);
    expect(body.listenerCount('data')).toBe(1);
    stream.close();
    expect(body.listenerCount('data')).toBe(0);
    expect(body.listenerCount('end')).toBe(0);
  });
});
