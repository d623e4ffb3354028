/**
 * Volume-bound apps: Polly's stored form of a Marathon app definition (AppSpec), in Marathon's own
 * canonical shape (defaults filled in, deprecated fields migrated), plus what Polly resolved when it
 * accepted the definition: each managed volume's storage service and create options.
 *
 * `parseAppDefinition` takes any Marathon AppDefinition (marathon/app-definition-schema.ts), checks
 * it all at once and returns the spec with warnings for what Polly accepts but cannot honour; it
 * throws a ValidationError (400) listing every malformed field, or an UnprocessableError (422)
 * listing every field Polly cannot honour safely (marathon/app-normaliser.ts).
 */
import { ValidationError } from '../errors/validation-error';
import type { Constraint } from './constraints';
import { DEFAULT_DEFINITION_CONTEXT, normaliseAppDefinition, type AppDefinitionContext } from './marathon/app-normaliser';

export const MAX_INSTANCES = 1000;
export const MAX_VOLUMES_PER_APP = 32;
export const INSTANCE_PLACEHOLDER = '{{instance}}';

/** One path segment of an app ID, as Marathon allows it. */
const ID_SEGMENT = '(?:[a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])(?:\\.(?:[a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9]))*';
export const APP_ID_PATTERN = new RegExp(`^/?${ID_SEGMENT}(?:/${ID_SEGMENT})*$`);

export type PortProtocol = 'tcp' | 'udp' | 'udp,tcp' | 'tcp,udp';

export interface PortDefinitionSpec {
  /** requirePorts: the host port; otherwise 0 (any) or a service port. */
  port: number;
  name?: string;
  protocol: PortProtocol;
  labels?: Record<string, string>;
}

export interface PortMappingSpec {
  /** 0: the same as the host port. */
  containerPort: number;
  /** Absent: no host port (container networks); 0: any port from the offer. */
  hostPort?: number;
  servicePort?: number;
  name?: string;
  protocol: PortProtocol;
  labels?: Record<string, string>;
  networkNames?: string[];
}

export interface NetworkSpec {
  mode: 'host' | 'container/bridge' | 'container';
  name?: string;
  labels?: Record<string, string>;
}

export interface HealthCheckSpec {
  protocol: 'HTTP' | 'HTTPS' | 'TCP' | 'COMMAND' | 'MESOS_HTTP' | 'MESOS_HTTPS' | 'MESOS_TCP';
  path?: string;
  port?: number;
  portIndex?: number;
  command?: { value: string };
  ipProtocol: 'IPv4' | 'IPv6';
  gracePeriodSeconds: number;
  intervalSeconds: number;
  timeoutSeconds: number;
  delaySeconds: number;
  maxConsecutiveFailures: number;
  ignoreHttp1xx?: boolean;
}

export interface ArtifactSpec {
  uri: string;
  extract: boolean;
  executable: boolean;
  cache: boolean;
  destPath?: string;
}

/** What Polly passes to the catalog when it creates a volume that does not exist yet. */
export interface VolumeCreateSpec {
  size?: number;
  type?: string;
  iops?: number;
  fsType?: string;
  encrypted?: boolean;
  profile?: string;
  /** Backend options (libStorage `opts`); never secrets. */
  fields?: Record<string, string>;
}

/** A volume Polly manages: claimed, attached and fenced for each task. */
export interface ExternalVolumeSpec {
  containerPath: string;
  mode: 'RW' | 'RO';
  external: {
    /** `{{instance}}` renders per instance. */
    name: string;
    provider: 'dvdi' | 'polly';
    size?: number;
    options?: Record<string, string>;
    shared?: boolean;
  };
  /** The storage service it lives on (resolved when the app was accepted). */
  service?: string;
  create?: VolumeCreateSpec;
  /** Where it came from when not `container.volumes` (Docker parameters, DVDI_VOLUME_* env). */
  from?: string;
}

/** A path of the agent's host, passed through as a HOST_PATH volume (no claim: not Polly's). */
export interface HostVolumeSpec {
  containerPath: string;
  mode: 'RW' | 'RO';
  hostPath: string;
}

export type AppVolumeSpec = ExternalVolumeSpec | HostVolumeSpec;

export interface DockerSpec {
  image: string;
  forcePullImage?: boolean;
  privileged?: boolean;
  parameters?: Array<{ key: string; value: string }>;
  credential?: { principal: string; secret?: string };
}

