/**
 * Task reconciliation (Master::reconcile / _reconcileTasks). Answers come from the master with
 * REASON_RECONCILIATION and no uuid; the partition-aware states turn into TASK_LOST for others.
 */
import { mesos } from '../../generated/mesos';
import type { Framework, TaskRecord } from './framework-registry';
import type { LocalMaster } from './local-master';

const TaskState = mesos.v1.TaskState;
const Reason = mesos.v1.TaskStatus.Reason;
const Source = mesos.v1.TaskStatus.Source;

type Query = mesos.v1.scheduler.Call.Reconcile.ITask;

function latestState(record: TaskRecord): number {
  return record.task.status_update_state ?? record.task.state;
}

function answer(taskId: string, state: number, message: string, agentId?: string, extra: Partial<mesos.v1.ITaskStatus> = {}): mesos.v1.ITaskStatus {
  const status: mesos.v1.ITaskStatus = {
    task_id: { value: taskId },
    state,
    source: Source.SOURCE_MASTER,
    reason: Reason.REASON_RECONCILIATION,
    message,
    timestamp: Date.now() / 1000,
    ...extra,
  };
  if (agentId) status.agent_id = { value: agentId };
  return status;
}

function knownTaskAnswer(record: TaskRecord): mesos.v1.ITaskStatus {
  const last = record.task.statuses?.[record.task.statuses.length - 1];
  const extra: Partial<mesos.v1.ITaskStatus> = {};
  if (last?.healthy != null) extra.healthy = last.healthy;
  if (last?.labels) extra.labels = last.labels;
  if (last?.container_status) extra.container_status = last.container_status;
  if (last?.unreachable_time) extra.unreachable_time = last.unreachable_time;
  if (record.task.executor_id) extra.executor_id = record.task.executor_id;
  return answer(record.task.task_id.value, latestState(record), 'Reconciliation: Latest task state', record.agentId, extra);
}

export function reconcileTasks(master: LocalMaster, framework: Framework, queries: readonly Query[]): void {
  if (queries.length === 0) {
    // Implicit: every task the master still knows (ACKed terminal tasks are gone already).
    for (const record of [...framework.tasks.values(), ...framework.unreachableTasks.values()]) {
      master.sendStatus(framework, knownTaskAnswer(record));
    }
    return;
  }
  for (const query of queries) {
    const taskId = query.task_id.value;
    const agentId = query.agent_id?.value;
    const record = framework.tasks.get(taskId) ?? framework.unreachableTasks.get(taskId);
    if (record && (agentId === undefined || agentId === record.agentId)) {
      master.sendStatus(framework, knownTaskAnswer(record));
      continue;
    }
    const agent = agentId !== undefined ? master.agents.get(agentId) : undefined;
    // Registry-only facts (an agent this master has not seen since it started).
    const unreachableSince = agentId !== undefined && !agent ? master.registry.unreachableSince(agentId) : undefined;
    const goneSince = agentId !== undefined && !agent ? master.registry.goneSince(agentId) : undefined;
    if (agent?.status === 'active') {
      master.sendStatus(framework, answer(taskId, TaskState.TASK_GONE, 'Reconciliation: Task is unknown to the agent', agentId));
    } else if (!agent && master.isRecovering(agentId)) {
      // The agent has not re-registered since the master restarted: no answer until it does or is
      // marked unreachable; the framework asks again.
      master.logger.info('Dropping reconciliation of a task: its agent has not re-registered yet', { taskId, agentId });
    } else if (agent?.status === 'unreachable' || unreachableSince !== undefined) {
      const extra: Partial<mesos.v1.ITaskStatus> = {};
      const since = agent?.unreachableTime ?? unreachableSince;
      if (since) extra.unreachable_time = { nanoseconds: Math.round(since * 1e9) };
      master.sendStatus(framework, answer(taskId, TaskState.TASK_UNREACHABLE, 'Reconciliation: Task is unreachable', agentId, extra));
    } else if (agent?.status === 'gone' || goneSince !== undefined) {
      master.sendStatus(framework, answer(taskId, TaskState.TASK_GONE_BY_OPERATOR, 'Reconciliation: Task is gone', agentId));
    } else {
      master.sendStatus(framework, answer(taskId, TaskState.TASK_UNKNOWN, 'Reconciliation: Task is unknown', agentId));
    }
  }
}
