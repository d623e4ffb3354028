/**
 * The scheduler's typed events for operators: stranded tasks, and the audit record of every
 * operator intervention (who, what, why), in the style of the storage layer's `claim.audit`.
 * The API feeds them into the event journal (`/v1/events`, `polly events`).
 */
import { EventFeed } from '../shared/typed-emitter';

/** A task as events show it (a subset of the API's TaskView, so this module stands alone). */
export interface TaskSummary {
  id: string;
  appId: string;
  instance: number;
  state: string;
  agentId: string;
  hostname: string;
}

/** An operator resolved a task Mesos could not account for. */
export interface TaskAuditEvent {
  task: TaskSummary;
  action: 'resolve';
  reason: string;
  /** Who: the API token's name (`anonymous` when auth is off). */
  by: string;
  at: string;
  /** The claims force-released with it. */
  claims: string[];
}

/** An operator deleted an app with --force. */
export interface AppAuditEvent {
  appId: string;
  action: 'force-delete';
  reason: string;
  by: string;
  at: string;
  resolvedTasks: string[];
  /** Reservations forgotten because their agent is not active (Mesos keeps none on a gone agent). */
  droppedReservations: Array<{ instance: string; agentId: string }>;
}

/** A task has been unaccounted for by Mesos for longer than scheduler.unknownTaskTimeoutSeconds. */
export interface TaskStrandedEvent {
  task: TaskSummary;
  since: string;
  reason: string;
  /** The command that resolves it, once the operator knows it is not running. */
  resolveWith: string;
}

export interface SchedulerEventMap {
  'task.audit': TaskAuditEvent;
  'app.audit': AppAuditEvent;
  'task.stranded': TaskStrandedEvent;
}

export type SchedulerEventName = keyof SchedulerEventMap;

/** Published after the change is persisted (or applied); a throwing listener never undoes or blocks it. */
export class SchedulerEvents extends EventFeed<SchedulerEventMap> {}
