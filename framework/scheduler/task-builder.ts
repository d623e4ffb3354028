/**
 * Builds the TaskInfo of an app instance the way Marathon's TaskBuilder does for the command
 * executor, so a real master and agent run it as Marathon's would:
 *
 * - command: `cmd` through the shell, or `args` (the first as the executable unless an image has an
 *   entrypoint), `user`, `fetch` as CommandInfo URIs, and the environment Marathon gives tasks
 *   (MESOS_TASK_ID, MARATHON_APP_ID, MARATHON_APP_VERSION, MARATHON_APP_RESOURCE_*, MARATHON_APP_LABELS,
 *   HOST, PORT0..n, PORT_<port>, PORT_<NAME>, PORT, PORTS), then the app's own;
 * - container: DOCKER (Docker containerizer: image, network, port mappings, privileged, parameters,
 *   force pull) or MESOS (UCR: a Docker image when one is given, cached unless forcePullImage;
 *   NetworkInfos for bridge and container networks), linuxInfo, tty, and one volume per claimed
 *   volume — `hostPath` services as HOST_PATH, `dockerVolume` services as DOCKER_VOLUME, `csi`
 *   services as a CSI_VOLUME the agent's volume/csi isolator publishes (csi-volume-mapping.ts) —
 *   plus the app's host paths;
 * - the first health check as the Mesos HealthCheck (HTTP/HTTPS/TCP as their MESOS_ counterparts),
 *   the kill grace period, resource limits, DiscoveryInfo with the ports, and labels.
 *
 * Task labels carry the app, the instance and the volume names, so the Mesos UI shows them.
 */
import { mesos } from '../mesos/generated/mesos';
import type { AppSpec, HealthCheckSpec } from './app-spec';
import { isExternalVolume } from './app-spec';
import { csiTaskVolume, type CsiVolumeMount } from './csi-volume-mapping';

export const TASK_LABEL_APP = 'polly_app';
export const TASK_LABEL_INSTANCE = 'polly_instance';
export const TASK_LABEL_VOLUMES = 'polly_volumes';
/** Marathon's `--mesos_bridge_name` default: the CNI network of `container/bridge` under UCR. */
export const MESOS_BRIDGE_NAME = 'mesos-bridge';
/** Mesos has no "never kill" for a health check: Marathon's maxConsecutiveFailures 0 is this many. */
const NEVER = 4294967295;

/** How one claimed volume reaches the task. */
export type VolumeMount =
  | { containerPath: string; mode: 'RW' | 'RO'; name: string; kind: 'hostPath'; hostPath: string }
  | { containerPath: string; mode: 'RW' | 'RO'; name: string; kind: 'dockerVolume'; driver: string; volumeName: string }
  | CsiVolumeMount;

export interface TaskBuildInput {
  taskId: string;
  agentId: string;
  /** The agent's hostname (HOST). */
  hostname?: string;
  appId: string;
  instance: number;
  spec: AppSpec;
  /** The definition's version (MARATHON_APP_VERSION). */
  version?: string;
  resources: mesos.v1.IResource[];
  /** The host port of each port request (undefined where none was asked for). */
  hostPorts?: ReadonlyArray<number | undefined>;
  mounts: VolumeMount[];
}

const VolumeMode = mesos.v1.Volume.Mode;
const SourceType = mesos.v1.Volume.Source.Type;
const ContainerType = mesos.v1.ContainerInfo.Type;
const DockerNetwork = mesos.v1.ContainerInfo.DockerInfo.Network;
const VALUE = mesos.v1.Environment.Variable.Type.VALUE;

/** Task IDs: `<app with / as _>.<instance>.<unique>`, valid Mesos IDs, parseable back. */
export function makeTaskId(appId: string, instance: number, unique: string): string {
  return `${appId.replace(/\//g, '_')}.${instance}.${unique}`;
}

