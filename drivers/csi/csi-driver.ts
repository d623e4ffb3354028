/**
 * A StorageDriver over any CSI plugin's Identity and Controller services: Polly does the controller
 * work Mesos never does (create, delete, publish to a node, snapshots, clones, capacity), and the
 * agents' `volume/csi` isolator does the node work (stage and publish into the task).
 *
 * At `init` the plugin is asked what it is and what it can do; the service's configuration is
 * checked against that before anything is served, every problem at once (a profile that creates
 * volumes on a plugin that cannot, a plugin other than the one configured, no controller at all).
 * Operations the plugin does not offer are refused as not implemented; plugins without
 * PUBLISH_UNPUBLISH_VOLUME need no controller publish, so attach and detach are bookkeeping only.
 *
 * Every create carries a deterministic name (csi-names.ts), the plugin's idempotency key: a retry,
 * or recovery after a crash, repeats the same request and gets the same volume
 * (`createIdempotentByName`). A node is the agent's CSI node ID (the claim's instance ID). Per-call
 * deadlines, cancellation and the mapping of gRPC statuses to typed errors are csi-plugin.ts's job.
 */
import { DriverConflictError, DriverInvalidError, DriverNotFoundError, DriverNotImplementedError } from '../errors';
import { assertValidName, nameKey } from '../name-rules';
import { assertValidSize, checkCreateOptions } from '../create-options';
import type { DriverLogger } from '../driver-logger';
import { silentDriverLogger } from '../driver-logger';
import type {
  AttachOptions,
  BackendDescription,
  CallOptions,
  Capacity,
  CapacityQuery,
  DetachOptions,
  DriverSnapshot,
  DriverVolume,
  Instance,
  InstanceId,
  RemoveOptions,
  StorageDriver,
  StorageType,
  VolumeCreateOptions,
  VolumeExpansion,
} from '../storage-driver';
import { csiSnapshotName, csiVolumeName } from './csi-names';
import { ControllerCapabilityName, CsiPlugin, CsiTlsFiles, PluginFacts } from './csi-plugin';
import {
  bytesToGib,
  COMMON_ZONE_KEY,
  CsiSnapshotMessage,
  CsiVolumeMessage,
  CsiVolumeStatus,
  GIB,
  toDriverSnapshot,
  toDriverVolume,
  volumeContextOf,
  zoneSegment,
  zonesOf,
} from './csi-volumes';

export type CsiAccessType = 'mount' | 'block';
export type CsiReaderMode = 'MULTI_NODE_READER_ONLY' | 'SINGLE_NODE_READER_ONLY';

export interface CsiProfileSettings {
  /** CreateVolume / GetCapacity parameters of this profile (a StorageClass's parameters). */
  parameters?: Record<string, string>;
  /** The file system the volume is mounted with (mount access). */
  fsType?: string;
}

export interface CsiDriverConfig {
  /** The plugin's controller endpoint: `unix:///path.sock` or `tcp://host:port` (TLS). */
  endpoint: string;
  tls?: CsiTlsFiles;
  /** The plugin name expected from GetPluginInfo; a plugin that says otherwise is refused. */
  pluginName?: string;
  /** The topology key whose value is a Polly zone (default `topology.kubernetes.io/zone`, which is always understood too). */
  topologyKey?: string;
  /** Every CSI name starts with it (e.g. `polly-disks-`). */
  namePrefix: string;
  /** How tasks use the volumes: a mounted file system (default) or a raw block device. */
  accessType?: CsiAccessType;
  /** Default file system (mount access) when the profile names none. */
  fsType?: string;
  mountFlags?: string[];
  /** The access mode of read-only claims (default MULTI_NODE_READER_ONLY: readers may share across agents). */
  readerMode?: CsiReaderMode;
  /** Parameters of every CreateVolume and GetCapacity (merged under a profile's own). */
  parameters?: Record<string, string>;
  /** Parameters of every CreateSnapshot. */
  snapshotParameters?: Record<string, string>;
  /** Per-profile settings, by profile name. */
  profiles?: Record<string, CsiProfileSettings>;
  /** Profiles that create volumes (active ones): refused at init when the plugin cannot create. */
  creatingProfiles?: string[];
  /** Passed as `secrets` on every controller call that takes them; never logged. */
  secrets?: Record<string, string>;
  /** Deadline of each call, ms. Default 30 000. */
  callTimeoutMs?: number;
  /** Entries per ListVolumes / ListSnapshots page. Default 500. */
  pageSize?: number;
  /** Volumes one node may have published (like EBS's limit); default: none known. */
  attachLimit?: number;
  logger?: DriverLogger;
}

