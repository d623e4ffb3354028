/**
 * Wraps any StorageDriver so every call has a deadline. The deadline is combined with the caller's
 * AbortSignal and the combined signal is passed down, so a well-behaved driver stops work; the
 * wrapper rejects on time even when the driver does not.
 *
 * A timeout rejects with DriverTransientError: the operation may or may not have happened, and the
 * caller retries under the same idempotency key. A caller abort rejects with DriverAbortedError
 * (also a DriverTransientError, name `AbortError`).
 *
 * Inside an operation's call budget (call-budget.ts) the deadline is also never later than what is
 * left of the budget, which the first call starts with its own timeout: retries and follow-up calls
 * share one timeout instead of getting one each, and a call with no time left fails at once,
 * without reaching the backend.
 */
import { abortedError } from './abort';
import { currentCallBudget } from './call-budget';
import { DriverTransientError } from './errors';
import type {
  AttachOptions,
  BackendDescription,
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
} from './storage-driver';

/** The bounded (async) operations of a StorageDriver. */
export type DriverOperation =
  | 'init'
  | 'instanceInspect'
  | 'volumes'
  | 'volumeInspect'
  | 'volumeInspectByName'
  | 'volumeCreate'
  | 'volumeCreateFromSnapshot'
  | 'volumeCopy'
  | 'volumeSnapshot'
  | 'volumeRemove'
  | 'volumeAttach'
  | 'volumeDetach'
  | 'snapshots'
  | 'snapshotInspect'
  | 'snapshotRemove'
  | 'snapshotCopy'
  | 'volumeExpand'
  | 'capacity'
  | 'backendMark'
  | 'bindInstallation'
  | 'quarantined'
  | 'purgeQuarantined'
  | 'restoreQuarantined'
  | 'exportMetadata'
  | 'importMetadata';

export interface BoundedDriverOptions {
  /** Deadline for every call, ms. Default 30 000. */
  timeoutMs?: number;
  /** Per-operation deadlines, ms (e.g. a longer `volumeSnapshot`). */
  timeouts?: Partial<Record<DriverOperation, number>>;
}

export const DEFAULT_DRIVER_TIMEOUT_MS = 30_000;

export class BoundedDriver implements StorageDriver {
  readonly name: string;
  readonly createIdempotentByName?: boolean;
  readonly describe?: () => BackendDescription;
  readonly hostPath?: (volume: DriverVolume) => string;
  readonly close?: () => Promise<void>;
  readonly backendMark?: (options?: CallOptions) => Promise<BackendMark>;
  readonly bindInstallation?: (installationId: string, options?: CallOptions) => Promise<BackendMark>;
  readonly quarantined?: (options?: CallOptions) => Promise<QuarantinedEntry[]>;
  readonly purgeQuarantined?: (id: string, options?: CallOptions) => Promise<QuarantinedEntry>;
  readonly restoreQuarantined?: (id: string, name: string, options?: CallOptions) => Promise<DriverVolume>;
  readonly snapshotCopy?: (snapshotId: string, snapshotName: string, options?: CallOptions) => Promise<DriverSnapshot>;
  readonly volumeExpand?: (volumeId: string, newSizeGiB: number, options?: CallOptions) => Promise<DriverVolume>;
  readonly expansion?: () => VolumeExpansion | undefined;
  readonly exportMetadata?: (options?: CallOptions) => Promise<BackendMetadata | undefined>;
  readonly describeMetadata?: (metadata: BackendMetadata) => BackendMetadataSummary;
  readonly importMetadata?: (metadata: BackendMetadata, options?: MetadataImportOptions) => Promise<MetadataImportResult>;
  private readonly timeoutMs: number;
  private readonly timeouts: Partial<Record<DriverOperation, number>>;

