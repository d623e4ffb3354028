/**
 * Where a volume can be used. Most volumes have one zone (`availabilityZone`) or none (anywhere);
 * a CSI volume accessible from several zones but not all (a regional disk) has no single zone and
 * lists its zones instead (drivers/csi: the `csi.zones` field). The matcher asks this before it
 * places a task, so a task never lands where its volume is not accessible.
 */
import { ZONES_FIELD } from '../../drivers/csi/csi-volumes';
import type { VolumeRecord } from '../storage/volume-record';

/** The zones a volume is restricted to beyond its `availabilityZone`, or undefined (no such list). */
export function accessibleZones(volume: Pick<VolumeRecord, 'fields'>): readonly string[] | undefined {
  const listed = volume.fields[ZONES_FIELD];
  return listed === undefined ? undefined : listed.split(',');
}

/** Whether a zone list, if the volume has one, includes `zone` (an agent without a zone is in none). */
export function listedZonesInclude(volume: Pick<VolumeRecord, 'fields'>, zone: string | undefined): boolean {
  const zones = accessibleZones(volume);
  return zones === undefined || (zone !== undefined && zones.includes(zone));
}

/** Whether every one of `volumes` is accessible from `zone`, by their zone lists (undefined zone: none is). */
export function accessibleFrom(volumes: ReadonlyArray<VolumeRecord | undefined>, zone: string | undefined): string | undefined {
  for (const v of volumes) {
    if (v !== undefined && !listedZonesInclude(v, zone)) {
      return `waiting: volume ${v.name} is accessible only from zones ${accessibleZones(v)!.join(', ')}`;
    }
  }
  return undefined;
}
