/**
 * Every file under a directory with its bytes' hash and mode, to assert that something left a
 * directory exactly as it was (same names, same contents), e.g. a refused start over a damaged store.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** `relative/path → sha256:mode` of every file (and `dir/` for directories); undefined when `dir` does not exist. */
export function snapshotDir(dir: string): Record<string, string> | undefined {
  if (!fs.existsSync(dir)) return undefined;
  const out: Record<string, string> = {};
  const walk = (current: string): void => {
    for (const entry of fs.readdirSync(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name);
      const rel = path.relative(dir, full);
      if (entry.isDirectory()) {
        out[`${rel}/`] = 'dir';
        walk(full);
      } else {
        const stat = fs.statSync(full);
        out[rel] = `${createHash('sha256').update(fs.readFileSync(full)).digest('hex')}:${stat.mode.toString(8)}`;
      }
    }
  };
  walk(dir);
  return out;
}
