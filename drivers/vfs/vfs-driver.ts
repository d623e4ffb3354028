/**
 * The embedded default driver: volumes are directories under a root that may be a shared
 * filesystem (e.g. NFS) mounted at the same path on every agent. Modelled on libStorage's vfs
 * without its flaws: IDs never repeat, names are unique (case-insensitively), metadata is written
 * atomically, attachments are exclusive for writers, and two processes on one root are safe.
 *
 * Metadata lives in an append-only journal (vfs-journal.ts): a volume (snapshot) exists iff its
 * record is in the journal. Create appends the record, then makes the data directory; a copy retires
 * its ID in the journal, renames its data into place, then appends the record; remove appends the
 * removal, then deletes the directory. A crash therefore leaves at most a directory without a record
 * whose ID is retired; `init()` quarantines it (moves it aside, never deletes it: vfs-quarantine.ts).
 * Every mutation runs under the root lock; bulk copies run outside it in a staging directory that is
 * renamed into place under the lock.
 *
 * Data is never deleted or reused on a guess: a root with data but no journal, or with data newer
 * than its journal, is refused (vfs-root-guard.ts); a directory in the way of a new ID is quarantined.
 * The root has an identity and a sequence (`backendMark()`), so the storage layer can also refuse a
 * journal older than its own records.
 *
 * Create, attach and detach are group-committed (group-commit.ts): the requests that queue up while
 * the lock is busy run as one batch under one lock acquisition, with one journal append and one
 * fdatasync for the whole batch.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { throwIfAborted } from '../abort';
import { assertValidSize, checkCreateOptions } from '../create-options';
import { DriverLogger, silentDriverLogger } from '../driver-logger';
import { DriverInvalidError, DriverNotFoundError, DriverNotImplementedError, DriverRefusedError } from '../errors';
import { assertValidName, hasControlChars } from '../name-rules';
import type {
  AttachOptions,
  BackendMark,
  BackendMetadata,
  BackendMetadataSummary,
  CallOptions,
  Capacity,
  CapacityQuery,
  DetachOptions,
  DriverSnapshot,
  DriverVolume,
  Instance,
  InstanceId,
  MetadataImportOptions,
  MetadataImportResult,
  QuarantinedEntry,
  RemoveOptions,
  StorageDriver,
  StorageType,
  VolumeCreateOptions,
  VolumeExpansion,
} from '../storage-driver';
import { fsyncDir, isErrno } from './atomic-json';
import { GroupCommit, Queued } from './group-commit';
import { RootLock } from './root-lock';
import { SerialQueue } from './serial-queue';
import { VfsJournal, type VfsJournalOptions } from './vfs-journal';
import { describeVfsMetadata, exportVfsMetadata, importVfsMetadata } from './vfs-metadata-backup';
import { BatchDecision, Mutation, VolumeAttrs, assertNameFree, decideBatch, newVolumeRecord } from './vfs-batch';
import { STAGING_PREFIX, VfsLayout, formatSnapshotId, formatVolumeId, isSnapshotId, isVolumeId } from './vfs-layout';
import { RECORD_SCHEMA, VfsSnapshotRecord, VfsVolumeRecord, toDriverSnapshot, toDriverVolume } from './vfs-records';
import { VfsQuarantine } from './vfs-quarantine';
import { VfsRootUpkeep } from './vfs-root-upkeep';
import { isIdText, type JournalEntry, type VfsState } from './vfs-state';

export interface VfsDriverConfig {
  /** The directory holding volumes; may be a shared filesystem mounted at this path on every agent. */
  root: string;
  /** Volumes one instance may have attached; undefined = no limit. */
  attachLimit?: number;
  /** A root lock untouched this long is presumed abandoned, ms (default 30 000). */
  lockStaleMs?: number;
  /** Give up waiting for the root lock after this long, ms (default 30 000). */
  lockTimeoutMs?: number;
  /** fsync metadata and directories (default true). Turn off only for throwaway roots. */
  durable?: boolean;
  /** Staging copies older than this are removed by `init()` (they never held acknowledged data), ms (default 1 hour). */
  stagingMaxAgeMs?: number;
  /** Compact the metadata journal once it is larger than this and than its checkpoint, bytes (default 4 MiB). */
  journalCompactBytes?: number;
  logger?: DriverLogger;
}

const GIB = 1024 ** 3;

/** What a new snapshot records about its volume. */
type SnapshotSource = Pick<
  VfsSnapshotRecord,
  'volumeId' | 'volumeSize' | 'volumeType' | 'volumeIops' | 'volumeAvailabilityZone' | 'fields'
