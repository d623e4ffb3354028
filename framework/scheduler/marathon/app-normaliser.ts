/**
 * A Marathon app definition → Polly's AppSpec, the way Marathon normalises it (AppNormalization):
 * defaults filled in (cpus 1, mem 128, one port on host networking, Marathon's health check and
 * backoff defaults), deprecated fields migrated (`ports` → `portDefinitions`, `uris` → `fetch`,
 * `docker.network` / `ipAddress` → `networks`, `docker.portMappings` → `container.portMappings`,
 * `container.type` DOCKER when only `docker` is given), every storage style gathered into managed
 * volumes (volume-styles.ts).
 *
 * Everything is checked before anything is refused: the schema with every problem at once (ajv
 * `allErrors`, each with its JSON path), then what the schema cannot say (400, all at once), then
 * what Polly cannot honour safely (422, naming each field). Fields accepted without being honoured
 * come back as warnings. What each top-level field gets is app-definition-fields.ts's table.
 */
import Ajv, { type ErrorObject } from 'ajv';
import type {
  AppContainerSpec,
  AppSpec,
  ArtifactSpec,
  HealthCheckSpec,
  NetworkSpec,
  ParsedApp,
  PortDefinitionSpec,
  PortMappingSpec,
  PortProtocol,
} from '../app-spec';
import { APP_ID_PATTERN, MAX_VOLUMES_PER_APP, instancesProblem, isExternalVolume, normaliseAppId } from '../app-spec';
import { constraintProblem, type Constraint } from '../constraints';
import { DEFAULT_BACKOFF_FACTOR, DEFAULT_BACKOFF_SECONDS, DEFAULT_MAX_LAUNCH_DELAY_SECONDS } from '../launch-backoff';
import { AppDefinitionSchema, withoutNulls, type AppDefinition, type MarathonHealthCheck, type MarathonPortMapping } from './app-definition-schema';
import { Findings, invalid, type Problem } from './findings';
import type { ServiceInfo } from './volume-options';
import { gatherVolumes } from './volume-styles';

/** What accepting an app depends on: the storage services, the driver map and Polly's roles. */
export interface AppDefinitionContext {
  services: ServiceInfo[];
  /** Docker volume driver name → storage service (`scheduler.volumeDrivers`). */
  volumeDrivers: Record<string, string>;
  /** The roles Polly's framework subscribes with (`mesos.roles`). */
  roles: string[];
}

/** A laptop's defaults: one vfs service `local`, REX-Ray's and Polly's Docker volume drivers on it, role `polly`. */
export const DEFAULT_DEFINITION_CONTEXT: AppDefinitionContext = {
  services: [{ name: 'local', driver: 'vfs', profiles: ['default'] }],
  volumeDrivers: { rexray: 'local', polly: 'local' },
  roles: ['polly'],
};

/** Marathon's health check defaults (healthCheck.raml). */
const HEALTH_DEFAULTS = { gracePeriodSeconds: 300, intervalSeconds: 60, timeoutSeconds: 20, maxConsecutiveFailures: 3, delaySeconds: 15 };
/** Marathon's upgrade strategy defaults. */
const UPGRADE_DEFAULTS = { minimumHealthCapacity: 1, maximumOverCapacity: 1 };
/** Archives the Mesos fetcher extracts (FetchUri.isExtract). */
const ARCHIVE = /\.(tgz|tar\.gz|tbz2|tar\.bz2|txz|tar\.xz|zip)$/i;

const ajv = new Ajv({ allErrors: true, strict: false, useDefaults: false, verbose: true });
const validate = ajv.compile<AppDefinition>(AppDefinitionSchema);

/** `/container/volumes/0/external/name` → `container.volumes[0].external.name`. */
function pathOf(error: ErrorObject): string {
  let out = '';
  for (const raw of error.instancePath.split('/').slice(1)) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(part) ? `[${part}]` : out ? `.${part}` : part;
  }
  const params = error.params as { missingProperty?: string; additionalProperty?: string };
  const extra = error.keyword === 'required' ? params.missingProperty : error.keyword === 'additionalProperties' ? params.additionalProperty : undefined;
  if (extra !== undefined) out = out ? `${out}.${extra}` : extra;
  return out || '(body)';
}

