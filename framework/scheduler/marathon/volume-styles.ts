/**
 * Every way a Marathon app asks for storage, gathered into one list of managed volumes:
 *
 * 1. `container.volumes[].external` with `provider: dvdi` and `options["dvdi/driver"]`;
 * 2. `container.volumes[].external` with `provider: polly` (`options.service`, `options.profile`, ...);
 * 3. Docker CLI parameters: `volume-driver` with `volume` `name:/path[:ro]` (REX-Ray's documented way);
 * 4. the legacy mesos-module-dvdi environment: `DVDI_VOLUME_NAME[1-9]`, `DVDI_VOLUME_DRIVER[n]`
 *    (default rexray), `DVDI_VOLUME_OPTS[n]` and `DVDI_VOLUME_CONTAINERPATH[n]`.
 *
 * Each becomes a volume Polly claims, attaches and fences, on the storage service its driver maps
 * to (`scheduler.volumeDrivers`, or a service serving that Docker volume driver); the parameters and
 * variables that asked for it are removed from what the task gets, so nothing on the agent mounts it
 * a second time. Host paths (`hostPath`, a `volume` parameter naming an absolute host path) are
 * passed through as HOST_PATH volumes without a claim. Marathon local persistent volumes and secret
 * volumes are refused (422), saying what to use instead.
 */
import { nameProblem } from '../../../drivers/name-rules';
import { INSTANCE_PLACEHOLDER, type ExternalVolumeSpec, type HostVolumeSpec } from '../app-spec';
import type { MarathonVolume } from './app-definition-schema';
import type { Findings } from './findings';
import { createOptions, isInlineSpec, parseInlineSpec, type ServiceInfo } from './volume-options';

export interface VolumeContext {
  services: ServiceInfo[];
  /** Docker volume driver name → storage service (`scheduler.volumeDrivers`). */
  volumeDrivers: Record<string, string>;
}

/** A managed volume as the app asked for it, before its service and options are resolved. */
interface VolumeRequest {
  /** The field it came from, for messages. */
  where: string;
  /** Where the name is (for name problems). */
  nameField: string;
  /** Where option `key` was written (for messages). */
  optionField: (key: string) => string;
  /** Set when not from `container.volumes` (shown on the stored volume). */
  from?: string;
  containerPath: string;
  mode: 'RW' | 'RO';
  name: string;
  provider: 'dvdi' | 'polly';
  size?: number;
  options: Record<string, string>;
  shared?: boolean;
}

export interface GatheredVolumes {
  managed: ExternalVolumeSpec[];
  host: HostVolumeSpec[];
  /** Docker parameters left for the task (the storage ones removed). */
  parameters: Array<{ key: string; value: string }>;
  /** Environment left for the task (DVDI_VOLUME_* removed). */
  env: Record<string, string>;
}

const DVDI_ENV = /^DVDI_VOLUME_(NAME|DRIVER|OPTS|CONTAINERPATH)([1-9]?)$/;
/** Where mesos-module-dvdi mounted a volume when no container path was given. */
const DVDI_DEFAULT_MOUNT = '/var/lib/rexray/volumes';

export function gatherVolumes(
  input: { volumes: MarathonVolume[]; parameters: Array<{ key: string; value: string }>; env: Record<string, string>; containerType: 'MESOS' | 'DOCKER' },
  context: VolumeContext,
  findings: Findings,
): GatheredVolumes {
  const requests: VolumeRequest[] = [];
  const host: HostVolumeSpec[] = [];
  input.volumes.forEach((v, i) => fromContainerVolume(v, `container.volumes[${i}]`, requests, host, findings));
  const parameters = fromDockerParameters(input.parameters, requests, host, findings);
  const env = fromDvdiEnv(input.env, requests, findings);
  const managed: ExternalVolumeSpec[] = [];
  for (const request of requests) {
    const volume = resolve(request, context, findings);
    if (volume) managed.push(volume);
  }
  return { managed, host, parameters, env };
}

