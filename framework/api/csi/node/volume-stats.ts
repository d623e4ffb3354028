/**
 * NodeGetVolumeStats for a published directory: capacity and free space (bytes and inodes) of the
 * filesystem it lives on, which is what a workload can still write, and what the volume itself uses
 * (a walk of its tree, as du does). vfs volumes are directories of a shared filesystem without
 * quotas, so their nominal size is not a limit the node can report.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';

export interface VolumeUsage {
  unit: 'BYTES' | 'INODES';
  total: number;
  available: number;
  /** Absent when the walk stopped at its bound. */
  used?: number;
}

/** A walk of more entries than this stops, and `used` is left out rather than reported short. */
export const MAX_WALKED_ENTRIES = 1_000_000;

async function walk(dir: string): Promise<{ bytes: number; inodes: number } | undefined> {
  let bytes = 0;
  let inodes = 0;
  const pending = [dir];
  while (pending.length > 0) {
    const current = pending.pop()!;
    let handle;
    try {
      handle = await fs.opendir(current);
    } catch {
      continue; // vanished or unreadable meanwhile
    }
    for await (const entry of handle) {
      if (++inodes > MAX_WALKED_ENTRIES) return undefined;
      const full = path.join(current, entry.name);
      const stat = await fs.lstat(full).catch(() => undefined);
      if (!stat) continue;
      bytes += stat.blocks * 512;
      if (entry.isDirectory()) pending.push(full);
    }
  }
  return { bytes, inodes };
}

export async function volumeUsage(volumePath: string, dataDir: string): Promise<VolumeUsage[]> {
  const [fsStats, used] = await Promise.all([fs.statfs(volumePath), walk(dataDir)]);
  const bytes: VolumeUsage = { unit: 'BYTES', total: fsStats.blocks * fsStats.bsize, available: fsStats.bavail * fsStats.bsize };
  const inodes: VolumeUsage = { unit: 'INODES', total: fsStats.files, available: fsStats.ffree };
  if (used) {
    bytes.used = used.bytes;
    inodes.used = used.inodes;
  }
  return [bytes, inodes];
}
