/**
 * The claim ledger: leases of volumes by tasks on agents (DESIGN §3). One live RW claim per volume,
 * RO claims share only with RO claims. A claim attaches through the driver with the agent's instance
 * ID; a release detaches. Every transition is persisted (with its intent, where it calls the driver)
 * and emitted.
 *
 * The single-writer rule holds because every operation on a volume runs in that volume's slot of
 * the shared KeyedSerialQueue: the check and the insert of a claim happen with no other operation
 * on that volume in between, and the insert is a compare-and-set (`expectVersion: 0`) in the store.
 */
import { randomUUID } from 'node:crypto';
import { DriverNotFoundError } from '../../drivers/errors';
import type { DriverVolume, StorageDriver } from '../../drivers/storage-driver';
import { ConflictError } from '../errors/conflict-error';
import { ForbiddenError } from '../errors/forbidden-error';
import { NotFoundError } from '../errors/not-found-error';
import { Logger, silentLogger } from '../shared/logger';
import { claimByVolumeKey, claimKey, PREFIXES } from '../state/keys';
import { scanAllValues } from '../state/scan-all';
import type { BatchOperation, Store } from '../state/store';
import {
  checkClaimRequest,
  checkIdText,
  checkReason,
  ClaimMode,
  ClaimRecord,
  ClaimRequest,
  ClaimState,
  compatible,
  isLive,
} from './claim-record';
import { ClaimFence } from './claim-fence';
import { crashPoint } from './crash-points';
import { IntentLog, IntentRecord } from './intent-log';
import type { KeyedSerialQueue } from './keyed-queue';
import { MultiIndex } from './multi-index';
import { retryTransient, RetryOptions } from './retry';
import type { ServiceRegistry } from './service-registry';
import { StorageEvents } from './storage-events';
import { sharedStrings } from './string-pool';
import { errorMessage, sameInstance, toPollyError } from './storage-errors';
import type { StagedVolumeChange, VolumeCatalog } from './volume-catalog';
import { serviceOf } from './volume-id';
import type { VolumeRecord } from './volume-record';

export interface ReleaseOptions {
  reason?: string;
}

export interface ClaimFilter {
  volumeId?: string;
  scheduler?: string;
  taskId?: string;
  agentId?: string;
  state?: ClaimState;
  /** Only live claims (pending, attaching, attached, releasing). */
  live?: boolean;
}

export interface ClaimLedgerOptions {
  store: Store;
  registry: ServiceRegistry;
  catalog: VolumeCatalog;
  queue: KeyedSerialQueue;
  intents: IntentLog;
  events: StorageEvents;
  logger?: Logger;
  retry?: RetryOptions;
}

/**
 * The outcome of a repair run by recovery. `kept`: the claim was left live as it was, because its
 * volume is missing (from the catalog or the backend) and its task may still run.
 */
export type RepairOutcome = 'attached' | 'released' | 'failed' | 'unchanged' | 'kept';

const EVENT_FOR: Record<ClaimState, `claim.${ClaimState}`> = {
  pending: 'claim.pending',
  attaching: 'claim.attaching',
  attached: 'claim.attached',
  releasing: 'claim.releasing',
  released: 'claim.released',
  failed: 'claim.failed',
};

/**
 * Loaded records repeat timestamps: the first transition happens at `createdAt` and the last at
 * `updatedAt`. JSON.parse makes a new string for each; pointing equal ones at one string saves
 * ~40 bytes each across 50,000+ claims held in memory. Agent and instance IDs are pooled. The
 * claim's volume ID and its own ID are held by its volume's record already (its `id`, and the
 * `claimId` of the attachment the claim made), when the catalog is loaded first: one string each
 * instead of two (~60 bytes a claim), and the ledger's indexes, keyed by the very strings the
 * catalog's records hold, find them by identity rather than by comparing characters.
 */
function shareStrings(claim: ClaimRecord, volume: VolumeRecord | undefined): ClaimRecord {
  if (claim.updatedAt === claim.createdAt) claim.updatedAt = claim.createdAt;
  // Repeated across claims and often long (Mesos agent IDs): pooled (string-pool.ts).
  claim.agentId = sharedStrings.intern(claim.agentId);
  claim.instanceId = sharedStrings.intern(claim.instanceId);
  for (const h of claim.history) {
    if (h.at === claim.createdAt) h.at = claim.createdAt;
    else if (h.at === claim.updatedAt) h.at = claim.updatedAt;
  }
  if (volume !== undefined) {
    claim.volumeId = volume.id;
    const attachment = volume.attachments.find((a) => a.claimId === claim.id);
    if (attachment !== undefined) claim.id = attachment.claimId;
  }
  return claim;
}