const WRITER_MODE = 'SINGLE_NODE_WRITER';
const DEFAULT_CALL_TIMEOUT_MS = 30_000;
const DEFAULT_PAGE_SIZE = 500;

function hasEntries(map: Record<string, string> | undefined): map is Record<string, string> {
  return map !== undefined && Object.keys(map).length > 0;
}

export class CsiDriver implements StorageDriver {
  readonly name = 'csi';
  readonly createIdempotentByName = true;
  readonly plugin: CsiPlugin;
  private readonly logger: DriverLogger;
  private readonly topologyKey: string;
  /** Volumes this process created or found, by the name's key: a lookup by name starts here. */
  private readonly idsByName = new Map<string, string>();
  /** Names of snapshots this process made (CSI snapshots have none of their own). */
  private readonly snapshotNames = new Map<string, string>();

  constructor(private readonly config: CsiDriverConfig) {
    this.logger = config.logger ?? silentDriverLogger;
    this.topologyKey = config.topologyKey ?? COMMON_ZONE_KEY;
    this.plugin = new CsiPlugin({
      endpoint: config.endpoint,
      callTimeoutMs: config.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS,
      ...(config.tls ? { tls: config.tls } : {}),
    });
  }

  type(): StorageType {
    return this.config.accessType === 'block' ? 'block' : 'nas';
  }

  attachLimit(): number | undefined {
    return this.config.attachLimit;
  }

  /** The plugin as it described itself (after `init`). */
  get facts(): PluginFacts | undefined {
    return this.plugin.described;
  }

  describe(): BackendDescription {
    const facts = this.plugin.described;
    if (!facts) return {};
    return {
      plugin: {
        name: facts.name,
        version: facts.version,
        capabilities: [...facts.pluginCapabilities, ...facts.controllerCapabilities],
        endpoint: this.plugin.address,
      },
    };
  }

  /** Asks the plugin what it is and can do, and refuses a configuration it cannot serve (all problems at once). */
  async init(options?: CallOptions): Promise<void> {
    const facts = await this.plugin.discover(options?.signal);
    const problems: string[] = [];
    if (this.config.pluginName && facts.name !== this.config.pluginName) {
      problems.push(
        `the plugin at ${this.plugin.address} is ${JSON.stringify(facts.name)}, not the configured ${JSON.stringify(this.config.pluginName)}`,
      );
    }
    if (!facts.pluginCapabilities.has('CONTROLLER_SERVICE')) {
      problems.push(
        'it serves no controller (GetPluginCapabilities lacks CONTROLLER_SERVICE): Polly drives a plugin through its controller',
      );
    } else if (!facts.controllerCapabilities.has('CREATE_DELETE_VOLUME')) {
      for (const profile of this.config.creatingProfiles ?? []) {
        problems.push(
          `profile "${profile}" creates volumes but the plugin cannot (no CREATE_DELETE_VOLUME): set the profile active: false and import the plugin's volumes instead`,
        );
      }
    }
    if (problems.length > 0) {
      throw new DriverInvalidError(
        `CSI plugin ${JSON.stringify(facts.name || this.plugin.address)} cannot serve this service: ${problems.join('; ')}`,
        {
          problems,
        },
      );
    }
    if (!facts.pluginCapabilities.has('VOLUME_ACCESSIBILITY_CONSTRAINTS')) {
      this.logger.warn('CSI plugin has no topology (VOLUME_ACCESSIBILITY_CONSTRAINTS): its volumes have no zone', { plugin: facts.name });
    }
    this.logger.info('CSI plugin ready', {
      plugin: facts.name,
      version: facts.version,
      endpoint: this.plugin.address,
      capabilities: [...facts.pluginCapabilities, ...facts.controllerCapabilities],
    });
  }

  async close(): Promise<void> {
    this.plugin.close();
  }

