/**
 * Snapshot creation and removal under the intent log, like every other mutating driver call.
 * Snapshots themselves are not catalogued (they are read from the drivers), so an intent here is
 * what lets recovery finish an interrupted removal and report an interrupted creation.
 *
 * Both run in the source volume's queue slot: never alongside a remove of that volume.
 */
import { DriverNotFoundError, DriverNotImplementedError } from '../../drivers/errors';
import type { DriverSnapshot } from '../../drivers/storage-driver';
import { NotImplementedError } from '../errors/not-implemented-error';
import { UnavailableError } from '../errors/unavailable-error';
import { crashPoint } from './crash-points';
import { Logger, silentLogger } from '../shared/logger';
import type { IntentLog, IntentRecord } from './intent-log';
import type { KeyedSerialQueue } from './keyed-queue';
import { isTransient, retryCreate, retryTransient, RetryOptions } from './retry';
import type { ServiceRegistry } from './service-registry';
import { errorMessage, toPollyError } from './storage-errors';
import { formatVolumeId } from './volume-id';
import { checkVolumeName, VolumeRecord } from './volume-record';

export interface SnapshotBookOptions {
  registry: ServiceRegistry;
  queue: KeyedSerialQueue;
  intents: IntentLog;
  logger?: Logger;
  retry?: RetryOptions;
}

/** What recovery made of a snapshot intent. */
export type SnapshotSettlement = { outcome: 'finished' | 'rolledBack'; note: string } | { outcome: 'open' };

export class SnapshotBook {
  private readonly logger: Logger;
  private readonly retry: RetryOptions;

  constructor(private readonly options: SnapshotBookOptions) {
    this.logger = options.logger ?? silentLogger;
    this.retry = options.retry ?? {};
  }

  /**
   * Snapshots `volume` as `name` (checked like a volume name before anything is written). A "maybe"
   * answer is settled by asking the backend for the name.
   */
  async create(volume: VolumeRecord, snapshotName: string): Promise<DriverSnapshot> {
    const driver = this.options.registry.get(volume.service).driver;
    return this.underIntent(volume.service, volume.driverVolumeId, snapshotName, (name) =>
      driver.volumeSnapshot(volume.driverVolumeId, name),
    );
  }

  /**
   * Copies `snapshot` as `name`: a new snapshot of the same volume with the same data, made and
   * settled like `create` (recovery finds it by volume and name). 501 when the driver cannot copy.
   */
  async copy(service: string, snapshot: DriverSnapshot, snapshotName: string): Promise<DriverSnapshot> {
    const driver = this.options.registry.get(service).driver;
    if (!driver.snapshotCopy) {
      throw new NotImplementedError(`not implemented: the ${driver.name} driver of service ${service} cannot copy snapshots`, {
        service,
        snapshotId: snapshot.id,
      });
    }
    const snapshotCopy = driver.snapshotCopy.bind(driver);
    return this.underIntent(service, snapshot.volumeId, snapshotName, (name) => snapshotCopy(snapshot.id, name));
  }

  /** A new snapshot of the volume, in the volume's queue slot, under a `snapshot` intent. */
  private async underIntent(
    service: string,
    driverVolumeId: string,
    snapshotName: string,
    make: (name: string) => Promise<DriverSnapshot>,
  ): Promise<DriverSnapshot> {
    const name = checkVolumeName(snapshotName);
    const { queue, intents } = this.options;
    const volumeId = formatVolumeId(service, driverVolumeId);
    return queue.run(volumeId, async () => {
      const intent = await intents.begin({
        kind: 'snapshot',
        key: `${volumeId}/${name}`,
        service,
        volumeId,
        payload: { driverVolumeId, name },
      });
      crashPoint('snapshot', 'after-intent');
      try {
        const snap = await retryCreate(
          () => make(name),
          () => this.find(service, driverVolumeId, name),
          this.retry,
        );
        crashPoint('snapshot', 'after-driver');
        await intents.resolve(intent.id);
        crashPoint('snapshot', 'after-resolve');
        this.logger.info('snapshot created', { volumeId, snapshotId: formatVolumeId(service, snap.id), name });
        return snap;
      } catch (err) {
        if (isTransient(err)) {
          this.logger.error('snapshot outcome unknown; recovery will settle it', { volumeId, name, intentId: intent.id });
          throw new UnavailableError(`Snapshotting volume ${volumeId} timed out; it will be settled by recovery`, { volumeId });
        }
        await intents.resolve(intent.id); // definitely not made
        throw toPollyError(err);
      }
    });
  }

