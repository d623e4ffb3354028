/**
 * Before recovery trusts a backend, the store and the backend check each other. Backends that keep
 * their own metadata (vfs: `StorageDriver.backendMark`) have an identity and a sequence that only
 * grows; the store keeps, per service, the last mark Polly saw under `backends/<service>`. Start-up
 * is refused (BackendMismatchError, naming every problem at once) when:
 *
 * - the backend refuses itself (its metadata is missing or older than its data: DriverRefusedError);
 * - its identity is not the recorded one (the root was replaced, or the service points elsewhere);
 * - its sequence is lower than the recorded one (its journal was truncated or restored from an
 *   older backup);
 * - it is bound to another Polly installation (unless started with `adoptBackends`: then rebound);
 * - there is no record yet (a store written before marks, or a new installation) and a volume the
 *   catalog manages is not on the backend (an older journal).
 *
 * Otherwise the backend is bound to this installation (when the store knows its installation) and
 * its mark recorded. While Polly runs, the mark is recorded again on a timer when it changed, and at
 * a clean stop; never once per claim. A stale (lower) recorded sequence only weakens the check; it
 * never refuses a backend that is right.
 */
import { DriverRefusedError } from '../../drivers/errors';
import type { BackendMark } from '../../drivers/storage-driver';
import { BackendMismatchError } from '../errors/backend-mismatch-error';
import { PollyError } from '../errors/polly-error';
import { Logger, silentLogger } from '../shared/logger';
import { readInstallation } from '../state/installation';
import { backendKey } from '../state/keys';
import type { Store } from '../state/store';
import type { ServiceRegistry, StorageService as ConfiguredService } from './service-registry';
import { errorMessage } from './storage-errors';
import type { VolumeCatalog } from './volume-catalog';

/** What is stored under `backends/<service>`. */
export interface BackendMarkRecord {
  rootId: string;
  sequence: number;
  /** The installation the backend was bound to when this was recorded (absent when none was known). */
  installationId?: string;
  /** Where the backend keeps its metadata (the vfs root), as it was then. */
  location: string;
  /** ISO-8601. */
  checkedAt: string;
}

export type BackendProblemKind = 'refused' | 'replaced' | 'older' | 'foreign' | 'behind-catalog';

export interface BackendProblem {
  service: string;
  kind: BackendProblemKind;
  message: string;
  location?: string;
  recorded?: Partial<BackendMarkRecord>;
  found?: Partial<BackendMark>;
  /** For `behind-catalog`: the managed volumes the backend does not have (first 20). */
  volumes?: string[];
}

export interface BackendCheckOptions {
  store: Store;
  registry: ServiceRegistry;
  catalog: VolumeCatalog;
  logger?: Logger;
  /** Rebind backends bound to another installation (a new installation taking them over knowingly). */
  adopt?: boolean;
  /** How often the running marks are recorded when they changed, ms. Default 60 000. */
  recordEveryMs?: number;
}

const SHOWN_VOLUMES = 20;

export class BackendCheck {
  private readonly logger: Logger;
  /** The mark last written per service (only services whose driver has marks). */
  private readonly recorded = new Map<string, BackendMarkRecord>();
  /** The mark seen at the previous tick: what the next tick records (see `recordChanged`). */
  private readonly seen = new Map<string, BackendMark>();
  private timer: NodeJS.Timeout | undefined;
  private recording: Promise<void> = Promise.resolve();

  constructor(private readonly options: BackendCheckOptions) {
    this.logger = options.logger ?? silentLogger;
  }

  /**
   * Checks every service whose driver keeps marks (see the file comment); throws one
   * BackendMismatchError naming every problem, having changed nothing, or binds and records them.
   */
  async check(signal?: AbortSignal): Promise<void> {
    const { store, registry, adopt } = this.options;
    const installation = await readInstallation(store);
    const services = registry.list().filter((s) => typeof s.driver.backendMark === 'function');
    const checked = await Promise.all(services.map((s) => this.checkOne(s, installation?.id, adopt === true, signal)));
    const problems = checked.flatMap((c) => c.problems);
    if (problems.length > 0) {
      for (const p of problems) this.logger.error('storage backend refused', { service: p.service, kind: p.kind, location: p.location });
      throw new BackendMismatchError(`Polly will not start: ${problems.map((p) => p.message).join(' ')}`, { problems });
    }
    for (const { service, mark } of checked) {
      if (!mark) continue;
      let current = mark;
      if (installation && mark.installationId !== installation.id) {
        if (mark.installationId !== undefined) {
          this.logger.warn('adopting a storage backend bound to another installation', {
            service: service.name,
            location: mark.location,
            previousInstallation: mark.installationId,
            installation: installation.id,
          });
        }
        current = await service.driver.bindInstallation!(installation.id, { signal: this.bound(service, signal) });
      }
      await this.record(service.name, current);
      this.seen.set(service.name, current);
      this.logger.info('storage backend checked', {
        service: service.name,
        location: current.location,
        rootId: current.rootId,
        sequence: current.sequence,
      });
    }
  }

