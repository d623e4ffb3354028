/**
 * Which instance numbers an app keeps when it is scaled. Instance numbers are stable — per-instance
 * volume names are rendered from them — so a scale-down removes instances rather than renumbering:
 * first those without a running task, then by `killSelection` (YOUNGEST_FIRST: the task started
 * last goes first; OLDEST_FIRST: the one started first). A scale-up adds the lowest free numbers.
 */
import type { AppRecord, InstanceTracker } from './instance-tracker';
import { wantedInstances } from './instance-tracker';

/** The instance numbers after scaling to `instances`; undefined when they are simply 0 … instances-1. */
export function scaledSlots(app: AppRecord, tracker: InstanceTracker, instances: number): number[] | undefined {
  const current = app.state === 'deleting' ? [] : wantedInstances(app);
  let kept: number[];
  if (instances >= current.length) {
    kept = [...current];
    for (let i = 0; kept.length < instances; i++) if (!kept.includes(i)) kept.push(i);
  } else {
    const youngestFirst = (app.spec.killSelection ?? 'YOUNGEST_FIRST') === 'YOUNGEST_FIRST';
    const started = (i: number): number | undefined => {
      const task = tracker.currentTask(app.spec.id, i);
      if (!task || task.state !== 'TASK_RUNNING') return undefined;
      return Date.parse(task.startedAt ?? task.createdAt);
    };
    // Victims first: not running, then by age per killSelection (ties: the higher number goes).
    const order = [...current].sort((a, b) => {
      const sa = started(a);
      const sb = started(b);
      if (sa === undefined || sb === undefined) return sa === sb ? b - a : sa === undefined ? -1 : 1;
      if (sa !== sb) return youngestFirst ? sb - sa : sa - sb;
      return b - a;
    });
    const victims = new Set(order.slice(0, current.length - instances));
    kept = current.filter((i) => !victims.has(i));
  }
  kept.sort((a, b) => a - b);
  return kept.every((v, i) => v === i) ? undefined : kept;
}