/** The key of `liveOnAgent`. */
function agentServiceKey(agentId: string, service: string): string {
  return `${agentId}\u0000${service}`;
}

function freeze(claim: ClaimRecord): ClaimRecord {
  for (const h of claim.history) Object.freeze(h);
  Object.freeze(claim.history);
  return Object.freeze(claim);
}

/** A claim's next record, the store operations that write it, and what makes it current in memory once they are written. */
export interface StagedClaim {
  record: ClaimRecord;
  ops: BatchOperation[];
  commit(): void;
}

export class ClaimLedger {
  private readonly store: Store;
  private readonly registry: ServiceRegistry;
  private readonly catalog: VolumeCatalog;
  private readonly queue: KeyedSerialQueue;
  private readonly intents: IntentLog;
  private readonly events: StorageEvents;
  private readonly logger: Logger;
  private readonly retry: RetryOptions;
  private readonly claims = new Map<string, ClaimRecord>();
  /** Live claims only. */
  private readonly liveByVolume = new MultiIndex();
  private readonly liveByTask = new MultiIndex();
  private readonly liveByAgent = new MultiIndex();
  /**
   * Live claims per agent and service (`<agentId>\0<service>`): attach limits are checked for
   * offers many times per OFFERS event, and listing an agent's claims for each grows with them.
   */
  private readonly liveOnAgent = new Map<string, number>();
  /** Claims per state, kept as they change: /metrics asks on every scrape. */
  private readonly stateCounts = new Map<ClaimState, number>();
  /** Force-releases many claims at once (an agent Mesos removed). */
  private readonly fence: ClaimFence;

  constructor(options: ClaimLedgerOptions) {
    this.store = options.store;
    this.registry = options.registry;
    this.catalog = options.catalog;
    this.queue = options.queue;
    this.intents = options.intents;
    this.events = options.events;
    this.logger = options.logger ?? silentLogger;
    this.retry = options.retry ?? {};
    this.catalog.setLiveClaimCheck((volumeId) => this.liveClaims(volumeId)[0]);
    this.fence = new ClaimFence({
      store: this.store,
      registry: this.registry,
      catalog: this.catalog,
      queue: this.queue,
      intents: this.intents,
      logger: this.logger,
      retry: this.retry,
      find: (id) => this.claims.get(id),
      stage: (claim, state, reason, forced) => this.stage(claim, state, reason, forced),
      liveClaims: (volumeId) => this.liveClaims(volumeId),
      audit: (claim, by) => this.audit(claim, by),
    });
  }

  /**
   * Loads every claim with one prefix scan (after the catalog's load: see shareStrings); `batches`
   * is that scan when the caller started it already (readAhead).
   */
  async load(batches: AsyncIterable<ClaimRecord[]> = scanAllValues<ClaimRecord>(this.store, PREFIXES.claims)): Promise<number> {
    this.claims.clear();
    this.liveByVolume.clear();
    this.liveByTask.clear();
    this.liveByAgent.clear();
    this.liveOnAgent.clear();
    this.stateCounts.clear();
    for await (const batch of batches) {
      for (const claim of batch) this.index(freeze(shareStrings(claim, this.catalog.find(claim.volumeId))));
    }
    return this.claims.size;
  }

  get size(): number {
    return this.claims.size;
  }

  find(id: string): ClaimRecord | undefined {
    return this.claims.get(id);
  }

  get(id: string): ClaimRecord {
    const claim = this.claims.get(id);
    if (!claim) throw new NotFoundError(`Claim ${JSON.stringify(String(id).slice(0, 300))} not found`, { claimId: id });
    return claim;
  }

  liveClaims(volumeId: string): ClaimRecord[] {
    const ids = this.liveByVolume.get(volumeId);
    const out: ClaimRecord[] = [];
    for (const id of ids) out.push(this.claims.get(id)!);
    return out;
  }

