/**
 * Which host paths a task's volumes point to: `ContainerInfo.volumes` (HOST_PATH, the legacy
 * `host_path` field, DOCKER_VOLUME through a resolver, SANDBOX_PATH, CSI_VOLUME at the target path
 * the volume/csi isolator published) and persistent volumes among
 * the task's resources (`disk.persistence.id` + `disk.volume.container_path`).
 * How they become visible in the sandbox is sandbox.ts's job.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { mesos } from '../../generated/mesos';
import { ContainerLaunchError } from './errors';
import { sandboxSubpath, type VolumeLink } from './sandbox';
import { persistentVolumeId } from './checkpointed-resources';

const SourceType = mesos.v1.Volume.Source.Type;
const SandboxPathType = mesos.v1.Volume.Source.SandboxPath.Type;

/** Resolves a Docker volume (driver, name, options) to a host path, e.g. by asking a volume plugin. */
export type DockerVolumeResolver = (driver: string, name: string, options: Record<string, string>) => Promise<string>;

/** Docker's own default volume driver, used when DockerVolume.driver is unset. */
export const DEFAULT_DOCKER_VOLUME_DRIVER = 'local';

export interface VolumeContext {
  /** The task's sandbox. */
  sandbox: string;
  /** The executor's sandbox when the task runs nested (task groups); SANDBOX_PATH PARENT needs it. */
  parentSandbox?: string;
  dockerVolumeResolver?: DockerVolumeResolver;
  /** Target paths of the container's CSI volumes, by container path, as the volume/csi isolator published them. */
  csiTargets?: ReadonlyMap<string, string>;
  persistentVolumePath(role: string, persistenceId: string): string;
}

export async function resolveTaskVolumes(task: mesos.v1.ITaskInfo, context: VolumeContext): Promise<VolumeLink[]> {
  const links: VolumeLink[] = [];
  for (const volume of task.container?.volumes ?? []) {
    links.push({ containerPath: volume.container_path, hostPath: await resolveVolume(volume, context) });
  }
  for (const resource of task.resources ?? []) {
    const containerPath = resource.disk?.volume?.container_path;
    const id = persistentVolumeId(resource);
    if (!id || !containerPath) continue;
    const hostPath = context.persistentVolumePath(id.role, id.persistenceId);
    // The directory is made when the volume is CREATEd; make sure it is there even if the agent
    // was started over an older checkpoint.
    await fsp.mkdir(hostPath, { recursive: true });
    links.push({ containerPath, hostPath });
  }
  return links;
}

async function resolveVolume(volume: mesos.v1.IVolume, context: VolumeContext): Promise<string> {
  const where = `volume '${volume.container_path}'`;
  const source = volume.source;
  if (!source || source.type === undefined || source.type === null || source.type === SourceType.UNKNOWN) {
    // Pre-`source` volumes: an absolute host_path is a host path, a relative one lies in the sandbox.
    if (volume.host_path) {
      if (path.isAbsolute(volume.host_path)) return existingHostPath(volume.host_path, where);
      return ensureDir(sandboxSubpath(context.sandbox, volume.host_path));
    }
    if (volume.image) throw new ContainerLaunchError(`Image volumes are not supported by the local agent (${where})`);
    throw new ContainerLaunchError(`The ${where} has neither a source nor a host_path`);
  }
  switch (source.type) {
    case SourceType.HOST_PATH: {
      const hostPath = source.host_path?.path;
      if (!hostPath || !path.isAbsolute(hostPath)) {
        throw new ContainerLaunchError(`The ${where} needs an absolute host_path.path`);
      }
      return existingHostPath(hostPath, where);
    }
    case SourceType.DOCKER_VOLUME: {
      const docker = source.docker_volume;
      if (!docker?.name) throw new ContainerLaunchError(`The ${where} needs docker_volume.name`);
      if (!context.dockerVolumeResolver) {
        throw new ContainerLaunchError(`Cannot mount Docker volume '${docker.name}': no docker volume driver`);
      }
      const driver = docker.driver || DEFAULT_DOCKER_VOLUME_DRIVER;
      const options: Record<string, string> = {};
      for (const p of docker.driver_options?.parameter ?? []) options[p.key] = p.value;
      let hostPath: string;
      try {
        hostPath = await context.dockerVolumeResolver(driver, docker.name, options);
      } catch (err) {
        throw new ContainerLaunchError(`Failed to mount Docker volume '${docker.name}' with driver '${driver}': ${(err as Error).message}`);
      }
      if (typeof hostPath !== 'string' || !path.isAbsolute(hostPath)) {
        throw new ContainerLaunchError(`Docker volume driver '${driver}' gave no absolute path for '${docker.name}'`);
      }
      return existingHostPath(hostPath, where);
    }
    case SourceType.CSI_VOLUME: {
      const target = context.csiTargets?.get(volume.container_path);
      if (target === undefined) {
        throw new ContainerLaunchError(
          `CSI volumes need the volume/csi isolator, which this agent does not run (no CSI plugin configuration directory: local.csiPluginConfigDir) (${where})`,
        );
      }
      return target;
    }
    case SourceType.SANDBOX_PATH: {
      const sandboxPath = source.sandbox_path;
      if (!sandboxPath?.path) throw new ContainerLaunchError(`The ${where} needs sandbox_path.path`);
      const type = sandboxPath.type ?? SandboxPathType.SELF;
      if (type === SandboxPathType.PARENT) {
        if (!context.parentSandbox) {
          throw new ContainerLaunchError(`The ${where} uses a PARENT sandbox path but the task has no parent container`);
        }
        return ensureDir(sandboxSubpath(context.parentSandbox, sandboxPath.path));
      }
      return ensureDir(sandboxSubpath(context.sandbox, sandboxPath.path));
    }
    default:
      throw new ContainerLaunchError(
        `Volume source type ${mesos.v1.Volume.Source.Type[source.type] ?? source.type} is not supported by the local agent (${where})`,
      );
  }
}

async function existingHostPath(hostPath: string, where: string): Promise<string> {
  try {
    await fsp.stat(hostPath);
  } catch {
    throw new ContainerLaunchError(`Host path '${hostPath}' of the ${where} does not exist`);
  }
  return hostPath;
}

async function ensureDir(dir: string): Promise<string> {
  await fsp.mkdir(dir, { recursive: true });
  return dir;
}
