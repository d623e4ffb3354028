/**
 * What the libStorage routes do, over Polly's storage core (the routes only parse and answer).
 *
 * - The libStorage services are Polly's services, each advertised with a driver name a stock REX-Ray
 *   client has an executor for (vfs → `vfs`).
 * - A caller sees, through service S, the volumes offered to scheduler S (the original Polly ACL: a
 *   volume created through S is offered to S); an admin caller sees every volume of S.
 * - Attach is a claim in the ledger (single writer; agent ID = instance ID); detach releases the
 *   caller's claims. `force` preempts another holder only when the holder is known to be gone
 *   (fenced: the policy says why), or when the caller is an admin — and never a volume labelled
 *   `polly.preempt=deny`. Every preemption is audited with the caller's subject and instance.
 * - REX-Ray sends every create field, zero-valued when the user gave none: zero means "not given".
 */
import { checkCreateOptions } from '../../../drivers/create-options';
import { DriverNotFoundError } from '../../../drivers/errors';
import type {
  LsDriverInfo,
  LsInstance,
  LsSnapshot,
  LsSnapshotCopyRequest,
  LsVolume,
  LsVolumeAttachRequest,
  LsVolumeCopyRequest,
  LsVolumeCreateRequest,
  LsVolumeDetachRequest,
  LsVolumeSnapshotRequest,
} from '../../../drivers/libstorage/libstorage-wire';
import type { DriverSnapshot } from '../../../drivers/storage-driver';
import { ConflictError } from '../../errors/conflict-error';
import { Logger, silentLogger } from '../../shared/logger';
import type { ClaimRecord } from '../../storage/claim-record';
import type { StorageService as RegisteredService } from '../../storage/service-registry';
import { sameInstance, toPollyError } from '../../storage/storage-errors';
import type { StorageService } from '../../storage/storage-service';
import type { VolumeSource } from '../../storage/volume-catalog';
import { formatVolumeId } from '../../storage/volume-id';
import { checkVolumeName, VolumeRecord } from '../../storage/volume-record';
import { MASK, maskNeedsInstanceId } from './attachment-mask';
import type { Caller } from './libstorage-auth';
import { LibStorageError } from './libstorage-error';
import { snapshotView, volumeView, VolumeViewContext } from './libstorage-views';
import { instanceIdFor, localDevicesFor, RequestContext } from './request-context';

/** Which holders `force` may take a volume from (DESIGN §4 fencing). */
export interface PreemptPolicy {
  /**
   * Why the holder is known to be gone (its task is terminal, Mesos removed its agent), for the
   * audit; undefined while it may still be writing. Default: never known.
   */
  fencedBecause(claim: ClaimRecord): string | undefined;
}

export const DEFAULT_PREEMPT_POLICY: PreemptPolicy = { fencedBecause: () => undefined };

/** The label that refuses preemption outright, to admins too. */
export const PREEMPT_LABEL = 'polly.preempt';

/** Who acted, for audit reasons: the token subject (when auth is on) and the instance. */
export function actor(caller: Caller, instanceId: string): string {
  return caller.subject !== undefined ? `subject ${caller.subject} as instance ${instanceId}` : `instance ${instanceId} (no auth)`;
}

/**
 * The create parameters the client gave. libStorage clients serialise zero values for what the
 * user left out (REX-Ray: `"type": ""`, `"iops": 0`, `"availabilityZone": ""`, `"encrypted": false`),
 * so a zero value is "not given" and only the rest is validated.
 */
export function givenCreateOptions(body: LsVolumeCreateRequest): {
  size?: number;
  type?: string;
  iops?: number;
  availabilityZone?: string;
  encrypted?: boolean;
} {
  const out: ReturnType<typeof givenCreateOptions> = {};
  if (body.size !== undefined && body.size !== 0) out.size = body.size;
  if (body.type !== undefined && body.type !== '') out.type = body.type;
  if (body.iops !== undefined && body.iops !== 0) out.iops = body.iops;
  if (body.availabilityZone !== undefined && body.availabilityZone !== '') out.availabilityZone = body.availabilityZone;
  if (body.encrypted === true) out.encrypted = true;
  return out;
}

