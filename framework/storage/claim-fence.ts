/**
 * Fencing many claims at once (DESIGN §4 fencing): when Mesos removes an agent, every claim on it
 * is force-released — with a thousand volumes on the agent, as a few store batches instead of two
 * writes per claim.
 *
 * The claims go in chunks of at most FENCE_CHUNK (one volume's claims always in one chunk), all
 * queued at once. A chunk holds the queue slots of all its volumes for its whole run
 * (`runExclusive`: nothing else touches them meanwhile — the single-writer rule, as for any
 * release), and:
 *  1. writes every claim's `releasing` record with its detach intent in ONE store batch;
 *  2. detaches through the drivers, once per volume and instance, each detach under a call budget
 *     of its own (the service's timeout, retries included) — at most `parallel` detaches at once
 *     across the fence's chunks;
 *  3. records every outcome in ONE more batch — `released` with the volume's attachment gone, the
 *     intent resolved — and emits each claim's `claim.audit` (reason and who) and its log line.
 * A crash at any point leaves each claim attached (no intent yet: fenced again when Polly hears
 * again that the agent is gone) or `releasing` under its open intent, which recovery finishes as it
 * finishes any detach. A definite detach failure leaves that claim `releasing` (live: the volume
 * may still be attached) with its intent closed, as a single release does; fencing again retries it.
 *
 * A claim is released once: while its fence is under way, a release or force-release of it (its
 * task's end, an operator) joins the fence and gets its outcome (ClaimLedger.releaseOne asks
 * `joining`). A release queued before the fence began runs first, in the volume's slot, and the
 * fence then finds the claim finished and leaves it.
 */
import { withCallBudget } from '../../drivers/call-budget';
import { DriverNotFoundError } from '../../drivers/errors';
import type { Logger } from '../shared/logger';
import type { BatchOperation, Store } from '../state/store';
import type { StagedClaim } from './claim-ledger';
import { ClaimMode, ClaimRecord, ClaimState, isLive } from './claim-record';
import { crashPoint } from './crash-points';
import type { IntentLog, IntentRecord } from './intent-log';
import type { KeyedSerialQueue } from './keyed-queue';
import { retryTransient, RetryOptions } from './retry';
import type { ServiceRegistry } from './service-registry';
import { errorMessage, sameInstance, toPollyError } from './storage-errors';
import type { StagedVolumeChange, VolumeCatalog } from './volume-catalog';
import type { VolumeRecord } from './volume-record';

/**
 * Claims per chunk: one store batch carries each one's record and intent (about 1.5 KB with a
 * Polly-made reason), well within a ZooKeeper multi (jute.maxbuffer: 1 MiB) and LevelDB's batches.
 */
export const FENCE_CHUNK = 200;

export interface ClaimFenceOptions {
  store: Store;
  registry: ServiceRegistry;
  catalog: VolumeCatalog;
  queue: KeyedSerialQueue;
  intents: IntentLog;
  logger: Logger;
  retry: RetryOptions;
  /** Detaches in flight at once, at most; default: the queue's concurrency. */
  parallel?: number;
  /** The ledger's current record of a claim. */
  find(claimId: string): ClaimRecord | undefined;
  /** The ledger's staged transition of a claim: its record, its store operations, and what commits it in memory. */
  stage(claim: ClaimRecord, state: ClaimState, reason?: string, forced?: boolean): StagedClaim;
  /** The live claims of a volume. */
  liveClaims(volumeId: string): ClaimRecord[];
  /** Logs and publishes a finished force-release (`claim.audit`). */
  audit(claim: ClaimRecord, by: string | undefined): void;
}

interface Pending {
  promise: Promise<ClaimRecord>;
  resolve(record: ClaimRecord): void;
  reject(reason: unknown): void;
}

/** A claim of the chunk being fenced: its `releasing` record and its intent. */
interface Member {
  releasing: StagedClaim;
  intent: IntentRecord;
  volume: VolumeRecord | undefined;
}

function pending(): Pending {
  let resolve!: (record: ClaimRecord) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<ClaimRecord>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Settled whether or not anyone joins; a joiner sees the rejection through its own handler.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** Runs functions at most `limit` at a time, in the order given. */
class Limiter {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running < this.limit) this.running++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve)); // a finishing run hands its place over
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}

export class ClaimFence {
  /** Claims being fenced now → their outcome. */
  private readonly inFlight = new Map<string, Pending>();
  private readonly parallel: number;

  constructor(private readonly options: ClaimFenceOptions) {
    this.parallel = options.parallel ?? options.queue.concurrency;
  }

