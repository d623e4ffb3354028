import { BufferReader, Writer } from 'protobufjs/minimal';
import { mesos } from '../../../framework/mesos/generated/mesos';
import {
  CodecError,
  formatOfMediaType,
  fromMesosJson,
  MEDIA_TYPES,
  MessageCodec,
  ShortStringReader,
  toMesosJson,
} from '../../../framework/mesos/codec';

const Call = mesos.v1.scheduler.Call;
const Event = mesos.v1.scheduler.Event;

const uuid = Uint8Array.from({ length: 16 }, (_, i) => i * 7);

describe('media types', () => {
  it('maps only the two exact media types', () => {
    expect(formatOfMediaType('application/json')).toBe('json');
    expect(formatOfMediaType('application/x-protobuf')).toBe('protobuf');
    expect(formatOfMediaType('application/json; charset=utf-8')).toBeUndefined();
    expect(formatOfMediaType(undefined)).toBeUndefined();
    expect(MEDIA_TYPES).toEqual({ protobuf: 'application/x-protobuf', json: 'application/json' });
  });
});

describe.each(['protobuf', 'json'] as const)('MessageCodec (%s)', (format) => {
  const calls = new MessageCodec(Call, format);
  const events = new MessageCodec(Event, format);

  it('round-trips an ACKNOWLEDGE with bytes', () => {
    const call = { framework_id: { value: 'fw-0000' }, type: Call.Type.ACKNOWLEDGE, acknowledge: { agent_id: { value: 'S0' }, task_id: { value: 't1' }, uuid } };
    const decoded = calls.decode(calls.encode(call));
    expect(decoded).toBeInstanceOf(Call);
    expect(decoded.type).toBe(Call.Type.ACKNOWLEDGE);
    expect(Array.from(decoded.acknowledge!.uuid)).toEqual(Array.from(uuid));
    expect(calls.mediaType).toBe(MEDIA_TYPES[format]);
  });

  it('round-trips an event stream record with nested messages and enums', () => {
    const event = {
      type: Event.Type.UPDATE,
      update: {
        status: {
          task_id: { value: 't1' },
          state: mesos.v1.TaskState.TASK_RUNNING,
          source: mesos.v1.TaskStatus.Source.SOURCE_EXECUTOR,
          agent_id: { value: 'S0' },
          uuid,
          timestamp: 1700000000.5,
        },
      },
    };
    const decoded = events.decode(events.encode(event));
    expect(decoded.type).toBe(Event.Type.UPDATE);
    expect(decoded.update!.status.state).toBe(mesos.v1.TaskState.TASK_RUNNING);
    expect(decoded.update!.status.timestamp).toBe(1700000000.5);
    expect(Array.from(decoded.update!.status.uuid!)).toEqual(Array.from(uuid));
  });

  it('raises CodecError on garbage', () => {
    expect(() => events.decode(Buffer.from(format === 'json' ? '{nope' : '\xff\xff\xff\xff', 'latin1'))).toThrow(CodecError);
  });
});

describe('Mesos JSON', () => {
  it('writes enum names, base64 bytes and snake_case names', () => {
    const json = toMesosJson(Call, {
      framework_id: { value: 'fw' },
      type: Call.Type.ACKNOWLEDGE,
      acknowledge: { agent_id: { value: 'S0' }, task_id: { value: 't1' }, uuid },
    });
    expect(json).toEqual({
      framework_id: { value: 'fw' },
      type: 'ACKNOWLEDGE',
      acknowledge: { agent_id: { value: 'S0' }, task_id: { value: 't1' }, uuid: Buffer.from(uuid).toString('base64') },
    });
  });

  it('emits no defaults: a FrameworkInfo without role stays without role', () => {
    const json = toMesosJson(mesos.v1.FrameworkInfo, { user: 'root', name: 'polly', roles: ['storage'], capabilities: [{ type: mesos.v1.FrameworkInfo.Capability.Type.MULTI_ROLE }] });
    expect(json).toEqual({ user: 'root', name: 'polly', roles: ['storage'], capabilities: [{ type: 'MULTI_ROLE' }] });
    expect(json).not.toHaveProperty('role');
    expect(json).not.toHaveProperty('failover_timeout');
    expect(json).not.toHaveProperty('checkpoint');
    const bytes = new MessageCodec(mesos.v1.FrameworkInfo, 'protobuf').encode({ user: 'root', name: 'polly' });
    expect(mesos.v1.FrameworkInfo.decode(bytes).hasOwnProperty('role')).toBe(false);
  });

  it('reads enum names, base64 bytes, numeric strings and "Infinity"', () => {
    const call = fromMesosJson(Call, {
      type: 'ACKNOWLEDGE',
      acknowledge: { agent_id: { value: 'S0' }, task_id: { value: 't1' }, uuid: Buffer.from(uuid).toString('base64') },
    });
    expect(call.type).toBe(Call.Type.ACKNOWLEDGE);
    expect(Array.from(call.acknowledge!.uuid)).toEqual(Array.from(uuid));

    const task = fromMesosJson(mesos.v1.TaskInfo, {
      name: 't',
      task_id: { value: 't' },
      agent_id: { value: 'S0' },
      limits: { cpus: { value: 'Infinity' }, mem: { value: 128 } },
    });
    expect(task.limits.cpus.value).toBe(Infinity);
    expect(task.limits.mem.value).toBe(128);

    const filters = fromMesosJson(mesos.v1.Filters, { refuse_seconds: '5' });
    expect(filters.refuse_seconds).toBe(5);
  });

  it('writes Infinity so Mesos can read it back', () => {
    const json = toMesosJson(mesos.v1.Value.Scalar, { value: Infinity });
    expect(json).toEqual({ value: 'Infinity' });
  });

  it('ignores unknown JSON fields and rejects non-objects', () => {
    expect(fromMesosJson(mesos.v1.FrameworkID, { value: 'x', extra: 1 }).value).toBe('x');
    expect(() => fromMesosJson(mesos.v1.FrameworkID, [])).toThrow(CodecError);
    expect(() => fromMesosJson(mesos.v1.FrameworkID, 'x')).toThrow(CodecError);
  });

  it('decodes JSON events from the wire', () => {
    const codec = new MessageCodec(Event, 'json');
    const event = codec.decode(Buffer.from('{"type":"SUBSCRIBED","subscribed":{"framework_id":{"value":"m-0000"},"heartbeat_interval_seconds":15}}'));
    expect(event.type).toBe(Event.Type.SUBSCRIBED);
    expect(event.subscribed!.framework_id.value).toBe('m-0000');
    expect(event.subscribed!.heartbeat_interval_seconds).toBe(15);
  });

  it('checkRequired makes JSON enforce required fields', () => {
    const codec = new MessageCodec(Call, 'json', { checkRequired: true });
    expect(() => codec.decode(Buffer.from('{"type":"ACKNOWLEDGE","acknowledge":{}}'))).toThrow(CodecError);
  });
});