export interface AdvertisedDriver {
  driver: string;
  type?: 'block' | 'nas' | 'object';
}

export interface LibStorageBackendOptions {
  storage: StorageService;
  preempt?: PreemptPolicy;
  /** Per service: the driver name (and type) advertised to clients, overriding the defaults. */
  advertise?: Readonly<Record<string, AdvertisedDriver>>;
  logger?: Logger;
}

/** What a read asks for. */
export interface VolumeQuery {
  mask: number;
  /** Case-insensitive name (the `(name=…)` filter). */
  name?: string;
}

async function driverCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toPollyError(err);
  }
}

/** Opts → string fields (libStorage's vfs stringifies them); nested objects and arrays are dropped. */
function optsToFields(opts: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts ?? {})) {
    if (k === 'profile' || k === '__proto__') continue;
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = String(v);
  }
  return out;
}

function metadataInstanceId(metadata: unknown): string | undefined {
  if (typeof metadata === 'string' && metadata.trim() !== '') return metadata.trim();
  if (typeof metadata === 'object' && metadata !== null) {
    const { id, hostname } = metadata as { id?: unknown; hostname?: unknown };
    if (typeof id === 'string' && id !== '') return id;
    if (typeof hostname === 'string' && hostname !== '') return hostname;
  }
  return undefined;
}

/** The caller's subject as a log field, present only when auth is on. */
function subjectField(caller: Caller): { subject?: string } {
  return caller.subject !== undefined ? { subject: caller.subject } : {};
}

export class LibStorageBackend {
  private readonly storage: StorageService;
  private readonly preempt: PreemptPolicy;
  private readonly advertise: Readonly<Record<string, AdvertisedDriver>>;
  private readonly logger: Logger;
  /** Device name each attach asked for (`nextDeviceName`), by claim ID; vfs-style clients need it back. */
  private readonly deviceNames = new Map<string, string>();

  constructor(options: LibStorageBackendOptions) {
    this.storage = options.storage;
    this.preempt = options.preempt ?? DEFAULT_PREEMPT_POLICY;
    this.advertise = options.advertise ?? {};
    this.logger = options.logger ?? silentLogger;
    this.storage.events.on('claim.released', ({ claim }) => this.deviceNames.delete(claim.id));
    this.storage.events.on('claim.failed', ({ claim }) => this.deviceNames.delete(claim.id));
  }

  serviceNames(): string[] {
    return this.storage.registry.list().map((s) => s.name);
  }

  /** 404 `resourceID=<name>` for an unknown service. */
  service(name: string): RegisteredService {
    if (!this.storage.registry.has(name)) throw LibStorageError.notFound(name);
    return this.storage.registry.get(name);
  }

  driverInfo(name: string): LsDriverInfo {
    const s = this.service(name);
    const override = this.advertise[name];
    if (s.definition.driver === 'vfs' && !override) {
      // Stock REX-Ray's vfs executor: object storage, no device polling.
      return { name: 'vfs', type: 'object', nextDevice: { ignore: true, prefix: '', pattern: '' } };
    }
    return {
      name: override?.driver ?? s.definition.driver,
      type: override?.type ?? s.driver.type(),
      nextDevice: { ignore: true, prefix: '', pattern: '' },
    };
  }

