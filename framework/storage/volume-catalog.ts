/**
 * The volume catalog: Polly's record of every managed volume (created through Polly or registered),
 * indexed in memory by service + case-insensitive name, by zone and by scheduler, loaded from the
 * store once at start so no request scans. Unmanaged volumes (on a backend, not registered) are
 * listed from the drivers on demand.
 *
 * Every change to a volume runs in that volume's slot of the shared KeyedSerialQueue (one at a time
 * per volume), is persisted in one store batch, then applied in memory and emitted. Records handed
 * out are frozen: callers cannot change the catalog behind its back.
 */
import { checkCreateOptions } from '../../drivers/create-options';
import { DriverConflictError, DriverNotFoundError } from '../../drivers/errors';
import { nameKey } from '../../drivers/name-rules';
import type { DriverVolume, StorageDriver, VolumeCreateOptions } from '../../drivers/storage-driver';
import { ConflictError } from '../errors/conflict-error';
import { NotFoundError } from '../errors/not-found-error';
import { UnavailableError } from '../errors/unavailable-error';
import { ValidationError } from '../errors/validation-error';
import { Logger, silentLogger } from '../shared/logger';
import { PREFIXES, volumeKey, volumeNameKey } from '../state/keys';
import { scanAllValues } from '../state/scan-all';
import type { BatchOperation, Store } from '../state/store';
import type { ClaimRecord } from './claim-record';
import { crashPoint } from './crash-points';
import { IntentLog } from './intent-log';
import type { KeyedSerialQueue } from './keyed-queue';
import type { CreateRequest } from './profile';
import { isTransient, retryCreate, retryTransient, RetryOptions } from './retry';
import type { ServiceRegistry } from './service-registry';
import { StorageEvents } from './storage-events';
import { sharedStrings } from './string-pool';
import { SortedIdSet } from './sorted-id-set';
import { errorMessage, toPollyError } from './storage-errors';
import { formatVolumeId, parseVolumeId } from './volume-id';
import {
  checkLabelKeys,
  checkSchedulerName,
  checkSchedulers,
  checkStringMap,
  checkVolumeName,
  statusFor,
  VolumeRecord,
  VolumeStatus,
  volumeFromDriver,
} from './volume-record';

export interface CreateVolumeRequest extends CreateRequest {
  service: string;
  name: string;
  /** Default `default`. */
  profile?: string;
  labels?: Record<string, string>;
  /** Passed to the driver and kept on the record. */
  fields?: Record<string, string>;
  /** Schedulers to offer the new volume to. */
  schedulers?: string[];
  /** The scheduler the volume is created on behalf of: it is offered to it (original Polly behaviour). */
  scheduler?: string;
}

/** Where a volume made from existing data comes from (driver IDs on the same service). */
export type VolumeSource = { copyOf: string } | { snapshot: string; create?: VolumeCreateOptions };

export interface CreateFromRequest {
  service: string;
  name: string;
  source: VolumeSource;
  schedulers?: string[];
  labels?: Record<string, string>;
}

export interface RegisterVolumeOptions {
  schedulers?: string[];
  labels?: Record<string, string>;
}

export interface VolumeFilter {
  service?: string;
  /** Only volumes offered to this scheduler. */
  scheduler?: string;
  /** Every `k=v` must match. */
  labels?: Record<string, string>;
  /** Case-insensitive exact name. */
  name?: string;
  zone?: string;
  status?: VolumeStatus;
}

/** How many volumes one page may hold. */
export const MAX_PAGE_SIZE = 10_000;

export interface PageRequest {
  /** 1 to MAX_PAGE_SIZE. */
  limit: number;
  /** The `next` of the previous page: the page starts after this volume ID. */
  after?: string;
}

/** One page of a listing, in volume ID order; `next` is set when more volumes follow. */
export interface VolumePage {
  volumes: VolumeRecord[];
  next?: string;
}

/** The volumes an index narrowed a filter to (undefined: no index applies, every volume is a candidate). */
interface Candidates {
  ids: Iterable<string>;
  size: number;
}

/** A record change computed but not yet applied: persist `ops` (with other ops), then `commit()`. */
export interface StagedVolumeChange {
  readonly record: VolumeRecord | undefined;
  readonly ops: BatchOperation[];
  commit(): void;
}

