/**
 * An installation is one Polly's state: its store, and the backends (vfs roots) bound to it. The
 * store records which installation it is under `meta/installation`, written once when the store is
 * first initialised; backends remember the same ID, so a store that was lost and recreated, or a
 * backend that belongs to another installation, is noticed instead of silently adopted. Polly's
 * home keeps a copy outside the store (home-marker.ts), because a lost store takes its own marker
 * with it.
 */
import { randomUUID } from 'node:crypto';
import { PollyError } from '../errors/polly-error';
import { INSTALLATION_KEY } from './keys';
import { type BatchOperation, type Store, StoreConflictError } from './store';

export interface InstallationRecord {
  /** A UUID, fixed for the life of the installation. */
  id: string;
  /** ISO-8601: when the installation was first initialised (or first marked, for a store older than markers). */
  createdAt: string;
}

/** The store's `meta/installation` record exists but is not an installation record. */
export class InstallationRecordError extends PollyError {
  override name = 'InstallationRecordError';
  override readonly code: string = 'INSTALLATION_RECORD_UNREADABLE';
}

export function isInstallationRecord(value: unknown): value is InstallationRecord {
  const r = value as Partial<InstallationRecord> | null;
  return typeof r === 'object' && r !== null && typeof r.id === 'string' && r.id.length > 0 && typeof r.createdAt === 'string';
}

/** A new installation's record: a fresh UUID, created now. */
export function newInstallationRecord(now: Date = new Date()): InstallationRecord {
  return { id: randomUUID(), createdAt: now.toISOString() };
}

/** The store's installation record; undefined when it has none (a fresh store, or one written before markers). */
export async function readInstallation(store: Store): Promise<InstallationRecord | undefined> {
  const value = await store.get(INSTALLATION_KEY);
  if (value === undefined) return undefined;
  if (!isInstallationRecord(value)) {
    throw new InstallationRecordError(
      `The state store's ${INSTALLATION_KEY} record is unreadable: ${JSON.stringify(value).slice(0, 200)}. ` +
        'Restore the store from a backup, or load an export with `polly state import FILE`',
      { key: INSTALLATION_KEY },
    );
  }
  return value;
}

/** The write that marks a store as `record`'s, only if it has no marker yet. */
export function installationMarkOp(record: InstallationRecord): BatchOperation {
  return { type: 'put', key: INSTALLATION_KEY, value: record, expectVersion: 0 };
}

/**
 * Marks the store as a new installation, atomically with `alongside` (the schema stamp of a new
 * store), unless it already has a marker. Several processes may race here (HA instances starting
 * on a new ZooKeeper store): exactly one batch commits. Returns the record written, or undefined
 * when another process marked the store first (read it with readInstallation; `alongside` was not
 * written either).
 */
export async function initInstallation(
  store: Store,
  alongside: readonly BatchOperation[] = [],
  record: InstallationRecord = newInstallationRecord(),
): Promise<InstallationRecord | undefined> {
  try {
    await store.batch([...alongside, installationMarkOp(record)]);
    return record;
  } catch (err) {
    if (err instanceof StoreConflictError) return undefined;
    throw err;
  }
}