  /** How many live claims hold `volumeId` (no array built: recovery asks for every volume). */
  liveCount(volumeId: string): number {
    return this.liveByVolume.count(volumeId);
  }

  /** How many live claims hold volumes of `service` on `agentId` (O(1): no list is built). */
  liveCountOnAgent(agentId: string, service: string): number {
    return this.liveOnAgent.get(agentServiceKey(agentId, service)) ?? 0;
  }

  /** How many claims (live and finished) are in each state. */
  countByState(): Partial<Record<ClaimState, number>> {
    return Object.fromEntries(this.stateCounts) as Partial<Record<ClaimState, number>>;
  }

  /** IDs of volumes with at least one live claim. */
  claimedVolumeIds(): string[] {
    return [...this.liveByVolume.keys()];
  }

  list(filter: ClaimFilter = {}): ClaimRecord[] {
    let candidates: Iterable<string>;
    if (filter.volumeId !== undefined && (filter.live || (filter.state !== undefined && isLive({ state: filter.state })))) {
      candidates = this.liveByVolume.get(filter.volumeId);
    } else if (filter.taskId !== undefined && filter.live) candidates = this.liveByTask.get(filter.taskId);
    else if (filter.agentId !== undefined && filter.live) candidates = this.liveByAgent.get(filter.agentId);
    else candidates = this.claims.keys();
    const out: ClaimRecord[] = [];
    for (const id of candidates) {
      const c = this.claims.get(id);
      if (!c) continue;
      if (filter.volumeId !== undefined && c.volumeId !== filter.volumeId) continue;
      if (filter.scheduler !== undefined && c.scheduler !== filter.scheduler) continue;
      if (filter.taskId !== undefined && c.taskId !== filter.taskId) continue;
      if (filter.agentId !== undefined && c.agentId !== filter.agentId) continue;
      if (filter.state !== undefined && c.state !== filter.state) continue;
      if (filter.live && !isLive(c)) continue;
      out.push(c);
    }
    return out;
  }

  /**
   * Claims a volume for a task and attaches it to the agent. Resolves with the attached claim;
   * refusals (Forbidden, Conflict) write nothing; an attach failure leaves the claim `failed`.
   */
  async claim(request: ClaimRequest): Promise<ClaimRecord> {
    const req = checkClaimRequest(request);
    return this.queue.run(req.volumeId, async () => {
      const volume = this.catalog.get(req.volumeId);
      if (!req.admin && (req.scheduler === undefined || !volume.schedulers.includes(req.scheduler))) {
        throw new ForbiddenError(`Volume ${volume.id} is not offered to scheduler ${JSON.stringify(req.scheduler)}`, {
          volumeId: volume.id,
          scheduler: req.scheduler,
        });
      }
      if (volume.status === 'removing' || volume.status === 'missing') {
        throw new ConflictError(`Volume ${volume.id} cannot be claimed: it is ${volume.status}`, {
          volumeId: volume.id,
          status: volume.status,
        });
      }
      for (const holder of this.liveClaims(volume.id)) {
        if (!compatible(req.mode, holder)) {
          throw new ConflictError(
            `Volume ${volume.id} is held ${holder.mode} by claim ${holder.id} (task ${holder.taskId ?? '-'}, agent ${holder.agentId}); ` +
              `a ${req.mode} claim cannot share it`,
            { volumeId: volume.id, claimId: holder.id, taskId: holder.taskId, agentId: holder.agentId, mode: holder.mode },
          );
        }
      }
      const now = new Date().toISOString();
      const record: ClaimRecord = {
        id: randomUUID(),
        volumeId: volume.id,
        agentId: req.agentId,
        instanceId: req.instanceId,
        mode: req.mode,
        state: 'pending',
        createdAt: now,
        updatedAt: now,
        history: [{ state: 'pending', at: now }],
      };
      if (req.scheduler !== undefined) record.scheduler = req.scheduler;
      if (req.frameworkId !== undefined) record.frameworkId = req.frameworkId;
      if (req.taskId !== undefined) record.taskId = req.taskId;
      const pending = freeze(record);
      // One write: the claim (compare-and-set: it must not exist) goes straight in as `attaching`,
      // with its volume index entry and the attach intent, all before the driver is called. A crash
      // before this write leaves nothing; after it, recovery settles the intent.
      crashPoint('attach', 'before-intent');
      const attaching = this.stage(pending, 'attaching');
      const intent = await this.intents.begin(
        {
          kind: 'attach',
          key: pending.id,
          service: volume.service,
          volumeId: volume.id,
          claimId: pending.id,
          payload: { driverVolumeId: volume.driverVolumeId, instanceId: pending.instanceId, mode: pending.mode },
        },
        [
          { type: 'put', key: claimKey(pending.id), value: attaching.record, expectVersion: 0 },
          { type: 'put', key: claimByVolumeKey(pending.volumeId, pending.id), value: pending.id },
        ],
      );
      this.index(pending);
      this.events.publish('claim.pending', { claim: pending });
      this.logger.info('claim pending', this.fields(pending));
      attaching.commit();
      crashPoint('attach', 'after-intent');
      return this.attachUnderIntent(attaching.record, volume, intent, true);
    });
  }