export interface VolumeCatalogOptions {
  store: Store;
  registry: ServiceRegistry;
  queue: KeyedSerialQueue;
  intents: IntentLog;
  events: StorageEvents;
  logger?: Logger;
  retry?: RetryOptions;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Most volumes have no labels or fields: they all share these (records are frozen, never edited in place). */
const NO_ENTRIES: Record<string, string> = Object.freeze({}) as Record<string, string>;

function isEmpty(map: Record<string, string>): boolean {
  for (const _ in map) return false;
  return true;
}

function freeze(record: VolumeRecord): VolumeRecord {
  if (isEmpty(record.labels)) record.labels = NO_ENTRIES;
  if (isEmpty(record.fields)) record.fields = NO_ENTRIES;
  Object.freeze(record.labels);
  Object.freeze(record.fields);
  Object.freeze(record.schedulers);
  for (const a of record.attachments) Object.freeze(a);
  Object.freeze(record.attachments);
  if (record.foreignAttachments !== undefined) {
    if (record.foreignAttachments.length === 0) delete record.foreignAttachments;
    else {
      for (const a of record.foreignAttachments) Object.freeze(a);
      Object.freeze(record.foreignAttachments);
    }
  }
  return Object.freeze(record);
}

/**
 * A loaded record's repeated strings made shared (JSON.parse makes one per occurrence): equal
 * timestamps point at one string, low-cardinality fields at the pooled one (string-pool.ts).
 */
function shareStrings(record: VolumeRecord): VolumeRecord {
  if (record.updatedAt === record.createdAt) record.updatedAt = record.createdAt;
  // V8 already shares parsed strings of up to 10 characters ("available", "RW"); longer
  // repeated ones are pooled here.
  record.availabilityZone = sharedStrings.intern(record.availabilityZone);
  record.schedulers = sharedStrings.internList(record.schedulers) as string[];
  for (const a of record.attachments) {
    if (a.attachedAt === record.updatedAt) a.attachedAt = record.updatedAt;
    a.instanceId = sharedStrings.intern(a.instanceId);
    a.agentId = sharedStrings.intern(a.agentId);
  }
  return record;
}

/** A mutable deep copy (every field is a primitive, a string map, a string list or a list of attachments). */
function draftOf(record: VolumeRecord): VolumeRecord {
  // By hand: structuredClone serialises and was a visible share of each claim cycle's CPU.
  const draft: Mutable<VolumeRecord> = {
    ...record,
    labels: { ...record.labels },
    fields: { ...record.fields },
    schedulers: [...record.schedulers],
    attachments: record.attachments.map((a) => ({ ...a })),
  };
  if (record.foreignAttachments) draft.foreignAttachments = record.foreignAttachments.map((a) => ({ ...a }));
  return draft;
}

function addTo(index: Map<string, Set<string>>, key: string, id: string): void {
  let set = index.get(key);
  if (!set) index.set(key, (set = new Set()));
  set.add(id);
}

function indexSecondary(to: { byZone: Map<string, Set<string>>; byScheduler: Map<string, Set<string>> }, record: VolumeRecord): void {
  if (record.availabilityZone !== undefined) addTo(to.byZone, record.availabilityZone, record.id);
  for (const s of record.schedulers) addTo(to.byScheduler, s, record.id);
}

function removeFrom(index: Map<string, Set<string>>, key: string, id: string): void {
  const set = index.get(key);
  if (!set) return;
  set.delete(id);
  if (set.size === 0) index.delete(key);
}

function unindexSecondary(from: { byZone: Map<string, Set<string>>; byScheduler: Map<string, Set<string>> }, record: VolumeRecord): void {
  if (record.availabilityZone !== undefined) removeFrom(from.byZone, record.availabilityZone, record.id);
  for (const s of record.schedulers) removeFrom(from.byScheduler, s, record.id);
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function checkPageRequest(request: PageRequest): void {
  const { limit, after } = request;
  const problems: Array<{ field: string; message: string }> = [];
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
    problems.push({ field: 'limit', message: `limit must be a whole number from 1 to ${MAX_PAGE_SIZE}` });
  }
  if (after !== undefined && (typeof after !== 'string' || after.length === 0 || after.length > 1024)) {
    problems.push({ field: 'after', message: 'after must be the next value of the previous page (a volume ID)' });
  }
  if (problems.length > 0) throw new ValidationError(problems.map((p) => p.message).join('; '), { field: problems[0].field, problems });
}

export class VolumeCatalog {
  private readonly store: Store;
  private readonly registry: ServiceRegistry;
  private readonly queue: KeyedSerialQueue;
  private readonly intents: IntentLog;
  private readonly events: StorageEvents;
  private readonly logger: Logger;
  private readonly retry: RetryOptions;
  private readonly volumes = new Map<string, VolumeRecord>();
  /** `<service>\0<name key>` → volume ID. */
  /** Service → name key → volume ID (no composite key string per volume). */
  private readonly byName = new Map<string, Map<string, string>>();
  /**
   * Zone and scheduler indexes, built on the first list() that needs one and kept up to date from
   * then on: start-up (100,000 volumes) does not build 300,000 Set entries before serving.
   */
  private secondary: { byZone: Map<string, Set<string>>; byScheduler: Map<string, Set<string>> } | undefined;
  /** Every volume ID in order: pages are read from here (O(log n) to find where one starts). */
  private readonly ordered = new SortedIdSet();
  /** Names being created right now: a concurrent create of the same name fails fast. */
  private readonly creating = new Set<string>();
  /** Asked before a remove: the live claim holding the volume, if any (the ledger answers). */
  private liveClaimOf: (volumeId: string) => ClaimRecord | undefined = () => undefined;

