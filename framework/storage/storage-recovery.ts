/**
 * Crash recovery and level-triggered reconciliation. At start (and whenever it is run again):
 *
 * 1. Every open intent is settled against the driver's real state, oldest first: a half-done
 *    create is finished (the backend has the name: register it) or rolled back; a remove is
 *    finished; an attach is finished for a live claim (attach is idempotent) or undone; a detach is
 *    finished; an interrupted snapshot is kept if the backend has it, a snapshot removal finished;
 *    an interrupted expand takes the size the backend has now.
 *    No backend volume leaks, no claim disagrees with the backend.
 * 2. One pass compares catalog, claims and backend (one `volumes()` call per service, no per-volume
 *    inspects): managed volumes gone from the backend are marked `missing` (reported, never deleted
 *    silently); claims stuck between states are repaired; volume records' attachment lists are
 *    made to match the claims. Backend attachments no live claim accounts for are recorded on the
 *    volume and reported, never detached (foreign-attachments.ts): with a store restored from an
 *    older backup, or an attachment made outside Polly, a task may still write through one. Only
 *    an attach Polly itself made (an attach intent, or a claim's own instance) is ever undone.
 *
 * Nothing is forgotten or failed because a record is missing: a live claim whose volume is missing
 * on its backend, or not in the catalog, stays live and is reported (`claimsOnMissingVolumes`),
 * because its task may still be running and writing; releasing it is the scheduler's or an
 * operator's act. A backend that is older than the catalog never gets this far (backend-check.ts).
 *
 * Repairs run in the volume's queue slot, so the pass can also run while Polly serves requests.
 */
import { DriverNotFoundError } from '../../drivers/errors';
import type { DriverVolume, StorageDriver, VolumeCreateOptions } from '../../drivers/storage-driver';
import { Logger, silentLogger } from '../shared/logger';
import type { ClaimLedger } from './claim-ledger';
import type { ForeignAttachments } from './foreign-attachments';
import { isLive } from './claim-record';
import type { IntentLog, IntentRecord } from './intent-log';
import type { KeyedSerialQueue } from './keyed-queue';
import type { SnapshotBook } from './snapshot-book';
import { isTransient, retryTransient, RetryOptions } from './retry';
import type { Store } from '../state/store';
import type { ServiceRegistry } from './service-registry';
import type { StorageEvents } from './storage-events';
import { errorMessage, sameInstance } from './storage-errors';
import type { VolumeCatalog } from './volume-catalog';
import type { VolumeExpander } from './volume-expander';
import { formatVolumeId } from './volume-id';
import { statusFor, volumeFromDriver, type VolumeRecord } from './volume-record';

export interface RecoveryReport {
  intentsFinished: number;
  intentsRolledBack: number;
  /** Intents that could not be settled now (backend unavailable); the next run retries them. */
  intentsLeftOpen: number;
  /**
   * Backend attachments no live claim accounts for (made outside Polly, or before a restored store):
   * recorded on the volume as `foreignAttachments` and reported each pass, never detached.
   */
  unexplainedAttachments: number;
  /** Managed volumes the backend no longer has (status `missing`). */
  missingVolumes: number;
  /** Live claims left live although their volume is missing on its backend or not in the catalog (reported each pass). */
  claimsOnMissingVolumes: number;
  claimsRepaired: number;
  /** Volume records whose attachment list was corrected from the claims. */
  volumesCorrected: number;
  /** Services whose driver could not list volumes (reconciliation skipped them). */
  servicesUnavailable: string[];
  volumesChecked: number;
  claimsChecked: number;
  durationMs: number;
  /** What was done, one line each (at most MAX_ACTIONS). */
  actions: string[];
}

export const MAX_ACTIONS = 200;

/** Shared by every volume without a live claim (frozen: nobody may add to it). */
const NO_CLAIMS = Object.freeze([]) as unknown as ReturnType<ClaimLedger['liveClaims']>;

