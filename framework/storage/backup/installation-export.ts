/**
 * `polly state export`: everything needed to restore an installation except the volumes' data —
 * the store (every key, the installation marker and the backends' marks included), then each
 * backend's own metadata (a vfs root's journal, as one checkpoint, read under the root's lock).
 * The store is read first: a backend's sequence only grows, so the metadata exported after it is
 * never older than the catalog and the marks exported with it (export-lines.ts has the format).
 */
import { isDriverError } from '../../../drivers/errors';
import { PollyError } from '../../errors/polly-error';
import { readInstallation } from '../../state/installation';
import type { Store } from '../../state/store';
import type { ServiceRegistry } from '../service-registry';
import { errorMessage } from '../storage-errors';
import { EXPORT_FORMAT, exportState, type ExportHeader, writeLine } from './export-lines';

export interface ExportedBackend {
  service: string;
  /** Where its metadata was read (the vfs root). */
  location: string;
  sequence: number;
  volumes: number;
}

export interface InstallationExport {
  keys: number;
  backends: ExportedBackend[];
  /** Services whose backend keeps metadata but has none yet (nothing to back up). */
  empty: string[];
}

export async function exportInstallation(options: {
  store: Store;
  registry: ServiceRegistry;
  out: NodeJS.WritableStream;
}): Promise<InstallationExport> {
  const { store, registry, out } = options;
  const installation = await readInstallation(store);
  const header: ExportHeader = {
    pollyExport: EXPORT_FORMAT,
    exportedAt: new Date().toISOString(),
    backend: store.backend,
    ...(installation ? { installationId: installation.id } : {}),
  };
  await writeLine(out, header);
  const keys = await exportState(store, out);
  const backends: ExportedBackend[] = [];
  const empty: string[] = [];
  for (const service of registry.list()) {
    const { driver } = service;
    if (typeof driver.exportMetadata !== 'function' || typeof driver.describeMetadata !== 'function') continue;
    let metadata;
    try {
      metadata = await driver.exportMetadata();
    } catch (err) {
      const message = isDriverError(err) ? err.message : errorMessage(err);
      throw new PollyError(`Storage service "${service.name}": ${message}`, { service: service.name }, { cause: err });
    }
    if (!metadata) {
      empty.push(service.name);
      continue;
    }
    const summary = driver.describeMetadata(metadata);
    await writeLine(out, { backendMetadata: { service: service.name, metadata } });
    backends.push({
      service: service.name,
      location: summary.mark.location,
      sequence: summary.mark.sequence,
      volumes: summary.volumeIds.length,
    });
  }
  return { keys, backends, empty };
}
