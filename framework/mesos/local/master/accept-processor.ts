/**
 * ACCEPT, as Master::accept/_accept do it: offer validation in Mesos' order (the whole call fails
 * on the first error), then the operations in order against the remaining offered resources.
 * Speculative results (RESERVE/UNRESERVE/CREATE/DESTROY) are re-offered without a filter; the
 * rest gets `accept.filters`.
 */
import { mesos } from '../../generated/mesos';
import type { Framework } from './framework-registry';
import type { AgentRecord } from './agent-registry';
import type { LocalMaster } from './local-master';
import type { OfferRecord } from './offer-book';
import { refuseSecondsOf } from './allocator';
import { validateId } from './framework-validation';
import { containerProblem, healthCheckProblem } from './task-validation';
import {
  type Resource,
  add,
  clone,
  contains,
  describe,
  has,
  isDynamicallyReserved,
  isPersistentVolume,
  isReserved,
  normalize,
  popReservation,
  reservationRole,
  scalar,
  subtract,
  upgradeResource,
  withoutAllocation,
} from './resources';

const OpType = mesos.v1.Offer.Operation.Type;
const TaskState = mesos.v1.TaskState;
const Reason = mesos.v1.TaskStatus.Reason;
const Source = mesos.v1.TaskStatus.Source;
const EventType = mesos.v1.scheduler.Event.Type;
const OperationState = mesos.v1.OperationState;
const ExecutorType = mesos.v1.ExecutorInfo.Type;
const ContainerType = mesos.v1.ContainerInfo.Type;

const MIN_CPUS = 0.01;
const MIN_MEM = 32;

class OperationError extends Error {}

/** validation::offer::validate, preceded by Master::accept's empty check. */
export function validateOffers(master: LocalMaster, framework: Framework, offerIds: string[]): string | undefined {
  if (offerIds.length === 0) return 'No offers specified';
  const seen = new Set<string>();
  for (const id of offerIds) {
    if (seen.has(id)) return `Duplicate offer ${id} in offer list`;
    seen.add(id);
  }
  const offers: OfferRecord[] = [];
  for (const id of offerIds) {
    const offer = master.offers.get(id);
    if (!offer) return `Offer ${id} is no longer valid`;
    offers.push(offer);
  }
  for (const offer of offers) {
    if (offer.frameworkId !== framework.id) {
      return `Offer ${offer.id} has invalid framework ${offer.frameworkId} while framework ${framework.id} is expected`;
    }
  }
  const first = offers[0];
  for (const offer of offers.slice(1)) {
    if (offer.role !== first.role) {
      return `Aggregated offers must be allocated to the same role. Offer ${first.id} uses role ${first.role} and offer ${offer.id} uses role ${offer.role}`;
    }
  }
  for (const offer of offers.slice(1)) {
    if (offer.agentId !== first.agentId) {
      return `Aggregated offers must belong to one single agent. Offer ${first.id} uses agent ${first.agentId} and offer ${offer.id} uses agent ${offer.agentId}`;
    }
  }
  const agent = master.agents.get(first.agentId);
  if (!agent || agent.status !== 'active') return `Agent ${first.agentId} is not available`;
  return undefined;
}

function tasksOf(op: mesos.v1.Offer.IOperation): mesos.v1.ITaskInfo[] {
  if (op.type === OpType.LAUNCH) return op.launch?.task_infos ?? [];
  if (op.type === OpType.LAUNCH_GROUP) return op.launch_group?.task_group?.tasks ?? [];
  return [];
}

function taskStatus(task: mesos.v1.ITaskInfo, state: number, reason: number, message: string): mesos.v1.ITaskStatus {
  const status: mesos.v1.ITaskStatus = {
    task_id: { value: task.task_id?.value ?? '' },
    state,
    source: Source.SOURCE_MASTER,
    reason,
    message,
    timestamp: Date.now() / 1000,
  };
  if (task.agent_id) status.agent_id = { value: task.agent_id.value };
  return status;
}

function operationError(framework: Framework, op: mesos.v1.Offer.IOperation, message: string): void {
  // Feedback only when the framework asked for it; such an update has no uuid and needs no ACK.
  if (!has(op, 'id')) return;
  framework.send({
    type: EventType.UPDATE_OPERATION_STATUS,
    update_operation_status: {
      status: { operation_id: { value: op.id?.value ?? '' }, state: OperationState.OPERATION_ERROR, message },
    },
  });
}

