/**
 * An installation is one Polly's state: its store, and the backends (vfs roots) bound to it. The
 * store records which installation it is under `meta/installation`, written once when the store is
 * first initialised; backends remember the same ID, so a store that was lost and recreated, or a
 * backend that belongs to another installation, is noticed instead of silently adopted.
 */
import { INSTALLATION_KEY } from './keys';
import type { Store } from './store';

export interface InstallationRecord {
  /** A UUID, fixed for the life of the installation. */
  id: string;
  /** ISO-8601: when the installation was first initialised. */
  createdAt: string;
}

function isInstallationRecord(value: unknown): value is InstallationRecord {
  const r = value as Partial<InstallationRecord> | null;
  return typeof r === 'object' && r !== null && typeof r.id === 'string' && r.id.length > 0 && typeof r.createdAt === 'string';
}

/** The store's installation record; undefined when it has none (a fresh store, or one written before markers). */
export async function readInstallation(store: Store): Promise<InstallationRecord | undefined> {
  const value = await store.get(INSTALLATION_KEY);
  if (value === undefined) return undefined;
  if (!isInstallationRecord(value)) {
    throw new Error(`The state store's ${INSTALLATION_KEY} record is unreadable: ${JSON.stringify(value).slice(0, 200)}`);
  }
  return value;
}
