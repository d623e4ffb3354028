/**
 * Roots written by the first vfs format kept each volume's and snapshot's metadata in a file of its
 * own (`volumes/<id>.json`, `snapshots/<id>.json`), a name index (`names/`) and the ID counters
 * (`next-id`), and a volume's data in `volumes/<id>/data`. `init()` imports the records into the
 * journal once, under the lock, then moves each volume's data up to `volumes/<id>` and deletes the
 * old files; records already in the journal (an import interrupted half-way) are not imported again.
 *
 * Moving one volume, resumably: (1) `<id>/data` → `.flatten-<id>`, (2) delete `<id>.json`,
 * (3) remove the now empty `<id>`, (4) `.flatten-<id>` → `<id>`. A volume whose `.json` is still
 * there has not moved (its `<id>/data` is the old data dir, never a user folder named `data`); a
 * `.flatten-<id>` left by a crash finishes at steps 2-4.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { DriverLogger } from '../driver-logger';
import { isErrno, readdirOrEmpty, readJsonFile } from './atomic-json';
import { FLATTEN_PREFIX, SNAPSHOT_META_PATTERN, VOLUME_META_PATTERN, VfsLayout, idNumber, isVolumeId } from './vfs-layout';
import { parseSnapshotRecord, parseVolumeRecord } from './vfs-records';
import { isCounter, type JournalEntry, type VfsState } from './vfs-state';

export interface LegacyMetadata {
  entries: JournalEntry[];
  /** Volumes whose data is still in the old place (their `.json` is still there). */
  volumeIds: string[];
  /** Files and directories to delete once the entries are committed. */
  leftovers: string[];
}

/** Undefined when the root has nothing of the first format. */
export async function readLegacyMetadata(layout: VfsLayout, state: VfsState, logger: DriverLogger): Promise<LegacyMetadata | undefined> {
  const leftovers: string[] = [];
  const volumeIds: string[] = [];
  const volumes: JournalEntry[] = [];
  const snapshots: JournalEntry[] = [];
  for (const [dir, pattern, into] of [
    [layout.volumesDir, VOLUME_META_PATTERN, volumes],
    [layout.snapshotsDir, SNAPSHOT_META_PATTERN, snapshots],
  ] as const) {
    const files = (await readdirOrEmpty(dir))
      .filter((f) => pattern.test(f))
      .sort((a, b) => idNumber(a.slice(0, -5)) - idNumber(b.slice(0, -5)));
    for (const f of files) {
      const file = path.join(dir, f);
      try {
        const raw = await readJsonFile(file);
        if (raw === undefined) continue;
        if (into === volumes) {
          const r = parseVolumeRecord(raw, file);
          if (!state.volumes.has(r.id)) into.push({ volume: r });
          volumeIds.push(r.id); // its .json goes when its data has moved
        } else {
          const r = parseSnapshotRecord(raw, file);
          if (!state.snapshots.has(r.id)) into.push({ snapshot: r });
          leftovers.push(file);
        }
      } catch (err) {
        // Kept, not deleted: an operator may want to look at it.
        logger.error('unreadable metadata of the first vfs format, not imported', { path: file, error: (err as Error).message });
      }
    }
  }
  const counters = (await readJsonFile(layout.legacyCounterFile).catch(() => undefined)) as
    { volume?: unknown; snapshot?: unknown } | undefined;
  const entries = [...volumes, ...snapshots];
  if (counters !== undefined) {
    leftovers.push(layout.legacyCounterFile);
    if (isCounter(counters.volume) && isCounter(counters.snapshot))
      entries.push({ next: { volume: counters.volume, snapshot: counters.snapshot } });
  }
  if (await exists(layout.legacyNamesDir)) leftovers.push(layout.legacyNamesDir);
  return leftovers.length === 0 && volumeIds.length === 0 ? undefined : { entries, volumeIds, leftovers };
}

/** Steps 1-4 of the file comment for one volume whose record is committed to the journal. */
export async function flattenLegacyVolume(layout: VfsLayout, id: string): Promise<void> {
  await fs.rename(layout.legacyVolumeData(id), layout.flattening(id)).catch((err: unknown) => {
    if (!isErrno(err, 'ENOENT')) throw err; // no data dir: nothing to move
  });
  await finishFlattening(layout, id);
}

/** Finishes moves a crash interrupted (a `.flatten-<id>` left in `volumes/`). */
export async function resumeFlattening(layout: VfsLayout, logger: DriverLogger): Promise<void> {
  for (const entry of await readdirOrEmpty(layout.volumesDir)) {
    if (!entry.startsWith(FLATTEN_PREFIX)) continue;
    const id = entry.slice(FLATTEN_PREFIX.length);
    if (!isVolumeId(id)) continue;
    logger.warn('finishing an interrupted move of a vfs volume to the current layout', { volumeId: id });
    await finishFlattening(layout, id);
  }
}

async function finishFlattening(layout: VfsLayout, id: string): Promise<void> {
  await fs.rm(layout.legacyVolumeMeta(id), { force: true });
  await fs.rmdir(layout.volumeDir(id)).catch((err: unknown) => {
    if (!isErrno(err, 'ENOENT')) throw err;
  });
  await fs.rename(layout.flattening(id), layout.volumeDir(id)).catch(async (err: unknown) => {
    if (!isErrno(err, 'ENOENT')) throw err;
    await fs.mkdir(layout.volumeDir(id), { recursive: true }); // it had no data dir: an empty volume
  });
}

export async function removeLegacyFiles(leftovers: string[]): Promise<void> {
  for (const p of leftovers) await fs.rm(p, { recursive: true, force: true });
}

async function exists(p: string): Promise<boolean> {
  return fs.stat(p).then(
    () => true,
    () => false,
  );
}