export function processAccept(master: LocalMaster, framework: Framework, accept: mesos.v1.scheduler.Call.IAccept): void {
  const offerIds = (accept.offer_ids ?? []).map((o) => o.value);
  const operations = accept.operations ?? [];
  const error = validateOffers(master, framework, offerIds);
  if (error) {
    for (const id of new Set(offerIds)) {
      const offer = master.offers.get(id);
      if (offer && offer.frameworkId === framework.id) master.recoverOffer(offer, 0);
    }
    const state = framework.partitionAware ? TaskState.TASK_DROPPED : TaskState.TASK_LOST;
    for (const op of operations) {
      if (op.type === OpType.LAUNCH || op.type === OpType.LAUNCH_GROUP) {
        for (const task of tasksOf(op)) {
          master.sendStatus(framework, taskStatus(task, state, Reason.REASON_INVALID_OFFERS, `Task launched with invalid offers: ${error}`));
        }
      } else {
        operationError(framework, op, `Operation attempted with invalid offers: ${error}`);
      }
    }
    return;
  }

  const offers = offerIds.map((id) => master.offers.remove(id) as OfferRecord);
  master.metrics.offersAccepted += offers.length;
  const agent = master.agents.get(offers[0].agentId) as AgentRecord;
  const role = offers[0].role;
  const run = new AcceptRun(master, framework, agent, role, normalize(offers.flatMap((o) => o.resources)));
  for (const op of operations) run.apply(op);
  run.finish(refuseSecondsOf(accept.filters));
}

/** One ACCEPT's pass over its operations. */
class AcceptRun {
  /** What is left of the offered resources (post-refinement, with allocation_info). */
  private remaining: Resource[];
  /** Outputs of speculative operations: re-offered without a filter. */
  private converted: Resource[] = [];
  private readonly launchedIds = new Set<string>();

  constructor(
    private readonly master: LocalMaster,
    private readonly framework: Framework,
    private readonly agent: AgentRecord,
    private readonly role: string,
    offered: Resource[],
  ) {
    this.remaining = offered;
  }

  apply(op: mesos.v1.Offer.IOperation): void {
    switch (op.type) {
      case OpType.LAUNCH:
        return this.launch(op);
      case OpType.LAUNCH_GROUP:
        return this.launchGroup(op);
      case OpType.RESERVE:
      case OpType.UNRESERVE:
      case OpType.CREATE:
      case OpType.DESTROY:
        return this.speculative(op);
      default:
        this.master.logger.warn('Dropping unsupported offer operation', { type: op.type });
        operationError(this.framework, op, `Unsupported operation type ${op.type}`);
    }
  }

  finish(refuseSeconds: number): void {
    const convertedLeft = normalize(this.converted).filter((r) => contains(this.remaining, [r]));
    const rest = subtract(this.remaining, convertedLeft);
    this.master.allocator.refuse(this.framework.id, this.role, this.agent.id, withoutAllocation(rest), refuseSeconds);
  }

  /** Upgrades to post-refinement and fills in allocation_info from the offer (injectAllocationInfo). */
  private prepare(resources: readonly Resource[] | null | undefined): Resource[] {
    return (resources ?? []).map((r) => {
      const upgraded = upgradeResource(r);
      if (typeof upgraded === 'string') throw new OperationError(`Invalid resources: ${upgraded}`);
      if (!has(upgraded, 'allocation_info')) upgraded.allocation_info = { role: this.role };
      return upgraded;
    });
  }

  // ---- LAUNCH

  private launch(op: mesos.v1.Offer.IOperation): void {
    for (const task of op.launch?.task_infos ?? []) {
      const fail = (message: string): void =>
        this.master.sendStatus(this.framework, taskStatus(task, TaskState.TASK_ERROR, Reason.REASON_TASK_INVALID, message));
      if (has(op, 'id')) {
        fail('The `id` field cannot be set on LAUNCH operations');
        continue;
      }
      try {
        const total = this.validateTask(task);
        const executor = task.executor ? this.withFrameworkId(task.executor) : null;
        this.commitLaunch([{ ...task, executor: executor ?? undefined }], total, executor, false);
      } catch (err) {
        if (!(err instanceof OperationError)) throw err;
        fail(err.message);
      }
    }
  }

