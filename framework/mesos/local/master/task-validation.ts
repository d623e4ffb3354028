/**
 * Parts of the master's task validation (src/master/validation.cpp, src/common/validation.cpp) beyond
 * IDs and resources: the health check and the ContainerInfo, with Mesos' own messages, so a
 * TaskInfo the local master takes is one a real master takes.
 */
import { mesos } from '../../generated/mesos';

const HealthType = mesos.v1.HealthCheck.Type;
const ContainerType = mesos.v1.ContainerInfo.Type;
const SourceType = mesos.v1.Volume.Source.Type;

function has(message: object | null | undefined, field: string): boolean {
  return message !== null && message !== undefined && Object.prototype.hasOwnProperty.call(message, field) && (message as Record<string, unknown>)[field] !== null && (message as Record<string, unknown>)[field] !== undefined;
}

/** common::validation::validateHealthCheck. */
export function healthCheckProblem(check: mesos.v1.IHealthCheck): string | undefined {
  if (!has(check, 'type')) return "HealthCheck must specify 'type'";
  switch (check.type) {
    case HealthType.COMMAND: {
      if (!has(check, 'command')) return "Expecting 'command' to be set for COMMAND health check";
      if (!has(check.command, 'value')) return `Command health check must contain ${check.command!.shell === false ? "'executable path'" : "'shell command'"}`;
      break;
    }
    case HealthType.HTTP: {
      if (!has(check, 'http')) return "Expecting 'http' to be set for HTTP health check";
      const scheme = check.http!.scheme;
      if (has(check.http, 'scheme') && scheme !== 'http' && scheme !== 'https') return `Unsupported HTTP health check scheme: '${scheme}'`;
      const path = check.http!.path;
      if (has(check.http, 'path') && !String(path).startsWith('/')) return `The path '${path}' of HTTP health check must start with '/'`;
      break;
    }
    case HealthType.TCP:
      if (!has(check, 'tcp')) return "Expecting 'tcp' to be set for TCP health check";
      break;
    default:
      return `'${HealthType[check.type as number] ?? String(check.type)}' is not a valid health check type`;
  }
  for (const field of ['delay_seconds', 'grace_period_seconds', 'interval_seconds', 'timeout_seconds'] as const) {
    if (has(check, field) && (check[field] as number) < 0) return `Expecting '${field}' to be non-negative`;
  }
  return undefined;
}

function volumeProblem(volume: mesos.v1.IVolume): string | undefined {
  const count = ['host_path', 'image', 'source'].filter((f) => has(volume, f)).length;
  if (count !== 1) return "Only one of them should be set: 'host_path', 'image' and 'source'";
  const source = volume.source;
  if (!source) return undefined;
  switch (source.type) {
    case SourceType.DOCKER_VOLUME:
      return has(source, 'docker_volume') ? undefined : "'source.docker_volume' is not set for DOCKER_VOLUME volume";
    case SourceType.HOST_PATH:
      return has(source, 'host_path') ? undefined : "'source.host_path' is not set for HOST_PATH volume";
    case SourceType.SANDBOX_PATH:
      return has(source, 'sandbox_path') ? undefined : "'source.sandbox_path' is not set for SANDBOX_PATH volume";
    case SourceType.SECRET:
      return has(source, 'secret') ? undefined : "'source.secret' is not set for SECRET volume";
    case SourceType.CSI_VOLUME:
      if (!has(source, 'csi_volume')) return "'source.csi_volume' is not set for CSI volume";
      return has(source.csi_volume, 'static_provisioning') ? undefined : "'source.csi_volume.static_provisioning' is not set for CSI volume";
    default:
      return "'source.type' is unknown";
  }
}

/** common::validation::validateContainerInfo. */
export function containerProblem(container: mesos.v1.IContainerInfo): string | undefined {
  for (const volume of container.volumes ?? []) {
    const problem = volumeProblem(volume);
    if (problem) return `Invalid volume: ${problem}`;
  }
  if (container.type === ContainerType.DOCKER) {
    if (!has(container, 'docker')) return "DockerInfo 'docker' is not set for DOCKER typed ContainerInfo";
    if ((container.docker!.parameters ?? []).some((p) => p.key === 'name')) return "Parameter in DockerInfo must not be 'name'";
  }
  return undefined;
}