  constructor(options: VolumeCatalogOptions) {
    this.store = options.store;
    this.registry = options.registry;
    this.queue = options.queue;
    this.intents = options.intents;
    this.events = options.events;
    this.logger = options.logger ?? silentLogger;
    this.retry = options.retry ?? {};
  }

  /** The ledger tells the catalog which volumes are held (a remove is refused while one is). */
  setLiveClaimCheck(check: (volumeId: string) => ClaimRecord | undefined): void {
    this.liveClaimOf = check;
  }

  /** Loads every record with one prefix scan. */
  async load(): Promise<number> {
    this.volumes.clear();
    this.byName.clear();
    this.ordered.clear();
    this.secondary = undefined;
    // One await per batch of records, not per record (100,000 volumes at start-up).
    for await (const batch of scanAllValues<VolumeRecord>(this.store, PREFIXES.volumes)) {
      for (const record of batch) this.index(freeze(shareStrings(record)));
    }
    return this.volumes.size;
  }

  get size(): number {
    return this.volumes.size;
  }

  find(id: string): VolumeRecord | undefined {
    return this.volumes.get(id);
  }

  get(id: string): VolumeRecord {
    const record = this.volumes.get(id);
    if (!record) throw new NotFoundError(`Volume ${JSON.stringify(String(id).slice(0, 300))} not found`, { volumeId: id });
    return record;
  }

  findByName(service: string, name: string): VolumeRecord | undefined {
    const id = this.nameOwner(service, nameKey(name));
    return id === undefined ? undefined : this.volumes.get(id);
  }

  /** All records of one service (recovery walks these). */
  ofService(service: string): VolumeRecord[] {
    // No per-service index: deployments have a handful of services, so one holds most volumes and
    // a Set of them (100,000 entries, ~3 MiB, built at start-up) would buy nothing over this walk.
    const out: VolumeRecord[] = [];
    for (const v of this.volumes.values()) if (v.service === service) out.push(v);
    return out;
  }

  all(): IterableIterator<VolumeRecord> {
    return this.volumes.values();
  }

  /** Managed volumes matching `filter`, using the most selective index available. */
  list(filter: VolumeFilter = {}): VolumeRecord[] {
    const matches = this.matcher(filter);
    const out: VolumeRecord[] = [];
    for (const id of this.candidates(filter)?.ids ?? this.volumes.keys()) {
      const v = this.volumes.get(id);
      if (v && matches(v)) out.push(v);
    }
    return out;
  }

