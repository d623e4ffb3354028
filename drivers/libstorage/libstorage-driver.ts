/**
 * A StorageDriver backed by a remote libStorage server (REX-Ray's embedded server fronting EBS or
 * ScaleIO, or another Polly), used as a controller-type client: one remote service per Polly
 * service. Attach and detach carry the agent's instance ID in `Libstorage-Instanceid`
 * (`DRIVER:SERVICE=ID`, the form that wins for that service on the server).
 *
 * The interface's idempotency promises are kept here, not left to the server: an attach where the
 * volume is already attached to the instance returns it as is (stock vfs would attach twice), and
 * a detach where it is not attached is a no-op.
 *
 * Request bodies are what the stock REX-Ray client sends (libStorage's Go client): every create
 * field present, zero-valued when not given (`"type": ""`, `"iops": 0`...), `force` and `opts`
 * only when set, and a `Libstorage-Tx` header on every request.
 */
import { DriverInvalidError, DriverNotFoundError } from '../errors';
import { assertValidName } from '../name-rules';
import { checkCreateOptions } from '../create-options';
import type { DriverLogger } from '../driver-logger';
import { silentDriverLogger } from '../driver-logger';
import type {
  AttachOptions,
  CallOptions,
  Capacity,
  DetachOptions,
  DriverSnapshot,
  DriverVolume,
  Instance,
  InstanceId,
  RemoveOptions,
  StorageDriver,
  StorageType,
  VolumeAttachment,
  VolumeCreateOptions,
} from '../storage-driver';
import { formatInstanceIdHeader } from './instance-id-header';
import { LibStorageHttp } from './libstorage-http';
import type {
  LsInstance,
  LsServiceInfo,
  LsSnapshot,
  LsSnapshotCopyRequest,
  LsVolume,
  LsVolumeAttachResponse,
  LsVolumeCreateRequest,
} from './libstorage-wire';

export interface LibStorageDriverConfig {
  /** `http(s)://host:port`, `tcp://host:port` or `unix:///path.sock`. */
  host: string;
  /** The service on the remote server. */
  service: string;
  /** Bound on each HTTP request. Default 30 000. */
  timeoutMs?: number;
  /** Bearer JWT for a server with auth on. */
  token?: string;
  /** Driver name in the instance-ID header; default the driver the remote service advertises. */
  instanceDriver?: string;
  /** Extra attempts for reads on transient failures. Default 2. */
  readRetries?: number;
  retryDelayMs?: number;
  rejectUnauthorized?: boolean;
  ca?: string | Buffer;
  logger?: DriverLogger;
}

/** Attachments requested (1) — every attachment, with the state computed by the server. */
const MASK_ALL = 1;

const seg = (s: string): string => encodeURIComponent(s);

export class LibStorageDriver implements StorageDriver {
  readonly name = 'libstorage';
  private readonly http: LibStorageHttp;
  private readonly service: string;
  private readonly logger: DriverLogger;
  private info: LsServiceInfo | undefined;

  constructor(private readonly config: LibStorageDriverConfig) {
    if (typeof config.service !== 'string' || config.service.length === 0) throw new DriverInvalidError('libstorage: service is required');
    this.service = config.service;
    this.logger = config.logger ?? silentDriverLogger;
    this.http = new LibStorageHttp({
      host: config.host,
      timeoutMs: config.timeoutMs ?? 30_000,
      ...(config.token !== undefined ? { token: config.token } : {}),
      ...(config.readRetries !== undefined ? { readRetries: config.readRetries } : {}),
      ...(config.retryDelayMs !== undefined ? { retryDelayMs: config.retryDelayMs } : {}),
      ...(config.rejectUnauthorized !== undefined ? { rejectUnauthorized: config.rejectUnauthorized } : {}),
      ...(config.ca !== undefined ? { ca: config.ca } : {}),
    });
  }

  /** The remote service as it describes itself (after `init`). */
  get serviceInfo(): LsServiceInfo | undefined {
    return this.info;
  }

  type(): StorageType {
    return this.info?.driver.type ?? 'block';
  }

  attachLimit(): number | undefined {
    return undefined;
  }

