/**
 * The vfs root's metadata as one in-memory state: volumes, snapshots, the case-insensitive name
 * index, the ID counters and the root's identity. It is rebuilt from a checkpoint plus the journal
 * entries after it, so every change is one `JournalEntry`, applied the same way when written and
 * when replayed.
 *
 * The identity is what lets Polly notice a journal that is not the one it knew: `root` (a random
 * ID written as the first entry of a new root) says which root this is, `sequence` counts every
 * committed entry since then. The sequence costs no write of its own: replay counts the entries,
 * and a checkpoint stores the count it stands for. A restored older or truncated journal therefore
 * shows a lower sequence than the one Polly recorded.
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
  /** The root's identity: the first entry of a new root (or of an older root's first start that knows it). */
  | { root: RootIdentity }
  /** The Polly installation the root belongs to (bound by the storage layer; rebinding is an explicit adopt). */
  | { installation: InstallationBinding }
  /** The last line of a journal whose state continues in checkpoint `sealedBy` (written by compaction). */
  | { sealedBy: number };

export interface RootIdentity {
  id: string;
  createdAt: string;
}

export interface InstallationBinding {
  id: string;
  boundAt: string;
}

export interface IdCounters {
  volume: number;
  snapshot: number;
}

/** 3 added the identity and the sequence; 2 (without them) is still read. */
export const CHECKPOINT_SCHEMA = 3;

export interface VfsCheckpoint {
  schema: number;
  generation: number;
  next: IdCounters;
  /** Entries committed up to this checkpoint. */
  sequence: number;
  root?: RootIdentity;
  installation?: InstallationBinding;
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
  root: RootIdentity | undefined;
  installation: InstallationBinding | undefined;
  /** Entries committed since the root was created (see the file comment). */
  sequence = 0;

  static fromCheckpoint(raw: unknown, source: string): VfsState {
    const c = raw as Partial<VfsCheckpoint> | null;
    if (
      typeof c !== 'object' ||
      c === null ||
      (c.schema !== CHECKPOINT_SCHEMA && c.schema !== 2) ||
      (c.schema === CHECKPOINT_SCHEMA && !isSequence(c.sequence)) ||
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
    if (c.root !== undefined) state.root = parseRoot(c.root, source);
    if (c.installation !== undefined) state.installation = parseBinding(c.installation, source);
    // Set last: rebuilding the records above is not a change. (A schema-2 checkpoint counts from 0.)
    state.sequence = c.sequence ?? 0;
    return state;
  }

  toCheckpoint(generation: number): VfsCheckpoint {
    return {
      schema: CHECKPOINT_SCHEMA,
      generation,
      next: { ...this.next },
      sequence: this.sequence,
      ...(this.root ? { root: this.root } : {}),
      ...(this.installation ? { installation: this.installation } : {}),
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
    if ('sealedBy' in entry) return; // not a change: the state continues in a checkpoint
    this.sequence++;
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
    } else if ('root' in entry) {
      this.root ??= entry.root; // the first one names the root; a later one (never written) changes nothing
    } else if ('installation' in entry) {
      this.installation = entry.installation;
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
  try {
    if ('root' in e) return { root: parseRoot(e.root, source) };
    if ('installation' in e) return { installation: parseBinding(e.installation, source) };
  } catch {
    return undefined;
  }
  const next = e.next as Partial<IdCounters> | undefined;
  if (typeof next === 'object' && next !== null && isCounter(next.volume) && isCounter(next.snapshot)) {
    return { next: { volume: next.volume, snapshot: next.snapshot } };
  }
  return undefined;
}

function parseRoot(raw: unknown, source: string): RootIdentity {
  const r = raw as Partial<RootIdentity> | null;
  if (typeof r !== 'object' || r === null || !isIdText(r.id) || typeof r.createdAt !== 'string') {
    throw new Error(`corrupt vfs root identity in ${source}`);
  }
  return { id: r.id, createdAt: r.createdAt };
}

function parseBinding(raw: unknown, source: string): InstallationBinding {
  const b = raw as Partial<InstallationBinding> | null;
  if (typeof b !== 'object' || b === null || !isIdText(b.id) || typeof b.boundAt !== 'string') {
    throw new Error(`corrupt vfs installation binding in ${source}`);
  }
  return { id: b.id, boundAt: b.boundAt };
}

/** A root or installation ID: 1-100 printable ASCII characters without spaces. */
export function isIdText(id: unknown): id is string {
  return typeof id === 'string' && /^[\x21-\x7e]{1,100}$/.test(id);
}

function isSequence(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/** An ID counter: a safe integer from 1. */
export function isCounter(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 1;
}