  /** Removes a snapshot (NotFound when the backend has no such snapshot). */
  async remove(service: string, snapshotId: string): Promise<void> {
    const { registry, queue, intents } = this.options;
    const driver = registry.get(service).driver;
    let snap: DriverSnapshot;
    try {
      snap = await retryTransient(() => driver.snapshotInspect(snapshotId), this.retry);
    } catch (err) {
      throw toPollyError(err);
    }
    await queue.run(formatVolumeId(service, snap.volumeId), async () => {
      const intent = await intents.begin({
        kind: 'snapshot-remove',
        key: snapshotId,
        service,
        volumeId: formatVolumeId(service, snap.volumeId),
        payload: { snapshotId },
      });
      crashPoint('snapshot-remove', 'after-intent');
      try {
        await retryTransient(() => driver.snapshotRemove(snapshotId), this.retry);
      } catch (err) {
        if (isTransient(err)) {
          this.logger.error('snapshot removal outcome unknown; recovery will finish it', { snapshotId, intentId: intent.id });
          throw new UnavailableError(`Removing snapshot ${snapshotId} timed out; recovery will finish it`, { snapshotId });
        }
        if (!(err instanceof DriverNotFoundError)) {
          await intents.resolve(intent.id); // refused: nothing changed
          throw toPollyError(err);
        }
        // Gone already (removed by someone else meanwhile): the removal is done.
      }
      crashPoint('snapshot-remove', 'after-driver');
      await intents.resolve(intent.id);
      crashPoint('snapshot-remove', 'after-resolve');
      this.logger.info('snapshot removed', { snapshotId: formatVolumeId(service, snapshotId) });
    });
  }

  /**
   * Recovery: an interrupted creation is kept if the backend has the snapshot (the operator sees it
   * and may delete it) and dropped if not; an interrupted removal is finished.
   */
  async settle(intent: IntentRecord): Promise<SnapshotSettlement> {
    const { registry, intents } = this.options;
    if (!registry.has(intent.service)) return { outcome: 'open' };
    const driver = registry.get(intent.service).driver;
    try {
      if (intent.kind === 'snapshot') {
        const name = String(intent.payload.name ?? '');
        const driverVolumeId = String(intent.payload.driverVolumeId ?? '');
        let found = await this.find(intent.service, driverVolumeId, name);
        if (!found && driver.createIdempotentByName) {
          // Not searchable by name (CSI): the same snapshot again is the one an earlier attempt made, or is made now.
          found = await retryTransient(() => driver.volumeSnapshot(driverVolumeId, name), this.retry).catch((err: unknown) => {
            if (isTransient(err)) throw err;
            return undefined;
          });
        }
        await intents.resolve(intent.id);
        return found
          ? {
              outcome: 'finished',
              note: `snapshot ${name} of ${intent.volumeId}: backend has it (${formatVolumeId(intent.service, found.id)}); kept`,
            }
          : { outcome: 'rolledBack', note: `snapshot ${name} of ${intent.volumeId}: never reached the backend; dropped` };
      }
      const snapshotId = String(intent.payload.snapshotId ?? intent.key);
      try {
        await retryTransient(() => driver.snapshotRemove(snapshotId), this.retry);
      } catch (err) {
        if (!(err instanceof DriverNotFoundError)) throw err;
      }
      await intents.resolve(intent.id);
      return { outcome: 'finished', note: `remove snapshot ${formatVolumeId(intent.service, snapshotId)}: finished` };
    } catch (err) {
      if (isTransient(err)) return { outcome: 'open' };
      this.logger.error('recovery could not settle a snapshot intent', { intentId: intent.id, error: errorMessage(err) });
      return { outcome: 'open' };
    }
  }

  private async find(service: string, driverVolumeId: string, name: string): Promise<DriverSnapshot | undefined> {
    const driver = this.options.registry.get(service).driver;
    let all: DriverSnapshot[];
    try {
      all = await retryTransient(() => driver.snapshots(), this.retry);
    } catch (err) {
      // A backend that cannot list snapshots cannot be searched: the create is settled by repeating it.
      if (err instanceof DriverNotImplementedError && driver.createIdempotentByName) return undefined;
      throw err;
    }
    return all.find((s) => s.volumeId === driverVolumeId && s.name === name);
  }
}
