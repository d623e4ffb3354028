/**
 * A vfs root's metadata for backups: exported as one checkpoint (the whole journal's state at its
 * sequence, with the root's identity and installation binding), read under the root lock so no
 * writer can move it meanwhile, writing nothing; imported back as `meta/checkpoint-<gen>.json`
 * plus an empty `meta/journal-<gen>.log`, which the journal reads like any compacted generation.
 *
 * An import writes only into a root without metadata, unless forced (then the `meta/` that is there
 * is moved aside to `meta.replaced-<time>`, never deleted). A root whose own metadata is the same
 * root at the export's sequence or later is left as it is (restoring it would only lose changes).
 * It writes only when the root's data matches
 * the metadata: no volume or snapshot directory newer than it (it would be refused at start), and
 * every volume and snapshot it lists has its directory (a start would make it anew, empty). Each
 * refusal names the root, what was found and the way out, and changes nothing. The new `meta/` is
 * written aside and renamed into place, so a crash leaves the old state or the new one.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { DriverConflictError, DriverInvalidError, DriverRefusedError } from '../errors';
import type { BackendMetadata, BackendMetadataSummary, MetadataImportResult } from '../storage-driver';
import { fsyncDir, isErrno, readdirOrEmpty, writeFileAtomic } from './atomic-json';
import { VfsJournal, type VfsJournalOptions } from './vfs-journal';
import { CHECKPOINT_PATTERN, JOURNAL_PATTERN, VfsLayout } from './vfs-layout';
import { unexplainedDirs } from './vfs-root-guard';
import { type VfsCheckpoint, VfsState } from './vfs-state';

export const VFS_METADATA_FORMAT = 1;

/** `BackendMetadata.data` for vfs. */
export interface VfsMetadataData {
  /** The root it was exported from (for messages; an import writes into the configured root). */
  root: string;
  exportedAt: string;
  checkpoint: VfsCheckpoint;
}

/** Under the root lock (the caller holds it): the root's metadata, or undefined when it has none and no data. */
export async function exportVfsMetadata(layout: VfsLayout, journalOptions: VfsJournalOptions): Promise<BackendMetadata | undefined> {
  const probe = new VfsJournal(layout, journalOptions);
  if (!(await probe.exists())) {
    const data = await dataDirs(layout);
    if (data.length === 0) return undefined;
    throw new DriverRefusedError(
      `vfs root ${layout.root} holds volume data (${describe(data)}) but has no journal in ${layout.metaDir}: there is no metadata ` +
        `to export. Restore ${layout.metaDir} from a backup first (or load an earlier export with \`polly state import FILE --force\`).`,
      { root: layout.root, missing: layout.metaDir },
    );
  }
  let read: { state: VfsState; generation: number };
  try {
    read = await VfsJournal.readCommitted(layout, journalOptions);
  } catch (err) {
    if (err instanceof DriverRefusedError) throw err;
    throw new DriverRefusedError(`vfs root ${layout.root}: its metadata cannot be read whole for a backup: ${(err as Error).message}`, {
      root: layout.root,
    });
  }
  if (!read.state.root) {
    throw new DriverRefusedError(
      `vfs root ${layout.root} has no identity in its journal yet (written by an older Polly): start Polly once on it, then export`,
      { root: layout.root },
    );
  }
  const data: VfsMetadataData = {
    root: layout.root,
    exportedAt: new Date().toISOString(),
    // Generation 1 has no checkpoint file: the copy is written as generation 2 at the least.
    checkpoint: read.state.toCheckpoint(Math.max(2, read.generation)),
  };
  return { driver: 'vfs', format: VFS_METADATA_FORMAT, data };
}

/** Checks exported metadata and says what it holds; throws DriverInvalidError naming what is wrong. */
export function describeVfsMetadata(metadata: BackendMetadata): BackendMetadataSummary {
  const { data, state } = parse(metadata);
  const mark: BackendMetadataSummary['mark'] = { rootId: state.root!.id, sequence: state.sequence, location: data.root };
  if (state.installation) mark.installationId = state.installation.id;
  return { mark, volumeIds: [...state.volumes.keys()] };
}

/** Under the root lock (the caller holds it, and has made the root directory): see the file comment. */
export async function importVfsMetadata(
  layout: VfsLayout,
  metadata: BackendMetadata,
  options: { force?: boolean; dryRun?: boolean; journal: VfsJournalOptions },
): Promise<MetadataImportResult> {
  const { data, state } = parse(metadata);
  const result: MetadataImportResult = { location: layout.metaDir };
  const present = (await readdirOrEmpty(layout.metaDir)).filter((f) => JOURNAL_PATTERN.test(f) || CHECKPOINT_PATTERN.test(f));
  if (present.length > 0) {
    const own = await readOwn(layout, options.journal);
    // The same root, as new as the export or newer: nothing to restore (an older journal would only lose changes).
    if (own.state?.root?.id === state.root!.id && own.state.sequence >= state.sequence) return { ...result, kept: true };
    if (!options.force) {
      const found = !own.state
        ? `unreadable (${own.error})`
        : own.state.root?.id !== state.root!.id
          ? `another root's (${own.state.root?.id ?? 'no identity'}; the export's is ${state.root!.id})`
          : `older than the export (sequence ${own.state.sequence}; the export's is ${state.sequence})`;
      throw new DriverConflictError(
        `vfs root ${layout.root} already has metadata in ${layout.metaDir}, ${found}: an import replaces it only with --force ` +
          `(it is then moved aside, never deleted). Nothing was changed.`,
        { root: layout.root, present: present.slice(0, 20) },
      );
    }
  }
  await assertDataMatches(layout, state, data);
  if (options.dryRun) return result;

  if (path.resolve(data.root) !== layout.root) relocate(state, layout);
  const generation = Math.max(2, data.checkpoint.generation);
  const staging = path.join(layout.root, `meta.importing-${process.pid}-${randomBytes(4).toString('hex')}`);
  const durable = options.journal.durable;
  await fs.mkdir(staging);
  try {
    await writeFileAtomic(
      path.join(staging, path.basename(layout.checkpoint(generation))),
      JSON.stringify(state.toCheckpoint(generation)),
      {
        durable,
      },
    );
    await (await fs.open(path.join(staging, path.basename(layout.journal(generation))), 'wx')).close();
    if (durable) await fsyncDir(staging);
    if (await exists(layout.metaDir)) {
      result.replacedTo = path.join(layout.root, `meta.replaced-${new Date().toISOString().replace(/[:.]/g, '-')}`);
      await fs.rename(layout.metaDir, result.replacedTo);
    }
    await fs.rename(staging, layout.metaDir);
  } catch (err) {
    await fs.rm(staging, { recursive: true, force: true });
    throw err;
  }
  if (durable) await fsyncDir(layout.root);
  return result;
}

