/**
 * Sandbox directories and volume mapping of the simulated agent.
 *
 * Layout follows the real agent (src/slave/paths.cpp):
 *   <workDir>/slaves/<agentId>/frameworks/<frameworkId>/executors/<executorId>/runs/<containerId>
 * with a `runs/latest` symlink. A task of a task group (default executor) runs in a nested
 * container sandbox `<executor run>/containers/<childContainerId>`, reachable as
 * `<executor run>/tasks/<taskId>`, as the default executor lays it out.
 *
 * There is no container root filesystem and no mount namespace here, so a volume is a symlink
 * inside the sandbox: a relative `container_path` is relative to the sandbox, and an absolute one
 * is re-rooted under the sandbox (`/data` → `<sandbox>/data`). Read-only mode cannot be enforced
 * without bind mounts; RO volumes are linked like RW ones.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { ContainerLaunchError, UnsafePathError } from './errors';

/** Throws unless `value` is usable as one path component. */
export function assertPathComponent(kind: string, value: string): void {
  if (
    typeof value !== 'string' ||
    value === '' ||
    value === '.' ||
    value === '..' ||
    value.includes('/') ||
    value.includes('\\') ||
    value.includes('\0')
  ) {
    throw new UnsafePathError(`Invalid ${kind} '${value}': not usable as a path component`);
  }
}

export function agentDir(workDir: string, agentId: string): string {
  assertPathComponent('agent ID', agentId);
  return path.join(workDir, 'slaves', agentId);
}

export function executorRunDir(
  workDir: string,
  ids: { agentId: string; frameworkId: string; executorId: string; containerId: string },
): string {
  assertPathComponent('framework ID', ids.frameworkId);
  assertPathComponent('executor ID', ids.executorId);
  assertPathComponent('container ID', ids.containerId);
  return path.join(agentDir(workDir, ids.agentId), 'frameworks', ids.frameworkId, 'executors', ids.executorId, 'runs', ids.containerId);
}

/** Creates an executor's run directory, its `latest` link and empty stdout/stderr files. */
export async function createExecutorSandbox(runDir: string): Promise<void> {
  await fsp.mkdir(runDir, { recursive: true });
  const latest = path.join(path.dirname(runDir), 'latest');
  await fsp.rm(latest, { force: true });
  await fsp.symlink(path.basename(runDir), latest).catch(() => undefined);
  await touchLogs(runDir);
}

/** Creates a nested task sandbox under an executor run directory; returns its path. */
export async function createNestedSandbox(runDir: string, childContainerId: string, taskId: string): Promise<string> {
  assertPathComponent('container ID', childContainerId);
  assertPathComponent('task ID', taskId);
  const dir = path.join(runDir, 'containers', childContainerId);
  await fsp.mkdir(dir, { recursive: true });
  await fsp.mkdir(path.join(runDir, 'tasks'), { recursive: true });
  await fsp.symlink(path.join('..', 'containers', childContainerId), path.join(runDir, 'tasks', taskId)).catch(() => undefined);
  await touchLogs(dir);
  return dir;
}

async function touchLogs(dir: string): Promise<void> {
  for (const name of ['stdout', 'stderr']) {
    const handle = await fsp.open(path.join(dir, name), 'a');
    await handle.close();
  }
}

/** Where a volume's container path lands in the sandbox; never outside it. */
export function sandboxTarget(sandbox: string, containerPath: string): string {
  if (typeof containerPath !== 'string' || containerPath.trim() === '' || containerPath.includes('\0')) {
    throw new ContainerLaunchError(`Invalid volume container path '${containerPath}'`);
  }
  const target = path.resolve(sandbox, containerPath.replace(/^\/+/, ''));
  if (!target.startsWith(sandbox + path.sep)) {
    throw new ContainerLaunchError(`Volume container path '${containerPath}' escapes the sandbox`);
  }
  return target;
}

/** A path inside the sandbox named by a SANDBOX_PATH source (relative, no escaping). */
export function sandboxSubpath(sandbox: string, relative: string): string {
  if (typeof relative !== 'string' || relative === '' || path.isAbsolute(relative) || relative.includes('\0')) {
    throw new ContainerLaunchError(`Invalid sandbox path '${relative}': must be relative`);
  }
  const resolved = path.resolve(sandbox, relative);
  if (resolved !== sandbox && !resolved.startsWith(sandbox + path.sep)) {
    throw new ContainerLaunchError(`Sandbox path '${relative}' escapes the sandbox`);
  }
  return resolved;
}

export interface VolumeLink {
  containerPath: string;
  /** Absolute path the link points to. */
  hostPath: string;
}

/**
 * Creates `<sandbox>/<container_path>` → host path links, parents first. A link may not be placed
 * through another volume (it would write into the host path) nor over an existing entry.
 */
export async function linkVolumes(sandbox: string, links: readonly VolumeLink[]): Promise<void> {
  const realSandbox = await fsp.realpath(sandbox);
  const ordered = links
    .map((link) => ({ ...link, target: sandboxTarget(sandbox, link.containerPath) }))
    .sort((a, b) => a.target.length - b.target.length);
  for (const link of ordered) {
    const parent = path.dirname(link.target);
    await fsp.mkdir(parent, { recursive: true });
    const realParent = await fsp.realpath(parent);
    if (realParent !== realSandbox && !realParent.startsWith(realSandbox + path.sep)) {
      throw new ContainerLaunchError(`Volume container path '${link.containerPath}' lies inside another volume`);
    }
    try {
      await fsp.symlink(link.hostPath, link.target);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') {
        throw new ContainerLaunchError(`Volume container path '${link.containerPath}' is already in use`);
      }
      throw new ContainerLaunchError(`Failed to map volume at '${link.containerPath}': ${(err as Error).message}`);
    }
  }
}