  /**
   * One page of `list(filter)`, in volume ID order: the first `request.limit` matches after the ID
   * `request.after`, with `next` set when more follow. Its cost does not grow with the catalog: the
   * start is found in O(log n), then IDs are read in order from there until the page is full (and
   * one more match is seen), unless an index narrows the filter to so few volumes that sorting
   * those is cheaper than the walk it would take to fill the page.
   */
  page(filter: VolumeFilter, request: PageRequest): VolumePage {
    checkPageRequest(request);
    const { limit, after } = request;
    const matches = this.matcher(filter);
    const narrowed = this.candidates(filter);
    let ids: Iterable<string> = this.ordered.after(after);
    if (narrowed !== undefined) {
      const k = narrowed.size;
      // Expected IDs walked to find limit + 1 matches spread evenly, against sorting the k candidates.
      const walk = Math.min(this.volumes.size, ((limit + 1) * this.volumes.size) / Math.max(k, 1));
      if (k * Math.log2(k + 2) < walk) {
        const sorted: string[] = [];
        for (const id of narrowed.ids) if (after === undefined || id > after) sorted.push(id);
        ids = sorted.sort();
      }
    }
    const volumes: VolumeRecord[] = [];
    for (const id of ids) {
      const v = this.volumes.get(id);
      if (!v || !matches(v)) continue;
      if (volumes.length === limit) return { volumes, next: volumes[limit - 1].id };
      volumes.push(v);
    }
    return { volumes };
  }

  /** Volumes on the backends that are not registered (read from the drivers; one `volumes()` call per service). */
  async listUnmanaged(service?: string): Promise<VolumeRecord[]> {
    const services = service === undefined ? this.registry.list() : [this.registry.get(service)];
    const out: VolumeRecord[] = [];
    for (const s of services) {
      let dvs: DriverVolume[];
      try {
        dvs = await s.driver.volumes();
      } catch (err) {
        throw toPollyError(err);
      }
      for (const dv of dvs) {
        const id = formatVolumeId(s.name, dv.id);
        if (this.volumes.has(id)) continue;
        const record = volumeFromDriver(id, s.name, dv, { managed: false });
        record.status = dv.attachments.length > 0 ? 'attached' : 'available';
        out.push(freeze(record));
      }
    }
    return out;
  }

  /** Managed volumes matching `filter` plus (when `all`) the unmanaged ones of the filtered service(s). */
  async listAll(filter: VolumeFilter = {}): Promise<VolumeRecord[]> {
    const managed = this.list(filter);
    const unmanaged = await this.unmanagedMatching(filter);
    return unmanaged.length === 0 ? managed : [...managed, ...unmanaged];
  }

  /**
   * One page of `listAll(filter)` in volume ID order (see `page`). The unmanaged volumes come from
   * the drivers, one `volumes()` call per service for each page, as for `listAll`.
   */
  async pageAll(filter: VolumeFilter, request: PageRequest): Promise<VolumePage> {
    const managed = this.page(filter, request);
    const { limit, after } = request;
    const unmanaged = (await this.unmanagedMatching(filter)).filter((v) => after === undefined || v.id > after);
    if (unmanaged.length === 0) return managed;
    unmanaged.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const merged: VolumeRecord[] = [];
    let m = 0;
    let u = 0;
    while (merged.length <= limit && (m < managed.volumes.length || u < unmanaged.length)) {
      const takeManaged = u >= unmanaged.length || (m < managed.volumes.length && managed.volumes[m].id < unmanaged[u].id);
      merged.push(takeManaged ? managed.volumes[m++] : unmanaged[u++]);
    }
    const more = merged.length > limit || managed.next !== undefined;
    const volumes = merged.slice(0, limit);
    return more ? { volumes, next: volumes[volumes.length - 1].id } : { volumes };
  }

  /** The unmanaged volumes `filter` lets through (none when it asks for a scheduler or labels). */
  private async unmanagedMatching(filter: VolumeFilter): Promise<VolumeRecord[]> {
    // Unmanaged volumes are offered to nobody and carry no labels.
    if (filter.scheduler !== undefined || Object.keys(filter.labels ?? {}).length > 0) return [];
    return (await this.listUnmanaged(filter.service)).filter(
      (v) =>
        (filter.zone === undefined || v.availabilityZone === filter.zone) &&
        (filter.status === undefined || v.status === filter.status) &&
        (filter.name === undefined || nameKey(v.name) === nameKey(filter.name)),
    );
  }

