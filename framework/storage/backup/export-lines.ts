/**
 * The file `polly state export` writes and `polly state import` reads: JSON lines, in this order
 *
 *   {"pollyExport": 2, "exportedAt": ..., "backend": "leveldb", "installationId": ...}   the header
 *   {"key": ..., "value": ...}                                                          every store key, in key order
 *   {"backendMetadata": {"service": ..., "metadata": {"driver", "format", "data"}}}   each backend's own metadata
 *
 * The store comes first and the backends' metadata after it, so a journal is never older than the
 * catalog it is exported with. Exports written before backends were included (no header, key lines
 * only) are still read. Volume data is never in the file.
 */
import fs from 'node:fs';
import readline from 'node:readline';
import type { BackendMetadata } from '../../../drivers/storage-driver';
import { ValidationError } from '../../errors/validation-error';
import type { BatchOperation, Store } from '../../state/store';

export const EXPORT_FORMAT = 2;

export interface ExportHeader {
  pollyExport: number;
  exportedAt: string;
  /** The store backend it was exported from. */
  backend: string;
  installationId?: string;
}

export interface StateEntry {
  key: string;
  value: unknown;
}

export interface BackendMetadataEntry {
  service: string;
  metadata: BackendMetadata;
}

export type ExportLine =
  { kind: 'header'; header: ExportHeader } | { kind: 'key'; entry: StateEntry } | { kind: 'backend'; entry: BackendMetadataEntry };

const IMPORT_BATCH = 100;

/** Writes one line, waiting for the stream to drain when it asks to. */
export async function writeLine(out: NodeJS.WritableStream, value: unknown): Promise<void> {
  if (!out.write(`${JSON.stringify(value)}\n`)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
}

/** Writes every key of `store` as key lines; returns the number of keys. */
export async function exportState(store: Store, out: NodeJS.WritableStream): Promise<number> {
  let n = 0;
  for await (const [key, value] of store.scan('')) {
    await writeLine(out, { key, value } satisfies StateEntry);
    n++;
  }
  return n;
}

/** One line of an export, checked; throws ValidationError naming the line. */
export function parseExportLine(line: string, lineNo: number): ExportLine {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    throw new ValidationError(`Line ${lineNo}: not JSON`);
  }
  const o = raw as Record<string, unknown> | null;
  if (typeof o === 'object' && o !== null && !Array.isArray(o)) {
    if (typeof o.key === 'string' && 'value' in o) return { kind: 'key', entry: { key: o.key, value: o.value } };
    if ('pollyExport' in o) {
      if (typeof o.pollyExport !== 'number' || typeof o.backend !== 'string')
        throw new ValidationError(`Line ${lineNo}: a malformed export header`);
      if (o.pollyExport > EXPORT_FORMAT) {
        throw new ValidationError(
          `Line ${lineNo}: written by a newer Polly (export format ${o.pollyExport}; this one reads up to ${EXPORT_FORMAT})`,
        );
      }
      return { kind: 'header', header: o as unknown as ExportHeader };
    }
    const b = o.backendMetadata as Partial<BackendMetadataEntry> | undefined;
    if (typeof b === 'object' && b !== null) {
      const m = b.metadata as Partial<BackendMetadata> | undefined;
      if (typeof b.service !== 'string' || typeof m !== 'object' || m === null || typeof m.driver !== 'string') {
        throw new ValidationError(`Line ${lineNo}: backend metadata without its service and driver`);
      }
      return { kind: 'backend', entry: { service: b.service, metadata: m as BackendMetadata } };
    }
  }
  throw new ValidationError(`Line ${lineNo}: expected {"key": ..., "value": ...}, a header or backend metadata`);
}

/** The lines of an export, parsed (blank lines skipped). */
export async function* readExportLines(input: NodeJS.ReadableStream): AsyncIterable<ExportLine> {
  let lineNo = 0;
  for await (const line of readline.createInterface({ input, crlfDelay: Infinity })) {
    lineNo++;
    if (line.trim() === '') continue;
    yield parseExportLine(line, lineNo);
  }
}

export function readExportFile(file: string): AsyncIterable<ExportLine> {
  return readExportLines(fs.createReadStream(file));
}

/**
 * Loads the key lines of an export stream into `store` (other lines are skipped: the backends'
 * metadata is restored by importInstallation); refuses a non-empty store unless `force` (then keys
 * in the export overwrite, others stay). Returns the number of keys.
 */
export async function importState(store: Store, input: NodeJS.ReadableStream, options: { force?: boolean } = {}): Promise<number> {
  if (!options.force && (await store.count('')) > 0) {
    throw new ValidationError(`The ${store.backend} store already holds state; import into an empty store, or pass --force to overwrite`);
  }
  return loadStateKeys(store, readExportLines(input));
}

/** Writes the key lines of `lines` into `store`, batches of 100. Returns the number of keys. */
export async function loadStateKeys(store: Store, lines: AsyncIterable<ExportLine>): Promise<number> {
  let pending: BatchOperation[] = [];
  let n = 0;
  for await (const line of lines) {
    if (line.kind !== 'key') continue;
    pending.push({ type: 'put', key: line.entry.key, value: line.entry.value });
    n++;
    if (pending.length >= IMPORT_BATCH) {
      await store.batch(pending);
      pending = [];
    }
  }
  if (pending.length > 0) await store.batch(pending);
  return n;
}