export interface StorageRecoveryOptions {
  store: Store;
  registry: ServiceRegistry;
  catalog: VolumeCatalog;
  ledger: ClaimLedger;
  foreign: ForeignAttachments;
  snapshots: SnapshotBook;
  /** Settles expand intents (from the backend's size); absent in setups that never expand. */
  expander?: VolumeExpander;
  intents: IntentLog;
  queue: KeyedSerialQueue;
  events?: StorageEvents;
  logger?: Logger;
  retry?: RetryOptions;
}

type IntentOutcome = 'finished' | 'rolledBack' | 'open';

export class StorageRecovery {
  private readonly logger: Logger;
  private readonly retry: RetryOptions;

  constructor(private readonly options: StorageRecoveryOptions) {
    this.logger = options.logger ?? silentLogger;
    this.retry = options.retry ?? {};
  }

  async recover(): Promise<RecoveryReport> {
    const started = performance.now();
    const report: RecoveryReport = {
      intentsFinished: 0,
      intentsRolledBack: 0,
      intentsLeftOpen: 0,
      unexplainedAttachments: 0,
      missingVolumes: 0,
      claimsOnMissingVolumes: 0,
      claimsRepaired: 0,
      volumesCorrected: 0,
      servicesUnavailable: [],
      volumesChecked: 0,
      claimsChecked: 0,
      durationMs: 0,
      actions: [],
    };
    const busy = new Set<string>();
    for (const intent of await this.options.intents.pending()) {
      let outcome: IntentOutcome;
      try {
        outcome = await this.settle(intent, report);
      } catch (err) {
        this.logger.error('recovery could not settle an intent', { intentId: intent.id, kind: intent.kind, error: errorMessage(err) });
        outcome = 'open';
      }
      if (outcome === 'finished') report.intentsFinished++;
      else if (outcome === 'rolledBack') report.intentsRolledBack++;
      else {
        report.intentsLeftOpen++;
        if (intent.volumeId) busy.add(intent.volumeId);
      }
    }
    await this.reconcile(report, busy);
    report.durationMs = Math.round(performance.now() - started);
    const { actions, ...summary } = report;
    this.logger.info('storage recovery done', { ...summary, actions: actions.length });
    for (const line of actions) this.logger.info(`recovery: ${line}`);
    this.options.events?.publish('storage.recovered', { report });
    return report;
  }

  // ---- intents ----

  private settle(intent: IntentRecord, report: RecoveryReport): Promise<IntentOutcome> {
    const queueKey = intent.volumeId ?? `create/${intent.service}/${intent.key.toLowerCase()}`;
    return this.options.queue.run(queueKey, async () => {
      switch (intent.kind) {
        case 'create':
          return this.settleCreate(intent, report);
        case 'remove':
          return this.settleRemove(intent, report);
        case 'attach':
          return this.settleAttach(intent, report);
        case 'detach':
          return this.settleDetach(intent, report);
        case 'expand': {
          if (!this.options.expander) return 'open';
          const settled = await this.options.expander.settle(intent);
          if (settled.outcome !== 'open') note(report, settled.note);
          return settled.outcome;
        }
        case 'snapshot':
        case 'snapshot-remove': {
          const settled = await this.options.snapshots.settle(intent);
          if (settled.outcome !== 'open') note(report, settled.note);
          return settled.outcome;
        }
      }
      return 'open';
    });
  }

