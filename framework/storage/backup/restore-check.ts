/**
 * Before `polly state import` writes anything: does the backends' metadata in the export agree with
 * the store it will be restored with (the export's keys, over what the target store keeps with
 * --force)? The same rules as the start-up cross-check (backend-check.ts), so that an accepted
 * import starts: per restored backend,
 *
 * - its root is the one the store's `backends/<service>` record names, and its sequence is not
 *   lower than that record's (a journal older than the store's records);
 * - it is bound to the store's installation, when both say one;
 * - every volume the catalog manages on that service (not being removed, not known missing) is in it.
 *
 * Every problem is reported, each with its way out.
 */
import type { BackendMetadataSummary } from '../../../drivers/storage-driver';
import { INSTALLATION_KEY, PREFIXES } from '../../state/keys';
import type { BackendMarkRecord } from '../backend-check';

/** A catalog volume, as far as the check needs it. */
interface ExpectedVolume {
  service: string;
  name: string;
  driverVolumeId: string;
}

const SHOWN = 20;

/** What the restored store will hold, as far as the check needs it; fed key by key (later keys win). */
export class RestoreView {
  installationId: string | undefined;
  readonly marks = new Map<string, Partial<BackendMarkRecord>>();
  private readonly volumes = new Map<string, ExpectedVolume | undefined>();

  add(key: string, value: unknown): void {
    if (key === INSTALLATION_KEY) {
      const id = (value as { id?: unknown } | null)?.id;
      this.installationId = typeof id === 'string' ? id : undefined;
    } else if (key.startsWith(PREFIXES.backends)) {
      this.marks.set(
        key.slice(PREFIXES.backends.length),
        (typeof value === 'object' && value !== null ? value : {}) as Partial<BackendMarkRecord>,
      );
    } else if (key.startsWith(PREFIXES.volumes)) {
      const v = value as { service?: unknown; name?: unknown; driverVolumeId?: unknown; managed?: unknown; status?: unknown } | null;
      const expected =
        typeof v === 'object' &&
        v !== null &&
        v.managed === true &&
        v.status !== 'removing' &&
        v.status !== 'missing' &&
        typeof v.service === 'string' &&
        typeof v.driverVolumeId === 'string';
      // A later key replaces an earlier one, also when it no longer counts.
      this.volumes.set(
        key,
        expected ? { service: v.service as string, name: String(v.name), driverVolumeId: v.driverVolumeId as string } : undefined,
      );
    }
  }

  expectedOn(service: string): ExpectedVolume[] {
    const out: ExpectedVolume[] = [];
    for (const v of this.volumes.values()) if (v && v.service === service) out.push(v);
    return out;
  }
}

export interface RestoredBackend {
  service: string;
  summary: BackendMetadataSummary;
}

/** The problems of restoring `backends` with the store `view` describes (empty: consistent). */
export function restoreProblems(view: RestoreView, backends: readonly RestoredBackend[]): string[] {
  const problems: string[] = [];
  for (const { service, summary } of backends) {
    const { mark } = summary;
    const what = `Service "${service}": the exported metadata (root ${mark.rootId}, sequence ${mark.sequence}, from ${mark.location})`;
    const recorded = view.marks.get(service);
    if (recorded?.rootId !== undefined && recorded.rootId !== mark.rootId) {
      problems.push(
        `${what} is another root than the one the store records (${recorded.rootId}): the export was assembled from different ` +
          `installations or backups. Use one export, as \`polly state export\` wrote it.`,
      );
    } else if (typeof recorded?.sequence === 'number' && mark.sequence < recorded.sequence) {
      problems.push(
        `${what} is older than the store's record of it (sequence ${recorded.sequence}${recorded.checkedAt ? `, ${recorded.checkedAt}` : ''}): ` +
          `Polly would refuse to start on it. Use an export taken with the store and the backend together (\`polly state export\`).`,
      );
    }
    if (view.installationId !== undefined && mark.installationId !== undefined && mark.installationId !== view.installationId) {
      problems.push(
        `${what} belongs to installation ${mark.installationId}, the store to installation ${view.installationId}: they are not ` +
          `one installation's. Use one export, as \`polly state export\` wrote it.`,
      );
    }
    const listed = new Set(summary.volumeIds);
    const absent = view.expectedOn(service).filter((v) => !listed.has(v.driverVolumeId));
    if (absent.length > 0) {
      const shown = absent.slice(0, SHOWN).map((v) => `${v.name} (${v.driverVolumeId})`);
      problems.push(
        `${what} lacks ${absent.length} volume${absent.length === 1 ? '' : 's'} the catalog manages: ${shown.join(', ')}` +
          `${absent.length > SHOWN ? ` and ${absent.length - SHOWN} more` : ''}. The metadata is older than the catalog; ` +
          `Polly would refuse to start on it. Use an export taken after those volumes were made.`,
      );
    }
  }
  return problems;
}
