/**
 * CreateVolume, DeleteVolume, ValidateVolumeCapabilities, ListVolumes, ControllerGetVolume and
 * GetCapacity: thin adapters onto the volume catalog. A CSI volume is a Polly volume named by the
 * CSI `name` (the create idempotency key), offered to the calling scheduler and labelled
 * `csi.polly.io/created-by`; only that scheduler may delete it through CSI.
 */
import { MAX_VOLUME_SIZE_GIB } from '../../../../drivers/create-options';
import { nameKey } from '../../../../drivers/name-rules';
import { AbortedError } from '../../../errors/aborted-error';
import { AlreadyExistsError } from '../../../errors/already-exists-error';
import { ConflictError } from '../../../errors/conflict-error';
import { NotFoundError } from '../../../errors/not-found-error';
import { OutOfRangeError } from '../../../errors/out-of-range-error';
import { PreconditionFailedError } from '../../../errors/precondition-failed-error';
import { ResourceExhaustedError } from '../../../errors/resource-exhausted-error';
import { ValidationError } from '../../../errors/validation-error';
import { DEFAULT_VOLUME_SIZE_GIB } from '../../../storage/profile';
import { toPollyError } from '../../../storage/storage-errors';
import { checkVolumeName, VolumeRecord } from '../../../storage/volume-record';
import { checkCapabilitiesSupported, checkCapabilityShape, hasEntries, Problems, unsupportedCapability } from '../csi-checks';
import type {
  ControllerGetVolumeRequest,
  CreateVolumeRequest,
  DeleteVolumeRequest,
  GetCapacityRequest,
  ListRequest,
  ValidateVolumeCapabilitiesRequest,
  VolumeCapability,
  VolumeOut,
} from '../csi-messages';
import type { CsiCallContext } from '../csi-server';
import { assertOffered, ControllerDeps, findVolume, mustFindVolume } from './controller-deps';
import { parseParameters, VolumeParameters } from './csi-parameters';
import { chooseSize, GIB, sizeFits } from './csi-sizes';
import { chooseZone, ZoneChoice, zoneOf } from './csi-topology';
import { CREATED_BY_LABEL, publishedNodeIds, SOURCE_LABEL, volumeCondition, volumeView } from './csi-views';
import { byId, page } from './page-token';
import { findSnapshot, FoundSnapshot } from './snapshot-requests';

type Source = { kind: 'snapshot'; found: FoundSnapshot } | { kind: 'volume'; volume: VolumeRecord };

interface CreateWish {
  name: string;
  scheduler: string;
  params: VolumeParameters;
  zone: ZoneChoice;
  source?: Source;
  sourceLabel?: string;
  request: CreateVolumeRequest;
}

export async function createVolume(deps: ControllerDeps, req: CreateVolumeRequest, ctx: CsiCallContext): Promise<{ volume: VolumeOut }> {
  const problems = new Problems();
  problems.required(req.name, 'name');
  if (req.volume_capabilities.length === 0) problems.add('volume_capabilities is required');
  req.volume_capabilities.forEach((c, i) => checkCapabilityShape(c, `volume_capabilities[${i}]`, problems));
  if (hasEntries(req.mutable_parameters)) {
    problems.add('mutable_parameters are not supported: Polly does not modify volumes (it has no MODIFY_VOLUME capability)');
  }
  const params = parseParameters(deps.storage.registry, req.parameters, 'parameters', problems);
  problems.throwIfAny('CreateVolume');
  checkCapabilitiesSupported(req.volume_capabilities, 'volume_capabilities', problems);
  problems.throwIfAny('CreateVolume');
  const name = checkVolumeName(req.name);
  const zone = chooseZone(req.accessibility_requirements);
  const source = await resolveSource(deps, req, params!, ctx.caller.scheduler);
  const wish: CreateWish = { name, scheduler: ctx.caller.scheduler, params: params!, zone, request: req };
  if (source) {
    wish.source = source;
    wish.sourceLabel = source.kind === 'snapshot' ? `snapshot:${source.found.snapshotId}` : `volume:${source.volume.id}`;
  }
  return deps.inFlight.run([`name/${nameKey(name)}`], 'CreateVolume', async () => {
    const existing = findByName(deps, name);
    if (existing) return { volume: volumeView(compatible(existing, wish)) };
    let record: VolumeRecord;
    try {
      record = await create(deps, wish);
    } catch (err) {
      if (err instanceof ConflictError && !(err instanceof AbortedError)) {
        const now = findByName(deps, name);
        if (now) return { volume: volumeView(compatible(now, wish)) };
        // The catalog's conflict without a volume ID is another create of this name still running.
        if (err.details?.volumeId === undefined) {
          throw new AbortedError(`Another create of a volume named ${JSON.stringify(name)} is in progress; retry CreateVolume`, { name });
        }
        throw new AlreadyExistsError(err.message, err.details, { cause: err });
      }
      if (err instanceof ValidationError && err.field === 'size') throw new OutOfRangeError(err.message, err.details, { cause: err });
      throw err;
    }
    return { volume: volumeView(record) };
  });
}

