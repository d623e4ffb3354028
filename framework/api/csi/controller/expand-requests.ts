/**
 * ControllerExpandVolume: a thin adapter onto the storage core's intent-logged expand. CSI sizes
 * are bytes, Polly's whole GiB: the volume grows to `required_bytes` rounded up to a GiB. A volume
 * already at least that large is answered as it is (the spec's idempotency rule); one larger than
 * `limit_bytes` cannot shrink into it (OUT_OF_RANGE). Published volumes grow only on services that
 * expand online (else FAILED_PRECONDITION, the spec's "volume in use"); a volume on a service that
 * cannot expand at all is FAILED_PRECONDITION too, since the plugin as a whole can. Nothing grows
 * at the node (vfs sizes are nominal): node_expansion_required is false.
 */
import { OutOfRangeError } from '../../../errors/out-of-range-error';
import { ValidationError } from '../../../errors/validation-error';
import type { StorageService } from '../../../storage/storage-service';
import type { VolumeRecord } from '../../../storage/volume-record';
import { checkCapabilityShape, Problems, unsupportedCapability } from '../csi-checks';
import type { ControllerExpandVolumeRequest } from '../csi-messages';
import type { CsiCallContext } from '../csi-server';
import { assertOffered, ControllerDeps, mustFindVolume } from './controller-deps';
import { gibToBytes, rangeInGib } from './csi-sizes';

/** The plugin's VolumeExpansion: ONLINE when a service grows volumes while published, OFFLINE when one only can detached. */
export function pluginExpansion(storage: StorageService): 'ONLINE' | 'OFFLINE' | undefined {
  let offline = false;
  for (const service of storage.registry.list()) {
    const expansion = storage.expander.expansionOf(service.name);
    if (expansion === 'online') return 'ONLINE';
    if (expansion === 'offline') offline = true;
  }
  return offline ? 'OFFLINE' : undefined;
}

function reply(volume: VolumeRecord): { capacity_bytes: number; node_expansion_required: boolean } {
  return { capacity_bytes: gibToBytes(volume.size), node_expansion_required: false };
}

export async function controllerExpandVolume(
  deps: ControllerDeps,
  req: ControllerExpandVolumeRequest,
  ctx: CsiCallContext,
): Promise<{ capacity_bytes: number; node_expansion_required: boolean }> {
  const problems = new Problems();
  problems.required(req.volume_id, 'volume_id');
  if (!req.capacity_range) problems.add('capacity_range is required');
  if (req.volume_capability) checkCapabilityShape(req.volume_capability, 'volume_capability', problems);
  problems.throwIfAny('ControllerExpandVolume');
  const unsupported = req.volume_capability ? unsupportedCapability(req.volume_capability) : undefined;
  if (unsupported) throw ValidationError.field('volume_capability', `ControllerExpandVolume: volume_capability: ${unsupported}`);
  const { required, limit } = rangeInGib(req.capacity_range);
  if (required === undefined && limit === undefined) {
    throw ValidationError.field('capacity_range', 'ControllerExpandVolume: capacity_range must set required_bytes (the size to grow to)');
  }
  const volume = mustFindVolume(deps, req.volume_id);
  assertOffered(volume, ctx.caller.scheduler);
  return deps.inFlight.run([`volume/${volume.id}`], 'ControllerExpandVolume', async () => {
    const current = mustFindVolume(deps, volume.id);
    if (limit !== undefined && limit < current.size) {
      throw new OutOfRangeError(
        `Volume ${current.id} is ${current.size} GiB, more than capacity_range.limit_bytes allows (${limit} GiB): volumes cannot shrink`,
        { volumeId: current.id, size: current.size },
      );
    }
    if (required === undefined || required <= current.size) return reply(current); // already that large
    try {
      return reply((await deps.storage.expander.expand(current.id, required, { by: `csi:${ctx.caller.scheduler}` })).volume);
    } catch (err) {
      // A size Polly cannot hold at all is a capacity range the plugin does not allow.
      if (err instanceof ValidationError && !(err instanceof OutOfRangeError) && err.field === 'size') {
        throw new OutOfRangeError(`ControllerExpandVolume: ${err.message}`, err.details, { cause: err });
      }
      throw err;
    }
  });
}
