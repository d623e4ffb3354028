/**
 * The vfs root's metadata as one in-memory state: volumes, snapshots, the case-insensitive name
 * index and the ID counters. It is rebuilt from a checkpoint plus the journal entries after it, so
 * every change is one `JournalEntry`, applied the same way when written and when replayed.
 */
import { nameKey } from '../name-rules';
import { idNumber, isSnapshotId, isVolumeId } from './vfs-layout';
import { VfsSnapshotRecord, VfsVolumeRecord, parseSnapshotRecord, parseVolumeRecord } from './vfs-records';

/** One line of the journal. */
export type JournalEntry =
  | { volume: VfsVolumeRecord }
  | { removeVolume: string }
  | { snapshot: VfsSnapshotRecord }
  | { removeSnapshot: string }
  /** Counters raised past IDs no record shows (imported from the first vfs format). */
  | { next: IdCounters }
  /** The last line of a journal whose state continues in checkpoint `sealedBy` (written by compaction). */
  | { sealedBy: number };

export interface IdCounters {
  volume: number;
  snapshot: number;
}

export const CHECKPOINT_SCHEMA = 2;

export interface VfsCheckpoint {
  schema: number;
  generation: number;
  next: IdCounters;
  volumes: VfsVolumeRecord[];
  snapshots: VfsSnapshotRecord[];
}

export class VfsState {
  readonly volumes = new Map<string, VfsVolumeRecord>();
  readonly snapshots = new Map<string, VfsSnapshotRecord>();
  /** nameKey(name) → volume ID. */
  private readonly names = new Map<string, string>();
  /** The next number of each kind: one past every ID ever recorded, so IDs never repeat. */
  readonly next: IdCounters = { volume: 1, snapshot: 1 };

  static fromCheckpoint(raw: unknown, source: string): VfsState {
    const c = raw as Partial<VfsCheckpoint> | null;
    if (
      typeof c !== 'object' ||
      c === null ||
      c.schema !== CHECKPOINT_SCHEMA ||
      !Array.isArray(c.volumes) ||
      !Array.isArray(c.snapshots) ||
      !isCounter(c.next?.volume) ||
      !isCounter(c.next?.snapshot)
    ) {
      throw new Error(`corrupt vfs checkpoint ${source}`);
    }
    const state = new VfsState();
    state.raise(c.next!);
    for (const v of c.volumes) state.apply({ volume: parseVolumeRecord(v, source) });
    for (const s of c.snapshots) state.apply({ snapshot: parseSnapshotRecord(s, source) });
    return state;
  }

  toCheckpoint(generation: number): VfsCheckpoint {
    return {
      schema: CHECKPOINT_SCHEMA,
      generation,
      next: { ...this.next },
      volumes: [...this.volumes.values()],
      snapshots: [...this.snapshots.values()],
    };
  }

  /** The ID of the volume holding `name` (any case). */
  nameHolder(name: string): string | undefined {
    return this.names.get(nameKey(name));
  }

  /** Never lowers a counter. */
  raise(counters: Partial<IdCounters>): void {
    if (isCounter(counters.volume)) this.next.volume = Math.max(this.next.volume, counters.volume);
    if (isCounter(counters.snapshot)) this.next.snapshot = Math.max(this.next.snapshot, counters.snapshot);
  }

  apply(entry: JournalEntry): void {
    if ('volume' in entry) {
      const r = entry.volume;
      const before = this.volumes.get(r.id);
      if (before && nameKey(before.name) !== nameKey(r.name) && this.names.get(nameKey(before.name)) === r.id) {
        this.names.delete(nameKey(before.name));
      }
      this.volumes.set(r.id, r);
      this.names.set(nameKey(r.name), r.id);
      this.raise({ volume: idNumber(r.id) + 1 });
    } else if ('removeVolume' in entry) {
      const r = this.volumes.get(entry.removeVolume);
      if (!r) return;
      this.volumes.delete(r.id);
      if (this.names.get(nameKey(r.name)) === r.id) this.names.delete(nameKey(r.name));
    } else if ('snapshot' in entry) {
      this.snapshots.set(entry.snapshot.id, entry.snapshot);
      this.raise({ snapshot: idNumber(entry.snapshot.id) + 1 });
    } else if ('removeSnapshot' in entry) {
      this.snapshots.delete(entry.removeSnapshot);
    } else if ('next' in entry) {
      this.raise(entry.next);
    }
  }
}

/**
 * A journal line parsed and checked; undefined when it is not a well-formed entry (a torn or
 * corrupt line: the journal's valid part ends before it).
 */
export function parseJournalEntry(line: string, source: string): JournalEntry | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const e = raw as Record<string, unknown>;
  try {
    if ('volume' in e) return { volume: parseVolumeRecord(e.volume, source) };
    if ('snapshot' in e) return { snapshot: parseSnapshotRecord(e.snapshot, source) };
  } catch {
    return undefined;
  }
  if (isVolumeId(e.removeVolume)) return { removeVolume: e.removeVolume };
  if (isSnapshotId(e.removeSnapshot)) return { removeSnapshot: e.removeSnapshot };
  if (isCounter(e.sealedBy)) return { sealedBy: e.sealedBy };
  const next = e.next as Partial<IdCounters> | undefined;
  if (typeof next === 'object' && next !== null && isCounter(next.volume) && isCounter(next.snapshot)) {
    return { next: { volume: next.volume, snapshot: next.snapshot } };
  }
  return undefined;
}

/** An ID counter: a safe integer from 1. */
export function isCounter(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 1;
}