  /** Releases a claim: detaches from its agent and marks it released. Idempotent for finished claims. */
  async release(claimId: string, options: ReleaseOptions = {}): Promise<ClaimRecord> {
    checkIdText(claimId, 'claimId');
    const reason = checkReason(options.reason, false);
    return this.releaseOne(claimId, reason, false);
  }

  /**
   * Operator (or fencing) release: a reason is required, the detach is forced, the claim is marked
   * `forced`, and an audit event is emitted naming `by` (who asked) when given.
   */
  async forceRelease(claimId: string, reason: string, by?: string): Promise<ClaimRecord> {
    checkIdText(claimId, 'claimId');
    const why = checkReason(reason, true)!;
    return this.releaseOne(claimId, why, true, by);
  }

  /** The task is terminal: release its live claims. */
  async releaseForTask(taskId: string, options: ReleaseOptions = {}): Promise<ClaimRecord[]> {
    checkIdText(taskId, 'taskId');
    const reason = checkReason(options.reason, false) ?? `task ${taskId} is terminal`;
    const ids = [...this.liveByTask.get(taskId)];
    return Promise.all(ids.map((id) => this.releaseOne(id, reason, false)));
  }

  /**
   * Fencing: the agent is gone (Mesos removed it), so its claims are force-released, all at once —
   * a few store batches, not two writes per claim (claim-fence.ts). Claims whose fence is under way
   * already are joined, not released again.
   */
  async releaseForAgent(agentId: string, reason: string, by?: string): Promise<ClaimRecord[]> {
    checkIdText(agentId, 'agentId');
    const why = checkReason(reason, true)!;
    return this.fence.fence([...this.liveByAgent.get(agentId)], why, by);
  }

  /**
   * Deletes finished claims (and their volume index entries) from the store, then forgets them;
   * IDs that are unknown or live are skipped. Finished claims never change again, so no queue slot
   * is needed. Returns how many were pruned.
   */
  async pruneFinished(ids: readonly string[], chunk = 500): Promise<number> {
    let pruned = 0;
    for (let i = 0; i < ids.length; i += chunk) {
      const claims: ClaimRecord[] = [];
      for (const id of ids.slice(i, i + chunk)) {
        const claim = this.claims.get(id);
        if (claim && !isLive(claim)) claims.push(claim);
      }
      if (claims.length === 0) continue;
      await this.store.batch(
        claims.flatMap((c): BatchOperation[] => [
          { type: 'del', key: claimKey(c.id) },
          { type: 'del', key: claimByVolumeKey(c.volumeId, c.id) },
        ]),
      );
      for (const c of claims) {
        this.claims.delete(c.id);
        this.countState(c.state, -1);
      }
      pruned += claims.length;
    }
    return pruned;
  }

  // ---- repairs used by recovery; the caller runs them in the volume's queue slot ----