export function parseTaskId(taskId: string): { appId: string; instance: number } | undefined {
  const m = /^(.+)\.(\d+)\.([A-Za-z0-9-]+)$/.exec(taskId);
  if (!m) return undefined;
  return { appId: m[1].replace(/_/g, '/'), instance: Number(m[2]) };
}

/** The app's image, whichever containerizer runs it. */
function imageOf(spec: AppSpec): string | undefined {
  return spec.container?.docker?.image;
}

function nonHost(spec: AppSpec): boolean {
  return (spec.networks ?? []).some((n) => n.mode !== 'host');
}

/** Declared ports as Marathon's EnvironmentHelper sees them: container ports with mappings, else port definitions. */
function declaredPorts(spec: AppSpec): Array<{ name?: string; port: number }> {
  if (nonHost(spec)) return (spec.container?.portMappings ?? []).map((m) => ({ name: m.name, port: m.containerPort }));
  return (spec.portDefinitions ?? []).map((p) => ({ name: p.name, port: p.port }));
}

/** The effective port of each request: the host port, or a container-only port. */
function effectivePorts(spec: AppSpec, hostPorts: ReadonlyArray<number | undefined>): Array<number | undefined> {
  return declaredPorts(spec).map((d, i) => hostPorts[i] ?? (d.port !== 0 ? d.port : undefined));
}

/** PORT0..n, PORT_<requested>, PORT_<NAME>, PORT, PORTS (EnvironmentHelper.portsEnv). */
export function portsEnv(spec: AppSpec, hostPorts: ReadonlyArray<number | undefined>): Record<string, string> {
  const declared = declaredPorts(spec);
  if (declared.length === 0) return {};
  const effective = effectivePorts(spec, hostPorts);
  const env: Record<string, string> = {};
  effective.forEach((port, i) => {
    if (port === undefined) return;
    env[`PORT${i}`] = String(port);
    env[`PORT_${declared[i].port !== 0 ? declared[i].port : port}`] = String(port);
    if (declared[i].name) env[`PORT_${declared[i].name!.toUpperCase()}`] = String(port);
  });
  const assigned = effective.filter((p): p is number => p !== undefined);
  if (assigned.length > 0) env.PORT = String(assigned[0]);
  env.PORTS = assigned.join(',');
  return env;
}

/** MARATHON_APP_LABELS and MARATHON_APP_LABEL_<KEY> (EnvironmentHelper.labelsToEnvVars). */
function labelsEnv(labels: Record<string, string> | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  const keys: string[] = [];
  for (const [key, value] of Object.entries(labels ?? {})) {
    if (key.length >= 512 - 'MARATHON_APP_LABEL_'.length || value.length >= 512) continue;
    const name = key.replace(/[^a-zA-Z0-9_]+/g, '_').toUpperCase();
    keys.push(name);
    env[`MARATHON_APP_LABEL_${name}`] = value;
  }
  env.MARATHON_APP_LABELS = keys.join(' ');
  return env;
}

function environment(input: TaskBuildInput): mesos.v1.IEnvironment {
  const { spec } = input;
  const env: Record<string, string> = {
    MESOS_TASK_ID: input.taskId,
    MARATHON_APP_ID: `/${input.appId}`,
    MARATHON_APP_VERSION: input.version ?? '',
    MARATHON_APP_RESOURCE_CPUS: String(spec.cpus),
    MARATHON_APP_RESOURCE_MEM: String(spec.mem),
    MARATHON_APP_RESOURCE_DISK: String(spec.disk),
    MARATHON_APP_RESOURCE_GPUS: String(spec.gpus ?? 0),
    ...labelsEnv(spec.labels),
    ...portsEnv(spec, input.hostPorts ?? []),
    POLLY_APP_ID: input.appId,
    POLLY_INSTANCE: String(input.instance),
  };
  if (spec.container?.type === 'DOCKER' && spec.container.docker) env.MARATHON_APP_DOCKER_IMAGE = spec.container.docker.image;
  if (input.hostname !== undefined) env.HOST = input.hostname;
  if (!input.version) delete env.MARATHON_APP_VERSION;
  // The app's own variables win.
  Object.assign(env, spec.env ?? {});
  return { variables: Object.entries(env).map(([name, value]) => ({ name, type: VALUE, value })) };
}

