import { Readable } from 'node:stream';
import { encodeRecord, RecordIoDecoder, RecordIoDecodeStream, RecordIoError } from '../../../framework/mesos/recordio';

const records = [
  '{"type":"SUBSCRIBED","subscribed":{"framework_id":{"value":"abc-0000"}}}',
  '{"type":"HEARTBEAT"}',
  'x',
  'ü'.repeat(300),
  Buffer.from([0, 10, 13, 255, 10, 10]).toString('latin1'),
];
const wire = Buffer.concat(records.map((r) => encodeRecord(Buffer.from(r, 'latin1'))));

function split(buf: Buffer, sizes: () => number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < buf.length; ) {
    const n = Math.max(1, sizes());
    chunks.push(buf.subarray(i, i + n));
    i += n;
  }
  return chunks;
}

function decodeAll(chunks: Uint8Array[]): string[] {
  const decoder = new RecordIoDecoder();
  const out: string[] = [];
  for (const chunk of chunks) for (const r of decoder.push(chunk)) out.push(r.toString('latin1'));
  decoder.end();
  return out;
}

describe('RecordIoDecoder', () => {
  it.each([1, 2, 3, 7, 64])('decodes the stream split every %i bytes', (size) => {
    expect(decodeAll(split(wire, () => size))).toEqual(records);
  });

  it('decodes random splits', () => {
    let seed = 42;
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    for (let round = 0; round < 200; round++) {
      expect(decodeAll(split(wire, () => Math.ceil(rand() * 40)))).toEqual(records);
    }
  });

  it('returns several records from one chunk, and the whole stream as one chunk', () => {
    const decoder = new RecordIoDecoder();
    expect(decoder.push(wire).map((r) => r.toString('latin1'))).toEqual(records);
    expect(decoder.idle).toBe(true);
  });

  it('keeps a partial record across pushes', () => {
    const decoder = new RecordIoDecoder();
    expect(decoder.push(Buffer.from('5\nab'))).toEqual([]);
    expect(decoder.idle).toBe(false);
    expect(decoder.push(Buffer.from('cde3\nxy')).map(String)).toEqual(['abcde']);
    expect(decoder.push(Buffer.from('z')).map(String)).toEqual(['xyz']);
    expect(decoder.idle).toBe(true);
  });

  it('rejects an empty length prefix', () => {
    expect(() => new RecordIoDecoder().push(Buffer.from('\nabc'))).toThrow(RecordIoError);
  });

  it('rejects non-digits in the prefix, without waiting for a newline', () => {
    expect(() => new RecordIoDecoder().push(Buffer.from('1a'))).toThrow(/not a decimal number/);
    expect(() => new RecordIoDecoder().push(Buffer.from('-1\nx'))).toThrow(/not a decimal number/);
    expect(() => new RecordIoDecoder().push(Buffer.from('{"type"'))).toThrow(RecordIoError);
  });

  it('rejects a zero length', () => {
    expect(() => new RecordIoDecoder().push(Buffer.from('0\n'))).toThrow(/positive/);
  });

  it('rejects records over the limit and overlong prefixes', () => {
    expect(() => new RecordIoDecoder({ maxRecordBytes: 10 }).push(Buffer.from('11\n'))).toThrow(/exceeds/);
    expect(() => new RecordIoDecoder().push(Buffer.from('99999999999999999999\n'))).toThrow(/too long/);
    expect(() => new RecordIoDecoder().push(Buffer.from('12345678901234567890'))).toThrow(/too long/);
  });

  it('reports a truncated end, inside a record or inside a prefix', () => {
    const inRecord = new RecordIoDecoder();
    inRecord.push(Buffer.from('10\nabc'));
    expect(() => inRecord.end()).toThrow(/inside a record/);
    const inPrefix = new RecordIoDecoder();
    inPrefix.push(Buffer.from('12'));
    expect(() => inPrefix.end()).toThrow(/inside a length prefix/);
  });

  it('refuses to encode an empty record', () => {
    expect(() => encodeRecord('')).toThrow(RecordIoError);
    expect(encodeRecord('abc').toString()).toBe('3\nabc');
  });
});

describe('RecordIoDecodeStream', () => {
  it('emits one Buffer per record for any chunking', async () => {
    const out: string[] = [];
    const stream = Readable.from(split(wire, () => 3)).pipe(new RecordIoDecodeStream());
    for await (const record of stream) out.push((record as Buffer).toString('latin1'));
    expect(out).toEqual(records);
  });

  it('errors on a truncated stream', async () => {
    const stream = Readable.from([Buffer.from('10\nabc')]).pipe(new RecordIoDecodeStream());
    await expect(
      (async () => {
        for await (const _ of stream) void _;
      })(),
    ).rejects.toThrow(/inside a record/);
  });

  it('errors on malformed input', async () => {
    const stream = Readable.from([Buffer.from('zz\n')]).pipe(new RecordIoDecodeStream());
    await expect(
      (async () => {
        for await (const _ of stream) void _;
      })(),
    ).rejects.toThrow(RecordIoError);
  });
});
