/**
 * What a recovering agent makes of a checkpointed task (Slave::recover and what follows it): the
 * record it keeps, and the update that ends a task whose executor did not survive.
 *
 * - The executor was still running when the agent came back: it cannot reconnect to the local
 *   agent (which cannot re-attach to a process it did not start), so it was killed, as
 *   Slave::reregisterExecutorTimeout kills executors that do not reregister: TASK_GONE, or TASK_LOST
 *   for frameworks that are not PARTITION_AWARE, reason REASON_EXECUTOR_REREGISTRATION_TIMEOUT.
 * - Its process was gone already: the containerizer does not know the container, and
 *   Slave::sendExecutorTerminatedStatusUpdate sends TASK_FAILED, REASON_EXECUTOR_TERMINATED,
 *   "Abnormal executor termination: unknown container".
 * - A task that had terminated keeps its unacknowledged updates; one whose terminal update was
 *   acknowledged is done with.
 */
import { mesos } from '../../generated/mesos';
import type { RecoveredTask } from './agent-checkpoint';
import { executorRunDir } from './sandbox';
import { taskKey, type ExecutorRecord, type TaskRecord } from './task-record';
import { isTerminalState, type StatusFields } from './task-status';

const TaskState = mesos.v1.TaskState;
const Source = mesos.v1.TaskStatus.Source;
const Reason = mesos.v1.TaskStatus.Reason;
const Capability = mesos.v1.FrameworkInfo.Capability.Type;

/** The executor record for a recovered task's run (its sandbox exists already). */
export function recoveredExecutor(workDir: string, task: RecoveredTask): ExecutorRecord {
  const p = task.placement;
  return {
    frameworkId: p.frameworkId,
    executorId: p.executorId,
    containerId: p.containerId,
    runDir: executorRunDir(workDir, p),
    ready: Promise.resolve(),
    tasks: new Set(),
  };
}

/** The agent's record of a recovered task: no process, its last known state. */
export function recoveredRecord(task: RecoveredTask, executor: ExecutorRecord): TaskRecord {
  const { frameworkId, taskId } = task.placement;
  const record: TaskRecord = {
    key: taskKey(frameworkId, taskId),
    frameworkId,
    info: task.info,
    executor,
    hasExecutor: task.group !== undefined,
    state: task.latest?.state ?? TaskState.TASK_STAGING,
    placement: task.placement,
    checkpointed: true,
  };
  if (task.group) record.group = new Set(task.group.map((id) => taskKey(frameworkId, id)));
  if (task.latest) record.latest = task.latest;
  return record;
}

/**
 * What recovery does with a task: end it with an update, forget it (its terminal update was
 * acknowledged), or keep it as it is (terminal, updates still unacknowledged).
 * `killed`: its process was found running, and stopped.
 */
export function recoveryOutcome(task: RecoveredTask, killed: boolean): { end: StatusFields } | 'forget' | 'keep' {
  const state = task.latest?.state ?? TaskState.TASK_STAGING;
  if (isTerminalState(state)) return task.pending.length === 0 ? 'forget' : 'keep';
  if (killed) {
    const partitionAware = (task.framework.capabilities ?? []).some((c) => c.type === Capability.PARTITION_AWARE);
    return {
      end: {
        state: partitionAware ? TaskState.TASK_GONE : TaskState.TASK_LOST,
        source: Source.SOURCE_AGENT,
        reason: Reason.REASON_EXECUTOR_REREGISTRATION_TIMEOUT,
        message: 'Executor did not reregister: the local agent does not reconnect to executors of an earlier run, so it killed it',
      },
    };
  }
  return {
    end: {
      state: TaskState.TASK_FAILED,
      source: Source.SOURCE_AGENT,
      reason: Reason.REASON_EXECUTOR_TERMINATED,
      message: 'Abnormal executor termination: unknown container',
    },
  };
}