  async init(options?: CallOptions): Promise<void> {
    const res = await this.http.request<LsServiceInfo>({
      method: 'GET',
      path: `/services/${seg(this.service)}`,
      idempotent: true,
      signal: options?.signal,
      what: `service ${this.service}`,
    });
    this.info = res.body;
    this.logger.info('libstorage service ready', {
      host: this.config.host,
      service: this.service,
      driver: res.body.driver?.name,
      server: res.headers['libstorage-servername'],
    });
  }

  async close(): Promise<void> {
    this.http.close();
  }

  async capacity(): Promise<Capacity | undefined> {
    return undefined;
  }

  async instanceInspect(instanceId: InstanceId, options?: CallOptions): Promise<Instance> {
    const res = await this.http.request<LsServiceInfo>({
      method: 'GET',
      path: `/services/${seg(this.service)}?instance`,
      headers: this.headers(instanceId),
      idempotent: true,
      signal: options?.signal,
      what: `instanceInspect ${instanceId.id}`,
    });
    const inst: LsInstance | undefined = res.body.instance;
    if (!inst) throw new DriverNotFoundError(`libstorage: the server returned no instance for ${instanceId.id}`);
    const out: Instance = {
      instanceId: { id: inst.instanceID.id, driver: inst.instanceID.driver, service: inst.instanceID.service },
      providerName: inst.providerName,
    };
    if (inst.instanceID.fields) out.instanceId.fields = inst.instanceID.fields;
    if (inst.name !== undefined) out.name = inst.name;
    if (inst.region !== undefined) out.region = inst.region;
    return out;
  }

