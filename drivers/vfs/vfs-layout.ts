/**
 * Where the vfs driver keeps things under its root, and the shape of its IDs. Paths are built only
 * from IDs that match the driver's own patterns, never from names, so no caller string becomes a path.
 *
 *   <root>/next-id                    persisted ID counters
 *   <root>/.lock                      the cross-process lock
 *   <root>/volumes/<id>.json          volume metadata (its existence = the volume exists)
 *   <root>/volumes/<id>/data/         what a task mounts
 *   <root>/snapshots/<id>.json        snapshot metadata
 *   <root>/snapshots/<id>/            a copy of the volume's data
 *   <root>/names/<sha256(name key)>   name index: the volume ID holding that name
 *   <root>/{volumes,snapshots}/.staging-*   copies in progress (renamed into place under the lock)
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { nameKey } from '../name-rules';

export const VOLUME_ID_PATTERN = /^vfs-(\d{6,15})$/;
export const SNAPSHOT_ID_PATTERN = /^vfs-snap-(\d{6,15})$/;
export const VOLUME_META_PATTERN = /^(vfs-\d{6,15})\.json$/;
export const SNAPSHOT_META_PATTERN = /^(vfs-snap-\d{6,15})\.json$/;
export const STAGING_PREFIX = '.staging-';

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
  readonly namesDir: string;
  readonly counterFile: string;
  readonly lockFile: string;

  constructor(root: string) {
    this.root = path.resolve(root);
    this.volumesDir = path.join(this.root, 'volumes');
    this.snapshotsDir = path.join(this.root, 'snapshots');
    this.namesDir = path.join(this.root, 'names');
    this.counterFile = path.join(this.root, 'next-id');
    this.lockFile = path.join(this.root, '.lock');
  }

  volumeMeta(id: string): string {
    return path.join(this.volumesDir, `${checked(id, VOLUME_ID_PATTERN)}.json`);
  }

  volumeDir(id: string): string {
    return path.join(this.volumesDir, checked(id, VOLUME_ID_PATTERN));
  }

  volumeData(id: string): string {
    return path.join(this.volumeDir(id), 'data');
  }

  snapshotMeta(id: string): string {
    return path.join(this.snapshotsDir, `${checked(id, SNAPSHOT_ID_PATTERN)}.json`);
  }

  snapshotDir(id: string): string {
    return path.join(this.snapshotsDir, checked(id, SNAPSHOT_ID_PATTERN));
  }

  /** The name-index entry for a (case-insensitive) volume name: a hash, so any valid name is a safe file name. */
  nameEntry(name: string): string {
    return path.join(this.namesDir, createHash('sha256').update(nameKey(name)).digest('hex'));
  }
}

/** Defence in depth: callers validate first, but a path is never built from an unchecked ID. */
function checked(id: string, pattern: RegExp): string {
  if (!pattern.test(id)) {
    throw new Error(`vfs: refusing to build a path from ${JSON.stringify(id)}`);
  }
  return id;
}