function command(input: TaskBuildInput): mesos.v1.ICommandInfo {
  const { spec } = input;
  const cmd: mesos.v1.ICommandInfo = { environment: environment(input) };
  if (spec.cmd !== undefined) {
    cmd.shell = true;
    cmd.value = spec.cmd;
  } else {
    cmd.shell = false;
    if (spec.args && spec.args.length > 0) {
      cmd.arguments = [...spec.args];
      // The executable is the first argument, unless an image's entrypoint runs them.
      if (imageOf(spec) === undefined) cmd.value = spec.args[0];
    }
  }
  if (spec.fetch && spec.fetch.length > 0) {
    cmd.uris = spec.fetch.map((a) => {
      const uri: mesos.v1.CommandInfo.IURI = { value: a.uri, executable: a.executable, extract: a.extract, cache: a.cache };
      if (a.destPath !== undefined) uri.output_file = a.destPath;
      return uri;
    });
  }
  if (spec.user !== undefined) cmd.user = spec.user;
  return cmd;
}

function volumesOf(input: TaskBuildInput): mesos.v1.IVolume[] {
  const out: mesos.v1.IVolume[] = input.mounts.map((m) => {
    const mode = m.mode === 'RO' ? VolumeMode.RO : VolumeMode.RW;
    if (m.kind === 'csi') return csiTaskVolume(m);
    if (m.kind === 'hostPath') {
      return { container_path: m.containerPath, mode, source: { type: SourceType.HOST_PATH, host_path: { path: m.hostPath } } };
    }
    return { container_path: m.containerPath, mode, source: { type: SourceType.DOCKER_VOLUME, docker_volume: { driver: m.driver, name: m.volumeName } } };
  });
  for (const v of input.spec.container?.volumes ?? []) {
    if (isExternalVolume(v)) continue;
    out.push({ container_path: v.containerPath, mode: v.mode === 'RO' ? VolumeMode.RO : VolumeMode.RW, source: { type: SourceType.HOST_PATH, host_path: { path: v.hostPath } } });
  }
  return out;
}

function protocols(protocol: string): string[] {
  return protocol.split(',').map((p) => p.trim());
}

