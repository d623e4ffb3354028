/**
 * Crash-safe JSON files: write a temp file in the same directory, fsync it, rename it over the
 * target, fsync the directory. Readers see the old file or the new one, never a torn one.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

/** Temp files are dot-files ending in `.tmp`, so directory scans for IDs and checkpoints never see them. */
export const TEMP_SUFFIX = '.tmp';

export interface AtomicWriteOptions {
  /** fsync file and directory (default true). Off only for throwaway roots (benchmarks). */
  durable?: boolean;
  /**
   * fsync the directory after the rename (default: when durable). A batch of writes into one
   * directory turns it off and calls `fsyncDir` once for all of them.
   */
  syncDir?: boolean;
}

export async function writeFileAtomic(file: string, content: string, options: AtomicWriteOptions = {}): Promise<void> {
  const durable = options.durable ?? true;
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`);
  const handle = await fs.open(tmp, 'wx', 0o644);
  try {
    try {
      await handle.writeFile(content, 'utf8');
      if (durable) await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
  if (durable && options.syncDir !== false) await fsyncDir(dir);
}

/** Parsed JSON, or undefined when the file does not exist. A torn or corrupt file throws. */
export async function readJsonFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new Error(`corrupt JSON in ${file}: ${(err as Error).message}`);
  }
}

/** Makes a rename or unlink in `dir` durable. Some filesystems refuse to fsync a directory; that is not an error. */
export async function fsyncDir(dir: string): Promise<void> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(dir, 'r');
    await handle.sync();
  } catch (err) {
    if (!isErrno(err, 'EINVAL') && !isErrno(err, 'EISDIR') && !isErrno(err, 'EPERM') && !isErrno(err, 'EBADF')) throw err;
  } finally {
    await handle?.close();
  }
}

export function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as NodeJS.ErrnoException).code === code;
}

/** A directory's entries; none when it does not exist. */
export async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return [];
    throw err;
  }
}
