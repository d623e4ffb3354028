/** Task state facts the master needs (protobuf::isTerminalState, partition-aware mapping). */
import { mesos } from '../../generated/mesos';
import { isTerminalTaskState } from '../../task-state';

const S = mesos.v1.TaskState;

const PARTITION_AWARE_ONLY = new Set<number>([
  S.TASK_DROPPED,
  S.TASK_UNREACHABLE,
  S.TASK_GONE,
  S.TASK_GONE_BY_OPERATOR,
  S.TASK_UNKNOWN,
]);

export const isTerminal = isTerminalTaskState;

/** The state a framework sees: the new partition states become TASK_LOST unless it is PARTITION_AWARE. */
export function stateFor(partitionAware: boolean, state: number): number {
  return !partitionAware && PARTITION_AWARE_ONLY.has(state) ? S.TASK_LOST : state;
}
