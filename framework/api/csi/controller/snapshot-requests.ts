/**
 * CreateSnapshot, DeleteSnapshot, ListSnapshots and GetSnapshot: thin adapters onto the snapshot
 * book (intent-logged create and remove) and the drivers' snapshot lists. Snapshot names are the
 * create idempotency key across the plugin: the same name of the same source volume is the same
 * snapshot, of another source ALREADY_EXISTS. A caller sees the snapshots of volumes offered to it
 * (and those whose volume Polly no longer has).
 */
import { DriverNotFoundError } from '../../../../drivers/errors';
import type { DriverSnapshot } from '../../../../drivers/storage-driver';
import { AlreadyExistsError } from '../../../errors/already-exists-error';
import { NotFoundError } from '../../../errors/not-found-error';
import { PreconditionFailedError } from '../../../errors/precondition-failed-error';
import { retryTransient } from '../../../storage/retry';
import { toPollyError } from '../../../storage/storage-errors';
import { formatVolumeId, isVolumeId, parseVolumeId } from '../../../storage/volume-id';
import { checkVolumeName } from '../../../storage/volume-record';
import { isCoParameter, Problems } from '../csi-checks';
import type { CreateSnapshotRequest, DeleteSnapshotRequest, GetSnapshotRequest, ListSnapshotsRequest, SnapshotOut } from '../csi-messages';
import type { CsiCallContext } from '../csi-server';
import { assertOffered, ControllerDeps, mustFindVolume } from './controller-deps';
import { snapshotView } from './csi-views';
import { byId, page } from './page-token';

export interface FoundSnapshot {
  service: string;
  snapshotId: string;
  sourceVolumeId: string;
  snapshot: DriverSnapshot;
}

function found(service: string, snapshot: DriverSnapshot): FoundSnapshot {
  return {
    service,
    snapshotId: formatVolumeId(service, snapshot.id),
    sourceVolumeId: formatVolumeId(service, snapshot.volumeId),
    snapshot,
  };
}

/** The snapshot a CSI snapshot ID names, if any (a malformed ID or an unknown service names none). */
export async function findSnapshot(deps: ControllerDeps, snapshotId: string): Promise<FoundSnapshot | undefined> {
  if (!isVolumeId(snapshotId)) return undefined;
  const { service, driverVolumeId } = parseVolumeId(snapshotId);
  const { registry } = deps.storage;
  if (!registry.has(service)) return undefined;
  try {
    const snapshot = await retryTransient(() => registry.get(service).driver.snapshotInspect(driverVolumeId));
    return found(service, snapshot);
  } catch (err) {
    if (err instanceof DriverNotFoundError) return undefined;
    throw toPollyError(err);
  }
}

/** Every snapshot of every service (or of one), from the drivers. */
async function allSnapshots(deps: ControllerDeps, onlyService?: string): Promise<FoundSnapshot[]> {
  const out: FoundSnapshot[] = [];
  for (const service of deps.storage.registry.list()) {
    if (onlyService !== undefined && service.name !== onlyService) continue;
    let snapshots: DriverSnapshot[];
    try {
      snapshots = await retryTransient(() => service.driver.snapshots());
    } catch (err) {
      throw toPollyError(err);
    }
    for (const s of snapshots) out.push(found(service.name, s));
  }
  return out;
}

/** Whether the caller may see the snapshot: its volume is offered to it, or Polly no longer has the volume. */
function visibleTo(deps: ControllerDeps, snapshot: FoundSnapshot, scheduler: string): boolean {
  const volume = deps.storage.catalog.find(snapshot.sourceVolumeId);
  return !volume || volume.schedulers.includes(scheduler);
}

