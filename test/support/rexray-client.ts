/**
 * Requests exactly as the stock REX-Ray client sends them (REX-Ray 0.11's embedded libStorage
 * client, `libstorage/api/client` + `drivers/storage/libstorage`, with the vfs executor), written
 * from reading that public code:
 *
 * - Go's `net/http`: `User-Agent: Go-http-client/1.1`, `Accept-Encoding: gzip`, `Content-Length`
 *   for a body and no `Content-Type` at all.
 * - `Libstorage-Tx: txID=<uuid>, txCR=<epoch seconds>` on every request.
 * - `Libstorage-Instanceid`: the vfs executor's instance ID carries only metadata (the hostname as
 *   base64 JSON: `vfs=,,<base64("\"node0\"")>`) until `GET /services/{service}?instance` resolves
 *   it; from then on `vfs:<service>=<id>` on every request for that service.
 * - `Libstorage-Localdevices: vfs=/dev/xvda::,...` (the vfs executor's device file) on volume
 *   reads, creates, attaches and detaches.
 * - `Authorization: Bearer <token>` when `libstorage.client.auth.token` is set.
 * - Bodies are Go structs marshalled with `omitempty` on pointers and maps: every create field the
 *   CLI or the Docker integration sets is a pointer, so it is sent even when zero (`"type": ""`,
 *   `"iops": 0`...), in the struct's field order; `force` and empty `opts` are left out.
 */
import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import { RawResponse, RawTarget, rawRequest } from './raw-http';

export type RexrayTarget = RawTarget;
export type RexrayResponse = RawResponse;

/** A recorded request (what the server received). */
export interface RecordedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** The vfs executor's device file as it starts (`/dev/xvda` … `/dev/xvdd`, none in use). */
export const VFS_LOCAL_DEVICES = 'vfs=/dev/xvda::,/dev/xvdb::,/dev/xvdc::,/dev/xvdd::';
/** What the vfs executor's NextDevice answers with that device file. */
export const VFS_NEXT_DEVICE = '/dev/xvda';

/** The libStorage attachment masks REX-Ray asks for. */
export const MASK = {
  /** `volume ls`, `volume attach --force` (VolAttReq). */
  requested: 1,
  /** Docker Mount with preempt (VolAttReqWithDevMapForInstance). */
  mountPreempt: 7,
  /** `volume detach` (VolAttReqOnlyAttachedVols). */
  attachedOnly: 9,
  /** After an attach, and Path (VolAttReqTrue). */
  attachedToMe: 15,
  /** `volume attach` (VolAttReqOnlyVolsAttachedToInstanceOrUnattachedVols). */
  mineOrAvailable: 27,
  /** Docker Mount (…WithDevMap…OrUnattachedVols). */
  mount: 31,
} as const;

export interface CreateFields {
  size?: number;
  type?: string;
  iops?: number;
  availabilityZone?: string;
  encrypted?: boolean;
}

/** `rexray volume create NAME [--size N] …`: every field present, zero when not given. */
export function cliCreateBody(name: string, f: CreateFields = {}): string {
  return JSON.stringify({
    name,
    availabilityZone: f.availabilityZone ?? '',
    encrypted: f.encrypted ?? false,
    iops: f.iops ?? 0,
    size: f.size ?? 0,
    type: f.type ?? '',
  });
}

/**
 * `docker volume create --driver rexray --opt size=1 --name NAME`: the integration driver's
 * defaults (zone "", type "", IOPS 0, size from its config unless the option sets it), the Docker
 * options as `opts` (string values, lower-cased keys), no `encrypted` unless an option sets it.
 */
export function dockerCreateBody(name: string, options: Record<string, string>, defaultSize = 16): string {
  const opts: Record<string, string> = {};
  for (const [k, v] of Object.entries(options)) opts[k.toLowerCase()] = v;
  const body: Record<string, unknown> = {
    name,
    availabilityZone: opts.availabilityzone ?? '',
    iops: opts.iops !== undefined ? Number(opts.iops) : 0,
    size: opts.size !== undefined ? Number(opts.size) : defaultSize,
    type: opts.type ?? opts.volumetype ?? '',
  };
  if (Object.keys(opts).length > 0) body.opts = opts;
  return JSON.stringify(body);
}

/** libStorage's client VolumeCreateFromSnapshot with the CLI's options: no encryption fields. */
export function fromSnapshotBody(name: string, f: Omit<CreateFields, 'encrypted'> = {}): string {
  return JSON.stringify({ name, availabilityZone: f.availabilityZone ?? '', iops: f.iops ?? 0, size: f.size ?? 0, type: f.type ?? '' });
}

