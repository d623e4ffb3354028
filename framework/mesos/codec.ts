/**
 * Message codecs for the Mesos HTTP APIs: protobuf bytes or Mesos-flavoured JSON.
 * Knows encodings, not HTTP. In memory every message is a protobufjs message object (the same
 * shape whichever encoding it came from), so the rest of Polly never cares about the wire format.
 */
import type { IConversionOptions } from 'protobufjs';

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
  decode(data: Uint8Array): T;
  fromObject(object: { [k: string]: unknown }): T;
  toObject(message: T, options?: IConversionOptions): { [k: string]: unknown };
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
        return this.type.decode(data);
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
