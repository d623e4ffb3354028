/**
 * CreateVolume / GetCapacity / ValidateVolumeCapabilities `parameters` (a StorageClass's
 * parameters in Kubernetes): which Polly storage service and profile, and create options the
 * profile leaves open. Keys the CO adds for itself (`csi.storage.k8s.io/...`) are ignored; any other
 * key is refused by name.
 *
 *   service    the storage service (default: the first configured one)
 *   profile    its profile (default: `default`, else the service's first profile)
 *   type, iops, encrypted   as in a profile; must not contradict it
 */
import type { Profile } from '../../../storage/profile';
import { DEFAULT_PROFILE_NAME } from '../../../storage/profile';
import type { ServiceRegistry, StorageService } from '../../../storage/service-registry';
import { isCoParameter, Problems } from '../csi-checks';
import type { StringMap } from '../csi-messages';

export const PARAMETER_KEYS = ['service', 'profile', 'type', 'iops', 'encrypted'] as const;

export interface VolumeParameters {
  service: StorageService;
  profile: Profile;
  /** The profile was named in the parameters (not defaulted). */
  profileGiven: boolean;
  type?: string;
  iops?: number;
  encrypted?: boolean;
}

/** Adds a problem for each bad parameter; undefined when there were any. */
export function parseParameters(
  registry: ServiceRegistry,
  parameters: StringMap,
  field: string,
  problems: Problems,
): VolumeParameters | undefined {
  let bad = false;
  const problem = (text: string): void => {
    bad = true;
    problems.add(text);
  };
  for (const key of Object.keys(parameters)) {
    if (!(PARAMETER_KEYS as readonly string[]).includes(key) && !isCoParameter(key)) {
      problem(`${field}: unknown parameter ${JSON.stringify(key)} (Polly takes ${PARAMETER_KEYS.join(', ')})`);
    }
  }
  const services = registry.list();
  const serviceName = parameters.service ?? services[0]?.name;
  if (serviceName === undefined || !registry.has(serviceName)) {
    problem(
      `${field}.service ${JSON.stringify(serviceName ?? '')} is not a configured storage service (configured: ${services.map((s) => s.name).join(', ') || 'none'})`,
    );
    return undefined;
  }
  const service = registry.get(serviceName);
  const profiles = service.definition.profiles;
  const profileName =
    parameters.profile ?? (profiles.some((p) => p.name === DEFAULT_PROFILE_NAME) ? DEFAULT_PROFILE_NAME : profiles[0]?.name);
  const profile = profiles.find((p) => p.name === profileName);
  if (!profile) {
    problem(
      `${field}.profile ${JSON.stringify(profileName)} is not a profile of service "${service.name}" (profiles: ${profiles.map((p) => p.name).join(', ')})`,
    );
  }
  const out: Partial<VolumeParameters> = { service, profile, profileGiven: parameters.profile !== undefined };
  if (parameters.type !== undefined) {
    if (parameters.type === '' || parameters.type.length > 128) problem(`${field}.type must be 1-128 characters`);
    else out.type = parameters.type;
  }
  if (parameters.iops !== undefined) {
    if (!/^[1-9]\d{0,7}$/.test(parameters.iops)) problem(`${field}.iops must be a whole number from 1 to 99999999`);
    else out.iops = Number(parameters.iops);
  }
  if (parameters.encrypted !== undefined) {
    if (parameters.encrypted !== 'true' && parameters.encrypted !== 'false') problem(`${field}.encrypted must be "true" or "false"`);
    else out.encrypted = parameters.encrypted === 'true';
  }
  if (profile) {
    for (const key of ['type', 'iops', 'encrypted'] as const) {
      const wanted = out[key];
      if (wanted !== undefined && profile[key] !== undefined && profile[key] !== wanted) {
        problem(
          `${field}.${key} ${JSON.stringify(wanted)} contradicts profile "${profile.name}" (${key} ${JSON.stringify(profile[key])}); choose another profile`,
        );
      }
    }
  }
  return bad ? undefined : (out as VolumeParameters);
}
