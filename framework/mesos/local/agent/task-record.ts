/** What the simulated agent keeps per executor and per task, and the Task view it reports of one. */
import type { mesos } from '../../generated/mesos';
import type { TaskPlacement } from './agent-checkpoint';
import type { TaskRunner } from './task-runner';

export interface ExecutorRecord {
  frameworkId: string;
  executorId: string;
  containerId: string;
  runDir: string;
  /** The executor's sandbox exists (shared by the tasks of a task group). */
  ready: Promise<void>;
  tasks: Set<string>;
}

export interface TaskRecord {
  key: string;
  frameworkId: string;
  info: mesos.v1.ITaskInfo;
  executor: ExecutorRecord;
  /** Only task-group tasks have an executor_id in their Task view; command tasks do not. */
  hasExecutor: boolean;
  /** Tasks launched in one LAUNCH_GROUP: a failed or killed member brings the others down. */
  group?: Set<string>;
  /** The task's process; absent for a task recovered from the checkpoint (its process is gone). */
  runner?: TaskRunner;
  state: mesos.v1.TaskState;
  latest?: mesos.v1.ITaskStatus;
  /** Where the task is in the checkpoint (absent when its IDs are unusable as paths). */
  placement?: TaskPlacement;
  /** Its framework checkpoints: task.info and task.updates are written. */
  checkpointed: boolean;
  /** The task's container (its own for a command task, the nested one in a task group): the volume/csi isolator's key. */
  containerId?: string;
}

export function taskKey(frameworkId: string, id: string): string {
  return `${frameworkId}\u0000${id}`;
}

/** The Task message for the master: latest state, plus the state of the update in flight. */
export function taskView(agentId: string, record: TaskRecord, head: mesos.v1.ITaskStatus | undefined): mesos.v1.ITask {
  const info = record.info;
  const task: mesos.v1.ITask = {
    name: info.name,
    task_id: { value: info.task_id.value },
    framework_id: { value: record.frameworkId },
    agent_id: { value: agentId },
    state: record.state,
    resources: info.resources ?? [],
    statuses: record.latest ? [record.latest] : [],
  };
  if (record.hasExecutor) task.executor_id = { value: record.executor.executorId };
  const inFlight = head ?? record.latest;
  if (inFlight) {
    task.status_update_state = inFlight.state;
    if (inFlight.uuid) task.status_update_uuid = inFlight.uuid;
  }
  if (info.labels) task.labels = info.labels;
  if (info.discovery) task.discovery = info.discovery;
  if (info.container) task.container = info.container;
  if (info.health_check) task.health_check = info.health_check;
  if (info.kill_policy) task.kill_policy = info.kill_policy;
  if (info.limits && Object.keys(info.limits).length > 0) task.limits = info.limits;
  return task;
}