  /** The outcome of the fence under way for this claim, if there is one. */
  joining(claimId: string): Promise<ClaimRecord> | undefined {
    return this.inFlight.get(claimId)?.promise;
  }

  /**
   * Force-releases the claims, with `reason` and `by` (who) in each one's audit event. Claims whose
   * fence is under way already are joined; claims finished by the time their chunk runs are left as
   * they are. Resolves with every claim's record, in the order given, once all are settled; rejects
   * with the first failure (after every chunk has run).
   */
  async fence(claimIds: readonly string[], reason: string, by?: string): Promise<ClaimRecord[]> {
    const { find } = this.options;
    // Registered at once, before any await: from here a release of one of them joins.
    const outcomes: Promise<ClaimRecord>[] = [];
    const byVolume = new Map<string, string[]>();
    for (const id of claimIds) {
      const joined = this.inFlight.get(id);
      if (joined) {
        outcomes.push(joined.promise);
        continue;
      }
      const claim = find(id);
      if (!claim || !isLive(claim)) {
        if (claim) outcomes.push(Promise.resolve(claim));
        continue;
      }
      const mine = pending();
      this.inFlight.set(id, mine);
      outcomes.push(mine.promise);
      const list = byVolume.get(claim.volumeId);
      if (list) list.push(id);
      else byVolume.set(claim.volumeId, [id]);
    }
    // Every chunk takes its place in its volumes' lines now, before work queued after this fence
    // (the relaunches it sets off); their detaches share one bound.
    const detaches = new Limiter(this.parallel);
    const chunks = chunksOf([...byVolume.values()], FENCE_CHUNK).map((chunk) =>
      // A chunk that fails settles its own claims (rejected); the others go on.
      this.fenceChunk(chunk, reason, by, detaches).catch(() => undefined),
    );
    await Promise.all(chunks);
    return Promise.all(outcomes);
  }

  /** One chunk, holding its volumes' slots from the first write to the last. */
  private fenceChunk(ids: readonly string[], reason: string, by: string | undefined, detaches: Limiter): Promise<void> {
    const volumeIds = new Set<string>();
    for (const id of ids) volumeIds.add(this.options.find(id)!.volumeId);
    return this.options.queue.runExclusive(volumeIds, async () => {
      try {
        await this.fenceHeld(ids, reason, by, detaches);
      } catch (err) {
        // Whatever was not settled failed with the chunk (a store write failed: see fenceHeld).
        for (const id of ids) this.fail(id, err);
        throw err;
      }
    });
  }

  private async fenceHeld(ids: readonly string[], reason: string, by: string | undefined, detaches: Limiter): Promise<void> {
    const { catalog, intents, store, find, stage } = this.options;
    const members: Member[] = [];
    const ops: BatchOperation[] = [];
    for (const id of ids) {
      const claim = find(id);
      // Released meanwhile (a release queued before the fence ran first): nothing to do.
      if (!claim || !isLive(claim)) {
        if (claim) this.settle(id, claim);
        else this.fail(id, new Error(`claim ${id} is not in the ledger`));
        continue;
      }
      const volume = catalog.find(claim.volumeId);
      const releasing = stage(claim, 'releasing', reason, true);
      const { intent, op } = intents.prepare({
        kind: 'detach',
        key: claim.id,
        service: volume?.service ?? '',
        volumeId: claim.volumeId,
        claimId: claim.id,
        // `by`: who asked, for the audit event if recovery has to finish the release.
        payload: { driverVolumeId: volume?.driverVolumeId, instanceId: claim.instanceId, force: true, ...(by ? { by } : {}) },
      });
      ops.push(op, ...releasing.ops);
      members.push({ releasing, intent, volume });
    }
    if (members.length === 0) return;
    crashPoint('detach', 'before-intent');
    await store.batch(ops);
    for (const m of members) m.releasing.commit();
    crashPoint('detach', 'after-intent');

    const failures = await this.detachAll(members, detaches);

    const outcome: BatchOperation[] = [];
    const released: StagedClaim[] = [];
    const freed = new Map<string, Set<string>>();
    for (const m of members) {
      outcome.push(intents.resolveOp(m.intent.id));
      if (failures.has(m)) continue; // stays `releasing`: the record of the unfinished detach
      const done = stage(m.releasing.record, 'released', reason, true);
      outcome.push(...done.ops);
      released.push(done);
      const volumeId = m.releasing.record.volumeId;
      const set = freed.get(volumeId);
      if (set) set.add(m.releasing.record.id);
      else freed.set(volumeId, new Set([m.releasing.record.id]));
    }
    // One change per volume, whichever of its claims it loses.
    const volumeChanges: StagedVolumeChange[] = [];
    for (const [volumeId, claimIds] of freed) {
      const volume = catalog.find(volumeId);
      if (!volume || !volume.attachments.some((a) => claimIds.has(a.claimId))) continue;
      const change = catalog.stageUpdate(volumeId, (d) => {
        d.attachments = d.attachments.filter((a) => !claimIds.has(a.claimId));
      });
      volumeChanges.push(change);
      outcome.push(...change.ops);
    }
    await store.batch(outcome);
    for (const done of released) done.commit();
    for (const change of volumeChanges) change.commit();
    crashPoint('detach', 'after-resolve');

    const { logger } = this.options;
    for (const done of released) {
      this.options.audit(done.record, by);
      this.settle(done.record.id, done.record);
    }
    for (const [m, err] of failures) {
      logger.error('detach failed; the claim stays releasing', { ...fields(m.releasing.record), error: errorMessage(err) });
      this.fail(m.releasing.record.id, toPollyError(err));
    }
    logger.info('claims fenced', { claims: members.length, released: released.length, failed: failures.size, reason, ...(by ? { by } : {}) });
  }