  /** Creates a volume through the intent log: validated, unique, then driver, then record. */
  async create(request: CreateVolumeRequest): Promise<VolumeRecord> {
    // Everything is checked before anything is written anywhere.
    if (typeof request !== 'object' || request === null) throw new ValidationError('A create request must be an object');
    const name = checkVolumeName(request.name);
    if (typeof request.service !== 'string') throw ValidationError.field('service', 'service is required');
    const service = this.registry.get(request.service);
    const labels = request.labels === undefined ? {} : checkStringMap(request.labels, 'labels');
    const fields = request.fields === undefined ? {} : checkStringMap(request.fields, 'fields');
    const schedulers = checkSchedulers([...(request.schedulers ?? []), ...(request.scheduler === undefined ? [] : [request.scheduler])]);
    const resolved = this.registry.resolveCreate(service.name, request.profile, {
      size: request.size,
      type: request.type,
      iops: request.iops,
      fsType: request.fsType,
      encrypted: request.encrypted,
      availabilityZone: request.availabilityZone,
    });
    let create: VolumeCreateOptions;
    try {
      create = checkCreateOptions({ ...resolved.create, profile: resolved.profile, ...(Object.keys(fields).length > 0 ? { fields } : {}) });
    } catch (err) {
      throw toPollyError(err);
    }
    return this.createUnderIntent({
      service: service.name,
      name,
      payload: { name, create, profile: resolved.profile, labels, schedulers },
      before: () => this.registry.markUsed(this.registry.profile(service.name, resolved.profile)),
      make: (driver) => driver.volumeCreate(name, create),
      record: { managed: true, schedulers, labels, profile: resolved.profile },
    });
  }

  /**
   * Creates a volume from another volume's data or from a snapshot (libStorage copy and
   * create-from-snapshot), under a create intent exactly like `create`: the name is the
   * idempotency key, so recovery settles a half-done copy the same way.
   */
  async createFrom(request: CreateFromRequest): Promise<VolumeRecord> {
    if (typeof request !== 'object' || request === null) throw new ValidationError('A create request must be an object');
    const name = checkVolumeName(request.name);
    const service = this.registry.get(request.service);
    const labels = request.labels === undefined ? {} : checkStringMap(request.labels, 'labels');
    const schedulers = checkSchedulers(request.schedulers ?? []);
    const source = request.source;
    let make: (driver: StorageDriver) => Promise<DriverVolume>;
    if ('copyOf' in source && typeof source.copyOf === 'string') {
      make = (driver) => driver.volumeCopy(source.copyOf, name);
    } else if ('snapshot' in source && typeof source.snapshot === 'string') {
      let create: VolumeCreateOptions;
      try {
        create = checkCreateOptions(source.create ?? {});
      } catch (err) {
        throw toPollyError(err);
      }
      make = (driver) => driver.volumeCreateFromSnapshot(source.snapshot, name, create);
    } else {
      throw ValidationError.field('source', 'source must name a volume to copy or a snapshot');
    }
    return this.createUnderIntent({
      service: service.name,
      name,
      payload: { name, source, labels, schedulers },
      make,
      record: { managed: true, schedulers, labels },
    });
  }

  /**
   * The create protocol: name free (here and on the backend), intent durable, driver call (a
   * "maybe" is settled by asking the backend for the name), then the record with the intent resolved.
   */
  private async createUnderIntent(c: {
    service: string;
    name: string;
    payload: Record<string, unknown>;
    before?: () => Promise<void>;
    make: (driver: StorageDriver) => Promise<DriverVolume>;
    record: Parameters<typeof volumeFromDriver>[3];
  }): Promise<VolumeRecord> {
    const { name } = c;
    const service = this.registry.get(c.service);
    const nk = `${service.name}\u0000${nameKey(name)}`;
    this.assertNameFree(service.name, name, nk);
    volumeNameKey(service.name, name); // a name the store cannot key is refused here, not after the driver call
    this.creating.add(nk);
    try {
      return await this.queue.run(`create/${service.name}/${nameKey(name)}`, async () => {
        this.assertNameFree(service.name, name, nk, true);
        // A backend whose create is idempotent by name (CSI, with names Polly derives from its own)
        // is not searched first: the create itself finds a volume an earlier attempt made.
        const existing = service.driver.createIdempotentByName ? undefined : await this.call(() => service.driver.volumeInspectByName(name));
        if (existing) {
          const id = formatVolumeId(service.name, existing.id);
          throw new ConflictError(
            `A volume named ${JSON.stringify(name)} already exists on service "${service.name}" (${id}); register it to manage it`,
            { service: service.name, name, volumeId: id },
          );
        }
        await c.before?.();
        crashPoint('create', 'before-intent');
        const intent = await this.intents.begin({ kind: 'create', key: name, service: service.name, payload: c.payload });
        crashPoint('create', 'after-intent');
        const dv = await this.driverCreate(service.driver, name, () => c.make(service.driver), intent.id);
        crashPoint('create', 'after-driver');
        const record = volumeFromDriver(formatVolumeId(service.name, dv.id), service.name, dv, c.record);
        const staged = this.stageInsert(record);
        await this.intents.resolve(intent.id, staged.ops);
        staged.commit();
        crashPoint('create', 'after-resolve');
        this.logger.info('volume created', { volumeId: record.id, service: service.name, name, size: record.size });
        return this.get(record.id);
      });
    } finally {
      this.creating.delete(nk);
    }
  }