>;

export class VfsDriver implements StorageDriver {
  readonly name = 'vfs';
  readonly layout: VfsLayout;
  private readonly lock: RootLock;
  private readonly journal: VfsJournal;
  private readonly quarantine: VfsQuarantine;
  private readonly upkeep: VfsRootUpkeep;
  private readonly logger: DriverLogger;
  private readonly limit: number | undefined;
  private readonly stagingMaxAgeMs: number;
  private readonly durable: boolean;
  private readonly commits: GroupCommit<Mutation>;
  /**
   * New volumes' directories are made one at a time. The kernel serialises mkdirs in one parent on
   * that directory's lock anyway, and threads waiting for it spin: with a batch's worth of mkdirs in
   * flight on libuv's pool, that spinning was ~14% of the machine's CPU at 64 clients (perf).
   */
  private readonly volumeDirs = new SerialQueue();
  /** The root checked and its journal loaded (reads may go ahead). */
  private opened: Promise<void> | undefined;
  /** Opened, and crash leftovers tidied (mutations may go ahead). */
  private initialised: Promise<void> | undefined;

  constructor(config: VfsDriverConfig) {
    if (typeof config.root !== 'string' || config.root.length === 0) {
      throw new DriverInvalidError('vfs: root must be a non-empty path');
    }
    if (config.attachLimit !== undefined && (!Number.isInteger(config.attachLimit) || config.attachLimit < 1)) {
      throw new DriverInvalidError('vfs: attachLimit must be a positive integer', { attachLimit: config.attachLimit });
    }
    this.layout = new VfsLayout(config.root);
    this.logger = config.logger ?? silentDriverLogger;
    this.durable = config.durable ?? true;
    this.journal = new VfsJournal(this.layout, {
      durable: this.durable,
      compactBytes: config.journalCompactBytes,
      logger: this.logger,
    });
    this.quarantine = new VfsQuarantine(this.layout, { durable: this.durable, logger: this.logger });
    this.lock = new RootLock(this.layout.lockFile, {
      staleMs: config.lockStaleMs,
      acquireTimeoutMs: config.lockTimeoutMs,
      logger: this.logger,
      onRelease: () => this.journal.lockReleased(),
    });
    this.limit = config.attachLimit;
    this.stagingMaxAgeMs = config.stagingMaxAgeMs ?? 3_600_000;
    this.commits = new GroupCommit(this.lock, (batch) => this.commitBatch(batch));
    this.upkeep = new VfsRootUpkeep({
      layout: this.layout,
      journal: this.journal,
      quarantine: this.quarantine,
      logger: this.logger,
      stagingMaxAgeMs: this.stagingMaxAgeMs,
      makeVolumeDir: (id) => this.makeVolumeDir(id, true),
    });
  }

  type(): StorageType {
    return 'nas';
  }

  attachLimit(_instanceId: InstanceId): number | undefined {
    return this.limit;
  }

  /**
   * Lets go of the root lock now if this driver keeps it for a next request, and waits for the
   * batches in flight. The driver stays usable: a later call takes the lock again.
   */
  async close(): Promise<void> {
    await this.commits.drain();
  }

  /** The directory a task mounts for `volume`. */
  hostPath(volume: DriverVolume): string {
    if (!isVolumeId(volume.id)) {
      throw new DriverInvalidError('vfs: not a vfs volume ID', { volumeId: String(volume.id).slice(0, 300) });
    }
    return this.layout.volumeDir(volume.id);
  }

  /**
   * Checks the root (refusing one whose journal is missing or older than its data), creates the
   * layout of a new root and tidies crash leftovers (quarantining what the journal does not
   * explain). Idempotent; other methods call it on first use.
   */
  async init(options?: CallOptions): Promise<void> {
    const signal = options?.signal;
    throwIfAborted(signal, 'init');
    this.initialised ??= this.readable(signal, 'init')
      .then(() => this.lock.withLock(signal, 'init', () => this.upkeep.tidy()))
      .catch((err: unknown) => {
        this.initialised = undefined;
        throw err;
      });
    await this.initialised;
  }

  /** The root's identity and sequence. Checks the root like `init()` but tidies nothing. */
  async backendMark(options?: CallOptions): Promise<BackendMark> {
    await this.readable(options?.signal, 'backendMark');
    return this.markOf(await this.journal.refresh());
  }