  /**
   * A live claim that should be attached (pending/attaching after a crash, or attached but missing
   * on the backend): attach again (idempotent) and mark it attached, or mark it failed. When the
   * volume itself is missing (no catalog record, or the backend has no such volume) the claim is
   * kept as it is (its task may still run) and the intent, if any, is closed: `kept`.
   */
  async repairAttach(claimId: string, intent: IntentRecord | undefined): Promise<RepairOutcome> {
    const claim = this.get(claimId);
    const volume = this.catalog.find(claim.volumeId);
    if (!volume && isLive(claim) && claim.state !== 'releasing') {
      if (intent) await this.intents.resolve(intent.id);
      this.logger.warn('claim kept: its volume is not in the catalog', this.fields(claim));
      return 'kept';
    }
    if (!volume || !isLive(claim) || claim.state === 'releasing') {
      return this.rollbackAttach(intent, claim);
    }
    let open = intent;
    let current = claim;
    if (!open) {
      const attaching = current.state === 'attaching' ? undefined : this.stage(current, 'attaching', 'recovery: attaching again');
      open = await this.intents.begin(this.attachIntent(current, volume), attaching?.ops ?? []);
      attaching?.commit();
      current = attaching?.record ?? current;
    }
    try {
      const done = await this.attachUnderIntent(current, volume, open, false, true);
      if (done === 'volume-missing') return 'kept';
      return done.state === 'attached' ? 'attached' : 'failed';
    } catch {
      return 'failed';
    }
  }

  /**
   * An attach intent whose claim is gone or finished: make sure the backend does not keep the
   * attachment (unless another live claim shares the instance), fail the claim if still live.
   */
  async rollbackAttach(intent: IntentRecord | undefined, claim: ClaimRecord | undefined): Promise<RepairOutcome> {
    const volumeId = claim?.volumeId ?? intent?.volumeId;
    const instanceId = claim?.instanceId ?? (intent?.payload.instanceId as string | undefined);
    const volume = volumeId === undefined ? undefined : this.catalog.find(volumeId);
    if (volume && instanceId !== undefined && !this.sharedInstance(volume.id, instanceId, claim?.id)) {
      const driver = this.registry.get(volume.service).driver;
      try {
        await retryTransient(() => driver.volumeDetach(volume.driverVolumeId, { id: instanceId }, { force: true }), this.retry);
      } catch (err) {
        if (!(err instanceof DriverNotFoundError)) {
          this.logger.error('recovery could not detach after an interrupted attach; will retry', {
            volumeId: volume.id,
            claimId: claim?.id,
            error: errorMessage(err),
          });
          return 'unchanged';
        }
      }
    }
    const ops: BatchOperation[] = [];
    let staged: StagedClaim | undefined;
    let volumeChange: StagedVolumeChange | undefined;
    if (claim && isLive(claim)) {
      staged = this.stage(claim, 'failed', 'interrupted before the attach completed');
      ops.push(...staged.ops);
      volumeChange = this.volumeWithout(claim);
      if (volumeChange) ops.push(...volumeChange.ops);
    }
    if (intent) await this.intents.resolve(intent.id, ops);
    else if (ops.length > 0) await this.store.batch(ops);
    staged?.commit();
    volumeChange?.commit();
    return staged ? 'failed' : 'unchanged';
  }

  /** A claim being released (or a detach intent): detach (idempotent) and mark it released. */
  async repairDetach(claimId: string | undefined, intent: IntentRecord | undefined): Promise<RepairOutcome> {
    const claim = claimId === undefined ? undefined : this.claims.get(claimId);
    if (!claim || !isLive(claim)) {
      if (intent) await this.intents.resolve(intent.id);
      return 'unchanged';
    }
    const forced = intent ? intent.payload.force === true : claim.forced === true;
    try {
      const result = await this.detachUnderIntent(claim, intent, claim.reason, forced);
      if (result.state !== 'released') return 'unchanged';
      // A force-release (fencing, an operator) cut short by a crash: audited now that it is done.
      if (forced && intent) this.audit(result, typeof intent.payload.by === 'string' ? intent.payload.by : undefined);
      return 'released';
    } catch {
      return 'unchanged';
    }
  }

  /** A pending claim with no intent never reached the driver: it failed. */
  async failClaim(claimId: string, reason: string): Promise<void> {
    const claim = this.get(claimId);
    if (!isLive(claim)) return;
    const staged = this.stage(claim, 'failed', reason);
    const volumeChange = this.volumeWithout(claim);
    await this.store.batch([...staged.ops, ...(volumeChange?.ops ?? [])]);
    staged.commit();
    volumeChange?.commit();
  }

