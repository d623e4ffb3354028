/** Feeds the scheduler's events (stranded tasks, operator audits) into the event journal; returns the function that stops it. */
import type { SchedulerEventMap, SchedulerEventName, SchedulerEvents } from '../scheduler/scheduler-events';
import type { EventJournal } from './event-journal';

const NAMES: readonly SchedulerEventName[] = ['task.stranded', 'task.audit', 'app.audit'];

export function feedSchedulerEvents(events: SchedulerEvents, journal: EventJournal): () => void {
  const listeners = NAMES.map((name) => {
    const listener = (payload: SchedulerEventMap[typeof name]): void => {
      journal.publish(name, payload as unknown as Record<string, unknown>);
    };
    events.on(name, listener as never);
    return () => events.off(name, listener as never);
  });
  return () => listeners.forEach((off) => off());
}