function parse(metadata: BackendMetadata): { data: VfsMetadataData; state: VfsState } {
  const m = metadata as Partial<BackendMetadata> | null;
  if (typeof m !== 'object' || m === null || m.driver !== 'vfs') {
    throw new DriverInvalidError(`not vfs metadata (driver ${JSON.stringify((m as { driver?: unknown } | null)?.driver)})`);
  }
  if (m.format !== VFS_METADATA_FORMAT) {
    throw new DriverInvalidError(`vfs metadata format ${JSON.stringify(m.format)} is not one this Polly reads (${VFS_METADATA_FORMAT})`);
  }
  const data = m.data as Partial<VfsMetadataData> | null;
  if (typeof data !== 'object' || data === null || typeof data.root !== 'string' || typeof data.checkpoint !== 'object') {
    throw new DriverInvalidError('vfs metadata without its root and checkpoint');
  }
  let state: VfsState;
  try {
    state = VfsState.fromCheckpoint(data.checkpoint, `the exported metadata of ${data.root}`);
  } catch (err) {
    throw new DriverInvalidError(`damaged vfs metadata: ${(err as Error).message}`);
  }
  if (!state.root) throw new DriverInvalidError(`the exported metadata of ${data.root} has no root identity`);
  if (!Number.isSafeInteger(data.checkpoint!.generation) || data.checkpoint!.generation < 1) {
    throw new DriverInvalidError(`the exported metadata of ${data.root} has no valid generation`);
  }
  return { data: data as VfsMetadataData, state };
}

/** Restored into another directory than it was exported from: attachments name the volumes' new place. */
function relocate(state: VfsState, layout: VfsLayout): void {
  for (const [id, record] of state.volumes) {
    if (record.attachments.length === 0) continue;
    state.volumes.set(id, { ...record, attachments: record.attachments.map((a) => ({ ...a, mountPoint: layout.volumeDir(id) })) });
  }
}

/** The root's own metadata as it is now, or why it cannot be read. */
async function readOwn(layout: VfsLayout, journal: VfsJournalOptions): Promise<{ state?: VfsState; error?: string }> {
  try {
    return { state: (await VfsJournal.readCommitted(layout, journal)).state };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/** Refuses a root whose data does not match `state` (see the file comment). */
async function assertDataMatches(layout: VfsLayout, state: VfsState, data: VfsMetadataData): Promise<void> {
  const ahead = (await unexplainedDirs(layout, state)).filter((u) => u.ahead);
  if (ahead.length > 0) {
    throw new DriverRefusedError(
      `vfs root ${layout.root} holds data newer than the export (${describe(ahead.map((u) => u.path))}; exported ${data.exportedAt}): ` +
        `those volumes were created after the export, and a start over them would be refused. Nothing was changed. Use an export ` +
        `taken after the data (export first, then back up the data), or move those directories out of ${layout.root} knowingly.`,
      { root: layout.root, ahead: ahead.slice(0, 20).map((u) => u.id) },
    );
  }
  const names = new Set([...(await readdirOrEmpty(layout.volumesDir)), ...(await readdirOrEmpty(layout.snapshotsDir))]);
  const missing = [...state.volumes.keys(), ...state.snapshots.keys()].filter((id) => !names.has(id));
  if (missing.length > 0) {
    throw new DriverRefusedError(
      `vfs root ${layout.root} lacks the data of ${missing.length} volume${missing.length === 1 ? '' : 's'} or snapshot` +
        `${missing.length === 1 ? '' : 's'} the export lists (${describe(missing)}): restore the data into ${layout.root} first ` +
        `(volumes/ and snapshots/ from your data backup), then import; a start would make them anew, empty. Nothing was changed.`,
      { root: layout.root, missing: missing.slice(0, 20) },
    );
  }
}

/** Volume and snapshot directories (named like them) in the root. */
async function dataDirs(layout: VfsLayout): Promise<string[]> {
  const out: string[] = [];
  for (const dir of [layout.volumesDir, layout.snapshotsDir]) {
    for (const name of await readdirOrEmpty(dir)) if (/^vfs-/.test(name)) out.push(path.join(dir, name));
  }
  return out;
}

function describe(items: readonly string[]): string {
  const shown = items.slice(0, 5).join(', ');
  return items.length > 5 ? `${shown} and ${items.length - 5} more` : shown;
}

async function exists(p: string): Promise<boolean> {
  return fs.lstat(p).then(
    () => true,
    (err: unknown) => {
      if (isErrno(err, 'ENOENT')) return false;
      throw err;
    },
  );
}