async function create(deps: ControllerDeps, wish: CreateWish): Promise<VolumeRecord> {
  const { catalog } = deps.storage;
  const { params, zone, source, name, scheduler } = wish;
  const service = params.service.name;
  const labels: Record<string, string> = { [CREATED_BY_LABEL]: scheduler };
  if (wish.sourceLabel) labels[SOURCE_LABEL] = wish.sourceLabel;
  const range = wish.request.capacity_range;
  if (!source) {
    const profile = params.profile;
    const size = chooseSize(
      range,
      { min: profile.minSizeGiB ?? 1, max: Math.min(profile.maxSizeGiB ?? MAX_VOLUME_SIZE_GIB, MAX_VOLUME_SIZE_GIB) },
      DEFAULT_VOLUME_SIZE_GIB,
      `profile "${profile.name}" of service "${service}"`,
    );
    return catalog.create({
      service,
      name,
      profile: profile.name,
      size,
      ...(params.type !== undefined ? { type: params.type } : {}),
      ...(params.iops !== undefined ? { iops: params.iops } : {}),
      ...(params.encrypted !== undefined ? { encrypted: params.encrypted } : {}),
      ...(zone.zone !== undefined ? { availabilityZone: zone.zone } : {}),
      scheduler,
      labels,
    });
  }
  if (source.kind === 'snapshot') {
    const snapshot = source.found.snapshot;
    const size = chooseSize(
      range,
      { min: snapshot.volumeSize, max: MAX_VOLUME_SIZE_GIB },
      snapshot.volumeSize,
      `a volume from snapshot ${source.found.snapshotId} (${snapshot.volumeSize} GiB)`,
    );
    return catalog.createFrom({
      service,
      name,
      source: { snapshot: snapshot.id, create: { size, ...(zone.zone !== undefined ? { availabilityZone: zone.zone } : {}) } },
      schedulers: [scheduler],
      labels,
    });
  }
  const from = source.volume;
  chooseSize(
    range,
    { min: from.size, max: from.size },
    from.size,
    `a clone of volume ${from.id} (clones keep their source's size, ${from.size} GiB)`,
  );
  if (zone.allowed && from.availabilityZone !== undefined && !zone.allowed.has(from.availabilityZone)) {
    throw new ResourceExhaustedError(
      `A clone of ${from.id} is in its zone ${from.availabilityZone}, which the accessibility requirements do not allow (${[...zone.allowed].join(', ')})`,
    );
  }
  return catalog.createFrom({ service, name, source: { copyOf: from.driverVolumeId }, schedulers: [scheduler], labels });
}

