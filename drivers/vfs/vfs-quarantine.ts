/**
 * Where a vfs root keeps data its journal does not explain: `<root>/quarantine/<entry>/data`, beside
 * `record.json` saying where it came from, when and why. Data is moved there with one rename (same
 * filesystem: no copy, nothing can be half-moved) and is never deleted by Polly; only `purge`, an
 * operator's explicit act, deletes an entry.
 *
 * Moving is crash-safe in this order: make the entry directory, write its record, rename the data
 * in. A crash before the rename leaves an entry with a record and no data (or an empty entry), which
 * `tidy` removes: it never held data. A directory an operator puts into `quarantine/` by hand is
 * listed too (kind `unknown`: the whole directory is its data).
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { DriverLogger } from '../driver-logger';
import { DriverNotFoundError } from '../errors';
import type { QuarantinedEntry } from '../storage-driver';
import { fsyncDir, isErrno, readJsonFile, TEMP_SUFFIX, writeFileAtomic } from './atomic-json';
import { QUARANTINE_ID_PATTERN, VfsLayout } from './vfs-layout';

const RECORD_FILE = 'record.json';
const DATA_DIR = 'data';
const RECORD_SCHEMA = 1;

/** What `record.json` holds. */
interface QuarantineRecord {
  schema: number;
  kind: QuarantinedEntry['kind'];
  originalId?: string;
  originalPath: string;
  reason: string;
  quarantinedAt: string;
}

export interface QuarantineSource {
  /** The directory to move aside (on the root's filesystem). */
  path: string;
  kind: QuarantinedEntry['kind'];
  originalId?: string;
  reason: string;
}

export class VfsQuarantine {
  constructor(
    private readonly layout: VfsLayout,
    private readonly options: { durable: boolean; logger: DriverLogger },
  ) {}

  /** Moves `source.path` into a new entry. Callers hold the root lock (`tidy` relies on it). */
  async move(source: QuarantineSource): Promise<QuarantinedEntry> {
    const { quarantineDir } = this.layout;
    const { durable, logger } = this.options;
    await fs.mkdir(quarantineDir, { recursive: true });
    const id = entryId(source);
    const entry = this.layout.quarantineEntry(id);
    await fs.mkdir(entry);
    const record: QuarantineRecord = {
      schema: RECORD_SCHEMA,
      kind: source.kind,
      ...(source.originalId !== undefined ? { originalId: source.originalId } : {}),
      originalPath: source.path,
      reason: source.reason,
      quarantinedAt: new Date().toISOString(),
    };
    await writeFileAtomic(path.join(entry, RECORD_FILE), JSON.stringify(record, null, 2), { durable });
    await fs.rename(source.path, path.join(entry, DATA_DIR));
    if (durable) {
      await fsyncDir(path.dirname(source.path));
      await fsyncDir(entry);
    }
    const moved = view(id, entry, record);
    logger.warn('quarantined vfs data the journal does not explain (moved aside, not deleted)', {
      path: source.path,
      quarantinedAs: moved.path,
      reason: source.reason,
      ...(source.originalId !== undefined ? { volumeId: source.originalId } : {}),
    });
    return moved;
  }

  /** Every entry, oldest first (entries without a record last, by name). */
  async list(): Promise<QuarantinedEntry[]> {
    const out: QuarantinedEntry[] = [];
    for (const id of await this.entryIds()) {
      const entry = await this.read(id);
      if (entry) out.push(entry);
    }
    return out.sort((a, b) => (a.quarantinedAt ?? '~').localeCompare(b.quarantinedAt ?? '~') || a.id.localeCompare(b.id));
  }

  /** One entry; DriverNotFoundError when there is none by that ID. */
  async get(id: string): Promise<QuarantinedEntry> {
    const entry = QUARANTINE_ID_PATTERN.test(id) ? await this.read(id) : undefined;
    if (!entry)
      throw new DriverNotFoundError(`no quarantined entry ${JSON.stringify(id.slice(0, 200))}`, { quarantineId: id.slice(0, 200) });
    return entry;
  }

  /** Deletes one entry, data and all (the operator asked for exactly this entry). Under the root lock. */
  async purge(id: string): Promise<QuarantinedEntry> {
    const entry = await this.get(id);
    await fs.rm(this.layout.quarantineEntry(id), { recursive: true, force: true });
    if (this.options.durable) await fsyncDir(this.layout.quarantineDir);
    this.options.logger.warn('purged a quarantined vfs entry (deleted on request)', { quarantineId: id, path: entry.path });
    return entry;
  }

