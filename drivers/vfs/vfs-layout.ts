/**
 * Where the vfs driver keeps things under its root, and the shape of its IDs. Paths are built only
 * from IDs that match the driver's own patterns, never from names, so no caller string becomes a path.
 *
 *   <root>/.lock                           the cross-process lock
 *   <root>/meta/journal-<gen>.log          metadata changes, one JSON entry per line (vfs-journal.ts)
 *   <root>/meta/checkpoint-<gen>.json      all metadata as of the start of journal <gen> (gen > 1)
 *   <root>/volumes/<id>/                   the volume's data: what a task mounts
 *   <root>/snapshots/<id>/                 a copy of the volume's data
 *   <root>/{volumes,snapshots}/.staging-*  copies in progress (renamed into place under the lock)
 *   <root>/quarantine/<entry>/data         data the journal does not explain, moved aside, never deleted
 *   <root>/quarantine/<entry>/record.json  where it came from, when and why (vfs-quarantine.ts)
 *
 * Roots written by the first vfs format kept metadata in files of their own and data one level
 * down (`legacy*` below); `init()` imports and moves them once.
 */
import * as path from 'node:path';

export const VOLUME_ID_PATTERN = /^vfs-(\d{6,15})$/;
export const SNAPSHOT_ID_PATTERN = /^vfs-snap-(\d{6,15})$/;
export const VOLUME_META_PATTERN = /^(vfs-\d{6,15})\.json$/;
export const SNAPSHOT_META_PATTERN = /^(vfs-snap-\d{6,15})\.json$/;
export const STAGING_PREFIX = '.staging-';
export const FLATTEN_PREFIX = '.flatten-';
export const JOURNAL_PATTERN = /^journal-(\d{6,15})\.log$/;
export const CHECKPOINT_PATTERN = /^checkpoint-(\d{6,15})\.json$/;
/** A quarantine entry's name: one path segment, URL-safe (an operator may also put one there by hand). */
export const QUARANTINE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

export function formatVolumeId(n: number): string {
  return `vfs-${String(n).padStart(6, '0')}`;
}

export function formatSnapshotId(n: number): string {
  return `vfs-snap-${String(n).padStart(6, '0')}`;
}

export function isVolumeId(id: unknown): id is string {
  return typeof id === 'string' && VOLUME_ID_PATTERN.test(id);
}

export function isSnapshotId(id: unknown): id is string {
  return typeof id === 'string' && SNAPSHOT_ID_PATTERN.test(id);
}

/** The number inside a volume or snapshot ID (0 when it is not one). */
export function idNumber(id: string): number {
  const m = VOLUME_ID_PATTERN.exec(id) ?? SNAPSHOT_ID_PATTERN.exec(id);
  return m ? Number(m[1]) : 0;
}

export class VfsLayout {
  readonly root: string;
  readonly volumesDir: string;
  readonly snapshotsDir: string;
  readonly metaDir: string;
  readonly lockFile: string;
  readonly quarantineDir: string;
  readonly legacyNamesDir: string;
  readonly legacyCounterFile: string;

  constructor(root: string) {
    this.root = path.resolve(root);
    this.volumesDir = path.join(this.root, 'volumes');
    this.snapshotsDir = path.join(this.root, 'snapshots');
    this.metaDir = path.join(this.root, 'meta');
    this.lockFile = path.join(this.root, '.lock');
    this.quarantineDir = path.join(this.root, 'quarantine');
    this.legacyNamesDir = path.join(this.root, 'names');
    this.legacyCounterFile = path.join(this.root, 'next-id');
  }

  journal(generation: number): string {
    return path.join(this.metaDir, `journal-${generationPart(generation)}.log`);
  }

  checkpoint(generation: number): string {
    return path.join(this.metaDir, `checkpoint-${generationPart(generation)}.json`);
  }

  legacyVolumeMeta(id: string): string {
    return path.join(this.volumesDir, `${checked(id, VOLUME_ID_PATTERN)}.json`);
  }

  volumeDir(id: string): string {
    return path.join(this.volumesDir, checked(id, VOLUME_ID_PATTERN));
  }

  legacyVolumeData(id: string): string {
    return path.join(this.volumeDir(id), 'data');
  }

  /** Where a legacy volume's data waits while it moves up from `<id>/data` to `<id>`. */
  flattening(id: string): string {
    return path.join(this.volumesDir, `${FLATTEN_PREFIX}${checked(id, VOLUME_ID_PATTERN)}`);
  }

  legacySnapshotMeta(id: string): string {
    return path.join(this.snapshotsDir, `${checked(id, SNAPSHOT_ID_PATTERN)}.json`);
  }

  snapshotDir(id: string): string {
    return path.join(this.snapshotsDir, checked(id, SNAPSHOT_ID_PATTERN));
  }

  quarantineEntry(id: string): string {
    return path.join(this.quarantineDir, checked(id, QUARANTINE_ID_PATTERN));
  }
}

function generationPart(generation: number): string {
  if (!Number.isSafeInteger(generation) || generation < 1) throw new Error(`vfs: bad journal generation ${generation}`);
  return String(generation).padStart(6, '0');
}

/** Defence in depth: callers validate first, but a path is never built from an unchecked ID. */
function checked(id: string, pattern: RegExp): string {
  if (!pattern.test(id)) {
    throw new Error(`vfs: refusing to build a path from ${JSON.stringify(id)}`);
  }
  return id;
}