  private async settleCreate(intent: IntentRecord, report: RecoveryReport): Promise<IntentOutcome> {
    const { registry, catalog, intents } = this.options;
    if (!registry.has(intent.service)) return 'open';
    const driver = registry.get(intent.service).driver;
    const name = String(intent.payload.name ?? intent.key);
    let dv: DriverVolume | undefined;
    try {
      dv = await retryTransient(() => driver.volumeInspectByName(name), this.retry);
      if (!dv && driver.createIdempotentByName) {
        // A backend that may not be searchable by name (CSI): the same create again returns what an
        // earlier attempt made, or makes it now; either way the create is finished, nothing leaks.
        const again = repeatCreate(driver, name, intent.payload);
        if (again) {
          try {
            dv = await retryTransient(again, this.retry);
          } catch (err) {
            if (isTransient(err)) throw err;
            await intents.resolve(intent.id);
            note(report, `create ${intent.service}/${name}: the backend refuses it now (${errorMessage(err)}); dropped`);
            return 'rolledBack';
          }
        }
      }
    } catch (err) {
      if (isTransient(err)) return 'open';
      throw err;
    }
    if (!dv) {
      await intents.resolve(intent.id);
      note(report, `create ${intent.service}/${name}: never reached the backend; dropped`);
      return 'rolledBack';
    }
    const id = formatVolumeId(intent.service, dv.id);
    if (catalog.find(id) || catalog.findByName(intent.service, name)) {
      await intents.resolve(intent.id);
      return 'finished';
    }
    const staged = catalog.stageInsert(
      volumeFromDriver(id, intent.service, dv, {
        managed: true,
        schedulers: stringList(intent.payload.schedulers),
        labels: stringMap(intent.payload.labels),
        profile: typeof intent.payload.profile === 'string' ? intent.payload.profile : undefined,
      }),
    );
    await intents.resolve(intent.id, staged.ops);
    staged.commit();
    note(report, `create ${intent.service}/${name}: backend has it (${id}); registered`);
    return 'finished';
  }

  private async settleRemove(intent: IntentRecord, report: RecoveryReport): Promise<IntentOutcome> {
    const { registry, catalog, intents } = this.options;
    const volumeId = intent.volumeId ?? intent.key;
    const record = catalog.find(volumeId);
    const driverVolumeId = String(intent.payload.driverVolumeId ?? record?.driverVolumeId ?? '');
    if (!registry.has(intent.service)) return 'open';
    const driver = registry.get(intent.service).driver;
    try {
      await retryTransient(() => driver.volumeRemove(driverVolumeId), this.retry);
    } catch (err) {
      if (isTransient(err)) return 'open';
      if (!(err instanceof DriverNotFoundError)) {
        // The backend refuses (e.g. attached outside Polly): the volume stays, the remove is undone.
        const back = record
          ? catalog.stageUpdate(volumeId, (d) => {
              d.status = statusFor({ status: 'available', attachments: d.attachments });
            })
          : undefined;
        await intents.resolve(intent.id, back?.ops ?? []);
        back?.commit();
        note(report, `remove ${volumeId}: backend refused (${errorMessage(err)}); volume kept`);
        return 'rolledBack';
      }
    }
    const staged = record ? catalog.stageDelete(volumeId) : undefined;
    await intents.resolve(intent.id, staged?.ops ?? []);
    staged?.commit();
    note(report, `remove ${volumeId}: finished`);
    return 'finished';
  }

  private async settleAttach(intent: IntentRecord, report: RecoveryReport): Promise<IntentOutcome> {
    const { ledger } = this.options;
    const claim = intent.claimId === undefined ? undefined : ledger.find(intent.claimId);
    if (claim && isLive(claim) && claim.state !== 'releasing') {
      const outcome = await ledger.repairAttach(claim.id, intent);
      if (outcome === 'unchanged') return 'open';
      if (outcome === 'kept') {
        report.claimsOnMissingVolumes++;
        note(
          report,
          `attach claim ${claim.id} (volume ${claim.volumeId}): the volume is missing; claim left ${claim.state} (its task may still run)`,
        );
        return 'finished';
      }
      note(report, `attach claim ${claim.id} (volume ${claim.volumeId}): ${outcome}`);
      return outcome === 'attached' ? 'finished' : 'rolledBack';
    }
    const outcome = await ledger.rollbackAttach(intent, claim);
    if (outcome === 'unchanged' && (await this.stillOpen(intent))) return 'open';
    note(report, `attach claim ${intent.claimId} (volume ${intent.volumeId}): rolled back`);
    return 'rolledBack';
  }

  private async settleDetach(intent: IntentRecord, report: RecoveryReport): Promise<IntentOutcome> {
    const outcome = await this.options.ledger.repairDetach(intent.claimId, intent);
    if (outcome === 'unchanged' && (await this.stillOpen(intent))) return 'open';
    note(report, `detach claim ${intent.claimId} (volume ${intent.volumeId}): released`);
    return 'finished';
  }