  async instanceInspect(instanceId: InstanceId): Promise<Instance> {
    // A CSI node is known by its node ID; the controller has nothing more to say about it.
    return { instanceId: { id: instanceId.id, driver: this.name }, name: instanceId.id };
  }

  // ---- volumes ----

  async volumes(options?: CallOptions): Promise<DriverVolume[]> {
    const entries = await this.listVolumes(options?.signal);
    return entries.map((e) => this.volumeOf(e.volume, e.status));
  }

  async volumeInspect(volumeId: string, options?: CallOptions): Promise<DriverVolume> {
    const signal = options?.signal;
    if (this.plugin.can('GET_VOLUME')) {
      const reply = await this.plugin.call(
        'controller',
        'ControllerGetVolume',
        { volume_id: volumeId },
        `ControllerGetVolume ${volumeId}`,
        signal,
      );
      return this.volumeOf(reply.volume, reply.status);
    }
    if (this.plugin.can('LIST_VOLUMES')) {
      const found = (await this.listVolumes(signal)).find((e) => e.volume.volume_id === volumeId);
      if (!found) throw new DriverNotFoundError(`CSI plugin ${this.plugin.label} has no volume ${JSON.stringify(volumeId)}`);
      return this.volumeOf(found.volume, found.status);
    }
    // Every controller answers ValidateVolumeCapabilities, NOT_FOUND for a volume it does not have.
    await this.plugin.call(
      'controller',
      'ValidateVolumeCapabilities',
      { volume_id: volumeId, volume_capabilities: [this.capability(WRITER_MODE)], secrets: this.secrets() },
      `ValidateVolumeCapabilities ${volumeId}`,
      signal,
    );
    return { id: volumeId, name: volumeId, size: 0, fields: {}, attachments: [], attachmentsUnknown: true };
  }

  /**
   * The volume Polly named `name`: one this process made, else one whose volume context carries
   * its CSI name (plugins that echo the name, like Polly's own). Undefined when the plugin cannot
   * be searched: creates are then settled by repeating them (`createIdempotentByName`).
   */
  async volumeInspectByName(name: string, options?: CallOptions): Promise<DriverVolume | undefined> {
    const key = nameKey(name);
    const known = this.idsByName.get(key);
    if (known !== undefined) {
      try {
        return { ...(await this.volumeInspect(known, options)), name };
      } catch (err) {
        if (!(err instanceof DriverNotFoundError)) throw err;
        this.idsByName.delete(key);
      }
    }
    if (!this.plugin.can('LIST_VOLUMES')) return undefined;
    const csiName = csiVolumeName(this.config.namePrefix, name);
    const found = (await this.listVolumes(options?.signal)).find((e) => Object.values(e.volume.volume_context ?? {}).includes(csiName));
    if (!found) return undefined;
    this.idsByName.set(key, found.volume.volume_id);
    return { ...this.volumeOf(found.volume, found.status), name };
  }

  async volumeCreate(name: string, create: VolumeCreateOptions, options?: CallOptions): Promise<DriverVolume> {
    assertValidName(name);
    const c = checkCreateOptions(create);
    this.needs('CREATE_DELETE_VOLUME', 'create volumes');
    const request: Record<string, unknown> = {
      name: csiVolumeName(this.config.namePrefix, name),
      volume_capabilities: [this.capability(WRITER_MODE, c.profile)],
      parameters: this.parameters(c.profile, c),
      secrets: this.secrets(),
    };
    if (c.size !== undefined) request.capacity_range = { required_bytes: String(c.size * GIB) };
    const requirement = this.zoneRequirement(c.availabilityZone);
    if (requirement) request.accessibility_requirements = requirement;
    const reply = await this.plugin.call('controller', 'CreateVolume', request, `CreateVolume ${request.name as string}`, options?.signal);
    return this.created(name, reply.volume, c);
  }