  async volumes(options?: CallOptions): Promise<DriverVolume[]> {
    const res = await this.http.request<Record<string, LsVolume> | null>({
      method: 'GET',
      path: `/volumes/${seg(this.service)}?attachments=${MASK_ALL}`,
      idempotent: true,
      signal: options?.signal,
      what: 'volumes',
    });
    return Object.values(res.body ?? {})
      .map((v) => toDriverVolume(v))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async volumeInspect(volumeId: string, options?: CallOptions): Promise<DriverVolume> {
    const res = await this.http.request<LsVolume>({
      method: 'GET',
      path: `/volumes/${seg(this.service)}/${seg(volumeId)}?attachments=${MASK_ALL}`,
      idempotent: true,
      signal: options?.signal,
      what: `volumeInspect ${volumeId}`,
    });
    return toDriverVolume(res.body);
  }

  async volumeInspectByName(name: string, options?: CallOptions): Promise<DriverVolume | undefined> {
    try {
      const res = await this.http.request<LsVolume>({
        method: 'GET',
        path: `/volumes/${seg(this.service)}/${seg(name)}?byName&attachments=${MASK_ALL}`,
        idempotent: true,
        signal: options?.signal,
        what: `volumeInspectByName ${name}`,
      });
      return toDriverVolume(res.body);
    } catch (err) {
      if (err instanceof DriverNotFoundError) return undefined;
      throw err;
    }
  }

  async volumeCreate(name: string, create: VolumeCreateOptions, options?: CallOptions): Promise<DriverVolume> {
    assertValidName(name);
    const body = createBody(name, checkCreateOptions(create));
    const res = await this.http.request<LsVolume>({
      method: 'POST',
      path: `/volumes/${seg(this.service)}`,
      body,
      signal: options?.signal,
      what: `volumeCreate ${name}`,
    });
    return toDriverVolume(res.body);
  }

  async volumeCreateFromSnapshot(
    snapshotId: string,
    name: string,
    create: VolumeCreateOptions,
    options?: CallOptions,
  ): Promise<DriverVolume> {
    assertValidName(name);
    const res = await this.http.request<LsVolume>({
      method: 'POST',
      path: `/snapshots/${seg(this.service)}/${seg(snapshotId)}?create`,
      body: createFromSnapshotBody(name, checkCreateOptions(create)),
      signal: options?.signal,
      what: `volumeCreateFromSnapshot ${snapshotId}`,
    });
    return toDriverVolume(res.body);
  }

  async volumeCopy(volumeId: string, name: string, options?: CallOptions): Promise<DriverVolume> {
    assertValidName(name);
    const res = await this.http.request<LsVolume>({
      method: 'POST',
      path: `/volumes/${seg(this.service)}/${seg(volumeId)}?copy`,
      body: { volumeName: name },
      signal: options?.signal,
      what: `volumeCopy ${volumeId}`,
    });
    return toDriverVolume(res.body);
  }

  async volumeSnapshot(volumeId: string, snapshotName: string, options?: CallOptions): Promise<DriverSnapshot> {
    assertValidName(snapshotName, 'snapshot name');
    const res = await this.http.request<LsSnapshot>({
      method: 'POST',
      path: `/volumes/${seg(this.service)}/${seg(volumeId)}?snapshot`,
      body: { snapshotName },
      signal: options?.signal,
      what: `volumeSnapshot ${volumeId}`,
    });
    return toDriverSnapshot(res.body);
  }

  async volumeRemove(volumeId: string, remove?: RemoveOptions, options?: CallOptions): Promise<void> {
    await this.http.request<unknown>({
      method: 'DELETE',
      path: `/volumes/${seg(this.service)}/${seg(volumeId)}${remove?.force ? '?force' : ''}`,
      signal: options?.signal,
      what: `volumeRemove ${volumeId}`,
    });
  }

  async volumeAttach(
    volumeId: string,
    instanceId: InstanceId,
    attach?: AttachOptions,
    options?: CallOptions,
  ): Promise<{ volume: DriverVolume; attachToken?: string }> {
    const current = await this.volumeInspect(volumeId, options);
    if (current.attachments.some((a) => sameInstance(a.instanceId.id, instanceId.id))) return { volume: current };
    const res = await this.http.request<LsVolumeAttachResponse>({
      method: 'POST',
      path: `/volumes/${seg(this.service)}/${seg(volumeId)}?attach`,
      body: attach?.force ? { force: true } : {},
      headers: this.headers(instanceId),
      signal: options?.signal,
      what: `volumeAttach ${volumeId}`,
    });
    const out: { volume: DriverVolume; attachToken?: string } = { volume: toDriverVolume(res.body.volume) };
    if (res.body.attachToken) out.attachToken = res.body.attachToken;
    return out;
  }

  async volumeDetach(volumeId: string, instanceId: InstanceId, detach?: DetachOptions, options?: CallOptions): Promise<DriverVolume> {
    const current = await this.volumeInspect(volumeId, options);
    if (!current.attachments.some((a) => sameInstance(a.instanceId.id, instanceId.id))) return current;
    const res = await this.http.request<LsVolume | null>({
      method: 'POST',
      path: `/volumes/${seg(this.service)}/${seg(volumeId)}?detach`,
      body: detach?.force ? { force: true } : {},
      headers: this.headers(instanceId),
      signal: options?.signal,
      what: `volumeDetach ${volumeId}`,
    });
    // A 205 may carry the volume or `null` (reference §1.4 route 11): ask again when it is null.
    return res.body ? toDriverVolume(res.body) : this.volumeInspect(volumeId, options);
  }

  async snapshots(options?: CallOptions): Promise<DriverSnapshot[]> {
    const res = await this.http.request<Record<string, LsSnapshot> | null>({
      method: 'GET',
      path: `/snapshots/${seg(this.service)}`,
      idempotent: true,
      signal: options?.signal,
      what: 'snapshots',
    });
    return Object.values(res.body ?? {}).map(toDriverSnapshot);
  }

  async snapshotInspect(snapshotId: string, options?: CallOptions): Promise<DriverSnapshot> {
    const res = await this.http.request<LsSnapshot>({
      method: 'GET',
      path: `/snapshots/${seg(this.service)}/${seg(snapshotId)}`,
      idempotent: true,
      signal: options?.signal,
      what: `snapshotInspect ${snapshotId}`,
    });
    return toDriverSnapshot(res.body);
  }

  async snapshotCopy(snapshotId: string, snapshotName: string, options?: CallOptions): Promise<DriverSnapshot> {
    assertValidName(snapshotName, 'snapshot name');
    // destinationID is required by the schema; an empty one copies within the backend.
    const body: LsSnapshotCopyRequest = { snapshotName, destinationID: '' };
    const res = await this.http.request<LsSnapshot>({
      method: 'POST',
      path: `/snapshots/${seg(this.service)}/${seg(snapshotId)}?copy`,
      body,
      signal: options?.signal,
      what: `snapshotCopy ${snapshotId}`,
    });
    return toDriverSnapshot(res.body);
  }

  async snapshotRemove(snapshotId: string, options?: CallOptions): Promise<void> {
    await this.http.request<unknown>({
      method: 'DELETE',
      path: `/snapshots/${seg(this.service)}/${seg(snapshotId)}`,
      signal: options?.signal,
      what: `snapshotRemove ${snapshotId}`,
    });
  }

  private headers(instanceId: InstanceId): Record<string, string> {
    const driver = this.config.instanceDriver ?? this.info?.driver.name ?? instanceId.driver ?? 'libstorage';
    return {
      'Libstorage-Instanceid': formatInstanceIdHeader({
        driver: driver.toLowerCase(),
        service: this.service,
        id: instanceId.id,
        ...(instanceId.fields && Object.keys(instanceId.fields).length > 0 ? { fields: instanceId.fields } : {}),
      }),
    };
  }
}

function sameInstance(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/**
 * `POST /volumes/{service}` as REX-Ray's `volume create` sends it: name, availabilityZone,
 * encrypted, iops, size and type always (zero values when not given), encryptionKey and opts only
 * when set — Go's field order, as the server sees it.
 */
export function createBody(name: string, c: VolumeCreateOptions): LsVolumeCreateRequest {
  const body: LsVolumeCreateRequest = { name, availabilityZone: c.availabilityZone ?? '', encrypted: c.encrypted ?? false };
  if (c.encryptionKey !== undefined) body.encryptionKey = c.encryptionKey;
  body.iops = c.iops ?? 0;
  body.size = c.size ?? 0;
  body.type = c.type ?? '';
  if (c.fields && Object.keys(c.fields).length > 0) body.opts = { ...c.fields };
  return body;
}

/** `POST /snapshots/{service}/{id}?create` as libStorage's client sends it: as a create, without the encryption fields. */
export function createFromSnapshotBody(name: string, c: VolumeCreateOptions): LsVolumeCreateRequest {
  const body: LsVolumeCreateRequest = {
    name,
    availabilityZone: c.availabilityZone ?? '',
    iops: c.iops ?? 0,
    size: c.size ?? 0,
    type: c.type ?? '',
  };
  if (c.fields && Object.keys(c.fields).length > 0) body.opts = { ...c.fields };
  return body;
}

function stringFields(fields: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields ?? {})) if (k !== '__proto__' && v !== null && v !== undefined) out[k] = String(v);
  return out;
}

