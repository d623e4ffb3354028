/** What the controller's request handlers share: the storage core, the node directory, the in-flight guard. */
import { ForbiddenError } from '../../../errors/forbidden-error';
import { NotFoundError } from '../../../errors/not-found-error';
import type { StorageService } from '../../../storage/storage-service';
import { isVolumeId } from '../../../storage/volume-id';
import type { VolumeRecord } from '../../../storage/volume-record';
import type { InFlight } from '../in-flight';
import type { CsiNodes } from './csi-nodes';

export interface ControllerDeps {
  storage: StorageService;
  nodes: CsiNodes;
  inFlight: InFlight;
}

/** The managed volume a CSI volume ID names, if any (a malformed ID names none). */
export function findVolume(deps: ControllerDeps, volumeId: string): VolumeRecord | undefined {
  return isVolumeId(volumeId) ? deps.storage.catalog.find(volumeId) : undefined;
}

/** NOT_FOUND unless the volume exists. */
export function mustFindVolume(deps: ControllerDeps, volumeId: string, what = 'Volume'): VolumeRecord {
  const volume = findVolume(deps, volumeId);
  if (!volume) throw new NotFoundError(`${what} ${JSON.stringify(volumeId.slice(0, 200))} does not exist`, { volumeId });
  return volume;
}

/** PERMISSION_DENIED unless the volume is offered to the calling scheduler (the original Polly ACL). */
export function assertOffered(volume: VolumeRecord, scheduler: string): void {
  if (!volume.schedulers.includes(scheduler)) {
    throw new ForbiddenError(
      `Volume ${volume.id} is not offered to scheduler "${scheduler}"; an operator can offer it: polly volume offer ${volume.id} ${scheduler}`,
      { volumeId: volume.id, scheduler },
    );
  }
}