function container(input: TaskBuildInput): mesos.v1.IContainerInfo | undefined {
  const { spec } = input;
  const c = spec.container;
  const networks = spec.networks ?? [{ mode: 'host' as const }];
  if (!c && !nonHost(spec) && input.mounts.length === 0) return undefined;
  const hostPorts = input.hostPorts ?? [];
  const mappings = (c?.portMappings ?? []).map((m, i) => {
    const hostPort = hostPorts[i];
    return { ...m, hostPort, containerPort: m.containerPort === 0 && hostPort !== undefined ? hostPort : m.containerPort };
  });
  const info: mesos.v1.IContainerInfo = { type: ContainerType.MESOS, volumes: volumesOf(input) };
  if (c?.type === 'DOCKER' && c.docker) {
    info.type = ContainerType.DOCKER;
    const docker: mesos.v1.ContainerInfo.IDockerInfo = {
      image: c.docker.image,
      privileged: c.docker.privileged ?? false,
      force_pull_image: c.docker.forcePullImage ?? false,
      parameters: [...(c.docker.parameters ?? []).map((p) => ({ key: p.key, value: p.value })), { key: 'label', value: `MESOS_TASK_ID=${input.taskId}` }],
    };
    const mode = networks[0].mode;
    docker.network = mode === 'container/bridge' ? DockerNetwork.BRIDGE : mode === 'container' ? DockerNetwork.USER : DockerNetwork.HOST;
    if (mode !== 'host') {
      docker.port_mappings = mappings
        .filter((m) => m.hostPort !== undefined)
        .flatMap((m) => protocols(m.protocol).map((protocol) => ({ host_port: m.hostPort!, container_port: m.containerPort, protocol })));
    }
    info.docker = docker;
    // Docker user networks are named by the NetworkInfo.
    const named = networks.find((n) => n.mode === 'container' && n.name);
    if (named) info.network_infos = [{ name: named.name }];
  } else {
    const image = c?.docker?.image;
    const mesosInfo: mesos.v1.ContainerInfo.IMesosInfo = {};
    if (image !== undefined) {
      const dockerImage: mesos.v1.Image.IDocker = { name: image };
      if (c?.docker?.credential) dockerImage.credential = { principal: c.docker.credential.principal, ...(c.docker.credential.secret !== undefined ? { secret: c.docker.credential.secret } : {}) };
      mesosInfo.image = { type: mesos.v1.Image.Type.DOCKER, docker: dockerImage, cached: !(c?.docker?.forcePullImage ?? false) };
    }
    info.mesos = mesosInfo;
    const infos: mesos.v1.INetworkInfo[] = [];
    for (const n of networks) {
      if (n.mode === 'host') continue;
      const name = n.mode === 'container/bridge' ? MESOS_BRIDGE_NAME : n.name!;
      const ni: mesos.v1.INetworkInfo = { name, ip_addresses: [{}] };
      if (n.labels && Object.keys(n.labels).length > 0) ni.labels = { labels: Object.entries(n.labels).map(([key, value]) => ({ key, value })) };
      const own = mappings.filter((m) => m.hostPort !== undefined && (!m.networkNames || m.networkNames.length === 0 || m.networkNames.includes(name)));
      if (own.length > 0) ni.port_mappings = own.map((m) => ({ host_port: m.hostPort!, container_port: m.containerPort, protocol: m.protocol }));
      infos.push(ni);
    }
    if (infos.length > 0) info.network_infos = infos;
  }
  if (c?.linuxInfo) {
    const linux: mesos.v1.ILinuxInfo = {};
    if (c.linuxInfo.seccomp) {
      linux.seccomp = {};
      if (c.linuxInfo.seccomp.profileName !== undefined) linux.seccomp.profile_name = c.linuxInfo.seccomp.profileName;
      if (c.linuxInfo.seccomp.unconfined !== undefined) linux.seccomp.unconfined = c.linuxInfo.seccomp.unconfined;
    }
    if (c.linuxInfo.ipcInfo) {
      linux.ipc_mode = c.linuxInfo.ipcInfo.mode === 'PRIVATE' ? mesos.v1.LinuxInfo.IpcMode.PRIVATE : mesos.v1.LinuxInfo.IpcMode.SHARE_PARENT;
      if (c.linuxInfo.ipcInfo.shmSize !== undefined) linux.shm_size = c.linuxInfo.ipcInfo.shmSize;
    }
    info.linux_info = linux;
  }
  if (spec.tty) info.tty_info = {};
  return info;
}

/** The port a health check probes: a fixed port, or the effective port of its port index. */
function healthPort(check: HealthCheckSpec, spec: AppSpec, hostPorts: ReadonlyArray<number | undefined>): number | undefined {
  if (check.port !== undefined) return check.port;
  const index = check.portIndex ?? 0;
  // Mesos probes from the task's network: the container port when there is one (MesosHealthCheckWithPorts).
  if (nonHost(spec)) {
    const mapping = spec.container?.portMappings?.[index];
    if (mapping) return mapping.containerPort !== 0 ? mapping.containerPort : hostPorts[index];
  }
  return effectivePorts(spec, hostPorts)[index];
}