  private async stillOpen(intent: IntentRecord): Promise<boolean> {
    return (await this.options.intents.pending()).some((i) => i.id === intent.id);
  }

  // ---- level-triggered pass ----

  private async reconcile(report: RecoveryReport, busy: ReadonlySet<string>): Promise<void> {
    const { registry, catalog, ledger, queue } = this.options;
    const repairs: Promise<void>[] = [];
    const skipped = new Set<string>();
    for (const service of registry.list()) {
      let listed: DriverVolume[];
      try {
        listed = await retryTransient(() => service.driver.volumes(), this.retry);
      } catch (err) {
        report.servicesUnavailable.push(service.name);
        this.logger.error('reconciliation skipped a service: its driver cannot list volumes', {
          service: service.name,
          error: errorMessage(err),
        });
        for (const v of catalog.ofService(service.name)) skipped.add(v.id);
        continue;
      }
      const backend = new Map<string, DriverVolume>();
      for (const dv of listed) backend.set(dv.id, dv);
      for (const volume of catalog.ofService(service.name)) {
        report.volumesChecked++;
        if (busy.has(volume.id)) continue;
        const dv = backend.get(volume.driverVolumeId);
        if (!dv) report.missingVolumes++;
        // Most volumes have no live claim: no array is built for them.
        const live = ledger.liveCount(volume.id) === 0 ? NO_CLAIMS : ledger.liveClaims(volume.id);
        report.claimsChecked += live.length;
        if (!this.needsRepair(volume, dv, live)) continue;
        repairs.push(queue.run(volume.id, () => this.repairVolume(volume.id, dv, report)));
      }
    }
    // Live claims on volumes the catalog does not have: the catalog record is what is missing, not
    // necessarily the volume or the task. Reported, left live (a release still works without it).
    for (const volumeId of ledger.claimedVolumeIds()) {
      if (catalog.find(volumeId) || skipped.has(volumeId) || busy.has(volumeId)) continue;
      for (const claim of ledger.liveClaims(volumeId)) {
        report.claimsOnMissingVolumes++;
        this.logger.warn('live claim on a volume the catalog does not have; left live', {
          claimId: claim.id,
          volumeId,
          taskId: claim.taskId,
          agentId: claim.agentId,
        });
        note(
          report,
          `claim ${claim.id} (${claim.state}): volume ${volumeId} is not in the catalog; left live (release it when its task is gone)`,
        );
      }
    }
    const results = await Promise.allSettled(repairs);
    for (const r of results) {
      if (r.status === 'rejected') this.logger.error('a reconciliation repair failed', { error: errorMessage(r.reason) });
    }
  }

  /** Cheap check (no I/O) whether a volume needs the repair pass at all. */
  private needsRepair(volume: VolumeRecord, dv: DriverVolume | undefined, live: ReturnType<ClaimLedger['liveClaims']>): boolean {
    const { status } = volume;
    const recordedAttachments = volume.attachments.length;
    if (!dv) return status !== 'missing' || live.length > 0 || recordedAttachments > 0;
    if (volume.foreignAttachments !== undefined) return true; // re-checked each pass, until gone
    if (status === 'missing' || status === 'removing') return true;
    if (live.some((c) => c.state !== 'attached')) return true;
    // The backend cannot say where it is attached: its (empty) list is no evidence against the claims.
    if (dv.attachmentsUnknown) return recordedAttachments !== live.length;
    if (dv.attachments.length > 0 || live.length > 0) {
      const attached = live.filter((c) => c.state === 'attached');
      if (attached.some((c) => !dv.attachments.some((a) => sameInstance(a.instanceId.id, c.instanceId)))) return true;
      if (dv.attachments.some((a) => !live.some((c) => sameInstance(c.instanceId, a.instanceId.id)))) return true;
    }
    return recordedAttachments !== live.filter((c) => c.state === 'attached').length;
  }