  /** Binds the root to a Polly installation (one journal entry; nothing when already bound to it). */
  async bindInstallation(installationId: string, options?: CallOptions): Promise<BackendMark> {
    const signal = options?.signal;
    if (!isIdText(installationId)) throw new DriverInvalidError('vfs: an installation ID is 1-100 printable characters without spaces');
    await this.readable(signal, 'bindInstallation');
    await this.lock.withLock(signal, 'bindInstallation', () =>
      this.journal.update(async (state) => {
        const before = state.installation?.id;
        if (before === installationId) return { entries: [], result: undefined };
        // A first binding is routine (a new root, or one from before bindings); a rebinding is worth a warning.
        if (before === undefined)
          this.logger.info('vfs root bound to a Polly installation', { root: this.layout.root, installation: installationId });
        else {
          this.logger.warn('vfs root rebound to another Polly installation', {
            root: this.layout.root,
            installation: installationId,
            previousInstallation: before,
          });
        }
        return { entries: [{ installation: { id: installationId, boundAt: new Date().toISOString() } }], result: undefined };
      }),
    );
    return this.markOf(this.journal.state);
  }

  /** Data the journal does not explain, moved aside under `<root>/quarantine` (never deleted by Polly). */
  async quarantined(options?: CallOptions): Promise<QuarantinedEntry[]> {
    await this.readable(options?.signal, 'quarantined');
    return this.quarantine.list();
  }

  /** Deletes one quarantined entry, data and all. Only ever on an operator's explicit request. */
  async purgeQuarantined(id: string, options?: CallOptions): Promise<QuarantinedEntry> {
    const signal = options?.signal;
    await this.readable(signal, 'purgeQuarantined');
    return this.lock.withLock(signal, `purgeQuarantined ${String(id).slice(0, 100)}`, async () => {
      throwIfAborted(signal, 'purgeQuarantined');
      return this.quarantine.purge(id);
    });
  }

  /** Makes a quarantined entry's data a volume again: a fresh ID, `name`, size 1 GiB (vfs sizes are nominal). */
  async restoreQuarantined(id: string, name: string, options?: CallOptions): Promise<DriverVolume> {
    const signal = options?.signal;
    assertValidName(name, 'name');
    await this.ready(signal, 'restoreQuarantined');
    return this.lock.withLock(signal, `restoreQuarantined ${String(id).slice(0, 100)}`, async () => {
      const entry = await this.quarantine.get(id);
      assertNameFree(name, (await this.journal.refresh()).nameHolder(name));
      throwIfAborted(signal, 'restoreQuarantined');
      const volumeId = formatVolumeId(await this.reserveId('volume'));
      await this.moveIntoPlace(entry.path, this.layout.volumeDir(volumeId));
      const volume = await this.journal.update(async (state) => {
        assertNameFree(name, state.nameHolder(name)); // (the lock is held: nothing can have taken it since)
        const record = newVolumeRecord(volumeId, name, { size: 1, fields: {} });
        return { entries: [{ volume: record }], result: toDriverVolume(record) };
      });
      await this.quarantine.forget(id);
      this.logger.warn('restored quarantined vfs data as a volume', { quarantineId: id, volumeId, name });
      return volume;
    });
  }

  /**
   * The root's metadata for a backup, read under the root lock and writing nothing (undefined for
   * a root without metadata or data yet). See vfs-metadata-backup.ts.
   */
  async exportMetadata(options?: CallOptions): Promise<BackendMetadata | undefined> {
    const signal = options?.signal;
    throwIfAborted(signal, 'exportMetadata');
    if (!(await isDirectory(this.layout.root))) return undefined;
    return this.lock.withLock(signal, 'exportMetadata', () => exportVfsMetadata(this.layout, this.journalOptions()));
  }

  describeMetadata(metadata: BackendMetadata): BackendMetadataSummary {
    return describeVfsMetadata(metadata);
  }

  /** Writes exported metadata back into this root (see vfs-metadata-backup.ts); the driver then reads the root afresh. */
  async importMetadata(metadata: BackendMetadata, options: MetadataImportOptions = {}): Promise<MetadataImportResult> {
    const { signal, force, dryRun } = options;
    throwIfAborted(signal, 'importMetadata');
    describeVfsMetadata(metadata); // a damaged file is refused before the root is touched
    if (dryRun && !(await isDirectory(this.layout.root))) {
      return importVfsMetadata(this.layout, metadata, { force, dryRun, journal: this.journalOptions() });
    }
    await fs.mkdir(this.layout.root, { recursive: true });
    return this.lock.withLock(signal, 'importMetadata', async () => {
      throwIfAborted(signal, 'importMetadata');
      const result = await importVfsMetadata(this.layout, metadata, { force, dryRun, journal: this.journalOptions() });
      if (!dryRun && !result.kept) {
        await this.journal.forget();
        this.opened = undefined;
        this.initialised = undefined;
        this.logger.warn('vfs root metadata restored from an export', { root: this.layout.root, replacedTo: result.replacedTo });
      }
      return result;
    });
  }