/** VolumeAttachRequest: `force` only when set, the executor's next device. */
export function attachBody(force: boolean, nextDeviceName: string | undefined = VFS_NEXT_DEVICE): string {
  const body: Record<string, unknown> = {};
  if (force) body.force = true;
  if (nextDeviceName !== undefined) body.nextDeviceName = nextDeviceName;
  return JSON.stringify(body);
}

/** VolumeDetachRequest: `{}` unless forced. */
export function detachBody(force: boolean): string {
  return JSON.stringify(force ? { force: true } : {});
}

export function snapshotBody(name: string): string {
  return JSON.stringify({ snapshotName: name });
}

function tx(): string {
  return `txID=${randomUUID()}, txCR=${Math.floor(Date.now() / 1000)}`;
}

/** One REX-Ray agent (vfs executor) on host `hostname`, using `service`. */
export class RexrayClient {
  /** Resolved by `login()`; until then the executor's metadata-only instance ID is sent. */
  instanceId: string | undefined;

  constructor(
    private readonly target: RexrayTarget,
    readonly hostname: string,
    readonly service: string,
    private readonly token?: string,
  ) {}

  /** The instance ID header REX-Ray sends for the service now. */
  instanceHeader(): string {
    if (this.instanceId !== undefined) return `vfs:${this.service}=${this.instanceId}`;
    return `vfs=,,${Buffer.from(JSON.stringify(this.hostname), 'utf8').toString('base64')}`;
  }

  /** Client start-up: the services, then the instance ID resolved from the executor's metadata. */
  async login(): Promise<RexrayResponse> {
    const services = await this.send('GET', '/services', undefined, { instance: false, devices: false });
    if (services.status !== 200) return services;
    const r = await this.send('GET', `/services/${this.service}?instance`, undefined, { instance: true, devices: false });
    if (r.status === 200) this.instanceId = r.body.instance.instanceID.id;
    return r;
  }

  volumes(mask: number): Promise<RexrayResponse> {
    return this.send('GET', `/volumes/${this.service}?attachments=${mask}`);
  }

  inspect(volumeId: string, mask: number): Promise<RexrayResponse> {
    return this.send('GET', `/volumes/${this.service}/${volumeId}?attachments=${mask}`);
  }

  inspectByName(name: string, mask: number): Promise<RexrayResponse> {
    return this.send('GET', `/volumes/${this.service}/${name}?attachments=${mask}&byName`);
  }

  create(body: string): Promise<RexrayResponse> {
    return this.send('POST', `/volumes/${this.service}`, body);
  }

  createFromSnapshot(snapshotId: string, body: string): Promise<RexrayResponse> {
    return this.send('POST', `/snapshots/${this.service}/${snapshotId}?create`, body, { devices: false });
  }

  attach(volumeId: string, force = false): Promise<RexrayResponse> {
    return this.send('POST', `/volumes/${this.service}/${volumeId}?attach`, attachBody(force));
  }

  detach(volumeId: string, force = false): Promise<RexrayResponse> {
    return this.send('POST', `/volumes/${this.service}/${volumeId}?detach`, detachBody(force));
  }

  snapshot(volumeId: string, name: string): Promise<RexrayResponse> {
    return this.send('POST', `/volumes/${this.service}/${volumeId}?snapshot`, snapshotBody(name), { devices: false });
  }

  remove(volumeId: string, force = false): Promise<RexrayResponse> {
    return this.send('DELETE', `/volumes/${this.service}/${volumeId}${force ? '?force' : ''}`, undefined, { devices: false });
  }

  /** A raw request with REX-Ray's headers (instance ID and local devices unless turned off). */
  send(method: string, path: string, body?: string, include: { instance?: boolean; devices?: boolean } = {}): Promise<RexrayResponse> {
    const headers: Record<string, string> = { 'User-Agent': 'Go-http-client/1.1' };
    if (body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(body));
    if (include.instance !== false) headers['Libstorage-Instanceid'] = this.instanceHeader();
    if (include.devices !== false) headers['Libstorage-Localdevices'] = VFS_LOCAL_DEVICES;
    headers['Libstorage-Tx'] = tx();
    if (this.token !== undefined) headers.Authorization = `Bearer ${this.token}`;
    headers['Accept-Encoding'] = 'gzip';
    return rawRequest(this.target, method, path, headers, body);
  }
}
