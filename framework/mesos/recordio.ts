/**
 * RecordIO framing as used by the Mesos HTTP APIs: `<decimal length>\n<bytes>` repeated.
 * Knows nothing about what the records contain.
 */
import { Transform, TransformCallback } from 'node:stream';

const LF = 0x0a;
/** A length prefix longer than this many digits cannot be a sane record size. */
const MAX_LENGTH_DIGITS = 16;

export class RecordIoError extends Error {
  override name = 'RecordIoError';
}

/** Frames one record. */
export function encodeRecord(data: Uint8Array | string): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (body.length === 0) throw new RecordIoError('RecordIO records must not be empty');
  return Buffer.concat([Buffer.from(`${body.length}\n`, 'ascii'), body]);
}

/**
 * Streaming decoder: feed it chunks split anywhere, get whole records back.
 * Keeps a list of pending chunks rather than concatenating on every push, so a large record
 * arriving in many small chunks costs O(n), not O(n²).
 */
export class RecordIoDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Length of the record being read, or -1 while reading the length prefix. */
  private expected = -1;
  private readonly maxRecordBytes: number;

  constructor(options: { maxRecordBytes?: number } = {}) {
    this.maxRecordBytes = options.maxRecordBytes ?? 256 * 1024 * 1024;
  }

  /** Returns every record completed by this chunk, in order. Throws RecordIoError on malformed input. */
  push(chunk: Uint8Array): Buffer[] {
    const out: Buffer[] = [];
    if (chunk.length === 0) return out;
    this.chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.buffered += chunk.length;
    for (;;) {
      if (this.expected < 0) {
        const header = this.readHeader();
        if (header < 0) return out;
        this.expected = header;
      }
      if (this.buffered < this.expected) return out;
      out.push(this.take(this.expected));
      this.expected = -1;
    }
  }

  /** True when no partial record is pending; call at end of stream to detect truncation. */
  get idle(): boolean {
    return this.buffered === 0 && this.expected < 0;
  }

  /** Throws if the stream ended inside a record. */
  end(): void {
    if (!this.idle) {
      throw new RecordIoError(
        this.expected < 0
          ? 'RecordIO stream ended inside a length prefix'
          : `RecordIO stream ended inside a record (${this.buffered} of ${this.expected} bytes)`,
      );
    }
  }

  private readHeader(): number {
    if (this.buffered === 0) return -1; // a record ended exactly at the end of the input
    // Find LF across chunks without joining them.
    let offset = 0;
    for (let c = 0; c < this.chunks.length; c++) {
      const chunk = this.chunks[c];
      const at = chunk.indexOf(LF);
      if (at >= 0) {
        const digits = offset + at;
        if (digits === 0) throw new RecordIoError('RecordIO length prefix is empty');
        if (digits > MAX_LENGTH_DIGITS) throw new RecordIoError('RecordIO length prefix is too long');
        const prefix = this.take(digits + 1);
        let length = 0;
        for (let i = 0; i < digits; i++) {
          const d = prefix[i] - 0x30;
          if (d < 0 || d > 9) {
            throw new RecordIoError(`RecordIO length prefix is not a decimal number: ${JSON.stringify(prefix.subarray(0, digits).toString('latin1'))}`);
          }
          length = length * 10 + d;
        }
        if (length === 0) throw new RecordIoError('RecordIO record length must be positive');
        if (!Number.isSafeInteger(length) || length > this.maxRecordBytes) {
          throw new RecordIoError(`RecordIO record length ${length} exceeds the limit of ${this.maxRecordBytes} bytes`);
        }
        return length;
      }
      offset += chunk.length;
      if (offset > MAX_LENGTH_DIGITS) break;
    }
    if (this.buffered > MAX_LENGTH_DIGITS) {
      // Either garbage or a prefix that is too long; say which part is wrong.
      const head = this.peek(Math.min(this.buffered, MAX_LENGTH_DIGITS + 1));
      if (/[^0-9]/.test(head.toString('latin1'))) {
        throw new RecordIoError(`RecordIO length prefix is not a decimal number: ${JSON.stringify(head.toString('latin1'))}`);
      }
      throw new RecordIoError('RecordIO length prefix is too long');
    }
    // Reject non-digits early, so garbage fails fast instead of waiting for a newline.
    const head = this.peek(this.buffered);
    for (let i = 0; i < head.length; i++) {
      const d = head[i] - 0x30;
      if (d < 0 || d > 9) {
        throw new RecordIoError(`RecordIO length prefix is not a decimal number: ${JSON.stringify(head.toString('latin1'))}`);
      }
    }
    return -1;
  }

  private peek(n: number): Buffer {
    const first = this.chunks[0];
    if (first.length >= n) return first.subarray(0, n);
    return Buffer.concat(this.chunks, this.buffered).subarray(0, n);
  }

  private take(n: number): Buffer {
    const first = this.chunks[0];
    let result: Buffer;
    if (first.length >= n) {
      result = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      result = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const chunk = this.chunks[0];
        const want = n - filled;
        if (chunk.length <= want) {
          chunk.copy(result, filled);
          filled += chunk.length;
          this.chunks.shift();
        } else {
          chunk.copy(result, filled, 0, want);
          this.chunks[0] = chunk.subarray(want);
          filled += want;
        }
      }
    }
    this.buffered -= n;
    return result;
  }
}

/** A Transform stream: bytes in, one Buffer per record out (object mode on the readable side). */
export class RecordIoDecodeStream extends Transform {
  private readonly decoder: RecordIoDecoder;

  constructor(options: { maxRecordBytes?: number } = {}) {
    super({ readableObjectMode: true });
    this.decoder = new RecordIoDecoder(options);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      for (const record of this.decoder.push(chunk)) this.push(record);
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      this.decoder.end();
      done();
    } catch (err) {
      done(err as Error);
    }
  }
}
