/**
 * The environment of a task process: PATH and HOME from the agent, the MESOS_* variables the agent
 * gives executors (MESOS_FRAMEWORK_ID, MESOS_EXECUTOR_ID, MESOS_DIRECTORY, MESOS_SANDBOX,
 * MESOS_SLAVE_ID) plus MESOS_AGENT_ID and MESOS_TASK_ID for convenience, then the command's own
 * variables. MESOS_SANDBOX is also how leftover-processes.ts recognises the task's processes.
 */
import { mesos } from '../../generated/mesos';
import { ContainerLaunchError } from './errors';

export interface TaskPlace {
  agentId: string;
  frameworkId: string;
  executorId: string;
  /** The executor's sandbox (MESOS_DIRECTORY). */
  executorDir: string;
  /** The task's own sandbox (MESOS_SANDBOX, its working directory). */
  sandbox: string;
}

export function taskEnvironment(task: mesos.v1.ITaskInfo, place: TaskPlace): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: process.env.HOME ?? place.sandbox,
    MESOS_FRAMEWORK_ID: place.frameworkId,
    MESOS_EXECUTOR_ID: place.executorId,
    MESOS_DIRECTORY: place.executorDir,
    MESOS_SANDBOX: place.sandbox,
    MESOS_SLAVE_ID: place.agentId,
    MESOS_AGENT_ID: place.agentId,
    MESOS_TASK_ID: task.task_id.value,
  };
  for (const variable of task.command?.environment?.variables ?? []) {
    const type = variable.type ?? mesos.v1.Environment.Variable.Type.VALUE;
    if (type === mesos.v1.Environment.Variable.Type.SECRET) {
      const data = variable.secret?.value?.data;
      if (!data) {
        throw new ContainerLaunchError(`Environment variable '${variable.name}': only value secrets are supported`);
      }
      env[variable.name] = Buffer.from(data).toString('utf8');
    } else {
      env[variable.name] = variable.value ?? '';
    }
  }
  return env;
}
