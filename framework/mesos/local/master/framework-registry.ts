/** The master's frameworks: registered ones (connected or not) and the recently completed. */
import { mesos } from '../../generated/mesos';
import { hasCapability, rolesOf } from './framework-validation';
import type { SubscriptionStream } from './subscription-stream';
import type { Resource } from './resources';

const Capability = mesos.v1.FrameworkInfo.Capability.Type;
const MAX_COMPLETED_TASKS_PER_FRAMEWORK = 1000;

export type SchedulerEvent = mesos.v1.scheduler.IEvent;

/** A task as the master knows it (mesos.v1.Task, plus where it runs). */
export interface TaskRecord {
  task: mesos.v1.ITask;
  agentId: string;
  /** The resources the task holds on its agent (task + new executor), with allocation_info. */
  resources: Resource[];
}

export class Framework {
  info: mesos.v1.IFrameworkInfo;
  stream?: SubscriptionStream<mesos.v1.scheduler.Event>;
  active = false;
  /** Known only from agents' reports after a master failover; not yet re-subscribed. */
  recovered = false;
  suppressedRoles = new Set<string>();
  offerConstraints?: mesos.v1.scheduler.IOfferConstraints | null;
  readonly tasks = new Map<string, TaskRecord>();
  readonly unreachableTasks = new Map<string, TaskRecord>();
  readonly completedTasks: TaskRecord[] = [];
  /** Executors launched per agent (for Offer.executor_ids and resource accounting). */
  readonly executors = new Map<string, Map<string, mesos.v1.IExecutorInfo>>();
  registeredTime?: number;
  reregisteredTime?: number;
  unregisteredTime?: number;
  failoverTimer?: NodeJS.Timeout;

  constructor(
    readonly id: string,
    info: mesos.v1.IFrameworkInfo,
  ) {
    this.info = info;
  }

  get connected(): boolean {
    return this.stream?.isOpen ?? false;
  }

  get roles(): string[] {
    return rolesOf(this.info);
  }

  get partitionAware(): boolean {
    return hasCapability(this.info, Capability.PARTITION_AWARE);
  }

  get multiRole(): boolean {
    return hasCapability(this.info, Capability.MULTI_ROLE);
  }

  get reservationRefinement(): boolean {
    return hasCapability(this.info, Capability.RESERVATION_REFINEMENT);
  }

  get sharedResources(): boolean {
    return hasCapability(this.info, Capability.SHARED_RESOURCES);
  }

  send(event: SchedulerEvent): void {
    if (this.connected) this.stream?.send(event);
  }

  /** Moves a task to the completed list (after its terminal update was acknowledged, or on removal). */
  completeTask(taskId: string): void {
    const record = this.tasks.get(taskId) ?? this.unreachableTasks.get(taskId);
    if (!record) return;
    this.tasks.delete(taskId);
    this.unreachableTasks.delete(taskId);
    this.completedTasks.push(record);
    if (this.completedTasks.length > MAX_COMPLETED_TASKS_PER_FRAMEWORK) this.completedTasks.shift();
  }

  hasExecutor(agentId: string, executorId: string): boolean {
    return this.executors.get(agentId)?.has(executorId) ?? false;
  }
}

export class FrameworkRegistry {
  private readonly registered = new Map<string, Framework>();
  private readonly completed: Framework[] = [];

  constructor(private readonly maxCompleted: number) {}

  get(id: string): Framework | undefined {
    return this.registered.get(id);
  }

  add(framework: Framework): void {
    this.registered.set(framework.id, framework);
  }

  all(): Framework[] {
    return [...this.registered.values()];
  }

  completedFrameworks(): Framework[] {
    return [...this.completed];
  }

  isCompleted(id: string): boolean {
    return this.completed.some((f) => f.id === id);
  }

  /** Removed frameworks are remembered (bounded, like --max_completed_frameworks). */
  complete(framework: Framework): void {
    this.registered.delete(framework.id);
    this.completed.push(framework);
    while (this.completed.length > this.maxCompleted) this.completed.shift();
  }
}