  /** Makes the volume record's attachments list exactly the attached live claims (recovery). */
  async syncVolumeAttachments(volumeId: string): Promise<boolean> {
    const volume = this.catalog.find(volumeId);
    if (!volume) return false;
    const attached = this.liveClaims(volumeId).filter((c) => c.state === 'attached');
    const want = new Set(attached.map((c) => c.id));
    const have = new Set(volume.attachments.map((a) => a.claimId));
    if (want.size === have.size && [...want].every((id) => have.has(id))) return false;
    const staged = this.catalog.stageUpdate(volumeId, (d) => {
      d.attachments = attached.map((c) => {
        const old = volume.attachments.find((a) => a.claimId === c.id);
        return old ?? { claimId: c.id, instanceId: c.instanceId, agentId: c.agentId, mode: c.mode, attachedAt: c.updatedAt };
      });
    });
    await this.store.batch(staged.ops);
    staged.commit();
    return true;
  }

  /** True when another live claim of the volume (not `exceptClaimId`) uses the same instance. */
  sharedInstance(volumeId: string, instanceId: string, exceptClaimId?: string): boolean {
    return this.liveClaims(volumeId).some((c) => c.id !== exceptClaimId && sameInstance(c.instanceId, instanceId));
  }

  // ---- internals ----

  private attachIntent(claim: ClaimRecord, volume: VolumeRecord) {
    return {
      kind: 'attach' as const,
      key: claim.id,
      service: volume.service,
      volumeId: volume.id,
      claimId: claim.id,
      payload: { driverVolumeId: volume.driverVolumeId, instanceId: claim.instanceId, mode: claim.mode },
    };
  }

  /**
   * Runs the attach under an open intent and records the outcome (attached, or failed). For a
   * repair (`keepIfMissing`), a backend that has no such volume leaves the claim as it is, closes
   * the intent and answers `volume-missing`: the claim's task may still run.
   */
  private async attachUnderIntent(
    claim: ClaimRecord,
    volume: VolumeRecord,
    intent: IntentRecord,
    throwOnFailure: boolean,
  ): Promise<ClaimRecord>;
  private async attachUnderIntent(
    claim: ClaimRecord,
    volume: VolumeRecord,
    intent: IntentRecord,
    throwOnFailure: boolean,
    keepIfMissing: true,
  ): Promise<ClaimRecord | 'volume-missing'>;
  private async attachUnderIntent(
    claim: ClaimRecord,
    volume: VolumeRecord,
    intent: IntentRecord,
    throwOnFailure: boolean,
    keepIfMissing = false,
  ): Promise<ClaimRecord | 'volume-missing'> {
    const driver = this.registry.get(volume.service).driver;
    try {
      await retryTransient(() => driver.volumeAttach(volume.driverVolumeId, { id: claim.instanceId }, { readOnly: claim.mode === 'RO' }), {
        ...this.retry,
        onRetry: (attempt, err, delayMs) =>
          this.logger.warn('attach timed out; retrying', { ...this.fields(claim), attempt, delayMs, error: err.message }),
      });
    } catch (err) {
      if (keepIfMissing && err instanceof DriverNotFoundError) {
        await this.intents.resolve(intent.id);
        this.logger.warn('claim kept: its volume is missing on the backend', { ...this.fields(claim), state: claim.state });
        return 'volume-missing';
      }
      const failed = await this.failAttach(claim, volume, driver, intent, err);
      if (throwOnFailure) {
        const polly = toPollyError(err);
        throw Object.assign(polly, { details: { ...(polly.details ?? {}), claimId: failed.id, volumeId: volume.id } });
      }
      return failed;
    }
    crashPoint('attach', 'after-driver');
    const attached = this.stage(claim, 'attached');
    const volumeChange = this.catalog.stageUpdate(volume.id, (d) => {
      d.attachments = [
        ...d.attachments.filter((a) => a.claimId !== claim.id),
        {
          claimId: claim.id,
          instanceId: claim.instanceId,
          agentId: claim.agentId,
          mode: claim.mode,
          attachedAt: attached.record.updatedAt,
        },
      ];
      // An attachment to this instance that no claim accounted for is this claim's from now on.
      if (d.foreignAttachments) {
        const kept = d.foreignAttachments.filter((a) => !sameInstance(a.instanceId, claim.instanceId));
        if (kept.length > 0) d.foreignAttachments = kept;
        else delete d.foreignAttachments;
      }
    });
    await this.intents.resolve(intent.id, [...attached.ops, ...volumeChange.ops]);
    attached.commit();
    volumeChange.commit();
    crashPoint('attach', 'after-resolve');
    this.logger.info('claim attached', this.fields(attached.record));
    return attached.record;
  }