  private validateTask(task: mesos.v1.ITaskInfo): Resource[] {
    const id = task.task_id?.value ?? '';
    const idError = validateId(id);
    if (idError) throw new OperationError(`TaskID '${id}' contains invalid characters`);
    if (this.framework.tasks.has(id) || this.framework.unreachableTasks.has(id) || this.launchedIds.has(id)) {
      throw new OperationError(`Task has duplicate ID: ${id}`);
    }
    if ((task.agent_id?.value ?? '') !== this.agent.id) {
      throw new OperationError(`Task uses invalid agent ${task.agent_id?.value ?? ''} while agent ${this.agent.id} is expected`);
    }
    if (task.health_check) {
      const problem = healthCheckProblem(task.health_check);
      if (problem) throw new OperationError(`Task uses invalid health check: ${problem}`);
    }
    if ((task.resources ?? []).length === 0) throw new OperationError('Task uses no resources');
    const resources = this.prepare(task.resources);
    if (task.container) {
      const problem = containerProblem(task.container);
      if (problem) throw new OperationError(`Task's \`ContainerInfo\` is invalid: ${problem}`);
    }
    if (has(task, 'executor') === has(task, 'command')) {
      throw new OperationError('Task should have at least one (but not both) of CommandInfo or ExecutorInfo present');
    }
    let total = resources;
    if (task.executor) {
      const executor = task.executor;
      if (has(executor, 'type') && executor.type !== ExecutorType.CUSTOM) throw new OperationError("'ExecutorInfo.type' must be 'CUSTOM'");
      if (!has(executor, 'command')) throw new OperationError("'ExecutorInfo.command' must be set");
      if (!this.framework.hasExecutor(this.agent.id, executor.executor_id.value)) total = add(total, this.prepare(executor.resources));
    }
    task.resources = resources;
    if (!contains(this.remaining, total)) {
      throw new OperationError(`Total resources ${describe(total)} required by task and its executor is more than available ${describe(this.remaining)}`);
    }
    return total;
  }

  private withFrameworkId(executor: mesos.v1.IExecutorInfo): mesos.v1.IExecutorInfo {
    const copy = clone(executor);
    if (!has(copy, 'framework_id')) copy.framework_id = { value: this.framework.id };
    if (copy.resources) copy.resources = this.prepare(copy.resources);
    return copy;
  }

  private commitLaunch(tasks: mesos.v1.ITaskInfo[], total: Resource[], executor: mesos.v1.IExecutorInfo | null, group: boolean): void {
    this.remaining = subtract(this.remaining, total);
    const newExecutor = executor && !this.framework.hasExecutor(this.agent.id, executor.executor_id.value);
    if (executor) {
      const onAgent = this.framework.executors.get(this.agent.id) ?? new Map<string, mesos.v1.IExecutorInfo>();
      onAgent.set(executor.executor_id.value, executor);
      this.framework.executors.set(this.agent.id, onAgent);
    }
    tasks.forEach((task, index) => {
      this.launchedIds.add(task.task_id.value);
      let held = this.prepare(task.resources);
      // The executor's resources are accounted with its first task.
      if (newExecutor && index === 0) held = add(held, this.prepare(executor?.resources));
      this.master.addTask(this.framework, this.agent, task, held, executor);
    });
    const launched = tasks.map((t) => {
      const copy = clone(t);
      if (group) delete copy.executor;
      return copy;
    });
    this.agent.api.launch(clone(this.framework.info), launched, executor ? clone(executor) : null);
  }

  // ---- LAUNCH_GROUP