  /** Turns an unmanaged backend volume into a managed one. */
  async register(serviceName: string, driverVolumeId: string, options: RegisterVolumeOptions = {}): Promise<VolumeRecord> {
    const service = this.registry.get(serviceName);
    const id = formatVolumeId(service.name, driverVolumeId);
    const schedulers = checkSchedulers(options.schedulers ?? []);
    const labels = options.labels === undefined ? {} : checkStringMap(options.labels, 'labels');
    return this.queue.run(id, async () => {
      if (this.volumes.has(id)) throw new ConflictError(`Volume ${id} is already managed`, { volumeId: id });
      let dv: DriverVolume;
      try {
        dv = await this.call(() => service.driver.volumeInspect(driverVolumeId));
      } catch (err) {
        if (err instanceof DriverNotFoundError) {
          throw new NotFoundError(`Service "${service.name}" has no volume ${JSON.stringify(driverVolumeId)}`, { volumeId: id });
        }
        throw toPollyError(err);
      }
      const nk = `${service.name}\u0000${nameKey(dv.name)}`;
      this.assertNameFree(service.name, dv.name, nk);
      const staged = this.stageInsert(volumeFromDriver(id, service.name, dv, { managed: true, schedulers, labels }));
      await this.store.batch(staged.ops);
      staged.commit();
      this.logger.info('volume registered', { volumeId: id, service: service.name, name: dv.name });
      return this.get(id);
    });
  }

  /** Removes a managed volume from the backend and the catalog; refused while a live claim holds it. */
  async remove(id: string): Promise<void> {
    parseVolumeId(id);
    await this.queue.run(id, async () => {
      const record = this.get(id);
      const holder = this.liveClaimOf(id);
      if (holder) {
        throw new ConflictError(`Volume ${id} is claimed (claim ${holder.id}, task ${holder.taskId ?? '-'}, agent ${holder.agentId})`, {
          volumeId: id,
          claimId: holder.id,
          taskId: holder.taskId,
          agentId: holder.agentId,
        });
      }
      const service = this.registry.get(record.service);
      crashPoint('remove', 'before-intent');
      const removing = this.stageUpdate(id, (d) => {
        d.status = 'removing';
      });
      const intent = await this.intents.begin(
        {
          kind: 'remove',
          key: id,
          service: record.service,
          volumeId: id,
          payload: { driverVolumeId: record.driverVolumeId, name: record.name },
        },
        removing.ops,
      );
      removing.commit();
      crashPoint('remove', 'after-intent');
      try {
        await this.call(() => service.driver.volumeRemove(record.driverVolumeId), true);
      } catch (err) {
        if (!(err instanceof DriverNotFoundError)) {
          if (!isTransient(err)) {
            // Definitely not removed (e.g. attached outside Polly): undo the status, close the intent.
            const back = this.stageUpdate(id, (d) => {
              d.status = statusFor({ status: 'available', attachments: d.attachments });
            });
            await this.intents.resolve(intent.id, back.ops);
            back.commit();
          }
          // A transient failure leaves the intent open: recovery asks the backend what happened.
          throw toPollyError(err);
        }
      }
      crashPoint('remove', 'after-driver');
      const staged = this.stageDelete(id);
      await this.intents.resolve(intent.id, staged.ops);
      staged.commit();
      crashPoint('remove', 'after-resolve');
      this.logger.info('volume removed', { volumeId: id, service: record.service, name: record.name });
    });
  }

  async setLabels(id: string, labels: Record<string, string>): Promise<VolumeRecord> {
    const checked = checkStringMap(labels, 'labels');
    return this.update(id, (d) => {
      Object.assign(d.labels, checked);
      if (Object.keys(d.labels).length > 64) throw ValidationError.field('labels', 'A volume has at most 64 labels');
    });
  }

  async removeLabels(id: string, keys: string[]): Promise<VolumeRecord> {
    const checked = checkLabelKeys(keys);
    return this.update(id, (d) => {
      for (const k of checked) delete d.labels[k];
    });
  }

