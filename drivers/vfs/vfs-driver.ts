/**
 * The embedded default driver: volumes are directories under a root that may be a shared
 * filesystem (e.g. NFS) mounted at the same path on every agent. Modelled on libStorage's vfs
 * without its flaws: IDs never repeat, names are unique (case-insensitively), metadata is written
 * atomically, attachments are exclusive for writers, and two processes on one root are safe.
 *
 * Metadata lives in an append-only journal (vfs-journal.ts): a volume (snapshot) exists iff its
 * record is in the journal. Create makes the data directory, then appends the record; remove
 * appends the removal, then deletes the directory. A crash therefore leaves at most an orphan
 * directory, ignored by readers and cleaned by `init()`. Every mutation runs under the root lock;
 * bulk copies run outside it in a staging directory that is renamed into place under the lock.
 *
 * Create, attach and detach are group-committed (group-commit.ts): the requests that queue up while
 * the lock is busy run as one batch under one lock acquisition, with one journal append and one
 * fdatasync for the whole batch.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { throwIfAborted } from '../abort';
import { checkCreateOptions } from '../create-options';
import { DriverLogger, silentDriverLogger } from '../driver-logger';
import { DriverConflictError, DriverInvalidError, DriverNotFoundError, DriverNotImplementedError } from '../errors';
import { assertValidName, hasControlChars, nameKey } from '../name-rules';
import type {
  AttachOptions,
  CallOptions,
  Capacity,
  CapacityQuery,
  DetachOptions,
  DriverSnapshot,
  DriverVolume,
  Instance,
  InstanceId,
  RemoveOptions,
  StorageDriver,
  StorageType,
  VolumeAttachment,
  VolumeCreateOptions,
} from '../storage-driver';
import { TEMP_SUFFIX, isErrno } from './atomic-json';
import { GroupCommit, Queued } from './group-commit';
import { RootLock } from './root-lock';
import { SerialQueue } from './serial-queue';
import { VfsJournal } from './vfs-journal';
import {
  STAGING_PREFIX,
  VOLUME_ID_PATTERN,
  SNAPSHOT_ID_PATTERN,
  VfsLayout,
  formatSnapshotId,
  formatVolumeId,
  isSnapshotId,
  isVolumeId,
} from './vfs-layout';
import { flattenLegacyVolume, readLegacyMetadata, removeLegacyFiles, resumeFlattening } from './vfs-legacy-import';
import { RECORD_SCHEMA, VfsSnapshotRecord, VfsVolumeRecord, toDriverSnapshot, toDriverVolume } from './vfs-records';
import type { JournalEntry, VfsState } from './vfs-state';

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
  /** Staging copies older than this are removed by `init()`, ms (default 1 hour). */
  stagingMaxAgeMs?: number;
  /** Compact the metadata journal once it is larger than this and than its checkpoint, bytes (default 4 MiB). */
  journalCompactBytes?: number;
  logger?: DriverLogger;
}

const GIB = 1024 ** 3;

type VolumeAttrs = Pick<VfsVolumeRecord, 'size' | 'type' | 'iops' | 'availabilityZone' | 'fields'>;

/** The mutations that are group-committed. */
type Mutation =
  | { kind: 'create'; name: string; attrs: VolumeAttrs }
  | { kind: 'attach'; volumeId: string; instanceId: InstanceId; readOnly: boolean; force: boolean }
  | { kind: 'detach'; volumeId: string; instanceId: InstanceId };

type Outcome = { ok: true; value: DriverVolume | { volume: DriverVolume }; log?: () => void; dir?: string } | { ok: false; error: unknown };

