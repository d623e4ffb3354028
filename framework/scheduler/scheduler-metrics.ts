/**
 * What the scheduler counts, as an interface so the scheduler does not depend on the metrics
 * library (the API layer adapts its Prometheus registry to this).
 */
import type { mesos } from '../mesos/generated/mesos';
import type { MesosDriver } from './app-launcher';

export interface SchedulerMetrics {
  offersReceived(count: number): void;
  offersDeclined(count: number): void;
  offersAccepted(count: number): void;
  reconciliation(kind: 'explicit' | 'implicit'): void;
}

/** Counts the offers the launcher accepts and declines and the reconciliations it asks for. */
export function meteredDriver(driver: MesosDriver, metrics: SchedulerMetrics): MesosDriver {
  return {
    get frameworkId() {
      return driver.frameworkId;
    },
    accept: async (offerIds: string[], operations: mesos.v1.Offer.IOperation[], filters?: mesos.v1.IFilters) => {
      await driver.accept(offerIds, operations, filters);
      metrics.offersAccepted(offerIds.length);
    },
    decline: async (offerIds: string[], filters?: mesos.v1.IFilters) => {
      await driver.decline(offerIds, filters);
      metrics.offersDeclined(offerIds.length);
    },
    revive: (roles?: string[]) => driver.revive(roles),
    suppress: (roles?: string[]) => driver.suppress(roles),
    kill: (taskId: string, agentId?: string) => driver.kill(taskId, agentId),
    reconcile: async (tasks: { taskId: string; agentId?: string }[]) => {
      await driver.reconcile(tasks);
      metrics.reconciliation(tasks.length === 0 ? 'implicit' : 'explicit');
    },
  };
}