  private launchGroup(op: mesos.v1.Offer.IOperation): void {
    const group = op.launch_group;
    const tasks = group?.task_group?.tasks ?? [];
    const fail = (message: string): void => {
      for (const task of tasks) {
        this.master.sendStatus(this.framework, taskStatus(task, TaskState.TASK_ERROR, Reason.REASON_TASK_GROUP_INVALID, message));
      }
    };
    if (has(op, 'id')) return fail('The `id` field cannot be set on LAUNCH_GROUP operations');
    try {
      if (!group?.executor) throw new OperationError("'ExecutorInfo' must be set");
      const executor = this.withFrameworkId(group.executor);
      if (!has(executor, 'type')) throw new OperationError("'ExecutorInfo.type' must be set");
      if (executor.type === ExecutorType.UNKNOWN) throw new OperationError('Unknown executor type');
      if (executor.type === ExecutorType.DEFAULT && has(executor, 'command')) {
        throw new OperationError("'ExecutorInfo.command' must not be set for 'DEFAULT' executor");
      }
      if (executor.container?.type === ContainerType.DOCKER) throw new OperationError('Docker ContainerInfo is not supported on the executor');
      const existing = this.framework.hasExecutor(this.agent.id, executor.executor_id.value);
      const executorResources = executor.resources ?? [];
      if (!existing) {
        const cpus = scalar(executorResources, 'cpus');
        const mem = scalar(executorResources, 'mem');
        if (cpus < MIN_CPUS) throw new OperationError(`Executor '${executor.executor_id.value}' uses less CPUs (${cpus || 'None'}) than the minimum required (${MIN_CPUS})`);
        if (mem < MIN_MEM) throw new OperationError(`Executor '${executor.executor_id.value}' uses less memory (${mem || 'None'}) than the minimum required (${MIN_MEM})`);
        if (!executorResources.some((r) => r.name === 'disk')) throw new OperationError(`Executor '${executor.executor_id.value}' uses no disk`);
      }
      if (tasks.length === 0) throw new OperationError('Task group must contain at least one task');
      let total: Resource[] = existing ? [] : executorResources;
      for (const task of tasks) {
        const id = task.task_id?.value ?? '';
        if (validateId(id)) throw new OperationError(`TaskID '${id}' contains invalid characters`);
        if (this.framework.tasks.has(id) || this.launchedIds.has(id)) throw new OperationError(`Task has duplicate ID: ${id}`);
        if ((task.agent_id?.value ?? '') !== this.agent.id) {
          throw new OperationError(`Task uses invalid agent ${task.agent_id?.value ?? ''} while agent ${this.agent.id} is expected`);
        }
        if ((task.resources ?? []).length === 0) throw new OperationError('Task uses no resources');
        if ((task.container?.network_infos ?? []).length > 0) throw new OperationError('NetworkInfos must not be set on the task');
        if (task.container?.type === ContainerType.DOCKER) throw new OperationError('Docker ContainerInfo is not supported on the task');
        task.resources = this.prepare(task.resources);
        total = add(total, task.resources);
      }
      if (!contains(this.remaining, total)) {
        throw new OperationError(`Total resources ${describe(total)} required by task group and its executor are more than available ${describe(this.remaining)}`);
      }
      this.commitLaunch(tasks, total, executor, true);
    } catch (err) {
      if (!(err instanceof OperationError)) throw err;
      fail(err.message);
    }
  }

  // ---- RESERVE / UNRESERVE / CREATE / DESTROY

  private speculative(op: mesos.v1.Offer.IOperation): void {
    if (has(op, 'id')) {
      // Feedback needs an agent with RESOURCE_PROVIDER + AGENT_OPERATION_FEEDBACK; ours have neither.
      operationError(
        this.framework,
        op,
        `Operation requested feedback, but agent ${this.agent.id} does not have the required AGENT_OPERATION_FEEDBACK capability`,
      );
      return;
    }
    try {
      const { consumed, produced } = this.convert(op);
      if (!contains(this.remaining, consumed)) {
        throw new OperationError(`${describe(consumed)} is not contained in the offered resources ${describe(this.remaining)}`);
      }
      this.remaining = add(subtract(this.remaining, consumed), produced);
      this.converted = add(this.converted, produced);
      this.master.checkpoint(this.agent, this.master.totalWith(this.agent, consumed, produced));
      if (op.type === OpType.DESTROY) this.rescindOffersWith(consumed);
    } catch (err) {
      if (!(err instanceof OperationError)) throw err;
      this.master.logger.warn('Dropping invalid offer operation', { type: op.type, error: err.message });
      operationError(this.framework, op, err.message);
    }
  }

