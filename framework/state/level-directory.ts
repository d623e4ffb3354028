/**
 * What a LevelDB directory holds, looked at (read-only) before LevelDB is asked to open it.
 * LevelDB must not be the one to find out: opened over a directory whose CURRENT file is gone, it
 * starts a new, empty database there and then deletes the old table files as obsolete; even an
 * open it refuses renames LOG to LOG.old. So a directory that holds files but cannot be a database
 * is refused here, before LevelDB touches anything.
 */
import fs from 'node:fs';
import path from 'node:path';
import { StoreDamagedError } from './store';

/** `absent`: no directory; `empty`: nothing but LevelDB's housekeeping files; `database`: opens as a LevelDB. */
export type LevelDirectoryState = 'absent' | 'empty' | 'database';

/** Files LevelDB writes for itself that hold no data: a directory with only these is empty. */
const HOUSEKEEPING = new Set(['LOCK', 'LOG', 'LOG.old']);

/** CURRENT names the live manifest, one line: `MANIFEST-000004\n`. */
const CURRENT_LINE = /^(MANIFEST-\d+)\n$/;

function damaged(location: string, problem: string): StoreDamagedError {
  return new StoreDamagedError(
    `The LevelDB state store at ${location} ${problem}: LevelDB cannot open it as it is, and letting it try would start ` +
      'a new, empty database over the old files. The files were left exactly as they are',
    location,
  );
}

function listed(files: readonly string[]): string {
  const shown = [...files].sort().slice(0, 5).join(', ');
  return files.length > 5 ? `${shown}, ... (${files.length} files)` : shown;
}

/** Throws StoreDamagedError for a directory with files that is not a whole LevelDB database. */
export async function inspectLevelDirectory(location: string): Promise<LevelDirectoryState> {
  let entries: string[];
  try {
    entries = await fs.promises.readdir(location);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'absent';
    if (code === 'ENOTDIR') throw damaged(location, 'is not a directory');
    throw err;
  }
  const files = entries.filter((name) => !HOUSEKEEPING.has(name));
  if (files.length === 0) return 'empty';
  if (!files.includes('CURRENT')) throw damaged(location, `holds files (${listed(files)}) but no CURRENT file`);
  let current: string;
  try {
    current = await fs.promises.readFile(path.join(location, 'CURRENT'), 'utf8');
  } catch (err) {
    throw damaged(location, `has a CURRENT file that cannot be read (${(err as Error).message})`);
  }
  const manifest = CURRENT_LINE.exec(current)?.[1];
  if (!manifest) throw damaged(location, `has a CURRENT file that names no manifest (${JSON.stringify(current.slice(0, 60))})`);
  if (!files.includes(manifest)) throw damaged(location, `has a CURRENT file naming ${manifest}, which is missing`);
  return 'database';
}
