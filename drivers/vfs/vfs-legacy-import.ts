/**
 * Roots written by the first vfs format kept each volume's and snapshot's metadata in a file of its
 * own (`volumes/<id>.json`, `snapshots/<id>.json`), a name index (`names/`) and the ID counters
 * (`next-id`). `init()` imports them into the journal once, under the lock, and then deletes them;
 * records already in the journal (an import interrupted before its clean-up) are not imported again.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { DriverLogger } from '../driver-logger';
import { isErrno, readJsonFile } from './atomic-json';
import { SNAPSHOT_META_PATTERN, VOLUME_META_PATTERN, VfsLayout, idNumber } from './vfs-layout';
import { parseSnapshotRecord, parseVolumeRecord } from './vfs-records';
import type { JournalEntry, VfsState } from './vfs-state';

export interface LegacyMetadata {
  entries: JournalEntry[];
  /** Files and directories to delete once the entries are committed. */
  leftovers: string[];
}

/** Undefined when the root has nothing of the first format. */
export async function readLegacyMetadata(layout: VfsLayout, state: VfsState, logger: DriverLogger): Promise<LegacyMetadata | undefined> {
  const leftovers: string[] = [];
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
      leftovers.push(file);
      try {
        const raw = await readJsonFile(file);
        if (raw === undefined) continue;
        if (into === volumes) {
          const r = parseVolumeRecord(raw, file);
          if (!state.volumes.has(r.id)) into.push({ volume: r });
        } else {
          const r = parseSnapshotRecord(raw, file);
          if (!state.snapshots.has(r.id)) into.push({ snapshot: r });
        }
      } catch (err) {
        // Kept, not deleted: an operator may want to look at it.
        leftovers.pop();
        logger.error('unreadable metadata of the first vfs format, not imported', { path: file, error: (err as Error).message });
      }
    }
  }
  const counters = (await readJsonFile(layout.legacyCounterFile).catch(() => undefined)) as
    { volume?: unknown; snapshot?: unknown } | undefined;
  const entries = [...volumes, ...snapshots];
  if (counters !== undefined) {
    leftovers.push(layout.legacyCounterFile);
    if (isCount(counters.volume) && isCount(counters.snapshot))
      entries.push({ next: { volume: counters.volume, snapshot: counters.snapshot } });
  }
  if (await exists(layout.legacyNamesDir)) leftovers.push(layout.legacyNamesDir);
  return leftovers.length === 0 ? undefined : { entries, leftovers };
}

export async function removeLegacyFiles(leftovers: string[]): Promise<void> {
  for (const p of leftovers) await fs.rm(p, { recursive: true, force: true });
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return [];
    throw err;
  }
}

async function exists(p: string): Promise<boolean> {
  return fs.stat(p).then(
    () => true,
    () => false,
  );
}

function isCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 1;
}