  constructor(
    readonly inner: StorageDriver,
    options: BoundedDriverOptions = {},
  ) {
    this.name = inner.name;
    if (inner.createIdempotentByName) this.createIdempotentByName = true;
    if (inner.describe) {
      const describe = inner.describe.bind(inner);
      this.describe = () => describe();
    }
    this.timeoutMs = checkTimeout(options.timeoutMs ?? DEFAULT_DRIVER_TIMEOUT_MS, 'timeoutMs');
    this.timeouts = {};
    for (const [op, ms] of Object.entries(options.timeouts ?? {}) as [DriverOperation, number | undefined][]) {
      if (ms !== undefined) this.timeouts[op] = checkTimeout(ms, `timeouts.${op}`);
    }
    // Optional members exist only when the inner driver has them, so `driver.hostPath` keeps meaning "maps to a host path".
    if (inner.hostPath) {
      const hostPath = inner.hostPath.bind(inner);
      this.hostPath = (volume) => hostPath(volume);
    }
    if (inner.close) {
      const close = inner.close.bind(inner);
      this.close = () => close();
    }
    // The backend-metadata and quarantine calls are optional too, and bounded like every other call.
    if (inner.backendMark) {
      const call = inner.backendMark.bind(inner);
      this.backendMark = (options) => this.run('backendMark', '', options, (o) => call(o));
    }
    if (inner.bindInstallation) {
      const call = inner.bindInstallation.bind(inner);
      this.bindInstallation = (id, options) => this.run('bindInstallation', id, options, (o) => call(id, o));
    }
    if (inner.quarantined) {
      const call = inner.quarantined.bind(inner);
      this.quarantined = (options) => this.run('quarantined', '', options, (o) => call(o));
    }
    if (inner.purgeQuarantined) {
      const call = inner.purgeQuarantined.bind(inner);
      this.purgeQuarantined = (id, options) => this.run('purgeQuarantined', id, options, (o) => call(id, o));
    }
    if (inner.restoreQuarantined) {
      const call = inner.restoreQuarantined.bind(inner);
      this.restoreQuarantined = (id, name, options) => this.run('restoreQuarantined', id, options, (o) => call(id, name, o));
    }
    if (inner.snapshotCopy) {
      const copy = inner.snapshotCopy.bind(inner);
      this.snapshotCopy = (snapshotId, snapshotName, options) =>
        this.run('snapshotCopy', snapshotId, options, (o) => copy(snapshotId, snapshotName, o));
    }
    if (inner.volumeExpand) {
      const expand = inner.volumeExpand.bind(inner);
      this.volumeExpand = (volumeId, newSizeGiB, options) =>
        this.run('volumeExpand', volumeId, options, (o) => expand(volumeId, newSizeGiB, o));
    }
    if (inner.expansion) {
      const expansion = inner.expansion.bind(inner);
      this.expansion = () => expansion();
    }
    // Backups: reading and writing the backend's own metadata are bounded calls; describing it is not a call.
    if (inner.exportMetadata) {
      const call = inner.exportMetadata.bind(inner);
      this.exportMetadata = (options) => this.run('exportMetadata', '', options, (o) => call(o));
    }
    if (inner.describeMetadata) {
      const describe = inner.describeMetadata.bind(inner);
      this.describeMetadata = (metadata) => describe(metadata);
    }
    if (inner.importMetadata) {
      const call = inner.importMetadata.bind(inner);
      this.importMetadata = (metadata, options) =>
        this.run('importMetadata', '', options, (o) => call(metadata, { ...options, ...(o?.signal ? { signal: o.signal } : {}) }));
    }
  }

  /** The deadline applied to `op`, ms. */
  timeoutFor(op: DriverOperation): number {
    return this.timeouts[op] ?? this.timeoutMs;
  }

  type(): StorageType {
    return this.inner.type();
  }

  attachLimit(instanceId: InstanceId): number | undefined {
    return this.inner.attachLimit(instanceId);
  }

  init(options?: CallOptions): Promise<void> {
    return this.run('init', '', options, (o) => this.inner.init(o));
  }

  instanceInspect(instanceId: InstanceId, options?: CallOptions): Promise<Instance> {
    return this.run('instanceInspect', instanceId.id, options, (o) => this.inner.instanceInspect(instanceId, o));
  }

  volumes(options?: CallOptions): Promise<DriverVolume[]> {
    return this.run('volumes', '', options, (o) => this.inner.volumes(o));
  }

  volumeInspect(volumeId: string, options?: CallOptions): Promise<DriverVolume> {
    return this.run('volumeInspect', volumeId, options, (o) => this.inner.volumeInspect(volumeId, o));
  }

  volumeInspectByName(name: string, options?: CallOptions): Promise<DriverVolume | undefined> {
    return this.run('volumeInspectByName', name, options, (o) => this.inner.volumeInspectByName(name, o));
  }

  volumeCreate(name: string, create: VolumeCreateOptions, options?: CallOptions): Promise<DriverVolume> {
    return this.run('volumeCreate', name, options, (o) => this.inner.volumeCreate(name, create, o));
  }

  volumeCreateFromSnapshot(snapshotId: string, name: string, create: VolumeCreateOptions, options?: CallOptions): Promise<DriverVolume> {
    return this.run('volumeCreateFromSnapshot', name, options, (o) => this.inner.volumeCreateFromSnapshot(snapshotId, name, create, o));
  }

  volumeCopy(volumeId: string, name: string, options?: CallOptions): Promise<DriverVolume> {
    return this.run('volumeCopy', volumeId, options, (o) => this.inner.volumeCopy(volumeId, name, o));
  }

