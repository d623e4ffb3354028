/**
 * The intent log: before every driver call that changes the world (create, remove, attach, detach,
 * expand, snapshot create and remove)
 * an intent is durably written under `intents/<id>`; after the call its outcome is recorded and the
 * intent deleted, in the same store batch where possible. Whatever is left at start is a half-done
 * operation that `StorageRecovery` finishes or rolls back against the driver's real state.
 */
import { randomUUID } from 'node:crypto';
import { intentKey, PREFIXES } from '../state/keys';
import type { BatchOperation, Store } from '../state/store';

export type IntentKind = 'create' | 'remove' | 'attach' | 'detach' | 'expand' | 'snapshot' | 'snapshot-remove';

export interface IntentInput {
  kind: IntentKind;
  /**
   * Idempotency key: the volume name (create), claim ID (attach/detach), volume ID (remove, expand),
   * `<volume ID>/<name>` (snapshot) or driver snapshot ID (snapshot-remove).
   */
  key: string;
  service: string;
  volumeId?: string;
  claimId?: string;
  /** What recovery needs to redo or undo the call. */
  payload: Record<string, unknown>;
}

export interface IntentRecord extends IntentInput {
  id: string;
  createdAt: string;
  /** Orders intents written in the same millisecond. */
  seq: number;
}

export class IntentLog {
  private seq = 0;

  constructor(private readonly store: Store) {}

  /** A new intent and the store operation that writes it (for callers that batch it with other changes). */
  prepare(input: IntentInput): { intent: IntentRecord; op: BatchOperation } {
    const intent: IntentRecord = { ...input, id: randomUUID(), createdAt: new Date().toISOString(), seq: ++this.seq };
    return { intent, op: { type: 'put', key: intentKey(intent.id), value: intent, expectVersion: 0 } };
  }

  /** Durably records the intent (plus `with`, atomically) before the driver call. */
  async begin(input: IntentInput, withOps: readonly BatchOperation[] = []): Promise<IntentRecord> {
    const { intent, op } = this.prepare(input);
    await this.store.batch([op, ...withOps]);
    return intent;
  }

  /** The operation that resolves (deletes) an intent, for a batch with the outcome's records. */
  resolveOp(id: string): BatchOperation {
    return { type: 'del', key: intentKey(id) };
  }

  /** Resolves the intent, atomically with the outcome's record changes. */
  async resolve(id: string, withOps: readonly BatchOperation[] = []): Promise<void> {
    await this.store.batch([...withOps, this.resolveOp(id)]);
  }

  /** Open intents, oldest first. */
  async pending(): Promise<IntentRecord[]> {
    const out: IntentRecord[] = [];
    for await (const [, intent] of this.store.scan<IntentRecord>(PREFIXES.intents)) out.push(intent);
    return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.seq - b.seq);
  }
}
