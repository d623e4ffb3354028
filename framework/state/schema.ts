/**
 * The store's schema version and the migrations between versions. `openStore` runs at start, before
 * anything reads the store: it stamps a new store with the current version, migrates an older one
 * step by step, and refuses one written by a newer Polly (which might have moved data this code does
 * not know about).
 *
 * A migration either returns batch operations, which are committed in ONE batch together with the
 * new version stamp (all-or-nothing), or writes through the store itself and returns nothing — then
 * it must be idempotent, because a crash before the stamp runs it again.
 *
 * A new (empty) store is a new installation: its stamp and its installation marker are written in
 * one batch. Whether an empty store may become a new installation at all is decided before, by
 * `openInstallation` (open-installation.ts): here an empty store is simply initialised.
 *
 * Several processes may open one store at once (HA instances on ZooKeeper): every stamp is a
 * compare-and-set, and a process that loses one re-reads the store and carries on from there.
 */
import { PollyError } from '../errors/polly-error';
import { Logger, silentLogger } from '../shared/logger';
import { initInstallation, newInstallationRecord, installationMarkOp, readInstallation } from './installation';
import { SCHEMA_VERSION_KEY } from './keys';
import { BatchOperation, Store, StoreConflictError } from './store';

export const CURRENT_SCHEMA_VERSION = 2;

/** From this schema on every store has an installation marker: one without is damaged, not old. */
export const MARKED_SCHEMA_VERSION = 2;

/** Attempts of one openStore when other processes keep stamping the store at the same moment. */
const MAX_RACES = 5;

export interface Migration {
  from: number;
  to: number;
  description: string;
  migrate(store: Store): Promise<readonly BatchOperation[] | void>;
}

export interface SchemaRecord {
  version: number;
  updatedAt: string;
}

/** The store cannot be used by this code: too new, or no path to the current version. */
export class StoreSchemaError extends PollyError {
  override name = 'StoreSchemaError';
  override readonly code: string = 'STORE_SCHEMA';
}

/**
 * Schema 0 is a store written before versions existed (values stored bare, no stamp). Rewriting each
 * value gives it the versioned envelope; the backend already reads bare values as version 1.
 */
const adoptUnversioned: Migration = {
  from: 0,
  to: 1,
  description: 'store every value with a version',
  async migrate(store) {
    const ops: BatchOperation[] = [];
    for await (const [key, value] of store.scan('')) {
      if (key !== SCHEMA_VERSION_KEY) ops.push({ type: 'put', key, value });
    }
    return ops;
  },
};

/**
 * Stores written before installation markers get one now, so an upgrade is not refused as "data
 * without a marker". Only a store that has none: a marker already there (an import) is kept.
 */
const markInstallation: Migration = {
  from: 1,
  to: 2,
  description: 'mark the store with an installation ID',
  async migrate(store) {
    if (await readInstallation(store)) return [];
    return [installationMarkOp(newInstallationRecord())];
  },
};

export const MIGRATIONS: readonly Migration[] = [adoptUnversioned, markInstallation];

export interface OpenStoreOptions {
  /** Defaults to MIGRATIONS / CURRENT_SCHEMA_VERSION; tests inject their own. */
  migrations?: readonly Migration[];
  currentVersion?: number;
  logger?: Logger;
}

export interface OpenStoreResult {
  /** The version found (0 = unversioned data, undefined = empty store). */
  from: number | undefined;
  to: number;
  /** Descriptions of the migrations that ran, in order. */
  applied: string[];
  stamped: boolean;
}

function stamp(version: number): SchemaRecord {
  return { version, updatedAt: new Date().toISOString() };
}

/** The schema version a store is stamped with; undefined when it has no stamp. */
export async function readSchemaVersion(store: Store): Promise<number | undefined> {
  const record = await store.get(SCHEMA_VERSION_KEY);
  return record === undefined ? undefined : readVersion(record);
}

function readVersion(value: unknown): number {
  const version = (value as Partial<SchemaRecord> | undefined)?.version;
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0) {
    throw new StoreSchemaError(`The state store's ${SCHEMA_VERSION_KEY} record is unreadable: ${JSON.stringify(value)}`);
  }
  return version;
}

/**
 * Opens `store` (if needed) and brings its schema to the current version; an empty store is
 * initialised as a new installation (stamp and marker in one batch).
 */
export async function openStore(store: Store, options: OpenStoreOptions = {}): Promise<OpenStoreResult> {
  if (!store.isOpen) await store.open();
  for (let attempt = 1; ; attempt++) {
    // 'raced': another process stamped the store between our read and our write; read it again.
    const result = await bringToCurrent(store, options).catch((err: unknown) => {
      if (err instanceof StoreConflictError && attempt < MAX_RACES) return 'raced' as const;
      throw err;
    });
    if (result !== 'raced') return result;
    if (attempt >= MAX_RACES) throw new StoreSchemaError('The state store kept being initialised by other processes while opening it; try again');
  }
}

async function bringToCurrent(store: Store, options: OpenStoreOptions): Promise<OpenStoreResult | 'raced'> {
  const migrations = options.migrations ?? MIGRATIONS;
  const current = options.currentVersion ?? CURRENT_SCHEMA_VERSION;
  const logger = options.logger ?? silentLogger;

  const record = await store.getVersioned<SchemaRecord>(SCHEMA_VERSION_KEY);
  if (!record && (await store.count('')) === 0) {
    const stampOp: BatchOperation = { type: 'put', key: SCHEMA_VERSION_KEY, value: stamp(current), expectVersion: 0 };
    const installation = await initInstallation(store, [stampOp]);
    if (!installation) return 'raced';
    logger.info('state store initialised', { backend: store.backend, schemaVersion: current, installationId: installation.id });
    return { from: undefined, to: current, applied: [], stamped: true };
  }

  const found = record ? readVersion(record.value) : 0;
  if (found > current) {
    throw new StoreSchemaError(
      `The state store has schema version ${found}, newer than this Polly supports (${current}). ` +
        'It was written by a newer Polly: run that version, or point this one at another store.',
      { storeVersion: found, supportedVersion: current },
    );
  }

  let version = found;
  let stampVersion = record?.version ?? 0;
  const applied: string[] = [];
  while (version < current) {
    const step = migrations.find((m) => m.from === version);
    if (!step || step.to <= step.from || step.to > current) {
      throw new StoreSchemaError(`No migration of the state store from schema version ${version} towards ${current}`, {
        storeVersion: version,
        supportedVersion: current,
      });
    }
    logger.info('migrating state store', { from: step.from, to: step.to, migration: step.description });
    const ops = (await step.migrate(store)) ?? [];
    // concat, not spread: a migration may return hundreds of thousands of operations.
    await store.batch(ops.concat([{ type: 'put', key: SCHEMA_VERSION_KEY, value: stamp(step.to), expectVersion: stampVersion }]));
    stampVersion = (await store.getVersioned(SCHEMA_VERSION_KEY))?.version ?? 0;
    version = step.to;
    applied.push(step.description);
  }
  return { from: found, to: version, applied, stamped: false };
}