  /** After an entry's data was moved back out (restore): removes what is left of the entry (its record). */
  async forget(id: string): Promise<void> {
    const dir = this.layout.quarantineEntry(id);
    await fs.rm(path.join(dir, RECORD_FILE), { force: true });
    await fs.rmdir(dir).catch((err: unknown) => {
      if (!isErrno(err, 'ENOENT')) throw err;
    });
  }

  /**
   * Under the root lock, at start: removes entries a crash left before their data moved in (a record
   * and no data, or nothing at all). Anything holding data stays.
   */
  async tidy(): Promise<void> {
    for (const id of await this.entryIds()) {
      const dir = this.layout.quarantineEntry(id);
      const names = await fs.readdir(dir).catch(() => undefined);
      if (names === undefined) continue;
      const ours = names.filter((n) => n === RECORD_FILE || (n.startsWith('.') && n.endsWith(TEMP_SUFFIX)));
      if (ours.length !== names.length) continue; // holds something else: data
      if (names.includes(RECORD_FILE) && !(await this.readRecord(dir))) continue; // not our record: leave it
      for (const n of ours) await fs.rm(path.join(dir, n), { force: true });
      await fs.rmdir(dir);
      this.options.logger.info('removed an empty quarantine entry (a move that a crash interrupted)', { quarantineId: id });
    }
  }

  private async entryIds(): Promise<string[]> {
    let names: string[];
    try {
      names = await fs.readdir(this.layout.quarantineDir);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return [];
      throw err;
    }
    const ids: string[] = [];
    for (const name of names) {
      if (!QUARANTINE_ID_PATTERN.test(name)) {
        if (!name.startsWith('.'))
          this.options.logger.warn('ignoring a quarantine entry whose name is not a plain ID', { name: name.slice(0, 200) });
        continue;
      }
      const stat = await fs.lstat(path.join(this.layout.quarantineDir, name)).catch(() => undefined);
      if (stat?.isDirectory()) ids.push(name);
    }
    return ids;
  }

  private async read(id: string): Promise<QuarantinedEntry | undefined> {
    const dir = this.layout.quarantineEntry(id);
    const stat = await fs.lstat(dir).catch(() => undefined);
    if (!stat?.isDirectory()) return undefined;
    const record = await this.readRecord(dir);
    if (record) {
      const data = await fs.lstat(path.join(dir, DATA_DIR)).catch(() => undefined);
      // A record without data is a move a crash interrupted: nothing to show (tidy removes it).
      return data ? view(id, dir, record) : undefined;
    }
    return { id, kind: 'unknown', path: dir, reason: 'no record: put into quarantine by hand, or by a tool other than Polly' };
  }

  private async readRecord(dir: string): Promise<QuarantineRecord | undefined> {
    const raw = (await readJsonFile(path.join(dir, RECORD_FILE)).catch(() => undefined)) as Partial<QuarantineRecord> | undefined;
    if (
      typeof raw !== 'object' ||
      raw === null ||
      raw.schema !== RECORD_SCHEMA ||
      !['volume', 'snapshot', 'staging', 'unknown'].includes(String(raw.kind)) ||
      typeof raw.originalPath !== 'string' ||
      typeof raw.reason !== 'string' ||
      typeof raw.quarantinedAt !== 'string'
    ) {
      return undefined;
    }
    return raw as QuarantineRecord;
  }
}

function view(id: string, dir: string, r: QuarantineRecord): QuarantinedEntry {
  const entry: QuarantinedEntry = { id, kind: r.kind, path: path.join(dir, DATA_DIR), reason: r.reason, quarantinedAt: r.quarantinedAt };
  if (r.originalId !== undefined) entry.originalId = r.originalId;
  entry.originalPath = r.originalPath;
  return entry;
}

/** `<what it was>-<UTC time>-<random>`: unique, sortable by eye, and one URL-safe segment. */
function entryId(source: QuarantineSource): string {
  const base =
    (source.originalId ?? path.basename(source.path))
      .replace(/^[^A-Za-z0-9]+/, '')
      .replace(/[^A-Za-z0-9._-]/g, '_')
      .slice(0, 120) || 'data';
  const at = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${base}-${at}-${randomBytes(3).toString('hex')}`;
}