  /** `GET /services/{service}?instance`: the caller's instance, resolving the metadata flow. */
  async instance(name: string, ctx: RequestContext): Promise<LsInstance> {
    const s = this.service(name);
    const driver = this.driverInfo(name);
    const iid = instanceIdFor(ctx, name, driver.name);
    if (!iid) throw LibStorageError.missingInstanceId(name);
    const id = iid.id || metadataInstanceId(iid.metadata);
    if (!id) throw LibStorageError.missingInstanceId(name);
    const found = await driverCall(() =>
      s.driver.instanceInspect({ id, driver: driver.name, service: name, ...(iid.fields ? { fields: iid.fields } : {}) }),
    );
    const instance: LsInstance = {
      instanceID: { id: found.instanceId.id || id, driver: driver.name, service: name },
      name: found.name ?? id,
      providerName: found.providerName ?? driver.name,
    };
    if (iid.fields) instance.instanceID.fields = { ...iid.fields };
    if (found.region !== undefined) instance.region = found.region;
    return instance;
  }

  // ---- volumes ----

  /** The caller's instance ID for a service (400 when required and absent). */
  callerInstance(name: string, ctx: RequestContext, required: boolean): string | undefined {
    const iid = instanceIdFor(ctx, name, this.driverInfo(name).name);
    const id = iid?.id || undefined;
    if (required && id === undefined) throw LibStorageError.missingInstanceId(name);
    return id;
  }

  visibleVolumes(name: string, caller: Caller): VolumeRecord[] {
    this.service(name);
    const volumes = caller.admin
      ? this.storage.catalog.list({ service: name })
      : this.storage.catalog.list({ service: name, scheduler: name });
    return volumes.sort((a, b) => (a.driverVolumeId < b.driverVolumeId ? -1 : a.driverVolumeId > b.driverVolumeId ? 1 : 0));
  }

  /** A volume of the service the caller may see, by driver volume ID (404 otherwise). */
  visibleVolume(name: string, driverVolumeId: string, caller: Caller): VolumeRecord {
    this.service(name);
    let id: string;
    try {
      id = formatVolumeId(name, driverVolumeId);
    } catch {
      throw LibStorageError.notFound(driverVolumeId);
    }
    const v = this.storage.catalog.find(id);
    if (!v || !this.canSee(v, name, caller)) throw LibStorageError.notFound(driverVolumeId);
    return v;
  }

  visibleVolumeByName(name: string, volumeName: string, caller: Caller): VolumeRecord {
    this.service(name);
    const v = this.storage.catalog.findByName(name, volumeName);
    if (!v || !this.canSee(v, name, caller)) throw LibStorageError.notFound(volumeName);
    return v;
  }

  viewContext(name: string, ctx: RequestContext, mask: number): VolumeViewContext {
    const s = this.service(name);
    const driver = this.driverInfo(name);
    const view: VolumeViewContext = {
      service: name,
      driver,
      mask,
      deviceNameOf: (claimId) => this.deviceNames.get(claimId),
      defaultDeviceName: (record) => {
        if (s.driver.hostPath) {
          try {
            return s.driver.hostPath({ id: record.driverVolumeId, name: record.name, size: record.size, fields: {}, attachments: [] });
          } catch {
            // fall through
          }
        }
        return record.driverVolumeId;
      },
    };
    const iid = this.callerInstance(name, ctx, maskNeedsInstanceId(mask));
    if (iid !== undefined) view.instanceId = iid;
    const devices = localDevicesFor(ctx, driver.name);
    if (devices) view.localDevices = devices;
    return view;
  }

  /** `{volID: Volume}` of one service under the caller's mask. */
  volumes(name: string, ctx: RequestContext, query: VolumeQuery): Record<string, LsVolume> {
    const view = this.viewContext(name, ctx, query.mask);
    const out: Record<string, LsVolume> = {};
    for (const v of this.visibleVolumes(name, ctx.caller)) {
      if (query.name !== undefined && v.name.toLowerCase() !== query.name.toLowerCase()) continue;
      const shown = volumeView(v, view);
      if (shown) out[v.driverVolumeId] = shown;
    }
    return out;
  }