describe('ShortStringReader', () => {
  /** Length-delimited fields as protobuf writes a string: varint length, then the bytes as given. */
  function fields(values: Uint8Array[]): Buffer {
    const writer = Writer.create();
    for (const v of values) writer.bytes(v);
    const bytes = writer.finish();
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Every string read by the stock BufferReader and by ours, with the position after each. */
  function readBoth(buf: Buffer, count: number): { stock: [string, number][]; ours: [string, number][] } {
    const stock = new BufferReader(buf);
    const ours = new ShortStringReader(buf);
    const out = { stock: [] as [string, number][], ours: [] as [string, number][] };
    for (let i = 0; i < count; i++) {
      out.stock.push([stock.string(), stock.pos]);
      out.ours.push([ours.string(), ours.pos]);
    }
    return out;
  }

  it('reads ASCII strings of every length around the short-string limit exactly as protobufjs does', () => {
    const values = Array.from({ length: 41 }, (_, n) => Buffer.from(Array.from({ length: n }, (_, i) => String.fromCharCode(0x20 + ((n * 7 + i) % 95))).join(''), 'latin1'));
    values.push(Buffer.from([0x00, 0x7f, 0x0a, 0x41]));
    const { stock, ours } = readBoth(fields(values), values.length);
    expect(ours).toEqual(stock);
    expect(ours.slice(0, 17).map(([s]) => s.length)).toEqual(Array.from({ length: 17 }, (_, n) => n));
  });

  it('leaves non-ASCII and invalid UTF-8 to utf8Slice, so they come out the same', () => {
    const values = ['é', 'üüü', 'agent-ü', '😀', 'x'.repeat(15) + 'ß'].map((s) => Buffer.from(s, 'utf8'));
    values.push(Buffer.from([0xff, 0x41]), Buffer.from([0x41, 0xc3]), Buffer.from([0x80]), Buffer.from([0xed, 0xa0, 0x80]));
    const { stock, ours } = readBoth(fields(values), values.length);
    expect(ours).toEqual(stock);
    expect(ours[0][0]).toBe('é');
    expect(ours[5][0]).toBe('\ufffdA');
  });

  it('clamps a string that runs past the end, as protobufjs does', () => {
    for (const tail of ['abc', 'abcdefghijklmnopqrstuvwxyz']) {
      const buf = Buffer.concat([Buffer.from([tail.length + 5]), Buffer.from(tail, 'latin1')]);
      const { stock, ours } = readBoth(buf, 1);
      expect(ours).toEqual(stock);
      expect(ours[0]).toEqual([tail, buf.length]);
    }
  });

  it('decodes whole events the same as protobufjs, from a Buffer or a plain Uint8Array', () => {
    const offer = (i: number): mesos.v1.IOffer => ({
      id: { value: `fw-0001-O${i}` },
      framework_id: { value: 'fw-0001' },
      agent_id: { value: `fw-S${i}` },
      hostname: i % 2 ? `agent-${i}.bench` : `hôte-${i}.example`,
      resources: [{ name: 'cpus', type: mesos.v1.Value.Type.SCALAR, scalar: { value: 4 }, allocation_info: { role: 'bench' } }],
      attributes: [{ name: 'rack', type: mesos.v1.Value.Type.TEXT, text: { value: `r${i}` } }],
    });
    const event = { type: Event.Type.OFFERS, offers: { offers: Array.from({ length: 20 }, (_, i) => offer(i)) } };
    const codec = new MessageCodec(Event, 'protobuf');
    const wire = codec.encode(event);
    const expected = Event.toObject(Event.decode(Uint8Array.from(wire)));
    expect(Event.toObject(codec.decode(wire))).toEqual(expected);
    expect(Event.toObject(codec.decode(Uint8Array.from(wire)))).toEqual(expected);
    expect(codec.decode(wire)).toBeInstanceOf(Event);
    expect(codec.decode(wire).offers!.offers![1].hostname).toBe('agent-1.bench');
  });
});
