/**
 * Why a start refused to open the state store, worded for the operator who reads it on the
 * console: what was found (naming the paths), that nothing was changed, and the ways out.
 */
import { PollyError } from '../errors/polly-error';
import type { HomeMarker, StoreDescription } from './home-marker';

export type RefusalReason =
  /** The home says an installation exists, but its store is missing or empty. */
  | 'store-missing'
  /** The store exists but cannot be opened as it is (LevelDB files without CURRENT, ...). */
  | 'store-damaged'
  /** The store holds data at a schema that has markers, but no marker. */
  | 'marker-missing'
  /** The store is another installation than the one the home names. */
  | 'installation-mismatch'
  /** The store predates markers while the home names an installation: it may be an old backup or another's. */
  | 'unmarked-store'
  /** `--init` over a store that holds state. */
  | 'init-over-data';

export class InstallationRefusedError extends PollyError {
  override name = 'InstallationRefusedError';
  override readonly code: string = 'STATE_REFUSED';

  constructor(
    readonly reason: RefusalReason,
    message: string,
    details: Record<string, unknown>,
    options: { cause?: unknown } = {},
  ) {
    super(message, { reason, ...details }, options);
  }
}

const RESTORE = 'restore the store from a backup (with Polly stopped)';
const IMPORT = 'load an export with `polly state import FILE`';
const INIT = 'only if there should be no state, start a new, empty installation knowingly with `polly start --init`';

function describe(store: StoreDescription): string {
  return `the ${store.backend} store at ${store.location}`;
}

function homeSays(markerFile: string, home: HomeMarker): string {
  return `${markerFile} says this home belongs to installation ${home.id} (created ${home.createdAt}, state in ${describe(home.store)})`;
}

export function storeMissing(store: StoreDescription, markerFile: string, home: HomeMarker, state: 'absent' | 'empty'): InstallationRefusedError {
  const found = state === 'absent' ? 'does not exist' : 'is empty';
  const what =
    home.store.backend === store.backend && home.store.location === store.location
      ? `${markerFile} says this home belongs to installation ${home.id} (created ${home.createdAt}), but its state store, ${describe(store)}, ${found}`
      : `${homeSays(markerFile, home)}, but the configured store, ${describe(store)}, ${found}`;
  return new InstallationRefusedError(
    'store-missing',
    `Refusing to start: ${what}. Starting would make a new, empty installation and lose track of every volume and claim; ` +
      `nothing was created or changed. Ways out: ${RESTORE}; or ${IMPORT}; or, ${INIT}.`,
    { store: store.location, homeMarker: markerFile, installationId: home.id },
  );
}

export function storeDamaged(store: StoreDescription, cause: Error): InstallationRefusedError {
  const problem = cause.message.charAt(0).toLowerCase() + cause.message.slice(1);
  return new InstallationRefusedError(
    'store-damaged',
    `Refusing to start: ${problem}. Ways out: ${RESTORE}; or move ${store.location} aside and ${IMPORT}. ` +
      `(--init does not apply while ${store.location} holds files: move it aside first if you really mean to start over.)`,
    { store: store.location },
    { cause },
  );
}

/**
 * A store that opened but whose data cannot be read (a LevelDB table truncated or corrupt, a disk
 * failing under it): found while start-up reads it, before anything was written.
 */
export function storeUnreadable(store: StoreDescription, cause: Error): InstallationRefusedError {
  return new InstallationRefusedError(
    'store-damaged',
    `Refusing to start: ${describe(store)} cannot be read (${cause.message}): a data file is damaged or the disk under it fails. ` +
      `Its files were left as they are; nothing was changed. Ways out: ${RESTORE}; or move ${store.location} aside and ${IMPORT}.`,
    { store: store.location },
    { cause },
  );
}

export function markerMissing(store: StoreDescription, schemaVersion: number): InstallationRefusedError {
  return new InstallationRefusedError(
    'marker-missing',
    `Refusing to start: ${describe(store)} holds data (schema version ${schemaVersion}) but no installation marker (meta/installation), ` +
      'so it cannot be told apart from a damaged or foreign store; nothing was changed. ' +
      `Ways out: ${RESTORE}; or ${IMPORT} into an empty store. (--init does not apply: the store holds data.)`,
    { store: store.location, schemaVersion },
  );
}

export function installationMismatch(store: StoreDescription, storeId: string, markerFile: string, home: HomeMarker): InstallationRefusedError {
  return new InstallationRefusedError(
    'installation-mismatch',
    `Refusing to start: ${describe(store)} belongs to installation ${storeId}, but ${homeSays(markerFile, home)}; nothing was changed. ` +
      `Ways out: point state at installation ${home.id}'s store, or ${RESTORE}, or ${IMPORT}; ` +
      `or, if ${store.location} is the right store for this host, move ${markerFile} aside and start again.`,
    { store: store.location, homeMarker: markerFile, installationId: home.id, storeInstallationId: storeId },
  );
}

export function unmarkedStore(store: StoreDescription, schemaVersion: number, markerFile: string, home: HomeMarker): InstallationRefusedError {
  return new InstallationRefusedError(
    'unmarked-store',
    `Refusing to start: ${describe(store)} was written before installation markers (schema version ${schemaVersion}), ` +
      `but ${homeSays(markerFile, home)}: the store may be an older backup or another installation's; nothing was changed. ` +
      `Ways out: ${RESTORE} (a current one); or ${IMPORT}; or, if ${store.location} is the right store, ` +
      `move ${markerFile} aside and start again (the store is then marked and adopted).`,
    { store: store.location, homeMarker: markerFile, installationId: home.id, schemaVersion },
  );
}

export function initOverData(store: StoreDescription, storeId: string | undefined): InstallationRefusedError {
  return new InstallationRefusedError(
    'init-over-data',
    `Refusing --init: ${describe(store)} already holds state${storeId ? ` (installation ${storeId})` : ''}, ` +
      'and --init only starts a new installation where there is none; nothing was changed. ' +
      `Start without --init to use it; to really start over, point state at an empty location (or move this store aside) first.`,
    { store: store.location, ...(storeId ? { storeInstallationId: storeId } : {}) },
  );
}
