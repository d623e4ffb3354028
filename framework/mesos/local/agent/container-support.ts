/**
 * What the local agent can contain, and what it does with the rest. It has no container engine: no
 * Docker containerizer, no image provisioner, no network isolator. A real agent without them fails
 * such a task (TASK_FAILED, REASON_CONTAINER_LAUNCH_FAILED); so does the local agent, saying why —
 * unless `local.imageTasks` is `host`, when it runs the task's command on the host as it runs every
 * other task, without the image's filesystem or network (a development shortcut, logged).
 */
import { mesos } from '../../generated/mesos';
import type { Logger } from '../../../shared/logger';
import { ContainerLaunchError } from './errors';

/** `fail` (a real agent without a container engine) or `host` (run the command on the host anyway). */
export type ImageTaskPolicy = 'fail' | 'host';

const ContainerType = mesos.v1.ContainerInfo.Type;
const DockerNetwork = mesos.v1.ContainerInfo.DockerInfo.Network;

/** What the task asks for that the local agent cannot provide (undefined: nothing). */
export function uncontainable(task: mesos.v1.ITaskInfo): string | undefined {
  const container = task.container;
  if (!container) return undefined;
  if (container.type === ContainerType.DOCKER) {
    return `Docker image ${container.docker?.image ?? '(none)'}: None of the enabled containerizers (mesos) could create a container for the provided TaskInfo/ExecutorInfo message`;
  }
  const image = container.mesos?.image;
  if (image) {
    const name = image.docker?.name ?? image.appc?.name ?? '(unnamed)';
    return `container image ${name}: the agent has no image provisioner (--image_providers is not set), so it cannot provision the image`;
  }
  const networks = (container.network_infos ?? []).map((n) => n.name ?? '(unnamed)');
  if (networks.length > 0) return `container network ${networks.join(', ')}: the agent has no network isolator (network/cni)`;
  if (container.docker?.network === DockerNetwork.BRIDGE || container.docker?.network === DockerNetwork.USER) return 'a Docker network: the agent has no Docker';
  return undefined;
}

/** The launch failure for a task the agent cannot contain (said in the log either way); undefined when it runs. */
export function containerFailure(task: mesos.v1.ITaskInfo, policy: ImageTaskPolicy, logger: Logger, agentId: string): Error | undefined {
  const what = uncontainable(task);
  if (what === undefined) return undefined;
  const taskId = task.task_id.value;
  if (policy === 'host') {
    logger.warn('running the command of a task the local agent cannot contain on the host (local.imageTasks: host): no image, no isolation', {
      agentId,
      taskId,
      container: what,
    });
    return undefined;
  }
  logger.warn('failing a task the local agent cannot contain (it has no container engine; local.imageTasks: host runs it on the host)', {
    agentId,
    taskId,
    container: what,
  });
  return new ContainerLaunchError(`${what} (the local cluster has no container engine; set local.imageTasks: host to run the command on the host)`);
}
