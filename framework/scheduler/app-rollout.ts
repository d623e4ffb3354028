/**
 * Rolling an app onto a new definition (an update, or a restart), as Marathon's TaskReplaceActor
 * does it: at least ceil(instances × minimumHealthCapacity) instances keep a healthy task (running,
 * and passing its health check when it has one), and at most instances × (1 + maximumOverCapacity)
 * tasks run at once (one more when both bounds are equal, so a rollout can move).
 *
 * An instance is replaced one of two ways:
 * - start-first, while the over-capacity allows: its old task is marked retiring (it keeps running,
 *   but is no longer the instance's task), a new task launches from the new definition, and the old
 *   one is killed once the new one is healthy;
 * - stop-first — always for an instance with an RW volume, or pinned by residency, or when there is
 *   no over-capacity: the old task is killed first, and the new one claims the volume only after
 *   Mesos confirmed the old one ended and its claim was released. A volume never has two writers:
 *   the claim ledger would refuse the second anyway, and the matcher waits for the release.
 * A stop-first replacement waits while it would take the app below its minimum healthy capacity,
 * unless no other instance of the app is down (so an RW app still moves, one instance at a time).
 */
import type { AppRecord, TaskRecord } from './instance-tracker';
import { wantedInstances } from './instance-tracker';
import type { LauncherContext } from './launcher-context';
import type { TaskLifecycle } from './task-lifecycle';

/** Whether the task counts as healthy for a rollout: running, and passing its health check if it has one. */
export function isHealthy(task: TaskRecord, app: AppRecord): boolean {
  if (task.terminal || task.state !== 'TASK_RUNNING') return false;
  return (app.spec.healthChecks ?? []).length === 0 || task.healthy === true;
}

/** The task was launched from an older definition than the app's (or before tasks carried one). */
export function isOutdated(task: TaskRecord, app: AppRecord): boolean {
  return app.version !== undefined && task.version !== app.version;
}

export class AppRollout {
  constructor(
    private readonly ctx: LauncherContext,
    private readonly lifecycle: TaskLifecycle,
  ) {}

  /** Whether the app has tasks left from an older definition, or tasks retiring (asked in O(1): a pass runs on every task change). */
  inProgress(appId: string): boolean {
    const app = this.ctx.tracker.app(appId);
    if (!app || app.state === 'deleting') return false;
    return this.ctx.tracker.hasRolloutWork(appId, app.version);
  }

  /** One pass: kill what a rollout allows to go, retire what may be replaced start-first. */
  async step(appId: string): Promise<void> {
    const { tracker } = this.ctx;
    const app = tracker.app(appId);
    // Nothing outdated, nothing retiring: the pass would change nothing.
    if (!app || !this.inProgress(appId)) return;
    const wanted = wantedInstances(app);
    const n = wanted.length;
    const strategy = { minimumHealthCapacity: 1, maximumOverCapacity: 1, ...(app.spec.upgradeStrategy ?? {}) };
    const minHealthy = Math.ceil(n * strategy.minimumHealthCapacity);
    let maxCapacity = Math.floor(n * (1 + strategy.maximumOverCapacity));
    if (minHealthy === maxCapacity) maxCapacity += 1;
    const live = tracker.allLiveTasksOf(appId);
    let healthy = live.filter((t) => isHealthy(t, app) && !t.killRequested).length;
    let running = live.filter((t) => !t.killRequested).length;
    const replaced: number[] = [];

    // Old tasks replaced start-first go once their instance's new task is healthy.
    for (const old of live) {
      if (!old.retiring || old.killRequested) continue;
      const current = tracker.currentTask(appId, old.instance);
      if (current && isHealthy(current, app) && !isOutdated(current, app)) {
        this.ctx.logger.info('rolling update: the new task is healthy; killing the old one', { appId, instance: old.instance, taskId: old.id, replacedBy: current.id });
        if (isHealthy(old, app)) healthy--;
        running--;
        await this.lifecycle.killTask(old, true);
      }
    }

    for (const i of wanted) {
      const task = tracker.currentTask(appId, i);
      if (!task || !isOutdated(task, app) || task.killRequested || task.retiring) continue;
      const stopFirst = this.mustStopFirst(app, task);
      if (!stopFirst && running + 1 <= maxCapacity) {
        // Start-first: the old task keeps running (retiring) while the new one launches.
        this.ctx.logger.info('rolling update: starting a new task before stopping the old one', { appId, instance: i, taskId: task.id });
        await this.lifecycle.retire(task);
        replaced.push(i);
        running++;
        continue;
      }
      const down = wanted.filter((w) => {
        const t = tracker.currentTask(appId, w);
        return !t || !isHealthy(t, app);
      }).length;
      const wasHealthy = isHealthy(task, app);
      if (wasHealthy && healthy - 1 < minHealthy && down > 0) continue;
      this.ctx.logger.info('rolling update: stopping the old task before its instance relaunches (stop-first)', {
        appId,
        instance: i,
        taskId: task.id,
        why: stopFirst ? this.stopFirstReason(app, task) : 'no over-capacity left',
      });
      await this.lifecycle.killTask(task, true, { retiring: true });
      replaced.push(i);
      if (wasHealthy) healthy--;
      running--;
    }
    // Only the instances whose task this pass replaced wait anew (a pass runs on every task change).
    for (const i of replaced) this.ctx.queue.refreshInstance(appId, i);
    if (replaced.length > 0 && this.ctx.queue.size > 0) await this.ctx.wantOffers();
  }

  private mustStopFirst(app: AppRecord, task: TaskRecord): boolean {
    return this.stopFirstReason(app, task) !== undefined;
  }

  private stopFirstReason(app: AppRecord, task: TaskRecord): string | undefined {
    if (task.volumes.some((v) => v.mode === 'RW')) return 'it holds an RW volume (one writer at a time)';
    if (app.spec.residency !== undefined) return 'it is pinned to its agent (residency)';
    return undefined;
  }
}