export function toDriverVolume(v: LsVolume): DriverVolume {
  if (!v || typeof v.id !== 'string') throw new DriverInvalidError('libstorage: the server returned a malformed volume');
  const out: DriverVolume = {
    id: v.id,
    name: v.name ?? '',
    size: typeof v.size === 'number' ? v.size : 0,
    fields: stringFields(v.fields),
    attachments: (v.attachments ?? [])
      .filter((a) => a.instanceID && typeof a.instanceID.id === 'string' && a.instanceID.id !== '')
      .map((a) => {
        const att: VolumeAttachment = {
          volumeId: a.volumeID ?? v.id,
          instanceId: { id: a.instanceID!.id, driver: a.instanceID!.driver, service: a.instanceID!.service },
          status: a.status,
        };
        if (a.deviceName) att.deviceName = a.deviceName;
        if (a.mountPoint) att.mountPoint = a.mountPoint;
        return att;
      }),
  };
  if (v.type) out.type = v.type;
  if (v.iops !== undefined) out.iops = v.iops;
  if (v.availabilityZone) out.availabilityZone = v.availabilityZone;
  if (v.encrypted !== undefined) out.encrypted = v.encrypted;
  if (v.status) out.status = v.status;
  return out;
}

export function toDriverSnapshot(s: LsSnapshot): DriverSnapshot {
  if (!s || typeof s.id !== 'string') throw new DriverInvalidError('libstorage: the server returned a malformed snapshot');
  const out: DriverSnapshot = {
    id: s.id,
    name: s.name ?? '',
    volumeId: s.volumeID ?? '',
    volumeSize: s.volumeSize ?? 0,
    startTime: new Date((s.startTime ?? 0) * 1000).toISOString(),
    status: s.status ?? '',
    fields: stringFields(s.fields),
  };
  if (s.encrypted !== undefined) out.encrypted = s.encrypted;
  return out;
}