  inspect(name: string, volumeId: string, ctx: RequestContext, mask: number, byName: boolean): LsVolume {
    const view = this.viewContext(name, ctx, mask);
    const v = byName ? this.visibleVolumeByName(name, volumeId, ctx.caller) : this.visibleVolume(name, volumeId, ctx.caller);
    const shown = volumeView(v, view);
    if (!shown) throw LibStorageError.notFound(volumeId);
    return shown;
  }

  async create(name: string, ctx: RequestContext, body: LsVolumeCreateRequest): Promise<LsVolume> {
    this.service(name);
    const profile = typeof body.opts?.profile === 'string' ? body.opts.profile : undefined;
    const fields = optsToFields(body.opts);
    const record = await this.storage.catalog.create({
      service: name,
      name: body.name,
      scheduler: name,
      ...(profile !== undefined ? { profile } : {}),
      ...givenCreateOptions(body),
      ...(Object.keys(fields).length > 0 ? { fields } : {}),
    });
    this.logger.info('libstorage volume created', { volumeId: record.id, service: name, ...subjectField(ctx.caller), txId: ctx.tx.id });
    return volumeView(record, this.viewContext(name, ctx, 0), 3)!;
  }

  /** Copy and create-from-snapshot are creates under an intent (the catalog's `createFrom`), offered to the service. */
  async copy(name: string, volumeId: string, ctx: RequestContext, body: LsVolumeCopyRequest): Promise<LsVolume> {
    const source = this.visibleVolume(name, volumeId, ctx.caller);
    const target = checkVolumeName(body.volumeName);
    this.assertNameFree(name, target);
    return this.createFrom(name, ctx, target, { copyOf: source.driverVolumeId }, 'copy', 3);
  }

  async snapshot(name: string, volumeId: string, ctx: RequestContext, body: LsVolumeSnapshotRequest): Promise<LsSnapshot> {
    const source = this.visibleVolume(name, volumeId, ctx.caller);
    const snap = await this.storage.snapshots.create(source, body.snapshotName);
    this.logger.info('libstorage snapshot created', { volumeId: source.id, snapshotId: snap.id, txId: ctx.tx.id });
    return snapshotView(snap);
  }

  async attach(
    name: string,
    volumeId: string,
    ctx: RequestContext,
    body: LsVolumeAttachRequest,
  ): Promise<{ volume: LsVolume; attachToken: string }> {
    const instanceId = this.callerInstance(name, ctx, true)!;
    const volume = this.visibleVolume(name, volumeId, ctx.caller);
    const ledger = this.storage.ledger;
    const live = ledger.liveClaims(volume.id);
    let mine = live.find((c) => c.mode === 'RW' && sameInstance(c.instanceId, instanceId) && c.state !== 'releasing');
    for (const holder of live) {
      if (holder === mine) continue;
      // Who holds it is shown to admins and to callers of the holder's own service, not to others.
      const shown = ctx.caller.admin || holder.scheduler === name;
      const heldBy = shown ? `by instance ${holder.instanceId}` : 'through another service';
      const details = shown ? { volumeId: volume.id, claimId: holder.id, instanceId: holder.instanceId } : { volumeId: volume.id };
      if (!body.force) {
        throw new ConflictError(`volume already attached to a host: ${volume.name} is held ${heldBy}`, details);
      }
      if (volume.labels[PREEMPT_LABEL] === 'deny') {
        throw new ConflictError(
          `volume already attached to a host: ${volume.name} is held ${heldBy} and labelled ${PREEMPT_LABEL}=deny; force never preempts it`,
          details,
        );
      }
      const fenced = this.preempt.fencedBecause(holder);
      if (fenced === undefined && !ctx.caller.admin) {
        throw new ConflictError(
          `volume already attached to a host: ${volume.name} is held ${heldBy}, which is not known to be gone; ` +
            'force preempts only a fenced holder (or an admin caller)',
          details,
        );
      }
      const reason =
        `preempted through the libStorage API by ${actor(ctx.caller, instanceId)}: ` +
        (fenced !== undefined ? `the holder is gone (${fenced})` : 'admin force');
      this.logger.warn('libstorage attach preempts a holder', {
        volumeId: volume.id,
        claimId: holder.id,
        agentId: holder.agentId,
        instanceId,
        ...subjectField(ctx.caller),
        reason,
      });
      await ledger.forceRelease(holder.id, reason);
    }
    if (!mine) {
      mine = await ledger.claim({
        volumeId: volume.id,
        scheduler: name,
        ...(ctx.caller.admin ? { admin: true } : {}),
        agentId: instanceId,
        instanceId,
        mode: 'RW',
      });
      this.logger.info('libstorage attach', {
        volumeId: volume.id,
        claimId: mine.id,
        agentId: instanceId,
        ...subjectField(ctx.caller),
        txId: ctx.tx.id,
      });
    }
    if (body.nextDeviceName) this.deviceNames.set(mine.id, body.nextDeviceName);
    const after = this.storage.catalog.get(volume.id);
    const view = this.viewContext(name, ctx, MASK.requested | MASK.mine);
    return { volume: volumeView(after, view)!, attachToken: body.nextDeviceName ?? '' };
  }