function fromContainerVolume(v: MarathonVolume, where: string, requests: VolumeRequest[], host: HostVolumeSpec[], findings: Findings): void {
  const kinds = (['external', 'hostPath', 'persistent', 'secret'] as const).filter((k) => v[k] !== undefined);
  if (kinds.length !== 1) {
    findings.problem(where, kinds.length === 0 ? 'a volume needs one of external, hostPath, persistent or secret' : `a volume has one of external, hostPath, persistent or secret, not ${kinds.join(' and ')}`);
    return;
  }
  const mode = v.mode ?? 'RW';
  if (v.persistent) {
    findings.unsupported(
      `${where}.persistent`,
      'Marathon local persistent volumes are not supported: Polly manages external volumes. Use external {"provider": "polly", "name": ..., "options": {"service": ...}} (add "residency": {} to keep each instance on its agent)',
    );
    return;
  }
  if (v.secret !== undefined) {
    findings.unsupported(`${where}.secret`, 'secret volumes need a secret store, which Polly does not have');
    return;
  }
  if (v.hostPath !== undefined) {
    if (!v.hostPath.startsWith('/') || v.hostPath.split('/').includes('..')) findings.problem(`${where}.hostPath`, 'must be an absolute path without ".."');
    else host.push({ containerPath: v.containerPath, mode, hostPath: v.hostPath });
    return;
  }
  const external = v.external!;
  if (external.provider === undefined) {
    findings.problem(`${where}.external.provider`, 'is required (dvdi or polly)');
    return;
  }
  if (external.provider !== 'dvdi' && external.provider !== 'polly') {
    findings.unsupported(`${where}.external.provider`, `provider ${JSON.stringify(external.provider.slice(0, 40))} is not supported: use dvdi (with options["dvdi/driver"]) or polly`);
    return;
  }
  if (external.name === undefined || external.name === '') {
    findings.problem(`${where}.external.name`, 'is required');
    return;
  }
  const options = { ...(external.options ?? {}) };
  if (external.provider === 'dvdi' && !options['dvdi/driver']) {
    findings.problem(`${where}.external.options`, 'options["dvdi/driver"] is required for provider dvdi');
    return;
  }
  const request: VolumeRequest = {
    where: `${where}.external`,
    nameField: `${where}.external.name`,
    optionField: (key) => `${where}.external.options.${key}`,
    containerPath: v.containerPath, mode, name: external.name, provider: external.provider, options };
  if (external.size !== undefined) request.size = external.size;
  if (external.shared !== undefined) request.shared = external.shared;
  requests.push(request);
}

/** `volume-driver` + `volume` parameters (Docker's `--volume-driver`, `--volume name:/path[:ro]`). */
function fromDockerParameters(
  parameters: Array<{ key: string; value: string }>,
  requests: VolumeRequest[],
  host: HostVolumeSpec[],
  findings: Findings,
): Array<{ key: string; value: string }> {
  const drivers = parameters.map((p, i) => ({ ...p, i })).filter((p) => p.key === 'volume-driver');
  if (drivers.length > 1) findings.problem(`container.docker.parameters[${drivers[1].i}]`, 'volume-driver is given more than once (Docker takes one)');
  const driver = drivers[0]?.value.trim();
  const rest: Array<{ key: string; value: string }> = [];
  parameters.forEach((p, i) => {
    const where = `container.docker.parameters[${i}]`;
    if (p.key === 'volume-driver') return;
    if (p.key !== 'volume' && p.key !== 'v') {
      rest.push(p);
      return;
    }
    const parts = p.value.split(':');
    const [source, target, flags = ''] = parts;
    if (parts.length < 2 || parts.length > 3 || !source || !target) {
      findings.problem(`${where}.value`, 'a volume parameter is source:/container/path[:ro|rw]');
      return;
    }
    const mode = flags.split(',').includes('ro') ? 'RO' : 'RW';
    if (source.startsWith('/')) {
      if (source.split('/').includes('..')) findings.problem(`${where}.value`, 'a host path must not contain ".."');
      else host.push({ containerPath: target, mode, hostPath: source });
      return;
    }
    if (!driver) {
      findings.unsupported(
        `${where}.value`,
        'a named Docker volume without volume-driver lives on one agent only; Polly manages external volumes: add a volume-driver parameter or use container.volumes external',
      );
      return;
    }
    requests.push({
      where,
      nameField: `${where}.value`,
      optionField: (key) => `${where}.value (${key.replace(/^dvdi\//, '')})`,
      from: where,
      containerPath: target,
      mode,
      name: source,
      provider: 'dvdi',
      options: { 'dvdi/driver': driver },
    });
  });
  if (driver && !parameters.some((p) => p.key === 'volume' || p.key === 'v')) rest.push({ key: 'volume-driver', value: driver });
  return rest;
}

/** mesos-module-dvdi's variables: the volume Nth is DVDI_VOLUME_NAME{N} (N empty or 1-9). */
function fromDvdiEnv(env: Record<string, string>, requests: VolumeRequest[], findings: Findings): Record<string, string> {
  const rest: Record<string, string> = {};
  const groups = new Map<string, Partial<Record<'NAME' | 'DRIVER' | 'OPTS' | 'CONTAINERPATH', string>>>();
  for (const [key, value] of Object.entries(env)) {
    const m = DVDI_ENV.exec(key);
    if (!m) {
      rest[key] = value;
      continue;
    }
    const group = groups.get(m[2]) ?? {};
    group[m[1] as 'NAME' | 'DRIVER' | 'OPTS' | 'CONTAINERPATH'] = value;
    groups.set(m[2], group);
  }
  for (const [suffix, g] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
    const where = `env.DVDI_VOLUME_NAME${suffix}`;
    if (!g.NAME) {
      findings.problem(where, `is required with DVDI_VOLUME_*${suffix}`);
      continue;
    }
    const options: Record<string, string> = { 'dvdi/driver': (g.DRIVER ?? 'rexray').trim() };
    for (const part of (g.OPTS ?? '').split(',')) {
      if (part.trim() === '') continue;
      const eq = part.indexOf('=');
      if (eq <= 0) {
        findings.problem(`env.DVDI_VOLUME_OPTS${suffix}`, 'options are key=value pairs separated by commas');
        continue;
      }
      options[`dvdi/${part.slice(0, eq).trim()}`] = part.slice(eq + 1).trim();
    }
    const name = g.NAME.trim();
    requests.push({
      where: `env.DVDI_VOLUME_OPTS${suffix}`,
      nameField: where,
      optionField: (key) => (key === 'dvdi/driver' ? `env.DVDI_VOLUME_DRIVER${suffix}` : `env.DVDI_VOLUME_OPTS${suffix} (${key.replace(/^dvdi\//, '')})`),
      from: where,
      containerPath: g.CONTAINERPATH?.trim() || `${DVDI_DEFAULT_MOUNT}/${isInlineSpec(name) ? 'volume' : name}`,
      mode: 'RW',
      name,
      provider: 'dvdi',
      options,
    });
  }
  return rest;
}