  async instanceInspect(instanceId: InstanceId, options?: CallOptions): Promise<Instance> {
    throwIfAborted(options?.signal, 'instanceInspect');
    checkInstanceId(instanceId);
    return { instanceId: { ...instanceId }, name: instanceId.id };
  }

  async volumes(options?: CallOptions): Promise<DriverVolume[]> {
    const signal = options?.signal;
    await this.readable(signal, 'volumes');
    // In ID order: records enter the state in the order their IDs were handed out.
    return [...(await this.journal.refresh()).volumes.values()].map(toDriverVolume);
  }

  async volumeInspect(volumeId: string, options?: CallOptions): Promise<DriverVolume> {
    await this.readable(options?.signal, 'volumeInspect');
    return toDriverVolume(await this.mustReadVolume(volumeId));
  }

  async volumeInspectByName(name: string, options?: CallOptions): Promise<DriverVolume | undefined> {
    assertValidName(name, 'name');
    await this.readable(options?.signal, 'volumeInspectByName');
    const state = await this.journal.refresh();
    const id = state.nameHolder(name);
    const r = id === undefined ? undefined : state.volumes.get(id);
    return r && toDriverVolume(r);
  }

  async volumeCreate(name: string, create: VolumeCreateOptions, options?: CallOptions): Promise<DriverVolume> {
    const signal = options?.signal;
    assertValidName(name, 'name');
    const c = checkVfsCreate(create);
    await this.ready(signal, 'volumeCreate');
    const attrs: VolumeAttrs = {
      size: c.size ?? 1,
      type: c.type,
      iops: c.iops,
      availabilityZone: c.availabilityZone,
      fields: c.fields ?? {},
    };
    return this.commits.submit<DriverVolume>({ kind: 'create', name, attrs }, signal, 'volumeCreate');
  }

  async volumeCreateFromSnapshot(
    snapshotId: string,
    name: string,
    create: VolumeCreateOptions,
    options?: CallOptions,
  ): Promise<DriverVolume> {
    const signal = options?.signal;
    assertValidName(name, 'name');
    const c = checkVfsCreate(create);
    await this.ready(signal, 'volumeCreateFromSnapshot');
    const snap = await this.mustReadSnapshot(snapshotId);
    if (c.size !== undefined && c.size < snap.volumeSize) {
      throw new DriverInvalidError(`invalid size: smaller than the snapshot's volume (${snap.volumeSize} GiB)`, { size: c.size });
    }
    assertNameFree(name, (await this.journal.refresh()).nameHolder(name)); // fail fast, before copying; re-checked under the lock
    return this.createFromCopy(this.layout.snapshotDir(snap.id), name, signal, 'volumeCreateFromSnapshot', {
      size: c.size ?? snap.volumeSize,
      type: c.type ?? snap.volumeType,
      iops: c.iops ?? snap.volumeIops,
      availabilityZone: c.availabilityZone ?? snap.volumeAvailabilityZone,
      fields: { ...snap.fields, ...c.fields },
    });
  }

  async volumeCopy(volumeId: string, name: string, options?: CallOptions): Promise<DriverVolume> {
    const signal = options?.signal;
    assertValidName(name, 'name');
    await this.ready(signal, 'volumeCopy');
    const source = await this.mustReadVolume(volumeId);
    assertNameFree(name, this.journal.state.nameHolder(name));
    return this.createFromCopy(this.layout.volumeDir(source.id), name, signal, 'volumeCopy', {
      size: source.size,
      type: source.type,
      iops: source.iops,
      availabilityZone: source.availabilityZone,
      fields: { ...source.fields },
    });
  }

  async volumeSnapshot(volumeId: string, snapshotName: string, options?: CallOptions): Promise<DriverSnapshot> {
    const signal = options?.signal;
    assertValidName(snapshotName, 'snapshotName');
    await this.ready(signal, 'volumeSnapshot');
    const volume = await this.mustReadVolume(volumeId);
    const of: SnapshotSource = { volumeId: volume.id, volumeSize: volume.size, fields: volume.fields };
    if (volume.type !== undefined) of.volumeType = volume.type;
    if (volume.iops !== undefined) of.volumeIops = volume.iops;
    if (volume.availabilityZone !== undefined) of.volumeAvailabilityZone = volume.availabilityZone;
    return this.snapshotFrom(this.layout.volumeDir(volume.id), of, snapshotName, signal, 'volumeSnapshot');
  }

