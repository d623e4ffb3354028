/**
 * What one group commit of the vfs driver decides (group-commit.ts runs it under the root lock):
 * each create, attach, detach and remove request in submission order, against the state as the
 * earlier requests of the batch left it, so two creates of one name have one winner, an attach then
 * a detach of one volume both apply, and nothing applies to a volume after its removal. No I/O: the
 * driver writes the records, makes new volumes' directories and deletes removed ones'.
 */
import { throwIfAborted } from '../abort';
import type { DriverLogger } from '../driver-logger';
import { DriverConflictError, DriverNotFoundError } from '../errors';
import { nameKey } from '../name-rules';
import type { DriverVolume, InstanceId, VolumeAttachment } from '../storage-driver';
import type { Queued } from './group-commit';
import { VfsLayout, formatVolumeId } from './vfs-layout';
import { RECORD_SCHEMA, VfsVolumeRecord, toDriverVolume } from './vfs-records';
import type { VfsState } from './vfs-state';

export type VolumeAttrs = Pick<VfsVolumeRecord, 'size' | 'type' | 'iops' | 'availabilityZone' | 'fields'>;

/** The mutations that are group-committed. */
export type Mutation =
  | { kind: 'create'; name: string; attrs: VolumeAttrs }
  | { kind: 'attach'; volumeId: string; instanceId: InstanceId; readOnly: boolean; force: boolean }
  | { kind: 'detach'; volumeId: string; instanceId: InstanceId }
  | { kind: 'remove'; volumeId: string; force: boolean };

export type Outcome =
  | {
      ok: true;
      value: DriverVolume | { volume: DriverVolume } | undefined;
      log?: () => void;
      /** A new volume's directory, to make once the batch is committed. */
      dir?: string;
      /** A removed volume's directory, to delete once the batch is committed. */
      removedDir?: string;
    }
  | { ok: false; error: unknown };

/** What a batch decided against the current state: each request's outcome and the records to write. */
export interface BatchDecision {
  outcomes: Outcome[];
  created: VfsVolumeRecord[];
  changed: Map<string, VfsVolumeRecord>;
  /** IDs of volumes removed by the batch (their records are not written, their removals are). */
  removed: string[];
}

const OPERATION: Record<Mutation['kind'], string> = {
  create: 'volumeCreate',
  attach: 'volumeAttach',
  detach: 'volumeDetach',
  remove: 'volumeRemove',
};

export interface BatchContext {
  layout: VfsLayout;
  logger: DriverLogger;
}

export function decideBatch(batch: ReadonlyArray<Queued<Mutation>>, state: VfsState, context: BatchContext): BatchDecision {
  const { logger } = context;
  const current = new Map<string, VfsVolumeRecord>();
  const changed = new Map<string, VfsVolumeRecord>();
  const created: VfsVolumeRecord[] = [];
  const removed: string[] = [];
  const taken = new Map<string, string>();
  let next = state.next.volume;
  const recordOf = (id: string): VfsVolumeRecord => {
    const r = removed.includes(id) ? undefined : (current.get(id) ?? state.volumes.get(id));
    if (!r) throw new DriverNotFoundError(`volume ${id} not found`, { volumeId: id });
    return r;
  };
  const outcomes: Outcome[] = batch.map(({ request: r, signal }) => {
    try {
      throwIfAborted(signal, OPERATION[r.kind]);
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
          log: () => logger.info('vfs volume created', { volumeId: record.id, name: r.name }),
        };
      }
      const before = recordOf(r.volumeId);
      if (r.kind === 'remove') {
        if (before.attachments.length > 0 && !r.force) {
          throw new DriverConflictError(`volume ${r.volumeId} is attached; detach it first or remove with force`, {
            volumeId: r.volumeId,
            instances: before.attachments.map((a) => a.instanceId.id),
          });
        }
        // Only volumes committed before this batch can be named, so the removal replaces any change to it here.
        changed.delete(r.volumeId);
        removed.push(r.volumeId);
        const forced = before.attachments.length > 0;
        return {
          ok: true,
          value: undefined,
          removedDir: r.volumeId,
          log: () => logger.info('vfs volume removed', { volumeId: r.volumeId, forced }),
        };
      }
      const after = r.kind === 'attach' ? attached(before, r, context) : detached(before, r.instanceId);
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
            log: () => logger.info('vfs volume attached', { volumeId: r.volumeId, instance: r.instanceId.id, readOnly: r.readOnly }),
          }
        : {
            ok: true,
            value: volume,
            log: () => logger.info('vfs volume detached', { volumeId: r.volumeId, instance: r.instanceId.id }),
          };
    } catch (error) {
      return { ok: false, error };
    }
  });
  return { outcomes, created, changed, removed };
}

/** `record` with `r`'s attachment (the same object when it is already attached in that mode). */
function attached(record: VfsVolumeRecord, r: Extract<Mutation, { kind: 'attach' }>, { layout, logger }: BatchContext): VfsVolumeRecord {
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
    mountPoint: layout.volumeDir(volumeId),
    status: 'attached',
    readOnly,
    attachedAt: new Date().toISOString(),
  };
  if (conflicting.length > 0) {
    logger.warn('vfs volume force-detached for attach', {
      volumeId,
      detached: conflicting.map((a) => a.instanceId.id),
      agentInstance: instanceId.id,
    });
  }
  return { ...record, attachments: [...others.filter((a) => !conflicting.includes(a)), attachment] };
}

/** Refuses `name` when a volume (`holder`, any case) already has it. */
export function assertNameFree(name: string, holder: string | undefined): void {
  if (holder !== undefined) {
    throw new DriverConflictError(`a volume named ${JSON.stringify(name)} already exists (${holder})`, { name, volumeId: holder });
  }
}

export function newVolumeRecord(id: string, name: string, attrs: VolumeAttrs): VfsVolumeRecord {
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

/** libStorage compares instance IDs case-insensitively (hostnames). */
function sameInstance(a: InstanceId, b: InstanceId): boolean {
  return a.id.toLowerCase() === b.id.toLowerCase();
}