/** The source volume or snapshot, checked: it exists, the caller may use it, it is on the target service. */
async function resolveSource(
  deps: ControllerDeps,
  req: CreateVolumeRequest,
  params: VolumeParameters,
  scheduler: string,
): Promise<Source | undefined> {
  const source = req.volume_content_source;
  if (!source || !source.type) return undefined;
  const service = params.service.name;
  if (source.type === 'snapshot') {
    const id = source.snapshot?.snapshot_id ?? '';
    if (id === '') throw ValidationError.field('volume_content_source', 'volume_content_source.snapshot.snapshot_id is required');
    const found = await findSnapshot(deps, id);
    if (!found) throw new NotFoundError(`Source snapshot ${JSON.stringify(id.slice(0, 200))} does not exist`, { snapshotId: id });
    if (found.service !== service) {
      throw ValidationError.field(
        'volume_content_source',
        `Snapshot ${id} is on service "${found.service}": a volume from it is created on that service (set parameters.service to ${found.service})`,
      );
    }
    const of = deps.storage.catalog.find(found.sourceVolumeId);
    if (of) assertOffered(of, scheduler);
    return { kind: 'snapshot', found };
  }
  const id = source.volume?.volume_id ?? '';
  if (id === '') throw ValidationError.field('volume_content_source', 'volume_content_source.volume.volume_id is required');
  const volume = mustFindVolume(deps, id, 'Source volume');
  assertOffered(volume, scheduler);
  if (volume.service !== service) {
    throw ValidationError.field(
      'volume_content_source',
      `Volume ${id} is on service "${volume.service}": a clone of it is created on that service (set parameters.service to ${volume.service})`,
    );
  }
  if (volume.status === 'removing' || volume.status === 'missing') {
    throw new PreconditionFailedError(`Source volume ${id} is ${volume.status}: it cannot be cloned`, { volumeId: id });
  }
  const wanted = params.profileGiven ? params.profile : undefined;
  for (const key of ['type', 'iops', 'encrypted'] as const) {
    const asked = params[key] ?? wanted?.[key];
    if (asked !== undefined && volume[key] !== undefined && volume[key] !== asked) {
      throw ValidationError.field(
        'volume_content_source',
        `Source volume ${id} has ${key} ${JSON.stringify(volume[key])} but the parameters ask for ${JSON.stringify(asked)}; a clone keeps its source's`,
      );
    }
  }
  return { kind: 'volume', volume };
}

/** CSI names are plugin-wide: a volume of that name on any service. */
function findByName(deps: ControllerDeps, name: string): VolumeRecord | undefined {
  for (const service of deps.storage.registry.list()) {
    const found = deps.storage.catalog.findByName(service.name, name);
    if (found) return found;
  }
  return undefined;
}

/** The existing volume when it is what the request asks for; ALREADY_EXISTS naming every difference otherwise. */
function compatible(existing: VolumeRecord, wish: CreateWish): VolumeRecord {
  const { params, zone, request } = wish;
  if (existing.labels[CREATED_BY_LABEL] !== wish.scheduler) {
    throw new AlreadyExistsError(
      `A volume named ${JSON.stringify(existing.name)} already exists (${existing.id}) and was not created through CSI by scheduler "${wish.scheduler}"; ` +
        'choose another name, or use it as a pre-provisioned volume',
      { volumeId: existing.id },
    );
  }
  const differences: string[] = [];
  if (existing.name !== wish.name) differences.push(`its name is spelt ${JSON.stringify(existing.name)}`);
  if (existing.service !== params.service.name) differences.push(`it is on service "${existing.service}", not "${params.service.name}"`);
  if (!sizeFits(request.capacity_range, existing.size)) differences.push(`its size (${existing.size} GiB) is outside the capacity range`);
  if (!wish.source && params.profileGiven && existing.profile !== params.profile.name) {
    differences.push(`it has profile ${JSON.stringify(existing.profile ?? null)}, not "${params.profile.name}"`);
  }
  for (const key of ['type', 'iops', 'encrypted'] as const) {
    const asked = params[key];
    if (asked !== undefined && existing[key] !== asked)
      differences.push(`its ${key} is ${JSON.stringify(existing[key] ?? null)}, not ${JSON.stringify(asked)}`);
  }
  if (zone.allowed && existing.availabilityZone !== undefined && !zone.allowed.has(existing.availabilityZone)) {
    differences.push(`it is in zone ${existing.availabilityZone}, which the accessibility requirements do not allow`);
  }
  if ((existing.labels[SOURCE_LABEL] ?? '') !== (wish.sourceLabel ?? '')) {
    differences.push(`it was made from ${existing.labels[SOURCE_LABEL] ?? 'no source'}, not ${wish.sourceLabel ?? 'no source'}`);
  }
  if (differences.length > 0) {
    throw new AlreadyExistsError(
      `A volume named ${JSON.stringify(wish.name)} already exists (${existing.id}) but ${differences.join('; ')}; use another name or ask for what it is`,
      { volumeId: existing.id },
    );
  }
  if (existing.status === 'removing') {
    throw new AbortedError(
      `Volume ${existing.id} named ${JSON.stringify(existing.name)} is being deleted; retry CreateVolume when that has finished`,
    );
  }
  return existing;
}