  async setFields(id: string, fields: Record<string, string>): Promise<VolumeRecord> {
    const checked = checkStringMap(fields, 'fields');
    return this.update(id, (d) => {
      Object.assign(d.fields, checked);
      if (Object.keys(d.fields).length > 64) throw ValidationError.field('fields', 'A volume has at most 64 fields');
    });
  }

  /** Offers the volume to schedulers (they may see and claim it). */
  async offer(id: string, schedulers: string[]): Promise<VolumeRecord> {
    const checked = checkSchedulers(schedulers);
    return this.update(id, (d) => {
      d.schedulers = [...new Set([...d.schedulers, ...checked])];
    });
  }

  /** Withdraws the offer; live claims stay (release them separately), new claims are refused. */
  async revoke(id: string, schedulers: string[]): Promise<VolumeRecord> {
    const checked = new Set(checkSchedulers(schedulers));
    return this.update(id, (d) => {
      d.schedulers = d.schedulers.filter((s) => !checked.has(s));
    });
  }

  isOfferedTo(volume: VolumeRecord, scheduler: string): boolean {
    checkSchedulerName(scheduler);
    return volume.schedulers.includes(scheduler);
  }

  // ---- staged changes: for the ledger and recovery, which batch them with their own records ----

  stageInsert(record: VolumeRecord): StagedVolumeChange {
    const frozen = freeze(record);
    return {
      record: frozen,
      ops: [
        { type: 'put', key: volumeKey(frozen.id), value: frozen, expectVersion: 0 },
        { type: 'put', key: volumeNameKey(frozen.service, frozen.name), value: frozen.id },
      ],
      commit: () => {
        this.index(frozen);
        this.events.publish('volume.created', { volume: frozen });
      },
    };
  }

  /** `mutate` edits a draft copy; the status follows the attachments unless it is removing/missing. */
  stageUpdate(id: string, mutate: (draft: VolumeRecord) => void): StagedVolumeChange {
    const before = this.get(id);
    const draft = draftOf(before);
    mutate(draft);
    draft.status = statusFor(draft);
    draft.updatedAt = new Date().toISOString();
    const after = freeze(draft);
    return {
      record: after,
      ops: [{ type: 'put', key: volumeKey(id), value: after }],
      commit: () => {
        if (this.volumes.get(id) !== before) {
          this.logger.warn('volume record changed while a staged update was in flight', { volumeId: id });
        }
        this.replace(before, after);
        this.events.publish('volume.updated', { volume: after });
      },
    };
  }

  stageDelete(id: string): StagedVolumeChange {
    const before = this.get(id);
    const ops: BatchOperation[] = [{ type: 'del', key: volumeKey(id) }];
    // The name entry goes only if it still points here.
    const nameOwner = this.nameOwner(before.service, nameKey(before.name));
    if (nameOwner === id) ops.push({ type: 'del', key: volumeNameKey(before.service, before.name) });
    return {
      record: undefined,
      ops,
      commit: () => {
        this.unindex(before);
        this.events.publish('volume.removed', { volume: before });
      },
    };
  }

  // ---- internals ----

  private async update(id: string, mutate: (draft: VolumeRecord) => void): Promise<VolumeRecord> {
    parseVolumeId(id);
    return this.queue.run(id, async () => {
      const staged = this.stageUpdate(id, mutate);
      await this.store.batch(staged.ops);
      staged.commit();
      return staged.record!;
    });
  }

  private assertNameFree(service: string, name: string, nk: string, ownReservation = false): void {
    const holder = this.nameOwner(service, nameKey(name));
    if (holder !== undefined || (!ownReservation && this.creating.has(nk))) {
      throw new ConflictError(`A volume named ${JSON.stringify(name)} already exists on service "${service}"`, {
        service,
        name,
        ...(holder !== undefined ? { volumeId: holder } : {}),
      });
    }
  }