  /**
   * The attach failed. Leave the backend as it was: if the driver shows the volume attached to this
   * instance (a timed-out attach that did happen), detach it, unless another live claim shares it.
   */
  private async failAttach(
    claim: ClaimRecord,
    volume: VolumeRecord,
    driver: StorageDriver,
    intent: IntentRecord,
    cause: unknown,
  ): Promise<ClaimRecord> {
    const reason = `attach failed: ${errorMessage(cause)}`.slice(0, 1024);
    let settled = true;
    try {
      const dv: DriverVolume = await retryTransient(() => driver.volumeInspect(volume.driverVolumeId), this.retry);
      // A backend that cannot say where the volume is attached gets the (idempotent) detach anyway.
      const ours = dv.attachmentsUnknown === true || dv.attachments.some((a) => sameInstance(a.instanceId.id, claim.instanceId));
      if (ours && !this.sharedInstance(volume.id, claim.instanceId, claim.id)) {
        await retryTransient(() => driver.volumeDetach(volume.driverVolumeId, { id: claim.instanceId }), this.retry);
      }
    } catch (err) {
      // Unknown backend state: the intent stays open and recovery settles it.
      settled = err instanceof DriverNotFoundError;
    }
    const failed = this.stage(claim, 'failed', reason);
    if (settled) await this.intents.resolve(intent.id, failed.ops);
    else await this.store.batch(failed.ops);
    failed.commit();
    this.logger.warn('claim failed', { ...this.fields(failed.record), reason, intentOpen: !settled });
    return failed.record;
  }

  private async releaseOne(claimId: string, reason: string | undefined, force: boolean, by?: string): Promise<ClaimRecord> {
    const first = this.get(claimId);
    // Being fenced with its agent's other claims: released once, by the fence.
    const fencing = this.fence.joining(claimId);
    if (fencing) return fencing;
    return this.queue.run(first.volumeId, async () => {
      const claim = this.get(claimId);
      if (!isLive(claim)) return claim; // released or failed already: nothing to do
      crashPoint('detach', 'before-intent');
      const result = await this.detachUnderIntent(claim, undefined, reason, force, by);
      if (force) this.audit(result, by);
      return result;
    });
  }

  /** A force-release is done: logged and published as `claim.audit`, naming who asked when known. */
  private audit(claim: ClaimRecord, by: string | undefined): void {
    const reason = claim.reason ?? '';
    this.logger.warn('claim force-released', { ...this.fields(claim), reason, ...(by ? { by } : {}) });
    this.events.publish('claim.audit', { claim, action: 'force-release', reason, at: claim.updatedAt, ...(by ? { by } : {}) });
  }

  /**
   * Marks the claim releasing under a detach intent (a new one unless `intent` is given), detaches
   * unless another live claim shares the instance, then marks it released. A definite detach failure
   * leaves the claim `releasing` (still live: the volume may still be attached) and throws.
   */
  private async detachUnderIntent(
    claim: ClaimRecord,
    intent: IntentRecord | undefined,
    reason: string | undefined,
    force: boolean,
    by?: string,
  ): Promise<ClaimRecord> {
    const volume = this.catalog.find(claim.volumeId);
    let current = claim;
    let open = intent;
    if (!open) {
      const releasing = this.stage(current, 'releasing', reason, force);
      open = await this.intents.begin(
        {
          kind: 'detach',
          key: claim.id,
          service: volume?.service ?? '',
          volumeId: claim.volumeId,
          claimId: claim.id,
          // `by`: who asked, for the audit event if recovery has to finish the release.
          payload: { driverVolumeId: volume?.driverVolumeId, instanceId: claim.instanceId, force, ...(by ? { by } : {}) },
        },
        releasing.ops,
      );
      releasing.commit();
      current = releasing.record;
    }
    crashPoint('detach', 'after-intent');
    if (volume && !this.sharedInstance(volume.id, claim.instanceId, claim.id)) {
      const driver = this.registry.get(volume.service).driver;
      try {
        await retryTransient(() => driver.volumeDetach(volume.driverVolumeId, { id: claim.instanceId }, { force }), {
          ...this.retry,
          onRetry: (attempt, err, delayMs) =>
            this.logger.warn('detach timed out; retrying', { ...this.fields(claim), attempt, delayMs, error: err.message }),
        });
      } catch (err) {
        if (!(err instanceof DriverNotFoundError)) {
          // The claim stays `releasing` (live: the volume may still be attached); that state is the
          // record of the unfinished detach, so the intent is closed and a retry or reconciliation
          // detaches again.
          await this.intents.resolve(open.id);
          this.logger.error('detach failed; the claim stays releasing', { ...this.fields(claim), error: errorMessage(err) });
          throw toPollyError(err);
        }
        // The backend has no such volume: nothing is attached.
      }
    }
    crashPoint('detach', 'after-driver');
    const released = this.stage(current, 'released', reason, force);
    const volumeChange = this.volumeWithout(claim);
    await this.intents.resolve(open.id, [...released.ops, ...(volumeChange?.ops ?? [])]);
    released.commit();
    volumeChange?.commit();
    crashPoint('detach', 'after-resolve');
    this.logger.info('claim released', { ...this.fields(released.record), reason, forced: force });
    return released.record;
  }