/** The service a volume lives on: `options.service`, else its driver's (config map, or a service serving it). */
function serviceFor(request: VolumeRequest, context: VolumeContext, findings: Findings): ServiceInfo | undefined {
  const names = context.services.map((s) => s.name);
  const available = names.length > 0 ? names.join(', ') : '(none)';
  const explicit = request.options.service ?? request.options['polly/service'];
  if (explicit !== undefined) {
    const service = context.services.find((s) => s.name === explicit);
    if (!service) findings.unsupported(request.optionField('service'), `no storage service ${JSON.stringify(explicit.slice(0, 100))} (services: ${available})`);
    return service;
  }
  if (request.provider === 'polly') {
    if (context.services.length === 1) return context.services[0];
    findings.problem(request.optionField('service'), `is required: which storage service (services: ${available})`);
    return undefined;
  }
  const driver = request.options['dvdi/driver'];
  const mapped = Object.prototype.hasOwnProperty.call(context.volumeDrivers, driver) ? context.volumeDrivers[driver] : undefined;
  const service = mapped !== undefined ? context.services.find((s) => s.name === mapped) : context.services.find((s) => s.dockerVolumeDriver === driver);
  if (!service) {
    const why = mapped !== undefined ? `maps to service ${JSON.stringify(mapped)}, which does not exist` : 'has no storage service';
    const mappedDrivers = Object.keys(context.volumeDrivers);
    findings.unsupported(
      request.optionField('dvdi/driver'),
      `volume driver ${JSON.stringify(driver.slice(0, 100))} ${why}: map it in scheduler.volumeDrivers ` +
        `(mapped: ${mappedDrivers.length > 0 ? mappedDrivers.join(', ') : '(none)'}; services: ${available}), or set options.service`,
    );
  }
  return service;
}

function resolve(request: VolumeRequest, context: VolumeContext, findings: Findings): ExternalVolumeSpec | undefined {
  let name = request.name;
  let options = request.options;
  const inlineKeys = new Set<string>();
  if (isInlineSpec(name)) {
    const inline = parseInlineSpec(name);
    if (!inline.name) {
      // Never echo the spec: it may hold a secret.
      findings.problem(request.nameField, 'an inline volume spec (key=value,...) needs name=<volume name>');
      return undefined;
    }
    name = inline.name;
    delete inline.name;
    options = { ...options };
    for (const [key, value] of Object.entries(inline)) {
      const option = request.provider === 'dvdi' ? `dvdi/${key}` : key;
      options[option] = value;
      inlineKeys.add(option);
    }
  }
  const fieldOf = (key: string): string => (inlineKeys.has(key) ? `${request.nameField} (${key.replace(/^dvdi\//, '')})` : request.optionField(key));
  const problem = nameProblem(name.split(INSTANCE_PLACEHOLDER).join('0'));
  if (problem) {
    findings.problem(request.nameField, `invalid volume name: ${problem}`);
    return undefined;
  }
  const service = serviceFor(request, context, findings);
  if (service && options.profile !== undefined && !service.profiles.includes(options.profile)) {
    findings.problem(request.optionField('profile'), `service ${service.name} has no profile ${JSON.stringify(options.profile.slice(0, 64))} (profiles: ${service.profiles.join(', ')})`);
  }
  const { create, kept } = createOptions(options, service, fieldOf, findings);
  if (request.size !== undefined && request.size > 0) create.size = request.size;
  const volume: ExternalVolumeSpec = {
    containerPath: request.containerPath,
    mode: request.mode,
    external: { name, provider: request.provider, options: kept },
  };
  if (request.size !== undefined && request.size > 0) volume.external.size = request.size;
  if (request.shared !== undefined) volume.external.shared = request.shared;
  if (service) volume.service = service.name;
  if (Object.keys(create).length > 0) volume.create = create;
  if (request.from) volume.from = request.from;
  return volume;
}