export async function deleteVolume(deps: ControllerDeps, req: DeleteVolumeRequest, ctx: CsiCallContext): Promise<object> {
  const problems = new Problems();
  problems.required(req.volume_id, 'volume_id');
  problems.throwIfAny('DeleteVolume');
  const volume = findVolume(deps, req.volume_id);
  if (!volume) return {}; // already gone (or never was): deleting is idempotent
  assertOffered(volume, ctx.caller.scheduler);
  if (volume.labels[CREATED_BY_LABEL] !== ctx.caller.scheduler) {
    throw new PreconditionFailedError(
      `Volume ${volume.id} was not created through CSI by scheduler "${ctx.caller.scheduler}", so CSI does not delete it; ` +
        `an operator removes it with: polly volume rm ${volume.id}`,
      { volumeId: volume.id },
    );
  }
  return deps.inFlight.run([`volume/${volume.id}`], 'DeleteVolume', async () => {
    const holders = deps.storage.ledger.liveClaims(volume.id);
    if (holders.length > 0) {
      throw new PreconditionFailedError(
        `Volume ${volume.id} is in use: published to ${publishedNodeIds(holders).join(', ')} (claims ${holders.map((c) => c.id).join(', ')}); ` +
          'unpublish it (ControllerUnpublishVolume) before deleting it',
        { volumeId: volume.id },
      );
    }
    try {
      await deps.storage.catalog.remove(volume.id);
    } catch (err) {
      if (err instanceof NotFoundError) return {}; // removed meanwhile
      throw err;
    }
    return {};
  });
}

/** A capability as it goes back to the CO (only the fields of the message, no loader extras). */
function capabilityOut(c: VolumeCapability): Record<string, unknown> {
  const out: Record<string, unknown> = { access_mode: { mode: c.access_mode?.mode ?? 'UNKNOWN' } };
  if (c.access_type === 'block') out.block = {};
  else if (c.mount)
    out.mount = { fs_type: c.mount.fs_type, mount_flags: c.mount.mount_flags, volume_mount_group: c.mount.volume_mount_group };
  return out;
}

