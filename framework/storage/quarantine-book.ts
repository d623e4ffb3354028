/**
 * The storage core's view of quarantined data: what each backend holds that its own records do not
 * explain (moved aside by the driver, never deleted). Listing is for everyone who may read; purging
 * (delete one entry, data and all) and restoring (make it a managed volume again) are explicit
 * operator acts, logged and published as `quarantine.purged` / `quarantine.restored` audit events.
 */
import { isDriverError } from '../../drivers/errors';
import type { QuarantinedEntry } from '../../drivers/storage-driver';
import { NotFoundError } from '../errors/not-found-error';
import { ValidationError } from '../errors/validation-error';
import { Logger, silentLogger } from '../shared/logger';
import type { ServiceRegistry, StorageService as ConfiguredService } from './service-registry';
import type { StorageEvents } from './storage-events';
import { toPollyError } from './storage-errors';
import type { VolumeCatalog } from './volume-catalog';
import { checkVolumeName, type VolumeRecord } from './volume-record';

/** A quarantined entry with the service whose backend holds it. */
export interface QuarantineView extends QuarantinedEntry {
  service: string;
}

export interface QuarantineBookOptions {
  registry: ServiceRegistry;
  catalog: VolumeCatalog;
  events: StorageEvents;
  logger?: Logger;
}

/** Who asked (the API's principal name), for the audit record. */
export interface QuarantineActor {
  by?: string;
}

const ENTRY_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

export class QuarantineBook {
  private readonly logger: Logger;

  constructor(private readonly options: QuarantineBookOptions) {
    this.logger = options.logger ?? silentLogger;
  }

  /** Every quarantined entry of one service (or of all): services whose driver keeps no quarantine have none. */
  async list(serviceName?: string): Promise<QuarantineView[]> {
    const { registry } = this.options;
    const services = serviceName === undefined ? registry.list() : [registry.get(serviceName)];
    const out: QuarantineView[] = [];
    for (const s of services) {
      if (typeof s.driver.quarantined !== 'function') continue;
      const entries = await call(() => s.driver.quarantined!());
      for (const e of entries) out.push({ service: s.name, ...e });
    }
    return out;
  }

  /** Deletes one entry, data and all; returns exactly what was deleted. */
  async purge(serviceName: string, id: string, actor: QuarantineActor = {}): Promise<QuarantineView> {
    const service = this.quarantining(serviceName);
    checkEntryId(id);
    const entry = { service: service.name, ...(await call(() => service.driver.purgeQuarantined!(id))) };
    const at = new Date().toISOString();
    this.logger.warn('quarantined data purged', { service: service.name, quarantineId: id, path: entry.path, by: actor.by });
    this.options.events.publish('quarantine.purged', { entry, action: 'purge', by: actor.by ?? '', at });
    return entry;
  }

  /** Makes an entry's data a managed volume again (a fresh backend ID, the given name, offered to nobody yet). */
  async restore(serviceName: string, id: string, name: string, actor: QuarantineActor = {}): Promise<VolumeRecord> {
    const service = this.quarantining(serviceName);
    checkEntryId(id);
    const volumeName = checkVolumeName(name);
    if (typeof service.driver.restoreQuarantined !== 'function') {
      throw new ValidationError(`Service "${service.name}" (driver ${service.definition.driver}) cannot restore quarantined data`, {
        service: service.name,
      });
    }
    const dv = await call(() => service.driver.restoreQuarantined!(id, volumeName));
    const volume = await this.options.catalog.register(service.name, dv.id);
    const at = new Date().toISOString();
    this.logger.warn('quarantined data restored as a volume', {
      service: service.name,
      quarantineId: id,
      volumeId: volume.id,
      by: actor.by,
    });
    this.options.events.publish('quarantine.restored', {
      quarantineId: id,
      service: service.name,
      volume,
      action: 'restore',
      by: actor.by ?? '',
      at,
    });
    return volume;
  }

  private quarantining(serviceName: string): ConfiguredService {
    const service = this.options.registry.get(serviceName);
    if (typeof service.driver.purgeQuarantined !== 'function') {
      throw new NotFoundError(`Service "${service.name}" (driver ${service.definition.driver}) keeps no quarantine`, {
        service: service.name,
      });
    }
    return service;
  }
}

function checkEntryId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || !ENTRY_ID.test(id)) {
    throw new NotFoundError(`No quarantined entry ${JSON.stringify(String(id).slice(0, 200))}`, { quarantineId: String(id).slice(0, 200) });
  }
}

async function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw isDriverError(err) ? toPollyError(err) : err;
  }
}
