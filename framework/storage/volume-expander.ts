/**
 * Growing a managed volume, under the intent log like every other driver call that changes the
 * world: checked (only growth, within the volume's profile bounds, on a backend that can, not
 * while claimed when the backend grows volumes only while detached), then an `expand` intent,
 * the driver call, and the catalog's new size written with the intent resolved in one batch.
 *
 * A crash between the driver call and that batch leaves the intent open; recovery settles it by
 * reading the size the backend has now (`settle`), so the catalog never disagrees with the
 * backend for longer than a restart. Growing to the size the volume has is a no-op (idempotent);
 * shrinking is refused. Runs in the volume's queue slot: never alongside a claim or a remove of it.
 */
import { MAX_VOLUME_SIZE_GIB as DRIVER_MAX_SIZE_GIB } from '../../drivers/create-options';
import { DriverInvalidError, DriverNotFoundError } from '../../drivers/errors';
import type { DriverVolume, VolumeExpansion } from '../../drivers/storage-driver';
import { ExpansionUnsupportedError } from '../errors/expansion-unsupported-error';
import { OutOfRangeError } from '../errors/out-of-range-error';
import { PreconditionFailedError } from '../errors/precondition-failed-error';
import { UnavailableError } from '../errors/unavailable-error';
import { ValidationError } from '../errors/validation-error';
import { Logger, silentLogger } from '../shared/logger';
import type { ClaimLedger } from './claim-ledger';
import { crashPoint } from './crash-points';
import type { IntentLog, IntentRecord } from './intent-log';
import type { KeyedSerialQueue } from './keyed-queue';
import { MAX_VOLUME_SIZE_GIB as PROFILE_MAX_SIZE_GIB } from './profile';
import { isTransient, retryTransient, RetryOptions } from './retry';
import type { ServiceRegistry } from './service-registry';
import type { StorageEvents } from './storage-events';
import { errorMessage, toPollyError } from './storage-errors';
import type { VolumeCatalog } from './volume-catalog';
import type { VolumeRecord } from './volume-record';

/** The largest size any volume may have, GiB (what every driver accepts). */
export const MAX_EXPAND_SIZE_GIB = Math.min(DRIVER_MAX_SIZE_GIB, PROFILE_MAX_SIZE_GIB);

export interface VolumeExpanderOptions {
  registry: ServiceRegistry;
  catalog: VolumeCatalog;
  ledger: ClaimLedger;
  queue: KeyedSerialQueue;
  intents: IntentLog;
  events: StorageEvents;
  logger?: Logger;
  retry?: RetryOptions;
}

export interface ExpandOptions {
  /** Who asks, for the audit event (an API token's name, `csi:<scheduler>`). */
  by?: string;
}

export interface ExpandResult {
  volume: VolumeRecord;
  /** False when the volume already had the size (nothing was called or written). */
  expanded: boolean;
}

/** What recovery made of an expand intent. */
export type ExpandSettlement = { outcome: 'finished' | 'rolledBack'; note: string } | { outcome: 'open' };

/** Throws ValidationError unless `size` is a whole number of GiB Polly can hold. */
export function checkExpandSize(size: unknown): number {
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 1 || size > MAX_EXPAND_SIZE_GIB) {
    throw ValidationError.field('size', `size must be a whole number of GiB from 1 to ${MAX_EXPAND_SIZE_GIB}`, {
      min: 1,
      max: MAX_EXPAND_SIZE_GIB,
    });
  }
  return size;
}

export class VolumeExpander {
  private readonly logger: Logger;
  private readonly retry: RetryOptions;

  constructor(private readonly options: VolumeExpanderOptions) {
    this.logger = options.logger ?? silentLogger;
    this.retry = options.retry ?? {};
  }

  /** How `service`'s backend grows volumes (`online`: also while claimed); undefined when it cannot. */
  expansionOf(service: string): VolumeExpansion | undefined {
    const driver = this.options.registry.get(service).driver;
    if (!driver.volumeExpand) return undefined;
    return driver.expansion ? driver.expansion() : 'offline';
  }