  /** Records the marks on a timer from now on (when they changed). */
  startRecording(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.recording = this.recording.then(() => this.recordChanged(false));
    }, this.options.recordEveryMs ?? 60_000);
    this.timer.unref();
  }

  /** Stops the timer and records the current marks (call when no more driver calls are in flight). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.recording;
    await this.recordChanged(true);
  }

  private async checkOne(
    service: ConfiguredService,
    installationId: string | undefined,
    adopt: boolean,
    signal: AbortSignal | undefined,
  ): Promise<{ service: ConfiguredService; mark?: BackendMark; problems: BackendProblem[] }> {
    const name = service.name;
    const problem = (p: Omit<BackendProblem, 'service'>): { service: ConfiguredService; problems: BackendProblem[] } => ({
      service,
      problems: [{ service: name, ...p }],
    });
    let mark: BackendMark;
    try {
      mark = await service.driver.backendMark!({ signal: this.bound(service, signal) });
    } catch (err) {
      if (err instanceof DriverRefusedError) {
        return problem({ kind: 'refused', message: `Storage service "${name}": ${err.message}`, ...locationOf(err) });
      }
      throw new PollyError(
        `Storage service "${name}" (driver ${service.definition.driver}) failed to start: ${errorMessage(err)}`,
        { service: name },
        { cause: err },
      );
    }
    const recorded = await this.readRecord(name);
    const where = `${service.definition.driver} root ${mark.location}`;
    const found = { rootId: mark.rootId, sequence: mark.sequence, installationId: mark.installationId };
    let checkContent = recorded === undefined;
    if (recorded && recorded.rootId !== mark.rootId) {
      if (!adopt) {
        return problem({
          kind: 'replaced',
          location: mark.location,
          recorded,
          found,
          message:
            `Storage service "${name}": the ${where} is not the one Polly recorded (root ID ${mark.rootId}, recorded ${recorded.rootId} ` +
            `at ${recorded.location} on ${recorded.checkedAt}): it was replaced, the service points at another directory, or its meta/ was ` +
            `restored from a backup older than the root's identity. Nothing was changed in its data. Point the service back at the root ` +
            `Polly knew, or restore that root (data and meta/ together) from a backup; never start Polly on another root.`,
        });
      }
      this.logger.warn('adopting a storage backend that is not the one recorded', { service: name, location: mark.location });
      checkContent = true;
    } else if (recorded && mark.sequence < recorded.sequence) {
      return problem({
        kind: 'older',
        location: mark.location,
        recorded,
        found,
        message:
          `Storage service "${name}": the journal of ${where} is older than Polly's records: it is at sequence ${mark.sequence}, ` +
          `Polly recorded ${recorded.sequence} on ${recorded.checkedAt}; it was truncated or restored from an older backup. Nothing was ` +
          `changed. Restore ${mark.location}/meta from a backup at least as new, or load an export taken at least as late with ` +
          `\`polly state import FILE --force\` (the store and this root's meta/ together); never start Polly on an older journal.`,
      });
    }
    if (installationId !== undefined && mark.installationId !== undefined && mark.installationId !== installationId && !adopt) {
      return problem({
        kind: 'foreign',
        location: mark.location,
        found,
        message:
          `Storage service "${name}": the ${where} belongs to another Polly installation (${mark.installationId}; this store is ` +
          `installation ${installationId}). Nothing was changed. Point the service at this installation's own root; a new installation ` +
          `takes an existing root over only when started knowingly with \`polly start --init\`.`,
      });
    }
    if (checkContent) {
      const absent = await this.volumesNotOnBackend(service, signal);
      if (absent.length > 0) {
        const shown = absent.slice(0, SHOWN_VOLUMES).map((v) => `${v.name} (${v.driverVolumeId})`);
        return problem({
          kind: 'behind-catalog',
          location: mark.location,
          found,
          volumes: absent.slice(0, SHOWN_VOLUMES).map((v) => v.id),
          message:
            `Storage service "${name}": ${absent.length} volume${absent.length === 1 ? '' : 's'} Polly manages ${absent.length === 1 ? 'is' : 'are'} ` +
            `not in the ${where}: ${shown.join(', ')}${absent.length > SHOWN_VOLUMES ? ` and ${absent.length - SHOWN_VOLUMES} more` : ''}. ` +
            `Its journal is older than Polly's catalog. Nothing was changed. Restore ${mark.location}/meta from a backup at least as new ` +
            `as the store, or load an export taken at least as late with \`polly state import FILE --force\` (the store and this root's ` +
            `meta/ together); never start Polly on an older journal.`,
        });
      }
    }
    return { service, mark, problems: [] };
  }

  /** Managed volumes that should be on the backend (not being removed, not already known missing) and are not. */
  private async volumesNotOnBackend(service: ConfiguredService, signal: AbortSignal | undefined) {
    const expected = this.options.catalog.ofService(service.name).filter((v) => v.status !== 'removing' && v.status !== 'missing');
    if (expected.length === 0) return [];
    let listed: Set<string>;
    try {
      listed = new Set((await service.driver.volumes({ signal: this.bound(service, signal) })).map((dv) => dv.id));
    } catch (err) {
      throw new PollyError(`Storage service "${service.name}" failed to start: cannot list its volumes: ${errorMessage(err)}`, {
        service: service.name,
      });
    }
    return expected.filter((v) => !listed.has(v.driverVolumeId));
  }

  private async readRecord(service: string): Promise<BackendMarkRecord | undefined> {
    const raw = await this.options.store.get<BackendMarkRecord>(backendKey(service));
    if (raw === undefined) return undefined;
    const r = raw as Partial<BackendMarkRecord> | null;
    if (
      typeof r !== 'object' ||
      r === null ||
      typeof r.rootId !== 'string' ||
      typeof r.sequence !== 'number' ||
      typeof r.location !== 'string' ||
      typeof r.checkedAt !== 'string'
    ) {
      throw new PollyError(
        `The state store's ${backendKey(service)} record is unreadable: ${JSON.stringify(raw).slice(0, 200)}. ` +
          `Restore the store from a backup, or run \`polly state import\`.`,
        { service },
      );
    }
    return r as BackendMarkRecord;
  }

  private async record(service: string, mark: BackendMark): Promise<void> {
    const record: BackendMarkRecord = {
      rootId: mark.rootId,
      sequence: mark.sequence,
      ...(mark.installationId !== undefined ? { installationId: mark.installationId } : {}),
      location: mark.location,
      checkedAt: new Date().toISOString(),
    };
    await this.options.store.put(backendKey(service), { ...record });
    this.recorded.set(service, record);
  }

  /**
   * Writes each mark that moved on since it was recorded. On the timer it records what the
   * previous tick saw, not what it sees now: a journal line another process has written but not
   * yet synced could be lost in a host crash, and a recorded sequence must never run ahead of what
   * is on disk. At a clean stop this process's own changes are all synced: the current mark is recorded.
   */
  private async recordChanged(final: boolean): Promise<void> {
    for (const [name, recorded] of this.recorded) {
      if (!this.options.registry.has(name)) continue;
      const service = this.options.registry.get(name);
      let now: BackendMark;
      try {
        now = await service.driver.backendMark!({ signal: this.bound(service, undefined) });
      } catch (err) {
        this.logger.warn('could not read a storage backend mark', { service: name, error: errorMessage(err) });
        continue;
      }
      const candidate = final ? now : this.seen.get(name);
      this.seen.set(name, now);
      if (!candidate || candidate.rootId !== recorded.rootId || candidate.sequence <= recorded.sequence) continue;
      try {
        await this.record(name, candidate);
      } catch (err) {
        this.logger.warn('could not record a storage backend mark', { service: name, error: errorMessage(err) });
      }
    }
  }

  private bound(service: ConfiguredService, signal: AbortSignal | undefined): AbortSignal {
    const timeout = AbortSignal.timeout(service.definition.timeoutMs);
    return signal ? AbortSignal.any([timeout, signal]) : timeout;
  }
}

function locationOf(err: DriverRefusedError): { location?: string } {
  const root = err.details?.root;
  return typeof root === 'string' ? { location: root } : {};
}
