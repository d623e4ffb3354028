/**
 * Message codecs for the Mesos HTTP APIs: protobuf bytes or Mesos-flavoured JSON.
 * Knows encodings, not HTTP. In memory every message is a protobufjs message object (the same
 * shape whichever encoding it came from), so the rest of Polly never cares about the wire format.
 */
import type { IConversionOptions } from 'protobufjs';
import { BufferReader, Reader } from 'protobufjs/minimal';

export type WireFormat = 'protobuf' | 'json';

export const MEDIA_TYPES: Readonly<Record<WireFormat, string>> = {
  protobuf: 'application/x-protobuf',
  json: 'application/json',
};

/** The master compares Content-Type as a whole string; so do we. */
export function formatOfMediaType(contentType: string | undefined): WireFormat | undefined {
  if (contentType === MEDIA_TYPES.json) return 'json';
  if (contentType === MEDIA_TYPES.protobuf) return 'protobuf';
  return undefined;
}

/** The static-class shape protobufjs generates for every message type. */
export interface MessageType<T, I = T> {
  encode(message: I): { finish(): Uint8Array };
  decode(data: Uint8Array | Reader): T;
  fromObject(object: { [k: string]: unknown }): T;
  toObject(message: T, options?: IConversionOptions): { [k: string]: unknown };
}

/** Node's own UTF-8 slice: what protobufjs' BufferReader builds every string with. */
type NodeBuffer = Buffer & { utf8Slice(start: number, end: number): string };

/** Strings up to this many bytes are built by asciiString when they are ASCII. */
const SHORT_STRING_BYTES = 16;

/**
 * protobufjs' BufferReader, except that a short ASCII string is built in JS with one
 * String.fromCharCode call instead of Buffer#utf8Slice, a call into C++ that costs more than
 * decoding the rest of a field: most strings of an Offer are 2 to 16 bytes (names, roles, types,
 * hostnames). Longer or non-ASCII strings still go through utf8Slice, so every string comes out
 * exactly as protobufjs would return it (including its clamping of a string that runs past the end).
 */
export class ShortStringReader extends BufferReader {
  override string(): string {
    const length = this.uint32();
    const start = this.pos;
    const end = Math.min(start + length, this.len);
    this.pos = end;
    const buf = this.buf as NodeBuffer;
    if (end - start <= SHORT_STRING_BYTES) {
      let bits = 0;
      for (let i = start; i < end; i++) bits |= buf[i];
      if (bits < 0x80) return asciiString(buf, start, end - start);
    }
    return buf.utf8Slice(start, end);
  }
}

/** `n` (at most SHORT_STRING_BYTES) ASCII bytes from `at` as a flat string, in one call. */
function asciiString(b: Uint8Array, at: number, n: number): string {
  const c = String.fromCharCode;
  const i = at;
  switch (n) {
    case 0: return '';
    case 1: return c(b[i]);
    case 2: return c(b[i], b[i + 1]);
    case 3: return c(b[i], b[i + 1], b[i + 2]);
    case 4: return c(b[i], b[i + 1], b[i + 2], b[i + 3]);
    case 5: return c(b[i], b[i + 1], b[i + 2], b[i + 3], b[i + 4]);
    case 6: return c(b[i], b[i + 1], b[i + 2], b[i + 3], b[i + 4], b[i + 5]);
    case 7: return c(b[i], b[i + 1], b[i + 2], b[i + 3], b[i + 4], b[i + 5], b[i + 6]);
    case 8: return c(b[i], b[i + 1], b[i + 2], b[i + 3], b[i + 4], b[i + 5], b[i + 6], b[i + 7]);
    case 9: return c(b[i], b[i + 1], b[i + 2], b[i + 3], b[i + 4], b[i + 5], b[i + 6], b[i + 7], b[i + 8]);
    case 10: return c(b[i], b[i + 1], b[i + 2], b[i + 3], b[i + 4], b[i + 5], b[i + 6], b[i + 7], b[i + 8], b[i + 9]);
    case 11: return c(b[i], b[i + 1], b[i + 2], b[i + 3], b[i + 4], b[i + 5], b[i + 6], b[i + 7], b[i + 8], b[i + 9], b[i + 10]);
    case 12: return c(b[i], b[i + 1], b[i + 2], b[i + 3], b[i + 4], b[i + 5], b[i + 6], b[i + 7], b[i + 8], b[i + 9], b[i + 10], b[i + 11]);
    case 13: return c(b[i], b[i + 1], b[i + 2], b[i + 3], b[i + 4], b[i + 5], b[i + 6], b[i + 7], b[i + 8], b[i + 9], b[i + 10], b[i + 11], b[i + 12]);
    case 14: return c(b[i], b[i + 1], b[i + 2], b[i + 3], b[i + 4], b[i + 5], b[i + 6], b[i + 7], b[i + 8], b[i + 9], b[i + 10], b[i + 11], b[i + 12], b[i + 13]);
    case 15: return c(b[i], b[i + 1], b[i + 2], b[i + 3], b[i + 4], b[i + 5], b[i + 6], b[i + 7], b[i + 8], b[i + 9], b[i + 10], b[i + 11], b[i + 12], b[i + 13], b[i + 14]);
    case 16: return c(b[i], b[i + 1], b[i + 2], b[i + 3], b[i + 4], b[i + 5], b[i + 6], b[i + 7], b[i + 8], b[i + 9], b[i + 10], b[i + 11], b[i + 12], b[i + 13], b[i + 14], b[i + 15]);
    default: throw new RangeError(`asciiString takes at most ${SHORT_STRING_BYTES} bytes, not ${n}`);
  }
}