  /** The largest size `volume` may grow to: its profile's upper bound (when the profile is still configured). */
  maxSizeOf(volume: VolumeRecord): number {
    const profile = this.options.registry.get(volume.service).definition.profiles.find((p) => p.name === volume.profile);
    return Math.min(profile?.maxSizeGiB ?? MAX_EXPAND_SIZE_GIB, MAX_EXPAND_SIZE_GIB);
  }

  /** Grows volume `id` to `size` GiB (see the file comment). */
  async expand(id: string, size: unknown, options: ExpandOptions = {}): Promise<ExpandResult> {
    const { catalog, queue } = this.options;
    catalog.get(id); // an unknown volume is 404 before the size is looked at
    const toSize = checkExpandSize(size);
    return queue.run(id, async () => {
      const volume = catalog.get(id);
      if (volume.status === 'removing' || volume.status === 'missing') {
        throw new PreconditionFailedError(`Volume ${id} is ${volume.status}: it cannot be expanded`, {
          volumeId: id,
          status: volume.status,
        });
      }
      if (toSize < volume.size) {
        throw new OutOfRangeError(`Volume ${id} is ${volume.size} GiB: it cannot shrink to ${toSize} GiB (volumes only grow)`, {
          field: 'size',
          volumeId: id,
          size: volume.size,
        });
      }
      const max = this.maxSizeOf(volume);
      if (toSize > max) {
        const bound =
          volume.profile !== undefined ? `profile "${volume.profile}" of service "${volume.service}"` : `service "${volume.service}"`;
        throw new OutOfRangeError(`size ${toSize} GiB is above what ${bound} allows (at most ${max} GiB)`, {
          field: 'size',
          volumeId: id,
          max,
        });
      }
      if (toSize === volume.size) return { volume, expanded: false };
      this.assertExpandable(volume);
      return this.underIntent(volume, toSize, options);
    });
  }

  /**
   * Recovery: the intent's volume takes the size its backend has now (a backend that cannot tell
   * its size is asked to grow it again: expansion is idempotent). Finished when the backend has
   * the size asked for, rolled back when the call never got there.
   */
  async settle(intent: IntentRecord): Promise<ExpandSettlement> {
    const { registry, catalog, intents } = this.options;
    if (!registry.has(intent.service)) return { outcome: 'open' };
    const driver = registry.get(intent.service).driver;
    const volumeId = intent.volumeId ?? intent.key;
    const record = catalog.find(volumeId);
    const driverVolumeId = String(intent.payload.driverVolumeId ?? record?.driverVolumeId ?? '');
    const toSize = Number(intent.payload.toSize);
    let dv: DriverVolume;
    try {
      dv = await retryTransient(() => driver.volumeInspect(driverVolumeId), this.retry);
      if (!(dv.size > 0) && driver.volumeExpand && Number.isInteger(toSize)) {
        const expand = driver.volumeExpand.bind(driver);
        dv = await retryTransient(() => expand(driverVolumeId, toSize), this.retry);
      }
    } catch (err) {
      if (isTransient(err)) return { outcome: 'open' };
      if (err instanceof DriverNotFoundError) {
        await intents.resolve(intent.id);
        return { outcome: 'rolledBack', note: `expand ${volumeId}: the backend no longer has the volume; reconciliation reports it` };
      }
      this.logger.error('recovery could not settle an expand intent', { intentId: intent.id, volumeId, error: errorMessage(err) });
      return { outcome: 'open' };
    }
    if (!record) {
      await intents.resolve(intent.id);
      return { outcome: 'rolledBack', note: `expand ${volumeId}: the volume is not in the catalog; dropped` };
    }
    // Only growth is taken from the backend: the intent was to grow, and a size is never lowered on a guess.
    const size = dv.size > record.size ? dv.size : record.size;
    const staged = size !== record.size ? catalog.stageUpdate(volumeId, (d) => (d.size = size)) : undefined;
    await intents.resolve(intent.id, staged?.ops ?? []);
    staged?.commit();
    if (staged?.record) this.audit(staged.record, record.size, 'polly recovery');
    return size >= toSize
      ? { outcome: 'finished', note: `expand ${volumeId}: the backend has ${size} GiB; recorded` }
      : { outcome: 'rolledBack', note: `expand ${volumeId}: never reached the backend (still ${size} GiB); dropped` };
  }