/** The app's first health check as Mesos runs it, or undefined (none, or a port it does not have). */
export function healthCheckOf(spec: AppSpec, hostPorts: ReadonlyArray<number | undefined>): mesos.v1.IHealthCheck | undefined {
  const check = spec.healthChecks?.[0];
  if (!check) return undefined;
  const out: mesos.v1.IHealthCheck = {
    delay_seconds: check.delaySeconds,
    interval_seconds: check.intervalSeconds,
    timeout_seconds: check.timeoutSeconds,
    consecutive_failures: check.maxConsecutiveFailures === 0 ? NEVER : check.maxConsecutiveFailures,
    grace_period_seconds: check.gracePeriodSeconds,
  };
  const ip = check.ipProtocol === 'IPv6' ? mesos.v1.NetworkInfo.Protocol.IPv6 : mesos.v1.NetworkInfo.Protocol.IPv4;
  switch (check.protocol) {
    case 'COMMAND':
      out.type = mesos.v1.HealthCheck.Type.COMMAND;
      out.command = { shell: true, value: check.command?.value ?? '' };
      return out;
    case 'TCP':
    case 'MESOS_TCP': {
      const port = healthPort(check, spec, hostPorts);
      if (port === undefined) return undefined;
      out.type = mesos.v1.HealthCheck.Type.TCP;
      out.tcp = { port, protocol: ip };
      return out;
    }
    default: {
      const port = healthPort(check, spec, hostPorts);
      if (port === undefined) return undefined;
      out.type = mesos.v1.HealthCheck.Type.HTTP;
      out.http = { port, path: check.path ?? '/', scheme: check.protocol.endsWith('HTTPS') ? 'https' : 'http', protocol: ip };
      return out;
    }
  }
}

function discovery(input: TaskBuildInput): mesos.v1.IDiscoveryInfo {
  const { spec } = input;
  const hostPorts = input.hostPorts ?? [];
  const ports: mesos.v1.IPort[] = [];
  const list = nonHost(input.spec) ? (spec.container?.portMappings ?? []) : (spec.portDefinitions ?? []);
  const effective = effectivePorts(spec, hostPorts);
  list.forEach((p, i) => {
    const number = effective[i];
    if (number === undefined) return;
    for (const protocol of protocols(p.protocol)) {
      const port: mesos.v1.IPort = { number, protocol };
      if (p.name) port.name = p.name;
      if (p.labels && Object.keys(p.labels).length > 0) port.labels = { labels: Object.entries(p.labels).map(([key, value]) => ({ key, value })) };
      ports.push(port);
    }
  });
  return { visibility: mesos.v1.DiscoveryInfo.Visibility.FRAMEWORK, name: input.appId.split('/').reverse().join('.'), ports: { ports } };
}

export function buildTaskInfo(input: TaskBuildInput): mesos.v1.ITaskInfo {
  const { spec } = input;
  const labels: mesos.v1.ILabel[] = [
    { key: TASK_LABEL_APP, value: input.appId },
    { key: TASK_LABEL_INSTANCE, value: String(input.instance) },
  ];
  if (input.mounts.length > 0) labels.push({ key: TASK_LABEL_VOLUMES, value: input.mounts.map((m) => m.name).join(',') });
  for (const [key, value] of Object.entries(spec.labels ?? {})) labels.push({ key, value });
  const task: mesos.v1.ITaskInfo = {
    name: `${input.appId}.${input.instance}`,
    task_id: { value: input.taskId },
    agent_id: { value: input.agentId },
    resources: input.resources,
    command: command(input),
    labels: { labels },
    discovery: discovery(input),
  };
  const info = container(input);
  if (info) task.container = info;
  const health = healthCheckOf(spec, input.hostPorts ?? []);
  if (health) task.health_check = health;
  if (spec.taskKillGracePeriodSeconds !== undefined) task.kill_policy = { grace_period: { nanoseconds: spec.taskKillGracePeriodSeconds * 1e9 } };
  if (spec.resourceLimits) {
    const limits: Record<string, mesos.v1.Value.IScalar> = {};
    for (const key of ['cpus', 'mem'] as const) {
      const limit = spec.resourceLimits[key];
      if (limit !== undefined) limits[key] = { value: limit === 'unlimited' ? Infinity : limit };
    }
    task.limits = limits;
  }
  return task;
}