  /** The volume record without this claim's attachment (undefined when there is nothing to change). */
  private volumeWithout(claim: ClaimRecord): StagedVolumeChange | undefined {
    const volume = this.catalog.find(claim.volumeId);
    if (!volume || !volume.attachments.some((a) => a.claimId === claim.id)) return undefined;
    return this.catalog.stageUpdate(volume.id, (d) => {
      d.attachments = d.attachments.filter((a) => a.claimId !== claim.id);
    });
  }

  private stage(claim: ClaimRecord, state: ClaimState, reason?: string, forced?: boolean): StagedClaim {
    const at = new Date().toISOString();
    const next: ClaimRecord = {
      ...claim,
      state,
      updatedAt: at,
      history: [...claim.history, reason === undefined ? { state, at } : { state, at, reason }],
    };
    if (reason !== undefined) next.reason = reason;
    if (forced) next.forced = true;
    const record = freeze(next);
    return {
      record,
      ops: [{ type: 'put', key: claimKey(record.id), value: record }],
      commit: () => {
        const before = this.claims.get(record.id);
        if (before) this.unindex(before);
        this.index(record);
        this.events.publish(EVENT_FOR[state], { claim: record });
      },
    };
  }

  private index(claim: ClaimRecord): void {
    this.claims.set(claim.id, claim);
    this.countState(claim.state, 1);
    if (!isLive(claim)) return;
    this.liveByVolume.add(claim.volumeId, claim.id);
    this.liveByTask.add(claim.taskId, claim.id);
    this.liveByAgent.add(claim.agentId, claim.id);
    const key = agentServiceKey(claim.agentId, serviceOf(claim.volumeId));
    this.liveOnAgent.set(key, (this.liveOnAgent.get(key) ?? 0) + 1);
  }

  /** Takes a claim's entries out of the indexes (the caller replaces or forgets its record). */
  private unindex(claim: ClaimRecord): void {
    this.countState(claim.state, -1);
    if (!isLive(claim)) return;
    this.liveByVolume.remove(claim.volumeId, claim.id);
    this.liveByTask.remove(claim.taskId, claim.id);
    this.liveByAgent.remove(claim.agentId, claim.id);
    const key = agentServiceKey(claim.agentId, serviceOf(claim.volumeId));
    const left = (this.liveOnAgent.get(key) ?? 0) - 1;
    if (left > 0) this.liveOnAgent.set(key, left);
    else this.liveOnAgent.delete(key);
  }

  private countState(state: ClaimState, delta: number): void {
    const n = (this.stateCounts.get(state) ?? 0) + delta;
    if (n > 0) this.stateCounts.set(state, n);
    else this.stateCounts.delete(state);
  }

  private fields(claim: ClaimRecord): Record<string, unknown> {
    return {
      claimId: claim.id,
      volumeId: claim.volumeId,
      scheduler: claim.scheduler,
      taskId: claim.taskId,
      agentId: claim.agentId,
      mode: claim.mode as ClaimMode,
    };
  }
}