  volumeSnapshot(volumeId: string, snapshotName: string, options?: CallOptions): Promise<DriverSnapshot> {
    return this.run('volumeSnapshot', volumeId, options, (o) => this.inner.volumeSnapshot(volumeId, snapshotName, o));
  }

  volumeRemove(volumeId: string, remove?: RemoveOptions, options?: CallOptions): Promise<void> {
    return this.run('volumeRemove', volumeId, options, (o) => this.inner.volumeRemove(volumeId, remove, o));
  }

  volumeAttach(
    volumeId: string,
    instanceId: InstanceId,
    attach?: AttachOptions,
    options?: CallOptions,
  ): Promise<{ volume: DriverVolume; attachToken?: string }> {
    return this.run('volumeAttach', volumeId, options, (o) => this.inner.volumeAttach(volumeId, instanceId, attach, o));
  }

  volumeDetach(volumeId: string, instanceId: InstanceId, detach?: DetachOptions, options?: CallOptions): Promise<DriverVolume> {
    return this.run('volumeDetach', volumeId, options, (o) => this.inner.volumeDetach(volumeId, instanceId, detach, o));
  }

  snapshots(options?: CallOptions): Promise<DriverSnapshot[]> {
    return this.run('snapshots', '', options, (o) => this.inner.snapshots(o));
  }

  snapshotInspect(snapshotId: string, options?: CallOptions): Promise<DriverSnapshot> {
    return this.run('snapshotInspect', snapshotId, options, (o) => this.inner.snapshotInspect(snapshotId, o));
  }

  snapshotRemove(snapshotId: string, options?: CallOptions): Promise<void> {
    return this.run('snapshotRemove', snapshotId, options, (o) => this.inner.snapshotRemove(snapshotId, o));
  }

  capacity(query: CapacityQuery, zone: string | undefined, options?: CallOptions): Promise<Capacity | undefined> {
    return this.run('capacity', zone ?? '', options, (o) => this.inner.capacity(query, zone, o));
  }

  /**
   * Runs `call` with a signal that fires on the caller's abort or the deadline, whichever is first,
   * and settles as soon as either fires. A late result or rejection of the inner call is dropped.
   */
  private run<T>(
    op: DriverOperation,
    subject: string,
    options: CallOptions | undefined,
    call: (options: CallOptions) => Promise<T>,
  ): Promise<T> {
    const what = subject ? `${op} ${subject}` : op;
    const caller = options?.signal;
    if (caller?.aborted) {
      return Promise.reject(abortedError(what, caller.reason));
    }
    const own = this.timeoutFor(op);
    let ms = own;
    const budget = currentCallBudget();
    if (budget) {
      budget.start(own);
      const left = budget.remainingMs()!;
      if (left < 1) {
        return Promise.reject(
          new DriverTransientError(`timed out: the operation's ${budget.totalMs} ms were spent before ${what}`, {
            operation: op,
            subject,
            timeoutMs: budget.totalMs,
            timedOut: true,
          }),
        );
      }
      ms = Math.min(own, Math.ceil(left));
      budget.calls++;
    }
    /** The bound that applies: the operation's budget when there is one, else this call's timeout. */
    const bound = budget?.totalMs ?? ms;
    const deadline = new AbortController();
    const signal = caller ? AbortSignal.any([caller, deadline.signal]) : deadline.signal;

    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const settle = (finish: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        caller?.removeEventListener('abort', onCallerAbort);
        finish();
      };
      const onCallerAbort = (): void => settle(() => reject(abortedError(what, caller?.reason)));
      const timer = setTimeout(() => {
        const why = ms < own ? `timed out after ${ms} ms (the rest of the operation's ${bound} ms)` : `timed out after ${ms} ms`;
        const err = new DriverTransientError(`${why}: ${what}`, {
          operation: op,
          subject,
          timeoutMs: bound,
          timedOut: true,
        });
        settle(() => reject(err));
        deadline.abort(err);
      }, ms);
      caller?.addEventListener('abort', onCallerAbort, { once: true });

      let pending: Promise<T>;
      try {
        pending = call({ ...options, signal });
      } catch (err) {
        // A driver that throws synchronously still gets a rejected promise, not an exception.
        settle(() => reject(err));
        return;
      }
      pending.then(
        (value) => settle(() => resolve(value)),
        (err: unknown) => settle(() => reject(err)),
      );
    });
  }
}

function checkTimeout(ms: number, what: string): number {
  if (!Number.isFinite(ms) || ms <= 0 || ms > 2_147_483_647) {
    throw new RangeError(`${what} must be a positive number of milliseconds (got ${ms})`);
  }
  return ms;
}
