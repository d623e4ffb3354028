/**
 * Backend attachments no live claim accounts for ("foreign"): made outside Polly, or before a store
 * that was restored from an older backup. Polly cannot tell whether a task still writes through one,
 * so it never detaches one on its own: recovery records it on the volume (`foreignAttachments`, seen
 * in the API), logs a warning with the volume and the instance, and publishes
 * `volume.unexplained-attachment` when it first finds it. The single-writer rule still holds: the
 * drivers refuse a read-write attach while the volume is attached elsewhere, so no claim can take
 * the volume from under it.
 *
 * Detaching one is an operator's named act (`polly volume detach VOLUME --instance ID --reason
 * TEXT`, admin only): refused for an instance a live claim holds (release that claim instead),
 * logged, and published as a `volume.audit` event saying who, why and when.
 */
import { DriverNotFoundError } from '../../drivers/errors';
import type { DriverVolume, VolumeAttachment } from '../../drivers/storage-driver';
import { hasControlChars } from '../../drivers/name-rules';
import { ConflictError } from '../errors/conflict-error';
import { NotFoundError } from '../errors/not-found-error';
import { ValidationError } from '../errors/validation-error';
import { Logger, silentLogger } from '../shared/logger';
import type { Store } from '../state/store';
import type { ClaimLedger } from './claim-ledger';
import { checkReason } from './claim-record';
import type { KeyedSerialQueue } from './keyed-queue';
import { retryTransient, RetryOptions } from './retry';
import type { ServiceRegistry } from './service-registry';
import type { StorageEvents } from './storage-events';
import { sameInstance, toPollyError } from './storage-errors';
import type { VolumeCatalog } from './volume-catalog';
import type { ForeignAttachmentRecord, VolumeRecord } from './volume-record';

export interface ForeignAttachmentsOptions {
  store: Store;
  registry: ServiceRegistry;
  catalog: VolumeCatalog;
  ledger: ClaimLedger;
  queue: KeyedSerialQueue;
  events: StorageEvents;
  logger?: Logger;
  retry?: RetryOptions;
}

/** An operator's request to detach a volume from an instance no claim accounts for. */
export interface ForeignDetachRequest {
  instanceId: string;
  reason: string;
  /** The API principal that asks, for the audit record. */
  by?: string;
}

export interface ForeignDetachResult {
  volume: VolumeRecord;
  detached: { instanceId: string; readOnly: boolean };
}

const MAX_INSTANCE_ID = 255;

export class ForeignAttachments {
  private readonly logger: Logger;
  private readonly retry: RetryOptions;

  constructor(private readonly options: ForeignAttachmentsOptions) {
    this.logger = options.logger ?? silentLogger;
    this.retry = options.retry ?? {};
  }

  /**
   * Recovery, in the volume's queue slot: the attachments of `dv` that no live claim of the volume
   * accounts for (apart from instances in `accounted`), recorded on the volume. Before recording a
   * new one, the backend is asked again: `dv` was listed before the slot was taken, and a claim may
   * have been released meanwhile. Returns the foreign attachments as the backend has them now.
   */
  async reconcile(volumeId: string, dv: DriverVolume, accounted: ReadonlySet<string> = new Set()): Promise<VolumeAttachment[]> {
    const { catalog, registry } = this.options;
    const volume = catalog.find(volumeId);
    if (!volume) return [];
    let foreign = this.unexplained(volumeId, dv, accounted);
    const recorded = volume.foreignAttachments ?? [];
    const isNew = (a: VolumeAttachment): boolean => !recorded.some((r) => sameInstance(r.instanceId, a.instanceId.id));
    if (foreign.some(isNew)) {
      try {
        const now = await retryTransient(() => registry.get(volume.service).driver.volumeInspect(dv.id), this.retry);
        foreign = this.unexplained(volumeId, now, accounted);
      } catch (err) {
        if (!(err instanceof DriverNotFoundError)) throw err;
        return []; // gone since it was listed: the next pass marks it missing
      }
    }
    const at = new Date().toISOString();
    const next: ForeignAttachmentRecord[] = foreign.map((a) => {
      const known = recorded.find((r) => sameInstance(r.instanceId, a.instanceId.id));
      const record: ForeignAttachmentRecord = { instanceId: a.instanceId.id, readOnly: a.readOnly === true, foundAt: known?.foundAt ?? at };
      if (a.attachedAt !== undefined) record.attachedAt = a.attachedAt;
      return record;
    });
    const added = next.filter((n) => !recorded.some((r) => sameInstance(r.instanceId, n.instanceId)));
    for (const a of foreign) {
      this.logger.warn('volume attached to an instance no claim accounts for; left attached (detach it with `polly volume detach`)', {
        volumeId,
        service: volume.service,
        instance: a.instanceId.id,
        readOnly: a.readOnly === true,
      });
    }
    if (!sameRecords(recorded, next)) {
      const staged = catalog.stageUpdate(volumeId, (d) => {
        if (next.length > 0) d.foreignAttachments = next;
        else delete d.foreignAttachments;
      });
      await this.options.store.batch(staged.ops);
      staged.commit();
      for (const attachment of added) this.options.events.publish('volume.unexplained-attachment', { volume: staged.record!, attachment });
    }
    return foreign;
  }