function schemaProblems(errors: ErrorObject[]): Problem[] {
  const out: Problem[] = [];
  const seen = new Set<string>();
  // A union reports each branch; the branch errors under one path say the same thing once.
  for (const error of errors) {
    const field = pathOf(error);
    let message: string;
    switch (error.keyword) {
      case 'required':
        message = `${field} is required`;
        break;
      case 'additionalProperties':
        message = field.includes('.') || field.includes('[') ? `${field} is not a field Marathon knows here` : `${field} is not a Marathon app field`;
        break;
      case 'anyOf': {
        const branches = Array.isArray(error.schema) ? (error.schema as Array<{ const?: unknown }>) : [];
        const values = branches.map((b) => b.const);
        message =
          values.length > 0 && values.every((v) => typeof v === 'string')
            ? `${field} must be one of ${values.join(', ')}`
            : `${field} does not match any form Marathon accepts`;
        break;
      }
      case 'const':
        continue; // a union branch: anyOf says it
      default:
        message = `${field} ${error.message ?? 'is invalid'}`;
    }
    const key = `${field}\u0000${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ field, message });
  }
  // A union's mismatch is reported once, by the deepest message when there is one.
  return out.filter((p) => !(p.message.endsWith('does not match any form Marathon accepts') && out.some((q) => q !== p && q.field.startsWith(p.field) && q.field !== p.field)));
}

/** Validates and normalises a Marathon app definition (see the file comment). Never mutates `body`. */
export function normaliseAppDefinition(body: unknown, context: AppDefinitionContext): ParsedApp {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid([{ field: '(body)', message: 'The app definition must be a JSON object' }]);
  const clean = withoutNulls(structuredClone(body));
  if (!validate(clean)) throw invalid(schemaProblems(validate.errors ?? []));
  const app = clean as AppDefinition;
  const f = new Findings();
  const spec = normalise(app, context, f);
  f.throwIfAny();
  return { spec, warnings: f.warnings };
}

function normalise(app: AppDefinition, context: AppDefinitionContext, f: Findings): AppSpec {
  if (!APP_ID_PATTERN.test(app.id)) f.problem('id', "must be an app ID like /group/app (lower-case letters, digits, '-', '.')");
  const spec: AppSpec = {
    id: normaliseAppId(app.id),
    cpus: app.cpus ?? 1,
    mem: app.mem ?? 128,
    disk: app.disk ?? 0,
    instances: app.instances ?? 1,
  };
  command(app, spec, f);
  resources(app, spec, f);
  const containerType = app.container ? (app.container.type ?? (app.container.docker ? 'DOCKER' : 'MESOS')) : undefined;
  const env = environment(app, f);
  const gathered = gatherVolumes(
    { volumes: app.container?.volumes ?? [], parameters: app.container?.docker?.parameters ?? [], env, containerType: containerType ?? 'MESOS' },
    context,
    f,
  );
  if (Object.keys(gathered.env).length > 0) spec.env = gathered.env;
  if (app.labels && Object.keys(app.labels).length > 0) spec.labels = { ...app.labels };
  constraints(app, spec, f);
  const networks = networking(app, containerType, f);
  spec.networks = networks;
  container(app, containerType, gathered, networks, spec, f);
  ports(app, networks, spec, f);
  healthChecks(app, spec, f);
  fetch(app, spec, f);
  if (app.user !== undefined && app.user !== '') spec.user = app.user;
  policies(app, spec, f);
  roles(app, context, spec, f);
  ignored(app, f);
  volumesTogether(spec, f);
  return spec;
}

function command(app: AppDefinition, spec: AppSpec, f: Findings): void {
  const hasArgs = app.args !== undefined && app.args.length > 0;
  if (app.cmd !== undefined && hasArgs) f.problem('cmd', 'cmd and args cannot both be given (Marathon runs one or the other)');
  if (app.cmd !== undefined) spec.cmd = app.cmd;
  if (hasArgs) spec.args = [...app.args!];
  if (app.cmd === undefined && !hasArgs && !app.container?.docker?.image) f.problem('cmd', 'an app needs cmd, args or a container image');
  if (app.executor !== undefined && app.executor !== '' && app.executor !== '//cmd') {
    f.unsupported('executor', `custom executors are not supported: Polly launches command tasks (executor "" or "//cmd")`);
  }
}

function resources(app: AppDefinition, spec: AppSpec, f: Findings): void {
  if ((app.gpus ?? 0) > 0) f.unsupported('gpus', 'Polly does not schedule GPUs; ignoring them would start the task without the GPUs it needs');
  if (app.resourceLimits) {
    const limits: NonNullable<AppSpec['resourceLimits']> = {};
    for (const key of ['cpus', 'mem'] as const) {
      const limit = app.resourceLimits[key];
      if (limit === undefined) continue;
      if (limit !== 'unlimited' && limit < spec[key]) f.problem(`resourceLimits.${key}`, `must be at least ${key} (${spec[key]})`);
      limits[key] = limit;
    }
    if (Object.keys(limits).length > 0) spec.resourceLimits = limits;
  }
}

function environment(app: AppDefinition, f: Findings): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(app.env ?? {})) {
    if (typeof value !== 'string') {
      f.unsupported(`env.${name}`, 'environment variables from secrets need a secret store, which Polly does not have');
      continue;
    }
    if (name === '__proto__') {
      f.problem(`env.${name}`, 'is not a usable variable name');
      continue;
    }
    env[name] = value;
  }
  return env;
}

/** Array form `[field, OP, value?]` or string form `"field:OP[:value]"` (the value may hold colons). */
function constraints(app: AppDefinition, spec: AppSpec, f: Findings): void {
  const out: Constraint[] = [];
  (app.constraints ?? []).forEach((c, i) => {
    let parts: string[];
    if (typeof c === 'string') {
      const first = c.indexOf(':');
      const second = first < 0 ? -1 : c.indexOf(':', first + 1);
      parts = first < 0 ? [c] : second < 0 ? [c.slice(0, first), c.slice(first + 1)] : [c.slice(0, first), c.slice(first + 1, second), c.slice(second + 1)];
      if (parts.length < 2) {
        f.problem(`constraints[${i}]`, 'the string form is "field:OPERATOR[:value]"');
        return;
      }
    } else parts = c;
    const constraint = (parts.length === 2 ? [parts[0], parts[1]] : [parts[0], parts[1], parts[2]]) as Constraint;
    const problem = constraintProblem(constraint);
    if (problem) f.problem(`constraints[${i}]`, problem);
    else out.push(constraint);
  });
  if (out.length > 0) spec.constraints = out;
}

function networking(app: AppDefinition, containerType: 'MESOS' | 'DOCKER' | undefined, f: Findings): NetworkSpec[] {
  const given = app.networks ?? [];
  const dockerNetwork = app.container?.docker?.network;
  let networks: NetworkSpec[];
  if (app.ipAddress) {
    if (given.length > 0) f.problem('ipAddress', 'ipAddress (deprecated) and networks cannot both be given');
    networks = [{ mode: 'container', ...(app.ipAddress.networkName ? { name: app.ipAddress.networkName } : {}), ...(app.ipAddress.labels ? { labels: { ...app.ipAddress.labels } } : {}) }];
  } else if (given.length > 0) {
    if (dockerNetwork !== undefined) f.problem('container.docker.network', 'docker.network (deprecated) and networks cannot both be given');
    networks = given.map((n) => ({ mode: n.mode ?? 'container', ...(n.name ? { name: n.name } : {}), ...(n.labels ? { labels: { ...n.labels } } : {}) }));
  } else if (dockerNetwork === 'BRIDGE') networks = [{ mode: 'container/bridge' }];
  else if (dockerNetwork === 'USER') networks = [{ mode: 'container' }];
  else if (dockerNetwork === 'NONE') {
    f.unsupported('container.docker.network', 'network NONE is not supported (use host networking, container/bridge or a named container network)');
    networks = [{ mode: 'host' }];
  } else networks = [{ mode: 'host' }];
  if (networks.length > 1) {
    if (networks.some((n) => n.mode !== 'container')) f.problem('networks', 'host and container/bridge networking cannot be combined with another network');
    else f.unsupported('networks', 'Polly joins a task to one container network; several are not supported');
  }
  networks.forEach((n, i) => {
    if (n.mode === 'host' && n.name !== undefined) f.problem(`networks[${i}].name`, 'host networking takes no name');
    if (n.mode === 'container' && n.name === undefined) f.problem(`networks[${i}].name`, 'a container network needs a name (the CNI network to join)');
  });
  return networks;
}

function container(
  app: AppDefinition,
  containerType: 'MESOS' | 'DOCKER' | undefined,
  gathered: ReturnType<typeof gatherVolumes>,
  networks: NetworkSpec[],
  spec: AppSpec,
  f: Findings,
): void {
  const c = app.container;
  const nonHost = networks.some((n) => n.mode !== 'host');
  // Non-host networking (or volumes from the environment) need a container: an empty MESOS one.
  if (!c && !nonHost && gathered.managed.length === 0) return;
  const type = containerType ?? 'MESOS';
  const out: AppContainerSpec = { type, volumes: [...gathered.managed, ...gathered.host] };
  const docker = c?.docker;
  if (type === 'DOCKER' && !docker) f.problem('container.docker', 'a DOCKER container needs docker.image');
  if (docker) {
    out.docker = { image: docker.image };
    if (docker.forcePullImage !== undefined) out.docker.forcePullImage = docker.forcePullImage;
    if (docker.privileged) {
      if (type === 'MESOS') f.unsupported('container.docker.privileged', 'privileged runs only with the Docker containerizer (container.type DOCKER), as in Marathon');
      else out.docker.privileged = true;
    }
    if (docker.pullConfig) f.unsupported('container.docker.pullConfig', 'a pull config is a secret, and Polly has no secret store');
    if (docker.credential) {
      if (type === 'MESOS') out.docker.credential = { ...docker.credential };
      else f.warn('container.docker.credential', 'used only by the Mesos containerizer (as in Marathon); the Docker containerizer takes registry credentials from the agent');
    }
    gathered.parameters.forEach((p) => {
      if (p.key === 'name') f.problem('container.docker.parameters', 'a parameter named "name" is refused by Mesos (the Docker containerizer names containers itself)');
    });
    if (gathered.parameters.length > 0) {
      if (type === 'DOCKER') out.docker.parameters = gathered.parameters.map((p) => ({ ...p }));
      else f.warn('container.docker.parameters', `Docker CLI parameters mean nothing to the Mesos containerizer; ignored: ${gathered.parameters.map((p) => p.key).join(', ')}`);
    }
  }
  if (c?.linuxInfo) out.linuxInfo = structuredClone(c.linuxInfo);
  // Port mappings: container.portMappings, or the deprecated docker.portMappings.
  let mappings: MarathonPortMapping[] | undefined = c?.portMappings;
  if (docker?.portMappings !== undefined) {
    if (mappings !== undefined && mappings.length > 0 && docker.portMappings.length > 0) f.problem('container.docker.portMappings', 'cannot be given with container.portMappings');
    else mappings = docker.portMappings;
  }
  if (app.ipAddress?.discovery?.ports && app.ipAddress.discovery.ports.length > 0) {
    if (mappings !== undefined && mappings.length > 0) f.problem('ipAddress.discovery.ports', 'cannot be given with portMappings');
    else mappings = app.ipAddress.discovery.ports.map((p) => ({ containerPort: p.number ?? 0, name: p.name, protocol: p.protocol, labels: p.labels }));
  }
  if (nonHost) {
    const bridge = networks.some((n) => n.mode === 'container/bridge');
    const list = mappings ?? [{ containerPort: 0, name: 'default' }];
    out.portMappings = list.map((m) => {
      const pm: PortMappingSpec = { containerPort: m.containerPort ?? 0, protocol: protocolOf(m.protocol) };
      // In bridge mode a missing host port is 0 (any); on a container network it means none.
      if (m.hostPort !== undefined) pm.hostPort = m.hostPort;
      else if (bridge) pm.hostPort = 0;
      if (m.servicePort !== undefined) pm.servicePort = m.servicePort;
      if (m.name !== undefined) pm.name = m.name;
      if (m.labels) pm.labels = { ...m.labels };
      if (m.networkNames && m.networkNames.length > 0) pm.networkNames = [...m.networkNames];
      return pm;
    });
    uniqueNames(out.portMappings, 'container.portMappings', f);
  } else if (mappings !== undefined && mappings.length > 0) {
    f.warn('container.portMappings', 'port mappings apply to bridge and container networks; with host networking they are dropped (as Marathon does): use portDefinitions');
  }
  spec.container = out;
}

function protocolOf(protocol: string | undefined): PortProtocol {
  return (protocol as PortProtocol | undefined) ?? 'tcp';
}

function uniqueNames(list: Array<{ name?: string }>, where: string, f: Findings): void {
  const seen = new Set<string>();
  list.forEach((p, i) => {
    if (p.name === undefined) return;
    if (seen.has(p.name)) f.problem(`${where}[${i}].name`, `port name ${JSON.stringify(p.name)} is used twice`);
    seen.add(p.name);
  });
}

function ports(app: AppDefinition, networks: NetworkSpec[], spec: AppSpec, f: Findings): void {
  const host = networks.every((n) => n.mode === 'host');
  if (app.ports !== undefined && app.portDefinitions !== undefined && app.ports.length > 0 && app.portDefinitions.length > 0) {
    f.problem('ports', 'ports (deprecated) and portDefinitions cannot both be given');
  }
  const given = app.portDefinitions ?? app.ports?.map((port) => ({ port }));
  if (!host) {
    if (given !== undefined && given.length > 0) f.warn('portDefinitions', 'apply to host networking only; with a container network use container.portMappings (dropped, as Marathon does)');
    spec.portDefinitions = [];
    spec.requirePorts = false;
    return;
  }
  const list: PortDefinitionSpec[] = (given ?? [{ port: 0, name: 'default' }]).map((d) => {
    const pd: PortDefinitionSpec = { port: d.port ?? 0, protocol: protocolOf((d as { protocol?: string }).protocol) };
    const named = d as { name?: string; labels?: Record<string, string> };
    if (named.name !== undefined) pd.name = named.name;
    if (named.labels) pd.labels = { ...named.labels };
    return pd;
  });
  uniqueNames(list, 'portDefinitions', f);
  spec.portDefinitions = list;
  spec.requirePorts = app.requirePorts ?? false;
  if (spec.requirePorts) {
    const seen = new Set<number>();
    list.forEach((p, i) => {
      if (p.port === 0) f.problem(`portDefinitions[${i}].port`, 'requirePorts needs a fixed port (not 0)');
      else if (seen.has(p.port)) f.problem(`portDefinitions[${i}].port`, `port ${p.port} is asked for twice`);
      seen.add(p.port);
    });
  }
}

/** How many ports a task gets (host ports, or container port mappings). */
function portCount(spec: AppSpec): number {
  return spec.container?.portMappings?.length ?? spec.portDefinitions?.length ?? 0;
}

function healthChecks(app: AppDefinition, spec: AppSpec, f: Findings): void {
  const checks = app.healthChecks ?? [];
  const count = portCount(spec);
  const out: HealthCheckSpec[] = [];
  checks.forEach((hc: MarathonHealthCheck, i) => {
    const where = `healthChecks[${i}]`;
    const protocol = (hc.protocol ?? 'HTTP') as HealthCheckSpec['protocol'];
    const check: HealthCheckSpec = {
      protocol,
      ipProtocol: hc.ipProtocol ?? 'IPv4',
      gracePeriodSeconds: hc.gracePeriodSeconds ?? HEALTH_DEFAULTS.gracePeriodSeconds,
      intervalSeconds: hc.intervalSeconds ?? HEALTH_DEFAULTS.intervalSeconds,
      timeoutSeconds: hc.timeoutSeconds ?? HEALTH_DEFAULTS.timeoutSeconds,
      delaySeconds: hc.delaySeconds ?? HEALTH_DEFAULTS.delaySeconds,
      maxConsecutiveFailures: hc.maxConsecutiveFailures ?? HEALTH_DEFAULTS.maxConsecutiveFailures,
    };
    if (protocol === 'COMMAND') {
      if (!hc.command?.value) f.problem(`${where}.command.value`, 'a COMMAND health check needs command.value');
      else check.command = { value: hc.command.value };
    } else {
      if (hc.command) f.problem(`${where}.command`, `only COMMAND health checks take a command (this one is ${protocol})`);
      if (hc.port !== undefined && hc.portIndex !== undefined) f.problem(`${where}.port`, 'give port or portIndex, not both');
      if (hc.port !== undefined) check.port = hc.port;
      else {
        check.portIndex = hc.portIndex ?? 0;
        if (check.portIndex >= count) f.problem(`${where}.portIndex`, `there is no port ${check.portIndex}: the app has ${count} port${count === 1 ? '' : 's'}`);
      }
    }
    if (protocol.endsWith('HTTP') || protocol.endsWith('HTTPS')) {
      const path = hc.path ?? '/';
      if (!path.startsWith('/')) f.problem(`${where}.path`, 'must start with "/" (Mesos refuses it otherwise)');
      check.path = path;
    } else if (hc.path !== undefined) f.problem(`${where}.path`, `only HTTP health checks take a path (this one is ${protocol})`);
    if (hc.ignoreHttp1xx) {
      check.ignoreHttp1xx = true;
      f.warn(`${where}.ignoreHttp1xx`, 'Mesos health checks count 1xx answers as failures; not honoured');
    }
    if (i > 0) f.warn(where, 'Mesos runs one health check per task: only healthChecks[0] is run');
    out.push(check);
  });
  if (out.length > 0) spec.healthChecks = out;
}

function fetch(app: AppDefinition, spec: AppSpec, f: Findings): void {
  const uris = app.uris ?? [];
  const artifacts = app.fetch ?? [];
  if (uris.length > 0 && artifacts.length > 0) f.problem('uris', 'uris (deprecated) and fetch cannot both be given');
  const list: ArtifactSpec[] =
    artifacts.length > 0
      ? artifacts.map((a) => ({ uri: a.uri, extract: a.extract ?? true, executable: a.executable ?? false, cache: a.cache ?? false, ...(a.destPath ? { destPath: a.destPath } : {}) }))
      : uris.map((uri) => ({ uri, extract: ARCHIVE.test(uri), executable: false, cache: false }));
  list.forEach((a, i) => {
    if (a.destPath !== undefined && (a.destPath.startsWith('/') || a.destPath.split('/').includes('..'))) f.problem(`fetch[${i}].destPath`, 'must be a path inside the sandbox (relative, without "..")');
  });
  if (list.length > 0) spec.fetch = list;
}

function policies(app: AppDefinition, spec: AppSpec, f: Findings): void {
  spec.backoffSeconds = app.backoffSeconds ?? DEFAULT_BACKOFF_SECONDS;
  spec.backoffFactor = app.backoffFactor ?? DEFAULT_BACKOFF_FACTOR;
  spec.maxLaunchDelaySeconds = app.maxLaunchDelaySeconds ?? DEFAULT_MAX_LAUNCH_DELAY_SECONDS;
  spec.killSelection = app.killSelection ?? 'YOUNGEST_FIRST';
  spec.upgradeStrategy = { ...UPGRADE_DEFAULTS, ...(app.upgradeStrategy ?? {}) };
  const unreachable = app.unreachableStrategy;
  if (unreachable === 'disabled') spec.unreachableStrategy = 'disabled';
  else {
    const inactive = unreachable?.inactiveAfterSeconds ?? 0;
    const expunge = unreachable?.expungeAfterSeconds ?? 0;
    if (inactive > expunge) f.problem('unreachableStrategy.inactiveAfterSeconds', 'must not be more than expungeAfterSeconds');
    spec.unreachableStrategy = { inactiveAfterSeconds: inactive, expungeAfterSeconds: expunge };
  }
  if (app.taskKillGracePeriodSeconds !== undefined) spec.taskKillGracePeriodSeconds = app.taskKillGracePeriodSeconds;
  if (app.tty) spec.tty = true;
  if (app.residency !== undefined) spec.residency = {};
  const rw = (spec.container?.volumes ?? []).some((v) => isExternalVolume(v) && v.mode === 'RW');
  if (rw && app.upgradeStrategy?.maximumOverCapacity !== undefined && app.upgradeStrategy.maximumOverCapacity > 0) {
    f.warn('upgradeStrategy.maximumOverCapacity', 'an instance with an RW volume is replaced stop-first: its old task ends before the new one claims the volume (a volume has one writer)');
  }
  if (rw && typeof unreachable === 'object' && unreachable !== null) {
    f.warn('unreachableStrategy', 'an instance with an RW volume is replaced only once Mesos says its unreachable task is gone: the task may still be writing');
  }
}

function roles(app: AppDefinition, context: AppDefinitionContext, spec: AppSpec, f: Findings): void {
  const mine = context.roles;
  if (app.role !== undefined && app.role !== '*') {
    if (!mine.includes(app.role)) f.unsupported('role', `Polly subscribes with role${mine.length === 1 ? '' : 's'} ${mine.join(', ')}; role ${JSON.stringify(app.role)} gets it no offers (set mesos.roles, or drop role)`);
    else spec.role = app.role;
  }
  const accepted = app.acceptedResourceRoles;
  if (accepted !== undefined && accepted.length > 0) {
    const usable = accepted.filter((r) => r === '*' || mine.includes(r));
    const unusable = accepted.filter((r) => r !== '*' && !mine.includes(r));
    if (usable.length === 0) {
      f.unsupported('acceptedResourceRoles', `none of ${accepted.join(', ')} is a role Polly gets offers for ("*" for unreserved resources, or ${mine.join(', ')})`);
    } else {
      if (unusable.length > 0) f.warn('acceptedResourceRoles', `Polly gets no offers for ${unusable.join(', ')}; only ${usable.join(', ')} are used`);
      spec.acceptedResourceRoles = usable;
    }
  }
}

/** Fields accepted without effect: warn about those that would have one on Marathon. */
function ignored(app: AppDefinition, f: Findings): void {
  if (app.secrets && Object.keys(app.secrets).length > 0) f.unsupported('secrets', 'secrets need a secret store, which Polly does not have');
  if (app.readinessChecks && app.readinessChecks.length > 0) f.warn('readinessChecks', "Polly's rolling updates wait for tasks to run (and be healthy), not for readiness checks; not honoured");
  if (app.dependencies && app.dependencies.length > 0) f.warn('dependencies', 'Polly starts apps independently (no deployment order); not honoured');
  if (app.storeUrls && app.storeUrls.length > 0) f.warn('storeUrls', "Polly has no artifact store: these URLs are not fetched (use fetch); not honoured");
  if (app.check) f.warn('check', 'Mesos checks are not run by Polly (use healthChecks); not honoured');
  if (app.executorResources) f.warn('executorResources', 'command tasks have no separate executor resources; not honoured');
}

function volumesTogether(spec: AppSpec, f: Findings): void {
  const volumes = spec.container?.volumes ?? [];
  if (volumes.length > MAX_VOLUMES_PER_APP) f.problem('container.volumes', `an app may have at most ${MAX_VOLUMES_PER_APP} volumes`);
  const paths = new Map<string, string>();
  volumes.forEach((v, i) => {
    const where = isExternalVolume(v) && v.from ? v.from : `container.volumes[${i}]`;
    if (v.containerPath.split('/').includes('..')) f.problem(`${where}.containerPath`, 'must not contain ".."');
    if (paths.has(v.containerPath)) f.problem(`${where}.containerPath`, `is used twice (also by ${paths.get(v.containerPath)})`);
    paths.set(v.containerPath, where);
  });
  const names = new Map<string, string>();
  volumes.forEach((v, i) => {
    if (!isExternalVolume(v)) return;
    const key = `${v.service ?? ''}\u0000${v.external.name.toLowerCase()}`;
    const where = v.from ?? `container.volumes[${i}]`;
    if (names.has(key)) f.problem(`${where}.external.name`, `volume ${v.external.name} is declared twice (also by ${names.get(key)})`);
    names.set(key, where);
  });
  const shared = instancesProblem(spec, spec.instances);
  if (shared) f.problem(shared.field, shared.message);
}
