/**
 * Zones as CSI topology. Polly's one topology key is `topology.polly.io/zone`; a volume with a zone
 * is accessible from that zone only, a volume without one from everywhere. A CreateVolume's
 * accessibility requirements choose the zone: the first preferred segment that is also requisite,
 * else the first requisite one.
 */
import { ValidationError } from '../../../errors/validation-error';
import type { Topology, TopologyRequirement } from '../csi-messages';

export const ZONE_KEY = 'topology.polly.io/zone';

export function zoneTopology(zone: string | undefined): Array<{ segments: Record<string, string> }> {
  return zone === undefined ? [] : [{ segments: { [ZONE_KEY]: zone } }];
}

/** The zone a topology names; INVALID_ARGUMENT for a key Polly does not use. */
export function zoneOf(topology: Topology | null, field: string): string | undefined {
  if (!topology) return undefined;
  const keys = Object.keys(topology.segments ?? {});
  const unknown = keys.filter((k) => k.toLowerCase() !== ZONE_KEY);
  if (unknown.length > 0) {
    throw ValidationError.field(
      field,
      `${field} uses topology keys Polly does not know (${unknown.map((k) => JSON.stringify(k)).join(', ')}); Polly's only key is ${ZONE_KEY}`,
    );
  }
  const key = keys[0];
  return key === undefined ? undefined : topology.segments[key];
}

export interface ZoneChoice {
  /** The zone to create in (undefined: no requirement, no zone). */
  zone?: string;
  /** Zones an existing volume may be in to satisfy the requirement (undefined: any). */
  allowed?: ReadonlySet<string>;
}

export function chooseZone(requirement: TopologyRequirement | null): ZoneChoice {
  if (!requirement) return {};
  const requisite = requirement.requisite.map((t, i) => zoneOf(t, `accessibility_requirements.requisite[${i}]`));
  const preferred = requirement.preferred.map((t, i) => zoneOf(t, `accessibility_requirements.preferred[${i}]`));
  const requisiteZones = requisite.filter((z): z is string => z !== undefined);
  const preferredZones = preferred.filter((z): z is string => z !== undefined);
  if (requisiteZones.length === 0 && preferredZones.length === 0) return {};
  const allowed = requisiteZones.length > 0 ? new Set(requisiteZones) : undefined;
  const zone = preferredZones.find((z) => !allowed || allowed.has(z)) ?? requisiteZones[0] ?? preferredZones[0];
  return allowed ? { zone, allowed } : { zone };
}