  /** Releases the caller's claims on the volume (made through this service, unless admin). */
  async detach(name: string, volumeId: string, ctx: RequestContext, body: LsVolumeDetachRequest): Promise<LsVolume> {
    const instanceId = this.callerInstance(name, ctx, true)!;
    const volume = this.visibleVolume(name, volumeId, ctx.caller);
    await this.releaseMine(name, volume, instanceId, ctx, body.force === true);
    return volumeView(this.storage.catalog.get(volume.id), this.viewContext(name, ctx, MASK.requested))!;
  }

  /** `POST /volumes/{service}?detach`: every visible volume, after releasing the caller's claims. */
  async detachAll(name: string, ctx: RequestContext, body: LsVolumeDetachRequest): Promise<Record<string, LsVolume>> {
    const instanceId = this.callerInstance(name, ctx, true)!;
    const out: Record<string, LsVolume> = {};
    const view = this.viewContext(name, ctx, MASK.requested);
    for (const volume of this.visibleVolumes(name, ctx.caller)) {
      await this.releaseMine(name, volume, instanceId, ctx, body.force === true);
      const after = this.storage.catalog.find(volume.id);
      if (after) out[after.driverVolumeId] = volumeView(after, view)!;
    }
    return out;
  }

  async remove(name: string, volumeId: string, ctx: RequestContext, force: boolean): Promise<void> {
    const volume = this.visibleVolume(name, volumeId, ctx.caller);
    if (force && ctx.caller.admin) {
      for (const c of this.storage.ledger.liveClaims(volume.id)) {
        await this.storage.ledger.forceRelease(
          c.id,
          `removed with force through the libStorage API by ${ctx.caller.subject ?? 'an admin'}`,
        );
      }
    }
    await this.storage.catalog.remove(volume.id);
    this.logger.info('libstorage volume removed', { volumeId: volume.id, txId: ctx.tx.id });
  }

  // ---- snapshots ----

  async snapshots(name: string, caller: Caller): Promise<Record<string, LsSnapshot>> {
    const s = this.service(name);
    const all = await driverCall(() => s.driver.snapshots());
    const out: Record<string, LsSnapshot> = {};
    for (const snap of all) if (this.canSeeSnapshot(name, snap, caller)) out[snap.id] = snapshotView(snap);
    return out;
  }

  async snapshotInspect(name: string, snapshotId: string, caller: Caller): Promise<LsSnapshot> {
    return snapshotView(await this.visibleSnapshot(name, snapshotId, caller));
  }