  async volumeCreateFromSnapshot(
    snapshotId: string,
    name: string,
    create: VolumeCreateOptions,
    options?: CallOptions,
  ): Promise<DriverVolume> {
    assertValidName(name);
    const c = checkCreateOptions(create);
    this.needs('CREATE_DELETE_VOLUME', 'create volumes');
    this.needs('CREATE_DELETE_SNAPSHOT', 'create volumes from snapshots');
    const request: Record<string, unknown> = {
      name: csiVolumeName(this.config.namePrefix, name),
      volume_capabilities: [this.capability(WRITER_MODE, c.profile)],
      parameters: this.parameters(c.profile, c),
      secrets: this.secrets(),
      volume_content_source: { snapshot: { snapshot_id: snapshotId } },
    };
    if (c.size !== undefined) request.capacity_range = { required_bytes: String(c.size * GIB) };
    const requirement = this.zoneRequirement(c.availabilityZone);
    if (requirement) request.accessibility_requirements = requirement;
    const reply = await this.plugin.call('controller', 'CreateVolume', request, `CreateVolume ${request.name as string}`, options?.signal);
    return this.created(name, reply.volume, c);
  }

  /** A clone (CLONE_VOLUME): the source's size, in the source's zone. */
  async volumeCopy(volumeId: string, name: string, options?: CallOptions): Promise<DriverVolume> {
    assertValidName(name);
    this.needs('CREATE_DELETE_VOLUME', 'create volumes');
    this.needs('CLONE_VOLUME', 'clone volumes');
    const source = await this.volumeInspect(volumeId, options);
    const request: Record<string, unknown> = {
      name: csiVolumeName(this.config.namePrefix, name),
      volume_capabilities: [this.capability(WRITER_MODE)],
      parameters: this.parameters(undefined, {}),
      secrets: this.secrets(),
      volume_content_source: { volume: { volume_id: volumeId } },
    };
    if (source.size > 0) request.capacity_range = { required_bytes: String(source.size * GIB) };
    const requirement = this.zoneRequirement(source.availabilityZone);
    if (requirement) request.accessibility_requirements = requirement;
    const reply = await this.plugin.call('controller', 'CreateVolume', request, `CreateVolume ${request.name as string}`, options?.signal);
    return this.created(name, reply.volume, { size: source.size });
  }

  async volumeRemove(volumeId: string, _remove?: RemoveOptions, options?: CallOptions): Promise<void> {
    this.needs('CREATE_DELETE_VOLUME', 'delete volumes');
    // DeleteVolume of a volume the plugin does not have answers OK (the spec's idempotency rule).
    await this.plugin.call(
      'controller',
      'DeleteVolume',
      { volume_id: volumeId, secrets: this.secrets() },
      `DeleteVolume ${volumeId}`,
      options?.signal,
    );
    for (const [key, id] of this.idsByName) if (id === volumeId) this.idsByName.delete(key);
  }

  /**
   * ControllerPublishVolume to the node (the instance ID is its CSI node ID). `force` first
   * unpublishes the volume from every other node the plugin lists (the holder is known to be gone).
   */
  async volumeAttach(
    volumeId: string,
    instanceId: InstanceId,
    attach?: AttachOptions,
    options?: CallOptions,
  ): Promise<{ volume: DriverVolume; attachToken?: string }> {
    const node = instanceId.id;
    const readOnly = attach?.readOnly === true;
    if (!this.plugin.can('PUBLISH_UNPUBLISH_VOLUME')) {
      // Nothing to do on the controller: the node's stage and publish are the agent's.
      return {
        volume: { id: volumeId, name: volumeId, size: 0, fields: {}, attachments: [{ volumeId, instanceId }], attachmentsUnknown: true },
      };
    }
    if (readOnly && !this.plugin.can('PUBLISH_READONLY')) {
      throw new DriverNotImplementedError(
        `CSI plugin ${this.plugin.label} cannot publish volumes read-only (no PUBLISH_READONLY): read-only claims are not possible on this service`,
      );
    }
    if (attach?.force && this.plugin.can('LIST_VOLUMES_PUBLISHED_NODES')) {
      const current = await this.volumeInspect(volumeId, options);
      for (const a of current.attachments) {
        if (a.instanceId.id !== node) await this.unpublish(volumeId, a.instanceId.id, options?.signal);
      }
    }
    const reply = await this.plugin.call(
      'controller',
      'ControllerPublishVolume',
      {
        volume_id: volumeId,
        node_id: node,
        volume_capability: this.capability(readOnly ? this.readerMode() : WRITER_MODE),
        readonly: readOnly,
        secrets: this.secrets(),
      },
      `ControllerPublishVolume ${volumeId} to ${node}`,
      options?.signal,
    );
    const publishContext: Record<string, string> = reply?.publish_context ?? {};
    const out: { volume: DriverVolume; attachToken?: string } = {
      volume: { id: volumeId, name: volumeId, size: 0, fields: {}, attachments: [{ volumeId, instanceId: { id: node }, readOnly }] },
    };
    if (hasEntries(publishContext)) out.attachToken = JSON.stringify(publishContext);
    return out;
  }

