/**
 * The installation marker kept in Polly's home, outside the store: `<home>/installation.json`,
 * `{ id, createdAt, store: { backend, location } }`. A lost LevelDB `state/` directory takes the
 * store's own marker with it; this copy is what then tells "a new machine" apart from "an
 * installation whose state is gone". Written atomically (temporary file, fsync, rename).
 */
import fs from 'node:fs';
import path from 'node:path';
import { PollyError } from '../errors/polly-error';
import { type InstallationRecord, isInstallationRecord } from './installation';

export const HOME_MARKER_FILE = 'installation.json';

/** Where the installation's state lives, as the home marker remembers it. */
export interface StoreDescription {
  backend: string;
  location: string;
}

export interface HomeMarker extends InstallationRecord {
  store: StoreDescription;
}

/** `<home>/installation.json` exists but cannot be read as a marker. */
export class HomeMarkerError extends PollyError {
  override name = 'HomeMarkerError';
  override readonly code: string = 'HOME_MARKER_UNREADABLE';
}

export function homeMarkerPath(home: string): string {
  return path.join(home, HOME_MARKER_FILE);
}

function isHomeMarker(value: unknown): value is HomeMarker {
  const store = (value as { store?: Partial<StoreDescription> } | null)?.store;
  return isInstallationRecord(value) && typeof store === 'object' && store !== null && typeof store.backend === 'string' && typeof store.location === 'string';
}

/** The home's marker; undefined when the home has none (a new machine, or a home older than markers). */
export async function readHomeMarker(home: string): Promise<HomeMarker | undefined> {
  const file = homeMarkerPath(home);
  let text: string;
  try {
    text = await fs.promises.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw unreadable(file, (err as Error).message, err);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw unreadable(file, 'not JSON', err);
  }
  if (!isHomeMarker(parsed)) throw unreadable(file, 'not an installation marker');
  return { id: parsed.id, createdAt: parsed.createdAt, store: { backend: parsed.store.backend, location: parsed.store.location } };
}

function unreadable(file: string, reason: string, cause?: unknown): HomeMarkerError {
  return new HomeMarkerError(
    `${file} is unreadable (${reason}). It records which installation this home belongs to: restore it from a backup, ` +
      'or, if the configured state store is intact, move it aside and start again (it is then written anew from the store)',
    { path: file },
    { cause },
  );
}

/** Writes the marker so that a crash leaves the old file or the new one, never a torn one. */
export async function writeHomeMarker(home: string, marker: HomeMarker): Promise<void> {
  const file = homeMarkerPath(home);
  const temp = `${file}.${process.pid}.tmp`;
  const body: HomeMarker = { id: marker.id, createdAt: marker.createdAt, store: { backend: marker.store.backend, location: marker.store.location } };
  await fs.promises.mkdir(home, { recursive: true, mode: 0o700 });
  try {
    const handle = await fs.promises.open(temp, 'w', 0o600);
    try {
      await handle.writeFile(`${JSON.stringify(body, null, 2)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.promises.rename(temp, file);
  } catch (err) {
    await fs.promises.rm(temp, { force: true });
    throw err;
  }
  const dir = await fs.promises.open(home, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** Whether writing `next` would change what the home records (so an unchanged start writes nothing). */
export function homeMarkerDiffers(current: HomeMarker | undefined, next: HomeMarker): boolean {
  return (
    current === undefined ||
    current.id !== next.id ||
    current.createdAt !== next.createdAt ||
    current.store.backend !== next.store.backend ||
    current.store.location !== next.store.location
  );
}
