/**
 * Opening the state store at start: an existing installation, or a new one only when nothing says
 * one existed (a new machine: no home marker, no store) or when told to (`polly start --init`).
 * Anything else that does not add up — the home names an installation whose store is gone or
 * empty, LevelDB files that do not open, a store with data but no marker, another installation's
 * store, `--init` over state — is refused with an InstallationRefusedError that names the paths
 * and the ways out, and nothing is created or changed.
 *
 * The decision reads the home marker (home-marker.ts) and the store's marker, schema stamp and
 * whether it holds state; then openStore (schema.ts) initialises an empty store or migrates an old
 * one, and the home marker is (re)written from the store's. HA instances starting together on a new
 * ZooKeeper store all run this: openStore's compare-and-set lets one initialise, the others adopt.
 */
import { Logger, silentLogger } from '../shared/logger';
import { homeMarkerDiffers, homeMarkerPath, readHomeMarker, StoreDescription, writeHomeMarker, type HomeMarker } from './home-marker';
import { initInstallation, type InstallationRecord, newInstallationRecord, readInstallation } from './installation';
import {
  initOverData,
  installationMismatch,
  markerMissing,
  storeDamaged,
  storeMissing,
  storeUnreadable,
  unmarkedStore,
} from './installation-refused-error';
import { isLevelReadFailure } from './level-store';
import { PREFIXES } from './keys';
import { MARKED_SCHEMA_VERSION, openStore, readSchemaVersion, StoreSchemaError } from './schema';
import { type Store, StoreDamagedError, StoreMissingError } from './store';

export interface OpenInstallationOptions {
  /** Polly's home, where the home marker lives. */
  home: string;
  /** `polly start --init`: start a new installation where there is no state, whatever the home remembers. */
  init?: boolean;
  logger?: Logger;
}

export interface OpenedInstallation {
  installation: InstallationRecord;
  /** This call initialised the installation (an empty store became a new one). */
  created: boolean;
  /** Descriptions of the schema migrations that ran. */
  migrations: string[];
}

/** What the store holds, as far as the decision needs it. */
interface Findings {
  marker: InstallationRecord | undefined;
  schemaVersion: number | undefined;
  /** Any key at all (a stamp included). Only looked for when there is no marker. */
  anyKey: boolean;
  /** Keys outside `meta/`: volumes, claims, the framework ID... Only looked for when there is no marker, or with init. */
  holdsState: boolean;
}

export function describeStore(store: Store): StoreDescription {
  return { backend: store.backend, location: store.location ?? store.backend };
}

/** Opens (if needed) and checks `store`, initialises or migrates it, and records it in the home marker. */
export async function openInstallation(store: Store, options: OpenInstallationOptions): Promise<OpenedInstallation> {
  const logger = options.logger ?? silentLogger;
  const init = options.init === true;
  const markerFile = homeMarkerPath(options.home);
  const home = await readHomeMarker(options.home);
  const where = describeStore(store);

  const openedHere = !store.isOpen;
  if (openedHere) {
    try {
      // Where the home names an installation, its store must exist: nothing is created in its place.
      await store.open({ createIfMissing: init || home === undefined });
    } catch (err) {
      if (err instanceof StoreMissingError && home) throw storeMissing(where, markerFile, home, err.state);
      if (err instanceof StoreDamagedError) throw storeDamaged(where, err);
      throw err;
    }
  }
  try {
    return await decideAndOpen(store, { where, markerFile, home, init }, options.home, logger);
  } catch (err) {
    // A refused store is left as it was found: closed, if this call opened it.
    if (openedHere) await store.close().catch(() => undefined);
    throw isLevelReadFailure(err) ? storeUnreadable(where, err) : err;
  }
}

