/**
 * What the parts of the app launcher share: the records, the storage core, the Mesos connection,
 * the launches in flight and the queue of instances waiting for an offer. The parts are
 * `task-launcher.ts` (offers → claims → ACCEPT), `task-lifecycle.ts` (status updates, kills, task
 * ends, fencing, forgetting deleted apps) and `task-reconciler.ts` (reconciliation, adoption, the
 * periodic questions); `app-launcher.ts` ties them together behind the apps API.
 */
import type { mesos } from '../mesos/generated/mesos';
import type { Logger } from '../shared/logger';
import type { StorageService } from '../storage/storage-service';
import type { AgentRegistry } from './agent-registry';
import type { AppVolumes } from './app-volumes';
import type { InstanceTracker } from './instance-tracker';
import type { LaunchAttempts } from './launch-attempts';
import type { LaunchQueue } from './launch-queue';

/** The Mesos calls the launcher makes (SchedulerClient has them all). */
export interface MesosDriver {
  readonly frameworkId: string | undefined;
  accept(offerIds: string[], operations: mesos.v1.Offer.IOperation[], filters?: mesos.v1.IFilters): Promise<void>;
  decline(offerIds: string[], filters?: mesos.v1.IFilters): Promise<void>;
  revive(roles?: string[]): Promise<void>;
  suppress(roles?: string[]): Promise<void>;
  kill(taskId: string, agentId?: string): Promise<void>;
  reconcile(tasks: { taskId: string; agentId?: string }[]): Promise<void>;
}

/** Counters (bench, metrics). */
export interface LauncherStats {
  offersReceived: number;
  offersDeclined: number;
  offersAccepted: number;
  tasksLaunched: number;
}

export interface LauncherContext {
  readonly storage: StorageService;
  readonly agents: AgentRegistry;
  readonly tracker: InstanceTracker;
  readonly volumes: AppVolumes;
  readonly attempts: LaunchAttempts;
  readonly queue: LaunchQueue;
  readonly stats: LauncherStats;
  /** The scheduler name volumes must be offered to (`polly`). */
  readonly scheduler: string;
  readonly logger: Logger;
  /** The Mesos connection, once there is one. */
  driver(): MesosDriver | undefined;
  /** The launcher was stopped: nothing new starts. */
  isStopped(): boolean;
  /** Asks Mesos for offers again when work arrives (REVIVE when suppressed, or always with `force`). */
  wantOffers(force?: boolean): Promise<void>;
}
