/**
 * The persisted ID counters of a vfs root (`<root>/next-id`). IDs only ever grow: a deleted
 * volume's ID is never handed out again, across restarts and processes. Callers hold the root lock.
 */
import { promises as fs } from 'node:fs';
import { AtomicWriteOptions, readJsonFile, writeJsonAtomic } from './atomic-json';
import { idNumber } from './vfs-layout';

// Metadata files and data directories both count: an orphan directory's ID must not be reused either.
const VOLUME_ENTRY = /^(vfs-\d{6,15})(\.json)?$/;
const SNAPSHOT_ENTRY = /^(vfs-snap-\d{6,15})(\.json)?$/;

export type IdKind = 'volume' | 'snapshot';

export interface IdCounters {
  volume: number;
  snapshot: number;
}

export interface IdSequenceDirs {
  counterFile: string;
  volumesDir: string;
  snapshotsDir: string;
}

export class IdSequence {
  constructor(
    private readonly dirs: IdSequenceDirs,
    private readonly write: AtomicWriteOptions = {},
  ) {}

  /** Reserves and returns the next number of `kind`, persisting the counter before returning. */
  async next(kind: IdKind): Promise<number> {
    const counters = await this.load();
    const n = counters[kind];
    counters[kind] = n + 1;
    await writeJsonAtomic(this.dirs.counterFile, counters, this.write);
    return n;
  }

  /** The counters as stored, for a batch that hands out several IDs at once (then `save`). */
  current(): Promise<IdCounters> {
    return this.load();
  }

  /** Persists counters a batch has raised; `write` may defer the directory fsync to the batch. */
  save(counters: IdCounters, write: AtomicWriteOptions = this.write): Promise<void> {
    return writeJsonAtomic(this.dirs.counterFile, counters, write);
  }

  /**
   * Creates the counter file when missing. A lost counter is rebuilt from the highest ID on disk,
   * which is the best that can be done; a present counter is never lowered.
   */
  async ensure(): Promise<void> {
    const stored = await readIdCounters(this.dirs.counterFile);
    const floor = await this.scanFloor();
    const merged: IdCounters = {
      volume: Math.max(stored?.volume ?? 1, floor.volume),
      snapshot: Math.max(stored?.snapshot ?? 1, floor.snapshot),
    };
    if (!stored || merged.volume !== stored.volume || merged.snapshot !== stored.snapshot) {
      await writeJsonAtomic(this.dirs.counterFile, merged, this.write);
    }
  }

  private async load(): Promise<IdCounters> {
    const stored = await readIdCounters(this.dirs.counterFile);
    if (stored) return stored;
    await this.ensure();
    return (await readIdCounters(this.dirs.counterFile)) ?? { volume: 1, snapshot: 1 };
  }

  /** One past the highest IDs present on disk. */
  private async scanFloor(): Promise<IdCounters> {
    return {
      volume: (await maxId(this.dirs.volumesDir, VOLUME_ENTRY)) + 1,
      snapshot: (await maxId(this.dirs.snapshotsDir, SNAPSHOT_ENTRY)) + 1,
    };
  }
}

async function readIdCounters(file: string): Promise<IdCounters | undefined> {
  const raw = await readJsonFile(file);
  if (raw === undefined) return undefined;
  const c = raw as Partial<IdCounters>;
  if (!Number.isSafeInteger(c.volume) || !Number.isSafeInteger(c.snapshot) || (c.volume as number) < 1 || (c.snapshot as number) < 1) {
    throw new Error(`corrupt ID counter file ${file}`);
  }
  return { volume: c.volume as number, snapshot: c.snapshot as number };
}

async function maxId(dir: string, pattern: RegExp): Promise<number> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return 0;
  }
  let max = 0;
  for (const name of names) {
    const m = pattern.exec(name);
    if (m) max = Math.max(max, idNumber(m[1]));
  }
  return max;
}
