/**
 * What a vfs root's data says about its journal, checked under the lock before the driver trusts
 * the journal. A volume's or snapshot's directory is explained when the journal has its record. An
 * unexplained one whose ID the journal has already handed out is a leftover (a removal that did not
 * finish, a copy that died before its record): it is quarantined. An unexplained one whose ID the
 * journal has NOT handed out yet cannot come from any crash, because an ID is retired in the
 * journal before its directory is made: the journal is older than the data (restored from an older
 * backup, or truncated), and the root is refused. So is a root with data and no journal at all.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { DriverRefusedError } from '../errors';
import { readdirOrEmpty } from './atomic-json';
import { FLATTEN_PREFIX, SNAPSHOT_ID_PATTERN, VOLUME_ID_PATTERN, VfsLayout, idNumber } from './vfs-layout';
import type { VfsState } from './vfs-state';

export interface UnexplainedDir {
  kind: 'volume' | 'snapshot';
  id: string;
  path: string;
  /** Its ID is at or past the journal's counter: the journal never handed it out. */
  ahead: boolean;
}

/** Directories named like a volume or snapshot that the journal has no record of. */
export async function unexplainedDirs(layout: VfsLayout, state: VfsState): Promise<UnexplainedDir[]> {
  const out: UnexplainedDir[] = [];
  for (const [kind, dir, pattern, known, next] of [
    ['volume', layout.volumesDir, VOLUME_ID_PATTERN, state.volumes, state.next.volume],
    ['snapshot', layout.snapshotsDir, SNAPSHOT_ID_PATTERN, state.snapshots, state.next.snapshot],
  ] as const) {
    for (const entry of await readdirOrEmpty(dir)) {
      if (!pattern.test(entry) || known.has(entry)) continue;
      const full = path.join(dir, entry);
      if (!(await isDirectory(full))) continue;
      out.push({ kind, id: entry, path: full, ahead: idNumber(entry) >= next });
    }
  }
  return out;
}

/**
 * Before a first journal is created: the root must hold no data a journal should describe. Roots of
 * the first vfs format (a `.json` beside each directory) are the exception: `init()` imports them.
 */
export async function assertNoDataWithoutJournal(layout: VfsLayout): Promise<void> {
  const data: string[] = [];
  for (const [dir, pattern] of [
    [layout.volumesDir, VOLUME_ID_PATTERN],
    [layout.snapshotsDir, SNAPSHOT_ID_PATTERN],
  ] as const) {
    const names = await readdirOrEmpty(dir);
    const legacy = new Set(names.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5)));
    for (const name of names) {
      const full = path.join(dir, name);
      if ((pattern.test(name) && !legacy.has(name)) || name.startsWith(FLATTEN_PREFIX)) {
        if (await isDirectory(full)) data.push(full);
      }
    }
  }
  if (data.length === 0) return;
  throw new DriverRefusedError(
    `vfs root ${layout.root} holds volume data (${describe(data)}) but has no journal in ${layout.metaDir}: ` +
      `its metadata was lost or not restored. Nothing was changed. Restore ${layout.metaDir} from a backup at least as new as ` +
      `the data (or load an export with \`polly state import FILE --force\`: it restores the store and this meta/ together); never ` +
      `start Polly over the data without its journal.`,
    { root: layout.root, missing: layout.metaDir, data: data.slice(0, 20) },
  );
}

/** Refuses the root when some data is newer than the journal (see the file comment). */
export function assertNothingAhead(layout: VfsLayout, state: VfsState, unexplained: readonly UnexplainedDir[]): void {
  const ahead = unexplained.filter((u) => u.ahead);
  if (ahead.length === 0) return;
  throw new DriverRefusedError(
    `vfs root ${layout.root}: ${describe(ahead.map((u) => u.path))} ${ahead.length === 1 ? 'is' : 'are'} newer than the journal in ` +
      `${layout.metaDir} (the next IDs it would hand out are vfs-${pad(state.next.volume)} and vfs-snap-${pad(state.next.snapshot)}): ` +
      `the journal is older than the data (restored from an older backup, or truncated). Nothing was changed. Restore ${layout.metaDir} ` +
      `from a backup at least as new as the data, or load an export taken after the data with \`polly state import FILE --force\`; ` +
      `never start Polly on an ` +
      `older journal. If the journal is right and these directories are leftovers, move them into ${layout.quarantineDir}/ by hand ` +
      `(they are then listed as quarantined) and start again.`,
    { root: layout.root, ahead: ahead.slice(0, 20).map((u) => u.id), nextVolume: state.next.volume, nextSnapshot: state.next.snapshot },
  );
}

function describe(paths: readonly string[]): string {
  const shown = paths.slice(0, 5).join(', ');
  return paths.length > 5 ? `${shown} and ${paths.length - 5} more` : shown;
}

function pad(n: number): string {
  return String(n).padStart(6, '0');
}

async function isDirectory(p: string): Promise<boolean> {
  return (await fs.lstat(p).catch(() => undefined))?.isDirectory() === true;
}
