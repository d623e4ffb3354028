/**
 * `polly state import FILE`: restores what `polly state export` wrote — the store's keys, then each
 * backend's own metadata into the configured backend of the same service — after checking, before
 * anything is written, that it all adds up:
 *
 * - the file reads whole (every line, each backend's metadata checked by its driver);
 * - the target store is empty, or `force` (then the export's keys overwrite, others stay);
 * - each service in the export is configured, with the driver that wrote its metadata;
 * - the metadata agrees with the store it is restored with (restore-check.ts);
 * - each backend accepts it: no metadata of its own unless `force` (then moved aside, never
 *   deleted), and data that matches it (a vfs root: nothing newer than the export, nothing missing);
 *   a backend whose own metadata is the same backend at the export's sequence or later keeps it.
 *
 * Every problem is reported at once (RestoreRefusedError) and nothing is changed. The file is read
 * twice (once to check, once to write), so the store's keys are never all held in memory. The
 * volumes' data is not in the file: restore it first (see the README, "Backup and restore").
 */
import { isDriverError } from '../../../drivers/errors';
import type { BackendMetadata } from '../../../drivers/storage-driver';
import { RestoreRefusedError } from '../../errors/restore-refused-error';
import { INSTALLATION_KEY, PREFIXES } from '../../state/keys';
import { type ImportedInstallation, recordImportedInstallation } from '../../state/open-installation';
import { type Store, StoreMissingError } from '../../state/store';
import type { ServiceRegistry } from '../service-registry';
import { errorMessage } from '../storage-errors';
import { type ExportHeader, loadStateKeys, readExportFile } from './export-lines';
import { type RestoredBackend, restoreProblems, RestoreView } from './restore-check';

export interface InstallationImportOptions {
  /** The configured store, not open yet (it is opened, and created only when the import is accepted). */
  store: Store;
  registry: ServiceRegistry;
  file: string;
  /** Polly's home (the home marker is written to name the imported installation). */
  home: string;
  force?: boolean;
}

export interface RestoredBackendResult {
  service: string;
  location: string;
  sequence: number;
  volumes: number;
  /** Where the metadata that was there was moved (with force). */
  replacedTo?: string;
  /** The backend's own metadata was kept: the same backend, as new as the export or newer. */
  kept?: boolean;
}

export interface InstallationImport {
  header?: ExportHeader;
  keys: number;
  installation: ImportedInstallation;
  backends: RestoredBackendResult[];
  /** Configured services whose backend keeps metadata, for which the export has none (they keep their own). */
  notInExport: string[];
}

interface Planned extends RestoredBackend {
  metadata: BackendMetadata;
}

export async function importInstallation(options: InstallationImportOptions): Promise<InstallationImport> {
  const { store, registry, file, home, force = false } = options;
  const problems: string[] = [];
  const view = new RestoreView();

  const existed = await openIfPresent(store);
  try {
    if (existed && (await store.count('')) > 0) {
      if (!force)
        problems.push(
          `The ${store.backend} store at ${store.location ?? store.backend} already holds state: import into an empty store, or pass --force to overwrite it.`,
        );
      else
        for (const prefix of [PREFIXES.volumes, PREFIXES.backends, INSTALLATION_KEY])
          for await (const [k, v] of store.scan(prefix)) view.add(k, v);
    }

    // First pass: read and check everything.
    let header: ExportHeader | undefined;
    let keys = 0;
    const entries: Array<{ service: string; metadata: BackendMetadata }> = [];
    for await (const line of readExportFile(file)) {
      if (line.kind === 'key') {
        keys++;
        view.add(line.entry.key, line.entry.value);
      } else if (line.kind === 'header') header = line.header;
      else entries.push(line.entry);
    }
    if (keys === 0) problems.push(`${file} holds no state keys: nothing to import.`);
    const planned = plan(entries, registry, problems);
    problems.push(...restoreProblems(view, planned));
    for (const p of planned) {
      try {
        await registry.get(p.service).driver.importMetadata!(p.metadata, { force, dryRun: true });
      } catch (err) {
        if (!isDriverError(err)) throw err;
        problems.push(`Service "${p.service}": ${err.message}`);
      }
    }
    if (problems.length > 0) throw new RestoreRefusedError(problems);

    // Accepted: the backends' metadata, then the store, then the home marker.
    const backends: RestoredBackendResult[] = [];
    for (const p of planned) {
      const result = await registry.get(p.service).driver.importMetadata!(p.metadata, { force });
      backends.push({
        service: p.service,
        location: result.location,
        sequence: p.summary.mark.sequence,
        volumes: p.summary.volumeIds.length,
        ...(result.replacedTo ? { replacedTo: result.replacedTo } : {}),
        ...(result.kept ? { kept: true } : {}),
      });
    }
    if (!store.isOpen) await store.open();
    const written = await loadStateKeys(store, readExportFile(file));
    const installation = await recordImportedInstallation(store, home);
    const restored = new Set(planned.map((p) => p.service));
    const notInExport = registry
      .list()
      .filter((s) => typeof s.driver.importMetadata === 'function' && !restored.has(s.name))
      .map((s) => s.name);
    return { ...(header ? { header } : {}), keys: written, installation, backends, notInExport };
  } finally {
    if (store.isOpen) await store.close();
  }
}

/** Opens the store if it exists (creating nothing); false when there is none. */
async function openIfPresent(store: Store): Promise<boolean> {
  try {
    await store.open({ createIfMissing: false });
    return true;
  } catch (err) {
    if (err instanceof StoreMissingError) return false;
    throw err;
  }
}

/** Each backend entry matched with its configured service and checked by its driver; problems otherwise. */
function plan(
  entries: ReadonlyArray<{ service: string; metadata: BackendMetadata }>,
  registry: ServiceRegistry,
  problems: string[],
): Planned[] {
  const planned: Planned[] = [];
  const seen = new Set<string>();
  for (const { service, metadata } of entries) {
    if (seen.has(service)) {
      problems.push(`Service "${service}" has its metadata twice in the export: use one export, as \`polly state export\` wrote it.`);
      continue;
    }
    seen.add(service);
    if (!registry.has(service)) {
      problems.push(
        `Service "${service}" is in the export but not configured: configure it (the same name, driver ${metadata.driver}) first.`,
      );
      continue;
    }
    const configured = registry.get(service);
    const { driver } = configured;
    if (configured.definition.driver !== metadata.driver || !driver.describeMetadata || !driver.importMetadata) {
      problems.push(
        `Service "${service}" is configured with driver ${configured.definition.driver}; the export holds ${metadata.driver} metadata for it.`,
      );
      continue;
    }
    try {
      planned.push({ service, metadata, summary: driver.describeMetadata(metadata) });
    } catch (err) {
      problems.push(`Service "${service}": the exported metadata is unreadable: ${errorMessage(err)}.`);
    }
  }
  return planned;
}
