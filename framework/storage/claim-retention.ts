/**
 * Retention of finished claims. A released or failed claim is the record of which task held a
 * volume on which agent, and when: kept for a while for operators, then pruned, so that the
 * ledger (in memory and in the store) does not grow with every claim ever made. At 1,000 claim
 * cycles a second that would be 3.6 million records an hour.
 *
 * A finished claim is pruned when it finished longer than `maxAgeMs` ago, or when more than
 * `maxKept` finished claims exist (oldest first). Live claims are never touched, nor finished ones
 * that an open intent still names (recovery reads them).
 */
import { Logger, silentLogger } from '../shared/logger';
import type { ClaimLedger } from './claim-ledger';
import { ClaimRecord, isLive } from './claim-record';
import type { IntentLog } from './intent-log';

export interface ClaimRetentionPolicy {
  /** Finished claims older than this are pruned, ms. */
  maxAgeMs: number;
  /** At most this many finished claims are kept (the newest). */
  maxKept: number;
}

export interface ClaimRetentionOptions extends ClaimRetentionPolicy {
  ledger: ClaimLedger;
  intents: IntentLog;
  logger?: Logger;
  /** How often the pruner runs once started, ms. */
  intervalMs: number;
  /** The first run, after start, ms (start-up is busy enough: recovery, reconciliation). */
  firstRunDelayMs: number;
}

export const DEFAULT_CLAIM_RETENTION: ClaimRetentionPolicy & Pick<ClaimRetentionOptions, 'intervalMs' | 'firstRunDelayMs'> = {
  maxAgeMs: 7 * 24 * 3600 * 1000,
  maxKept: 100_000,
  intervalMs: 10 * 60 * 1000,
  firstRunDelayMs: 60 * 1000,
};

export interface PruneResult {
  pruned: number;
  /** Finished claims left. */
  kept: number;
}

/** The finished claims the policy lets go, oldest first. Pure: no store, no clock. */
export function selectPrunable(
  claims: Iterable<Pick<ClaimRecord, 'id' | 'state' | 'updatedAt'>>,
  policy: ClaimRetentionPolicy,
  now: number,
  protectedIds: ReadonlySet<string> = new Set(),
): string[] {
  const finished: Array<{ id: string; at: number }> = [];
  for (const c of claims) {
    if (isLive(c) || protectedIds.has(c.id)) continue;
    const at = Date.parse(c.updatedAt);
    finished.push({ id: c.id, at: Number.isFinite(at) ? at : 0 });
  }
  finished.sort((a, b) => a.at - b.at);
  const cutoff = now - policy.maxAgeMs;
  const excess = finished.length - policy.maxKept;
  const out: string[] = [];
  for (let i = 0; i < finished.length; i++) {
    if (i < excess || finished[i].at < cutoff) out.push(finished[i].id);
    else break; // sorted: everything after is newer and within the count
  }
  return out;
}

export class ClaimRetention {
  private timer: NodeJS.Timeout | undefined;
  private first: NodeJS.Timeout | undefined;
  private running: Promise<PruneResult> | undefined;
  private readonly logger: Logger;

  constructor(private readonly options: ClaimRetentionOptions) {
    this.logger = options.logger ?? silentLogger;
  }

  /** Prunes after `firstRunDelayMs`, then every `intervalMs`, until `stop()`. */
  start(): void {
    if (this.timer || this.first) return;
    const run = (): void => void this.prune().catch(() => undefined); // failures are logged by run()
    this.first = setTimeout(() => {
      this.first = undefined;
      run();
      this.timer = setInterval(run, this.options.intervalMs);
      this.timer.unref();
    }, this.options.firstRunDelayMs);
    this.first.unref();
  }

  /** Stops the timers and waits for a run in progress. */
  async stop(): Promise<void> {
    clearTimeout(this.first);
    clearInterval(this.timer);
    this.first = this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  /** One pass (runs are never concurrent: a call during a run shares it). */
  prune(now: number = Date.now()): Promise<PruneResult> {
    this.running ??= this.run(now).finally(() => (this.running = undefined));
    return this.running;
  }

  private async run(now: number): Promise<PruneResult> {
    const { ledger, intents } = this.options;
    try {
      const open = new Set<string>();
      for (const intent of await intents.pending()) if (intent.claimId !== undefined) open.add(intent.claimId);
      const claims = ledger.list();
      const ids = selectPrunable(claims, this.options, now, open);
      const pruned = await ledger.pruneFinished(ids);
      const kept = claims.filter((c) => !isLive(c)).length - pruned; // as of the pass's start
      if (pruned > 0) this.logger.info('finished claims pruned', { pruned, kept, maxAgeMs: this.options.maxAgeMs, maxKept: this.options.maxKept });
      return { pruned, kept };
    } catch (err) {
      this.logger.error('pruning finished claims failed; will try again', { error: (err as Error).message });
      throw err;
    }
  }
}