  /** A copy of a snapshot: a new snapshot of the same volume with the snapshot's data (as libStorage's vfs). */
  async snapshotCopy(snapshotId: string, snapshotName: string, options?: CallOptions): Promise<DriverSnapshot> {
    const signal = options?.signal;
    assertValidName(snapshotName, 'snapshotName');
    await this.ready(signal, 'snapshotCopy');
    const snap = await this.mustReadSnapshot(snapshotId);
    const of: SnapshotSource = { volumeId: snap.volumeId, volumeSize: snap.volumeSize, fields: snap.fields };
    if (snap.volumeType !== undefined) of.volumeType = snap.volumeType;
    if (snap.volumeIops !== undefined) of.volumeIops = snap.volumeIops;
    if (snap.volumeAvailabilityZone !== undefined) of.volumeAvailabilityZone = snap.volumeAvailabilityZone;
    return this.snapshotFrom(this.layout.snapshotDir(snap.id), of, snapshotName, signal, 'snapshotCopy');
  }

  /** Copies `sourceDir` into a new snapshot directory, then records the snapshot (the commit point). */
  private async snapshotFrom(
    sourceDir: string,
    of: SnapshotSource,
    snapshotName: string,
    signal: AbortSignal | undefined,
    what: string,
  ): Promise<DriverSnapshot> {
    const staging = await this.stage(this.layout.snapshotsDir, sourceDir, signal, what);
    try {
      return await this.lock.withLock(signal, `${what} ${of.volumeId}`, async () => {
        const id = formatSnapshotId(await this.reserveId('snapshot'));
        throwIfAborted(signal, what);
        await this.moveIntoPlace(staging, this.layout.snapshotDir(id));
        return this.journal.update(async () => {
          const record: VfsSnapshotRecord = {
            schema: RECORD_SCHEMA,
            id,
            name: snapshotName,
            startTime: new Date().toISOString(),
            status: 'online',
            ...of,
            fields: { ...of.fields },
          };
          this.logger.info('vfs snapshot created', { volumeId: of.volumeId, snapshotId: id });
          return { entries: [{ snapshot: record }], result: toDriverSnapshot(record) };
        });
      });
    } finally {
      await fs.rm(staging, { recursive: true, force: true });
    }
  }

  async volumeRemove(volumeId: string, remove?: RemoveOptions, options?: CallOptions): Promise<void> {
    const signal = options?.signal;
    checkVolumeId(volumeId);
    await this.ready(signal, 'volumeRemove');
    // Group-committed with creates, attaches and detaches: a remove waiting for the lock on its own
    // queued behind their batches and lingers (~79 ms each at 64 clients, measured by the CSI bench).
    await this.commits.submit({ kind: 'remove', volumeId, force: remove?.force === true }, signal, 'volumeRemove');
  }

  async volumeAttach(
    volumeId: string,
    instanceId: InstanceId,
    attach?: AttachOptions,
    options?: CallOptions,
  ): Promise<{ volume: DriverVolume; attachToken?: string }> {
    const signal = options?.signal;
    checkVolumeId(volumeId);
    checkInstanceId(instanceId);
    const readOnly = attach?.readOnly === true;
    const force = attach?.force === true;
    await this.ready(signal, 'volumeAttach');
    return this.commits.submit({ kind: 'attach', volumeId, instanceId: { ...instanceId }, readOnly, force }, signal, 'volumeAttach');
  }

  async volumeDetach(volumeId: string, instanceId: InstanceId, _detach?: DetachOptions, options?: CallOptions): Promise<DriverVolume> {
    const signal = options?.signal;
    checkVolumeId(volumeId);
    checkInstanceId(instanceId);
    await this.ready(signal, 'volumeDetach');
    // Nothing is mounted by the driver itself, so `force` changes nothing here.
    return this.commits.submit({ kind: 'detach', volumeId, instanceId: { ...instanceId } }, signal, 'volumeDetach');
  }

  async snapshots(options?: CallOptions): Promise<DriverSnapshot[]> {
    const signal = options?.signal;
    await this.readable(signal, 'snapshots');
    return [...(await this.journal.refresh()).snapshots.values()].map(toDriverSnapshot);
  }