  async volumeDetach(volumeId: string, instanceId: InstanceId, _detach?: DetachOptions, options?: CallOptions): Promise<DriverVolume> {
    if (this.plugin.can('PUBLISH_UNPUBLISH_VOLUME')) await this.unpublish(volumeId, instanceId.id, options?.signal);
    return { id: volumeId, name: volumeId, size: 0, fields: {}, attachments: [] };
  }

  /**
   * ControllerExpandVolume (EXPAND_VOLUME) to `newSizeGiB`: the plugin answers the capacity the
   * volume has now, at least that (a volume already as large is answered as it is: the spec's
   * idempotency rule, which also makes a repeat after a crash safe).
   */
  async volumeExpand(volumeId: string, newSizeGiB: number, options?: CallOptions): Promise<DriverVolume> {
    assertValidSize(newSizeGiB);
    this.needs('EXPAND_VOLUME', 'expand volumes');
    const reply = await this.plugin.call(
      'controller',
      'ControllerExpandVolume',
      {
        volume_id: volumeId,
        capacity_range: { required_bytes: String(newSizeGiB * GIB) },
        volume_capability: this.capability(WRITER_MODE),
        secrets: this.secrets(),
      },
      `ControllerExpandVolume ${volumeId} to ${newSizeGiB} GiB`,
      options?.signal,
    );
    if (reply?.node_expansion_required === true) {
      // Mesos' volume/csi isolator never calls NodeExpandVolume: the node sees the new size once its file system is grown there.
      this.logger.warn('CSI plugin asks for node expansion, which Polly and Mesos do not perform', { plugin: this.plugin.label, volumeId });
    }
    return { id: volumeId, name: volumeId, size: bytesToGib(reply?.capacity_bytes), fields: {}, attachments: [], attachmentsUnknown: true };
  }

  /** Whether the plugin grows volumes (EXPAND_VOLUME), and while published (VolumeExpansion ONLINE) or not. */
  expansion(): VolumeExpansion | undefined {
    if (!this.plugin.can('EXPAND_VOLUME')) return undefined;
    return this.plugin.described?.expansion === 'ONLINE' ? 'online' : 'offline';
  }

  // ---- snapshots ----

  async volumeSnapshot(volumeId: string, snapshotName: string, options?: CallOptions): Promise<DriverSnapshot> {
    assertValidName(snapshotName, 'snapshot name');
    this.needs('CREATE_DELETE_SNAPSHOT', 'snapshot volumes');
    const name = csiSnapshotName(this.config.namePrefix, volumeId, snapshotName);
    const request: Record<string, unknown> = { source_volume_id: volumeId, name, secrets: this.secrets() };
    if (hasEntries(this.config.snapshotParameters)) request.parameters = { ...this.config.snapshotParameters };
    const reply = await this.plugin.call('controller', 'CreateSnapshot', request, `CreateSnapshot ${name}`, options?.signal);
    const snapshot = toDriverSnapshot(reply.snapshot as CsiSnapshotMessage, snapshotName);
    this.snapshotNames.set(snapshot.id, snapshotName);
    return snapshot;
  }

  async snapshots(options?: CallOptions): Promise<DriverSnapshot[]> {
    this.needs('LIST_SNAPSHOTS', 'list snapshots');
    return (await this.listSnapshots({}, options?.signal)).map((s) => this.snapshotOf(s));
  }

  async snapshotInspect(snapshotId: string, options?: CallOptions): Promise<DriverSnapshot> {
    if (this.plugin.can('GET_SNAPSHOT')) {
      const reply = await this.plugin.call(
        'controller',
        'GetSnapshot',
        { snapshot_id: snapshotId, secrets: this.secrets() },
        `GetSnapshot ${snapshotId}`,
        options?.signal,
      );
      return this.snapshotOf(reply.snapshot);
    }
    this.needs('LIST_SNAPSHOTS', 'look snapshots up');
    const [found] = await this.listSnapshots({ snapshot_id: snapshotId }, options?.signal);
    if (!found) throw new DriverNotFoundError(`CSI plugin ${this.plugin.label} has no snapshot ${JSON.stringify(snapshotId)}`);
    return this.snapshotOf(found);
  }