export async function validateVolumeCapabilities(
  deps: ControllerDeps,
  req: ValidateVolumeCapabilitiesRequest,
  ctx: CsiCallContext,
): Promise<object> {
  const problems = new Problems();
  problems.required(req.volume_id, 'volume_id');
  if (req.volume_capabilities.length === 0) problems.add('volume_capabilities is required');
  req.volume_capabilities.forEach((c, i) => checkCapabilityShape(c, `volume_capabilities[${i}]`, problems));
  problems.throwIfAny('ValidateVolumeCapabilities');
  const volume = mustFindVolume(deps, req.volume_id);
  assertOffered(volume, ctx.caller.scheduler);
  const refused: string[] = [];
  req.volume_capabilities.forEach((c, i) => {
    const why = unsupportedCapability(c);
    if (why) refused.push(`volume_capabilities[${i}]: ${why}`);
  });
  if (hasEntries(req.parameters)) {
    const paramProblems = new Problems();
    const params = parseParameters(deps.storage.registry, req.parameters, 'parameters', paramProblems);
    if (!params) refused.push('parameters are not valid for Polly');
    else if (params.service.name !== volume.service)
      refused.push(`the volume is on service "${volume.service}", not "${params.service.name}"`);
  }
  if (hasEntries(req.mutable_parameters)) refused.push('mutable_parameters are not supported');
  const context = volumeView(volume).volume_context;
  for (const [key, value] of Object.entries(req.volume_context)) {
    if (context[key] !== value) refused.push(`volume_context ${key}=${JSON.stringify(value)} does not match the volume`);
  }
  if (refused.length > 0) return { message: `Not confirmed: ${refused.join('; ')}` };
  return {
    confirmed: {
      volume_context: req.volume_context,
      volume_capabilities: req.volume_capabilities.map(capabilityOut),
      parameters: req.parameters,
    },
  };
}

export function listVolumes(deps: ControllerDeps, req: ListRequest, ctx: CsiCallContext): object {
  const { catalog, ledger } = deps.storage;
  const visible = catalog.list({ scheduler: ctx.caller.scheduler }).sort(byId((v) => v.id));
  const { items, next } = page(visible, (v) => v.id, req.max_entries, req.starting_token);
  return {
    entries: items.map((v) => ({
      volume: volumeView(v),
      status: { published_node_ids: publishedNodeIds(ledger.liveClaims(v.id)), volume_condition: volumeCondition(v) },
    })),
    next_token: next,
  };
}

export function controllerGetVolume(deps: ControllerDeps, req: ControllerGetVolumeRequest, ctx: CsiCallContext): object {
  const problems = new Problems();
  problems.required(req.volume_id, 'volume_id');
  problems.throwIfAny('ControllerGetVolume');
  const volume = mustFindVolume(deps, req.volume_id);
  assertOffered(volume, ctx.caller.scheduler);
  return {
    volume: volumeView(volume),
    status: { published_node_ids: publishedNodeIds(deps.storage.ledger.liveClaims(volume.id)), volume_condition: volumeCondition(volume) },
  };
}

/** Provisionable capacity per service, profile and zone, as the driver reports it (0 when it cannot tell). */
export async function getCapacity(deps: ControllerDeps, req: GetCapacityRequest): Promise<object> {
  const problems = new Problems();
  req.volume_capabilities.forEach((c, i) => checkCapabilityShape(c, `volume_capabilities[${i}]`, problems));
  const params = parseParameters(deps.storage.registry, req.parameters, 'parameters', problems);
  problems.throwIfAny('GetCapacity');
  const zone = zoneOf(req.accessible_topology, 'accessible_topology');
  const { service, profile } = params!;
  const min = profile.minSizeGiB ?? 1;
  const max = Math.min(profile.maxSizeGiB ?? MAX_VOLUME_SIZE_GIB, MAX_VOLUME_SIZE_GIB);
  const sizes = { maximum_volume_size: { value: max * GIB }, minimum_volume_size: { value: min * GIB } };
  const servable = profile.active && req.volume_capabilities.every((c) => unsupportedCapability(c) === undefined);
  if (!servable) return { available_capacity: 0, ...sizes };
  let capacity;
  try {
    capacity = await service.driver.capacity(
      {
        ...((params!.type ?? profile.type) ? { type: params!.type ?? profile.type } : {}),
        ...((params!.iops ?? profile.iops) ? { iops: params!.iops ?? profile.iops } : {}),
        ...((params!.encrypted ?? profile.encrypted) ? { encrypted: params!.encrypted ?? profile.encrypted } : {}),
      },
      zone,
    );
  } catch (err) {
    throw toPollyError(err);
  }
  return { available_capacity: capacity ? capacity.availableGiB * GIB : 0, ...sizes };
}