  async snapshotInspect(snapshotId: string, options?: CallOptions): Promise<DriverSnapshot> {
    await this.readable(options?.signal, 'snapshotInspect');
    return toDriverSnapshot(await this.mustReadSnapshot(snapshotId));
  }

  async snapshotRemove(snapshotId: string, options?: CallOptions): Promise<void> {
    const signal = options?.signal;
    checkSnapshotId(snapshotId);
    await this.ready(signal, 'snapshotRemove');
    await this.lock.withLock(signal, `snapshotRemove ${snapshotId}`, async () => {
      await this.journal.update(async (state) => {
        if (!state.snapshots.has(snapshotId)) throw new DriverNotFoundError(`snapshot ${snapshotId} not found`, { snapshotId });
        throwIfAborted(signal, 'snapshotRemove');
        return { entries: [{ removeSnapshot: snapshotId }], result: undefined };
      });
      await fs.rm(this.layout.snapshotDir(snapshotId), { recursive: true, force: true });
      this.logger.info('vfs snapshot removed', { snapshotId });
    });
  }

  /**
   * A vfs size is nominal (the directory has no size of its own), so growing is one journal entry:
   * the record with its new size, appended and synced under the root lock before the call returns,
   * like every other metadata change. Growing to the current size or less changes nothing (the
   * storage layer refuses shrinking before it calls). Nothing to do at the mount, so online.
   */
  async volumeExpand(volumeId: string, newSizeGiB: number, options?: CallOptions): Promise<DriverVolume> {
    const signal = options?.signal;
    checkVolumeId(volumeId);
    assertValidSize(newSizeGiB);
    await this.ready(signal, 'volumeExpand');
    return this.lock.withLock(signal, `volumeExpand ${volumeId}`, () =>
      this.journal.update(async (state) => {
        const before = state.volumes.get(volumeId);
        if (!before) throw new DriverNotFoundError(`volume ${volumeId} not found`, { volumeId });
        if (newSizeGiB <= before.size) return { entries: [], result: toDriverVolume(before) };
        throwIfAborted(signal, 'volumeExpand');
        const after: VfsVolumeRecord = { ...before, size: newSizeGiB };
        this.logger.info('vfs volume expanded', { volumeId, fromGiB: before.size, toGiB: newSizeGiB });
        return { entries: [{ volume: after }], result: toDriverVolume(after) };
      }),
    );
  }

  /** Always online: a vfs size is metadata, nothing at the mount grows. */
  expansion(): VolumeExpansion {
    return 'online';
  }

  /** The root filesystem's size and free space; the same in every zone (the root is shared). */
  async capacity(query: CapacityQuery, _zone: string | undefined, options?: CallOptions): Promise<Capacity | undefined> {
    await this.readable(options?.signal, 'capacity');
    const stats = await fs.statfs(this.layout.root);
    const totalGiB = Math.floor((stats.blocks * stats.bsize) / GIB);
    const availableGiB = query.encrypted ? 0 : Math.floor((stats.bavail * stats.bsize) / GIB);
    return { totalGiB, availableGiB };
  }

  // ---- internals ----

  /** Before a mutation: the root is checked and tidied. */
  private async ready(signal: AbortSignal | undefined, what: string): Promise<void> {
    throwIfAborted(signal, what);
    await this.init({ signal });
    throwIfAborted(signal, what);
  }

  /** Before a read: the root is checked and its journal loaded; tidying is not needed to answer. */
  private async readable(signal: AbortSignal | undefined, what: string): Promise<void> {
    throwIfAborted(signal, what);
    this.opened ??= this.openRoot(signal).catch((err: unknown) => {
      this.opened = undefined;
      throw err;
    });
    await this.opened;
    throwIfAborted(signal, what);
  }

  private journalOptions(): VfsJournalOptions {
    return { durable: this.durable, logger: this.logger };
  }

  private markOf(state: VfsState): BackendMark {
    if (!state.root)
      throw new DriverRefusedError(`vfs root ${this.layout.root} has no identity in its journal`, { root: this.layout.root });
    const mark: BackendMark = { rootId: state.root.id, sequence: state.sequence, location: this.layout.root };
    if (state.installation) mark.installationId = state.installation.id;
    return mark;
  }