  // ---- internals ----

  /** ExpansionUnsupportedError / PreconditionFailedError unless the backend can grow `volume` now. */
  private assertExpandable(volume: VolumeRecord): void {
    const expansion = this.expansionOf(volume.service);
    const driver = this.options.registry.get(volume.service).driver;
    if (!expansion) {
      throw new ExpansionUnsupportedError(
        `Volume ${volume.id} cannot be expanded: the ${driver.name} driver of service "${volume.service}" cannot grow volumes`,
        { volumeId: volume.id, service: volume.service },
      );
    }
    if (expansion === 'offline') {
      const holders = this.options.ledger.liveClaims(volume.id);
      if (holders.length > 0) {
        throw new PreconditionFailedError(
          `Volume ${volume.id} is claimed (${holders.map((c) => `claim ${c.id} on agent ${c.agentId}`).join(', ')}) and service "${volume.service}" ` +
            'grows volumes only while they are attached nowhere; release the claims, then expand it',
          { volumeId: volume.id, claimIds: holders.map((c) => c.id) },
        );
      }
    }
  }

  private async underIntent(volume: VolumeRecord, toSize: number, options: ExpandOptions): Promise<ExpandResult> {
    const { registry, catalog, intents } = this.options;
    const id = volume.id;
    const expand = registry.get(volume.service).driver.volumeExpand!.bind(registry.get(volume.service).driver);
    crashPoint('expand', 'before-intent');
    const intent = await intents.begin({
      kind: 'expand',
      key: id,
      service: volume.service,
      volumeId: id,
      payload: { driverVolumeId: volume.driverVolumeId, fromSize: volume.size, toSize },
    });
    crashPoint('expand', 'after-intent');
    let dv: DriverVolume;
    try {
      dv = await retryTransient(() => expand(volume.driverVolumeId, toSize), this.retry);
    } catch (err) {
      if (isTransient(err)) {
        this.logger.error('volume expand outcome unknown; recovery will settle it', {
          volumeId: id,
          intentId: intent.id,
          error: errorMessage(err),
        });
        throw new UnavailableError(`Expanding volume ${id} timed out; recovery will settle it from the backend's size`, { volumeId: id });
      }
      await intents.resolve(intent.id); // definitely not grown
      if (err instanceof DriverInvalidError) {
        throw new OutOfRangeError(
          `The backend refused to grow volume ${id} to ${toSize} GiB: ${err.message}`,
          { field: 'size', volumeId: id },
          { cause: err },
        );
      }
      throw toPollyError(err);
    }
    crashPoint('expand', 'after-driver');
    // A backend that does not say its size (0) has the size it was asked for; a size is never lowered.
    const size = dv.size > 0 ? Math.max(dv.size, volume.size) : toSize;
    const staged = catalog.stageUpdate(id, (d) => (d.size = size));
    await intents.resolve(intent.id, staged.ops);
    staged.commit();
    crashPoint('expand', 'after-resolve');
    this.audit(staged.record!, volume.size, options.by ?? '');
    return { volume: catalog.get(id), expanded: true };
  }

  private audit(volume: VolumeRecord, fromSize: number, by: string): void {
    this.logger.info('volume expanded', { volumeId: volume.id, service: volume.service, fromGiB: fromSize, toGiB: volume.size, by });
    this.options.events.publish('volume.audit', {
      volume,
      action: 'expand',
      fromSize,
      toSize: volume.size,
      by,
      at: new Date().toISOString(),
    });
  }
}