/**
 * Mesos' JSON rules: proto field names, enum names as strings, bytes as base64, 64-bit ints as
 * numbers, "Infinity" for infinite doubles, and never the unset defaults (defaults would emit
 * the deprecated `role: "*"`, which a MULTI_ROLE master refuses).
 */
export const MESOS_JSON_OPTIONS: IConversionOptions = { enums: String, bytes: String, longs: Number, json: true };

export class CodecError extends Error {
  override name = 'CodecError';
  constructor(
    message: string,
    readonly kind: 'syntax' | 'schema',
  ) {
    super(message);
  }
}

/** Plain Mesos JSON object for a message (or a plain object in protobufjs form). */
export function toMesosJson<T, I>(type: MessageType<T, I>, message: T | I): { [k: string]: unknown } {
  const instance = isInstance(type, message) ? (message as T) : type.fromObject(message as { [k: string]: unknown });
  return type.toObject(instance, MESOS_JSON_OPTIONS);
}

/** A message from Mesos JSON (enum names, base64 bytes, numeric strings, "Infinity"). */
export function fromMesosJson<T, I>(type: MessageType<T, I>, json: unknown): T {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new CodecError('Expected a JSON object', 'schema');
  }
  try {
    return type.fromObject(json as { [k: string]: unknown });
  } catch (err) {
    throw new CodecError((err as Error).message, 'schema');
  }
}

function isInstance<T, I>(type: MessageType<T, I>, message: unknown): boolean {
  return typeof type === 'function' && message instanceof (type as unknown as new () => T);
}

/**
 * Encodes and decodes one message type in one wire format.
 * `checkRequired` makes JSON decoding enforce proto2 required fields the way protobuf decoding
 * does (at the cost of a re-encode); the local master uses it to answer like the real one.
 */
export class MessageCodec<T, I = T> {
  readonly mediaType: string;

  constructor(
    readonly type: MessageType<T, I>,
    readonly format: WireFormat,
    private readonly options: { checkRequired?: boolean } = {},
  ) {
    this.mediaType = MEDIA_TYPES[format];
  }

  encode(message: T | I): Buffer {
    if (this.format === 'protobuf') {
      const bytes = this.type.encode(message as I).finish();
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    return Buffer.from(JSON.stringify(toMesosJson(this.type, message)), 'utf8');
  }

  decode(data: Uint8Array): T {
    if (this.format === 'protobuf') {
      try {
        // A Buffer would get protobufjs' BufferReader; this one differs only in being faster.
        return this.type.decode(Buffer.isBuffer(data) ? new ShortStringReader(data) : data);
      } catch (err) {
        throw new CodecError((err as Error).message, 'syntax');
      }
    }
    let json: unknown;
    try {
      json = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
    } catch (err) {
      throw new CodecError((err as Error).message, 'syntax');
    }
    const message = fromMesosJson(this.type, json);
    if (this.options.checkRequired) {
      try {
        return this.type.decode(this.type.encode(message as unknown as I).finish());
      } catch (err) {
        throw new CodecError((err as Error).message.replace(/^missing required/, 'Missing required field'), 'schema');
      }
    }
    return message;
  }
}