  /**
   * One group commit, run holding the root lock. Catches up with the journal, decides each request
   * in submission order against the state as the earlier requests left it (so two creates of one
   * name in a batch have one winner, and an attach then a detach of one volume both apply), then
   * appends every changed record as one journal write; new volumes' directories are made after it.
   * A write failure fails every request of the batch that had not failed already.
   */
  private async commitBatch(batch: ReadonlyArray<Queued<Mutation>>): Promise<void> {
    let decision: BatchDecision | undefined;
    let writeError: unknown;
    try {
      await this.journal.update(async (state) => {
        decision = decideBatch(batch, state, { layout: this.layout, logger: this.logger });
        const entries: JournalEntry[] = [];
        for (const volume of decision.created) entries.push({ volume });
        for (const volume of decision.changed.values()) entries.push({ volume });
        for (const id of decision.removed) entries.push({ removeVolume: id }); // each removal's commit point
        return { entries, result: undefined };
      });
    } catch (err) {
      writeError = err;
    }
    batch.forEach((entry, i) => {
      const o = decision?.outcomes[i];
      if (o && !o.ok) entry.reject(o.error);
      else if (!o || writeError !== undefined) entry.reject(writeError);
      else {
        o.log?.();
        // A new volume's directory is made once its record is committed, outside the batch (the
        // lock need not wait for it; init makes any a crash left missing); its create resolves after.
        // A removed volume's data goes once its removal is committed (a crash before that leaves a
        // directory without a record, which the next start quarantines).
        if (o.dir) entry.resolve(this.makeVolumeDir(o.dir).then(() => o.value));
        else if (o.removedDir) entry.resolve(removeVolumeDir(this.layout.volumeDir(o.removedDir)).then(() => o.value));
        else entry.resolve(o.value);
      }
    });
  }

  /**
   * A new volume's data directory. One that is already there and empty was made by another
   * process's `init()` (this create committed its record first). One holding data is not this
   * volume's: the journal handed its ID out again (an older journal slipped past the checks), so it
   * is quarantined (under the root lock: the caller holds it when `underLock`), never inherited by
   * the new volume nor deleted.
   */
  private async makeVolumeDir(id: string, underLock = false): Promise<void> {
    const dir = this.layout.volumeDir(id);
    const ready = await this.volumeDirs.run(async () => {
      try {
        await fs.mkdir(dir);
        return true;
      } catch (err) {
        if (!isErrno(err, 'EEXIST')) throw err;
      }
      return (await fs.readdir(dir)).length === 0;
    });
    if (ready) return;
    const moveAside = async (): Promise<void> => {
      const inside = await fs.readdir(dir).catch((err: unknown) => {
        if (isErrno(err, 'ENOENT')) return [];
        throw err;
      });
      if (inside.length > 0) {
        await this.quarantine.move({ path: dir, kind: 'volume', originalId: id, reason: `held data when new volume ${id} was created` });
      }
      await fs.mkdir(dir).catch((err: unknown) => {
        if (!isErrno(err, 'EEXIST')) throw err;
      });
    };
    if (underLock) await moveAside();
    else await this.lock.withLock(undefined, `quarantine before volume ${id}`, moveAside);
  }

  /** Makes the root's directories, then checks and loads it under the lock (vfs-root-upkeep.ts). */
  private async openRoot(signal: AbortSignal | undefined): Promise<void> {
    const { root, volumesDir, snapshotsDir } = this.layout;
    await fs.mkdir(root, { recursive: true });
    for (const dir of [volumesDir, snapshotsDir]) await fs.mkdir(dir, { recursive: true });
    await this.lock.withLock(signal, 'open', () => this.upkeep.open());
  }

  /** Copies `source` to a staging directory, then (under the lock) gives it an ID and commits it. */
  private async createFromCopy(
    source: string,
    name: string,
    signal: AbortSignal | undefined,
    what: string,
    attrs: VolumeAttrs,
  ): Promise<DriverVolume> {
    const staging = await this.stage(this.layout.volumesDir, source, signal, what);
    try {
      return await this.lock.withLock(signal, `${what} ${name}`, async () => {
        assertNameFree(name, (await this.journal.refresh()).nameHolder(name));
        const id = formatVolumeId(await this.reserveId('volume'));
        throwIfAborted(signal, what);
        await this.moveIntoPlace(staging, this.layout.volumeDir(id));
        return this.journal.update(async (state) => {
          assertNameFree(name, state.nameHolder(name)); // (the lock is held: nothing can have taken it since)
          const record = newVolumeRecord(id, name, attrs);
          this.logger.info(`vfs volume created by ${what}`, { volumeId: id, name });
          return { entries: [{ volume: record }], result: toDriverVolume(record) };
        });
      });
    } finally {
      await fs.rm(staging, { recursive: true, force: true });
    }
  }