async function decideAndOpen(store: Store, context: Context, homeDir: string, logger: Logger): Promise<OpenedInstallation> {
  const { where, markerFile, home, init } = context;
  refuseUnsafe(await inspect(store, init), context);

  const opened = await openStore(store, { logger });
  const installation = await readInstallation(store);
  if (!installation) throw new StoreSchemaError(`The state store at ${where.location} has no installation marker after opening it`);
  // Only reachable when another process re-marked the store between our checks and now.
  if (home && home.id !== installation.id && !init) throw installationMismatch(where, installation.id, markerFile, home);

  const next: HomeMarker = { id: installation.id, createdAt: installation.createdAt, store: where };
  if (homeMarkerDiffers(home, next)) {
    if (home && home.id !== installation.id) {
      logger.warn('this home now belongs to a new installation (--init)', { installationId: installation.id, previousInstallationId: home.id });
    }
    await writeHomeMarker(homeDir, next);
  }
  logger.info(opened.stamped ? 'new installation initialised' : 'installation opened', {
    installationId: installation.id,
    backend: where.backend,
    location: where.location,
    ...(opened.applied.length > 0 ? { migrations: opened.applied } : {}),
  });
  return { installation, created: opened.stamped, migrations: opened.applied };
}

async function inspect(store: Store, init: boolean): Promise<Findings> {
  // The stamp first: it and the marker are written in one batch, so a stamp seen means its marker is
  // visible to the next read (another HA instance may initialise the store between our two reads).
  const schemaVersion = await readSchemaVersion(store);
  const marker = await readInstallation(store);
  let anyKey = marker !== undefined || schemaVersion !== undefined;
  let holdsState = false;
  if (!marker || init) {
    for await (const [key] of store.scan('')) {
      anyKey = true;
      if (!key.startsWith(PREFIXES.meta)) {
        holdsState = true;
        break;
      }
    }
  }
  return { marker, schemaVersion, anyKey, holdsState };
}

interface Context {
  where: StoreDescription;
  markerFile: string;
  home: HomeMarker | undefined;
  init: boolean;
}

function refuseUnsafe(found: Findings, { where, markerFile, home, init }: Context): void {
  if (found.marker) {
    if (init && found.holdsState) throw initOverData(where, found.marker.id);
    if (home && home.id !== found.marker.id && !init) throw installationMismatch(where, found.marker.id, markerFile, home);
    return; // this home's installation, or a store this home adopts (a new HA instance, a lost home marker)
  }
  if (found.schemaVersion !== undefined && found.schemaVersion >= MARKED_SCHEMA_VERSION) throw markerMissing(where, found.schemaVersion);
  if (found.anyKey) {
    // Written before markers: the migration marks it, unless the home says it should already be marked.
    if (init && found.holdsState) throw initOverData(where, undefined);
    if (home && !init) throw unmarkedStore(where, found.schemaVersion ?? 0, markerFile, home);
    return;
  }
  if (home && !init) throw storeMissing(where, markerFile, home, 'empty');
}

export interface ImportedInstallation {
  installation: InstallationRecord;
  /** The export had no marker (it predates markers): one was written, with the home's ID if it had one. */
  marked: boolean;
  /** The home marker named another installation before (it now names the imported one). */
  previousHomeId?: string;
}

/**
 * After `polly state import`: the store holds the export's installation marker (an export from
 * before markers gets one: the home's installation, or a new one), and the home marker is
 * written to name it, so the next start opens the restored installation instead of refusing it.
 */
export async function recordImportedInstallation(store: Store, homeDir: string): Promise<ImportedInstallation> {
  const home = await readHomeMarker(homeDir);
  let installation = await readInstallation(store);
  let marked = false;
  if (!installation) {
    const record = home ? { id: home.id, createdAt: home.createdAt } : newInstallationRecord();
    installation = (await initInstallation(store, [], record)) ?? (await readInstallation(store));
    if (!installation) throw new StoreSchemaError(`Could not mark the imported state store at ${describeStore(store).location}`);
    marked = true;
  }
  const next: HomeMarker = { id: installation.id, createdAt: installation.createdAt, store: describeStore(store) };
  if (homeMarkerDiffers(home, next)) await writeHomeMarker(homeDir, next);
  return { installation, marked, ...(home && home.id !== installation.id ? { previousHomeId: home.id } : {}) };
}