  async snapshotRemove(snapshotId: string, options?: CallOptions): Promise<void> {
    this.needs('CREATE_DELETE_SNAPSHOT', 'delete snapshots');
    await this.plugin.call(
      'controller',
      'DeleteSnapshot',
      { snapshot_id: snapshotId, secrets: this.secrets() },
      `DeleteSnapshot ${snapshotId}`,
      options?.signal,
    );
    this.snapshotNames.delete(snapshotId);
  }

  // ---- capacity ----

  /** GetCapacity for the profile in the zone (GiB, rounded down); undefined when the plugin cannot tell. */
  async capacity(query: CapacityQuery, zone: string | undefined, options?: CallOptions): Promise<Capacity | undefined> {
    if (!this.plugin.can('GET_CAPACITY')) return undefined;
    const request: Record<string, unknown> = {
      volume_capabilities: [this.capability(WRITER_MODE, query.profile)],
      parameters: this.parameters(query.profile, query),
    };
    if (zone !== undefined && this.plugin.described?.pluginCapabilities.has('VOLUME_ACCESSIBILITY_CONSTRAINTS')) {
      request.accessible_topology = zoneSegment(this.topologyKey, zone);
    }
    const reply = await this.plugin.call('controller', 'GetCapacity', request, `GetCapacity${zone ? ` in ${zone}` : ''}`, options?.signal);
    const available = Number(BigInt(reply?.available_capacity ?? 0) / BigInt(GIB));
    // CSI tells what can still be provisioned, not a total.
    return { availableGiB: available, totalGiB: available };
  }

  // ---- internals ----

  private needs(capability: ControllerCapabilityName, what: string): void {
    if (!this.plugin.can(capability)) {
      throw new DriverNotImplementedError(`not implemented: CSI plugin ${this.plugin.label} cannot ${what} (no ${capability} capability)`);
    }
  }