  /**
   * Under the lock: retires the next ID of `kind` in the journal before its directory is put in
   * place, so a crash between the two leaves an orphan whose ID nobody is ever given (a later
   * volume could otherwise inherit the orphan's data).
   */
  private reserveId(kind: 'volume' | 'snapshot'): Promise<number> {
    return this.journal.update(async (state) => {
      const next = { ...state.next };
      const n = next[kind]++;
      return { entries: [{ next }], result: n };
    });
  }

  /**
   * Under the lock. Nothing should be at `target` (its ID was just retired); anything that is, is
   * data the journal lost track of: quarantined, never deleted nor mixed into the new one.
   */
  private async moveIntoPlace(source: string, target: string): Promise<void> {
    const kind = path.dirname(target) === this.layout.snapshotsDir ? 'snapshot' : 'volume';
    const id = path.basename(target);
    const inTheWay = await fs.lstat(target).then(
      () => true,
      (err: unknown) => {
        if (isErrno(err, 'ENOENT')) return false;
        throw err;
      },
    );
    if (inTheWay) await this.quarantine.move({ path: target, kind, originalId: id, reason: `was in the way of new ${kind} ${id}` });
    await fs.rename(source, target);
    if (this.durable) await fsyncDir(path.dirname(target));
  }

  /** A fresh staging directory in `dir` holding a copy of `source`. */
  private async stage(dir: string, source: string, signal: AbortSignal | undefined, what: string): Promise<string> {
    const staging = path.join(dir, `${STAGING_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}`);
    try {
      throwIfAborted(signal, what);
      await fs.mkdir(staging);
      // Symlinks inside user data are copied as links, never followed out of the volume.
      await fs.cp(source, staging, { recursive: true, verbatimSymlinks: true, errorOnExist: false, force: true });
      throwIfAborted(signal, what);
      return staging;
    } catch (err) {
      await fs.rm(staging, { recursive: true, force: true });
      if (isErrno(err, 'ENOENT')) throw new DriverNotFoundError(`${what}: source data is gone`, { source });
      throw err;
    }
  }

  private async mustReadVolume(volumeId: string): Promise<VfsVolumeRecord> {
    checkVolumeId(volumeId);
    const r = (await this.journal.refresh()).volumes.get(volumeId);
    if (!r) throw new DriverNotFoundError(`volume ${volumeId} not found`, { volumeId });
    return r;
  }

  private async mustReadSnapshot(snapshotId: string): Promise<VfsSnapshotRecord> {
    checkSnapshotId(snapshotId);
    const r = (await this.journal.refresh()).snapshots.get(snapshotId);
    if (!r) throw new DriverNotFoundError(`snapshot ${snapshotId} not found`, { snapshotId });
    return r;
  }
}

/**
 * A removed volume's directory: one rmdir when it is empty (as most are), else the whole tree.
 * fs.rm's recursive walk costs an lstat and its JavaScript on top of the rmdir for every remove.
 */
async function removeVolumeDir(dir: string): Promise<void> {
  try {
    await fs.rmdir(dir);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return;
    await fs.rm(dir, { recursive: true, force: true });
  }
}

async function isDirectory(p: string): Promise<boolean> {
  return (await fs.lstat(p).catch(() => undefined))?.isDirectory() === true;
}

function checkVfsCreate(create: VolumeCreateOptions | undefined): VolumeCreateOptions {
  const c = checkCreateOptions(create);
  if (c.encrypted) {
    throw new DriverNotImplementedError('vfs cannot encrypt volumes');
  }
  return c;
}

/** An ID not in this driver's format cannot name one of its volumes: not found, and never a path. */
function checkVolumeId(volumeId: unknown): asserts volumeId is string {
  if (!isVolumeId(volumeId)) {
    throw new DriverNotFoundError('volume not found: not a vfs volume ID', {
      volumeId: typeof volumeId === 'string' ? volumeId.slice(0, 300) : typeof volumeId,
    });
  }
}

function checkSnapshotId(snapshotId: unknown): asserts snapshotId is string {
  if (!isSnapshotId(snapshotId)) {
    throw new DriverNotFoundError('snapshot not found: not a vfs snapshot ID', {
      snapshotId: typeof snapshotId === 'string' ? snapshotId.slice(0, 300) : typeof snapshotId,
    });
  }
}

function checkInstanceId(instanceId: InstanceId): void {
  const id: unknown = instanceId?.id;
  if (typeof id !== 'string' || id.length === 0 || id.length > 255 || hasControlChars(id)) {
    throw new DriverInvalidError('invalid instance ID: must be 1-255 printable characters');
  }
}
