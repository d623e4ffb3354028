/**
 * Tasks Mesos cannot account for: reconciliation answered TASK_UNKNOWN (the master has no record of
 * the task or its agent), or Polly asked and no answer came (a master waiting for agents that never
 * re-register answers nothing). Polly never moves their volumes by itself — the task may still be
 * writing — but once a task has been unaccounted for longer than `scheduler.unknownTaskTimeoutSeconds`
 * it is reported as stranded (log, `task.stranded` event, `polly app get`), so an operator who knows
 * it is not running can resolve it (`polly task resolve`).
 */

export type UnaccountedReason = 'unknown' | 'unanswered';

export interface StrandedView {
  /** ISO-8601: since when Mesos has not accounted for the task. */
  since: string;
  reason: string;
}

interface Entry {
  since: number;
  reason: UnaccountedReason;
  reported: boolean;
}

const DESCRIPTIONS: Record<UnaccountedReason, string> = {
  unknown: 'Mesos answered TASK_UNKNOWN: neither the master nor an agent has a record of it',
  unanswered: 'Mesos has not answered reconciliation for it',
};

export class StrandedTasks {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly timeoutMs: number) {}

  /** Mesos answered TASK_UNKNOWN. */
  unknown(taskId: string, now = Date.now()): void {
    const entry = this.entries.get(taskId);
    if (entry?.reason === 'unknown') return;
    // Unanswered, then unknown: still unaccounted for since the question.
    this.entries.set(taskId, { since: entry?.since ?? now, reason: 'unknown', reported: entry?.reported ?? false });
  }

  /** Polly asked Mesos about the task; until an answer comes it is unaccounted for. */
  asked(taskId: string, now = Date.now()): void {
    if (!this.entries.has(taskId)) this.entries.set(taskId, { since: now, reason: 'unanswered', reported: false });
  }

  /** Mesos said something definite about the task (any state but TASK_UNKNOWN), or it ended. */
  heard(taskId: string): void {
    this.entries.delete(taskId);
  }

  /** A new subscription: earlier unanswered questions went to a connection that is gone. */
  forgetUnanswered(): void {
    for (const [taskId, entry] of this.entries) if (entry.reason === 'unanswered') this.entries.delete(taskId);
  }

  /** Tasks still waiting for an answer (to ask again). */
  unanswered(): string[] {
    return [...this.entries].filter(([, e]) => e.reason === 'unanswered').map(([taskId]) => taskId);
  }

  /** The task is stranded: unaccounted for longer than the timeout. */
  stranded(taskId: string, now = Date.now()): StrandedView | undefined {
    const entry = this.entries.get(taskId);
    if (!entry || now - entry.since < this.timeoutMs) return undefined;
    return { since: new Date(entry.since).toISOString(), reason: DESCRIPTIONS[entry.reason] };
  }

  /** Tasks that became stranded since the last call (each reported once). */
  newlyStranded(now = Date.now()): Array<{ taskId: string } & StrandedView> {
    const out: Array<{ taskId: string } & StrandedView> = [];
    for (const [taskId, entry] of this.entries) {
      if (entry.reported || now - entry.since < this.timeoutMs) continue;
      entry.reported = true;
      out.push({ taskId, since: new Date(entry.since).toISOString(), reason: DESCRIPTIONS[entry.reason] });
    }
    return out;
  }
}
