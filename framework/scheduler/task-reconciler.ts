/**
 * Keeping Polly's task records and Mesos in agreement. After every subscription: explicit
 * reconciliation of every known task (LAUNCHING ones included: that resolves a launch interrupted by
 * a restart), then implicit; tasks Polly does not know are adopted when they are Polly's (by ID and
 * claims) and never launched twice, or killed. Periodically: unreachable tasks are asked about again
 * every `unreachableTimeoutSeconds`, unanswered questions are repeated, stranded tasks reported, and
 * claims of ended tasks whose release failed are released again (and those left on gone agents fenced
 * again).
 */
import { mesos } from '../mesos/generated/mesos';
import { isTerminalTaskState } from '../mesos/task-state';
import { isLive } from '../storage/claim-record';
import { wantsInstance, type TaskRecord } from './instance-tracker';
import type { LauncherContext } from './launcher-context';
import { parseTaskId } from './task-builder';
import type { TaskLifecycle } from './task-lifecycle';

const TaskState = mesos.v1.TaskState;

export class TaskReconciler {
  constructor(
    private readonly ctx: LauncherContext,
    private readonly lifecycle: TaskLifecycle,
    private readonly unreachableTimeoutMs: number,
  ) {}

  async onSubscribed(hasWork: () => boolean): Promise<void> {
    const { ctx } = this;
    const driver = ctx.driver();
    if (!driver) return;
    const stranded = this.lifecycle.resolver.stranded;
    const known = ctx.tracker.liveTasks().filter((t) => !ctx.attempts.has(t.id));
    // Questions asked on an earlier connection will not be answered; these are (before sending:
    // an answer may arrive before the call returns).
    stranded.forgetUnanswered();
    for (const t of known) stranded.asked(t.id);
    try {
      if (known.length > 0) await driver.reconcile(known.map((t) => ({ taskId: t.id, agentId: t.agentId })));
      await driver.reconcile([]);
    } catch (err) {
      ctx.logger.warn('reconciliation request failed', { error: (err as Error).message });
    }
    if (hasWork()) await ctx.wantOffers(true);
  }

  /** Status for a task Polly has no record of: adopt it if it is ours, never launch it twice. */
  async adopt(status: mesos.v1.ITaskStatus): Promise<void> {
    const { ctx } = this;
    const taskId = status.task_id.value;
    const parsed = parseTaskId(taskId);
    const app = parsed ? ctx.tracker.app(parsed.appId) : undefined;
    const claims = ctx.storage.ledger.list({ taskId, live: true });
    if (isTerminalTaskState(status.state)) {
      for (const c of claims) await ctx.storage.ledger.release(c.id, { reason: `unknown task ${taskId} is terminal` }).catch(() => undefined);
      return;
    }
    const agentId = status.agent_id?.value;
    if (!parsed || !app || !agentId || !wantsInstance(app, parsed.instance) || ctx.tracker.currentTask(app.spec.id, parsed.instance)) {
      ctx.logger.warn('killing a task Polly does not want', { taskId, agentId });
      await ctx
        .driver()
        ?.kill(taskId, agentId)
        .catch(() => undefined);
      return;
    }
    const agent = ctx.agents.get(agentId);
    const now = new Date().toISOString();
    const wanted = ctx.volumes.wanted(app.spec, parsed.instance);
    const task: TaskRecord = {
      id: taskId,
      appId: app.spec.id,
      instance: parsed.instance,
      state: TaskState[status.state] ?? String(status.state),
      agentId,
      hostname: agent?.hostname ?? agentId,
      volumes: wanted.map((w) => {
        const claim = claims.find((c) => ctx.storage.catalog.find(c.volumeId)?.name.toLowerCase() === w.name.toLowerCase());
        return claim ? { ...w, volumeId: claim.volumeId, claimId: claim.id } : { ...w };
      }),
      terminal: false,
      createdAt: now,
      updatedAt: now,
    };
    if (agent?.zone !== undefined) task.zone = agent.zone;
    if (app.version !== undefined) task.version = app.version;
    await ctx.tracker.saveTask(task);
    ctx.logger.warn('adopted a task Polly had no record of', { taskId, appId: app.spec.id, instance: parsed.instance, agentId });
    ctx.queue.refresh(app.spec.id);
  }

  /** Periodic: ask again about tasks that are unreachable for longer than the timeout. */
  async tick(): Promise<void> {
    const { ctx, lifecycle } = this;
    const driver = ctx.driver();
    if (!driver || ctx.isStopped()) return;
    const now = Date.now();
    const ask: { taskId: string; agentId: string }[] = [];
    for (const [taskId, since] of lifecycle.unreachableSince) {
      const task = ctx.tracker.task(taskId);
      if (!task || task.terminal) {
        lifecycle.unreachableSince.delete(taskId);
        continue;
      }
      if (now - since >= this.unreachableTimeoutMs) {
        ask.push({ taskId, agentId: task.agentId });
        lifecycle.unreachableSince.set(taskId, now);
      }
    }
    // Questions Mesos has not answered yet: ask again (the master may be waiting for agents).
    const stranded = lifecycle.resolver.stranded;
    for (const taskId of stranded.unanswered()) {
      const task = ctx.tracker.task(taskId);
      if (!task || task.terminal) stranded.heard(taskId);
      else if (!ask.some((a) => a.taskId === taskId) && !ctx.attempts.has(taskId)) ask.push({ taskId, agentId: task.agentId });
    }
    lifecycle.resolver.report();
    lifecycle.fenceGoneAgents();
    // Claims of finished tasks whose release failed: try again (a deleted app waits for them).
    const retried = new Set<string>();
    for (const task of ctx.tracker.allTasks()) {
      if (!task.terminal) continue;
      for (const v of task.volumes) {
        const claim = v.claimId ? ctx.storage.ledger.find(v.claimId) : undefined;
        if (!claim || !isLive(claim)) continue;
        await ctx.storage.ledger.release(claim.id, { reason: `task ${task.id} is terminal (retry)` }).catch(() => undefined);
        retried.add(task.appId);
      }
    }
    for (const app of ctx.tracker.appList()) if (app.state === 'deleting') retried.add(app.spec.id);
    for (const appId of retried) await lifecycle.maybeForget(appId);
    if (ask.length > 0) await driver.reconcile(ask).catch(() => undefined);
  }
}
