/**
 * The seam between the local (simulated) master and its simulated agents.
 * In real Mesos this is libprocess messages between master and agent; here it is method calls,
 * but the semantics follow the real ones: the agent owns task state and its status update
 * manager (uuids, retries, ordering per task); the master relays and keeps its own view.
 */
import type { mesos } from '../generated/mesos';

export type AgentState = 'running' | 'unreachable' | 'stopped';

/** What an agent tells its master. Implemented by the master. */
export interface MasterLink {
  /**
   * A status update from the agent's status update manager. Agent-sourced updates carry a
   * 16-byte `uuid`; the agent resends the same update (same uuid) with backoff until the master
   * relays an acknowledgement, and sends the next update of that task only after that.
   */
  statusUpdate(agentId: string, frameworkId: string, status: mesos.v1.ITaskStatus): void;
  /**
   * The agent (re)appears: first registration, or re-registration (after being unreachable, after a
   * master failover, or after the agent itself restarted over its checkpoint).
   */
  agentRegistered(agent: SimulatedAgentApi, reregistered: boolean): void;
  /** A graceful agent shutdown (the agent unregisters itself): the master removes the agent. */
  agentUnregistered(agentId: string): void;
}

/** A task as the agent reports it when (re)registering or for state endpoints. */
export interface AgentTaskView {
  frameworkId: string;
  task: mesos.v1.ITask;
}

/** What the master asks of an agent. Implemented by SimulatedAgent. */
export interface SimulatedAgentApi {
  readonly agentId: string;
  /** AgentInfo: id, hostname, port, resources (total, including checkpointed reservations/volumes), attributes, domain. */
  info(): mesos.v1.IAgentInfo;
  readonly state: AgentState;
  /** Runs the tasks (command tasks, or a task group under the default executor). */
  launch(
    framework: mesos.v1.IFrameworkInfo,
    tasks: mesos.v1.ITaskInfo[],
    executor?: mesos.v1.IExecutorInfo | null,
  ): void;
  kill(frameworkId: string, taskId: string, killPolicy?: mesos.v1.IKillPolicy | null): void;
  /** Relayed ACKNOWLEDGE: stops retries of that update and releases the next one for the task. */
  acknowledge(frameworkId: string, taskId: string, uuid: Uint8Array): void;
  /**
   * A framework (re-)subscribed (UpdateFrameworkMessage): the agent keeps its new FrameworkInfo and
   * resends its unacknowledged updates at once.
   */
  updateFramework(framework: mesos.v1.IFrameworkInfo): void;
  /** The FrameworkInfo the agent knows a framework by (from a launch or its checkpoint). */
  frameworkInfo(frameworkId: string): mesos.v1.IFrameworkInfo | undefined;
  /** Framework removed: kill all its tasks (they end TASK_KILLED, REASON_FRAMEWORK_REMOVED). */
  shutdownFramework(frameworkId: string): void;
  /**
   * Speculative operations applied by the master (RESERVE/UNRESERVE/CREATE/DESTROY): the agent
   * checkpoints its new total resources; CREATE makes the persistent volume's directory and
   * DESTROY deletes it.
   */
  checkpointResources(total: mesos.v1.IResource[]): void;
  /** Host directory of a persistent volume (for mounting into sandboxes). */
  persistentVolumePath(role: string, persistenceId: string): string;
  /** The tasks the agent currently knows (non-terminal, plus terminal ones not yet acknowledged). */
  tasks(): AgentTaskView[];
}