  private convert(op: mesos.v1.Offer.IOperation): { consumed: Resource[]; produced: Resource[] } {
    const principal = has(this.framework.info, 'principal') ? this.framework.info.principal : undefined;
    switch (op.type) {
      case OpType.RESERVE: {
        if ((op.reserve?.source ?? []).length > 0) throw new OperationError('Reservation updates are not yet implemented for the scheduler API.');
        const resources = this.prepare(op.reserve?.resources);
        if (resources.length === 0) throw new OperationError('Invalid RESERVE Operation: no resources');
        for (const r of resources) {
          if (!isDynamicallyReserved(r)) throw new OperationError(`Invalid RESERVE Operation: Resource ${describe([r])} is not dynamically reserved`);
          const role = reservationRole(r);
          if (role === '*') throw new OperationError('Invalid reservation: role "*" cannot be reserved');
          if (r.allocation_info?.role !== role) {
            throw new OperationError(`Invalid RESERVE Operation: Resource ${describe([r])} is allocated to '${r.allocation_info?.role}' but reserved for '${role}'`);
          }
          if (!this.framework.roles.includes(role)) {
            throw new OperationError(`Invalid RESERVE Operation: role '${role}' is not one of the framework's roles`);
          }
          const stack = r.reservations ?? [];
          if (principal !== undefined && stack[stack.length - 1].principal !== principal) {
            throw new OperationError(
              `A reserve operation was attempted by authenticated principal '${principal}', which does not match a reserved resource in the request with principal '${stack[stack.length - 1].principal ?? ''}'`,
            );
          }
          if (stack.length > 1 && !this.framework.reservationRefinement) {
            throw new OperationError('Invalid RESERVE Operation: refined reservations need the RESERVATION_REFINEMENT capability');
          }
        }
        return { consumed: resources.map(popReservation), produced: resources };
      }
      case OpType.UNRESERVE: {
        const resources = this.prepare(op.unreserve?.resources);
        for (const r of resources) {
          if (!isDynamicallyReserved(r)) throw new OperationError(`Resource ${describe([r])} is not dynamically reserved`);
          if (isPersistentVolume(r)) {
            throw new OperationError(`A dynamically reserved persistent volume ${describe([r])} cannot be unreserved`);
          }
        }
        return { consumed: resources, produced: resources.map(popReservation) };
      }
      case OpType.CREATE: {
        const volumes = this.prepare(op.create?.volumes);
        if (volumes.length === 0) throw new OperationError('Invalid CREATE Operation: no volumes');
        const existingIds = new Set(
          this.agent.total.filter(isPersistentVolume).map((v) => `${reservationRole(v)}\u0000${v.disk?.persistence?.id}`),
        );
        for (const v of volumes) {
          if (!has(v, 'disk')) throw new OperationError(`Resource ${describe([v])} does not have DiskInfo`);
          if (!has(v.disk, 'persistence')) throw new OperationError("'persistence' is not set in DiskInfo");
          if (!has(v.disk, 'volume')) throw new OperationError("Expecting 'volume' to be set for persistent volume");
          if (v.disk?.volume?.mode === mesos.v1.Volume.Mode.RO) throw new OperationError('Read-only persistent volume not supported');
          if (has(v.disk?.volume, 'host_path')) throw new OperationError("Expecting 'host_path' to be unset for persistent volume");
          if (!isReserved(v)) throw new OperationError('Persistent volumes cannot be created from unreserved resources');
          if (has(v, 'revocable')) throw new OperationError('Persistent volumes cannot be created from revocable resources');
          const id = v.disk?.persistence?.id ?? '';
          if (validateId(id)) throw new OperationError(`Persistence ID '${id}' contains invalid characters`);
          const key = `${reservationRole(v)}\u0000${id}`;
          if (existingIds.has(key)) throw new OperationError(`Persistence ID '${id}' is not unique`);
          existingIds.add(key);
          if (has(v, 'shared') && !this.framework.sharedResources) {
            throw new OperationError('Create volume operation for shared volumes requires the SHARED_RESOURCES capability');
          }
          if (principal !== undefined && v.disk?.persistence?.principal !== principal) {
            throw new OperationError(
              `Create volume operation has been attempted by principal '${principal}', but there is a volume in the operation with principal '${v.disk?.persistence?.principal ?? ''}'`,
            );
          }
        }
        return { consumed: volumes.map(stripVolume), produced: volumes };
      }
      case OpType.DESTROY: {
        const volumes = this.prepare(op.destroy?.volumes);
        for (const v of volumes) {
          if (!isPersistentVolume(v)) throw new OperationError("'persistence' is not set in DiskInfo");
          if (!contains(this.agent.total, withoutAllocation([v]))) throw new OperationError('Persistent volumes not found');
          if (!contains(this.remaining, [v])) throw new OperationError('Persistent volumes in use');
        }
        return { consumed: volumes, produced: volumes.map(stripVolume) };
      }
      default:
        throw new OperationError('Unsupported operation');
    }
  }

  /** A destroyed volume must vanish from every other outstanding offer. */
  private rescindOffersWith(volumes: Resource[]): void {
    for (const offer of this.master.offers.onAgent(this.agent.id)) {
      if (volumes.some((v) => offer.resources.some((r) => isPersistentVolume(r) && r.disk?.persistence?.id === v.disk?.persistence?.id))) {
        this.master.rescindOffer(offer);
      }
    }
  }
}

/** The disk a volume was made from: drop persistence and volume, keep the source. */
function stripVolume(v: Resource): Resource {
  const copy = clone(v);
  if (copy.disk) {
    delete copy.disk.persistence;
    delete copy.disk.volume;
    if (Object.keys(copy.disk).length === 0) delete copy.disk;
  }
  delete copy.shared;
  return copy;
}