  /** The operator's detach (see the file comment). Bad input is one 400 naming every problem; nothing changes. */
  async detach(volumeId: string, request: ForeignDetachRequest): Promise<ForeignDetachResult> {
    const { instanceId, reason } = checkDetachRequest(request);
    const { catalog, ledger, registry, queue } = this.options;
    catalog.get(volumeId); // 404 before queueing
    return queue.run(volumeId, async () => {
      const volume = catalog.get(volumeId);
      const holder = ledger.liveClaims(volumeId).find((c) => sameInstance(c.instanceId, instanceId));
      if (holder) {
        throw new ConflictError(
          `Volume ${volumeId} is attached to ${instanceId} for claim ${holder.id} (${holder.state}); release that claim instead ` +
            `(polly claim release ${holder.id} --force --reason ...)`,
          { volumeId, instanceId, claimId: holder.id },
        );
      }
      const driver = registry.get(volume.service).driver;
      let dv: DriverVolume;
      try {
        dv = await retryTransient(() => driver.volumeInspect(volume.driverVolumeId), this.retry);
      } catch (err) {
        throw toPollyError(err);
      }
      const attachment = dv.attachments.find((a) => sameInstance(a.instanceId.id, instanceId));
      if (!attachment) {
        throw new NotFoundError(`Volume ${volumeId} is not attached to ${instanceId} on its backend`, {
          volumeId,
          instanceId,
          attachedTo: dv.attachments.map((a) => a.instanceId.id),
        });
      }
      const fields = { volumeId, service: volume.service, instance: attachment.instanceId.id, reason, by: request.by };
      this.logger.warn('detaching a volume from an instance no claim accounts for, on an operator request', fields);
      try {
        await retryTransient(() => driver.volumeDetach(volume.driverVolumeId, attachment.instanceId, { force: true }), this.retry);
      } catch (err) {
        this.logger.error('operator detach failed', { ...fields, error: (err as Error).message });
        throw toPollyError(err);
      }
      let after = catalog.get(volumeId);
      if (after.foreignAttachments?.some((a) => sameInstance(a.instanceId, instanceId))) {
        const staged = catalog.stageUpdate(volumeId, (d) => {
          const kept = (d.foreignAttachments ?? []).filter((a) => !sameInstance(a.instanceId, instanceId));
          if (kept.length > 0) d.foreignAttachments = kept;
          else delete d.foreignAttachments;
        });
        await this.options.store.batch(staged.ops);
        staged.commit();
        after = staged.record!;
      }
      const at = new Date().toISOString();
      this.logger.warn('volume detached by an operator', fields);
      this.options.events.publish('volume.audit', {
        volume: after,
        action: 'detach',
        instanceId: attachment.instanceId.id,
        reason,
        by: request.by ?? '',
        at,
      });
      return { volume: after, detached: { instanceId: attachment.instanceId.id, readOnly: attachment.readOnly === true } };
    });
  }

  private unexplained(volumeId: string, dv: DriverVolume, accounted: ReadonlySet<string>): VolumeAttachment[] {
    const live = this.options.ledger.liveClaims(volumeId);
    return dv.attachments.filter(
      (a) => !accounted.has(a.instanceId.id.toLowerCase()) && !live.some((c) => sameInstance(c.instanceId, a.instanceId.id)),
    );
  }
}

/** Validates a detach request (as it came over the API: any JSON), naming every problem at once. */
export function checkDetachRequest(request: unknown): { instanceId: string; reason: string } {
  if (typeof request !== 'object' || request === null || Array.isArray(request)) {
    throw ValidationError.field('(body)', 'The request body must be a JSON object with instanceId and reason');
  }
  const r = request as Record<string, unknown>;
  const problems: Array<{ field: string; message: string }> = [];
  for (const key of Object.keys(r)) {
    if (key !== 'instanceId' && key !== 'reason' && key !== 'by') problems.push({ field: key, message: `${key} is not a known field` });
  }
  const instanceId = r.instanceId;
  if (typeof instanceId !== 'string' || instanceId.length === 0 || instanceId.length > MAX_INSTANCE_ID || hasControlChars(instanceId)) {
    problems.push({ field: 'instanceId', message: `instanceId must be 1-${MAX_INSTANCE_ID} printable characters` });
  }
  let reason: string | undefined;
  try {
    reason = checkReason(r.reason, true);
  } catch (err) {
    problems.push({ field: 'reason', message: (err as Error).message });
  }
  if (problems.length > 0) {
    throw new ValidationError(problems.map((p) => p.message).join('; '), { field: problems[0].field, problems });
  }
  return { instanceId: instanceId as string, reason: reason! };
}

function sameRecords(a: readonly ForeignAttachmentRecord[], b: readonly ForeignAttachmentRecord[]): boolean {
  return (
    a.length === b.length &&
    a.every(
      (x, i) =>
        x.instanceId === b[i].instanceId && x.readOnly === b[i].readOnly && x.attachedAt === b[i].attachedAt && x.foundAt === b[i].foundAt,
    )
  );
}