  async snapshotCreateVolume(name: string, snapshotId: string, ctx: RequestContext, body: LsVolumeCreateRequest): Promise<LsVolume> {
    const snap = await this.visibleSnapshot(name, snapshotId, ctx.caller);
    const target = checkVolumeName(body.name);
    this.assertNameFree(name, target);
    let create;
    try {
      create = checkCreateOptions(givenCreateOptions(body));
    } catch (err) {
      throw toPollyError(err);
    }
    return this.createFrom(name, ctx, target, { snapshot: snap.id, create }, 'create-from-snapshot');
  }

  /**
   * A new snapshot of the same volume with the snapshot's data (as libStorage's vfs does); the
   * destination is not used: Polly's drivers copy within their own backend.
   */
  async snapshotCopy(name: string, snapshotId: string, ctx: RequestContext, body: LsSnapshotCopyRequest): Promise<LsSnapshot> {
    const snap = await this.visibleSnapshot(name, snapshotId, ctx.caller);
    const copy = await this.storage.snapshots.copy(name, snap, body.snapshotName);
    this.logger.info('libstorage snapshot copied', { snapshotId: snap.id, copyId: copy.id, service: name, txId: ctx.tx.id });
    return snapshotView(copy);
  }

  async snapshotRemove(name: string, snapshotId: string, caller: Caller): Promise<void> {
    const snap = await this.visibleSnapshot(name, snapshotId, caller);
    await this.storage.snapshots.remove(this.service(name).name, snap.id);
  }

  // ---- internals ----

  private canSee(v: VolumeRecord, service: string, caller: Caller): boolean {
    return v.service === service && (caller.admin || v.schedulers.includes(service));
  }

  private canSeeSnapshot(service: string, snap: DriverSnapshot, caller: Caller): boolean {
    if (caller.admin) return true;
    let id: string;
    try {
      id = formatVolumeId(service, snap.volumeId);
    } catch {
      return false;
    }
    const v = this.storage.catalog.find(id);
    return v !== undefined && this.canSee(v, service, caller);
  }

  private async visibleSnapshot(name: string, snapshotId: string, caller: Caller): Promise<DriverSnapshot> {
    const s = this.service(name);
    let snap: DriverSnapshot;
    try {
      snap = await s.driver.snapshotInspect(snapshotId);
    } catch (err) {
      if (err instanceof DriverNotFoundError) throw LibStorageError.notFound(snapshotId);
      throw toPollyError(err);
    }
    if (!this.canSeeSnapshot(name, snap, caller)) throw LibStorageError.notFound(snapshotId);
    return snap;
  }

  private assertNameFree(service: string, name: string): void {
    const holder = this.storage.catalog.findByName(service, name);
    if (holder) {
      throw new ConflictError(`volume name already exists: ${JSON.stringify(name)} on service "${service}"`, {
        service,
        name,
        volumeId: holder.id,
      });
    }
  }

  private async createFrom(name: string, ctx: RequestContext, target: string, source: VolumeSource, how: string, state?: 3): Promise<LsVolume> {
    const record = await this.storage.catalog.createFrom({ service: name, name: target, source, schedulers: [name] });
    this.logger.info(`libstorage volume created by ${how}`, { volumeId: record.id, service: name, txId: ctx.tx.id });
    return volumeView(record, this.viewContext(name, ctx, 0), state)!;
  }

  private async releaseMine(name: string, volume: VolumeRecord, instanceId: string, ctx: RequestContext, force: boolean): Promise<void> {
    const ledger = this.storage.ledger;
    const mine = ledger
      .liveClaims(volume.id)
      .filter((c) => sameInstance(c.instanceId, instanceId) && (ctx.caller.admin || c.scheduler === name));
    for (const claim of mine) {
      const reason = `detached through the libStorage API by ${actor(ctx.caller, instanceId)}`;
      if (force) await ledger.forceRelease(claim.id, reason);
      else await ledger.release(claim.id, { reason });
      this.logger.info('libstorage detach', {
        volumeId: volume.id,
        claimId: claim.id,
        agentId: claim.agentId,
        forced: force,
        ...subjectField(ctx.caller),
        txId: ctx.tx.id,
      });
    }
  }
}