export async function createSnapshot(
  deps: ControllerDeps,
  req: CreateSnapshotRequest,
  ctx: CsiCallContext,
): Promise<{ snapshot: SnapshotOut }> {
  const problems = new Problems();
  problems.required(req.source_volume_id, 'source_volume_id');
  problems.required(req.name, 'name');
  for (const key of Object.keys(req.parameters)) {
    if (!isCoParameter(key)) problems.add(`parameters: unknown parameter ${JSON.stringify(key)} (Polly takes none for snapshots)`);
  }
  problems.throwIfAny('CreateSnapshot');
  const name = checkVolumeName(req.name);
  const volume = mustFindVolume(deps, req.source_volume_id, 'Source volume');
  assertOffered(volume, ctx.caller.scheduler);
  return deps.inFlight.run([`snapshot-name/${name}`], 'CreateSnapshot', async () => {
    const existing = (await allSnapshots(deps)).find((s) => s.snapshot.name === name);
    if (existing) {
      if (existing.sourceVolumeId !== volume.id) {
        throw new AlreadyExistsError(
          `A snapshot named ${JSON.stringify(name)} already exists (${existing.snapshotId}) of volume ${existing.sourceVolumeId}, not of ${volume.id}; use another name`,
          { snapshotId: existing.snapshotId },
        );
      }
      return { snapshot: snapshotView(existing.service, existing.snapshot) };
    }
    if (volume.status === 'removing' || volume.status === 'missing') {
      throw new PreconditionFailedError(`Volume ${volume.id} is ${volume.status}: it cannot be snapshotted`, { volumeId: volume.id });
    }
    const snapshot = await deps.storage.snapshots.create(volume, name);
    return { snapshot: snapshotView(volume.service, snapshot) };
  });
}

export async function deleteSnapshot(deps: ControllerDeps, req: DeleteSnapshotRequest, ctx: CsiCallContext): Promise<object> {
  const problems = new Problems();
  problems.required(req.snapshot_id, 'snapshot_id');
  problems.throwIfAny('DeleteSnapshot');
  const snapshot = await findSnapshot(deps, req.snapshot_id);
  if (!snapshot) return {}; // already gone (or never was)
  const volume = deps.storage.catalog.find(snapshot.sourceVolumeId);
  if (volume) assertOffered(volume, ctx.caller.scheduler);
  return deps.inFlight.run([`snapshot/${snapshot.snapshotId}`], 'DeleteSnapshot', async () => {
    try {
      await deps.storage.snapshots.remove(snapshot.service, snapshot.snapshot.id);
    } catch (err) {
      if (err instanceof NotFoundError) return {};
      throw err;
    }
    return {};
  });
}

export async function listSnapshots(deps: ControllerDeps, req: ListSnapshotsRequest, ctx: CsiCallContext): Promise<object> {
  let candidates: FoundSnapshot[];
  if (req.snapshot_id !== '') {
    const one = await findSnapshot(deps, req.snapshot_id);
    candidates = one ? [one] : [];
  } else if (req.source_volume_id !== '') {
    candidates = isVolumeId(req.source_volume_id)
      ? (await allSnapshots(deps, parseVolumeId(req.source_volume_id).service)).filter((s) => s.sourceVolumeId === req.source_volume_id)
      : [];
  } else {
    candidates = await allSnapshots(deps);
  }
  if (req.snapshot_id !== '' && req.source_volume_id !== '')
    candidates = candidates.filter((s) => s.sourceVolumeId === req.source_volume_id);
  const visible = candidates.filter((s) => visibleTo(deps, s, ctx.caller.scheduler)).sort(byId((s) => s.snapshotId));
  const { items, next } = page(visible, (s) => s.snapshotId, req.max_entries, req.starting_token);
  return { entries: items.map((s) => ({ snapshot: snapshotView(s.service, s.snapshot) })), next_token: next };
}

export async function getSnapshot(deps: ControllerDeps, req: GetSnapshotRequest, ctx: CsiCallContext): Promise<object> {
  const problems = new Problems();
  problems.required(req.snapshot_id, 'snapshot_id');
  problems.throwIfAny('GetSnapshot');
  const snapshot = await findSnapshot(deps, req.snapshot_id);
  if (!snapshot || !visibleTo(deps, snapshot, ctx.caller.scheduler)) {
    throw new NotFoundError(`Snapshot ${JSON.stringify(req.snapshot_id.slice(0, 200))} does not exist`, { snapshotId: req.snapshot_id });
  }
  return { snapshot: snapshotView(snapshot.service, snapshot.snapshot) };
}
