/**
 * The key layout of the state store, in one place. Every record kind lives under its own top-level
 * prefix, so `store.scan(PREFIX)` lists exactly that kind:
 *
 *   framework/id                                  Mesos framework ID (and other framework-wide records)
 *   volumes/<volumeId>                            volume catalog records
 *   volume-names/<service>/<lower-cased name>     → volumeId: the per-service, case-insensitive name index
 *   claims/<claimId>                              claim (lease) records
 *   claims-by-volume/<volumeId>/<claimId>         index: the claims of one volume
 *   intents/<intentId>                            intent log: durable before each mutating driver call
 *   profiles-used/<service>/<profile>             the immutable parameters of profiles that were used
 *   meta/schema-version                           the store's schema version (see schema.ts)
 *   meta/installation                             which installation this store is (see installation.ts)
 *   backends/<service>                            what Polly last saw of a service's backend metadata
 *                                                 (its root ID and sequence), to notice an older or foreign one
 *   apps/<encoded app ID>                         volume-bound app definitions (IDs like `group/app`, URI-encoded)
 *   tasks/<taskId>                                the tasks Polly launched (and its launch intents)
 *
 * Segments are single path components: never empty, no `/`, no control characters; `.` and `..` are
 * refused too, so a segment can never be mistaken for a path step. Add new kinds here with a new
 * top-level prefix (and a migration in schema.ts if existing data moves).
 */
import { assertValidKey, InvalidStoreKeyError } from './store';

export const PREFIXES = {
  framework: 'framework/',
  volumes: 'volumes/',
  volumeNames: 'volume-names/',
  claims: 'claims/',
  claimsByVolume: 'claims-by-volume/',
  intents: 'intents/',
  profilesUsed: 'profiles-used/',
  meta: 'meta/',
  apps: 'apps/',
  tasks: 'tasks/',
  backends: 'backends/',
} as const;

export const FRAMEWORK_ID_KEY = 'framework/id';
export const SCHEMA_VERSION_KEY = 'meta/schema-version';
export const INSTALLATION_KEY = 'meta/installation';

/** Throws InvalidStoreKeyError unless `segment` is one safe key component. */
export function keySegment(segment: string, what = 'key segment'): string {
  if (
    typeof segment !== 'string' ||
    segment.length === 0 ||
    segment.length > 255 ||
    segment === '.' ||
    segment === '..' ||
    segment.includes('/')
  ) {
    throw new InvalidStoreKeyError(`Invalid ${what}: ${JSON.stringify(String(segment).slice(0, 100))}`, { field: what });
  }
  assertValidKey(segment);
  return segment;
}

export const volumeKey = (volumeId: string): string => PREFIXES.volumes + keySegment(volumeId, 'volume ID');

/** NFC then lower case, exactly as the drivers' `nameKey`: composed and decomposed spellings are one name. */
export const volumeNameKey = (service: string, name: string): string =>
  `${PREFIXES.volumeNames}${keySegment(service, 'service name')}/${keySegment(name.normalize('NFC').toLowerCase(), 'volume name')}`;

export const volumeNamesPrefix = (service: string): string => `${PREFIXES.volumeNames}${keySegment(service, 'service name')}/`;

export const claimKey = (claimId: string): string => PREFIXES.claims + keySegment(claimId, 'claim ID');

export const claimByVolumeKey = (volumeId: string, claimId: string): string =>
  `${claimsByVolumePrefix(volumeId)}${keySegment(claimId, 'claim ID')}`;

export const claimsByVolumePrefix = (volumeId: string): string => `${PREFIXES.claimsByVolume}${keySegment(volumeId, 'volume ID')}/`;

export const intentKey = (intentId: string): string => PREFIXES.intents + keySegment(intentId, 'intent ID');

export const profileUsedKey = (service: string, profile: string): string =>
  `${PREFIXES.profilesUsed}${keySegment(service, 'service name')}/${keySegment(profile, 'profile name')}`;

/** The last segment of a key: `idFromKey('claims-by-volume/v1/c7')` → `c7`. */
export function idFromKey(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1);
}

/** App IDs may hold `/` (groups): the segment is the URI-encoded ID, so one app is one key. */
export const appKey = (appId: string): string => PREFIXES.apps + keySegment(encodeURIComponent(appId), 'app ID');

export const taskKey = (taskId: string): string => PREFIXES.tasks + keySegment(taskId, 'task ID');

export const backendKey = (service: string): string => PREFIXES.backends + keySegment(service, 'service name');
