/**
 * The vfs root's start-up work, in two steps the driver runs under the root lock:
 *
 * `open` checks and loads: it refuses a root with data but no journal, loads the journal (refusing
 * one that is incomplete), imports a root of the first vfs format, refuses data newer than the
 * journal (vfs-root-guard.ts), and gives a root without an identity its one. It changes no data, so
 * the storage layer may ask a root's identity (`backendMark`) before trusting it.
 *
 * `tidy` cleans up after crashes, once the root is trusted: temp files are removed (they are ours),
 * directories without a record are quarantined (never deleted: vfs-quarantine.ts), a record without
 * its directory gets one (a create that died before making it), and old staging copies go.
 */
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { DriverLogger } from '../driver-logger';
import { TEMP_SUFFIX } from './atomic-json';
import type { VfsJournal } from './vfs-journal';
import { STAGING_PREFIX, VfsLayout } from './vfs-layout';
import { flattenLegacyVolume, readLegacyMetadata, removeLegacyFiles, resumeFlattening } from './vfs-legacy-import';
import type { VfsQuarantine } from './vfs-quarantine';
import { assertNoDataWithoutJournal, assertNothingAhead, unexplainedDirs } from './vfs-root-guard';

export interface VfsRootUpkeepOptions {
  layout: VfsLayout;
  journal: VfsJournal;
  quarantine: VfsQuarantine;
  logger: DriverLogger;
  /** Staging copies older than this are removed, ms. */
  stagingMaxAgeMs: number;
  /** Makes a volume's data directory the way the driver does (quarantining anything in the way); called under the root lock. */
  makeVolumeDir(id: string): Promise<void>;
}

export class VfsRootUpkeep {
  constructor(private readonly o: VfsRootUpkeepOptions) {}

  /** Under the root lock (see the file comment). */
  async open(): Promise<void> {
    const { layout, journal, logger } = this.o;
    const fresh = !(await journal.exists());
    if (fresh) await assertNoDataWithoutJournal(layout);
    await journal.open(fresh);
    await this.importLegacyMetadata();
    assertNothingAhead(layout, journal.state, await unexplainedDirs(layout, journal.state));
    if (!journal.state.root) {
      const identity = { id: randomUUID(), createdAt: new Date().toISOString() };
      await journal.update(async () => ({ entries: [{ root: identity }], result: undefined }));
      logger.info(fresh ? 'vfs root created' : 'vfs root given an identity', { root: layout.root, rootId: identity.id });
    }
  }

  /**
   * Under the root lock, nothing is mid-write, so what `tidy` finds is what crashes left (see the
   * file comment).
   *
   * Staging copies older than stagingMaxAge are removed: a staging directory is a copy of data that
   * still exists elsewhere (a volume or snapshot), made for a create that was never acknowledged
   * (its ID and record come only after the rename out of staging), so it never held acknowledged
   * user data. Younger ones may be a copy another process is still making.
   */
  async tidy(): Promise<void> {
    const { layout, journal, quarantine, logger } = this.o;
    const { root, volumesDir, snapshotsDir } = layout;
    for (const dir of [root, volumesDir, snapshotsDir]) {
      for (const entry of await fs.readdir(dir)) {
        if (entry.startsWith('.') && entry.endsWith(TEMP_SUFFIX)) await fs.rm(path.join(dir, entry), { force: true });
      }
    }
    await quarantine.tidy();
    const state = await journal.refresh();
    for (const u of await unexplainedDirs(layout, state)) {
      if (u.ahead) continue; // never quarantined: `open` refuses the root instead
      await quarantine.move({ path: u.path, kind: u.kind, originalId: u.id, reason: `no ${u.kind} record in the journal` });
    }
    const present = new Set(await fs.readdir(volumesDir));
    for (const id of state.volumes.keys()) {
      if (!present.has(id)) {
        logger.warn('making the missing data directory of a vfs volume', { volumeId: id });
        await this.o.makeVolumeDir(id);
      }
    }
    for (const dir of [volumesDir, snapshotsDir]) {
      for (const entry of await fs.readdir(dir)) {
        const full = path.join(dir, entry);
        if (entry.startsWith(STAGING_PREFIX) && (await ageMs(full)) > this.o.stagingMaxAgeMs) {
          logger.warn('removing an abandoned vfs staging copy (made for a create that never finished)', { path: full });
          await fs.rm(full, { recursive: true, force: true });
        }
      }
    }
  }

  /** A root of the first vfs format: its metadata files become journal entries, its data moves up a level. */
  private async importLegacyMetadata(): Promise<void> {
    const { layout, journal, logger } = this.o;
    await resumeFlattening(layout, logger);
    const legacy = await readLegacyMetadata(layout, journal.state, logger);
    if (!legacy) return;
    await journal.update(async () => ({ entries: legacy.entries, result: undefined }));
    for (const id of legacy.volumeIds) await flattenLegacyVolume(layout, id);
    await removeLegacyFiles(legacy.leftovers);
    const records = legacy.entries.filter((e) => 'volume' in e || 'snapshot' in e).length;
    logger.info('imported a vfs root of the first format', { records, volumesMoved: legacy.volumeIds.length });
  }
}

async function ageMs(p: string): Promise<number> {
  try {
    return Date.now() - (await fs.stat(p)).mtimeMs;
  } catch {
    return 0;
  }
}
