/**
 * Deciding one atomic write on the ZooKeeper store: its operations are checked, in order, against
 * what the store knows of each key's znode (KnownNode), and turned into the znode changes a multi
 * makes — each conditional on the znode version it was decided on, so the multi fails as a whole if
 * any of those znodes changed meanwhile. Pure: the store supplies the states and builds the ops.
 *
 * A decision that sends nothing to ZooKeeper for a key (a lost compare-and-set, deleting a key that
 * is not there) is only as good as the state it was made on: `unverified` names those keys, and the
 * store makes such a decision final only on a state read during the write.
 */
import { BatchOperation, StoreConflictError } from '../store';
import type { KnownNode } from './node-header';

/** What becomes of one key's znode. */
export interface KeyTarget {
  key: string;
  /** The state the decision was made on. */
  known: KnownNode;
  /**
   * `put`: the new value (create, or setData at known.zkVersion); `delete`: the key goes (remove, or
   * empty data when the znode is also a parent); `assertAbsent`: nothing changes, but the key must
   * still not exist when the multi commits (a compare-and-set at version 0 that changes nothing).
   */
  kind: 'put' | 'delete' | 'assertAbsent';
  /** The key's version after the write (0 for delete and assertAbsent). */
  version: number;
  /** put: the encoded value. */
  raw?: Buffer;
}

/** A change listeners are told about once the write commits (the value still encoded). */
export interface PlannedChange {
  key: string;
  raw: Buffer | undefined;
  version: number;
}

export type WritePlan =
  | { outcome: 'conflict'; error: StoreConflictError }
  | {
      outcome: 'write';
      /** Empty when the write changes nothing. */
      targets: KeyTarget[];
      changes: PlannedChange[];
      /** The version of the last key written (what the write resolves with). */
      lastVersion: number;
      /** Keys decided without any znode operation to check the state the decision was made on. */
      unverified: string[];
    };

/**
 * Decides `operations` (one write, all or nothing) on the states `knownOf` returns. `encoded[i]` is
 * operation i's value, encoded (puts only).
 */
export function planWrite(
  operations: readonly BatchOperation[],
  encoded: ReadonlyArray<Buffer | undefined>,
  knownOf: (key: string) => KnownNode,
): WritePlan {
  const final = new Map<string, { version: number; raw: Buffer | undefined }>();
  const changes: PlannedChange[] = [];
  let lastVersion = 0;
  for (let i = 0; i < operations.length; i++) {
    const op = operations[i];
    const actual = final.get(op.key)?.version ?? knownOf(op.key).version;
    if (op.expectVersion !== undefined && op.expectVersion !== actual) {
      return { outcome: 'conflict', error: new StoreConflictError(op.key, op.expectVersion, actual) };
    }
    if (op.type === 'put') {
      const version = actual + 1;
      final.set(op.key, { version, raw: encoded[i] });
      changes.push({ key: op.key, raw: encoded[i], version });
      lastVersion = version;
    } else {
      lastVersion = 0;
      if (actual === 0) {
        // Nothing to delete: with an expected version 0 the absence is part of the write.
        if (op.expectVersion !== undefined && !final.has(op.key)) final.set(op.key, { version: 0, raw: undefined });
        continue;
      }
      final.set(op.key, { version: 0, raw: undefined });
      changes.push({ key: op.key, raw: undefined, version: 0 });
    }
  }
  const keys = [...new Set(operations.map((op) => op.key))];
  if (changes.length === 0) {
    // Nothing changes (deleting absent keys): nothing to commit, so nothing checks the states.
    return { outcome: 'write', targets: [], changes, lastVersion, unverified: keys };
  }
  const targets: KeyTarget[] = [];
  for (const [key, target] of final) {
    const known = knownOf(key);
    if (target.raw !== undefined) targets.push({ key, known, kind: 'put', version: target.version, raw: target.raw });
    else if (known.version > 0) targets.push({ key, known, kind: 'delete', version: 0 });
    else targets.push({ key, known, kind: 'assertAbsent', version: 0 });
  }
  return { outcome: 'write', targets, changes, lastVersion, unverified: keys.filter((k) => !final.has(k)) };
}