  private async unpublish(volumeId: string, node: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.plugin.call(
        'controller',
        'ControllerUnpublishVolume',
        { volume_id: volumeId, node_id: node, secrets: this.secrets() },
        `ControllerUnpublishVolume ${volumeId} from ${node}`,
        signal,
      );
    } catch (err) {
      // The spec answers NOT_FOUND for a volume or node that is gone: nothing is published there.
      if (!(err instanceof DriverNotFoundError)) throw err;
    }
  }

  private readerMode(): CsiReaderMode {
    return this.config.readerMode ?? 'MULTI_NODE_READER_ONLY';
  }

  /** A volume capability: the service's access type (mount with the profile's file system, or block) and `mode`. */
  capability(mode: string, profile?: string): Record<string, unknown> {
    const access_mode = { mode };
    if (this.config.accessType === 'block') return { block: {}, access_mode };
    const fsType = (profile !== undefined ? this.config.profiles?.[profile]?.fsType : undefined) ?? this.config.fsType ?? '';
    return { mount: { fs_type: fsType, mount_flags: [...(this.config.mountFlags ?? [])] }, access_mode };
  }

  /** Service parameters, the profile's over them, and the create's type / iops / encrypted where set. */
  private parameters(profile: string | undefined, c: { type?: string; iops?: number; encrypted?: boolean }): Record<string, string> {
    const out: Record<string, string> = { ...(this.config.parameters ?? {}) };
    Object.assign(out, profile !== undefined ? (this.config.profiles?.[profile]?.parameters ?? {}) : {});
    if (c.type !== undefined && out.type === undefined) out.type = c.type;
    if (c.iops !== undefined && out.iops === undefined) out.iops = String(c.iops);
    if (c.encrypted !== undefined && out.encrypted === undefined) out.encrypted = String(c.encrypted);
    return out;
  }

  private secrets(): Record<string, string> {
    return { ...(this.config.secrets ?? {}) };
  }

  /** Requisite and preferred topology for a volume in `zone` (none for a plugin without topology). */
  private zoneRequirement(zone: string | undefined): Record<string, unknown> | undefined {
    if (zone === undefined || !this.plugin.described?.pluginCapabilities.has('VOLUME_ACCESSIBILITY_CONSTRAINTS')) return undefined;
    const segment = zoneSegment(this.topologyKey, zone);
    return { requisite: [segment], preferred: [segment] };
  }

  private created(name: string, volume: CsiVolumeMessage, c: VolumeCreateOptions): DriverVolume {
    if (!volume || typeof volume.volume_id !== 'string' || volume.volume_id === '') {
      throw new DriverInvalidError(`CSI plugin ${this.plugin.label} answered CreateVolume without a volume ID`);
    }
    const zones = zonesOf(volume.accessible_topology, this.topologyKey);
    if (c.availabilityZone !== undefined && zones.length > 0 && !zones.includes(c.availabilityZone)) {
      // The plugin broke the requisite topology: a task in the asked zone could not use it.
      throw new DriverConflictError(
        `CSI plugin ${this.plugin.label} created volume ${volume.volume_id} in ${zones.join(', ')}, not in the requested zone ${c.availabilityZone}`,
      );
    }
    this.idsByName.set(nameKey(name), volume.volume_id);
    const out = toDriverVolume(volume, {
      topologyKey: this.topologyKey,
      name,
      ...(c.size !== undefined ? { sizeGiB: c.size } : {}),
      ...(c.fields ? { fields: c.fields } : {}),
      publishedNodesKnown: true,
    });
    if (c.type !== undefined) out.type = c.type;
    if (c.iops !== undefined) out.iops = c.iops;
    if (c.encrypted !== undefined) out.encrypted = c.encrypted;
    out.attachments = [];
    delete out.attachmentsUnknown;
    return out;
  }

  private volumeOf(volume: CsiVolumeMessage, status: CsiVolumeStatus | null | undefined): DriverVolume {
    let name: string | undefined;
    for (const [key, id] of this.idsByName) if (id === volume.volume_id) name = key;
    return toDriverVolume(volume, {
      topologyKey: this.topologyKey,
      ...(name !== undefined ? { name } : {}),
      ...(status ? { status } : {}),
      publishedNodesKnown: this.plugin.can('LIST_VOLUMES_PUBLISHED_NODES'),
    });
  }

  private snapshotOf(s: CsiSnapshotMessage): DriverSnapshot {
    return toDriverSnapshot(s, this.snapshotNames.get(s.snapshot_id) ?? '');
  }

  private async listVolumes(signal?: AbortSignal): Promise<Array<{ volume: CsiVolumeMessage; status?: CsiVolumeStatus }>> {
    this.needs('LIST_VOLUMES', 'list volumes');
    const out: Array<{ volume: CsiVolumeMessage; status?: CsiVolumeStatus }> = [];
    let token = '';
    const seen = new Set<string>();
    do {
      const reply = await this.plugin.call(
        'controller',
        'ListVolumes',
        { max_entries: this.config.pageSize ?? DEFAULT_PAGE_SIZE, starting_token: token },
        'ListVolumes',
        signal,
      );
      for (const e of reply?.entries ?? []) {
        // A listing that changes between pages may repeat an entry (the spec allows it).
        if (!e?.volume || seen.has(e.volume.volume_id)) continue;
        seen.add(e.volume.volume_id);
        out.push({ volume: e.volume, ...(e.status ? { status: e.status } : {}) });
      }
      token = String(reply?.next_token ?? '');
    } while (token !== '');
    return out;
  }

  private async listSnapshots(filter: Record<string, string>, signal?: AbortSignal): Promise<CsiSnapshotMessage[]> {
    const out: CsiSnapshotMessage[] = [];
    let token = '';
    do {
      const reply = await this.plugin.call(
        'controller',
        'ListSnapshots',
        { ...filter, max_entries: this.config.pageSize ?? DEFAULT_PAGE_SIZE, starting_token: token, secrets: this.secrets() },
        'ListSnapshots',
        signal,
      );
      for (const e of reply?.entries ?? []) if (e?.snapshot) out.push(e.snapshot);
      token = String(reply?.next_token ?? '');
    } while (token !== '');
    return out;
  }
}

/** The plugin's volume context kept on a record (for Mesos' CSI volumes). */
export { volumeContextOf };