  /**
   * Detaches the members' volumes, once per volume and instance, unless another live claim (not
   * one being fenced with it) uses that instance too. Returns the members whose detach failed for
   * sure; a backend that has no such volume has nothing attached, which counts as done.
   */
  private async detachAll(members: readonly Member[], detaches: Limiter): Promise<Map<Member, unknown>> {
    const groups = new Map<string, Member[]>();
    const fenced = new Set<string>();
    for (const m of members) {
      const claim = m.releasing.record;
      fenced.add(claim.id);
      const key = `${claim.volumeId}\u0000${claim.instanceId.toLowerCase()}`;
      const group = groups.get(key);
      if (group) group.push(m);
      else groups.set(key, [m]);
    }
    const failures = new Map<Member, unknown>();
    await Promise.all(
      [...groups.values()].map((group) =>
        detaches.run(async () => {
          const { volume } = group[0];
          const claim = group[0].releasing.record;
          if (!volume || this.sharedOutside(volume.id, claim.instanceId, fenced)) return;
          try {
            const driver = this.options.registry.get(volume.service).driver;
            await withCallBudget(
              () =>
                retryTransient(() => driver.volumeDetach(volume.driverVolumeId, { id: claim.instanceId }, { force: true }), {
                  ...this.options.retry,
                  onRetry: (attempt, err, delayMs) =>
                    this.options.logger.warn('detach timed out; retrying', { ...fields(claim), attempt, delayMs, error: err.message }),
                }),
              { fresh: true },
            );
          } catch (err) {
            if (!(err instanceof DriverNotFoundError)) for (const m of group) failures.set(m, err);
          }
          crashPoint('detach', 'after-driver');
        }),
      ),
    );
    return failures;
  }

  /** True when a live claim of the volume that is not being fenced here uses the instance. */
  private sharedOutside(volumeId: string, instanceId: string, fenced: ReadonlySet<string>): boolean {
    return this.options.liveClaims(volumeId).some((c) => !fenced.has(c.id) && sameInstance(c.instanceId, instanceId));
  }

  /** The claim's fence is over: its record as it left it. */
  private settle(claimId: string, record: ClaimRecord): void {
    const waiting = this.inFlight.get(claimId);
    if (!waiting) return;
    this.inFlight.delete(claimId);
    waiting.resolve(record);
  }

  /** The claim's fence failed (a store write, or its detach). */
  private fail(claimId: string, err: unknown): void {
    const waiting = this.inFlight.get(claimId);
    if (!waiting) return;
    this.inFlight.delete(claimId);
    waiting.reject(err);
  }
}

/** Packs the volumes' claim lists into chunks of about `size` claims (one volume's never split). */
function chunksOf(lists: readonly string[][], size: number): string[][] {
  const chunks: string[][] = [];
  let current: string[] = [];
  for (const list of lists) {
    if (current.length > 0 && current.length + list.length > size) {
      chunks.push(current);
      current = [];
    }
    current.push(...list);
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

function fields(claim: ClaimRecord): Record<string, unknown> {
  return {
    claimId: claim.id,
    volumeId: claim.volumeId,
    scheduler: claim.scheduler,
    taskId: claim.taskId,
    agentId: claim.agentId,
    mode: claim.mode as ClaimMode,
  };
}