  /**
   * Creates under the intent. A "maybe" (timeout) is resolved by asking the backend for the name
   * (the create's idempotency key) before trying again; a definite failure closes the intent.
   */
  private async driverCreate(
    driver: StorageDriver,
    name: string,
    make: () => Promise<DriverVolume>,
    intentId: string,
  ): Promise<DriverVolume> {
    try {
      return await retryCreate(make, () => driver.volumeInspectByName(name), this.retry);
    } catch (err) {
      if (isTransient(err)) {
        this.logger.error('volume create outcome unknown; recovery will settle it', { name, intentId, error: errorMessage(err) });
        throw new UnavailableError(`Creating volume ${JSON.stringify(name)} timed out; it will be settled by recovery`, { name });
      }
      await this.intents.resolve(intentId); // nothing was created
      if (err instanceof DriverConflictError) {
        throw new ConflictError(`A volume named ${JSON.stringify(name)} already exists on the backend`, { name }, { cause: err });
      }
      throw toPollyError(err);
    }
  }

  /** A driver call retried while the outcome is "maybe"; errors stay driver errors when `raw`. */
  private async call<T>(fn: () => Promise<T>, raw = false): Promise<T> {
    try {
      return await retryTransient(fn, this.retry);
    } catch (err) {
      if (raw || err instanceof DriverNotFoundError) throw err;
      throw toPollyError(err);
    }
  }

  private nameOwner(service: string, key: string): string | undefined {
    return this.byName.get(service)?.get(key);
  }

  private secondaryIndexes(): NonNullable<VolumeCatalog['secondary']> {
    if (!this.secondary) {
      const built = { byZone: new Map<string, Set<string>>(), byScheduler: new Map<string, Set<string>>() };
      for (const record of this.volumes.values()) indexSecondary(built, record);
      this.secondary = built;
    }
    return this.secondary;
  }

  /** The IDs the most selective index gives for `filter`; undefined when none applies. */
  private candidates(filter: VolumeFilter): Candidates | undefined {
    if (filter.name !== undefined && filter.service !== undefined) {
      const id = this.nameOwner(filter.service, nameKey(filter.name));
      return id === undefined ? { ids: [], size: 0 } : { ids: [id], size: 1 };
    }
    const of = (set: Set<string> | undefined): Candidates => (set === undefined ? { ids: [], size: 0 } : { ids: set, size: set.size });
    if (filter.scheduler !== undefined) return of(this.secondaryIndexes().byScheduler.get(filter.scheduler));
    if (filter.zone !== undefined) return of(this.secondaryIndexes().byZone.get(filter.zone));
    return undefined;
  }

  /** Whether a record passes every part of `filter`. */
  private matcher(filter: VolumeFilter): (v: VolumeRecord) => boolean {
    const wantName = filter.name === undefined ? undefined : nameKey(filter.name);
    const labels = Object.entries(filter.labels ?? {});
    return (v) =>
      (filter.service === undefined || v.service === filter.service) &&
      (filter.scheduler === undefined || v.schedulers.includes(filter.scheduler)) &&
      (filter.zone === undefined || v.availabilityZone === filter.zone) &&
      (filter.status === undefined || v.status === filter.status) &&
      (wantName === undefined || nameKey(v.name) === wantName) &&
      labels.every(([k, val]) => v.labels[k] === val);
  }

  private index(record: VolumeRecord): void {
    this.volumes.set(record.id, record);
    let names = this.byName.get(record.service);
    if (!names) this.byName.set(record.service, (names = new Map()));
    names.set(nameKey(record.name), record.id);
    this.ordered.add(record.id);
    if (this.secondary) indexSecondary(this.secondary, record);
  }

  private unindex(record: VolumeRecord): void {
    this.volumes.delete(record.id);
    this.ordered.delete(record.id);
    const names = this.byName.get(record.service);
    const nk = nameKey(record.name);
    if (names?.get(nk) === record.id) {
      names.delete(nk);
      if (names.size === 0) this.byName.delete(record.service);
    }
    if (this.secondary) unindexSecondary(this.secondary, record);
  }

  /**
   * An updated record in its predecessor's place: the map entry is overwritten, and only the
   * indexes whose keys changed are touched (an attach or a release changes none of them).
   */
  private replace(before: VolumeRecord, after: VolumeRecord): void {
    if (
      this.volumes.get(before.id) !== before ||
      before.id !== after.id ||
      before.service !== after.service ||
      before.name !== after.name
    ) {
      this.unindex(before);
      this.index(after);
      return;
    }
    this.volumes.set(after.id, after);
    const secondary = this.secondary;
    if (secondary && (before.availabilityZone !== after.availabilityZone || !sameList(before.schedulers, after.schedulers))) {
      unindexSecondary(secondary, before);
      indexSecondary(secondary, after);
    }
  }
}
