/** Small helpers for the TaskStatus messages the simulated agent generates. */
import { randomBytes } from 'node:crypto';
import { mesos } from '../../generated/mesos';

export { isTerminalTaskState as isTerminalState } from '../../task-state';

/** A random RFC 4122 version-4 UUID as 16 raw bytes, like stout's UUID::random().toBytes(). */
export function randomUuidBytes(): Uint8Array {
  const bytes = new Uint8Array(randomBytes(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  return bytes;
}

/** Canonical 8-4-4-4-12 form of 16 UUID bytes (for logs and container IDs). */
export function uuidToString(bytes: Uint8Array | null | undefined): string {
  if (!bytes) return '';
  const hex = Buffer.from(bytes).toString('hex');
  if (hex.length !== 32) return hex;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export interface StatusFields {
  state: mesos.v1.TaskState;
  source: mesos.v1.TaskStatus.Source;
  reason?: mesos.v1.TaskStatus.Reason;
  message?: string;
  containerStatus?: mesos.v1.IContainerStatus;
  /** The health check's verdict (TaskStatus.healthy). */
  healthy?: boolean;
}

/** An agent-side status update: fresh uuid, agent and executor IDs, timestamp in seconds. */
export function buildTaskStatus(ids: { taskId: string; agentId: string; executorId: string }, fields: StatusFields): mesos.v1.ITaskStatus {
  const status: mesos.v1.ITaskStatus = {
    task_id: { value: ids.taskId },
    state: fields.state,
    source: fields.source,
    agent_id: { value: ids.agentId },
    executor_id: { value: ids.executorId },
    timestamp: Date.now() / 1000,
    uuid: randomUuidBytes(),
  };
  if (fields.reason !== undefined) status.reason = fields.reason;
  if (fields.message !== undefined) status.message = fields.message;
  if (fields.containerStatus) status.container_status = fields.containerStatus;
  if (fields.healthy !== undefined) status.healthy = fields.healthy;
  return status;
}
