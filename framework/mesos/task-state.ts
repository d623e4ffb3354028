/**
 * Task-state facts of the Mesos protocol (protobuf::isTerminalState), shared by the scheduler and
 * the local cluster so there is one list to get right.
 */
import { mesos } from './generated/mesos';

const S = mesos.v1.TaskState;

const TERMINAL: ReadonlySet<number> = new Set<number>([
  S.TASK_FINISHED,
  S.TASK_FAILED,
  S.TASK_KILLED,
  S.TASK_ERROR,
  S.TASK_LOST,
  S.TASK_DROPPED,
  S.TASK_GONE,
  S.TASK_GONE_BY_OPERATOR,
]);

/** Terminal for the master: the task will never run again. TASK_UNREACHABLE and TASK_UNKNOWN are not. */
export function isTerminalTaskState(state: number | null | undefined): boolean {
  return state !== null && state !== undefined && TERMINAL.has(state);
}