/** What a batch decided against the current state: each request's outcome and the records to write. */
interface BatchDecision {
  outcomes: Outcome[];
  created: VfsVolumeRecord[];
  changed: Map<string, VfsVolumeRecord>;
}

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
  private readonly logger: DriverLogger;
  private readonly limit: number | undefined;
  private readonly stagingMaxAgeMs: number;
  private readonly commits: GroupCommit<Mutation>;
  /**
   * New volumes' directories are made one at a time. The kernel serialises mkdirs in one parent on
   * that directory's lock anyway, and threads waiting for it spin: with a batch's worth of mkdirs in
   * flight on libuv's pool, that spinning was ~14% of the machine's CPU at 64 clients (perf).
   */
  private readonly volumeDirs = new SerialQueue();
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
    this.journal = new VfsJournal(this.layout, {
      durable: config.durable ?? true,
      compactBytes: config.journalCompactBytes,
      logger: this.logger,
    });
    this.lock = new RootLock(this.layout.lockFile, {
      staleMs: config.lockStaleMs,
      acquireTimeoutMs: config.lockTimeoutMs,
      logger: this.logger,
      onRelease: () => this.journal.lockReleased(),
    });
    this.limit = config.attachLimit;
    this.stagingMaxAgeMs = config.stagingMaxAgeMs ?? 3_600_000;
    this.commits = new GroupCommit(this.lock, (batch) => this.commitBatch(batch));
  }

  type(): StorageType {
    return 'nas';
  }

  attachLimit(_instanceId: InstanceId): number | undefined {
    return this.limit;
  }

  /** The directory a task mounts for `volume`. */
  /**
   * Lets go of the root lock now if this driver keeps it for a next request, and waits for the
   * batches in flight. The driver stays usable: a later call takes the lock again.
   */
  async close(): Promise<void> {
    await this.commits.drain();
  }

    hostPath(volume: DriverVolume): string {
    if (!isVolumeId(volume.id)) {
      throw new DriverInvalidError('vfs: not a vfs volume ID', { volumeId: String(volume.id).slice(0, 300) });
    }
    return this.layout.volumeDir(volume.id);
  }

  /** Creates the layout and cleans up after crashes. Idempotent; other methods call it on first use. */
  async init(options?: CallOptions): Promise<void> {
    throwIfAborted(options?.signal, 'init');
    this.initialised ??= this.prepareRoot(options?.signal).catch((err: unknown) => {
      this.initialised = undefined;
      throw err;
    });
    await this.initialised;
  }

  async instanceInspect(instanceId: InstanceId, options?: CallOptions): Promise<Instance> {
    throwIfAborted(options?.signal, 'instanceInspect');
    checkInstanceId(instanceId);
    return { instanceId: { ...instanceId }, name: instanceId.id };
  }

  async volumes(options?: CallOptions): Promise<DriverVolume[]> {
    const signal = options?.signal;
    await this.ready(signal, 'volumes');
    // In ID order: records enter the state in the order their IDs were handed out.
    return [...(await this.journal.refresh()).volumes.values()].map(toDriverVolume);
  }

  async volumeInspect(volumeId: string, options?: CallOptions): Promise<DriverVolume> {
    await this.ready(options?.signal, 'volumeInspect');
    return toDriverVolume(await this.mustReadVolume(volumeId));
  }

  async volumeInspectByName(name: string, options?: CallOptions): Promise<DriverVolume | undefined> {
    assertValidName(name, 'name');
    await this.ready(options?.signal, 'volumeInspectByName');
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
    await this.lock.withLock(signal, `volumeRemove ${volumeId}`, async () => {
      const record = await this.journal.update(async (state) => {
        const r = state.volumes.get(volumeId);
        if (!r) throw new DriverNotFoundError(`volume ${volumeId} not found`, { volumeId });
        if (r.attachments.length > 0 && !remove?.force) {
          throw new DriverConflictError(`volume ${volumeId} is attached; detach it first or remove with force`, {
            volumeId,
            instances: r.attachments.map((a) => a.instanceId.id),
          });
        }
        throwIfAborted(signal, 'volumeRemove');
        return { entries: [{ removeVolume: volumeId }], result: r }; // the commit point
      });
      await fs.rm(this.layout.volumeDir(volumeId), { recursive: true, force: true });
      this.logger.info('vfs volume removed', { volumeId, forced: record.attachments.length > 0 });
    });
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
    await this.ready(signal, 'snapshots');
    return [...(await this.journal.refresh()).snapshots.values()].map(toDriverSnapshot);
  }

  async snapshotInspect(snapshotId: string, options?: CallOptions): Promise<DriverSnapshot> {
    await this.ready(options?.signal, 'snapshotInspect');
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

  /** The root filesystem's size and free space; the same in every zone (the root is shared). */
  async capacity(query: CapacityQuery, _zone: string | undefined, options?: CallOptions): Promise<Capacity | undefined> {
    await this.ready(options?.signal, 'capacity');
    const stats = await fs.statfs(this.layout.root);
    const totalGiB = Math.floor((stats.blocks * stats.bsize) / GIB);
    const availableGiB = query.encrypted ? 0 : Math.floor((stats.bavail * stats.bsize) / GIB);
    return { totalGiB, availableGiB };
  }

  // ---- internals ----

  private async ready(signal: AbortSignal | undefined, what: string): Promise<void> {
    throwIfAborted(signal, what);
    await this.init({ signal });
    throwIfAborted(signal, what);
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
        decision = this.decide(batch, state);
        const entries: JournalEntry[] = [];
        for (const volume of decision.created) entries.push({ volume });
        for (const volume of decision.changed.values()) entries.push({ volume });
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
        entry.resolve(o.dir ? this.makeVolumeDir(o.dir).then(() => o.value) : o.value);
      }
    });
  }

  private decide(batch: ReadonlyArray<Queued<Mutation>>, state: VfsState): BatchDecision {
    const current = new Map<string, VfsVolumeRecord>();
    const changed = new Map<string, VfsVolumeRecord>();
    const created: VfsVolumeRecord[] = [];
    const taken = new Map<string, string>();
    let next = state.next.volume;
    const recordOf = (id: string): VfsVolumeRecord => {
      const r = current.get(id) ?? state.volumes.get(id);
      if (!r) throw new DriverNotFoundError(`volume ${id} not found`, { volumeId: id });
      return r;
    };
    const outcomes: Outcome[] = batch.map(({ request: r, signal }) => {
      try {
        throwIfAborted(signal, r.kind === 'create' ? 'volumeCreate' : r.kind === 'attach' ? 'volumeAttach' : 'volumeDetach');
        if (r.kind === 'create') {
          const nk = nameKey(r.name);
          assertNameFree(r.name, taken.get(nk) ?? state.nameHolder(r.name));
          const record = newVolumeRecord(formatVolumeId(next++), r.name, r.attrs);
          taken.set(nk, record.id);
          created.push(record);
          current.set(record.id, record);
          return {
            ok: true,
            value: toDriverVolume(record),
            dir: record.id,
            log: () => this.logger.info('vfs volume created', { volumeId: record.id, name: r.name }),
          };
        }
        const before = recordOf(r.volumeId);
        const after = r.kind === 'attach' ? this.attached(before, r) : detached(before, r.instanceId);
        if (after === before) {
          return { ok: true, value: r.kind === 'attach' ? { volume: toDriverVolume(before) } : toDriverVolume(before) };
        }
        current.set(r.volumeId, after);
        const at = created.indexOf(before);
        if (at >= 0) created[at] = after;
        else changed.set(r.volumeId, after);
        const volume = toDriverVolume(after);
        return r.kind === 'attach'
          ? {
              ok: true,
              value: { volume },
              log: () => this.logger.info('vfs volume attached', { volumeId: r.volumeId, instance: r.instanceId.id, readOnly: r.readOnly }),
            }
          : {
              ok: true,
              value: volume,
              log: () => this.logger.info('vfs volume detached', { volumeId: r.volumeId, instance: r.instanceId.id }),
            };
      } catch (error) {
        return { ok: false, error };
      }
    });
    return { outcomes, created, changed };
  }

  /** A volume's data directory (its ID is retired, so anything already there is its own). */
  private makeVolumeDir(id: string): Promise<void> {
    return this.volumeDirs.run(() =>
      fs.mkdir(this.layout.volumeDir(id)).then(
        () => undefined,
        (err: unknown) => {
          if (!isErrno(err, 'EEXIST')) throw err;
        },
      ),
    );
  }

  /** `record` with `r`'s attachment (the same object when it is already attached in that mode). */
  private attached(record: VfsVolumeRecord, r: Extract<Mutation, { kind: 'attach' }>): VfsVolumeRecord {
    const { volumeId, instanceId, readOnly, force } = r;
    const mine = record.attachments.find((a) => sameInstance(a.instanceId, instanceId));
    if (mine && (mine.readOnly === true) === readOnly) return record; // already attached in this mode: idempotent
    const others = record.attachments.filter((a) => !sameInstance(a.instanceId, instanceId));
    // A writer excludes everyone; a reader excludes only writers.
    const conflicting = others.filter((a) => !readOnly || a.readOnly !== true);
    if (conflicting.length > 0 && !force) {
      throw new DriverConflictError(`volume ${volumeId} is attached to ${conflicting.map((a) => a.instanceId.id).join(', ')}`, {
        volumeId,
        instances: conflicting.map((a) => a.instanceId.id),
        readOnly,
      });
    }
    const attachment: VolumeAttachment = {
      volumeId,
      instanceId: { ...instanceId },
      mountPoint: this.layout.volumeDir(volumeId),
      status: 'attached',
      readOnly,
      attachedAt: new Date().toISOString(),
    };
    if (conflicting.length > 0) {
      this.logger.warn('vfs volume force-detached for attach', {
        volumeId,
        detached: conflicting.map((a) => a.instanceId.id),
        agentInstance: instanceId.id,
      });
    }
    return { ...record, attachments: [...others.filter((a) => !conflicting.includes(a)), attachment] };
  }

  private async prepareRoot(signal: AbortSignal | undefined): Promise<void> {
    const { root, volumesDir, snapshotsDir } = this.layout;
    await fs.mkdir(root, { recursive: true });
    for (const dir of [volumesDir, snapshotsDir]) await fs.mkdir(dir, { recursive: true });
    await this.lock.withLock(signal, 'init', async () => {
      await this.journal.open();
      await this.importLegacyMetadata();
      await this.collectGarbage();
    });
  }

  /** A root of the first vfs format: its metadata files become journal entries, its data moves up a level. */
  private async importLegacyMetadata(): Promise<void> {
    await resumeFlattening(this.layout, this.logger);
    const legacy = await readLegacyMetadata(this.layout, this.journal.state, this.logger);
    if (!legacy) return;
    await this.journal.update(async () => ({ entries: legacy.entries, result: undefined }));
    for (const id of legacy.volumeIds) await flattenLegacyVolume(this.layout, id);
    await removeLegacyFiles(legacy.leftovers);
    const records = legacy.entries.filter((e) => 'volume' in e || 'snapshot' in e).length;
    this.logger.info('imported a vfs root of the first format', { records, volumesMoved: legacy.volumeIds.length });
  }

  /**
   * Under the lock, nothing is mid-write, so temp files and directories without a record are crash
   * leftovers; a record without its directory is a create that died before making it.
   */
  private async collectGarbage(): Promise<void> {
    const { root, volumesDir, snapshotsDir } = this.layout;
    for (const dir of [root, volumesDir, snapshotsDir]) {
      for (const entry of await fs.readdir(dir)) {
        if (entry.startsWith('.') && entry.endsWith(TEMP_SUFFIX)) await fs.rm(path.join(dir, entry), { force: true });
      }
    }
    const state = this.journal.state;
    const present = new Set(await fs.readdir(volumesDir));
    for (const id of state.volumes.keys()) {
      if (!present.has(id)) {
        this.logger.warn('making the missing data directory of a vfs volume', { volumeId: id });
        await this.makeVolumeDir(id);
      }
    }
    for (const [dir, idPattern, known] of [
      [volumesDir, VOLUME_ID_PATTERN, state.volumes],
      [snapshotsDir, SNAPSHOT_ID_PATTERN, state.snapshots],
    ] as const) {
      for (const entry of await fs.readdir(dir)) {
        const full = path.join(dir, entry);
        if (idPattern.test(entry) && !known.has(entry)) {
          this.logger.warn('removing orphan vfs directory', { path: full });
          await fs.rm(full, { recursive: true, force: true });
        } else if (entry.startsWith(STAGING_PREFIX) && (await ageMs(full)) > this.stagingMaxAgeMs) {
          this.logger.warn('removing abandoned vfs staging copy', { path: full });
          await fs.rm(full, { recursive: true, force: true });
        }
      }
    }
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

  private async moveIntoPlace(staging: string, target: string): Promise<void> {
    // Nothing should be there (the ID is fresh); a leftover must not block or leak into the rename.
    await fs.rm(target, { recursive: true, force: true });
    await fs.rename(staging, target);
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

/** Refuses `name` when a volume (`holder`, any case) already has it. */
function assertNameFree(name: string, holder: string | undefined): void {
  if (holder !== undefined) {
    throw new DriverConflictError(`a volume named ${JSON.stringify(name)} already exists (${holder})`, { name, volumeId: holder });
  }
}

function newVolumeRecord(id: string, name: string, attrs: VolumeAttrs): VfsVolumeRecord {
  const record: VfsVolumeRecord = {
    schema: RECORD_SCHEMA,
    id,
    name,
    size: attrs.size,
    fields: attrs.fields,
    attachments: [],
    createdAt: new Date().toISOString(),
  };
  if (attrs.type !== undefined) record.type = attrs.type;
  if (attrs.iops !== undefined) record.iops = attrs.iops;
  if (attrs.availabilityZone !== undefined) record.availabilityZone = attrs.availabilityZone;
  return record;
}

/** `record` without `instanceId`'s attachment (the same object when it has none there: a no-op). */
function detached(record: VfsVolumeRecord, instanceId: InstanceId): VfsVolumeRecord {
  const kept = record.attachments.filter((a) => !sameInstance(a.instanceId, instanceId));
  return kept.length === record.attachments.length ? record : { ...record, attachments: kept };
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

/** libStorage compares instance IDs case-insensitively (hostnames). */
function sameInstance(a: InstanceId, b: InstanceId): boolean {
  return a.id.toLowerCase() === b.id.toLowerCase();
}

async function ageMs(p: string): Promise<number> {
  try {
    return Date.now() - (await fs.stat(p)).mtimeMs;
  } catch {
    return 0;
  }
}