  private async repairVolume(volumeId: string, dv: DriverVolume | undefined, report: RecoveryReport): Promise<void> {
    const { catalog, ledger } = this.options;
    const volume = catalog.find(volumeId);
    if (!volume) return;

    if (!dv && volume.status !== 'missing') {
      const staged = catalog.stageUpdate(volumeId, (d) => {
        d.status = 'missing';
      });
      await this.options.store.batch(staged.ops);
      staged.commit();
      this.logger.warn('managed volume is missing on its backend', { volumeId, service: volume.service, name: volume.name });
      note(report, `volume ${volumeId} (${volume.name}): missing on the backend`);
    } else if (dv && (volume.status === 'missing' || volume.status === 'removing')) {
      const staged = catalog.stageUpdate(volumeId, (d) => {
        d.status = statusFor({ status: 'available', attachments: d.attachments });
      });
      await this.options.store.batch(staged.ops);
      staged.commit();
      note(report, `volume ${volumeId}: back on the backend`);
    }

    const repaired = new Set<string>();
    for (const claim of ledger.liveClaims(volumeId)) {
      let outcome: string | undefined;
      if (!dv && (claim.state === 'attaching' || claim.state === 'attached')) {
        // The volume is missing on its backend: the claim's task may still run. Reported, never failed.
        report.claimsOnMissingVolumes++;
        this.logger.warn('live claim on a volume missing on its backend; left live', {
          claimId: claim.id,
          volumeId,
          taskId: claim.taskId,
          agentId: claim.agentId,
          state: claim.state,
        });
        note(report, `claim ${claim.id} (volume ${volumeId}, ${claim.state}): the volume is missing on its backend; left live`);
        continue;
      }
      if (claim.state === 'pending') {
        await ledger.failClaim(claim.id, 'interrupted before the attach started');
        outcome = 'failed';
      } else if (claim.state === 'releasing') {
        outcome = await ledger.repairDetach(claim.id, undefined);
      } else if (
        claim.state === 'attaching' ||
        !dv ||
        (!dv.attachmentsUnknown && !dv.attachments.some((a) => sameInstance(a.instanceId.id, claim.instanceId)))
      ) {
        outcome = await ledger.repairAttach(claim.id, undefined);
      }
      if (outcome !== undefined) {
        repaired.add(claim.instanceId.toLowerCase());
        report.claimsRepaired++;
        note(report, `claim ${claim.id} (volume ${volumeId}, ${claim.state}): ${outcome}`);
      }
    }

    if (dv && !dv.attachmentsUnknown) {
      // Never detached here: a task may write through it (foreign-attachments.ts). Reported each pass.
      for (const a of await this.options.foreign.reconcile(volumeId, dv, repaired)) {
        report.unexplainedAttachments++;
        note(report, `volume ${volumeId}: attached to ${a.instanceId.id}, which no claim accounts for; left attached`);
      }
    }

    if (await ledger.syncVolumeAttachments(volumeId)) report.volumesCorrected++;
  }
}

/** The create an intent recorded (plain, copy or from a snapshot), to be made again; undefined for a payload it cannot tell. */
function repeatCreate(driver: StorageDriver, name: string, payload: Record<string, unknown>): (() => Promise<DriverVolume>) | undefined {
  const source = payload.source as { copyOf?: unknown; snapshot?: unknown; create?: VolumeCreateOptions } | undefined;
  if (source && typeof source.copyOf === 'string') return () => driver.volumeCopy(source.copyOf as string, name);
  if (source && typeof source.snapshot === 'string')
    return () => driver.volumeCreateFromSnapshot(source.snapshot as string, name, source.create ?? {});
  if (typeof payload.create === 'object' && payload.create !== null)
    return () => driver.volumeCreate(name, payload.create as VolumeCreateOptions);
  return undefined;
}

function note(report: RecoveryReport, line: string): void {
  if (report.actions.length < MAX_ACTIONS) report.actions.push(line);
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function stringMap(value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null) return {};
  return Object.fromEntries(Object.entries(value).filter((e): e is [string, string] => typeof e[1] === 'string'));
}