export interface AppContainerSpec {
  type: 'MESOS' | 'DOCKER';
  docker?: DockerSpec;
  volumes: AppVolumeSpec[];
  portMappings?: PortMappingSpec[];
  linuxInfo?: { seccomp?: { profileName?: string; unconfined?: boolean }; ipcInfo?: { mode: 'PRIVATE' | 'SHARE_PARENT'; shmSize?: number } };
}

export type UnreachableStrategySpec = 'disabled' | { inactiveAfterSeconds: number; expungeAfterSeconds: number };

export interface AppSpec {
  id: string;
  cmd?: string;
  args?: string[];
  cpus: number;
  mem: number;
  disk: number;
  gpus?: number;
  instances: number;
  env?: Record<string, string>;
  labels?: Record<string, string>;
  constraints?: Constraint[];
  container?: AppContainerSpec;
  /** Absent in records older than this field: host networking. */
  networks?: NetworkSpec[];
  /** Host ports (host networking); absent in older records: none. */
  portDefinitions?: PortDefinitionSpec[];
  requirePorts?: boolean;
  healthChecks?: HealthCheckSpec[];
  fetch?: ArtifactSpec[];
  user?: string;
  /** `{}` pins each instance to its agent through a labelled dynamic reservation. */
  residency?: Record<string, unknown>;
  upgradeStrategy?: { minimumHealthCapacity?: number; maximumOverCapacity?: number };
  unreachableStrategy?: UnreachableStrategySpec;
  killSelection?: 'YOUNGEST_FIRST' | 'OLDEST_FIRST';
  backoffSeconds?: number;
  backoffFactor?: number;
  maxLaunchDelaySeconds?: number;
  acceptedResourceRoles?: string[];
  role?: string;
  taskKillGracePeriodSeconds?: number;
  resourceLimits?: { cpus?: number | 'unlimited'; mem?: number | 'unlimited' };
  tty?: boolean;
}

/** The result of accepting an app definition. */
export interface ParsedApp {
  spec: AppSpec;
  /** Fields accepted but not (or not fully) honoured, each naming the field; safe to ignore. */
  warnings: string[];
}

export function isExternalVolume(volume: AppVolumeSpec): volume is ExternalVolumeSpec {
  return (volume as ExternalVolumeSpec).external !== undefined;
}

/** The volumes Polly manages (claims, fencing) of an app. */
export function managedVolumes(spec: AppSpec): ExternalVolumeSpec[] {
  return (spec.container?.volumes ?? []).filter(isExternalVolume);
}

/** Normalises an app ID: Marathon writes `/group/app`, Polly stores `group/app`. */
export function normaliseAppId(id: string): string {
  return id.startsWith('/') ? id.slice(1) : id;
}

/** Throws ValidationError unless `id` is an app ID; returns it normalised. */
export function checkAppId(id: unknown): string {
  if (typeof id !== 'string' || id.length > 200 || !APP_ID_PATTERN.test(id)) {
    throw ValidationError.field('id', `Invalid app ID ${JSON.stringify(String(id).slice(0, 100))}`);
  }
  return normaliseAppId(id);
}

/** The volume name for instance `i` (per-instance volumes use `{{instance}}`). */
export function volumeNameFor(volume: Pick<ExternalVolumeSpec, 'external'>, instance: number): string {
  return volume.external.name.split(INSTANCE_PLACEHOLDER).join(String(instance));
}

/** Why `instances` instances of the app cannot run (several sharing one RW volume), or undefined. */
export function instancesProblem(spec: AppSpec, instances: number): { field: string; message: string } | undefined {
  if (instances <= 1) return undefined;
  for (const [i, volume] of (spec.container?.volumes ?? []).entries()) {
    if (!isExternalVolume(volume) || volume.mode !== 'RW' || volume.external.name.includes(INSTANCE_PLACEHOLDER)) continue;
    const where = volume.from ?? `container.volumes[${i}].external.name`;
    return { field: where, message: `${where}: ${instances} instances cannot share one RW volume; use ${INSTANCE_PLACEHOLDER} in the name` };
  }
  return undefined;
}

/** Validates a Marathon app definition and turns it into an AppSpec (see the file comment). Never mutates `body`. */
export function parseAppDefinition(body: unknown, context: AppDefinitionContext = DEFAULT_DEFINITION_CONTEXT): ParsedApp {
  return normaliseAppDefinition(body, context);
}

/** parseAppDefinition's spec alone (tests, benchmarks). */
export function parseAppSpec(body: unknown, context: AppDefinitionContext = DEFAULT_DEFINITION_CONTEXT): AppSpec {
  return parseAppDefinition(body, context).spec;
}
